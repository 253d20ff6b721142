import { describe, expect, it } from "@jest/globals";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createImageStream, IMAGE_FORMATS, ImageFormatError, imageVirtualSize, type DiskLayout, type DiskPiece, type ImageFormat } from "./writer.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Runs pieces through an image stream and returns the image's bytes. */
async function image(format: ImageFormat, layout: DiskLayout, pieces: DiskPiece[]): Promise<Buffer> {
  const { stream } = createImageStream(format, layout);
  const out: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => out.push(chunk));
  await pipeline(Readable.from(pieces), stream);
  return Buffer.concat(out);
}

/** The error an image stream fails with. */
async function failure(format: ImageFormat, layout: DiskLayout, pieces: unknown[]): Promise<unknown> {
  try {
    await image(format, layout, pieces as DiskPiece[]);
  } catch (error) {
    return error;
  }
  throw new Error("the image stream did not fail");
}

const filled = (length: number, byte: number): Buffer => Buffer.alloc(length, byte);

describe("createImageStream", () => {
  // 3 blocks of 256 KiB and a short last one; blocks 0 and 3 hold data.
  const layout: DiskLayout = { size: 3 * 256 * KiB + 1000, blockSize: 256 * KiB, allocated: (b) => b === 0 || b === 3 };
  const pieces: DiskPiece[] = [
    { offset: 0, data: filled(256 * KiB, 1) },
    { offset: 3 * 256 * KiB, data: filled(1000, 2) },
  ];

  it("writes exactly imageSize bytes for every format that knows it, and names the extension", async () => {
    for (const format of IMAGE_FORMATS) {
      const s = createImageStream(format, layout);
      expect(s.extension).toBe(format === "vhd-fixed" ? "vhd" : format);
      const bytes = await image(format, layout, pieces);
      if (format === "vmdk") expect(s.imageSize).toBeUndefined();
      else expect(bytes.length).toBe(s.imageSize);
    }
  });

  it("writes raw images as the disk's bytes with zeros in the holes, up to the virtual size", async () => {
    const bytes = await image("raw", { ...layout, virtualSize: 2 * MiB }, pieces);
    const expected = Buffer.alloc(2 * MiB);
    expected.fill(1, 0, 256 * KiB);
    expected.fill(2, 3 * 256 * KiB, 3 * 256 * KiB + 1000);
    expect(bytes.equals(expected)).toBe(true);
  });

  it("takes pieces of several blocks", async () => {
    const all: DiskLayout = { size: MiB, blockSize: 256 * KiB, allocated: () => true };
    const bytes = await image("raw", all, [{ offset: 0, data: filled(512 * KiB, 3) }, { offset: 512 * KiB, data: filled(512 * KiB, 4) }]);
    expect(bytes.subarray(0, 512 * KiB).every((b) => b === 3)).toBe(true);
    expect(bytes.subarray(512 * KiB).every((b) => b === 4)).toBe(true);
  });

  it("takes pieces only as fast as the image is read, and stops cleanly when destroyed", async () => {
    const all: DiskLayout = { size: 64 * MiB, blockSize: MiB, allocated: () => true };
    let made = 0;
    function* source(): Generator<DiskPiece> {
      for (let b = 0; b < 64; b++) {
        made++;
        yield { offset: b * MiB, data: filled(MiB, b) };
      }
    }
    const { stream } = createImageStream("qcow2", all);
    Readable.from(source()).pipe(stream);
    const reader = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let read = 0;
    while (read < 8 * MiB) read += ((await reader.next()).value as Buffer).length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The metadata, then ~8 MiB of data read: a few pieces ahead at most, not all 64.
    expect(made).toBeLessThan(16);
    const closed = new Promise((resolve) => stream.once("close", resolve));
    stream.destroy();
    await closed;
  });

  it("rounds the virtual size up as each format needs", () => {
    const odd: DiskLayout = { size: 37 * MiB + 12345, blockSize: MiB, allocated: () => true };
    expect(imageVirtualSize("raw", odd)).toBe(37 * MiB + 12345);
    expect(imageVirtualSize("qcow2", odd)).toBe(37 * MiB + 12800);
    expect(imageVirtualSize("vmdk", odd)).toBe(37 * MiB + 12800);
    expect(imageVirtualSize("vhd", odd)).toBe(38 * MiB);
    expect(imageVirtualSize("vhd-fixed", { ...odd, virtualSize: 40 * GiB + 1 })).toBe(40 * GiB + MiB);
  });

  it("refuses bad layouts with an ImageFormatError that names the problem", () => {
    const ok: DiskLayout = { size: MiB, blockSize: MiB, allocated: () => true };
    const cases: [DiskLayout, RegExp][] = [
      [{ ...ok, size: 0 }, /disk size 0/],
      [{ ...ok, size: 1.5 }, /disk size 1.5/],
      [{ ...ok, blockSize: 3 * MiB }, /block size 3145728 is not a power of two/],
      [{ ...ok, blockSize: 128 * KiB }, /from 256 KiB to 8 MiB/],
      [{ ...ok, virtualSize: MiB - 1 }, /virtual size 1048575 is smaller than the disk/],
    ];
    for (const [bad, message] of cases) {
      expect(() => createImageStream("qcow2", bad)).toThrow(ImageFormatError);
      expect(() => createImageStream("qcow2", bad)).toThrow(message);
    }
    expect(() => createImageStream("iso" as ImageFormat, ok)).toThrow(/Unknown image format "iso"/);
  });

  it("refuses disks over a format's limit, naming the limit", () => {
    const big: DiskLayout = { size: 2041 * GiB, blockSize: 8 * MiB, allocated: () => false };
    expect(() => createImageStream("vhd", big)).toThrow(/2040 GiB/);
    expect(() => createImageStream("vhd-fixed", big)).toThrow(ImageFormatError);
    expect(() => createImageStream("vhd", { ...big, size: 2040 * GiB })).not.toThrow();
    expect(() => createImageStream("vmdk", { ...big, virtualSize: 63 * 1024 * GiB })).toThrow(/62 TiB/);
    expect(() => createImageStream("qcow2", { ...big, virtualSize: 63 * 1024 * GiB })).not.toThrow();
  });

  it("fails the stream with an ImageFormatError when a piece breaks the contract", async () => {
    const four: DiskLayout = { size: 4 * 256 * KiB, blockSize: 256 * KiB, allocated: (b) => b !== 2 };
    const block = (n: number, length = 256 * KiB): DiskPiece => ({ offset: n * 256 * KiB, data: filled(length, n + 1) });
    const cases: [unknown[], RegExp][] = [
      [[block(0), block(0)], /came after one that ended/],
      [[block(1), block(0)], /Block 0 .* is allocated but was not given before the piece at offset 262144/],
      [[block(0), block(1), block(2)], /block 2, which the layout says is not allocated/],
      [[block(0), block(3)], /Block 1 \(offset 262144\) is allocated but was not given/],
      [[block(0), block(1)], /Block 3 .* is allocated but was not given before the end of the input/],
      [[block(0, 1000)], /holds 1000 bytes/],
      [[{ offset: 1000, data: filled(1000, 1) }], /not on a 262144-byte block boundary/],
      [[block(0), block(1), block(3), block(4)], /at or past the end/],
      [[{ offset: 0, data: "text" }], /not a DiskPiece/],
    ];
    for (const format of ["raw", "qcow2", "vhd", "vmdk"] as const) {
      for (const [pieces, message] of cases) {
        const error = await failure(format, four, pieces);
        expect(error).toBeInstanceOf(ImageFormatError);
        expect((error as Error).message).toMatch(message);
      }
    }
  });
});
