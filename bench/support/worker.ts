/**
 * What the benches share: running the real worker (node
 * dist/operator/src/worker/main.js, as the operator's Jobs run it) with a
 * spec, reading its JSON log lines, and printing Markdown tables.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../e2e/testbed/paths.js";
import { SECRET_ENV, type WorkerSpec } from "../../operator/src/worker/spec.js";
import type { Vcsim } from "../../e2e/testbed/vcsim.js";

const WORKER = join(repoRoot, "dist/operator/src/worker/main.js");

/** One worker run: how long it took and its log lines (parsed JSON). */
export interface WorkerRun {
  readonly seconds: number;
  readonly logs: readonly Record<string, unknown>[];
}

/** Runs the worker with `spec` against `sim` and a vault keyed `vaultKey`; throws with its output if it fails. */
export async function runWorker(spec: WorkerSpec, sim: Vcsim, vaultKey: string): Promise<WorkerRun> {
  const env = {
    PATH: process.env.PATH,
    LIFEBOAT_WORKER_SPEC: JSON.stringify(spec),
    LIFEBOAT_WORKER_PORT: "0",
    POD_IP: "127.0.0.1",
    [SECRET_ENV.vaultKey]: vaultKey,
    [SECRET_ENV.vcenterUsername]: sim.username,
    [SECRET_ENV.vcenterPassword]: sim.password,
  };
  const started = Date.now();
  const child = spawn(process.execPath, [WORKER], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
  child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const seconds = (Date.now() - started) / 1000;
  if (code !== 0) throw new Error(`the ${spec.mode} worker exited ${code}:\n${out.slice(-3000)}`);
  const logs: Record<string, unknown>[] = [];
  for (const line of out.split("\n")) {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not a log line
    }
  }
  return { seconds, logs };
}

/** Prints a Markdown table. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): void {
  console.log(`| ${head.join(" | ")} |`);
  console.log(`|${head.map(() => "---").join("|")}|`);
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
}

/** The median of `xs` (the upper one of an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** Runs a bench's main and exits: 0 when it finished, 1 with the error printed when it failed. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
