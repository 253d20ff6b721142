/**
 * What the benches share: running the real worker (node with
 * WORKER_NODE_OPTIONS, dist/operator/src/worker/main.js: as the operator's
 * Jobs run it) with a spec, reading its JSON log lines, and printing Markdown tables.
 */
import { spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../e2e/testbed/paths.js";
import { WORKER_NODE_OPTIONS } from "../../operator/src/worker/node-options.js";
import { SECRET_ENV, type WorkerSpec } from "../../operator/src/worker/spec.js";
import type { Vcsim } from "../../e2e/testbed/vcsim.js";
import { CpuSampler, type CpuSample } from "./cpu-time.js";
import { imageNode } from "./image-node.js";

const WORKER = join(repoRoot, "dist/operator/src/worker/main.js");

let node: Promise<string> | undefined;

/** The Node.js that runs the workers: the images' (see imageNode), fetched on first use. */
export function workerNode(): Promise<string> {
  node ??= imageNode((line) => { process.stderr.write(`${line}\n`); });
  return node;
}

/**
 * One worker run: how long it took, its log lines (parsed JSON), its process
 * id (which names its CPU profiles), when it was started (epoch ms) and its
 * CPU time sampled every 100 ms (for cpuBetween).
 */
export interface WorkerRun {
  readonly seconds: number;
  readonly pid: number;
  readonly startedAt: number;
  readonly cpu: readonly CpuSample[];
  /** The worker's peak RSS (all its threads) in bytes, from /proc while it ran; undefined if never read. */
  readonly peakRssBytes: number | undefined;
  readonly logs: readonly Record<string, unknown>[];
}

/** What a bench may add to a worker run. */
export interface WorkerRunOptions {
  /** Node.js options before the entry point, e.g. ["--cpu-prof", "--cpu-prof-dir=DIR"] to find where a bench's time goes (Node.js 20 refuses --cpu-prof in NODE_OPTIONS). */
  readonly nodeArgs?: readonly string[];
}

/**
 * Runs the worker with `spec` against `sim` and a vault keyed `vaultKey`;
 * throws with its output if it fails. The worker gets only the environment a
 * Job would give it.
 */
export async function runWorker(spec: WorkerSpec, sim: Vcsim, vaultKey: string, options: WorkerRunOptions = {}): Promise<WorkerRun> {
  const env = {
    PATH: process.env.PATH,
    LIFEBOAT_WORKER_SPEC: JSON.stringify(spec),
    LIFEBOAT_WORKER_PORT: "0",
    POD_IP: "127.0.0.1",
    [SECRET_ENV.vaultKey]: vaultKey,
    [SECRET_ENV.vcenterUsername]: sim.username,
    [SECRET_ENV.vcenterPassword]: sim.password,
  };
  const bin = await workerNode();
  const started = Date.now();
  const child = spawn(bin, [...WORKER_NODE_OPTIONS, ...(options.nodeArgs ?? []), WORKER], { env, stdio: ["ignore", "pipe", "pipe"] });
  const sampler = child.pid === undefined ? undefined : new CpuSampler(child.pid);
  let out = "";
  child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
  child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const seconds = (Date.now() - started) / 1000;
  const cpu = (await sampler?.stop()) ?? [];
  if (code !== 0) throw new Error(`the ${spec.mode} worker exited ${code}:\n${out.slice(-3000)}`);
  const logs: Record<string, unknown>[] = [];
  for (const line of out.split("\n")) {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not a log line
    }
  }
  return { seconds, logs, pid: child.pid ?? 0, startedAt: started, cpu, peakRssBytes: sampler?.peakRssBytes };
}

/**
 * Seconds from the worker's log line `from` to its log line `to` (pino's ISO
 * timestamps, millisecond resolution): the part of a run a bench compares
 * with a plain transfer, without the process start, the vCenter login and
 * (for a backup) the simulator's snapshot copy around it. Throws when either
 * line is missing, so a renamed log message cannot silently yield 0.
 */
export function logSpan(logs: readonly Record<string, unknown>[], from: string, to: string): number {
  return (logTime(logs, to) - logTime(logs, from)) / 1000;
}

/** When the worker logged its (first) line `msg`, epoch milliseconds; throws when it did not. */
export function logTime(logs: readonly Record<string, unknown>[], msg: string): number {
  const line = logs.find((l) => l.msg === msg);
  const time = typeof line?.time === "string" ? Date.parse(line.time) : Number.NaN;
  if (Number.isNaN(time)) throw new Error(`The worker logged no "${msg}" line with a time`);
  return time;
}

/** Prints a Markdown table. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): void {
  for (const line of markdownTable(head, rows)) console.log(line);
}

/** The lines of a Markdown table, for a report written to a file as well as printed. */
export function markdownTable(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)];
}

/** The median of `xs` (the upper one of an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** Set in the environment of the process rerunOnWorkerRuntime starts. */
const RERUN_ENV = "LIFEBOAT_BENCH_ON_WORKER_RUNTIME";

/**
 * Whether this process runs on the workers' Node.js with their options
 * (workerNode, WORKER_NODE_OPTIONS). A bench that times plain transfers in
 * its own process as the limits of the workers' phases must: the limit is
 * the same client without the pipeline, and another Node.js release or
 * garbage collector setting would make it a different client.
 */
export async function onWorkerRuntime(): Promise<boolean> {
  const here = realpathSync(process.execPath) === realpathSync(await workerNode()) && WORKER_NODE_OPTIONS.every((option) => process.execArgv.includes(option));
  // A process started by rerunOnWorkerRuntime that does not see itself as such would start another, and so on.
  if (!here && process.env[RERUN_ENV]) throw new Error(`${process.execPath} ${process.execArgv.join(" ")} was started as the workers' runtime but is not it`);
  return here;
}

/**
 * Runs this bench's script again on the workers' Node.js with their options,
 * the same arguments and stdio, passes it SIGINT and SIGTERM, and resolves
 * with its exit code.
 */
export async function rerunOnWorkerRuntime(): Promise<number> {
  const script = process.argv[1];
  if (!script) throw new Error("This process has no script to run again");
  const child = spawn(await workerNode(), [...WORKER_NODE_OPTIONS, script, ...process.argv.slice(2)], { stdio: "inherit", env: { ...process.env, [RERUN_ENV]: "1" } });
  // A bench stopped by a signal passes it on, rather than leave its run going on alone.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => { child.kill(signal); });
  return new Promise((resolve, reject) => {
    child.once("error", (err) => { reject(new Error(`Could not run ${script} on the workers' Node.js`, { cause: err })); });
    child.once("exit", (code, signal) => { resolve(code ?? (signal ? 1 : 0)); });
  });
}

/** Runs a bench's main and exits: with process.exitCode (0 unless main set it) when it finished, 1 with the error printed when it failed. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
