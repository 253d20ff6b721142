import { describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ImageFormatError } from "./errors.js";
import { readStreamOptimizedVmdk, type VmdkStreamInfo } from "./vmdk-reader.js";
import { createImageStream, type DiskLayout, type DiskPiece } from "./writer.js";

const KiB = 1024;
const MiB = 1024 * KiB;

async function vmdkBytes(layout: DiskLayout, pieces: DiskPiece[]): Promise<Buffer> {
  const { stream } = createImageStream("vmdk", layout);
  const out: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => out.push(chunk));
  await pipeline(Readable.from(pieces), stream);
  return Buffer.concat(out);
}

/** Chunks of awkward sizes, as a network read gives them. */
function chunked(bytes: Buffer, size: number): AsyncIterable<Buffer> {
  return Readable.from((function* () {
    for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
  })());
}

/** The disk the grains describe, laid onto zeros. */
async function layDown(image: Buffer, size: number, chunk: number): Promise<{ disk: Buffer; info: VmdkStreamInfo | undefined; grains: number }> {
  const disk = Buffer.alloc(size);
  let info: VmdkStreamInfo | undefined;
  let grains = 0;
  for await (const g of readStreamOptimizedVmdk(chunked(image, chunk), (i) => (info = i))) {
    g.data.copy(disk, g.offset, 0, Math.max(0, Math.min(g.data.length, size - g.offset)));
    grains++;
  }
  return { disk, info, grains };
}

describe("reading a stream-optimized VMDK front to back", () => {
  it("gives back the disk the writer was given: random, compressible and zero grains, an odd size", async () => {
    const size = 13 * MiB + 12345;
    const source = Buffer.alloc(size);
    randomBytes(3 * MiB).copy(source, 256 * KiB);
    for (let i = 8 * MiB; i < 9 * MiB; i++) source[i] = i % 7;
    randomBytes(12345).copy(source, size - 12345);
    const blockSize = 256 * KiB;
    const allocated = (b: number) => source.subarray(b * blockSize, (b + 1) * blockSize).some((x) => x !== 0);
    const pieces: DiskPiece[] = [];
    for (let b = 0; b * blockSize < size; b++) if (allocated(b)) pieces.push({ offset: b * blockSize, data: source.subarray(b * blockSize, Math.min(size, (b + 1) * blockSize)) });
    const image = await vmdkBytes({ size, blockSize, allocated, virtualSize: 16 * MiB }, pieces);

    for (const chunk of [4096, 65_537]) {
      const { disk, info, grains } = await layDown(image, size, chunk);
      expect(disk.equals(source)).toBe(true);
      expect(info).toEqual({ capacityBytes: 16 * MiB, grainBytes: 64 * KiB });
      // Only the grains that hold data travel: 3 MiB + 1 MiB + the tail's one or two grains.
      expect(grains).toBeLessThanOrEqual(48 + 16 + 2);
    }
  }, 60_000);

  it("refuses what is not a stream-optimized VMDK, and a stream cut short", async () => {
    await expect(layDown(Buffer.alloc(4096), 4096, 512)).rejects.toThrow(ImageFormatError);
    await expect(layDown(Buffer.alloc(4096), 4096, 512)).rejects.toThrow(/magic number KDMV/);
    const image = await vmdkBytes({ size: MiB, blockSize: 256 * KiB, allocated: () => true }, [{ offset: 0, data: randomBytes(MiB) }]);
    await expect(layDown(image.subarray(0, image.length - 2048), MiB, 4096)).rejects.toThrow(/ended in the middle of a record/);
  });
});
