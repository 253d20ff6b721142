// Running the built worker (node with WORKER_NODE_OPTIONS and
// dist/operator/src/worker/main.js) as the operator runs it: a child process
// with its spec and secrets in the environment, followed through its own
// endpoints (/progress, /metrics), its logs and its exit code. Shared by the
// worker suites.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { MoRef, VsphereClient } from "../../operator/src/vsphere/index.js";
import { WORKER_NODE_OPTIONS } from "../../operator/src/worker/node-options.js";
import type { WorkerProgress, WorkerSpec } from "../../operator/src/worker/spec.js";
import { repoRoot } from "../testbed/paths.js";

const WORKER = join(repoRoot, "dist/operator/src/worker/main.js");

export interface WorkerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly logs: Record<string, unknown>[];
  readonly stderr: string;
}

export interface WorkerRun {
  readonly proc: ChildProcess;
  readonly port: Promise<number>;
  readonly exit: Promise<WorkerExit>;
}

export interface WorkerResult extends WorkerExit {
  readonly progress: WorkerProgress;
  readonly metrics: Map<string, number>;
}

export interface RunOptions {
  /** Seconds the worker keeps serving after it finished. */
  readonly linger?: number;
  /** Added to (or replacing) the suite's secrets. */
  readonly extraEnv?: Record<string, string>;
}

/** The worker runner of a suite: `secrets` gives the environment every run gets (vault key, vCenter credentials). */
export function workerRunner(secrets: () => Record<string, string>): {
  runWorker: (spec: WorkerSpec, opts?: RunOptions) => WorkerRun;
  runToEnd: (spec: WorkerSpec, opts?: RunOptions) => Promise<WorkerResult>;
} {
  /** Starts the built worker with a spec and the secrets in its environment. */
  const runWorker = (spec: WorkerSpec, opts: RunOptions = {}): WorkerRun => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      LIFEBOAT_WORKER_SPEC: JSON.stringify(spec),
      LIFEBOAT_WORKER_PORT: "0",
      POD_IP: "127.0.0.1",
      LIFEBOAT_WORKER_LINGER_SECONDS: String(opts.linger ?? 0),
      ...secrets(),
      ...opts.extraEnv,
    };
    const proc = spawn(process.execPath, [...WORKER_NODE_OPTIONS, WORKER], { env, stdio: ["ignore", "pipe", "pipe"] });
    const logs: Record<string, unknown>[] = [];
    let stderr = "";
    let resolvePort: (port: number) => void = () => undefined;
    const port = new Promise<number>((resolve) => { resolvePort = resolve; });
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === "Worker HTTP server listening") resolvePort(entry.port as number);
      } catch {
        logs.push({ raw: line });
      }
    });
    proc.stderr.on("data", (c: Buffer) => { stderr += c.toString("utf8"); });
    const exit = new Promise<WorkerExit>((resolve) => {
      proc.on("exit", (code, signal) => {
        // Let the last lines be read.
        setTimeout(() => { resolve({ code, signal, logs, stderr }); }, 50);
      });
    });
    return { proc, port, exit };
  };

  /** Runs a worker to its end (it lingers), returning the final progress, metrics and exit. */
  const runToEnd = async (spec: WorkerSpec, opts: RunOptions = {}): Promise<WorkerResult> => {
    const run = runWorker(spec, { ...opts, linger: 60 });
    let exited = false;
    void run.exit.then(() => { exited = true; });
    const early = async (): Promise<never> => {
      const e = await run.exit;
      throw new WorkerExited(`The worker exited (${String(e.code)}) before it reported an end: ${e.stderr} ${e.logs.map((l) => JSON.stringify(l)).join("\n")}`);
    };
    const port = await Promise.race([run.port, early()]);
    const progress = await waitFor("the worker to finish", 240_000, async () => {
      if (exited) await early();
      const p = await progressOf(port);
      return p.phase === "Succeeded" || p.phase === "Failed" ? p : undefined;
    });
    const metrics = await metricsOf(port);
    run.proc.kill("SIGTERM");
    const exit = await run.exit;
    if (process.env.LIFEBOAT_E2E_VERBOSE) console.log(exit.logs.map((l) => JSON.stringify(l)).join("\n"));
    return { ...exit, progress, metrics };
  };

  return { runWorker, runToEnd };
}

export async function getJson<T>(port: number, path: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return (await res.json()) as T;
}

export async function progressOf(port: number): Promise<WorkerProgress> {
  return getJson<WorkerProgress>(port, "/progress");
}

/** Parses a Prometheus text exposition into "name{labels}" -> value. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const m = /^(\S+?)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m) out.set(`${m[1] ?? ""}${m[2] ?? ""}`, Number(m[3]));
  }
  return out;
}

export async function metricsOf(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return parseMetrics(await res.text());
}

/** One per-disk metric's value; NaN when the worker never reported it. */
export const metric = (m: Map<string, number>, name: string, vm: string, disk: number | string): number => m.get(`${name}{vm="${vm}",disk="${disk}"}`) ?? Number.NaN;

/** The worker ended while a test waited on it: stop waiting. */
export class WorkerExited extends Error {}

export async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof WorkerExited) throw err;
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out waiting for ${what}`, { cause: last });
}

/** Blocks of `size` bytes touched by the byte ranges, times `size`. */
export function touched(ranges: readonly [number, number][], size: number): number {
  const blocks = new Set<number>();
  for (const [off, len] of ranges) for (let b = Math.floor(off / size); b <= Math.floor((off + len - 1) / size); b++) blocks.add(b);
  return blocks.size * size;
}

export interface TestVm {
  readonly name: string;
  readonly ref: MoRef;
  readonly diskKey: number;
}

/** Creates a VM with small disks and a NIC, like the ones a plan backs up; returns its first disk's key. */
export async function createTestVm(c: VsphereClient, name: string, diskBytes: readonly number[], opts: { network?: string } = {}): Promise<TestVm> {
  const inv = await c.inventory();
  const dc = inv.datacenters[0];
  const cluster = inv.clusters.find((x) => x.isCluster);
  const ds = inv.datastores[0];
  const net = inv.networks.find((n) => (opts.network ? n.name === opts.network : n.type === "Network"));
  if (!dc?.vmFolder || !cluster?.resourcePool || !ds || !net) throw new Error("vcsim inventory lacks a folder, cluster, datastore or network");
  const ref = await c.createVm({
    name,
    folder: dc.vmFolder,
    resourcePool: cluster.resourcePool,
    datastoreName: ds.name,
    guestId: "otherLinux64Guest",
    numCpu: 2,
    memoryMB: 2048,
    disks: diskBytes.map((capacityBytes) => ({ capacityBytes })),
    nics: [{ network: { ref: net.ref, name: net.name } }],
  });
  const vm = await c.getVm(ref);
  const disk = vm.disks[0];
  if (!disk) throw new Error(`VM ${name} has no disk`);
  return { name, ref, diskKey: disk.key };
}
