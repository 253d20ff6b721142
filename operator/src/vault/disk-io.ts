/**
 * Reading disk images and writing restored ones: regular files and block
 * devices. A backup worker that reads a VM disk some other way (a datastore
 * HTTP range reader, NBD) implements DiskSource itself.
 */
import { open, stat, readFile, type FileHandle } from "node:fs/promises";
import type { EncodedGrains } from "../image/vmdk-grains.js";
import { VaultError } from "./errors.js";
import type { RunEncoding } from "./worker-pool.js";

/** A disk to back up: its size and positional reads. */
export interface DiskSource {
  readonly size: number;
  /** Fills `buffer` with the bytes at `offset` (short only at the end of the disk). */
  readInto(buffer: Buffer, offset: number): Promise<void>;
  /**
   * Optional: the bytes of [offset, offset + length) as one sequential
   * transfer, in chunks of any size, for sources where a long read costs far
   * less than many short ones (an HTTP range request: one request instead of
   * one per block, for the server and for this process). A backup reads each
   * run of adjacent blocks through it when present. The source retries a
   * broken transfer itself, from where it broke; it yields exactly `length`
   * bytes or throws. Leaving the iteration early ends the transfer.
   */
  readRange?(offset: number, length: number): AsyncIterable<Buffer>;
  close(): Promise<void>;
}

/** Where a restored disk is written. */
export interface DiskTarget {
  /** True when unwritten ranges already read as zeros (a fresh sparse file), so holes need no writes. */
  readonly zeroed: boolean;
  /**
   * A file descriptor that worker threads may write to directly with
   * positional writes, sparing the main thread the decoded data; absent for
   * targets that are not files (a network stream, say), which get write().
   */
  readonly fd?: number | undefined;
  /** For a target without `fd`: what the vault's threads encode each write as, beside its bytes (see RunEncoding). */
  readonly encoding?: RunEncoding | undefined;
  /** Writes `buffer` at `offset`; `grains` is its encoding when the target asked for one. */
  write(buffer: Buffer, offset: number, grains?: EncodedGrains): Promise<void>;
  close(): Promise<void>;
  /**
   * Stops a target whose writes can wait on one another (a stream takes the
   * disk in order, so a write ahead of it waits for the bytes before it):
   * when the restore fails, waiting writes must reject, or the readers
   * blocked in them would never finish.
   */
  fail?(err: unknown): void;
}

/** Size of a block device from sysfs (stat reports 0 for devices). */
async function blockDeviceSize(rdev: number, path: string): Promise<number> {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | ((Math.floor(rdev / 4096) & 0xfff00));
  try {
    const sectors = Number((await readFile(`/sys/dev/block/${major}:${minor}/size`, "utf8")).trim());
    return sectors * 512;
  } catch (err) {
    throw new Error(`Could not read the size of block device ${path} from /sys/dev/block/${major}:${minor}/size`, { cause: err });
  }
}

async function readFully(fh: FileHandle, buffer: Buffer, offset: number, path: string): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesRead } = await fh.read(buffer, done, buffer.length - done, offset + done);
    if (bytesRead === 0) throw new VaultError("InvalidArgument", `${path} ended at byte ${offset + done} while reading ${buffer.length} bytes at ${offset}; did the disk shrink during the backup?`);
    done += bytesRead;
  }
}

/** Opens a file or block device for reading. */
export async function openDiskSource(path: string): Promise<DiskSource> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    throw new VaultError("InvalidArgument", `Could not open disk image ${path}; check the path and permissions`, { cause: err });
  }
  const st = await fh.stat();
  const size = st.isBlockDevice() ? await blockDeviceSize(st.rdev, path) : st.size;
  return {
    size,
    readInto: (buffer, offset) => readFully(fh, buffer, offset, path),
    close: () => fh.close(),
  };
}

/**
 * Opens a restore target. A regular file (new or existing) is truncated to
 * the disk size first, so it is sparse and zeroed; a block device must be at
 * least the disk's size and gets every byte written, holes included.
 */
export async function openDiskTarget(path: string, size: number): Promise<DiskTarget> {
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isBlockDevice()) {
    const deviceSize = await blockDeviceSize(existing.rdev, path);
    if (deviceSize < size) throw new VaultError("InvalidArgument", `Block device ${path} has ${deviceSize} bytes; the disk needs ${size}`);
    return targetOf(await open(path, "r+"), false);
  }
  let fh: FileHandle;
  try {
    fh = await open(path, existing ? "r+" : "w+");
    await fh.truncate(0);
    await fh.truncate(size);
  } catch (err) {
    throw new VaultError("InvalidArgument", `Could not create restore target ${path}; check the directory and permissions`, { cause: err });
  }
  return targetOf(fh, true);
}

/**
 * A file or block device as a restore target. Closing it waits until what
 * was written is on stable storage: only then is a restore done. The kernel
 * syncs a block device at its last close by itself, but when something else
 * holds it open too (kubelet may hold a raw block volume through a loop
 * device), ours is not the last, and without the fsync the blocks would sit
 * in the page cache for half a minute after the restore reported success.
 */
function targetOf(fh: FileHandle, zeroed: boolean): DiskTarget {
  return {
    zeroed,
    fd: fh.fd,
    write: (buf, offset) => writeFully(fh, buf, offset),
    close: async () => {
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    },
  };
}

async function writeFully(fh: FileHandle, buffer: Buffer, offset: number): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesWritten } = await fh.write(buffer, done, buffer.length - done, offset + done);
    done += bytesWritten;
  }
}

/** A byte range of a disk, e.g. one of CBT's changed areas. */
export interface Extent {
  readonly offset: number;
  readonly length: number;
}

/** Block numbers touched by extents, sorted and unique; throws InvalidArgument on extents outside the disk. */
export function blocksOfExtents(extents: readonly Extent[], blockSize: number, diskSize: number): number[] {
  const blocks = new Set<number>();
  for (const e of extents) {
    if (!Number.isSafeInteger(e.offset) || !Number.isSafeInteger(e.length) || e.offset < 0 || e.length < 0 || e.offset + e.length > diskSize) {
      throw new VaultError("InvalidArgument", `Changed extent {offset: ${e.offset}, length: ${e.length}} lies outside the disk of ${diskSize} bytes`);
    }
    if (e.length === 0) continue;
    const first = Math.floor(e.offset / blockSize);
    const last = Math.floor((e.offset + e.length - 1) / blockSize);
    for (let b = first; b <= last; b++) blocks.add(b);
  }
  return [...blocks].sort((a, b) => a - b);
}

/** Adjacent blocks read as one range: `count` entries of the read list from `first`. */
export interface BlockRun {
  /** Index of the run's first block in the list of blocks to read. */
  readonly first: number;
  readonly count: number;
  readonly offset: number;
  readonly length: number;
}

/**
 * Groups a sorted list of blocks into runs of adjacent ones, each at most
 * `maxBytes` long (at least one block): the ranges a backup reads through
 * DiskSource.readRange. The last block is clipped at the disk's end.
 */
export function runsOfBlocks(blocks: readonly number[], blockSize: number, diskSize: number, maxBytes: number): BlockRun[] {
  const maxCount = Math.max(1, Math.floor(maxBytes / blockSize));
  const runs: BlockRun[] = [];
  let first = 0;
  for (let i = 1; i <= blocks.length; i++) {
    const start = blocks[first] ?? 0;
    const adjacent = i < blocks.length && blocks[i] === (blocks[i - 1] ?? 0) + 1 && i - first < maxCount;
    if (adjacent) continue;
    if (first < blocks.length) {
      const offset = start * blockSize;
      runs.push({ first, count: i - first, offset, length: Math.min((start + i - first) * blockSize, diskSize) - offset });
    }
    first = i;
  }
  return runs;
}
