/**
 * Restore: writes one disk of a point to a target, reading runs of adjacent
 * blobs with one ranged read, and verifying every block (AES-GCM
 * authentication, then keyed BLAKE3 against its id) before it is written.
 * Holes are skipped on a zeroed target and written as zeros on a block
 * device.
 *
 * A target with positional writes (a file or a block device) gets each
 * distinct block read, decrypted and verified once and written wherever the
 * disk holds it, the vault's reads going pack by pack; a stream target (an
 * upload) gets the disk in order of position, repeated blocks read again.
 */
import type { EncodedGrains } from "../image/vmdk-grains.js";
import { BlobError } from "./crypto.js";
import { RunError, type RunBlob, type RunWrite } from "./worker-pool.js";
import { idKey, type BlockIndex, type BlockLocation } from "./block-index.js";
import type { DiskTarget } from "./disk-io.js";
import { VaultError } from "./errors.js";
import { paths } from "./format.js";
import { blockAt, HOLE, type PointDisk } from "./manifest.js";
import { RepositoryLock } from "./repo-lock.js";
import type { Vault } from "./vault.js";

/** Progress of a restore. */
export interface RestoreProgress {
  readonly disk: string;
  readonly bytesTotal: number;
  readonly bytesDone: number;
  readonly bytesFetched: number;
  readonly elapsedMs: number;
  readonly throughput: number;
  readonly etaSeconds: number | undefined;
  readonly done: boolean;
}

export interface RestoreOptions {
  readonly onProgress?: ((progress: RestoreProgress) => void) | undefined;
  readonly progressIntervalMs?: number | undefined;
  /** Ranged reads in flight (default 4); each is at most `maxReadBytes`. */
  readonly concurrency?: number | undefined;
  /** Largest single ranged read (default 8 MiB). */
  readonly maxReadBytes?: number | undefined;
  /** An index already loaded (saves loading it per disk). */
  readonly index?: BlockIndex | undefined;
}

/** One blob to read and open, and the disk blocks that hold its content. */
interface PlannedBlob {
  readonly id: Buffer;
  readonly loc: BlockLocation;
  /** Ascending. */
  readonly blocks: number[];
}

/** Blobs adjacent in one pack, read with one ranged read. */
interface Run {
  readonly pack: string;
  readonly offset: number;
  length: number;
  readonly blobs: PlannedBlob[];
}

/** Appends `blob` to the last run when it follows it in the same pack within `maxRead`, else starts a run. */
function addToRuns(runs: Run[], blob: PlannedBlob, maxRead: number): void {
  const last = runs.at(-1);
  if (last?.pack === blob.loc.pack && last.offset + last.length === blob.loc.offset && last.length + blob.loc.length <= maxRead) {
    last.length += blob.loc.length;
    last.blobs.push(blob);
  } else {
    runs.push({ pack: blob.loc.pack, offset: blob.loc.offset, length: blob.loc.length, blobs: [blob] });
  }
}

/**
 * Plans a disk's reads. `inOrder` (for stream targets): one blob per block,
 * in order of position. Otherwise one blob per distinct block, grouped by
 * pack (packs in the order the disk first needs them, blobs by offset), so
 * that a block the disk holds many times is read and verified once.
 */
function planRuns(ids: Buffer, disk: PointDisk, index: BlockIndex, pointId: string, maxRead: number, inOrder: boolean): { runs: Run[]; holes: number[] } {
  const holes: number[] = [];
  const planned: PlannedBlob[] = [];
  const byId = new Map<string, PlannedBlob>();
  for (let b = 0; b < disk.blocks; b++) {
    const id = blockAt(ids, b);
    if (id.equals(HOLE)) {
      holes.push(b);
      continue;
    }
    const key = inOrder ? undefined : idKey(id);
    const seen = key === undefined ? undefined : byId.get(key);
    if (seen) {
      seen.blocks.push(b);
      continue;
    }
    const loc = index.get(id);
    if (!loc) throw new VaultError("Corrupt", `Block ${b} of disk ${disk.key} in point ${pointId} (id ${id.toString("hex")}) is in no pack of the index; \`lifeboat vault check\` tells what is missing, and \`lifeboat vault repair-index\` rebuilds an index whose objects were lost`);
    const blob = { id, loc, blocks: [b] };
    planned.push(blob);
    if (key !== undefined) byId.set(key, blob);
  }
  const runs: Run[] = [];
  if (inOrder) {
    for (const blob of planned) addToRuns(runs, blob, maxRead);
    return { runs, holes };
  }
  const byPack = new Map<string, PlannedBlob[]>();
  for (const blob of planned) {
    const blobs = byPack.get(blob.loc.pack);
    if (blobs) blobs.push(blob);
    else byPack.set(blob.loc.pack, [blob]);
  }
  for (const blobs of byPack.values()) {
    blobs.sort((x, y) => x.loc.offset - y.loc.offset);
    for (const blob of blobs) addToRuns(runs, blob, maxRead);
  }
  return { runs, holes };
}

/**
 * Restores disk `diskKey` of point `pointId` to `target` under a shared
 * repository lock (so prune cannot remove packs meanwhile). Returns the disk size.
 */
export async function restoreDisk(vault: Vault, pointId: string, diskKey: string, target: DiskTarget, options: RestoreOptions = {}): Promise<number> {
  vault.startThreads();
  const lock = await RepositoryLock.acquire(vault.backend, false, "restore");
  try {
    return await restoreLocked(vault, pointId, diskKey, target, options);
  } finally {
    await lock.release().catch(() => undefined);
  }
}

async function restoreLocked(vault: Vault, pointId: string, diskKey: string, target: DiskTarget, options: RestoreOptions): Promise<number> {
  const point = await vault.readPoint(pointId);
  const disk = point.header.disks.find((d) => d.key === diskKey);
  const ids = point.blockLists.get(diskKey);
  if (!disk || !ids) {
    throw new VaultError("NotFound", `Point ${pointId} has no disk ${diskKey}; it has ${point.header.disks.map((d) => d.key).join(", ")}`);
  }
  const index = options.index ?? (await vault.loadIndex()).index;
  const bs = point.header.blockSize;
  const { runs, holes } = planRuns(ids, disk, index, pointId, options.maxReadBytes ?? 8 * 1024 * 1024, target.fd === undefined);
  const started = Date.now();
  const progress = { bytesDone: 0, bytesFetched: 0 };
  let lastReport = 0;
  const report = (done: boolean): void => {
    if (!options.onProgress) return;
    const now = Date.now();
    if (!done && now - lastReport < (options.progressIntervalMs ?? 500)) return;
    lastReport = now;
    const elapsedMs = now - started;
    const throughput = elapsedMs > 0 ? (progress.bytesDone * 1000) / elapsedMs : 0;
    options.onProgress({
      disk: diskKey,
      bytesTotal: disk.size,
      ...progress,
      elapsedMs,
      throughput,
      etaSeconds: throughput > 0 ? (disk.size - progress.bytesDone) / throughput : undefined,
      done,
    });
  };

  const blockLength = (b: number): number => Math.min(bs, disk.size - b * bs);
  if (!target.zeroed) {
    const zeros = Buffer.alloc(bs);
    for (const b of holes) await target.write(zeros.subarray(0, blockLength(b)), b * bs);
  }
  for (const b of holes) progress.bytesDone += blockLength(b);

  let next = 0;
  let failure: unknown = undefined;
  const largestRun = runs.reduce((most, r) => Math.max(most, r.length), 0);
  const worker = async (): Promise<void> => {
    // Each reader reads its runs into one buffer, which goes to a worker
    // thread and comes back (transferred, not copied): fresh megabytes per
    // read cost page faults and set off V8's major garbage collections. A
    // backend that reads into buffers of its own (S3) does not get one.
    let space: Buffer | undefined = Buffer.allocUnsafeSlow(largestRun);
    while (next < runs.length && failure === undefined) {
      const run = runs[next++];
      if (!run) break;
      const bytes = await vault.backend.getRange(paths.pack(run.pack), run.offset, run.length, space);
      // Read into the start of `space` (the whole of it travels; the blobs say where they are),
      // or into the backend's own buffer, and then this reader stops offering one.
      if (space && (bytes.buffer !== space.buffer || bytes.byteOffset !== space.byteOffset)) space = undefined;
      progress.bytesFetched += bytes.length;
      // Decoded blobs lie back to back; each is written to every block that holds it,
      // and spans adjacent both in the decoded run and on the disk become one write.
      const blobs: RunBlob[] = [];
      const writes: RunWrite[] = [];
      let decodedAt = 0;
      let restored = 0;
      for (const { id, loc, blocks } of run.blobs) {
        const rawLength = blockLength(blocks[0] ?? 0);
        blobs.push({ id, start: loc.offset - run.offset, length: loc.length, rawLength });
        for (const block of blocks) {
          const last = writes.at(-1);
          if (last && last.start + last.length === decodedAt && last.position + last.length === block * bs) writes[writes.length - 1] = { ...last, length: last.length + rawLength };
          else writes.push({ start: decodedAt, length: rawLength, position: block * bs });
          restored += rawLength;
        }
        decodedAt += rawLength;
      }
      let decoded: Buffer | undefined;
      let grains: EncodedGrains[] | undefined;
      try {
        const opened = await vault.pool.openRun(space ?? bytes, blobs, target.fd, writes, target.encoding);
        decoded = opened.decoded;
        grains = opened.grains;
        if (space) space = opened.run;
      } catch (err) {
        if (err instanceof BlobError) {
          const bad = run.blobs[err instanceof RunError ? err.index : 0];
          throw new VaultError("Corrupt", `Block ${bad?.blocks[0] ?? "?"} of disk ${diskKey} (id ${bad?.id.toString("hex") ?? "?"}) in pack ${run.pack} at offset ${bad?.loc.offset ?? "?"} does not verify: ${err.message}`, { cause: err });
        }
        throw err;
      }
      if (decoded) for (const [i, w] of writes.entries()) await target.write(decoded.subarray(w.start, w.start + w.length), w.position, grains?.[i]);
      progress.bytesDone += restored;
      report(false);
    }
  };
  // The first failure stops the other readers after their current run, and the
  // restore returns only once none is left: nothing reaches the target afterwards.
  const guarded = (): Promise<void> => worker().catch((err: unknown) => {
    if (failure !== undefined) return;
    failure = err;
    // A stream target's later writes wait for the bytes that will now never come: stop it.
    target.fail?.(err);
  });
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, runs.length) }, guarded));
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error(`Restore of disk ${diskKey} failed`, { cause: failure });
  report(true);
  return disk.size;
}
