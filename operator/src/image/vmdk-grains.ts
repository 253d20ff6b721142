/**
 * The grains of a stream-optimized VMDK (vmdk.ts): each 64 KiB of the disk
 * that holds a non-zero byte becomes a grain marker (LBA, compressed size)
 * and an independent zlib stream, padded to whole sectors.
 *
 * Apart from the writer so that the vault's threads can encode a disk's
 * grains where they decode its blocks (`encodeGrains`, synchronous, no state
 * between calls): a restore to a new VM otherwise decodes on those threads,
 * then checks, deflates and frames every grain from the main thread, the
 * one that also carries the upload. vmdk.ts encodes on the main thread (with
 * deflate on libuv's pool) the pieces that come without grains; both make
 * the same choices, so the same grains (zlib cuts a stored grain into blocks
 * by the room left in its output buffer, so their bytes may differ).
 */
import { constants as zlibConstants, deflateSync } from "node:zlib";
import { KiB, roundUp } from "./layout.js";
import { isAllZero } from "./zeros.js";

export const SECTOR = 512;
export const VMDK_GRAIN_SIZE = 64 * KiB;
/** zlib's level for grains that look compressible: the fastest. */
export const GRAIN_DEFLATE_LEVEL = zlibConstants.Z_BEST_SPEED;
/** Stored blocks, still in zlib format: for grains that look random (see `looksIncompressible`). */
export const GRAIN_STORE_LEVEL = zlibConstants.Z_NO_COMPRESSION;
/**
 * zlib's output buffer for a grain: room for all of it (zlib's bound for
 * 64 KiB at these settings is 65,569 bytes), so that `encodeGrains` gets it
 * in one piece, and no more: the synchronous API allocates one for every
 * grain. vmdk.ts's reused contexts take the same size, but go on where the
 * last grain's output ended, so theirs may come in two chunks.
 */
export const GRAIN_OUTPUT_CHUNK = VMDK_GRAIN_SIZE + 1024;
/** Bytes at the start of a grain that `looksIncompressible` looks at. */
const ENTROPY_SAMPLE = 8 * KiB;
/** Bits per byte above which a sample counts as random: random 8 KiB measure ~7.98, machine code ~6, text ~5. */
const RANDOM_ENTROPY = 7.9;
/** Bytes in front of a grain's zlib stream: its LBA (8) and the stream's length (4). */
const GRAIN_MARKER_BYTES = 12;

/**
 * True when the grain's first bytes look random (Shannon entropy of their
 * byte counts above RANDOM_ENTROPY): encrypted or already-compressed data.
 * Deflate at level 1 runs at some 30 MB/s a core on such data and makes it a
 * little larger, so those grains are stored instead (level 0, ~20 times
 * faster). A grain whose random-looking start hides compressible bytes is
 * stored too: the price of looking at 8 KiB instead of 64.
 */
export function looksIncompressible(grain: Uint8Array): boolean {
  const sample = grain.subarray(0, ENTROPY_SAMPLE);
  const counts = new Uint32Array(256);
  for (let i = 0; i < sample.length; i++) {
    const byte = sample[i] ?? 0;
    counts[byte] = (counts[byte] ?? 0) + 1;
  }
  let bits = 0;
  for (const count of counts) {
    if (count === 0) continue;
    const p = count / sample.length;
    bits -= p * Math.log2(p);
  }
  return bits > RANDOM_ENTROPY;
}

/** Bytes a grain's record takes: its marker and `streamLength` bytes of zlib stream, padded to a sector. */
export function grainRecordLength(streamLength: number): number {
  return roundUp(GRAIN_MARKER_BYTES + streamLength, SECTOR);
}

/**
 * How a grain is encoded: undefined for an all-zero grain (left out), else
 * the zlib level, stored for one that looks random. Both encoders (vmdk.ts's
 * and `encodeGrains`) ask here, so they make the same grains.
 */
export function grainLevel(grain: Buffer): number | undefined {
  if (isAllZero(grain)) return undefined;
  return looksIncompressible(grain) ? GRAIN_STORE_LEVEL : GRAIN_DEFLATE_LEVEL;
}

/** A grain marker and the grain's compressed bytes (one buffer, or the chunks zlib gave), padded to whole sectors. */
export function vmdkGrain(lba: number, compressed: Buffer | readonly Buffer[]): Buffer {
  const parts = Buffer.isBuffer(compressed) ? [compressed] : compressed;
  const g = Buffer.allocUnsafe(grainRecordLength(parts.reduce((n, p) => n + p.length, 0)));
  writeGrainRecord(g, 0, lba, parts);
  return g;
}

/** Writes a grain's record (marker, the stream's parts, zero padding) at `at` in `out`; returns where it ends. */
function writeGrainRecord(out: Buffer, at: number, lba: number, parts: readonly Buffer[]): number {
  const length = parts.reduce((n, p) => n + p.length, 0);
  out.writeUInt32LE(lba >>> 0, at);
  out.writeUInt32LE(Math.floor(lba / 0x100000000), at + 4);
  out.writeUInt32LE(length, at + 8);
  let written = at + GRAIN_MARKER_BYTES;
  for (const p of parts) written += p.copy(out, written);
  const end = at + grainRecordLength(length);
  out.fill(0, written, end);
  return end;
}

/**
 * The grains of a run of the disk, encoded ahead: grain i of the run (the
 * 64 KiB at the run's offset + i × 64 KiB) is `records` from `ends[i - 1]`
 * (0 for the first) to `ends[i]`, marker and padding included; an empty
 * record is an all-zero grain, which the VMDK leaves out.
 */
export interface EncodedGrains {
  readonly records: Buffer;
  readonly ends: Uint32Array;
}

/**
 * Encodes the grains of `data`, the disk's bytes from `offset` (a multiple
 * of the grain size): each non-zero grain deflated (or stored, when it looks
 * random) into its own zlib stream behind its marker. A run that ends inside
 * a grain (the disk's last block) is encoded as if zeros followed, as the
 * writer reads past the disk's end. Synchronous, for the vault's threads;
 * `records` is a buffer of its own, exactly as long as the records.
 */
export function encodeGrains(data: Uint8Array, offset: number): EncodedGrains {
  if (offset % VMDK_GRAIN_SIZE !== 0) throw new RangeError(`Grains start every ${VMDK_GRAIN_SIZE} bytes; ${offset} is not a grain's start`);
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const count = Math.ceil(bytes.length / VMDK_GRAIN_SIZE);
  const streams: { lba: number; stream: Buffer }[] = [];
  const ends = new Uint32Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    let grain = bytes.subarray(i * VMDK_GRAIN_SIZE, (i + 1) * VMDK_GRAIN_SIZE);
    if (grain.length < VMDK_GRAIN_SIZE) grain = Buffer.concat([grain, Buffer.alloc(VMDK_GRAIN_SIZE - grain.length)]);
    const level = grainLevel(grain);
    if (level !== undefined) {
      const stream = deflateSync(grain, { level, chunkSize: GRAIN_OUTPUT_CHUNK });
      streams.push({ lba: (offset + i * VMDK_GRAIN_SIZE) / SECTOR, stream });
      at += grainRecordLength(stream.length);
    }
    ends[i] = at;
  }
  // One buffer of the records' size (not from Node's shared pool: it is transferred between threads).
  const records = Buffer.allocUnsafeSlow(at);
  let end = 0;
  for (const { lba, stream } of streams) end = writeGrainRecord(records, end, lba, [stream]);
  return { records, ends };
}

/**
 * Checks that `grains` can be the encoding of `length` bytes from `offset`
 * (one record end per grain, in order, whole sectors, the last at the
 * records' end): a writer that took a wrong one would leave grains out or
 * put them in the wrong place, silently. Returns a message, or undefined.
 */
export function encodedGrainsProblem(grains: EncodedGrains, offset: number, length: number): string | undefined {
  const count = Math.ceil(length / VMDK_GRAIN_SIZE);
  if (grains.ends.length !== count) return `${grains.ends.length} encoded grains for the ${count} grains of its ${length} bytes`;
  let previous = 0;
  for (const end of grains.ends) {
    if (end < previous || end % SECTOR !== 0) return `grain record ends that do not rise by whole sectors (${previous}, then ${end})`;
    previous = end;
  }
  if (previous !== grains.records.length) return `records of ${grains.records.length} bytes where the grains end at ${previous}`;
  if (offset % VMDK_GRAIN_SIZE !== 0) return `encoded grains that start at ${offset}, not on a grain`;
  return undefined;
}
