/**
 * Backup: reads disks, stores their new blocks and commits a recovery point.
 *
 * A session backs up one or more disks of one VM into one point. For each
 * disk it reads only what it must: with a parent point and a list of changed
 * extents (VMware CBT), only blocks touched by the extents are read and every
 * other block is taken from the parent; without a parent the extents are the
 * allocated areas ("*" in CBT). Each run of adjacent blocks to read is one
 * range read when the source offers it (run-reader.ts). Zero blocks become holes; other blocks are
 * hashed (keyed BLAKE3) on worker threads and only blocks the vault does not
 * hold are compressed, encrypted and appended to packs.
 *
 * Commit order makes a crash harmless: packs first, then the index, then the
 * manifest. Index objects are also written every few packs while the backup
 * runs, so a backup killed midway and started again skips the blocks it had
 * already uploaded (it still reads and hashes them).
 */
import { hostname } from "node:os";
import { BlockIndex, idKey, type IndexedPack } from "./block-index.js";
import { BLOB_OVERHEAD, ID_BYTES, isZero } from "./crypto.js";
import { blocksOfExtents, type DiskSource, type Extent } from "./disk-io.js";
import { VaultError } from "./errors.js";
import { newPointId, paths, randomId } from "./format.js";
import { blockAt, decodePointHeader, encodeManifest, HOLE, type Consistency, type DiskBlocks, type PointHeader } from "./manifest.js";
import { PackBuilder } from "./pack.js";
import { RepositoryLock } from "./repo-lock.js";
import { RunReader } from "./run-reader.js";
import type { PointContent, Vault } from "./vault.js";

/** Counters of a running backup, reported through `onProgress`. */
export interface BackupProgress {
  /** Disk being backed up. */
  readonly disk: string;
  /** Bytes this backup plans to read, over all disks begun so far (or `plannedBytes`). */
  readonly bytesToRead: number;
  readonly bytesRead: number;
  /** Bytes of blocks new to the vault (before compression). */
  readonly bytesNew: number;
  /** Bytes of blocks the vault already had. */
  readonly bytesReused: number;
  /** Bytes of all-zero blocks (stored as holes). */
  readonly bytesZero: number;
  /** Bytes taken from the parent point without reading. */
  readonly bytesFromParent: number;
  /** Bytes written to the backend (packs, after compression and encryption). */
  readonly bytesStored: number;
  readonly elapsedMs: number;
  /** Read throughput so far, bytes per second. */
  readonly throughput: number;
  /** Seconds left at the current throughput, when known. */
  readonly etaSeconds: number | undefined;
  readonly done: boolean;
}

/** Options of a backup session (one recovery point). */
export interface BackupOptions {
  /** Id of the parent point: blocks not read are taken from it. */
  readonly parent?: string | undefined;
  /** Labels of the point: plan, vm, namespace... */
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly consistency?: Consistency | undefined;
  /** The snapshot's time; defaults to now. */
  readonly time?: Date | undefined;
  /** A retain-until later than the vault lock's minimum (ignored when earlier). */
  readonly retainUntil?: Date | undefined;
  /** Total bytes the caller expects to read over all disks, for a whole-VM ETA. */
  readonly plannedBytes?: number | undefined;
  readonly onProgress?: ((progress: BackupProgress) => void) | undefined;
  /** Minimum milliseconds between progress reports (default 500). */
  readonly progressIntervalMs?: number | undefined;
  /** Blocks in flight at once; bounds memory to about 2 x this x block size (default 4 per thread, at least 8). */
  readonly concurrency?: number | undefined;
  /** Packs uploading at once (default 2); a backup holds at most this many plus one packs in memory, a pack size each. */
  readonly uploads?: number | undefined;
}

/** One disk to back up. */
export interface DiskBackup {
  /** The disk's key within the VM, e.g. "2000" (VMware device key) or "scsi0:0". */
  readonly key: string;
  readonly source: DiskSource;
  /** Changed areas since the parent's changeId, or allocated areas of a first backup; omit to read everything. */
  readonly changedExtents?: readonly Extent[] | undefined;
  /** The CBT changeId of this snapshot, stored for the next incremental. */
  readonly changeId?: string | undefined;
}

const INDEX_FLUSH_PACKS = 4;
const INDEX_FLUSH_MS = 15_000;

/** A backup in progress. Call `backupDisk` for each disk, then `commit` (or `abort`). */
export class BackupSession {
  private readonly started = Date.now();
  private readonly time: Date;
  private readonly pointId: string;
  private readonly retainUntil: Date | undefined;
  private readonly disks: DiskBlocks[] = [];
  private readonly pending = new Set<string>();
  /** The pack being filled; made on the first blob after a rotation, so a backup with nothing new makes none. */
  private pack: PackBuilder | undefined;
  /** Buffers of packs already written, for the next packs (see PackBuilder). */
  private readonly sparePacks: Buffer[] = [];
  private readonly uploads = new Set<Promise<void>>();
  /** Packs closed and not yet written: uploading, or waiting in rotatePack for a slot. */
  private closedPacks = 0;
  private unflushed: IndexedPack[] = [];
  private lastFlush = Date.now();
  private failure: unknown = undefined;
  private finished = false;
  /** Packs this point references, for lock extension at commit. */
  private readonly referencedPacks = new Set<string>();
  private readonly counters = { bytesToRead: 0, bytesRead: 0, bytesNew: 0, bytesReused: 0, bytesZero: 0, bytesFromParent: 0, bytesStored: 0 };
  private lastReport = 0;
  private currentDisk = "";

  private constructor(
    private readonly vault: Vault,
    private readonly lock: RepositoryLock,
    private readonly index: BlockIndex,
    private readonly parent: PointContent | undefined,
    private readonly options: BackupOptions,
  ) {
    this.time = options.time ?? new Date();
    this.pointId = newPointId(this.time);
    const minimum = vault.minimumRetainUntil(this.time);
    this.retainUntil = minimum && options.retainUntil && options.retainUntil > minimum ? options.retainUntil : minimum;
  }

  /** Takes a shared repository lock, loads the index and the parent. */
  static async begin(vault: Vault, options: BackupOptions = {}): Promise<BackupSession> {
    vault.startThreads();
    const lock = await RepositoryLock.acquire(vault.backend, false, "backup");
    try {
      const { index } = await vault.loadIndex();
      const parent = options.parent ? await vault.readPoint(options.parent) : undefined;
      return new BackupSession(vault, lock, index, parent, options);
    } catch (err) {
      await lock.release().catch(() => undefined);
      throw err;
    }
  }

  /** The id the point will have once committed. */
  get id(): string {
    return this.pointId;
  }

  private get blockSize(): number {
    return this.vault.config.blockSize;
  }

  /** Backs up one disk into the session. */
  async backupDisk(disk: DiskBackup): Promise<void> {
    this.assertOpen();
    if (this.disks.some((d) => d.disk.key === disk.key)) throw new VaultError("InvalidArgument", `Disk ${disk.key} is already part of this backup`);
    const size = disk.source.size;
    const bs = this.blockSize;
    const blocks = Math.ceil(size / bs);
    const ids = Buffer.alloc(blocks * ID_BYTES);
    const toRead = this.planReads(disk, blocks, ids);
    this.currentDisk = disk.key;
    this.counters.bytesToRead += toRead.reduce((sum, b) => sum + Math.min(bs, size - b * bs), 0);
    const limit = this.options.concurrency ?? Math.max(8, this.vault.pool.threads * 4);
    const zeros = Buffer.alloc(bs);
    const stats = { readBytes: 0, newBytes: 0 };
    // Runs of adjacent blocks are read as one range each when the source can.
    const reader = new RunReader(disk.source, toRead, bs);

    let next = 0;
    const worker = async (): Promise<void> => {
      // Each reader reuses one buffer for its blocks and one for their blobs:
      // they travel to a worker thread and back (transferred, not copied), and
      // a blob is copied into its pack, so a backup allocates no memory per block.
      let own: Buffer = Buffer.allocUnsafeSlow(bs);
      let blobSpace: Buffer | undefined;
      while (next < toRead.length && this.failure === undefined) {
        const index = next++;
        const b = toRead[index] ?? 0;
        const length = Math.min(bs, size - b * bs);
        const whole = length === bs;
        const view = whole ? own : own.subarray(0, length);
        await reader.read(index, view);
        this.counters.bytesRead += length;
        stats.readBytes += length;
        if (isZero(view, zeros)) {
          HOLE.copy(ids, b * ID_BYTES);
          this.counters.bytesZero += length;
        } else {
          const { id, data } = await this.vault.pool.hash(view);
          if (whole) own = data;
          id.copy(ids, b * ID_BYTES);
          const key = idKey(id);
          const known = this.index.getByKey(key);
          if (known) {
            this.referencedPacks.add(known.pack);
            this.counters.bytesReused += length;
          } else if (this.pending.has(key)) {
            this.counters.bytesReused += length;
          } else {
            this.pending.add(key);
            const { blob, input, space } = await this.vault.pool.seal(id, data, blobSpace ?? Buffer.allocUnsafeSlow(bs + BLOB_OVERHEAD));
            if (whole) own = input;
            this.counters.bytesNew += length;
            stats.newBytes += length;
            // The blob is a view of this reader's `space`, which it does not touch until append has copied it.
            await this.append(id, blob, length);
            blobSpace = space;
          }
        }
        this.report(false);
      }
    };
    // Each reader records the first failure and the others stop after their current block,
    // so nothing is still appending to packs once this returns.
    const guarded = (): Promise<void> => worker().catch((err: unknown) => { this.failure ??= err; });
    await Promise.all(Array.from({ length: Math.min(limit, toRead.length) }, guarded));
    await reader.close();
    if (this.failure !== undefined) throw new Error(`Backup of disk ${disk.key} failed`, { cause: this.failure });

    this.disks.push({
      disk: { key: disk.key, size, changeId: disk.changeId, blocks, allocatedBytes: this.allocatedBytes(ids, size), readBytes: stats.readBytes, newBytes: stats.newBytes },
      ids,
    });
    this.report(true);
  }

  /**
   * Adds a disk whose block ids this vault already holds, without reading or
   * storing anything: a DR seed from a point of the same repository. Every
   * non-hole id must be in the index (NotFound otherwise); its pack counts as
   * referenced, so a locked vault extends its retention at commit as for
   * blocks a backup reused.
   */
  addDiskBlocks(disk: { readonly key: string; readonly size: number; readonly ids: Buffer; readonly changeId?: string | undefined }): void {
    this.assertOpen();
    if (this.disks.some((d) => d.disk.key === disk.key)) throw new VaultError("InvalidArgument", `Disk ${disk.key} is already part of this backup`);
    const blocks = Math.ceil(disk.size / this.blockSize);
    if (disk.ids.length !== blocks * ID_BYTES) throw new VaultError("InvalidArgument", `Disk ${disk.key} of ${disk.size} bytes has ${blocks} blocks, but ${disk.ids.length / ID_BYTES} block ids were given`);
    for (let b = 0; b < blocks; b++) {
      const id = blockAt(disk.ids, b);
      if (id.equals(HOLE)) continue;
      const known = this.index.get(id);
      if (!known) throw new VaultError("NotFound", `Block ${b} of disk ${disk.key} (id ${id.toString("hex")}) is in no pack of the index; the vault cannot reuse it`);
      this.referencedPacks.add(known.pack);
    }
    this.currentDisk = disk.key;
    this.disks.push({
      disk: { key: disk.key, size: disk.size, changeId: disk.changeId, blocks, allocatedBytes: this.allocatedBytes(disk.ids, disk.size), readBytes: 0, newBytes: 0 },
      ids: Buffer.from(disk.ids),
    });
    this.report(true);
  }

  /** Bytes in the non-hole blocks of a disk's block list. */
  private allocatedBytes(ids: Buffer, size: number): number {
    const bs = this.blockSize;
    let allocated = 0;
    for (let b = 0; b * ID_BYTES < ids.length; b++) if (!blockAt(ids, b).equals(HOLE)) allocated += Math.min(bs, size - b * bs);
    return allocated;
  }

  /**
   * Decides which blocks to read and fills the others from the parent.
   * Parent blocks the index no longer has are read again rather than trusted.
   */
  private planReads(disk: DiskBackup, blocks: number, ids: Buffer): number[] {
    const bs = this.blockSize;
    const size = disk.source.size;
    const parentIds = this.parent?.blockLists.get(disk.key);
    const parentDisk = this.parent?.header.disks.find((d) => d.key === disk.key);
    if (!disk.changedExtents) return Array.from({ length: blocks }, (_, i) => i);
    const changed = blocksOfExtents(disk.changedExtents, bs, size);
    if (!parentIds || !parentDisk) return changed;
    const changedSet = new Set(changed);
    // A parent's last, partial block is incomplete if the disk grew: read it again.
    const parentWhole = parentDisk.size === size ? parentDisk.blocks : Math.floor(parentDisk.size / bs);
    const reads: number[] = [];
    for (let b = 0; b < blocks; b++) {
      if (changedSet.has(b)) {
        reads.push(b);
        continue;
      }
      if (b >= parentWhole) continue; // Beyond the parent's disk and not changed: a hole.
      const id = blockAt(parentIds, b);
      if (id.equals(HOLE)) {
        this.counters.bytesFromParent += Math.min(bs, size - b * bs);
        continue;
      }
      const known = this.index.get(id);
      if (!known) {
        reads.push(b);
        continue;
      }
      id.copy(ids, b * ID_BYTES);
      this.referencedPacks.add(known.pack);
      this.counters.bytesFromParent += Math.min(bs, size - b * bs);
    }
    return reads;
  }

  /** Packs uploading at once (at least one: with none, a full pack would wait for a slot forever). */
  private get maxUploads(): number {
    return Math.max(1, this.options.uploads ?? 2);
  }

  /**
   * Copies a blob into the pack being filled. A new pack is started only
   * while fewer than `uploads + 1` closed packs are held (uploading, or
   * waiting for an upload slot in rotatePack), so a backup holds at most
   * `uploads + 1` packs' memory however slow the vault: without this wait,
   * every reader that found the pack full and the slots taken went on
   * filling new packs, and a backup into a slow vault queued one pack after
   * another in memory.
   */
  private async append(id: Buffer, blob: Buffer, rawLength: number): Promise<void> {
    while (!this.pack && this.closedPacks > this.maxUploads) await Promise.race(this.uploads);
    this.pack ??= this.newPack();
    this.pack.add(id, blob, rawLength);
    if (this.pack.bytes >= this.vault.config.packSize) await this.rotatePack();
  }

  /** Closes the current pack and starts its upload; waits while too many uploads run. */
  private async rotatePack(): Promise<void> {
    const pack = this.pack;
    if (!pack || pack.count === 0) return;
    this.pack = undefined;
    this.closedPacks++;
    while (this.uploads.size >= this.maxUploads) await Promise.race(this.uploads);
    const upload = this.upload(pack).catch((err: unknown) => { this.failure ??= err; });
    this.uploads.add(upload);
    void upload.finally(() => {
      this.uploads.delete(upload);
      this.closedPacks--;
    });
  }

  /** A pack to fill, in the buffer of one already written when there is one (see Vault.newPackBuffer). */
  private newPack(): PackBuilder {
    return new PackBuilder(this.sparePacks.pop() ?? this.vault.newPackBuffer());
  }

  private async upload(pack: PackBuilder): Promise<void> {
    const packId = randomId();
    const chunks = pack.finish(this.vault.keys);
    const retention = this.retainUntil ? this.vault.packRetentionFor(this.retainUntil) : undefined;
    await this.vault.backend.put(paths.pack(packId), chunks, { retention });
    // One per upload: a written pack's buffer is what the next pack fills.
    if (this.sparePacks.length < this.maxUploads) this.sparePacks.push(pack.buffer);
    const stored = chunks.reduce((sum, c) => sum + c.length, 0);
    this.counters.bytesStored += stored;
    const record: IndexedPack = { pack: packId, lockedUntil: retention?.until.getTime() ?? 0, entries: pack.entries };
    this.index.add(record);
    this.referencedPacks.add(packId);
    for (const e of pack.entries) this.pending.delete(idKey(e.id));
    this.unflushed.push(record);
    if (this.unflushed.length >= INDEX_FLUSH_PACKS || Date.now() - this.lastFlush > INDEX_FLUSH_MS) await this.flushIndex();
  }

  private async flushIndex(): Promise<void> {
    if (this.unflushed.length === 0) return;
    const records = this.unflushed;
    this.unflushed = [];
    this.lastFlush = Date.now();
    await this.vault.writeIndex(records);
  }

  /**
   * Uploads what is left, extends the lock of reused packs, writes the index
   * and finally the manifest. Returns the point's header. `labels` are added
   * to the session's: what is known only once the disks are done.
   */
  async commit(labels: Readonly<Record<string, string>> = {}): Promise<PointHeader> {
    this.assertOpen();
    if (this.disks.length === 0) throw new VaultError("InvalidArgument", "A recovery point needs at least one disk");
    try {
      await this.rotatePack();
      while (this.uploads.size > 0) await Promise.race(this.uploads);
      if (this.failure !== undefined) throw this.failure instanceof Error ? this.failure : new Error("A pack upload failed", { cause: this.failure });
      await this.extendLocks();
      await this.flushIndex();
      const header: Omit<PointHeader, "disks"> = {
        id: this.pointId,
        time: this.time.toISOString(),
        committedAt: new Date().toISOString(),
        parent: this.parent?.header.id,
        labels: { ...(this.options.labels ?? {}), ...labels },
        consistency: this.options.consistency ?? "crash",
        retainUntil: this.retainUntil?.toISOString(),
        blockSize: this.blockSize,
        storedBytes: this.counters.bytesStored,
        host: hostname(),
      };
      const manifest = encodeManifest(this.vault.keys, header, this.disks);
      await this.vault.backend.put(paths.manifest(this.pointId), manifest, { retention: this.vault.retentionFor(this.retainUntil) });
      this.report(true, true);
      return decodePointHeader(this.vault.keys, manifest, this.pointId);
    } catch (err) {
      throw new Error(`Could not commit recovery point ${this.pointId}`, { cause: err });
    } finally {
      await this.close();
    }
  }

  /**
   * Abandons the backup. Blocks already sealed are still uploaded and
   * indexed (best effort), so that a retry reuses them; prune removes them
   * if no later point does.
   */
  async abort(): Promise<void> {
    if (this.finished) return;
    this.failure ??= new Error("aborted");
    await this.rotatePack().catch(() => undefined);
    await Promise.allSettled([...this.uploads]);
    await this.flushIndex().catch(() => undefined);
    await this.close();
  }

  /**
   * Under a lock, every pack the point uses, and the config and key slots
   * that reading it needs, must stay locked at least as long as the point:
   * packs shared with older points get their retention extended, and the
   * new retain-until is recorded in the index.
   */
  private async extendLocks(): Promise<void> {
    const until = this.retainUntil;
    if (!until) return;
    const retention = this.vault.packRetentionFor(until);
    if (!retention) return;
    await this.vault.retainReaderObjects(until);
    const stale = [...this.referencedPacks].filter((p) => (this.index.packs.get(p)?.lockedUntil ?? 0) < until.getTime());
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(8, stale.length) }, async () => {
      while (next < stale.length) {
        const pack = stale[next++] ?? "";
        await this.vault.backend.extendRetention(paths.pack(pack), retention);
        const record: IndexedPack = { pack, lockedUntil: retention.until.getTime(), entries: [] };
        this.index.add(record);
        this.unflushed.push(record);
      }
    }));
  }

  private async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.sparePacks.length = 0;
    await this.lock.release().catch(() => undefined);
  }

  private assertOpen(): void {
    if (this.finished) throw new VaultError("InvalidArgument", `Backup session ${this.pointId} is already committed or aborted`);
  }

  private report(force: boolean, done = false): void {
    const onProgress = this.options.onProgress;
    if (!onProgress) return;
    const now = Date.now();
    if (!force && now - this.lastReport < (this.options.progressIntervalMs ?? 500)) return;
    this.lastReport = now;
    const elapsedMs = now - this.started;
    const throughput = elapsedMs > 0 ? (this.counters.bytesRead * 1000) / elapsedMs : 0;
    const total = Math.max(this.options.plannedBytes ?? 0, this.counters.bytesToRead);
    const left = Math.max(0, total - this.counters.bytesRead);
    onProgress({
      disk: this.currentDisk,
      ...this.counters,
      bytesToRead: total,
      elapsedMs,
      throughput,
      etaSeconds: throughput > 0 ? left / throughput : undefined,
      done,
    });
  }
}

/** Backs up disks into one point in one call: begin, each disk, commit; aborts on failure. */
export async function backup(vault: Vault, disks: readonly DiskBackup[], options: BackupOptions = {}): Promise<PointHeader> {
  const session = await BackupSession.begin(vault, options);
  try {
    for (const disk of disks) await session.backupDisk(disk);
    return await session.commit();
  } catch (err) {
    await session.abort();
    throw err;
  }
}
