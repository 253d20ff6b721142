/**
 * Seeds a DR chain (DESIGN §5). After a failover the roles swap: the
 * recovered VM is replicated back into a vault at the other site, and the
 * new chain must start from a point whose content equals a point of the
 * other vault, without sending whole disks between sites. The seed builds
 * that point in the destination vault:
 *
 * - a hole of the source point stays a hole (no I/O);
 * - any other block is first read from a local VM (through a snapshot that
 *   is always removed) and hashed with the SOURCE vault's id key: equal to
 *   the source block id means the local VM holds exactly that content;
 * - only the blocks that differ are fetched from the source vault (ranged
 *   read, decrypt, verify), under the bandwidth limit.
 *
 * The content goes through an ordinary BackupSession of the destination
 * vault (its own keyed hash, dedup, compression, encryption), so the point
 * is like any other and later cycles continue from it by lineage and the
 * changeIds the spec records. When both vaults are one repository, the
 * point simply lists the source point's block ids and nothing is read.
 */
import { BackupSession, openVault, type DiskSource, type Extent, type PointDisk, type PointHeader, type Vault } from "../vault/index.js";
import type { BlockIndex } from "../vault/block-index.js";
import { blockId } from "../vault/crypto.js";
import { blockAt, HOLE } from "../vault/manifest.js";
import { RepositoryLock } from "../vault/repo-lock.js";
import { connect, type MoRef, type VirtualMachine, type VsphereClient } from "../vsphere/index.js";
import { progressSink, type RunContext } from "./backup-vm.js";
import { connectOptionsFrom, SOURCE_VAULT_SECRETS, vaultSpecFrom } from "./config.js";
import { describeChain, EXIT, InvalidSpecError, WorkerError } from "./errors.js";
import { readRequestedPoint } from "./restore-point.js";
import { removeLeftovers, removeLeftoversBestEffort, withRunSnapshot } from "./run-snapshot.js";
import { snapshotSource } from "./snapshot-source.js";
import type { SeedWorkerSpec, WorkerVault } from "./spec.js";
import { TokenBucket } from "./token-bucket.js";
import { findVm } from "./vm-lookup.js";

type Point = Awaited<ReturnType<Vault["readPoint"]>>;

/** One disk of the seed: the spec's entry with the source disk and its block ids. */
interface SeedDisk {
  readonly key: string;
  readonly changeId?: string | undefined;
  readonly localDiskKey?: number | undefined;
  readonly source: PointDisk;
  readonly ids: Buffer;
}

/** What the seed took from where, for the labels, /progress and the log. */
interface SeedCounters {
  /** Bytes of encrypted blobs fetched from the source vault. */
  fetched: number;
  /** Bytes of content taken from the local VM. */
  local: number;
  /** Bytes of the source disks' holes, done without I/O. */
  holes: number;
}

/** Runs the seed; resolves with the committed (or already existing) point. */
export async function seedPoint(spec: SeedWorkerSpec, ctx: RunContext): Promise<PointHeader> {
  const { logger, progress } = ctx;
  const dest = await openVault(vaultSpecFrom(spec.vault, ctx.env, { threads: spec.threads, retry: ctx.vaultRetry, bootThreads: true }));
  try {
    const done = findSeedPoint(await dest.listPoints(), spec.labels);
    if (done) {
      logger.info({ pointId: done.id, run: spec.runId }, "Found the point of this seed already committed; not seeding again");
      progress.set({ pointId: done.id });
      if (spec.local) await removeLeftoversBestEffort(spec.local.vcenter, spec.local.vm, ctx);
      return done;
    }
    const source = await openSource(spec, ctx, dest);
    try {
      const point = await readRequestedPoint(source, spec.source.pointId);
      const disks = seedDisks(spec, point, dest);
      const total = disks.reduce((s, d) => s + d.source.size, 0);
      progress.set({ bytesTotal: total, bytesFetched: 0, bytesLocal: 0 });
      logger.info({ sourcePoint: point.header.id, vault: dest.backend.location, sourceVault: source.backend.location, disks: disks.map((d) => `${d.source.key}->${d.key}`), bytes: total }, "Read the source point");
      if (source === dest) return await seedWithinRepository(spec, ctx, dest, point, disks);
      return await seedAcrossVaults(spec, ctx, { dest, source, point, disks });
    } finally {
      if (source !== dest) await source.close().catch(() => undefined);
    }
  } finally {
    await dest.close().catch(() => undefined);
  }
}

/** The point a retried seed already committed: every label of the spec (run included) matches. */
function findSeedPoint(points: readonly PointHeader[], labels: Readonly<Record<string, string>>): PointHeader | undefined {
  return points.find((p) => Object.entries(labels).every(([k, v]) => p.labels[k] === v));
}

/** Where a vault is, for messages (the opened vault says it better; this is for when it does not open). */
function vaultLocation(v: WorkerVault): string {
  return v.filesystem ? v.filesystem.path : `s3://${v.s3?.bucket ?? ""}/${v.s3?.prefix ?? ""}`;
}

/** Opens the source vault; returns `dest` itself when both are one repository. */
async function openSource(spec: SeedWorkerSpec, ctx: RunContext, dest: Vault): Promise<Vault> {
  let source: Vault;
  try {
    source = await openVault(vaultSpecFrom(spec.source.vault, ctx.env, { threads: spec.threads, secrets: SOURCE_VAULT_SECRETS, retry: ctx.vaultRetry }));
  } catch (err) {
    throw new Error(`Could not open the source vault at ${vaultLocation(spec.source.vault)}`, { cause: err });
  }
  if (source.config.repositoryId !== dest.config.repositoryId) {
    // Its threads start only now that it is known to be read (the destination's booted while it opened).
    source.startThreads();
    return source;
  }
  ctx.logger.info({ repositoryId: dest.config.repositoryId }, "The source vault is the destination's repository; reusing its block ids without reading");
  await source.close().catch(() => undefined);
  return dest;
}

/** Pairs the spec's disks with the source point's; the vaults must cut disks into the same blocks. */
function seedDisks(spec: SeedWorkerSpec, point: Point, dest: Vault): SeedDisk[] {
  if (point.header.blockSize !== dest.config.blockSize) {
    throw new InvalidSpecError(`The source vault cuts disks into blocks of ${point.header.blockSize} bytes and the destination into ${dest.config.blockSize}; a seed needs vaults of the same block size`);
  }
  return spec.disks.map((d, i) => {
    const source = point.header.disks.find((s) => s.key === d.sourceDiskKey);
    const ids = point.blockLists.get(d.sourceDiskKey);
    if (!source || !ids) {
      throw new InvalidSpecError(`spec.disks[${i}].sourceDiskKey "${d.sourceDiskKey}" is not a disk of point ${point.header.id} (it has ${point.header.disks.map((s) => s.key).join(", ")})`);
    }
    return { key: d.key, changeId: d.changeId, localDiskKey: d.localDiskKey, source, ids };
  });
}

/** The session of the seeded point: the source point's moment and consistency, the spec's labels. */
function sessionOptions(spec: SeedWorkerSpec, point: Point): { labels: Record<string, string>; consistency: PointHeader["consistency"]; time: Date } {
  return { labels: { ...spec.labels, seedOf: point.header.id }, consistency: point.header.consistency, time: new Date(point.header.time) };
}

/** Labels known once the disks are done. */
function countLabels(counters: SeedCounters): Record<string, string> {
  return { transferredBytes: String(counters.fetched), localBytes: String(counters.local) };
}

/** Commits the session and reports the point; aborts it on failure. */
async function commitSeed(ctx: RunContext, session: BackupSession, counters: SeedCounters, fill: () => Promise<void>): Promise<PointHeader> {
  try {
    await fill();
    ctx.progress.phase("Committing");
    const header = await session.commit(countLabels(counters));
    ctx.logger.info({ pointId: header.id, storedBytes: header.storedBytes, transferredBytes: counters.fetched, localBytes: counters.local }, "Committed the seeded point");
    ctx.progress.set({ pointId: header.id });
    return header;
  } catch (err) {
    await session.abort().catch(() => undefined);
    throw err;
  }
}

/** Same repository: the point lists the source point's block ids; nothing is read or stored. */
async function seedWithinRepository(spec: SeedWorkerSpec, ctx: RunContext, vault: Vault, point: Point, disks: readonly SeedDisk[]): Promise<PointHeader> {
  const session = await BackupSession.begin(vault, sessionOptions(spec, point));
  const counters: SeedCounters = { fetched: 0, local: 0, holes: 0 };
  return commitSeed(ctx, session, counters, () => {
    for (const d of disks) session.addDiskBlocks({ key: d.key, size: d.source.size, ids: d.ids, changeId: d.changeId });
    const total = disks.reduce((s, d) => s + d.source.size, 0);
    ctx.progress.bytes({ bytesDone: total, bytesTotal: total, bytesUploaded: 0 });
    return Promise.resolve();
  });
}

interface Transfer {
  readonly dest: Vault;
  readonly source: Vault;
  readonly point: Point;
  readonly disks: readonly SeedDisk[];
}

/** Two repositories: lock the source against prune, read what the local VM holds, fetch the rest. */
async function seedAcrossVaults(spec: SeedWorkerSpec, ctx: RunContext, t: Transfer): Promise<PointHeader> {
  const lock = await RepositoryLock.acquire(t.source.backend, false, "seed");
  try {
    const { index } = await t.source.loadIndex();
    const local = await connectLocal(spec, ctx);
    if (!local) return await transfer(spec, ctx, t, index, new Map());
    try {
      return await withRunSnapshot(local.client, local.vm, { runId: spec.runId, quiesce: false, purpose: "seed" }, ctx, async (snapshot) =>
        transfer(spec, ctx, t, index, await localDisks(local.client, local.vm, snapshot, t.disks, ctx)));
    } finally {
      await local.client.close().catch(() => undefined);
    }
  } finally {
    await lock.release().catch(() => undefined);
  }
}

/** Says, in the log and /progress, that everything comes from the source vault. */
function fetchingEverything(ctx: RunContext, why: string): void {
  const message = `${why}; fetching every non-zero block from the source vault`;
  ctx.logger.warn(message);
  ctx.progress.set({ message });
}

/** The local VM, or undefined when none is given or it is not found (not an error: the seed only gets slower). */
async function connectLocal(spec: SeedWorkerSpec, ctx: RunContext): Promise<{ client: VsphereClient; vm: VirtualMachine } | undefined> {
  if (!spec.local) {
    fetchingEverything(ctx, "No local VM was given");
    return undefined;
  }
  if (spec.disks.every((d) => d.localDiskKey === undefined)) {
    fetchingEverything(ctx, `No disk of spec.disks names a localDiskKey of VM "${spec.local.vm.name}"`);
    return undefined;
  }
  const client = await connect({ ...connectOptionsFrom(spec.local.vcenter, ctx.env), logger: ctx.logger });
  try {
    const vm = await findVm(client, spec.local.vm);
    ctx.logger.info({ vm: vm.name, moRef: vm.ref.value, disks: vm.disks.length }, "Found the local VM");
    await removeLeftovers(client, vm.ref, ctx.logger);
    return { client, vm };
  } catch (err) {
    await client.close().catch(() => undefined);
    if (err instanceof WorkerError && err.exitCode === EXIT.vmNotFound) {
      fetchingEverything(ctx, `The local VM was not found (${describeChain(err)})`);
      return undefined;
    }
    throw err;
  }
}

/** A local disk to compare with: its reader and its size. */
interface LocalDisk {
  readonly reader: DiskSource;
  readonly size: number;
}

/** Readers of the snapshot's disks that the spec maps to seed disks (by seed disk key). */
async function localDisks(client: VsphereClient, vm: VirtualMachine, snapshot: MoRef, disks: readonly SeedDisk[], ctx: RunContext): Promise<Map<string, LocalDisk>> {
  const frozen = await client.snapshotDisks(snapshot);
  const out = new Map<string, LocalDisk>();
  // Local reads stay at this site: only fetches from the source vault spend the limited link.
  const unlimited = new TokenBucket(0);
  for (const d of disks) {
    if (d.localDiskKey === undefined) continue;
    const disk = frozen.find((f) => f.key === d.localDiskKey);
    if (!disk) {
      ctx.logger.warn({ vm: vm.name, disk: d.key, localDiskKey: d.localDiskKey, has: frozen.map((f) => f.key) }, "The local VM has no such disk; fetching this disk's blocks from the source vault");
      continue;
    }
    const location = await client.diskLocation(vm.ref, disk);
    const reader = snapshotSource({
      client,
      location,
      size: disk.capacityBytes,
      bandwidth: unlimited,
      signal: ctx.signal,
      onRead: (n) => { ctx.metrics.bytesRead.inc({ vm: vm.name, disk: String(disk.key) }, n); },
    });
    out.set(d.key, { reader, size: disk.capacityBytes });
  }
  return out;
}

/** The runs of non-hole blocks of a block list, as extents, and the bytes of its holes. */
export function allocatedExtents(ids: Buffer, size: number, blockSize: number): { extents: Extent[]; holeBytes: number } {
  const extents: Extent[] = [];
  let holeBytes = 0;
  const blocks = Math.ceil(size / blockSize);
  for (let b = 0; b < blocks; b++) {
    const length = Math.min(blockSize, size - b * blockSize);
    if (blockAt(ids, b).equals(HOLE)) {
      holeBytes += length;
      continue;
    }
    const last = extents.at(-1);
    if (last && last.offset + last.length === b * blockSize) extents[extents.length - 1] = { offset: last.offset, length: last.length + length };
    else extents.push({ offset: b * blockSize, length });
  }
  return { extents, holeBytes };
}

/** Feeds every seed disk through a destination BackupSession and commits. */
async function transfer(spec: SeedWorkerSpec, ctx: RunContext, t: Transfer, index: BlockIndex, local: ReadonlyMap<string, LocalDisk>): Promise<PointHeader> {
  const total = t.disks.reduce((s, d) => s + d.source.size, 0);
  const counters: SeedCounters = { fetched: 0, local: 0, holes: 0 };
  const session = await BackupSession.begin(t.dest, {
    ...sessionOptions(spec, t.point),
    progressIntervalMs: 250,
    onProgress: progressSink(ctx, spec.labels.vm ?? "", (p) => ({ bytesDone: counters.holes + p.bytesRead, bytesTotal: total })),
  });
  ctx.logger.info({ pointId: session.id, sourcePoint: t.point.header.id, bytes: total }, "Started the seed");
  ctx.progress.phase("Transferring", { bytesTotal: total });
  return commitSeed(ctx, session, counters, async () => {
    for (const d of t.disks) {
      const { extents, holeBytes } = allocatedExtents(d.ids, d.source.size, t.point.header.blockSize);
      counters.holes += holeBytes;
      const before = { ...counters };
      const source = seedSource({ ctx, disk: d, local: local.get(d.key), vault: t.source, index, counters, vmName: spec.labels.vm ?? "" });
      await session.backupDisk({ key: d.key, source, changedExtents: extents, changeId: d.changeId });
      ctx.logger.info({ disk: d.key, sourceDisk: d.source.key, localDisk: d.localDiskKey, localBytes: counters.local - before.local, fetchedBytes: counters.fetched - before.fetched, holeBytes }, "Seeded the disk");
    }
  });
}

/**
 * The content of one seed disk, block by block, as the session reads it:
 * the local VM's block when its keyed hash under the source vault's id key
 * equals the source block id, else the block fetched from the source vault.
 */
function seedSource(opts: {
  readonly ctx: RunContext;
  readonly disk: SeedDisk;
  readonly local: LocalDisk | undefined;
  readonly vault: Vault;
  readonly index: BlockIndex;
  readonly counters: SeedCounters;
  readonly vmName: string;
}): DiskSource {
  const { ctx, disk, local, vault, index, counters } = opts;
  const size = disk.source.size;
  const bs = vault.config.blockSize;
  const labels = { vm: opts.vmName, disk: disk.key };
  const report = (): void => { ctx.progress.set({ bytesFetched: counters.fetched, bytesLocal: counters.local }); };
  return {
    size,
    async readInto(buffer, offset) {
      const length = Math.min(buffer.length, size - offset);
      const view = buffer.subarray(0, length);
      const block = offset / bs;
      const id = blockAt(disk.ids, block);
      if (id.equals(HOLE)) {
        view.fill(0);
        return;
      }
      if (local && offset + length <= local.size) {
        await local.reader.readInto(view, offset);
        if (blockId(vault.keys.idKey, view).equals(id)) {
          counters.local += length;
          report();
          return;
        }
      }
      const stored = index.get(id)?.length ?? 0;
      await ctx.bandwidth.take(stored, ctx.signal);
      let data: Buffer;
      try {
        data = await vault.readBlock(id, index);
      } catch (err) {
        throw new Error(`Fetching block ${block} of disk ${disk.source.key} from the source vault failed`, { cause: err });
      }
      if (data.length !== length) throw new Error(`Block ${block} of disk ${disk.source.key} in the source vault has ${data.length} bytes, expected ${length}`);
      data.copy(view);
      counters.fetched += stored;
      ctx.metrics.bytesFetched.inc(labels, stored);
      report();
    },
    close: () => Promise.resolve(),
  };
}
