import { describe, expect, it } from "@jest/globals";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { checkLayout } from "./layout.js";
import { planVhdDynamic, vhdBat, vhdChecksum, vhdDynamicHeader, vhdFooter, vhdGeometry, VHD_BLOCK_SIZE, VHD_SIZE_RULES } from "./vhd.js";
import { createImageStream, type DiskLayout, type DiskPiece, type ImageFormat } from "./writer.js";

const KiB = 1024;
const MiB = 1024 * KiB;

async function bytes(format: ImageFormat, layout: DiskLayout, pieces: DiskPiece[]): Promise<Buffer> {
  const { stream } = createImageStream(format, layout);
  const out: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => out.push(chunk));
  await pipeline(Readable.from(pieces), stream);
  return Buffer.concat(out);
}

const u64 = (b: Buffer, at: number): number => Number(b.readBigUInt64BE(at));

describe("VHD structures", () => {
  it("computes the CHS geometry as the spec (and qemu-img) does", () => {
    // Totals in sectors of images qemu-img 7.2 created, with the geometry it wrote.
    expect(vhdGeometry(20536)).toEqual({ cylinders: 302, heads: 4, sectorsPerTrack: 17 });
    expect(vhdGeometry(77860)).toEqual({ cylinders: 916, heads: 5, sectorsPerTrack: 17 });
    expect(vhdGeometry(2097648)).toEqual({ cylinders: 2081, heads: 16, sectorsPerTrack: 63 });
    expect(vhdGeometry(20972448)).toEqual({ cylinders: 20806, heads: 16, sectorsPerTrack: 63 });
    expect(vhdGeometry(266338320)).toEqual({ cylinders: 65279, heads: 16, sectorsPerTrack: 255 });
    expect(vhdGeometry(4278190080)).toEqual({ cylinders: 65535, heads: 16, sectorsPerTrack: 255 });
  });

  it("writes a footer with the size, a creator qemu trusts for it, and a valid checksum", () => {
    const id = Buffer.from("00112233445566778899aabbccddeeff", "hex");
    const f = vhdFooter({ type: "dynamic", size: 38 * MiB, timestamp: 1234, uniqueId: id });
    expect(f.length).toBe(512);
    expect(f.subarray(0, 8).toString("latin1")).toBe("conectix");
    expect(f.readUInt32BE(8)).toBe(2);
    expect(f.readUInt32BE(12)).toBe(0x00010000);
    expect(u64(f, 16)).toBe(512); // the dynamic header follows the footer copy
    expect(f.readUInt32BE(24)).toBe(1234);
    expect(f.subarray(28, 32).toString("latin1")).toBe("qem2");
    expect(f.subarray(36, 40).toString("latin1")).toBe("Wi2k");
    expect(u64(f, 40)).toBe(38 * MiB);
    expect(u64(f, 48)).toBe(38 * MiB);
    expect(f.readUInt32BE(60)).toBe(3);
    expect(f.subarray(68, 84).equals(id)).toBe(true);
    let sum = 0;
    for (let i = 0; i < 512; i++) if (i < 64 || i >= 68) sum += f[i] ?? 0;
    expect(f.readUInt32BE(64)).toBe(~sum >>> 0);
    expect(vhdChecksum(f, 64)).toBe(f.readUInt32BE(64));

    const fixed = vhdFooter({ type: "fixed", size: MiB, timestamp: 0, uniqueId: id });
    expect(fixed.readBigUInt64BE(16)).toBe(0xffffffffffffffffn);
    expect(fixed.readUInt32BE(60)).toBe(2);
  });

  it("writes a dynamic header for 2 MiB blocks with the BAT after it", () => {
    const h = vhdDynamicHeader(19);
    expect(h.length).toBe(1024);
    expect(h.subarray(0, 8).toString("latin1")).toBe("cxsparse");
    expect(h.readBigUInt64BE(8)).toBe(0xffffffffffffffffn);
    expect(u64(h, 16)).toBe(1536);
    expect(h.readUInt32BE(24)).toBe(0x00010000);
    expect(h.readUInt32BE(28)).toBe(19);
    expect(h.readUInt32BE(32)).toBe(2 * MiB);
    expect(vhdChecksum(h, 36)).toBe(h.readUInt32BE(36));
  });

  it("points BAT entries at the present blocks' bitmaps, in order, and pads with 0xFFFFFFFF", () => {
    // 256 KiB blocks: block 9 lies in VHD block 1, blocks 40 and 41 in VHD block 5.
    const layout = checkLayout({ size: 11 * MiB + 5, blockSize: 256 * KiB, allocated: (b) => b === 9 || b === 40 || b === 41 }, VHD_SIZE_RULES);
    const plan = planVhdDynamic(layout);
    expect(plan.virtualSize).toBe(12 * MiB);
    expect(plan.blocks).toBe(6);
    expect(plan.presentCount).toBe(2);
    const bat = Buffer.concat([...vhdBat(plan)]);
    expect(bat.length).toBe(512);
    const dataSector = (512 + 1024 + 512) / 512;
    expect([0, 1, 2, 3, 4, 5, 6, 127].map((i) => bat.readUInt32BE(i * 4))).toEqual([
      0xffffffff, dataSector, 0xffffffff, 0xffffffff, 0xffffffff, dataSector + (512 + VHD_BLOCK_SIZE) / 512, 0xffffffff, 0xffffffff,
    ]);
    expect(plan.imageSize).toBe(2048 + 2 * (512 + VHD_BLOCK_SIZE) + 512);
  });
});

describe("VHD writers", () => {
  const size = 5 * MiB + 1000;
  const layout: DiskLayout = { size, blockSize: MiB, allocated: (b) => b === 2 || b === 5 };
  const pieces: DiskPiece[] = [
    { offset: 2 * MiB, data: Buffer.alloc(MiB, 7) },
    { offset: 5 * MiB, data: Buffer.alloc(1000, 9) },
  ];

  it("writes a dynamic disk: footer copy, header, BAT, blocks with full bitmaps, footer", async () => {
    const img = await bytes("vhd", layout, pieces);
    const footer = img.subarray(img.length - 512);
    expect(img.subarray(0, 512).equals(footer)).toBe(true);
    expect(u64(footer, 48)).toBe(6 * MiB);
    const bat = img.subarray(1536, 2048);
    expect(bat.readUInt32BE(0)).toBe(0xffffffff);
    const second = bat.readUInt32BE(4) * 512;
    const third = bat.readUInt32BE(8) * 512;
    expect(second).toBe(2048);
    expect(third).toBe(2048 + 512 + VHD_BLOCK_SIZE);
    expect(img.subarray(second, second + 512).every((b) => b === 0xff)).toBe(true);
    const block1 = img.subarray(second + 512, second + 512 + VHD_BLOCK_SIZE);
    expect(block1.subarray(0, MiB).every((b) => b === 7)).toBe(true);
    expect(block1.subarray(MiB).every((b) => b === 0)).toBe(true);
    const block2 = img.subarray(third + 512, third + 512 + VHD_BLOCK_SIZE);
    expect(block2.subarray(MiB, MiB + 1000).every((b) => b === 9)).toBe(true);
    expect(block2.subarray(MiB + 1000).every((b) => b === 0)).toBe(true);
    expect(img.length).toBe(third + 512 + VHD_BLOCK_SIZE + 512);
  });

  it("writes a fixed disk: the bytes up to a whole MiB, then the footer", async () => {
    const img = await bytes("vhd-fixed", { ...layout, virtualSize: 64 * MiB - 1 }, pieces);
    expect(img.length).toBe(64 * MiB + 512);
    const footer = img.subarray(64 * MiB);
    expect(footer.readUInt32BE(60)).toBe(2);
    expect(u64(footer, 48)).toBe(64 * MiB);
    expect(img.subarray(2 * MiB, 3 * MiB).every((b) => b === 7)).toBe(true);
    expect(img.subarray(3 * MiB, 5 * MiB).every((b) => b === 0)).toBe(true);
  });
});
