/**
 * Stream-optimized VMDK (createType "streamOptimized"), the sparse,
 * compressed single-file VMDK that OVF/OVA packages carry and that ESXi
 * imports through ImportVApp/HttpNfcLease.
 *
 * Follows VMware's "Virtual Disk Format 5.0": "Hosted Sparse Extent Header"
 * (version 3, flags: valid newline detector, compressed grains, markers;
 * compressAlgorithm 1 = deflate), "The Descriptor File" (embedded at sector
 * 1), and "Stream-Optimized Compressed Sparse Extents": each grain (64 KiB)
 * as a grain marker (LBA, compressed size) followed by its zlib-deflated
 * bytes, padded to a sector; after each 32 MiB span, a grain table marker
 * and the grain table of that span (left out when the span has no grain);
 * at the end the grain directory marker and directory, the footer marker and
 * the footer (a copy of the header whose gdOffset is the real one; the header
 * at sector 0 says GD_AT_END), and the end-of-stream marker. That is what
 * qemu's block/vmdk.c reads (footer at the file's end - 1536) and what
 * VMware's open-vmdk writes, in the order the spec gives for streaming.
 *
 * Sparse twice over: unallocated blocks are left out, and so is every
 * all-zero grain inside an allocated block (grain table entry 0 reads as
 * zeros, as there is no parent). Grains that look random (encrypted or
 * compressed data) are stored as deflate's uncompressed blocks, which costs
 * a twentieth of the time and no space (level 1 makes such data a little
 * larger); the rest is deflated at level 1 (fast). A restore's pieces come
 * with their grains already encoded by the vault's threads that decoded
 * them (vmdk-grains.ts; DiskPiece.vmdkGrains), and the writer only places
 * them; other pieces it encodes itself, on the libuv threadpool, a few
 * grains at once, in zlib contexts reused from grain to grain
 * (grain-deflater.ts).
 *
 * The descriptor follows what VMware's open-vmdk writes (which ESXi and
 * ovftool accept): version=1, encoding UTF-8, random CID, parentCID
 * ffffffff, adapter lsilogic, geometry 255 heads × 63 sectors,
 * virtualHWVersion 4 (the field ESX 3 and older read; newer hosts ignore it),
 * toolsVersion 2147483647 (tools managed by the guest), a random
 * longContentID. The extent's file name is "disk.vmdk": a stream-optimized
 * extent is the file itself, so readers do not open that name.
 *
 * Not done: a redundant grain directory (stream-optimized files have none),
 * other compression, zeroed-grain entries, the old version-1 layout.
 *
 * The output's length depends on how the data compresses, so `imageSize` is
 * undefined. Memory: the grain directory (4 bytes per 32 MiB of virtual
 * disk), one 2 KiB grain table, up to MAX_IN_FLIGHT grains being compressed
 * (64 KiB each plus a reused zlib context's state, some 300 KiB) and the
 * piece being read, with its encoded grains when it came with them (as
 * large as its data once more for random data, a seventh of it for text,
 * nothing for zeros).
 */
import { randomBytes } from "node:crypto";
import { DiskReader } from "./disk-reader.js";
import { ImageFormatError } from "./errors.js";
import { GrainDeflater } from "./grain-deflater.js";
import { TiB, type CheckedLayout, type SizeRules } from "./layout.js";
import { GRAIN_DEFLATE_LEVEL, GRAIN_OUTPUT_CHUNK, GRAIN_STORE_LEVEL, grainLevel, grainRecordLength, SECTOR, VMDK_GRAIN_SIZE, vmdkGrain, type EncodedGrains } from "./vmdk-grains.js";
import type { ImagePlan } from "./writer.js";
import { zeros } from "./zeros.js";

export { looksIncompressible, VMDK_GRAIN_SIZE, vmdkGrain } from "./vmdk-grains.js";

const GRAIN_SECTORS = VMDK_GRAIN_SIZE / SECTOR;
/** Grain table entries per table: 512, the only number VMware's readers take. */
const GT_ENTRIES = 512;
const GT_SECTORS = (GT_ENTRIES * 4) / SECTOR;
/** Bytes of disk one grain table maps: 32 MiB. */
const GT_COVERAGE = GT_ENTRIES * VMDK_GRAIN_SIZE;
const VMDK_MAGIC = 0x564d444b; // "KDMV" as a little-endian number
const FLAG_VALID_NEWLINE_DETECTOR = 1 << 0;
const FLAG_COMPRESSED = 1 << 16;
const FLAG_MARKERS = 1 << 17;
const COMPRESSION_DEFLATE = 1;
const DESCRIPTOR_OFFSET = 1;
/** Sectors kept for the descriptor (what qemu and open-vmdk keep). */
const DESCRIPTOR_SECTORS = 20;
/** The first grain's sector: metadata in front takes one grain. */
const OVERHEAD_SECTORS = GRAIN_SECTORS;

/** Marker types of a stream-optimized extent. */
export const MARKER_EOS = 0;
export const MARKER_GT = 1;
export const MARKER_GD = 2;
export const MARKER_FOOTER = 3;
/** zlib format (RFC 1950) at the fastest level (random data grows a little). */
const DEFLATE_OPTIONS = { level: GRAIN_DEFLATE_LEVEL, chunkSize: GRAIN_OUTPUT_CHUNK };
/** Still zlib format, but stored blocks: for grains that look random (see `looksIncompressible`). */
const STORE_OPTIONS = { level: GRAIN_STORE_LEVEL, chunkSize: GRAIN_OUTPUT_CHUNK };
/** Grains compressed at once: enough to keep the threadpool's four threads busy. */
const MAX_IN_FLIGHT = 4;
/** Grain table entries hold 32-bit sector numbers: the file cannot pass 2 TiB. */
const MAX_SECTOR = 0xffffffff;

/** vSphere's largest virtual disk is 62 TiB. */
export const VMDK_SIZE_RULES: SizeRules = {
  format: "VMDK",
  alignment: SECTOR,
  maxVirtualSize: 62 * TiB,
  maxDescription: "62 TiB, vSphere's largest virtual disk",
};

/** The header's and the footer's fields that vary. */
export interface VmdkHeaderFields {
  /** Virtual size in sectors. */
  readonly capacity: number;
  /** Sector of the grain directory, or undefined for GD_AT_END (the header at sector 0 of a stream). */
  readonly gdOffset: number | undefined;
}

function writeU64LE(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32LE(value >>> 0, at);
  buf.writeUInt32LE(Math.floor(value / 0x100000000), at + 4);
}

/** The 512-byte SparseExtentHeader. */
export function vmdkHeader(fields: VmdkHeaderFields): Buffer {
  const h = Buffer.alloc(SECTOR);
  h.writeUInt32LE(VMDK_MAGIC, 0);
  h.writeUInt32LE(3, 4); // version 3: what stream-optimized disks carry
  h.writeUInt32LE(FLAG_VALID_NEWLINE_DETECTOR | FLAG_COMPRESSED | FLAG_MARKERS, 8);
  writeU64LE(h, fields.capacity, 12);
  writeU64LE(h, GRAIN_SECTORS, 20);
  writeU64LE(h, DESCRIPTOR_OFFSET, 28);
  writeU64LE(h, DESCRIPTOR_SECTORS, 36);
  h.writeUInt32LE(GT_ENTRIES, 44);
  // 48: rgdOffset 0 (no redundant directory)
  if (fields.gdOffset === undefined) h.fill(0xff, 56, 64); // GD_AT_END
  else writeU64LE(h, fields.gdOffset, 56);
  writeU64LE(h, OVERHEAD_SECTORS, 64);
  // 72: uncleanShutdown 0; 73..76: the newline detector
  h.write("\n \r\n", 73, "latin1");
  h.writeUInt16LE(COMPRESSION_DEFLATE, 77);
  return h;
}

/** A metadata marker sector: `sectors` of metadata of `type` follow (0 for the end-of-stream marker). */
export function vmdkMarker(type: number, sectors: number): Buffer {
  const m = Buffer.alloc(SECTOR);
  writeU64LE(m, sectors, 0);
  // 8: size 0 marks a metadata marker
  m.writeUInt32LE(type, 12);
  return m;
}

/** The embedded descriptor, padded with zeros to DESCRIPTOR_SECTORS. */
export function vmdkDescriptor(capacity: number, cid: number, longContentId: string): Buffer {
  const cylinders = Math.min(65535, Math.ceil(capacity / (255 * 63)));
  const text = [
    "# Disk DescriptorFile",
    "version=1",
    'encoding="UTF-8"',
    `CID=${cid.toString(16).padStart(8, "0")}`,
    "parentCID=ffffffff",
    'createType="streamOptimized"',
    "",
    "# Extent description",
    `RW ${capacity} SPARSE "disk.vmdk"`,
    "",
    "# The Disk Data Base",
    "#DDB",
    "",
    `ddb.longContentID = "${longContentId}"`,
    'ddb.virtualHWVersion = "4"',
    `ddb.geometry.cylinders = "${cylinders}"`,
    'ddb.geometry.heads = "255"',
    'ddb.geometry.sectors = "63"',
    'ddb.adapterType = "lsilogic"',
    'ddb.toolsVersion = "2147483647"',
    "",
  ].join("\n");
  const d = Buffer.alloc(DESCRIPTOR_SECTORS * SECTOR);
  d.write(text, 0, "utf8");
  return d;
}

/** A content id: random, but never ffffffff or fffffffe (some readers take those for "no parent"/"empty"). */
function newCid(): number {
  for (;;) {
    const cid = randomBytes(4).readUInt32LE(0);
    if (cid < 0xfffffffe) return cid;
  }
}

/** A grain being compressed, in the order it goes to the file. */
interface Pending {
  readonly lba: number;
  readonly grain: Promise<Buffer>;
}

/** The stream-optimized VMDK of the disk. */
export function vmdkImage(layout: CheckedLayout): ImagePlan {
  const capacity = layout.virtualSize / SECTOR;
  const tables = Math.ceil(layout.virtualSize / GT_COVERAGE);
  const gdSectors = Math.ceil((tables * 4) / SECTOR);
  const blocksPerTable = GT_COVERAGE / layout.blockSize;
  const cid = newCid();
  const longContentId = randomBytes(12).toString("hex") + cid.toString(16).padStart(8, "0");
  return {
    imageSize: undefined,
    async *produce(pieces) {
      yield vmdkHeader({ capacity, gdOffset: undefined });
      yield vmdkDescriptor(capacity, cid, longContentId);
      yield zeros((OVERHEAD_SECTORS - DESCRIPTOR_OFFSET - DESCRIPTOR_SECTORS) * SECTOR);
      let sector = OVERHEAD_SECTORS;
      const directory = Buffer.alloc(gdSectors * SECTOR);
      const disk = new DiskReader(layout, pieces);
      const pending: Pending[] = [];
      const compressing = new GrainDeflater(DEFLATE_OPTIONS);
      const storing = new GrainDeflater(STORE_OPTIONS);
      try {
        for (let t = 0; t < tables; t++) {
          const table = Buffer.alloc(GT_ENTRIES * 4);
          let grains = 0;
          const firstBlock = t * blocksPerTable;
          const lastBlock = Math.min(firstBlock + blocksPerTable, layout.blockCount);
          for (let block = firstBlock; block < lastBlock; block++) {
            if (!layout.allocated(block)) continue;
            const start = block * layout.blockSize;
            const end = Math.min(start + layout.blockSize, layout.size);
            for (let at = start; at < end; at += VMDK_GRAIN_SIZE) {
              const data = await disk.read(at, VMDK_GRAIN_SIZE);
              const lba = at / SECTOR;
              const piece = disk.lastReadPiece;
              let grain: Promise<Buffer>;
              if (piece?.vmdkGrains) {
                const record = encodedRecord(piece.vmdkGrains, (at - piece.offset) / VMDK_GRAIN_SIZE, lba);
                if (record.length === 0) continue;
                grain = Promise.resolve(record);
              } else {
                const level = grainLevel(data);
                if (level === undefined) continue;
                const deflater = level === GRAIN_STORE_LEVEL ? storing : compressing;
                grain = deflater.deflate(data, (chunks) => vmdkGrain(lba, chunks));
                grain.catch(() => undefined); // awaited below, in order; this only keeps a failure from going unhandled meanwhile
              }
              pending.push({ lba, grain });
              while (pending.length >= MAX_IN_FLIGHT) {
                const out = await takeGrain(pending, table, t, sector);
                sector += out.length / SECTOR;
                grains++;
                yield out;
              }
            }
          }
          // The span's last grains go before its grain table.
          while (pending.length > 0) {
            const out = await takeGrain(pending, table, t, sector);
            sector += out.length / SECTOR;
            grains++;
            yield out;
          }
          if (grains === 0) continue;
          yield vmdkMarker(MARKER_GT, GT_SECTORS);
          directory.writeUInt32LE(addressable(sector + 1), t * 4);
          yield table;
          sector += 1 + GT_SECTORS;
        }
      } finally {
        compressing.close();
        storing.close();
      }
      await disk.finish();
      yield vmdkMarker(MARKER_GD, gdSectors);
      const gdOffset = sector + 1;
      yield directory;
      yield vmdkMarker(MARKER_FOOTER, 1);
      yield vmdkHeader({ capacity, gdOffset });
      yield vmdkMarker(MARKER_EOS, 0);
    },
  };
}

/** Grain `index` of a piece's grains encoded ahead (checked by DiskReader), which must be the grain at `lba`; empty for an all-zero grain, left out. */
function encodedRecord(grains: EncodedGrains, index: number, lba: number): Buffer {
  const record = grains.records.subarray(index === 0 ? 0 : (grains.ends[index - 1] ?? 0), grains.ends[index]);
  if (record.length === 0) return record;
  if (Number(record.readBigUInt64LE(0)) !== lba) {
    throw new ImageFormatError(`The encoded grain for sector ${lba} is marked for sector ${record.readBigUInt64LE(0)}: encode a piece's grains at its own offset`);
  }
  const size = record.readUInt32LE(8);
  if (size === 0 || grainRecordLength(size) !== record.length) {
    throw new ImageFormatError(`The encoded grain for sector ${lba} says ${size} bytes of data in a record of ${record.length}: a record is its marker and data, padded to a sector`);
  }
  return record;
}

/** Waits for the oldest grain and enters it in its grain table at `sector`. */
async function takeGrain(pending: Pending[], table: Buffer, tableIndex: number, sector: number): Promise<Buffer> {
  const next = pending.shift();
  if (!next) throw new Error("takeGrain with no grain pending");
  const out = await next.grain;
  table.writeUInt32LE(addressable(sector), (next.lba / GRAIN_SECTORS - tableIndex * GT_ENTRIES) * 4);
  return out;
}

/** `sector` when a 32-bit grain table or directory entry can hold it. */
function addressable(sector: number): number {
  if (sector > MAX_SECTOR) {
    throw new ImageFormatError("The compressed VMDK passed 2 TiB, the most its 32-bit grain tables can address: use qcow2 or raw for this disk");
  }
  return sector;
}
