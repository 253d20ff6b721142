/**
 * `npm run bench:vault`: Lifeboat's vault engine beside kopia and restic
 * (built from pinned Go module versions, e2e/testbed/go/{kopia,restic}) on
 * one generated disk image, on the filesystem backend. What it measures, and
 * why each choice is there to keep the comparison fair, is in
 * docs/benchmarks.md; in short:
 *
 * - each tool runs `--runs` times (3 by default) with fresh repositories,
 *   taking turns in a rotated order, and the table shows medians and the
 *   min–max spread (bench/vault/stats.ts);
 * - the image and its 5% change are deterministic (bench/vault/image.ts),
 *   and the pristine image is written again at the start of every run;
 * - the page cache is dropped before every measured step where the machine
 *   allows it (the output says when it does not);
 * - all three get the same number of threads, kopia compresses with
 *   zstd-fastest, restic with its default (auto, repository v2), Lifeboat
 *   with its defaults; all three restore sparse files;
 * - every step's time includes an fsync of what the tool wrote, since the
 *   tools differ in whether they fsync themselves;
 * - the phases: full backup; incremental from CBT extents (Lifeboat only, on
 *   a copy of its repository taken right after the full backup, so that the
 *   rescan below does not find the changed blocks already stored);
 *   incremental by rescanning the whole image (all three); restore of the
 *   latest point, verified byte for byte (blake3) against the source; the
 *   same restore from a warm repository into tmpfs (the engines without
 *   the disk).
 *
 * Each tool runs as a child process measured by GNU time (user+system CPU,
 * peak RSS); wall time is measured here. Not a test: it prints a report.
 *
 *   npm run bench:vault -- [--size 4Gi] [--runs 3] [--threads N] [--out FILE] [--dir DIR] [--memory-dir /dev/shm] [--keep]
 */
import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg, release, tmpdir, totalmem, type as osType } from "node:os";
import { join, relative } from "node:path";
import { inspect, parseArgs } from "node:util";
import { ensureComponent } from "../../e2e/testbed/components.js";
import { repoRoot } from "../../e2e/testbed/paths.js";
import { formatBytes } from "../../operator/src/util/quantity.js";
import { parseSize } from "../../operator/src/vault/format.js";
import { changeBlocks, DEFAULT_SEED, generateImage, regionBytesFor } from "./image.js";
import { imageNode } from "../support/image-node.js";
import { holdFreePageReporting, type PageReportingHold } from "../support/page-reporting.js";
import { hashFile } from "../support/vm.js";
import { CBT_PHASE, resultsTable, rotation, summarize, TOOLS, WARM_RESTORE_PHASE, type Phase, type Sample, type Tool } from "./stats.js";

const MiB = 1024 * 1024;
const PASSWORD = "lifeboat-bench-password-0123456789";
/** Share of the image's 1 MiB blocks changed before the incrementals. */
const CHANGE_FRACTION = 0.05;
/** Writing 3 here drops the page cache, dentries and inodes (Linux, root). */
const DROP_CACHES = "/proc/sys/vm/drop_caches";

const log = (line: string): void => { process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`); };

/** A command line and the environment it runs with (added to the cleaned environment, see childEnv). */
interface Command {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The environment of the tools: this process's, without the variables that
 * would change what a tool does behind the benchmark's back (RESTIC_PACK_SIZE,
 * RESTIC_COMPRESSION, GOGC, GOMEMLIMIT, NODE_OPTIONS, UV_THREADPOOL_SIZE, a
 * stray LIFEBOAT_VAULT_REPO...), plus the command's own.
 */
function childEnv(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(RESTIC_|KOPIA_|LIFEBOAT_|GO|NODE_OPTIONS$|UV_THREADPOOL_SIZE$)/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

interface Measured {
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly peakRssBytes: number;
  readonly stdout: string;
}

/** Runs a command under GNU time; throws with the end of its output when it fails. */
async function measure(c: Command): Promise<Measured> {
  const timeFile = join(tmpdir(), `bench-time-${process.pid}-${Date.now()}`);
  const started = process.hrtime.bigint();
  const child = spawn("/usr/bin/time", ["-o", timeFile, "-f", "%U %S %M", c.cmd, ...c.args], { env: childEnv(c.env), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let tail = "";
  child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); tail = (tail + d.toString()).slice(-4000); });
  child.stderr.on("data", (d: Buffer) => { tail = (tail + d.toString()).slice(-4000); });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  try {
    if (code !== 0) throw new Error(`${c.cmd} ${c.args.join(" ")} exited ${code}:\n${tail}`);
    const last = (await readFile(timeFile, "utf8")).trim().split("\n").pop() ?? "";
    const [user, sys, rssKb] = last.split(" ").map(Number);
    if (user === undefined || sys === undefined || rssKb === undefined || [user, sys, rssKb].some(Number.isNaN)) {
      throw new Error(`GNU time wrote "${last}" for ${c.cmd}, not "user system maxrss"`);
    }
    return { wallSeconds, cpuSeconds: user + sys, peakRssBytes: rssKb * 1024, stdout };
  } finally {
    await rm(timeFile, { force: true });
  }
}

/** Runs an unmeasured command (setup, listing, versions); returns its stdout, throws with its output when it fails. */
function capture(c: Command): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(c.cmd, c.args, { env: childEnv(c.env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    child.on("error", (err) => { reject(new Error(`Could not start ${c.cmd}`, { cause: err })); });
    child.on("close", (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${c.cmd} ${c.args.join(" ")} exited ${code}:\n${stderr}${stdout.slice(-2000)}`));
    });
  });
}

/** Bytes of the files under `dir` (a repository's size as the filesystem backend stores it). */
async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/**
 * fsyncs every file and directory under `path` (or the file `path`), so that
 * what a tool wrote is on disk. Lifeboat fsyncs its repository objects and
 * its restored image itself, restic its repository files but not a restored
 * file, kopia neither: without this, a tool that leaves its writes in the
 * page cache would look faster by the writeback it leaves for later.
 */
async function fsyncTree(path: string): Promise<void> {
  const paths = [path];
  if ((await stat(path)).isDirectory()) {
    for (const entry of await readdir(path, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() || entry.isDirectory()) paths.push(join(entry.parentPath, entry.name));
    }
  }
  for (const p of paths) {
    const fh = await open(p, "r");
    try {
      await fh.sync();
    } catch (err) {
      throw new Error(`Could not fsync ${p}`, { cause: err });
    } finally {
      await fh.close();
    }
  }
}

/** Writes back dirty pages, then drops the page cache, dentries and inodes, so that the next step reads from the disk. */
async function dropPageCache(): Promise<void> {
  await capture({ cmd: "sync", args: [], env: {} });
  await writeFile(DROP_CACHES, "3");
}

/** Tries dropping the page cache once; returns why it cannot be done here, or undefined when it works. */
async function probePageCacheDrop(): Promise<string | undefined> {
  try {
    await dropPageCache();
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return `writing 3 to ${DROP_CACHES} failed (${code ?? (err instanceof Error ? err.message : String(err))}; it needs root outside a container, or a privileged one)`;
  }
}

/** One tool's repository in one run: fresh setup, and the commands the phases time. */
interface Runner {
  readonly tool: Tool;
  readonly repo: string;
  /** Creates the repository (not timed). */
  init(): Promise<void>;
  /** A backup of the image: the first one, or an incremental over the latest point. */
  backup(incremental: boolean): Command;
  /** A restore of the latest point into the empty directory `dir`; where the image lands is found by `restoredImage`. */
  restore(dir: string): Promise<Command>;
  restoredImage(dir: string): Promise<string>;
}

interface Setup {
  readonly runDir: string;
  readonly srcDir: string;
  readonly image: string;
  readonly imageBytes: number;
  readonly threads: number;
  readonly kopia: string;
  readonly restic: string;
  /** The Node.js of Lifeboat's images, which runs Lifeboat's CLI here. */
  readonly node: string;
}

/** The programs the runs use. */
type Bins = Pick<Setup, "kopia" | "restic" | "node">;

const LIFEBOAT_CLI = join(repoRoot, "dist", "operator", "src", "cli", "main.js");

/** What Lifeboat's `vault init --json` reported about the last vault made: its defaults. */
let lifeboatConfig: { blockSize: number; packSize: number; compressionLevel: number; compression: string } | undefined;

/** Lifeboat with its defaults (`vault init` with no options) and `--threads`; its restore writes holes for zero blocks of a fresh file. */
function lifeboatRunner(s: Setup, repo: string, keyFile: string): Runner {
  const env = { LIFEBOAT_VAULT_KEY_FILE: keyFile };
  const vault = (...args: string[]): Command => ({ cmd: s.node, args: [LIFEBOAT_CLI, "vault", ...args, "--repo", repo, "--threads", String(s.threads)], env });
  return {
    tool: "lifeboat",
    repo,
    async init() {
      const out = await capture(vault("init", "--json"));
      lifeboatConfig = JSON.parse(out) as NonNullable<typeof lifeboatConfig>;
    },
    backup: (incremental) => vault("backup", "--disk", `2000=${s.image}`, ...(incremental ? ["--parent", "latest"] : []), "--json"),
    restore: (dir) => Promise.resolve(vault("restore", "latest", "--target", join(dir, "disk.img"))),
    restoredImage: (dir) => Promise.resolve(join(dir, "disk.img")),
  };
}

/**
 * kopia: zstd-fastest compression (a global policy, checked after setting
 * it), the rest of its defaults, and the same threads: GOMAXPROCS,
 * `--parallel` for snapshots and restores, `--max-parallel-file-reads`, and
 * `--parallel-upload-above-size-mib` at size / threads, so that the one
 * image is read as `threads` parts in parallel (kopia's only way to spread
 * one file over cores; at 4 GiB and 2 threads that is its default of 2 GiB).
 * `--no-auto-maintenance` on the timed commands: none of the three runs
 * maintenance inside a backup here, and kopia's would be due at once in a
 * new repository.
 */
function kopiaRunner(s: Setup): Runner {
  const repo = join(s.runDir, "kopia-repo");
  // Its log files (debug level by default) go to the run's directory rather than ~/.cache/kopia.
  const common = ["--config-file", join(s.runDir, "kopia.config"), "--log-dir", join(s.runDir, "kopia-logs")];
  const env = { KOPIA_PASSWORD: PASSWORD, KOPIA_CHECK_FOR_UPDATES: "false", GOMAXPROCS: String(s.threads) };
  const kopia = (...args: string[]): Command => ({ cmd: s.kopia, args: [...args, ...common], env });
  const threadsFlag = `--parallel=${s.threads}`;
  return {
    tool: "kopia",
    repo,
    async init() {
      await capture(kopia("repository", "create", "filesystem", "--path", repo, "--cache-directory", join(s.runDir, "kopia-cache"), "--no-persist-credentials"));
      const upload = [`--max-parallel-file-reads=${s.threads}`];
      if (s.threads > 1) upload.push(`--parallel-upload-above-size-mib=${Math.ceil(s.imageBytes / MiB / s.threads)}`);
      await capture(kopia("policy", "set", "--global", "--compression=zstd-fastest", ...upload));
      const policy = JSON.parse(await capture(kopia("policy", "show", "--global", "--json"))) as { compression?: { compressorName?: string }; upload?: { maxParallelFileReads?: number } };
      if (policy.compression?.compressorName !== "zstd-fastest" || policy.upload?.maxParallelFileReads !== s.threads) {
        throw new Error(`kopia's global policy did not take: compression ${String(policy.compression?.compressorName)}, max parallel file reads ${String(policy.upload?.maxParallelFileReads)}`);
      }
    },
    // kopia and restic find the previous snapshot of the same path themselves.
    backup: () => kopia("snapshot", "create", s.srcDir, threadsFlag, "--no-auto-maintenance"),
    async restore(dir) {
      const snapshots = JSON.parse(await capture(kopia("snapshot", "list", s.srcDir, "--json"))) as { id: string }[];
      const latest = snapshots.at(-1)?.id;
      if (!latest) throw new Error(`kopia lists no snapshot of ${s.srcDir} to restore`);
      return kopia("snapshot", "restore", latest, dir, "--write-sparse-files", threadsFlag, "--no-auto-maintenance");
    },
    restoredImage: (dir) => Promise.resolve(join(dir, "disk.img")),
  };
}

/**
 * restic: repository format v2 with its default compression (auto, passed
 * explicitly so that RESTIC_COMPRESSION cannot change it), and the same
 * threads: GOMAXPROCS (its hashing, compression and encryption workers),
 * `--read-concurrency` (files read at once; one file here) and
 * `-o local.connections` (concurrent repository operations, which is also
 * the number of restore workers).
 */
function resticRunner(s: Setup): Runner {
  const repo = join(s.runDir, "restic-repo");
  const env = { RESTIC_PASSWORD: PASSWORD, RESTIC_REPOSITORY: repo, RESTIC_CACHE_DIR: join(s.runDir, "restic-cache"), GOMAXPROCS: String(s.threads) };
  const restic = (...args: string[]): Command => ({ cmd: s.restic, args: [...args, "-o", `local.connections=${s.threads}`], env });
  return {
    tool: "restic",
    repo,
    async init() {
      await capture(restic("init", "--repository-version", "2"));
      const config = JSON.parse(await capture(restic("cat", "config"))) as { version?: number };
      if (config.version !== 2) throw new Error(`restic made a repository of version ${String(config.version)}, not 2`);
    },
    backup: () => restic("backup", s.srcDir, "--compression", "auto", "--read-concurrency", String(s.threads)),
    restore: (dir) => Promise.resolve(restic("restore", "latest", "--target", dir, "--sparse")),
    // restic restores the absolute path of the source below the target.
    restoredImage: (dir) => Promise.resolve(join(dir, s.image)),
  };
}

interface Options {
  readonly imageBytes: number;
  readonly runs: number;
  readonly threads: number;
  readonly work: string;
  readonly dropCaches: boolean;
  /** A directory on tmpfs for the warm phase's restores. */
  readonly memory: string;
}

/** Everything measured, and what the report says about how. */
interface Results {
  readonly samples: Sample[];
  /** The command line of each timed step, as run in the first run. */
  readonly commands: Map<string, string>;
  sourceHash?: string;
  changedBlocks?: number;
  /** Bytes allocated on disk by each tool's restored image in the first run: sparse files allocate less than the image. */
  readonly restoredAllocated: Map<Tool, number>;
}

/** One timed step of one tool. */
interface Step {
  readonly run: number;
  readonly phase: Phase;
  readonly tool: Tool;
  readonly command: Command;
  /** The repository, measured after the step. */
  readonly repo: string;
  /** What the tool wrote (its repository, or the restore directory): fsynced after it exits, within the step's time. */
  readonly wrote: string;
  /** True for backups: the tool read the image. */
  readonly readsImage: boolean;
  /** Set for the warm phase: instead of dropping the page cache, this directory (the repository) is read into it first. */
  readonly warm?: string | undefined;
}

/** Reads every file under `dir` once, so that it is in the page cache. */
async function warmTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    for await (const _ of createReadStream(join(entry.parentPath, entry.name), { highWaterMark: 4 * MiB }));
  }
}

/** Runs one step: drops the page cache, runs the tool under GNU time, fsyncs what it wrote; records a sample. */
async function step(o: Options, results: Results, st: Step): Promise<void> {
  const { run, phase, tool, command: c } = st;
  if (st.warm !== undefined) {
    await capture({ cmd: "sync", args: [], env: {} });
    await warmTree(st.warm);
  } else if (o.dropCaches) await dropPageCache();
  // Without a cache drop, at least the previous step's writeback is not billed to this one.
  else await capture({ cmd: "sync", args: [], env: {} });
  log(`run ${run + 1}: ${tool}: ${phase}`);
  const m = await measure(c);
  const syncStarted = process.hrtime.bigint();
  await fsyncTree(st.wrote);
  const syncSeconds = Number(process.hrtime.bigint() - syncStarted) / 1e9;
  let readBytes: number | undefined;
  if (st.readsImage) readBytes = tool === "lifeboat" ? lifeboatReadBytes(m.stdout) : o.imageBytes;
  results.samples.push({
    run, phase, tool,
    wallSeconds: m.wallSeconds + syncSeconds,
    syncSeconds,
    cpuSeconds: m.cpuSeconds,
    peakRssBytes: m.peakRssBytes,
    storedBytes: await dirBytes(st.repo),
    readBytes,
  });
  const key = `${tool}: ${phase}`;
  if (!results.commands.has(key)) results.commands.set(key, showCommand(c, o));
  log(`run ${run + 1}: ${tool}: ${phase} took ${(m.wallSeconds + syncSeconds).toFixed(2)} s (fsync ${syncSeconds.toFixed(2)} s)`);
}

/** The bytes Lifeboat read from the image, from its `backup --json` report. */
function lifeboatReadBytes(stdout: string): number {
  const line = stdout.trim().split("\n").pop() ?? "";
  try {
    const point = JSON.parse(line) as { disks: { readBytes: number }[] };
    return point.disks.reduce((sum, d) => sum + d.readBytes, 0);
  } catch (err) {
    throw new Error(`Lifeboat's backup --json printed "${line.slice(0, 200)}", not a recovery point`, { cause: err });
  }
}

function showCommand(c: Command, o: Options): string {
  const rel = (a: string): string => a.split(o.work).join("$WORK").split(o.memory).join("$MEMORY").split(repoRoot + "/").join("");
  const env = Object.entries(c.env).filter(([k]) => !/PASSWORD|KEY_FILE/.test(k)).map(([k, v]) => `${k}=${rel(v)}`);
  const cmd = c.cmd.replace(/.*\//, "");
  return [...env, cmd, ...c.args.map(rel)].join(" ");
}

/**
 * Restores the latest point of `runner` under `base`, times it, and checks
 * the image byte for byte. The warm phase restores to memory (`o.memory`)
 * from a repository read into the page cache first.
 */
async function restoreStep(o: Options, results: Results, run: number, runner: Runner, base: string, phase: Phase): Promise<void> {
  const warm = phase === WARM_RESTORE_PHASE;
  const dir = join(warm ? o.memory : base, `restored-${runner.tool}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const command = await runner.restore(dir);
  await step(o, results, { run, phase, tool: runner.tool, command, repo: runner.repo, wrote: dir, readsImage: false, warm: warm ? runner.repo : undefined });
  const restored = await runner.restoredImage(dir);
  await verify(restored, results, `${runner.tool}'s ${warm ? "warm restore to memory" : "restore"} in run ${run + 1}`);
  if (!warm && !results.restoredAllocated.has(runner.tool)) results.restoredAllocated.set(runner.tool, (await stat(restored)).blocks * 512);
  await rm(dir, { recursive: true, force: true });
}

async function verify(path: string, results: Results, what: string): Promise<void> {
  const hash = await hashFile(path).catch((err: unknown) => { throw new Error(`${what}: no restored image at ${path}`, { cause: err }); });
  if (hash !== results.sourceHash) throw new Error(`${what} differs from the source image (blake3 ${hash}, source ${String(results.sourceHash)})`);
  log(`${what}: identical to the source (blake3 ${hash.slice(0, 16)}…)`);
}

/** One run: fresh repositories and image (the previous run's directory is removed first), the four phases in this run's order. */
async function oneRun(o: Options, results: Results, run: number, bins: Bins): Promise<void> {
  const runDir = join(o.work, "run");
  await rm(runDir, { recursive: true, force: true });
  const srcDir = join(runDir, "src");
  await mkdir(srcDir, { recursive: true });
  const s: Setup = { runDir, srcDir, image: join(srcDir, "disk.img"), imageBytes: o.imageBytes, threads: o.threads, ...bins };
  const order = rotation(TOOLS, run);
  log(`run ${run + 1} of ${o.runs}: order ${order.join(", ")}; writing the pristine ${formatBytes(o.imageBytes)} image`);
  await generateImage(s.image, o.imageBytes);

  const keyFile = join(runDir, "vault.key");
  await writeFile(keyFile, PASSWORD);
  const lifeboat = lifeboatRunner(s, join(runDir, "lifeboat-repo"), keyFile);
  // The CBT incremental runs on a copy of Lifeboat's repository as it was right after the full backup.
  const lifeboatCbt = lifeboatRunner(s, join(runDir, "lifeboat-repo-cbt"), keyFile);
  const runners: Record<Tool, Runner> = { lifeboat, kopia: kopiaRunner(s), restic: resticRunner(s) };
  for (const tool of TOOLS) await runners[tool].init();

  for (const tool of order) {
    const r = runners[tool];
    await step(o, results, { run, phase: "full backup", tool, command: r.backup(false), repo: r.repo, wrote: r.repo, readsImage: true });
    if (tool === "lifeboat") await capture({ cmd: "cp", args: ["-a", lifeboat.repo, lifeboatCbt.repo], env: {} });
  }

  const extents = await changeBlocks(s.image, o.imageBytes, CHANGE_FRACTION);
  results.changedBlocks = extents.length;
  const extentsFile = join(runDir, "changed.json");
  await writeFile(extentsFile, JSON.stringify(extents));
  const hash = await hashFile(s.image);
  if (results.sourceHash !== undefined && hash !== results.sourceHash) {
    throw new Error(`The changed image of run ${run + 1} differs from run 1's (blake3 ${hash}, was ${results.sourceHash}): the image is not deterministic`);
  }
  results.sourceHash = hash;

  const cbt = lifeboatCbt.backup(true);
  const withExtents = { ...cbt, args: [...cbt.args, "--changed", `2000=${extentsFile}`] };
  await step(o, results, { run, phase: CBT_PHASE, tool: "lifeboat", command: withExtents, repo: lifeboatCbt.repo, wrote: lifeboatCbt.repo, readsImage: true });

  for (const tool of order) {
    const r = runners[tool];
    await step(o, results, { run, phase: "incremental, rescan", tool, command: r.backup(true), repo: r.repo, wrote: r.repo, readsImage: true });
  }

  for (const tool of order) await restoreStep(o, results, run, runners[tool], runDir, "restore latest");
  for (const tool of order) await restoreStep(o, results, run, runners[tool], runDir, WARM_RESTORE_PHASE);

  // The CBT point is measured, so it must be right too (not timed).
  const cbtDir = join(runDir, "restored-lifeboat-cbt");
  await mkdir(cbtDir, { recursive: true });
  await capture(await lifeboatCbt.restore(cbtDir));
  await verify(await lifeboatCbt.restoredImage(cbtDir), results, `Lifeboat's CBT point in run ${run + 1}`);
  await rm(cbtDir, { recursive: true, force: true });
  // The run's directory stays until the next run starts: --keep and --dir leave the last run's image and repositories to look at.
}

/** The machine and the software, for the report. */
async function machine(work: string, bins: Bins): Promise<string[]> {
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  const cpu = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  const firstLine = async (c: Command): Promise<string> => (await capture(c).catch((err: unknown) => `unknown (${err instanceof Error ? err.message.split("\n")[0] ?? "" : String(err)})`)).trim().split("\n")[0] ?? "";
  return [
    `- CPU: ${cpu}, ${availableParallelism()} cores (os.availableParallelism); RAM ${formatBytes(totalmem())}`,
    `- Kernel: ${osType()} ${release()}; filesystem of the work directory: ${await firstLine({ cmd: "stat", args: ["-f", "-c", "%T", work], env: {} })}`,
    `- Lifeboat ${await firstLine({ cmd: "git", args: ["-C", repoRoot, "describe", "--always", "--dirty"], env: {} })} on Node.js ${await firstLine({ cmd: bins.node, args: ["--version"], env: {} })} (the operator and worker images' build; this benchmark itself on ${process.version})`,
    `- kopia: ${await firstLine({ cmd: bins.kopia, args: ["--version"], env: {} })}`,
    `- restic: ${await firstLine({ cmd: bins.restic, args: ["version"], env: {} })}`,
  ];
}

function threadsNote(threads: number): string {
  return `Threads: ${threads} for each tool. Lifeboat \`--threads ${threads}\` (worker threads for hashing, compression, encryption); ` +
    `kopia and restic \`GOMAXPROCS=${threads}\`, kopia \`--parallel=${threads}\` (snapshot and restore) and the global policy ` +
    `\`--max-parallel-file-reads=${threads}\`${threads > 1 ? " with `--parallel-upload-above-size-mib` = image size / threads (the image is read as that many parts at once)" : ""}, ` +
    `restic \`--read-concurrency ${threads}\` and \`-o local.connections=${threads}\`. ` +
    "I/O threads outside these (libuv's pool, Go's threads blocked in system calls) are each tool's own.";
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: "string", default: "4Gi" },
      runs: { type: "string", default: "3" },
      threads: { type: "string", default: String(availableParallelism()) },
      out: { type: "string" },
      dir: { type: "string" },
      "memory-dir": { type: "string", default: "/dev/shm" },
      keep: { type: "boolean" },
    },
  });
  const imageBytes = parseSize(values.size);
  if (imageBytes < MiB || imageBytes % MiB !== 0) throw new Error(`--size must be a whole number of MiB, at least 1Mi, not ${values.size}`);
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs wants a whole number from 1, not ${values.runs}`);
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads wants a whole number from 1, not ${values.threads}`);
  const work = values.dir ?? (await mkdtemp(join(tmpdir(), "lifeboat-bench-")));
  await mkdir(work, { recursive: true });
  const started = new Date();
  const loadAtStart = loadavg();

  log("Building kopia and restic, and fetching the images' Node.js (cached after the first time)");
  const bins: Bins = { kopia: join(await ensureComponent("kopia", log), "kopia"), restic: join(await ensureComponent("restic", log), "restic"), node: await imageNode(log) };
  const cacheProblem = await probePageCacheDrop();
  log(cacheProblem ? `The page cache cannot be dropped: ${cacheProblem}` : "The page cache is dropped before every measured step");

  const memoryFs = (await capture({ cmd: "stat", args: ["-f", "-c", "%T", values["memory-dir"]], env: {} })).trim();
  if (memoryFs !== "tmpfs") throw new Error(`--memory-dir ${values["memory-dir"]} is on ${memoryFs}, not tmpfs; name a tmpfs directory with room for the image`);
  const memory = await mkdtemp(join(values["memory-dir"], "lifeboat-bench-"));
  const o: Options = { imageBytes, runs, threads, work, dropCaches: cacheProblem === undefined, memory };
  const results: Results = { samples: [], commands: new Map(), restoredAllocated: new Map() };
  let reporting: PageReportingHold | undefined;
  try {
    reporting = await holdFreePageReporting(memory, log);
    try {
      for (let run = 0; run < runs; run++) await oneRun(o, results, run, bins);
    } finally {
      await reporting.release();
    }
  } finally {
    await rm(memory, { recursive: true, force: true });
  }

  const rows = summarize(results.samples, imageBytes);
  const loadAtEnd = loadavg();
  const orders = Array.from({ length: runs }, (_, r) => `run ${r + 1}: ${rotation(TOOLS, r).join(", ")}`).join("; ");
  const config = lifeboatConfig;
  const report = [
    `## Vault benchmark: Lifeboat, kopia, restic (${formatBytes(imageBytes)} image, ${runs} ${runs === 1 ? "run" : "runs"})`,
    "",
    `- Date: ${started.toISOString()}; command: \`node ${relative(repoRoot, process.argv[1] ?? "")} ${process.argv.slice(2).join(" ")}\``,
    ...(await machine(work, bins)),
    `- Load average (1, 5, 15 min): ${loadAtStart.map((l) => l.toFixed(2)).join(", ")} at the start, ${loadAtEnd.map((l) => l.toFixed(2)).join(", ")} at the end`,
    `- Page cache: ${cacheProblem ? `**not dropped**: ${cacheProblem}. Reads may come from memory; the figures include that.` : `dropped before every measured step (\`sync\`, then 3 to ${DROP_CACHES}).`}`,
    `- Free page reporting (the VM hands memory its kernel frees back to the host): ${reporting.note}.`,
    "",
    `Image: ${formatBytes(imageBytes)}, deterministic (seed "${DEFAULT_SEED}"): ${formatBytes(regionBytesFor(imageBytes))} regions of zeros, log text, random data and a copy of that random data; ` +
      `then ${results.changedBlocks ?? 0} of its 1 MiB blocks (${CHANGE_FRACTION * 100}%) overwritten with new random data, the same blocks and bytes in every run.`,
    `Runs: ${runs}, each with fresh repositories and the pristine image written again, the tools in rotated order (${orders}). ` +
      "Figures are medians of the runs; the spread is the lowest and highest MB/s.",
    threadsNote(threads),
    `Settings: Lifeboat's defaults (block size ${config ? formatBytes(config.blockSize) : "?"}, pack size ${config ? formatBytes(config.packSize) : "?"}, ${config?.compression ?? "?"} level ${config?.compressionLevel ?? "?"}); ` +
      "kopia's defaults with `--compression=zstd-fastest`; restic's defaults (compression auto, repository version 2). Restores write sparse files: Lifeboat always, kopia `--write-sparse-files`, restic `--sparse`.",
    "",
    resultsTable(rows),
    "",
    "- MB/s: image size (10^6 bytes) / wall time, incrementals and restores included (every point is a whole image).",
    "- wall s: the tool's process, then an fsync of every file it wrote (its repository; the restored image), so that each step ends with its output on disk whichever tool fsyncs itself (Lifeboat fsyncs its repository and its restored image, restic its repository files, kopia neither); \"of which fsync s\" is that second part.",
    "- CPU s: user + system time of the tool's process; peak RSS: its maximum resident set (GNU time).",
    "- image read: what the tool read from the image. kopia and restic read all of a changed file (they have no changed-extent input); Lifeboat's figure is its own report.",
    `- ${CBT_PHASE}: Lifeboat only, given the changed extents as VMware CBT would give them; n/a for kopia and restic, which have no such input. It runs on a copy of Lifeboat's repository made right after the full backup, so that it and the rescan both start from the full backup alone.`,
    "- incremental, rescan: all three read the whole image with no hint (Lifeboat with `--parent latest` and no `--changed`).",
    `- ${WARM_RESTORE_PHASE}: the same restore again, with the repository read into the page cache first (not timed) and the image written to tmpfs (${values["memory-dir"]}), so that the disk neither feeds nor drains it: the engines' own speed. On this machine "restore latest" is bound by the disk's writeback for every tool (see the fsync column).`,
    "- stored: the repository's bytes after the phase (for the CBT row, the copy's).",
    "- Lifeboat ÷ tool: Lifeboat's median MB/s over the tool's in the same phase.",
    `- Every restore was compared byte for byte (blake3) with the source image, in every run (blake3 ${results.sourceHash ?? "?"}); so was a restore of Lifeboat's CBT point (not timed).`,
    `- Restored images are sparse: allocated on disk (run 1) ${TOOLS.map((t) => `${t} ${formatBytes(results.restoredAllocated.get(t) ?? NaN)}`).join(", ")}, of ${formatBytes(imageBytes)} (a quarter of its regions are zeros).`,
    "",
    "Timed commands ($WORK is the work directory, $MEMORY the tmpfs directory):",
    "",
    ...[...results.commands].map(([what, line]) => `- ${what}: \`${line}\``),
    "",
  ].join("\n");

  process.stdout.write(`\n${report}`);
  if (values.out) {
    await writeFile(values.out, report);
    log(`Wrote the report to ${values.out}`);
  }
  if (!values.keep && !values.dir) await rm(work, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  // inspect prints the stack and the chain of causes (the failing command's output is in the messages).
  process.stderr.write(`bench:vault failed: ${inspect(err, { depth: 6 })}\n`);
  process.exitCode = 1;
});
