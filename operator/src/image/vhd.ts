/**
 * VHD images, dynamic (sparse) and fixed, written front to back in one pass.
 *
 * Follows Microsoft's "Virtual Hard Disk Image Format Specification"
 * (version 1.0): "Hard Disk Footer Format" (with "CHS calculation" in its
 * appendix and the one's-complement checksum), "Dynamic Disk Header Format",
 * "Block Allocation Table and Data Blocks". A fixed VHD is the disk's bytes
 * and a 512-byte footer. A dynamic VHD is a copy of the footer, the dynamic
 * disk header, the BAT, then each 2 MiB block that holds any allocated data
 * (a 512-byte sector bitmap, all ones, then the block's 2 MiB, zeros
 * included), in the disk's order, and the footer.
 *
 * Pitfalls handled:
 * - Size: readers disagree on whether the CHS geometry or the footer's
 *   current size is the disk's size. qemu (block/vpc.c, vpc_open) uses the
 *   geometry, which cannot express most sizes, unless the creator
 *   application is one it trusts to mean current size: "win " (Hyper-V),
 *   "qem2" (qemu with force_size), "d2v " (Disk2vhd), "CTXS" (XenConverter),
 *   "tap\0" (XenServer), or the geometry is the maximum 65535/16/255. We write
 *   "qem2", what `qemu-img convert -O vpc -o force_size` writes and what
 *   Azure's own instructions produce, so qemu, Hyper-V and Azure all read
 *   the footer's size. The geometry is still the spec's CHS calculation.
 * - Sizes are whole sectors; the virtual size is rounded up to 1 MiB, which
 *   Azure-like clouds require.
 * - The limit is 2040 GiB (qemu's VHD_MAX_SECTORS, 0xff000000 sectors, and
 *   the spec's ~2 TiB); larger disks are refused with an ImageFormatError.
 *
 * Not done: differencing disks (parent locators), per-sector bitmaps that
 * mark only the allocated sectors (every sector of a written block is marked
 * present and holes in it are written as zeros, as qemu does), saved state.
 *
 * Memory: one byte per 2 MiB block (which blocks are present, at most
 * 1 MiB), one BAT chunk at a time (256 KiB), and the piece being copied.
 */
import { randomUUID } from "node:crypto";
import { DiskReader } from "./disk-reader.js";
import { GiB, MiB, rangeAllocated, roundUp, type CheckedLayout, type SizeRules } from "./layout.js";
import type { ImagePlan } from "./writer.js";

const SECTOR = 512;
/** Dynamic disk block size: the spec's default and what Hyper-V, Azure and qemu use. */
export const VHD_BLOCK_SIZE = 2 * MiB;
/** Sector bitmap of a block: one bit per sector, padded to a whole sector. */
const BITMAP_SIZE = roundUp(VHD_BLOCK_SIZE / SECTOR / 8, SECTOR);
const FOOTER_SIZE = 512;
const DYNAMIC_HEADER_SIZE = 1024;
/** Where the BAT starts: after the footer copy and the dynamic header. */
const BAT_OFFSET = FOOTER_SIZE + DYNAMIC_HEADER_SIZE;
/** VHD timestamps count seconds from 2000-01-01T00:00:00Z. */
const VHD_EPOCH_SECONDS = 946684800;
/** BAT entries per chunk written. */
const BAT_CHUNK_ENTRIES = 64 * 1024;

/** Virtual sizes are whole MiB, at most 2040 GiB. */
export const VHD_SIZE_RULES: SizeRules = {
  format: "VHD",
  alignment: MiB,
  maxVirtualSize: 2040 * GiB,
  maxDescription: "2040 GiB, the VHD limit of qemu and Hyper-V",
};

/** A sector bitmap with every sector present; shared, never written to. */
const FULL_BITMAP = Buffer.alloc(BITMAP_SIZE, 0xff);

/** CHS geometry as the spec's appendix computes it from the size in sectors. */
export function vhdGeometry(totalSectors: number): { cylinders: number; heads: number; sectorsPerTrack: number } {
  const total = Math.min(totalSectors, 65535 * 16 * 255);
  let sectorsPerTrack: number;
  let heads: number;
  let cylinderTimesHeads: number;
  if (total >= 65535 * 16 * 63) {
    sectorsPerTrack = 255;
    heads = 16;
    cylinderTimesHeads = Math.floor(total / sectorsPerTrack);
  } else {
    sectorsPerTrack = 17;
    cylinderTimesHeads = Math.floor(total / sectorsPerTrack);
    heads = Math.max(4, Math.floor((cylinderTimesHeads + 1023) / 1024));
    if (cylinderTimesHeads >= heads * 1024 || heads > 16) {
      sectorsPerTrack = 31;
      heads = 16;
      cylinderTimesHeads = Math.floor(total / sectorsPerTrack);
    }
    if (cylinderTimesHeads >= heads * 1024) {
      sectorsPerTrack = 63;
      heads = 16;
      cylinderTimesHeads = Math.floor(total / sectorsPerTrack);
    }
  }
  return { cylinders: Math.floor(cylinderTimesHeads / heads), heads, sectorsPerTrack };
}

/** The spec's checksum: the one's complement of the sum of all bytes, the checksum field itself left out. */
export function vhdChecksum(structure: Buffer, checksumAt: number): number {
  let sum = 0;
  for (let i = 0; i < structure.length; i++) {
    if (i < checksumAt || i >= checksumAt + 4) sum += structure[i] ?? 0;
  }
  return ~sum >>> 0;
}

function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32BE(Math.floor(value / 0x100000000), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}

/** The fields of a footer that vary. */
export interface VhdFooterFields {
  readonly type: "fixed" | "dynamic";
  /** The disk's size in bytes, a multiple of 512. */
  readonly size: number;
  /** Seconds since 2000-01-01T00:00:00Z. */
  readonly timestamp: number;
  /** 16 bytes identifying the disk. */
  readonly uniqueId: Buffer;
}

/** The 512-byte hard disk footer (also the copy at the start of a dynamic disk). */
export function vhdFooter(fields: VhdFooterFields): Buffer {
  const f = Buffer.alloc(FOOTER_SIZE);
  f.write("conectix", 0, "latin1");
  f.writeUInt32BE(0x00000002, 8); // features: the reserved bit, always set
  f.writeUInt32BE(0x00010000, 12); // file format version 1.0
  if (fields.type === "dynamic") writeU64(f, FOOTER_SIZE, 16); // data offset: the dynamic header
  else f.fill(0xff, 16, 24); // fixed disks have no next structure
  f.writeUInt32BE(fields.timestamp >>> 0, 24);
  f.write("qem2", 28, "latin1"); // creator application: one qemu trusts for the current size (see the file's JSDoc)
  f.writeUInt32BE(0x00050003, 32); // creator version, as qemu writes it
  f.write("Wi2k", 36, "latin1"); // creator host OS: Windows
  writeU64(f, fields.size, 40); // original size
  writeU64(f, fields.size, 48); // current size
  const { cylinders, heads, sectorsPerTrack } = vhdGeometry(fields.size / SECTOR);
  f.writeUInt16BE(cylinders, 56);
  f.writeUInt8(heads, 58);
  f.writeUInt8(sectorsPerTrack, 59);
  f.writeUInt32BE(fields.type === "dynamic" ? 3 : 2, 60); // disk type
  fields.uniqueId.copy(f, 68, 0, 16);
  // 84: saved state 0
  f.writeUInt32BE(vhdChecksum(f, 64), 64);
  return f;
}

/** The 1024-byte dynamic disk header, for a BAT at BAT_OFFSET with `blocks` entries. */
export function vhdDynamicHeader(blocks: number): Buffer {
  const h = Buffer.alloc(DYNAMIC_HEADER_SIZE);
  h.write("cxsparse", 0, "latin1");
  h.fill(0xff, 8, 16); // data offset: unused, all 64 bits set (what Microsoft's tools expect)
  writeU64(h, BAT_OFFSET, 16); // table offset
  h.writeUInt32BE(0x00010000, 24); // header version 1.0
  h.writeUInt32BE(blocks, 28); // max table entries
  h.writeUInt32BE(VHD_BLOCK_SIZE, 32);
  // 40..: no parent (unique id, time stamp, name, locators all zero)
  h.writeUInt32BE(vhdChecksum(h, 36), 36);
  return h;
}

/** Which 2 MiB blocks hold any allocated data, and where each goes in the file. */
export interface VhdPlan {
  readonly virtualSize: number;
  readonly blocks: number;
  /** 1 for blocks written to the file, 0 for blocks left out (BAT entry 0xFFFFFFFF). */
  readonly present: Uint8Array;
  readonly presentCount: number;
  /** Offset of the first block's bitmap: after the BAT, padded to a sector. */
  readonly dataOffset: number;
  readonly imageSize: number;
}

export function planVhdDynamic(layout: CheckedLayout): VhdPlan {
  const blocks = Math.ceil(layout.virtualSize / VHD_BLOCK_SIZE);
  const present = new Uint8Array(blocks);
  let presentCount = 0;
  for (let i = 0; i < blocks; i++) {
    if (rangeAllocated(layout, i * VHD_BLOCK_SIZE, (i + 1) * VHD_BLOCK_SIZE)) {
      present[i] = 1;
      presentCount++;
    }
  }
  const dataOffset = BAT_OFFSET + roundUp(blocks * 4, SECTOR);
  const imageSize = dataOffset + presentCount * (BITMAP_SIZE + VHD_BLOCK_SIZE) + FOOTER_SIZE;
  return { virtualSize: layout.virtualSize, blocks, present, presentCount, dataOffset, imageSize };
}

/** The BAT in chunks: each present block's bitmap sector, 0xFFFFFFFF for the rest and for the padding to a sector. */
export function* vhdBat(plan: VhdPlan): Generator<Buffer> {
  const total = roundUp(plan.blocks * 4, SECTOR) / 4;
  let next = 0;
  for (let first = 0; first < total; first += BAT_CHUNK_ENTRIES) {
    const count = Math.min(BAT_CHUNK_ENTRIES, total - first);
    const chunk = Buffer.alloc(count * 4, 0xff);
    for (let i = first; i < Math.min(first + count, plan.blocks); i++) {
      if (plan.present[i] !== 1) continue;
      chunk.writeUInt32BE((plan.dataOffset + next * (BITMAP_SIZE + VHD_BLOCK_SIZE)) / SECTOR, (i - first) * 4);
      next++;
    }
    yield chunk;
  }
}

function newFooter(type: "fixed" | "dynamic", size: number): Buffer {
  const uuid = Buffer.from(randomUUID().replaceAll("-", ""), "hex");
  return vhdFooter({ type, size, timestamp: Math.floor(Date.now() / 1000) - VHD_EPOCH_SECONDS, uniqueId: uuid });
}

/** A dynamic VHD: footer copy, dynamic header, BAT, the present blocks, footer. */
export function vhdDynamicImage(layout: CheckedLayout): ImagePlan {
  const plan = planVhdDynamic(layout);
  const footer = newFooter("dynamic", layout.virtualSize);
  return {
    imageSize: plan.imageSize,
    async *produce(pieces) {
      yield footer;
      yield vhdDynamicHeader(plan.blocks);
      yield* vhdBat(plan);
      const disk = new DiskReader(layout, pieces);
      for (let i = 0; i < plan.blocks; i++) {
        if (plan.present[i] !== 1) continue;
        yield FULL_BITMAP;
        yield* disk.range(i * VHD_BLOCK_SIZE, (i + 1) * VHD_BLOCK_SIZE);
      }
      await disk.finish();
      yield footer;
    },
  };
}

/** A fixed VHD: the disk's bytes up to the virtual size, then the footer. */
export function vhdFixedImage(layout: CheckedLayout): ImagePlan {
  const footer = newFooter("fixed", layout.virtualSize);
  return {
    imageSize: layout.virtualSize + FOOTER_SIZE,
    async *produce(pieces) {
      const disk = new DiskReader(layout, pieces);
      yield* disk.range(0, layout.virtualSize);
      await disk.finish();
      yield footer;
    },
  };
}
