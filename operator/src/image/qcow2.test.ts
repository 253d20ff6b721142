import { describe, expect, it } from "@jest/globals";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { checkLayout } from "./layout.js";
import { planQcow2, qcow2Header, QCOW2_CLUSTER_SIZE, QCOW2_SIZE_RULES } from "./qcow2.js";
import { createImageStream, type DiskLayout, type DiskPiece } from "./writer.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const C = QCOW2_CLUSTER_SIZE;

async function qcow2Bytes(layout: DiskLayout, pieces: DiskPiece[]): Promise<Buffer> {
  const { stream } = createImageStream("qcow2", layout);
  const out: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => out.push(chunk));
  await pipeline(Readable.from(pieces), stream);
  return Buffer.concat(out);
}

const u64 = (b: Buffer, at: number): number => Number(b.readBigUInt64BE(at));
const COPIED = 1n << 63n;

/** Reads a virtual disk back through the L1 and L2 tables, as qemu would, checking the COPIED flags. */
function readBack(img: Buffer): Buffer {
  const size = u64(img, 24);
  const l1Size = img.readUInt32BE(36);
  const l1 = u64(img, 40);
  const disk = Buffer.alloc(size);
  for (let i = 0; i < l1Size; i++) {
    const entry = img.readBigUInt64BE(l1 + i * 8);
    if (entry === 0n) continue;
    expect(entry & COPIED).toBe(COPIED);
    const l2 = Number(entry & 0x00fffffffffffe00n);
    for (let j = 0; j < C / 8; j++) {
      const e = img.readBigUInt64BE(l2 + j * 8);
      if (e === 0n) continue;
      expect(e & COPIED).toBe(COPIED);
      const host = Number(e & 0x00fffffffffffe00n);
      const guest = (i * (C / 8) + j) * C;
      img.copy(disk, guest, host, host + Math.min(C, size - guest));
    }
  }
  return disk;
}

/** Refcounts of the clusters the refcount blocks cover (up to the first missing block). */
function refcounts(img: Buffer): number[] {
  const table = u64(img, 48);
  const tableClusters = img.readUInt32BE(56);
  expect(img.readUInt32BE(96)).toBe(4); // 16-bit refcounts
  const counts: number[] = [];
  for (let i = 0; i < (tableClusters * C) / 8; i++) {
    const block = u64(img, table + i * 8);
    if (block === 0) break;
    for (let j = 0; j < C / 2; j++) counts.push(img.readUInt16BE(block + j * 2));
  }
  return counts;
}

describe("qcow2 writer", () => {
  it("writes a version 3 header that points at the tables", () => {
    const layout = checkLayout({ size: 10 * GiB, blockSize: MiB, allocated: (b) => b % 1000 === 0 }, QCOW2_SIZE_RULES);
    const plan = planQcow2(layout);
    const h = qcow2Header(plan);
    expect(h.subarray(0, 4).toString("latin1")).toBe("QFI\xfb");
    expect(h.readUInt32BE(4)).toBe(3);
    expect(h.readUInt32BE(20)).toBe(16); // 64 KiB clusters
    expect(u64(h, 24)).toBe(10 * GiB);
    expect(h.readUInt32BE(36)).toBe(20); // one L1 entry per 512 MiB
    expect(u64(h, 40)).toBe(C);
    expect(u64(h, 48)).toBe(plan.refcountTableOffset);
    expect(h.readUInt32BE(56)).toBe(1);
    expect(u64(h, 72)).toBe(0); // no incompatible features
    expect(h.readUInt32BE(100)).toBe(104);
    expect(h.readBigUInt64BE(104)).toBe(0n); // end of header extensions
    // 11 allocated blocks of 16 clusters in 11 L2 tables (blocks 0, 1000, ... 10000 lie in different 512 MiB regions).
    expect(plan.dataClusters).toBe(11 * 16);
    expect(plan.l2Tables).toBe(11);
    expect(plan.clusters).toBe(1 + 1 + 1 + 1 + 11 + 176);
  });

  it("grows the refcount blocks and table until they count themselves", () => {
    // 4 TiB all allocated: 64 Mi data clusters need 2049 refcount blocks and a refcount table of 1 cluster.
    const layout = checkLayout({ size: 4096 * GiB, blockSize: 8 * MiB, allocated: () => true }, QCOW2_SIZE_RULES);
    const plan = planQcow2(layout);
    expect(plan.refcountBlocks * (C / 2)).toBeGreaterThanOrEqual(plan.clusters);
    expect((plan.refcountBlocks - 1) * (C / 2)).toBeLessThan(plan.clusters);
    expect(plan.refcountTableClusters * (C / 8)).toBeGreaterThanOrEqual(plan.refcountBlocks);
    expect(plan.clusters).toBe(plan.dataOffset / C + plan.dataClusters);
  });

  it("maps the allocated clusters to the data, in order, with refcount 1 for every cluster of the file", async () => {
    // Blocks of 256 KiB: 0 and 2 in the first L2 table, 2049 (past 512 MiB) in the second; the disk ends in a partial cluster.
    const size = 2050 * 256 * KiB + 700;
    const given = new Set([0, 2, 2049, 2050]);
    const layout: DiskLayout = { size, blockSize: 256 * KiB, allocated: (b) => given.has(b) };
    const pieces = [...given].map((b) => ({ offset: b * 256 * KiB, data: Buffer.alloc(Math.min(256 * KiB, size - b * 256 * KiB), b % 251) }));
    const img = await qcow2Bytes(layout, pieces);
    expect(img.length % C).toBe(0);
    const disk = readBack(img);
    expect(disk.length).toBe(size + 324); // rounded up to 512
    for (const p of pieces) expect(disk.subarray(p.offset, p.offset + p.data.length).equals(p.data)).toBe(true);
    expect(disk.subarray(256 * KiB, 512 * KiB).every((b) => b === 0)).toBe(true);
    const counts = refcounts(img);
    const clusters = img.length / C;
    expect(counts.slice(0, clusters).every((n) => n === 1)).toBe(true);
    expect(counts.length).toBeGreaterThanOrEqual(clusters);
    expect(counts.slice(clusters).every((n) => n === 0)).toBe(true);
    // header, L1, refcount table, refcount block, 2 L2 tables, 4 + 4 + 4 + 1 data clusters
    expect(clusters).toBe(4 + 2 + 13);
  });
});
