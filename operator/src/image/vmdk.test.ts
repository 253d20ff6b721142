import { describe, expect, it } from "@jest/globals";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { randomBytes } from "node:crypto";
import { inflateSync } from "node:zlib";
import { encodeGrains } from "./vmdk-grains.js";
import { looksIncompressible, MARKER_EOS, MARKER_FOOTER, MARKER_GD, MARKER_GT, vmdkDescriptor, vmdkGrain, vmdkHeader, vmdkMarker } from "./vmdk.js";
import { createImageStream, type DiskLayout, type DiskPiece } from "./writer.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const GRAIN = 64 * KiB;

async function vmdkBytes(layout: DiskLayout, pieces: DiskPiece[]): Promise<Buffer> {
  const { stream } = createImageStream("vmdk", layout);
  const out: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => out.push(chunk));
  await pipeline(Readable.from(pieces), stream);
  return Buffer.concat(out);
}

const u64 = (b: Buffer, at: number): number => Number(b.readBigUInt64LE(at));

/** The grains of a stream-optimized VMDK in stream order: LBA and data. */
function walkGrains(img: Buffer): { lba: number; data: Buffer }[] {
  const grains: { lba: number; data: Buffer }[] = [];
  for (let sector = 128; ;) {
    const at = sector * 512;
    const compressedSize = img.readUInt32LE(at + 8);
    if (compressedSize === 0) {
      if (img.readUInt32LE(at + 12) === MARKER_EOS) return grains;
      sector += 1 + u64(img, at);
      continue;
    }
    const stream = img.subarray(at + 12, at + 12 + compressedSize);
    grains.push({ lba: u64(img, at), data: inflateSync(stream) });
    sector += Math.ceil((12 + compressedSize) / 512);
  }
}

/** Every grain table entry of a stream-optimized VMDK, through its footer's grain directory (a table left out: no entries). */
function grainTables(img: Buffer): number[][] {
  const footer = img.subarray(img.length - 1024, img.length - 512);
  const gdOffset = u64(footer, 56);
  const tables = Math.ceil(u64(footer, 12) / (512 * 128));
  return Array.from({ length: tables }, (_, t) => {
    const gt = img.readUInt32LE(gdOffset * 512 + t * 4);
    return gt === 0 ? [] : Array.from({ length: 512 }, (_, e) => img.readUInt32LE(gt * 512 + e * 4));
  });
}

describe("VMDK structures", () => {
  it("writes the sparse extent header of a stream-optimized disk", () => {
    const h = vmdkHeader({ capacity: 2048, gdOffset: undefined });
    expect(h.length).toBe(512);
    expect(h.subarray(0, 4).toString("latin1")).toBe("KDMV");
    expect(h.readUInt32LE(4)).toBe(3);
    expect(h.readUInt32LE(8)).toBe(0x30001); // newline detector, compressed grains, markers
    expect(u64(h, 12)).toBe(2048);
    expect(u64(h, 20)).toBe(128); // 64 KiB grains
    expect(u64(h, 28)).toBe(1); // descriptor at sector 1
    expect(u64(h, 36)).toBe(20);
    expect(h.readUInt32LE(44)).toBe(512);
    expect(u64(h, 48)).toBe(0); // no redundant grain directory
    expect(h.readBigUInt64LE(56)).toBe(0xffffffffffffffffn); // GD_AT_END
    expect(u64(h, 64)).toBe(128);
    expect(h.subarray(73, 77).toString("latin1")).toBe("\n \r\n");
    expect(h.readUInt16LE(77)).toBe(1); // deflate
    expect(vmdkHeader({ capacity: 2048, gdOffset: 777 }).readBigUInt64LE(56)).toBe(777n);
  });

  it("writes grain markers with the LBA and compressed size, padded to a sector", () => {
    const g = vmdkGrain(384, Buffer.alloc(600, 1));
    expect(g.length).toBe(1024);
    expect(u64(g, 0)).toBe(384);
    expect(g.readUInt32LE(8)).toBe(600);
    expect(g.subarray(12, 612).every((b) => b === 1)).toBe(true);
    expect(g.subarray(612).every((b) => b === 0)).toBe(true);
    const m = vmdkMarker(MARKER_GT, 4);
    expect([u64(m, 0), m.readUInt32LE(8), m.readUInt32LE(12), m.length]).toEqual([4, 0, MARKER_GT, 512]);
  });

  it("embeds a descriptor ESXi and qemu accept", () => {
    const text = vmdkDescriptor(20971520, 0x1234abcd, "0".repeat(24) + "1234abcd").toString("utf8").replace(/\0+$/, "");
    expect(text).toContain('createType="streamOptimized"');
    expect(text).toContain("CID=1234abcd");
    expect(text).toContain("parentCID=ffffffff");
    expect(text).toContain('RW 20971520 SPARSE "disk.vmdk"');
    expect(text).toContain('ddb.adapterType = "lsilogic"');
    expect(text).toContain('ddb.geometry.cylinders = "1306"');
    expect(text).toContain('ddb.virtualHWVersion = "4"');
    expect(text).toContain('ddb.toolsVersion = "2147483647"');
  });
});

describe("looksIncompressible", () => {
  it("tells random bytes from text, code-like bytes and zeros", () => {
    expect(looksIncompressible(randomBytes(GRAIN))).toBe(true);
    expect(looksIncompressible(Buffer.from("The quick brown fox jumps over the lazy dog. ".repeat(2000)))).toBe(false);
    const skewed = Buffer.alloc(GRAIN);
    for (let i = 0; i < skewed.length; i++) skewed[i] = i % 3 === 0 ? (i * 131) % 256 : i % 16;
    expect(looksIncompressible(skewed)).toBe(false);
    expect(looksIncompressible(Buffer.alloc(GRAIN))).toBe(false);
  });
});

describe("VMDK writer", () => {
  it("streams grains, grain tables, the directory, the footer and end-of-stream, leaving out zero grains", async () => {
    // 256 KiB blocks over 40 MiB + 1000 bytes: block 1 (grains 4-7, grain 5 zero) in the first 32 MiB,
    // the short last block 160 in the second; every other block unallocated.
    const size = 40 * MiB + 1000;
    // Grain 4 random (stored), grain 5 zero (left out), grains 6 and 7 compressible (deflated).
    const blockOne = Buffer.alloc(256 * KiB);
    randomBytes(GRAIN).copy(blockOne, 0);
    for (let i = 2 * GRAIN; i < blockOne.length; i++) blockOne[i] = i % 13;
    const layout: DiskLayout = { size, blockSize: 256 * KiB, allocated: (b) => b === 1 || b === 160 };
    const pieces = [
      { offset: 256 * KiB, data: blockOne },
      { offset: 160 * 256 * KiB, data: Buffer.alloc(1000, 5) },
    ];
    const img = await vmdkBytes(layout, pieces);
    expect(img.length % 512).toBe(0);
    const capacity = (size + 24) / 512;
    expect(u64(img, 12)).toBe(capacity);
    expect(img.subarray(512, 1024).toString("latin1")).toContain("# Disk DescriptorFile");

    // The end: GD marker, GD, footer marker, footer, EOS (qemu reads the footer at length - 1536).
    const eos = img.subarray(img.length - 512);
    expect([u64(eos, 0), eos.readUInt32LE(8), eos.readUInt32LE(12)]).toEqual([0, 0, MARKER_EOS]);
    const footerMarker = img.subarray(img.length - 1536, img.length - 1024);
    expect([u64(footerMarker, 0), footerMarker.readUInt32LE(8), footerMarker.readUInt32LE(12)]).toEqual([1, 0, MARKER_FOOTER]);
    const footer = img.subarray(img.length - 1024, img.length - 512);
    const gdOffset = u64(footer, 56);
    expect(footer.subarray(0, 56).equals(img.subarray(0, 56))).toBe(true);
    const gdMarker = img.subarray((gdOffset - 1) * 512, gdOffset * 512);
    expect([u64(gdMarker, 0), gdMarker.readUInt32LE(12)]).toEqual([1, MARKER_GD]);
    expect(gdOffset + 1).toBe(img.length / 512 - 3); // GD is one sector, then the footer marker

    // Read the disk back through GD -> GT -> grain markers.
    const disk = Buffer.alloc(capacity * 512);
    const present: number[] = [];
    for (let t = 0; t < 2; t++) {
      const gt = img.readUInt32LE(gdOffset * 512 + t * 4);
      expect(gt).not.toBe(0);
      const gtMarker = img.subarray((gt - 1) * 512, gt * 512);
      expect([u64(gtMarker, 0), gtMarker.readUInt32LE(12)]).toEqual([4, MARKER_GT]);
      for (let e = 0; e < 512; e++) {
        const sector = img.readUInt32LE(gt * 512 + e * 4);
        if (sector === 0) continue;
        const grain = t * 512 + e;
        present.push(grain);
        const at = sector * 512;
        expect(u64(img, at)).toBe(grain * 128);
        const compressedSize = img.readUInt32LE(at + 8);
        if (grain === 6) expect(compressedSize).toBeLessThan(GRAIN / 10);
        const data = inflateSync(img.subarray(at + 12, at + 12 + compressedSize));
        expect(data.length).toBe(GRAIN);
        data.copy(disk, grain * GRAIN, 0, Math.min(GRAIN, disk.length - grain * GRAIN));
      }
    }
    expect(img.readUInt32LE(gdOffset * 512 + 8)).toBe(0); // no third grain table
    expect(present).toEqual([4, 6, 7, 640]);
    const expected = Buffer.alloc(capacity * 512);
    blockOne.copy(expected, 256 * KiB);
    expected.fill(5, 40 * MiB, 40 * MiB + 1000);
    expect(disk.equals(expected)).toBe(true);
  });

  it("makes every grain a complete zlib stream of its own while reusing zlib contexts", async () => {
    // 6 MiB of 1 MiB blocks, grain by grain: random (stored), text-like (deflated), zero (left out), in turns;
    // far more grains than contexts, so each context serves many grains, both kinds interleaved.
    const size = 6 * MiB;
    const image = Buffer.alloc(size);
    for (let g = 0; g < size / GRAIN; g++) {
      const at = g * GRAIN;
      if (g % 3 === 0) randomBytes(GRAIN).copy(image, at);
      else if (g % 3 === 1) image.write(`grain ${g} `.repeat(GRAIN / 8), at, GRAIN, "latin1");
    }
    const layout: DiskLayout = { size, blockSize: MiB, allocated: () => true };
    const pieces = Array.from({ length: 6 }, (_, b) => ({ offset: b * MiB, data: image.subarray(b * MiB, (b + 1) * MiB) }));
    const img = await vmdkBytes(layout, pieces);

    // Walk the stream's markers from the first grain to end-of-stream.
    const disk = Buffer.alloc(size);
    let grains = 0;
    for (let sector = 128; ;) {
      const at = sector * 512;
      const compressedSize = img.readUInt32LE(at + 8);
      if (compressedSize === 0) {
        const type = img.readUInt32LE(at + 12);
        if (type === MARKER_EOS) break;
        sector += 1 + u64(img, at);
        continue;
      }
      // inflateSync throws on a stream without its end (final block and checksum) or one that needs another's window.
      const data = inflateSync(img.subarray(at + 12, at + 12 + compressedSize));
      expect(data.length).toBe(GRAIN);
      data.copy(disk, u64(img, at) * 512);
      grains++;
      sector += Math.ceil((12 + compressedSize) / 512);
    }
    expect(grains).toBe(2 * (size / GRAIN / 3));
    expect(disk.equals(image)).toBe(true);
  });

  it("takes grains encoded ahead (by the vault's threads): the same grains, tables and content as from the data alone", async () => {
    // 1 MiB blocks: 0 and 1 in one piece, 3 alone, 31 and 32 across the first grain table's end, 40 the short
    // last block; grains random, text-like and zero.
    const size = 40 * MiB + 3000;
    const image = Buffer.alloc(size);
    for (let g = 0; g < Math.ceil(size / GRAIN); g++) {
      const at = g * GRAIN;
      if (g % 3 === 0) randomBytes(Math.min(GRAIN, size - at)).copy(image, at);
      else if (g % 3 === 1) image.write(`grain ${g} `.repeat(GRAIN / 8), at, Math.min(GRAIN, size - at), "latin1");
    }
    const spans = [[0, 2 * MiB], [3 * MiB, 4 * MiB], [31 * MiB, 33 * MiB], [40 * MiB, size]] as const;
    const layout: DiskLayout = { size, blockSize: MiB, allocated: (b) => spans.some(([from, to]) => b * MiB >= from && b * MiB < to) };
    for (let at = 0; at < size; at++) if (!layout.allocated(Math.floor(at / MiB))) image[at] = 0;
    const plain = spans.map(([from, to]) => ({ offset: from, data: image.subarray(from, to) }));
    const encoded = plain.map((p) => ({ ...p, vmdkGrains: encodeGrains(p.data, p.offset) }));
    const [a, b] = await Promise.all([vmdkBytes(layout, plain), vmdkBytes(layout, encoded)]);
    // zlib cuts a stored grain into blocks by the room left in its output buffer, so the streams'
    // bytes may differ; what they hold may not: the same grains in the same sectors, the same tables.
    expect(b.length).toBe(a.length);
    expect(grainTables(b)).toEqual(grainTables(a));
    const grainsA = walkGrains(a);
    const grainsB = walkGrains(b);
    const nonZero = Array.from({ length: Math.ceil(size / GRAIN) }, (_, g) => g).filter((g) => g % 3 !== 2 && layout.allocated(Math.floor((g * GRAIN) / MiB)));
    expect(grainsA.map((g) => g.lba / 128)).toEqual(nonZero);
    expect(grainsB.map((g) => g.lba)).toEqual(grainsA.map((g) => g.lba));
    expect(grainsB.every((g, i) => g.data.equals(grainsA[i]?.data ?? Buffer.alloc(0)))).toBe(true);
    const disk = Buffer.alloc(size + GRAIN);
    for (const g of grainsB) g.data.copy(disk, g.lba * 512);
    expect(disk.subarray(0, size).equals(image)).toBe(true);
  });

  it("places the grains it is given and does not encode the data again, the disk's short last grain too", async () => {
    // Grains encoded from other bytes of the same shape: the image must hold those, proving they were used.
    const size = 2 * MiB + 3000;
    const layout: DiskLayout = { size, blockSize: MiB, allocated: () => true };
    const given = Buffer.alloc(size, 0x41);
    const other = Buffer.alloc(size, 0x42);
    const pieces = [[0, 2 * MiB], [2 * MiB, size]].map(([from = 0, to = 0]) => ({ offset: from, data: given.subarray(from, to), vmdkGrains: encodeGrains(other.subarray(from, to), from) }));
    const grains = walkGrains(await vmdkBytes(layout, pieces));
    expect(grains.length).toBe(Math.ceil(size / GRAIN));
    const lastGrain = grains.at(-1)?.data;
    expect(grains.every((g) => g.data[0] === 0x42)).toBe(true);
    expect(lastGrain?.subarray(0, 3000).every((x) => x === 0x42)).toBe(true);
    expect(lastGrain?.subarray(3000).every((x) => x === 0)).toBe(true);
  });

  it("refuses a piece whose encoded grains do not cover it, or belong elsewhere on the disk", async () => {
    const layout: DiskLayout = { size: 2 * MiB, blockSize: MiB, allocated: (b) => b === 1 };
    const data = Buffer.alloc(MiB, 1);
    const short = { offset: MiB, data, vmdkGrains: encodeGrains(data.subarray(0, MiB / 2), MiB) };
    await expect(vmdkBytes(layout, [short])).rejects.toThrow(/8 encoded grains for the 16 grains/);
    const elsewhere = { offset: MiB, data, vmdkGrains: encodeGrains(data, 0) };
    await expect(vmdkBytes(layout, [elsewhere])).rejects.toThrow(/encoded grain for sector 2048 is marked for sector 0/);
    const garbled = encodeGrains(data, MiB);
    garbled.records.writeUInt32LE(garbled.records.readUInt32LE(8) + 600, 8); // the first record's data size
    await expect(vmdkBytes(layout, [{ offset: MiB, data, vmdkGrains: garbled }])).rejects.toThrow(/says \d+ bytes of data in a record of \d+/);
  });

  it("writes an empty disk as metadata only, with no grain table", async () => {
    const img = await vmdkBytes({ size: 100 * MiB, blockSize: MiB, allocated: () => false }, []);
    // header, descriptor and padding (128 sectors), GD marker, GD, footer marker, footer, EOS
    expect(img.length).toBe((128 + 5) * 512);
    expect(img.subarray(129 * 512, 130 * 512).every((b) => b === 0)).toBe(true);
  });
});
