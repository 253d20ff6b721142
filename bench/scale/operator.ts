/**
 * The Lifeboat operator as `npm run bench:scale` runs it: a process on this
 * machine (node dist/bundle/main.js, the image's entry point), set up as the
 * chart sets up its container, so that what is measured is what a cluster
 * would run:
 *
 * - the Node.js the image runs (bench/support/image-node.ts), not
 *   whichever Node runs the bench;
 * - in a memory cgroup limited to the chart's default memory limit (512 MiB):
 *   Node sizes its heap from the cgroup's limit (a 268 MiB heap limit under
 *   512 MiB, against 4 GiB on this machine without one), so without the
 *   limit the garbage collector would let the heap grow as it never can in a
 *   cluster;
 * - the chart's environment (leader election on, the Lease in
 *   lifeboat-system, all namespaces watched, info logs) and its
 *   ServiceAccount's token, so the API server sees the chart's identity and
 *   RBAC.
 *
 * Its RSS is read from /proc (VmRSS, VmHWM) and its own metrics from
 * /metrics; its JSON log lines go to a file and are scanned for milestones.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { get } from "../../e2e/testbed/http.js";
import { repoRoot } from "../../e2e/testbed/paths.js";
import { parseMetrics, type Sample } from "./prometheus.js";

/** The operator's bundle, which the image's entry point runs (scripts/bundle-operator.mjs). */
const MAIN = join(repoRoot, "dist/bundle/main.js");

/**
 * The memory tuning the chart gives the operator's container: glibc's mmap
 * threshold and V8's young generation (charts/lifeboat/templates/deployment.yaml
 * says why; a unit test holds the two the same).
 */
export const OPERATOR_MEMORY_ENV: Readonly<Record<string, string>> = {
  GLIBC_TUNABLES: "glibc.malloc.mmap_threshold=16384",
  NODE_OPTIONS: "--max-semi-space-size=2",
};

/** The chart's default `resources.limits.memory` (charts/lifeboat/values.yaml). */
export const CHART_MEMORY_LIMIT = 512 * 1024 * 1024;


/**
 * A memory cgroup (v1) for the operator, under the test bed's cgroup root
 * (`/lifeboat-N`, which the test bed's teardown clears whatever is left in
 * it), limited to `limitBytes`.
 */
export async function memoryCgroup(cgroupRoot: string, name: string, limitBytes: number): Promise<string> {
  const base = "/sys/fs/cgroup/memory";
  if (!existsSync(join(base, "memory.limit_in_bytes"))) throw new Error(`No cgroup v1 memory hierarchy at ${base}: the bench limits the operator's memory as the chart does through it`);
  const dir = join(base, cgroupRoot, name);
  await mkdir(dir, { recursive: true });
  await setMemoryLimit(dir, limitBytes);
  return dir;
}

/** Sets the memory limit of a cgroup made by memoryCgroup. */
export async function setMemoryLimit(dir: string, limitBytes: number): Promise<void> {
  await writeFile(join(dir, "memory.limit_in_bytes"), String(limitBytes));
}

/** Removes a cgroup made by memoryCgroup once its processes are gone. */
export async function removeCgroup(dir: string): Promise<void> {
  await rmdir(dir).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`Could not remove cgroup ${dir}`, { cause: err });
  });
}

/** The memory of a process as the kernel reports it (bytes). */
export interface ProcessMemory {
  /** VmRSS: resident now. */
  readonly rss: number;
  /** VmHWM: the highest resident size so far. */
  readonly hwm: number;
  /** RssAnon: resident anonymous memory (V8's heap, malloc's arenas, stacks). */
  readonly anon: number;
  /** RssFile: resident pages of files (mostly the node binary's code and data). */
  readonly file: number;
}

/** VmRSS, VmHWM and the resident memory by kind of a process, undefined once it is gone. */
export async function processMemory(pid: number): Promise<ProcessMemory | undefined> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => undefined);
  if (!status) return undefined;
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kib("VmRSS"), hwm: kib("VmHWM"), anon: kib("RssAnon"), file: kib("RssFile") };
}

/** User plus system CPU seconds a process has used, from /proc/PID/stat. */
export async function processCpuSeconds(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (!stat) return undefined;
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis are plain.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

/**
 * The shell script (and the variables it reads) that moves itself into
 * `cgroup` and execs its arguments with `execEnv` set on the exec alone. The
 * values travel in variables of their own, so the script holds only names.
 */
export function cgroupLaunch(cgroup: string, execEnv: Readonly<Record<string, string>>): { script: string; env: Record<string, string> } {
  const names = Object.keys(execEnv);
  for (const name of names) if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`Not an environment variable's name: ${name}`);
  const assignments = names.map((name) => `${name}="$LIFEBOAT_BENCH_EXEC_${name}" `).join("");
  return {
    script: `echo $$ > "$LIFEBOAT_BENCH_CGROUP/cgroup.procs" && ${assignments}exec "$@"`,
    env: { ...Object.fromEntries(names.map((name) => [`LIFEBOAT_BENCH_EXEC_${name}`, execEnv[name] ?? ""])), LIFEBOAT_BENCH_CGROUP: cgroup },
  };
}

/** How to start the operator. */
export interface OperatorOptions {
  readonly node: string;
  readonly kubeconfig: string;
  readonly cgroup: string;
  readonly metricsPort: number;
  readonly logFile: string;
  /** Extra Node.js options, e.g. --cpu-prof (profiling runs only). */
  readonly nodeOptions?: readonly string[];
  /** Extra environment variables, e.g. a malloc tuning to compare (the chart's environment otherwise). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Variables set only on the `exec` of Node, not on the shell before it:
   * a preload library such as heaptrack's drops LD_PRELOAD from the
   * environment of the first process it loads into, which would be the shell.
   */
  readonly execEnv?: Readonly<Record<string, string>>;
}

/** A running operator process. */
export class OperatorProcess {
  readonly startedAt = Date.now();
  readonly exited: Promise<number | null>;
  /** VmRSS once a second: VmHWM alone cannot tell the start's peak from the peak at rest. */
  private readonly samples: { at: number; rss: number }[] = [];
  private readonly sampler: NodeJS.Timeout;

  private constructor(private readonly child: ChildProcess, readonly pid: number, private readonly opts: OperatorOptions) {
    this.exited = new Promise((resolve) => child.on("exit", (code) => { resolve(code); }));
    this.sampler = setInterval(() => {
      void processMemory(pid).then((m) => {
        if (m) this.samples.push({ at: Date.now(), rss: m.rss });
      });
    }, 1000);
    this.sampler.unref();
    void this.exited.then(() => { clearInterval(this.sampler); });
  }

  /**
   * Starts the operator in `opts.cgroup`: a shell joins the cgroup and execs
   * Node, so the operator is in it from its first instruction and keeps the
   * shell's PID.
   */
  static start(opts: OperatorOptions): OperatorProcess {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      KUBECONFIG: opts.kubeconfig,
      POD_NAME: "lifeboat-bench",
      POD_NAMESPACE: "lifeboat-system",
      WATCH_NAMESPACES: "",
      LEADER_ELECT: "true",
      HEALTH_PORT: String(opts.metricsPort),
      HEALTH_BIND_ADDRESS: "127.0.0.1",
      NODE_NO_WARNINGS: "1",
      LOG_LEVEL: "info",
      ...OPERATOR_MEMORY_ENV,
    };
    const launch = cgroupLaunch(opts.cgroup, opts.execEnv ?? {});
    const out = createWriteStream(opts.logFile, { flags: "w" });
    const child = spawn("/bin/sh", ["-c", launch.script, "sh", opts.node, ...(opts.nodeOptions ?? []), MAIN], {
      env: { ...env, ...opts.env, ...launch.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    if (child.pid === undefined) throw new Error("Could not start the operator");
    return new OperatorProcess(child, child.pid, opts);
  }

  /** VmRSS and VmHWM now; undefined once the process is gone. */
  memory(): Promise<ProcessMemory | undefined> {
    return processMemory(this.pid);
  }

  /** The highest and the mean VmRSS sampled in [from, to); undefined without samples there. */
  rssBetween(from: number, to: number): { max: number; mean: number; samples: number } | undefined {
    const xs = this.samples.filter((s) => s.at >= from && s.at < to).map((s) => s.rss);
    if (xs.length === 0) return undefined;
    return { max: Math.max(...xs), mean: xs.reduce((a, b) => a + b, 0) / xs.length, samples: xs.length };
  }

  /** User plus system CPU seconds used so far. */
  cpuSeconds(): Promise<number | undefined> {
    return processCpuSeconds(this.pid);
  }

  /** One scrape of /metrics. */
  async metrics(): Promise<Sample[]> {
    const r = await get(`http://127.0.0.1:${this.opts.metricsPort}/metrics`, { timeoutMs: 10_000 });
    if (r.status !== 200) throw new Error(`The operator's /metrics answered HTTP ${r.status}`);
    return parseMetrics(r.body);
  }

  /** When the operator first logged `msg` (ms since the epoch), if it has; each process logs to a file of its own. */
  async loggedAt(msg: string): Promise<number | undefined> {
    const text = await readFile(this.opts.logFile, "utf8").catch(() => "");
    for (const line of text.split("\n")) {
      if (!line.includes(msg)) continue;
      try {
        const e = JSON.parse(line) as { msg?: string; time?: string };
        if (e.msg === msg && e.time) return Date.parse(e.time);
      } catch {
        // not a log line
      }
    }
    return undefined;
  }

  /** Sends a signal; SIGKILL is a crash, SIGTERM a graceful stop. */
  signal(sig: NodeJS.Signals): void {
    try {
      process.kill(this.pid, sig);
    } catch {
      // already gone
    }
  }

  /**
   * Has the operator write a V8 heap snapshot into `dir` and returns its
   * path. The process must have been started with
   * `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=<dir>`. V8 writes the
   * snapshot on the main thread, so once the file is there and /metrics
   * answers again, the snapshot is whole.
   */
  async heapSnapshot(dir: string, timeoutMs = 300_000): Promise<string> {
    const before = new Set(await readdir(dir).catch(() => []));
    let exitCode: number | null | undefined;
    void this.exited.then((code) => { exitCode = code; });
    this.signal("SIGUSR2");
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exitCode !== undefined) throw new Error(`The operator exited (code ${String(exitCode)}) while writing a heap snapshot into ${dir}`);
      const written = (await readdir(dir).catch(() => [])).find((f) => f.endsWith(".heapsnapshot") && !before.has(f));
      if (written && (await this.metrics().then(() => true, () => false))) return join(dir, written);
      if (Date.now() > deadline) throw new Error(`The operator wrote no heap snapshot into ${dir} within ${timeoutMs / 1000} s of SIGUSR2`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** Stops the process (SIGTERM, then SIGKILL after `graceMs`) and waits for it to be gone. */
  async stop(graceMs = 10_000): Promise<void> {
    this.signal("SIGTERM");
    const timer = setTimeout(() => { this.signal("SIGKILL"); }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
