/**
 * qcow2 version 3 image, written front to back in one pass.
 *
 * Follows qemu's docs/interop/qcow2.txt: "Header" (version 3, 104-byte
 * header, no header extensions but the end marker), "Host cluster
 * management" (refcount table and 16-bit refcount blocks, refcount_order 4)
 * and "Cluster mapping" (L1 table, L2 tables with standard cluster
 * descriptors). Clusters are 64 KiB.
 *
 * The allocation map is known up front, so the whole file is planned before
 * the first byte: header, L1 table, refcount table, refcount blocks, the L2
 * tables that map anything, then the data clusters in the disk's order. Every
 * cluster of the file is used exactly once, so every refcount is 1 and every
 * L1/L2 entry carries QCOW_OFLAG_COPIED; `qemu-img check` finds no errors and
 * no leaks. A cluster is stored when its block is allocated, zero or not, so
 * the file's length is known before the data is seen.
 *
 * Not done: compression, encryption, backing files, snapshots, extended L2
 * entries, external data files, zero-cluster flags, dirty bits (the image is
 * complete when the stream ends).
 *
 * Memory: one 32-bit count per 512 MiB of virtual disk (allocated clusters
 * per L2 table), plus one 64 KiB metadata chunk at a time (L1, refcount and L2
 * tables are generated in chunks as they are written, never all at once).
 */
import { DiskReader } from "./disk-reader.js";
import { ImageFormatError } from "./errors.js";
import { MiB, roundUp, type CheckedLayout, type SizeRules } from "./layout.js";
import type { ImagePlan } from "./writer.js";

/** Cluster size: qemu's default, and what its tools expect. */
export const QCOW2_CLUSTER_SIZE = 64 * 1024;
const CLUSTER_BITS = 16;
/** Entries in an L2 table (8-byte entries in one cluster): one L2 table maps 512 MiB. */
const L2_ENTRIES = QCOW2_CLUSTER_SIZE / 8;
const L2_COVERAGE = L2_ENTRIES * QCOW2_CLUSTER_SIZE;
/** 16-bit refcounts (refcount_order 4): one refcount block counts 32768 clusters (2 GiB). */
const REFCOUNT_ORDER = 4;
const REFCOUNTS_PER_BLOCK = (QCOW2_CLUSTER_SIZE * 8) / (1 << REFCOUNT_ORDER);
const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
const HEADER_LENGTH = 104;
/** QCOW_OFLAG_COPIED in the high 32 bits: refcount is exactly 1, writes may go in place. */
const COPIED_HIGH = 0x80000000;
/** A big-endian 16-bit refcount of 1, to fill refcount blocks with. */
const REFCOUNT_ONE = Buffer.from([0, 1]);
/** Entries per chunk when writing the L1 and refcount tables. */
const TABLE_CHUNK_ENTRIES = 64 * 1024;

/** qemu refuses L1 tables over 32 MiB (QCOW_MAX_L1_SIZE): 4 Mi entries of 512 MiB each. */
export const QCOW2_SIZE_RULES: SizeRules = {
  format: "qcow2",
  alignment: 512,
  maxVirtualSize: (32 * MiB / 8) * L2_COVERAGE,
  maxDescription: "2 PiB, the largest L1 table qemu opens with 64 KiB clusters",
};

/** Where everything goes in the file; offsets in bytes, all cluster-aligned. */
export interface Qcow2Plan {
  readonly virtualSize: number;
  /** L1 entries: one per 512 MiB of virtual disk. */
  readonly l1Entries: number;
  readonly l1Offset: number;
  readonly l1Clusters: number;
  readonly refcountTableOffset: number;
  readonly refcountTableClusters: number;
  readonly refcountBlocksOffset: number;
  readonly refcountBlocks: number;
  readonly l2Offset: number;
  /** L2 tables present: one for each 512 MiB region with any allocated cluster. */
  readonly l2Tables: number;
  readonly dataOffset: number;
  readonly dataClusters: number;
  /** Clusters in the file, every one with refcount 1. */
  readonly clusters: number;
  /** Allocated clusters in each 512 MiB region (per L1 entry). */
  readonly clustersPerL2: Uint32Array;
}

/** The disk's bytes that allocated block `block` puts in clusters: [start, end), end rounded up to a cluster. */
function blockClusters(layout: CheckedLayout, block: number): { start: number; end: number } {
  const start = block * layout.blockSize;
  return { start, end: Math.min(start + layout.blockSize, roundUp(layout.size, QCOW2_CLUSTER_SIZE)) };
}

/** Plans the file from the allocation map (one pass over the blocks). */
export function planQcow2(layout: CheckedLayout): Qcow2Plan {
  const C = QCOW2_CLUSTER_SIZE;
  const l1Entries = Math.ceil(layout.virtualSize / L2_COVERAGE);
  const clustersPerL2 = new Uint32Array(l1Entries);
  let dataClusters = 0;
  for (let block = 0; block < layout.blockCount; block++) {
    if (!layout.allocated(block)) continue;
    const { start, end } = blockClusters(layout, block);
    const n = (end - start) / C;
    const region = Math.floor(start / L2_COVERAGE);
    clustersPerL2[region] = (clustersPerL2[region] ?? 0) + n;
    dataClusters += n;
  }
  const l2Tables = clustersPerL2.reduce((n, count) => n + (count > 0 ? 1 : 0), 0);
  const l1Clusters = Math.max(1, Math.ceil((l1Entries * 8) / C));
  // Refcount blocks count themselves and the refcount table: grow both until they cover the file.
  const fixed = 1 + l1Clusters + l2Tables + dataClusters;
  let refcountBlocks = 1;
  let refcountTableClusters = 1;
  for (;;) {
    const clusters = fixed + refcountTableClusters + refcountBlocks;
    const blocks = Math.ceil(clusters / REFCOUNTS_PER_BLOCK);
    const tableClusters = Math.ceil((blocks * 8) / C);
    if (blocks === refcountBlocks && tableClusters === refcountTableClusters) break;
    refcountBlocks = blocks;
    refcountTableClusters = tableClusters;
  }
  const l1Offset = C;
  const refcountTableOffset = l1Offset + l1Clusters * C;
  const refcountBlocksOffset = refcountTableOffset + refcountTableClusters * C;
  const l2Offset = refcountBlocksOffset + refcountBlocks * C;
  const dataOffset = l2Offset + l2Tables * C;
  const clusters = dataOffset / C + dataClusters;
  return {
    virtualSize: layout.virtualSize,
    l1Entries,
    l1Offset,
    l1Clusters,
    refcountTableOffset,
    refcountTableClusters,
    refcountBlocksOffset,
    refcountBlocks,
    l2Offset,
    l2Tables,
    dataOffset,
    dataClusters,
    clusters,
    clustersPerL2,
  };
}

/** Writes a 64-bit big-endian value below 2^53 at `at`. */
function writeU64(buf: Buffer, value: number, at: number, highFlags = 0): void {
  buf.writeUInt32BE((Math.floor(value / 0x100000000) | highFlags) >>> 0, at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}

/** The header cluster: the version 3 header, then the end-of-extensions marker (zeros). */
export function qcow2Header(plan: Qcow2Plan): Buffer {
  const h = Buffer.alloc(QCOW2_CLUSTER_SIZE);
  h.writeUInt32BE(QCOW2_MAGIC, 0);
  h.writeUInt32BE(3, 4); // version
  // 8: backing_file_offset, 16: backing_file_size: none
  h.writeUInt32BE(CLUSTER_BITS, 20);
  writeU64(h, plan.virtualSize, 24);
  // 32: crypt_method 0
  h.writeUInt32BE(plan.l1Entries, 36);
  writeU64(h, plan.l1Offset, 40);
  writeU64(h, plan.refcountTableOffset, 48);
  h.writeUInt32BE(plan.refcountTableClusters, 56);
  // 60: nb_snapshots 0, 64: snapshots_offset 0
  // 72, 80, 88: incompatible, compatible and autoclear features: none
  h.writeUInt32BE(REFCOUNT_ORDER, 96);
  h.writeUInt32BE(HEADER_LENGTH, 100);
  // 104: header extension type 0 (end of extensions), length 0
  return h;
}

/** The L1 table, in chunks: entry i points at the i-th present L2 table, or is 0. Padded to whole clusters. */
export function* qcow2L1Table(plan: Qcow2Plan): Generator<Buffer> {
  let l2 = 0;
  const total = (plan.l1Clusters * QCOW2_CLUSTER_SIZE) / 8;
  for (let first = 0; first < total; first += TABLE_CHUNK_ENTRIES) {
    const chunk = Buffer.alloc(Math.min(TABLE_CHUNK_ENTRIES, total - first) * 8);
    for (let i = first; i < Math.min(first + TABLE_CHUNK_ENTRIES, plan.l1Entries); i++) {
      if ((plan.clustersPerL2[i] ?? 0) === 0) continue;
      writeU64(chunk, plan.l2Offset + l2 * QCOW2_CLUSTER_SIZE, (i - first) * 8, COPIED_HIGH);
      l2++;
    }
    yield chunk;
  }
}

/** The refcount table, in chunks: entry i points at refcount block i. Padded to whole clusters. */
export function* qcow2RefcountTable(plan: Qcow2Plan): Generator<Buffer> {
  const total = (plan.refcountTableClusters * QCOW2_CLUSTER_SIZE) / 8;
  for (let first = 0; first < total; first += TABLE_CHUNK_ENTRIES) {
    const chunk = Buffer.alloc(Math.min(TABLE_CHUNK_ENTRIES, total - first) * 8);
    for (let i = first; i < Math.min(first + TABLE_CHUNK_ENTRIES, plan.refcountBlocks); i++) {
      writeU64(chunk, plan.refcountBlocksOffset + i * QCOW2_CLUSTER_SIZE, (i - first) * 8);
    }
    yield chunk;
  }
}

/** The refcount blocks, one cluster at a time: refcount 1 for every cluster of the file, 0 past its end. */
export function* qcow2RefcountBlocks(plan: Qcow2Plan): Generator<Buffer> {
  for (let b = 0; b < plan.refcountBlocks; b++) {
    const block = Buffer.alloc(QCOW2_CLUSTER_SIZE);
    const used = Math.min(REFCOUNTS_PER_BLOCK, plan.clusters - b * REFCOUNTS_PER_BLOCK);
    block.fill(REFCOUNT_ONE, 0, used * 2);
    yield block;
  }
}

/** The present L2 tables, one cluster at a time: allocated clusters map to data clusters in the disk's order. */
export function* qcow2L2Tables(plan: Qcow2Plan, layout: CheckedLayout): Generator<Buffer> {
  const C = QCOW2_CLUSTER_SIZE;
  const blocksPerL2 = L2_COVERAGE / layout.blockSize;
  let dataCluster = 0;
  for (let region = 0; region < plan.l1Entries; region++) {
    if ((plan.clustersPerL2[region] ?? 0) === 0) continue;
    const table = Buffer.alloc(C);
    const firstBlock = region * blocksPerL2;
    for (let block = firstBlock; block < Math.min(firstBlock + blocksPerL2, layout.blockCount); block++) {
      if (!layout.allocated(block)) continue;
      const { start, end } = blockClusters(layout, block);
      for (let at = start; at < end; at += C) {
        writeU64(table, plan.dataOffset + dataCluster * C, ((at - region * L2_COVERAGE) / C) * 8, COPIED_HIGH);
        dataCluster++;
      }
    }
    yield table;
  }
}

/** The qcow2 image of the disk: metadata first, then the allocated clusters. */
export function qcow2Image(layout: CheckedLayout): ImagePlan {
  const plan = planQcow2(layout);
  return {
    imageSize: plan.clusters * QCOW2_CLUSTER_SIZE,
    async *produce(pieces) {
      yield qcow2Header(plan);
      yield* qcow2L1Table(plan);
      yield* qcow2RefcountTable(plan);
      yield* qcow2RefcountBlocks(plan);
      yield* qcow2L2Tables(plan, layout);
      const disk = new DiskReader(layout, pieces);
      let written = 0;
      for (let block = 0; block < layout.blockCount; block++) {
        if (!layout.allocated(block)) continue;
        const { start, end } = blockClusters(layout, block);
        yield* disk.range(start, end);
        written += (end - start) / QCOW2_CLUSTER_SIZE;
      }
      await disk.finish();
      if (written !== plan.dataClusters) {
        throw new ImageFormatError(`The layout's allocated() answered differently while writing (${written} data clusters, ${plan.dataClusters} planned): allocated() must not change while the image is written`);
      }
    },
  };
}
