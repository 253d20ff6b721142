/**
 * Where a QCOW2 image keeps its data: the allocated, non-zero clusters of the
 * guest disk and the file offsets that hold them, read from the header and
 * the L1 and L2 tables (qemu's docs/interop/qcow2.txt) through a
 * random-access `read`, so an image in a bucket is mapped with a few ranged
 * GETs and its data read without the holes. ECS exports an image as QCOW2
 * where the region allows; Lifeboat reads such an export this way instead of
 * the whole virtual disk.
 *
 * Refused, with the reason: backing files, encryption, external data files,
 * extended L2 entries and compressed clusters (an export has none of these;
 * a reader that guessed at them could return wrong data).
 */
import { ImageFormatError } from "./errors.js";

/** Reads `length` bytes at `offset` of the image file. */
export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

/** A run of guest bytes stored contiguously in the file. */
export interface Qcow2Extent {
  readonly guestOffset: number;
  readonly length: number;
  readonly fileOffset: number;
}

export interface Qcow2Map {
  readonly virtualSize: number;
  readonly clusterSize: number;
  /** Allocated, non-zero runs in guest order; everything else reads as zeros. */
  readonly extents: readonly Qcow2Extent[];
}

export const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);

const OFFSET_MASK = 0x00fffffffffffe00n;
const COMPRESSED = 1n << 62n;
const ZERO = 1n;
/** Incompatible feature bits a reader of the tables may ignore: only "dirty" (refcounts, not the tables, may be stale). */
const KNOWN_INCOMPATIBLE = 1n;

function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64BE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ImageFormatError(`QCOW2 value ${v} at header offset ${at} is too large`);
  return Number(v);
}

/** Reads the allocation map of a QCOW2 image. */
export async function readQcow2Map(read: ReadAt): Promise<Qcow2Map> {
  const header = await read(0, 104);
  if (header.length < 72 || !header.subarray(0, 4).equals(QCOW2_MAGIC)) throw new ImageFormatError("Not a QCOW2 image (no QFI\\xfb magic)");
  const version = header.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new ImageFormatError(`QCOW2 version ${version} is not supported (2 or 3)`);
  if (u64(header, 8) !== 0) throw new ImageFormatError("QCOW2 images with a backing file are not supported");
  const clusterBits = header.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > 21) throw new ImageFormatError(`QCOW2 cluster_bits ${clusterBits} is out of range (9-21)`);
  const virtualSize = u64(header, 24);
  if (header.readUInt32BE(32) !== 0) throw new ImageFormatError("Encrypted QCOW2 images are not supported");
  const l1Size = header.readUInt32BE(36);
  const l1Offset = u64(header, 40);
  if (version === 3) {
    const incompatible = header.readBigUInt64BE(72);
    if ((incompatible & ~KNOWN_INCOMPATIBLE) !== 0n) throw new ImageFormatError(`QCOW2 incompatible features 0x${incompatible.toString(16)} are not supported (corrupt, external data file, compression type or extended L2 entries)`);
  }
  const clusterSize = 2 ** clusterBits;
  const l2Entries = clusterSize / 8;
  const clusters = Math.ceil(virtualSize / clusterSize);
  if (l1Size < Math.ceil(clusters / l2Entries)) throw new ImageFormatError(`QCOW2 L1 table has ${l1Size} entries, too few for ${virtualSize} bytes`);
  const l1 = await read(l1Offset, l1Size * 8);
  if (l1.length !== l1Size * 8) throw new ImageFormatError("QCOW2 L1 table is cut short");

  const extents: Qcow2Extent[] = [];
  const add = (guestOffset: number, fileOffset: number, length: number): void => {
    const last = extents.at(-1);
    if (last && last.guestOffset + last.length === guestOffset && last.fileOffset + last.length === fileOffset) {
      extents[extents.length - 1] = { ...last, length: last.length + length };
    } else {
      extents.push({ guestOffset, length, fileOffset });
    }
  };
  for (let i = 0; i * l2Entries < clusters; i++) {
    const l2Offset = Number(l1.readBigUInt64BE(i * 8) & OFFSET_MASK);
    if (l2Offset === 0) continue;
    const l2 = await read(l2Offset, clusterSize);
    if (l2.length !== clusterSize) throw new ImageFormatError(`QCOW2 L2 table at ${l2Offset} is cut short`);
    for (let j = 0; j < l2Entries; j++) {
      const cluster = i * l2Entries + j;
      if (cluster >= clusters) break;
      const entry = l2.readBigUInt64BE(j * 8);
      if (entry & COMPRESSED) throw new ImageFormatError(`QCOW2 cluster ${cluster} is compressed; compressed images are not supported`);
      const fileOffset = Number(entry & OFFSET_MASK);
      if (fileOffset === 0 || (version === 3 && entry & ZERO)) continue;
      const guestOffset = cluster * clusterSize;
      add(guestOffset, fileOffset, Math.min(clusterSize, virtualSize - guestOffset));
    }
  }
  return { virtualSize, clusterSize, extents };
}

/**
 * Fills `buffer` with the guest bytes at `offset` (zeros where nothing is
 * allocated), reading each stored run that overlaps with one `read`.
 */
export async function readQcow2Guest(map: Qcow2Map, read: ReadAt, buffer: Buffer, offset: number): Promise<void> {
  buffer.fill(0);
  const end = offset + buffer.length;
  // The first extent that ends after offset (extents are in guest order).
  let lo = 0;
  let hi = map.extents.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const e = map.extents[mid] as Qcow2Extent;
    if (e.guestOffset + e.length <= offset) lo = mid + 1;
    else hi = mid;
  }
  for (let k = lo; k < map.extents.length; k++) {
    const e = map.extents[k] as Qcow2Extent;
    if (e.guestOffset >= end) break;
    const from = Math.max(offset, e.guestOffset);
    const to = Math.min(end, e.guestOffset + e.length);
    const data = await read(e.fileOffset + (from - e.guestOffset), to - from);
    if (data.length !== to - from) throw new ImageFormatError(`QCOW2 data at file offset ${e.fileOffset + (from - e.guestOffset)} is cut short`);
    data.copy(buffer, from - offset);
  }
}
