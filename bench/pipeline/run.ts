/**
 * `npm run bench:pipeline`: the whole pipeline a user runs (vCenter → worker
 * → vault → back), each phase beside its physical limit on this machine,
 * measured in the same run (issue 15). vcsim with the harness extensions, the
 * real worker (`node` with WORKER_NODE_OPTIONS and
 * `dist/operator/src/worker/main.js` with a spec, as the operator's Jobs run
 * it) and a filesystem vault:
 *
 * 1. a VM with one disk of `--size` (4 GiB) holding bench:vault's
 *    deterministic image (bench/vault/image.ts: regions of zeros, log text,
 *    random data and a copy of it: a quarter zeros, never written), written
 *    through vcsim's guest-write path so that CBT sees it;
 * 2. full backup (CBT "*": the allocated areas) beside plain ranged GETs of
 *    the same areas from the datastore (`GET /folder`);
 * 3. `--change` (5 %) of its 1 MiB blocks rewritten (guest writes), then the
 *    incremental beside plain GETs of the same changed blocks;
 * 4. restore of the incremental point to a new VM (ImportVApp lease, stream-
 *    optimized VMDK) beside the plain import of the same VMDK bytes, made
 *    ahead, to a lease, and the plain PUT of the raw disk;
 * 5. restore of the same point to a raw file beside a plain sparse copy of
 *    the disk into a file, fsync included.
 *
 * Each round (`--repeat`, 3) uses a new VM and a new vault; pipeline and
 * limit take turns going first, and so do the two restores. Every restore is
 * compared byte for byte (blake3) with the disk; the lease restore's grains
 * are counted against the disk's non-zero grains (zeros never sent). Why each
 * limit is the fair one: docs/benchmarks.md. Not a test: it prints a report.
 *
 * While it runs, the VM's free page reporting is turned off and the free
 * memory touched once (bench/support/page-reporting.ts), as bench:vault does:
 * with it on, pages the page cache takes from memory the host took back
 * each cost a fault on the host (writes, most of all), and which step pays is chance
 * (docs/benchmarks.md, the pipeline at 2026-12-06 13:37). `--page-reporting keep` leaves it
 * (and `--memory-dir`, the tmpfs where the memory is touched, is then unused).
 *
 *   npm run bench:pipeline -- [--size 4Gi] [--repeat 3] [--change 0.05] [--out FILE] [--cpu-prof DIR] [--page-reporting off|keep] [--memory-dir /dev/shm]
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { repoRoot } from "../../e2e/testbed/paths.js";
import { startVcsim, type Vcsim } from "../../e2e/testbed/vcsim.js";
import { VMDK_GRAIN_SIZE } from "../../operator/src/image/vmdk.js";
import { formatBytes } from "../../operator/src/util/quantity.js";
import { blocksOfExtents } from "../../operator/src/vault/disk-io.js";
import { initVault, openVault, parseSize, type PointHeader } from "../../operator/src/vault/index.js";
import { connect, type DiskLocation, type MoRef, type VsphereClient } from "../../operator/src/vsphere/index.js";
import { WORKER_NODE_OPTIONS } from "../../operator/src/worker/node-options.js";
import type { BackupWorkerSpec, RestoreWorkerSpec, WorkerVault } from "../../operator/src/worker/spec.js";
import { changedPieces, DEFAULT_SEED, imagePieces, regionBytesFor } from "../vault/image.js";
import { createDiskVm, defaultPlacement, hashFile, type Placement } from "../support/vm.js";
import { CpuSampler, cpuBetween } from "../support/cpu-time.js";
import { freePageReportingState, holdFreePageReporting, type PageReportingHold } from "../support/page-reporting.js";
import { readProfiles, topFrames, windowOf, type CpuProfile, type ProfileWindow } from "../support/cpu-profile.js";
import { logSpan, logTime, markdownTable, median, onWorkerRuntime, rerunOnWorkerRuntime, runBench, runWorker, workerNode, type WorkerRun, type WorkerRunOptions } from "../support/worker.js";
import { plainImport, plainPut, plainReads, plainSparseCopy, scanDisk, writeVmdk, type DiskScan, type PlainReadTimes, type Timed } from "./plain.js";
import { against, cpuTable, importReceipt, limitsTable, mbps, summarizePhase, wholeRunTable, type CpuUse, type ImportReceipt, type LimitRun, type Phase, type PhaseRun } from "./report.js";

const KEY = randomBytes(32).toString("base64");
/** A backup's blocks in flight: BackupSession's default (operator/src/vault/backup.ts), 4 per worker thread and at least 8; the worker runs one thread per core. */
const BACKUP_READS_IN_FLIGHT = Math.max(8, availableParallelism() * 4);
/** A restore's ranged vault reads in flight: restoreDisk's default (operator/src/vault/restore.ts). */
const RESTORE_WRITES_IN_FLIGHT = 4;

const log = (line: string): void => { process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`); };

/** What every round shares. */
interface Bed {
  readonly sim: Vcsim;
  readonly client: VsphereClient;
  readonly placement: Placement;
  readonly dir: string;
  readonly size: number;
  readonly change: number;
  /** How the workers run (--cpu-prof adds Node.js options). */
  readonly worker: WorkerRunOptions;
  /** CPU time of this process and of vcsim, sampled all along. */
  readonly cpu: { readonly bench: CpuSampler; readonly vcsim: CpuSampler };
}

/** The runs of each phase, and what each round proved about the lease restore's bytes. */
interface Results {
  readonly full: PhaseRun[];
  readonly incremental: PhaseRun[];
  readonly lease: PhaseRun[];
  readonly raw: PhaseRun[];
  readonly reads: { full: PlainReadTimes[]; incremental: PlainReadTimes[] };
  readonly zeros: { receipt: ImportReceipt; scan: DiskScan; vmdkBytes: number; size: number }[];
  /** The worker runs of each phase, whose CPU profiles --cpu-prof summarizes. */
  readonly workers: Record<PhaseKey, WorkerRun[]>;
  blockSize: number;
  storedBytes: number[];
  /** The VMDK of the disk for the plain import, made in the first round. */
  vmdk?: { readonly path: string; readonly hash: string; readonly bytes: number };
}

type PhaseKey = "full" | "incremental" | "lease" | "raw";

/**
 * The worker's log lines that open and close each phase's data path: what
 * the pipeline is timed by beside its limit, without the process start, the
 * vCenter login and (for a backup) vcsim's snapshot, which copies the disk's
 * data where vSphere's redo log takes milliseconds.
 */
const DATA_PATH: Record<PhaseKey, readonly [string, string]> = {
  // Reads, zero check, hashing, compression, encryption, packs, index, manifest.
  full: ["Started the backup", "Committed the recovery point"],
  incremental: ["Started the backup", "Committed the recovery point"],
  // ImportVApp, the lease, vault reads, decryption, decompression, the VMDK writer, the upload, HttpNfcLeaseComplete.
  lease: ["Importing the VM with its disks as stream-optimized VMDKs", "Imported the VM"],
  // The index, vault reads, decryption, decompression, positional writes, fsync.
  raw: ["Read the recovery point", "Restored the disk"],
};

/** Seconds of the data path of a `key` phase's worker run. */
function dataPath(key: PhaseKey, run: WorkerRun): number {
  return logSpan(run.logs, ...DATA_PATH[key]);
}

/** The worker's and vcsim's CPU seconds over the data path of a `key` phase's worker run. */
function pipelineCpu(bed: Bed, key: PhaseKey, run: WorkerRun): CpuUse {
  const [from, to] = DATA_PATH[key];
  const fromMs = logTime(run.logs, from);
  const toMs = logTime(run.logs, to);
  return { process: cpuBetween(run.cpu, fromMs, toMs), vcsim: cpuBetween(bed.cpu.vcsim.samples, fromMs, toMs) };
}

/** This process's and vcsim's CPU seconds over a limit's span. */
function limitCpu(bed: Bed, t: Timed): CpuUse {
  return { process: cpuBetween(bed.cpu.bench.samples, t.fromMs, t.toMs), vcsim: cpuBetween(bed.cpu.vcsim.samples, t.fromMs, t.toMs) };
}

/** Runs `fn` with a CPU sample of this process and vcsim right before and after it, so that its spans need no sample from outside them. */
async function marked<T>(bed: Bed, fn: () => Promise<T>): Promise<T> {
  await Promise.all([bed.cpu.bench.mark(), bed.cpu.vcsim.mark()]);
  const value = await fn();
  await Promise.all([bed.cpu.bench.mark(), bed.cpu.vcsim.mark()]);
  return value;
}

/** The faster of the two plain reads, as a limit run with its CPU. */
function bestRead(bed: Bed, t: PlainReadTimes): LimitRun {
  const best = t.perExtent.seconds <= t.ranged.seconds ? t.perExtent : t.ranged;
  return { seconds: best.seconds, bytes: t.bytes, cpu: limitCpu(bed, best) };
}

/** Runs `limit` and `pipeline` one after the other, the limit first when `limitFirst`. */
async function inOrder<L, P>(limitFirst: boolean, limit: () => Promise<L>, pipeline: () => Promise<P>): Promise<{ limit: L; pipeline: P }> {
  if (limitFirst) {
    const l = await limit();
    return { limit: l, pipeline: await pipeline() };
  }
  const p = await pipeline();
  return { limit: await limit(), pipeline: p };
}

/** The worker's log line `msg` (the first), or an error naming it. */
function logLine(run: WorkerRun, msg: string): Record<string, unknown> {
  const line = run.logs.find((l) => l.msg === msg);
  if (!line) throw new Error(`The worker logged no "${msg}" line`);
  return line;
}

/** The vault spec a worker gets, and the one this process opens the same vault with. */
function vaultOf(path: string): { worker: WorkerVault; open: { backend: { filesystem: { path: string } }; key: Buffer } } {
  return { worker: { filesystem: { path } }, open: { backend: { filesystem: { path } }, key: Buffer.from(KEY) } };
}

/** Runs one backup of VM `vm` with the real worker; returns its figures and point. */
async function backup(bed: Bed, vaultPath: string, vm: string, run: string): Promise<{ phase: Omit<PhaseRun, "limits">; point: PointHeader; run: WorkerRun }> {
  const spec: BackupWorkerSpec = {
    mode: "backup",
    runId: run,
    vm: { name: vm },
    vcenter: { address: bed.sim.address, tls: { thumbprint: bed.sim.thumbprint } },
    vault: vaultOf(vaultPath).worker,
    quiesce: false,
    changedBlockTracking: true,
    labels: { namespace: "bench", plan: "pipeline", vm, run },
  };
  const result = await runWorker(spec, bed.sim, KEY, bed.worker).catch((err: unknown) => {
    throw new Error(`The backup ${run} of ${vm} failed`, { cause: err });
  });
  const pointId = String(logLine(result, "Committed the recovery point").pointId);
  const vault = await openVault(vaultOf(vaultPath).open);
  let point: PointHeader;
  try {
    point = await vault.getPoint(pointId);
  } finally {
    await vault.close();
  }
  return {
    phase: {
      seconds: dataPath("full", result),
      wallSeconds: result.seconds,
      bytes: point.disks.reduce((n, d) => n + d.readBytes, 0),
      snapshotSeconds: logSpan(result.logs, "Found the VM", "Created the snapshot"),
      peakRssBytes: result.peakRssBytes,
    },
    point,
    run: result,
  };
}

/** Runs the worker's restore of `pointId` to `target`. */
async function restore(bed: Bed, vaultPath: string, pointId: string, target: RestoreWorkerSpec["target"], what: string): Promise<WorkerRun> {
  return runWorker({ mode: "restore", pointId, vault: vaultOf(vaultPath).worker, target }, bed.sim, KEY, bed.worker).catch((err: unknown) => {
    throw new Error(`The restore of ${pointId} to ${what} failed`, { cause: err });
  });
}

/** The data file of VM `vm`'s one disk, and its hash. */
async function diskOf(sim: Vcsim, vm: string): Promise<{ flatPath: string; hash: string }> {
  const [disk] = await sim.disks(vm);
  if (!disk) throw new Error(`VM ${vm} has no disk`);
  return { flatPath: disk.flatPath, hash: await hashFile(disk.flatPath) };
}

/** Checks that a restored disk is the source disk byte for byte. */
function checkSame(hash: string, scan: DiskScan, what: string): void {
  if (hash !== scan.hash) throw new Error(`${what} is not byte for byte the source disk (blake3 ${hash}, want ${scan.hash})`);
}

/** The datastore location of VM `ref`'s one disk. */
async function locationOf(client: VsphereClient, ref: MoRef): Promise<DiskLocation> {
  const [disk] = (await client.getVm(ref)).disks;
  if (!disk) throw new Error(`VM ${ref.value} has no disk`);
  return client.diskLocation(ref, disk);
}

/** One round: a new VM and vault, both backups and both restores, each beside its limit. */
async function round(bed: Bed, r: number, results: Results): Promise<void> {
  const { sim, client, size } = bed;
  const limitFirst = r % 2 === 0;
  const vaultPath = join(bed.dir, `vault-${r}`);
  const initialized = await initVault(vaultOf(vaultPath).open);
  const bs = initialized.config.blockSize;
  await initialized.close();
  results.blockSize = bs;

  const name = `source-${r}`;
  log(`round ${r + 1}: writing the ${formatBytes(size)} image into VM ${name} (guest writes)`);
  const vm = await createDiskVm(sim, client, name, size, { placement: bed.placement, nic: true });
  const written: { offset: number; length: number }[] = [];
  for (const piece of imagePieces(size)) {
    if (piece.kind === "zeros") continue;
    await sim.writeDisk(name, vm.disk.key, piece.offset, piece.data);
    written.push({ offset: piece.offset, length: piece.data.length });
  }
  const loc = await locationOf(client, vm.ref);
  const readOpts = { blockSize: bs, size, inFlight: BACKUP_READS_IN_FLIGHT, rangedFirst: !limitFirst };

  log(`round ${r + 1}: full backup and its plain read (${limitFirst ? "limit first" : "pipeline first"})`);
  const allocated = blocksOfExtents(written, bs, size);
  const full = await inOrder(limitFirst, () => marked(bed, () => plainReads(client, loc, allocated, readOpts)), () => marked(bed, () => backup(bed, vaultPath, name, `full-${r}`)));
  if (full.pipeline.phase.bytes !== full.limit.bytes) throw new Error(`The full backup read ${full.pipeline.phase.bytes} bytes but the image has ${full.limit.bytes} in its allocated blocks`);
  results.full.push({ ...full.pipeline.phase, cpu: pipelineCpu(bed, "full", full.pipeline.run), limits: [bestRead(bed, full.limit)] });
  results.reads.full.push(full.limit);
  results.workers.full.push(full.pipeline.run);

  log(`round ${r + 1}: changing ${bed.change * 100} % of the blocks (guest writes), incremental and its plain read`);
  const changed: { offset: number; length: number }[] = [];
  for (const piece of changedPieces(size, bed.change, bs)) {
    await sim.writeDisk(name, vm.disk.key, piece.offset, piece.data);
    changed.push({ offset: piece.offset, length: piece.data.length });
  }
  const incr = await inOrder(limitFirst, () => marked(bed, () => plainReads(client, loc, blocksOfExtents(changed, bs, size), readOpts)), () => marked(bed, () => backup(bed, vaultPath, name, `incremental-${r}`)));
  if (incr.pipeline.point.parent !== full.pipeline.point.id) throw new Error(`The incremental's parent is ${String(incr.pipeline.point.parent)}, not the full backup ${full.pipeline.point.id}`);
  if (incr.pipeline.phase.bytes !== incr.limit.bytes) throw new Error(`The incremental read ${incr.pipeline.phase.bytes} bytes but ${incr.limit.bytes} changed`);
  results.incremental.push({ ...incr.pipeline.phase, cpu: pipelineCpu(bed, "incremental", incr.pipeline.run), limits: [bestRead(bed, incr.limit)] });
  results.reads.incremental.push(incr.limit);
  results.workers.incremental.push(incr.pipeline.run);
  results.storedBytes.push(incr.pipeline.point.storedBytes);
  const pointId = incr.pipeline.point.id;

  // What every restore must give back, and the VMDK of it for the plain import (neither timed).
  log(`round ${r + 1}: scanning the disk${results.vmdk ? "" : " and writing its VMDK for the plain import"}`);
  const scan = await scanDisk(vm.disk.flatPath, { size, blockSize: bs, grainSize: VMDK_GRAIN_SIZE });
  const pointAllocated = incr.pipeline.point.disks.reduce((n, d) => n + d.allocatedBytes, 0);
  if (scan.allocatedBytes !== pointAllocated) throw new Error(`The point holds ${pointAllocated} bytes of data but the disk ${scan.allocatedBytes}`);
  // The disk is the same in every round (a deterministic image and change), so its VMDK is made once.
  if (results.vmdk && results.vmdk.hash !== scan.hash) throw new Error(`Round ${r + 1}'s disk differs from round 1's (blake3 ${scan.hash}, was ${results.vmdk.hash})`);
  results.vmdk ??= { path: join(bed.dir, "plain.vmdk"), hash: scan.hash, bytes: await writeVmdk(vm.disk.flatPath, join(bed.dir, "plain.vmdk"), { size, blockSize: bs, zeroBlocks: scan.zeroBlocks }) };
  const { path: vmdkPath, bytes: vmdkBytes } = results.vmdk;

  const lease = async (): Promise<void> => {
    log(`round ${r + 1}: restore to a new VM (lease) and its plain uploads`);
    const restored = `restored-${r}`;
    const target: RestoreWorkerSpec["target"] = { vSphere: { vcenter: { address: sim.address, tls: { thumbprint: sim.thumbprint } }, datastore: bed.placement.datastoreName, vmName: restored, inPlace: false, networkMappings: [], diskProvisioning: "Thin", powerOn: false } };
    const plainName = `plain-import-${r}`;
    const got = await inOrder(
      limitFirst,
      async () => {
        const spec = { name: plainName, folder: bed.placement.folder, resourcePool: bed.placement.resourcePool, datastoreName: bed.placement.datastoreName, guestId: "ubuntu64Guest", disks: [{ capacityBytes: size, thin: true }], nics: [{ network: bed.placement.network }] };
        const imported = await marked(bed, () => plainImport(client, spec, vmdkPath));
        checkSame((await diskOf(sim, plainName)).hash, scan, `The plain import of round ${r + 1}`);
        const loc = await locationOf(client, imported.ref);
        const put = await marked(bed, () => plainPut(client, loc, vm.disk.flatPath, size));
        checkSame((await diskOf(sim, plainName)).hash, scan, `The plain upload of round ${r + 1}`);
        await client.destroyVm(imported.ref);
        return [{ seconds: imported.seconds, bytes: imported.bytes, cpu: limitCpu(bed, imported) }, { seconds: put.seconds, bytes: size, cpu: limitCpu(bed, put) }];
      },
      async () => {
        const run = await marked(bed, () => restore(bed, vaultPath, pointId, target, `new VM ${restored}`));
        const imported = logLine(run, "Imported the VM");
        checkSame((await diskOf(sim, restored)).hash, scan, `The restore to VM ${restored}`);
        const receipt = importReceipt(await readFile(sim.logFile, "utf8"), restored);
        if (!receipt) throw new Error(`vcsim logged no receipt for the import of ${restored}`);
        await client.destroyVm({ type: "VirtualMachine", value: String(imported.moRef) });
        return { run, sent: Number(imported.bytesSent), receipt };
      },
    );
    const { run, sent, receipt } = got.pipeline;
    if (receipt.streamBytes !== sent) throw new Error(`The worker says it sent ${sent} bytes, vcsim received ${receipt.streamBytes}`);
    if (sent !== vmdkBytes) throw new Error(`The worker sent a VMDK of ${sent} bytes but the plain import's has ${vmdkBytes}: the limit would not send the same bytes`);
    results.zeros.push({ receipt, scan, vmdkBytes, size });
    results.workers.lease.push(run);
    results.lease.push({ seconds: dataPath("lease", run), wallSeconds: run.seconds, bytes: sent, cpu: pipelineCpu(bed, "lease", run), peakRssBytes: run.peakRssBytes, limits: got.limit });
  };

  const raw = async (): Promise<void> => {
    log(`round ${r + 1}: restore to a raw file and its plain copy`);
    const plainPath = join(bed.dir, `plain-${r}.raw`);
    const got = await inOrder(
      limitFirst,
      async () => {
        const copy = await marked(bed, () => plainSparseCopy(vm.disk.flatPath, plainPath, { size, blockSize: bs, inFlight: RESTORE_WRITES_IN_FLIGHT }));
        checkSame(await hashFile(plainPath), scan, `The plain copy of round ${r + 1}`);
        await rm(plainPath, { force: true });
        return { seconds: copy.seconds, bytes: copy.bytes, cpu: limitCpu(bed, copy) };
      },
      async () => {
        const dir = join(bed.dir, `restored-${r}`);
        const run = await marked(bed, () => restore(bed, vaultPath, pointId, { imageFile: { format: "raw", path: dir } }, `a raw file in ${dir}`));
        const paths = logLine(run, "Restore succeeded").paths;
        const path = Array.isArray(paths) && typeof paths[0] === "string" ? paths[0] : undefined;
        if (!path) throw new Error(`The restore to ${dir} names no file`);
        checkSame(await hashFile(path), scan, `The restore to ${path}`);
        await rm(dir, { recursive: true, force: true });
        return run;
      },
    );
    results.workers.raw.push(got.pipeline);
    results.raw.push({ seconds: dataPath("raw", got.pipeline), wallSeconds: got.pipeline.seconds, bytes: scan.allocatedBytes, cpu: pipelineCpu(bed, "raw", got.pipeline), peakRssBytes: got.pipeline.peakRssBytes, limits: [got.limit] });
  };

  if (limitFirst) {
    await lease();
    await raw();
  } else {
    await raw();
    await lease();
  }
  await client.destroyVm(vm.ref);
  await rm(vaultPath, { recursive: true, force: true });
}

/** The commit this benchmark ran at, and whether the tree had changes. */
function commit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoRoot, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: repoRoot, encoding: "utf8" }).trim() !== "";
    return `${head}${dirty ? " (with uncommitted changes)" : ""}`;
  } catch {
    return "unknown (not a git checkout)";
  }
}

const loads = (): string => loadavg().map((l) => l.toFixed(2)).join(", ");

/** The report (Markdown): the setting, the tables, the proof that zeros were not sent, the goals. */
function report(results: Results, o: { size: number; repeat: number; change: number; command: string; started: Date; loadBefore: string; loadAfter: string; seconds: number; workerNode: string; reporting: string }): string[] {
  const full = summarizePhase({ name: "full backup", moved: "read", limits: ["plain GETs of the same areas"], runs: results.full });
  const incr = summarizePhase({ name: `incremental (${o.change * 100} % changed)`, moved: "read", limits: ["plain GETs of the same blocks"], runs: results.incremental });
  const lease = summarizePhase({ name: "restore to a new VM (lease)", moved: "sent", limits: ["plain import of the same VMDK bytes", "plain PUT of the raw disk"], runs: results.lease });
  const raw = summarizePhase({ name: "restore to a raw file", moved: "written", limits: ["plain sparse copy of the disk, fsync"], runs: results.raw } satisfies Phase);
  const phases = [full, incr, lease, raw];
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const readRows = (["full", "incremental"] as const).map((k) => {
    const xs = results.reads[k];
    const bytes = median(xs.map((x) => x.bytes));
    const one = median(xs.map((x) => x.perExtent.seconds));
    const ranged = median(xs.map((x) => x.ranged.seconds));
    return [k === "full" ? full.name : incr.name, formatBytes(bytes), `${one.toFixed(2)} s, ${mbps(bytes, one)} MB/s`, `${ranged.toFixed(2)} s, ${mbps(bytes, ranged)} MB/s`];
  });
  const z = results.zeros;
  const allZerosKept = z.every((x) => x.receipt.grains === x.scan.nonZeroGrains);
  const first = z[0];
  const grainsOfDisk = Math.ceil(o.size / VMDK_GRAIN_SIZE);
  const backupGoal = [against(full.limits[0]?.fraction ?? 0, 0.8), against(incr.limits[0]?.fraction ?? 0, 0.8)];
  const restoreGoal = against(lease.limits[0]?.fraction ?? 0, 0.8);
  const putGoal = against(lease.limits[1]?.fraction ?? 0, 0.8);
  const rawGoal = against(raw.limits[0]?.fraction ?? 0, 0.8);
  return [
    `#### ${o.started.toISOString().slice(0, 10)}: ${formatBytes(o.size)} disk, ${o.repeat} rounds`,
    "",
    `- Date: ${o.started.toISOString()}; command: \`${o.command}\`; ${o.seconds.toFixed(0)} s in all`,
    `- Machine: ${cpu}, ${availableParallelism()} cores, ${formatBytes(totalmem())} RAM, Linux ${release()}; the worker and this benchmark (its plain transfers) on Node.js ${o.workerNode} (the images' build), both with the worker's options (${WORKER_NODE_OPTIONS.join(" ")}); Lifeboat at ${commit()}`,
    `- Load average (1, 5, 15 min): ${o.loadBefore} before, ${o.loadAfter} after`,
    `- Free page reporting (the VM hands memory its kernel frees back to the host): ${o.reporting}.`,
    "- vcsim (govmomi v0.55.0 with the harness), the worker and the vault on this one machine: the \"network\" is loopback TLS, and the page cache holds the disk for the pipeline and its limits alike (not dropped), so both are bound by CPU, not by a link or a disk (except the fsync of the raw-file restore and its copy, and the restores' reads of the vault's packs, which the backups wrote with direct I/O, past the cache).",
    `- Disk: ${formatBytes(o.size)}, bench:vault's deterministic image (seed "${DEFAULT_SEED}", ${formatBytes(regionBytesFor(o.size))} regions of zeros, log text, random data and a copy of it), written as guest writes with the zero regions left unwritten; then ${o.change * 100} % of its ${formatBytes(results.blockSize)} blocks rewritten with new random data (guest writes, seen by CBT). Vault: filesystem, defaults (block ${formatBytes(results.blockSize)}); the incremental point took ${formatBytes(median(results.storedBytes))} in the vault.`,
    `- Rounds: ${o.repeat}, each with a new VM and a new vault; in odd rounds each limit goes before its pipeline phase, in even rounds after it, and the two restores swap places. Figures are medians; "per run" is the lowest and highest fraction of a round.`,
    "",
    ...limitsTable(phases),
    "",
    "- pipeline s: the worker's data path, from its log: backup \"Started the backup\" → \"Committed the recovery point\" (reads, zero check, hashing, compression, encryption, packs, index, manifest); restore to a new VM \"Importing the VM…\" → \"Imported the VM\" (ImportVApp, lease, upload, complete); restore to a file \"Read the recovery point\" → \"Restored the disk\" (index, reads, writes, fsync). The whole worker run is in the next table.",
    "- fraction of limit: limit s / pipeline s (medians); 100 % would be a pipeline as fast as the plain transfer of the same bytes.",
    `- plain GETs: the faster of one ranged GET per run of adjacent blocks and one GET per ${formatBytes(results.blockSize)} block with ${BACKUP_READS_IN_FLIGHT} in flight (the worker's pattern), bytes discarded; both below.`,
    "",
    ...wholeRunTable(phases),
    "",
    `Where the CPU went (medians; CPU seconds from /proc over each data path or limit, and the cores they kept busy on average, of the machine's ${availableParallelism()}): the pipeline's process is the worker (all its threads), a limit's is this benchmark.`,
    "",
    ...cpuTable(phases),
    "",
    "Plain reads, both ways (medians):",
    "",
    ...markdownTable(["phase", "bytes", "one GET per extent", `${formatBytes(results.blockSize)} GETs, ${BACKUP_READS_IN_FLIGHT} in flight`], readRows),
    "",
    first
      ? `Zeros never sent: in every round the lease restore's VMDK carried exactly the disk's non-zero ${formatBytes(VMDK_GRAIN_SIZE)} grains (${first.receipt.grains} of ${grainsOfDisk}, counted by vcsim as it decoded the stream; the disk has ${first.scan.nonZeroGrains} non-zero grains, so none of its ${grainsOfDisk - first.scan.nonZeroGrains} zero grains went): ${formatBytes(first.receipt.streamBytes)} sent for a ${formatBytes(o.size)} disk, the same bytes as the VMDK made ahead for the plain import (${formatBytes(first.vmdkBytes)}). ${allZerosKept ? "Held in every round." : "**Not so in every round.**"} Every restore (and every plain import, upload and copy) was compared byte for byte (blake3) with the disk.`
      : "",
    "",
    ...markdownTable(["goal", "result"], [
      ["backup >= 80 % of the plain datastore read", `full ${backupGoal[0]?.text ?? "-"}, incremental ${backupGoal[1]?.text ?? "-"}`],
      ["restore >= 80 % of the plain upload, zeros never sent", `new VM: ${restoreGoal.text} of the plain import of the same VMDK, ${putGoal.text} of the plain PUT of the raw disk; raw file: ${rawGoal.text} of the plain copy; zeros never sent: ${allZerosKept ? "yes" : "no"}`],
    ]),
  ];
}

const PHASE_NAMES: Record<PhaseKey, string> = { full: "full backup", incremental: "incremental", lease: "restore to a new VM", raw: "restore to a raw file" };

/**
 * The top frames by self time of each phase's workers over its data path
 * (--cpu-prof; the start-up left out), the main thread (HTTP, streams, the
 * event loop) apart from the worker threads (hashing, compression,
 * encryption); "(idle)" is time spent waiting: on the main thread for vcsim,
 * the disk or the worker threads, on a worker thread for work.
 */
async function profileReport(dir: string, workers: Record<PhaseKey, WorkerRun[]>): Promise<string[]> {
  const rows: string[][] = [];
  for (const key of Object.keys(PHASE_NAMES) as PhaseKey[]) {
    const threads = { main: [] as { profile: CpuProfile; window: ProfileWindow }[], workers: [] as { profile: CpuProfile; window: ProfileWindow }[] };
    for (const run of workers[key]) {
      const profiles = await readProfiles(dir, run.pid);
      const main = profiles.main[0];
      if (!main) throw new Error(`No CPU profile of worker ${run.pid} in ${dir}`);
      const [from, to] = DATA_PATH[key];
      const window = windowOf({ fromMs: logTime(run.logs, from), toMs: logTime(run.logs, to) }, { wallMs: run.startedAt, profileUs: main.startTime });
      threads.main.push({ profile: main, window });
      for (const profile of profiles.workers) threads.workers.push({ profile, window });
    }
    for (const thread of ["main", "workers"] as const) {
      for (const f of topFrames(threads[thread], 8)) {
        rows.push([PHASE_NAMES[key], thread === "main" ? "main thread" : "worker threads", f.frame, f.selfMs.toFixed(0), `${(f.share * 100).toFixed(1)} %`]);
      }
    }
  }
  return [
    "Where the workers' CPU time went over the data path (`--cpu-prof`; self time, top 8 frames per phase and thread, over all rounds; share of the data path's time on those threads; \"(idle)\" is waiting):",
    "",
    ...markdownTable(["phase", "thread", "frame", "self ms", "share"], rows),
  ];
}

async function main(): Promise<void> {
  // The limits run in this process: on the worker's runtime, so that they are its client without the pipeline.
  if (!(await onWorkerRuntime())) {
    process.exitCode = await rerunOnWorkerRuntime();
    return;
  }
  const { values } = parseArgs({
    options: {
      size: { type: "string", default: "4Gi" },
      repeat: { type: "string", default: "3" },
      change: { type: "string", default: "0.05" },
      out: { type: "string" },
      "cpu-prof": { type: "string" },
      "page-reporting": { type: "string", default: "off" },
      "memory-dir": { type: "string", default: "/dev/shm" },
    },
  });
  const size = parseSize(values.size);
  const repeat = Number(values.repeat);
  const change = Number(values.change);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat takes a whole number from 1, not ${values.repeat}`);
  if (!(change > 0 && change <= 1)) throw new Error(`--change takes a fraction above 0 and at most 1, not ${values.change}`);
  if (size % (1024 * 1024) !== 0) throw new Error(`--size takes whole MiB, not ${values.size}`);
  if (values["page-reporting"] !== "off" && values["page-reporting"] !== "keep") throw new Error(`--page-reporting takes off or keep, not ${values["page-reporting"]}`);
  const cpuProf = values["cpu-prof"];
  if (cpuProf) await mkdir(cpuProf, { recursive: true });
  const command = `node dist/bench/pipeline/run.js ${process.argv.slice(2).join(" ")}`.trim();
  const started = new Date();
  const reporting: PageReportingHold = values["page-reporting"] === "off"
    ? await holdFreePageReporting(values["memory-dir"], log)
    : { note: `left as the machine had it (--page-reporting keep): ${await freePageReportingState()}`, release: () => Promise.resolve() };
  let failed = true;
  try {
    // The load once the free memory was touched: what the rounds start from.
    await benchRounds({ size, repeat, change, command, started, loadBefore: loads(), cpuProf, out: values.out, reporting: reporting.note });
    failed = false;
  } finally {
    // A failure to put the setting back must not hide the rounds' own failure.
    await reporting.release().catch((err: unknown) => {
      if (!failed) throw err;
      log(String(err));
    });
  }
}

/** The rounds and the report; free page reporting is already as the report will say. */
async function benchRounds(o: { size: number; repeat: number; change: number; command: string; started: Date; loadBefore: string; cpuProf: string | undefined; out: string | undefined; reporting: string }): Promise<void> {
  const { size, repeat, change, command, started, loadBefore, cpuProf } = o;
  const dir = await mkdtemp(join(tmpdir(), "lifeboat-bench-pipeline-"));
  log(`vcsim, the worker and a filesystem vault in ${dir}; load ${loadBefore}`);
  const sim = await startVcsim({ vms: 0, cbtPageBytes: size });
  if (sim.pid === undefined) throw new Error("vcsim has no process id to measure its CPU time by");
  const cpu = { bench: new CpuSampler(process.pid), vcsim: new CpuSampler(sim.pid) };
  let client: VsphereClient | undefined;
  const results: Results = { full: [], incremental: [], lease: [], raw: [], reads: { full: [], incremental: [] }, zeros: [], workers: { full: [], incremental: [], lease: [], raw: [] }, blockSize: 0, storedBytes: [] };
  try {
    client = await connect({ address: sim.address, username: sim.username, password: sim.password, tls: { thumbprint: sim.thumbprint } });
    const bed: Bed = { sim, client, placement: await defaultPlacement(client), dir, size, change, worker: cpuProf ? { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${cpuProf}`] } : {}, cpu };
    for (let r = 0; r < repeat; r++) {
      await round(bed, r, results);
      log(`round ${r + 1} done, ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s since the start; load ${loads()}`);
    }
  } finally {
    await Promise.all([cpu.bench.stop(), cpu.vcsim.stop()]);
    await client?.close().catch(() => undefined);
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const nodeVersion = execFileSync(await workerNode(), ["--version"], { encoding: "utf8" }).trim();
  const lines = report(results, { size, repeat, change, command, started, loadBefore, loadAfter: loads(), seconds: (Date.now() - started.getTime()) / 1000, workerNode: nodeVersion, reporting: o.reporting });
  if (cpuProf) lines.push("", ...(await profileReport(cpuProf, results.workers)));
  const text = `${lines.join("\n")}\n`;
  process.stdout.write(text);
  if (o.out) await writeFile(o.out, text);
  if (cpuProf) log(`CPU profiles of the workers are in ${cpuProf}`);
}

runBench(main);
