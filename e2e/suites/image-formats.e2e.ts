// The image writers judged by qemu-img (Debian's qemu-utils, which the test
// bed installs): for each format, `qemu-img check` where qemu has a check for
// it (qcow2, vmdk; it has none for vpc or raw), `qemu-img info` for the
// format and virtual size, and `qemu-img compare` against a raw reference
// written straight from the same pieces. Disks: a sparse 10 GiB disk with
// scattered and partly-zero 1 MiB blocks, 100 MiB of random data, and two
// disks whose sizes are not whole MiB (one not even whole sectors). Needs no
// cluster. Files go to a temporary directory, written sparsely (zero chunks
// become holes) so the 10 GiB images cost only their data on disk.
import { createCipheriv } from "node:crypto";
import { mkdtemp, open, rm, stat, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { qemuFormat, qemuImg } from "../support/qemu-img.js";
import { createImageStream, imageVirtualSize, type DiskLayout, type DiskPiece, type ImageFormat } from "../../operator/src/image/writer.js";

jest.setTimeout(300_000);

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const FORMATS: readonly ImageFormat[] = ["raw", "qcow2", "vhd", "vhd-fixed", "vmdk"];

interface TestDisk {
  readonly name: string;
  readonly layout: DiskLayout;
  /** The disk's pieces, generated again on every call (the same bytes each time). */
  readonly pieces: () => Generator<DiskPiece>;
  /** Bytes of allocated blocks. */
  readonly allocatedBytes: number;
}

/** Deterministic, incompressible bytes for block `block` of disk `seed`. */
function noise(seed: number, block: number, length: number): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(seed, 0);
  iv.writeUInt32BE(block, 12);
  return createCipheriv("aes-128-ctr", Buffer.alloc(16, 0x5a), iv).update(Buffer.alloc(length));
}

/**
 * A disk of `size` bytes whose allocated blocks are `blocks`; `shape` may zero
 * parts of a block's data. Consecutive blocks go out as one piece now and
 * then, as the restore worker may send them.
 */
function testDisk(name: string, seed: number, size: number, blockSize: number, blocks: readonly number[], shape?: (block: number, data: Buffer) => void, virtualSize?: number): TestDisk {
  const set = new Set(blocks);
  const sorted = [...set].sort((a, b) => a - b);
  const lengthOf = (b: number): number => Math.min(blockSize, size - b * blockSize);
  const layout: DiskLayout = { size, blockSize, allocated: (b) => set.has(b), ...(virtualSize === undefined ? {} : { virtualSize }) };
  return {
    name,
    layout,
    allocatedBytes: sorted.reduce((n, b) => n + lengthOf(b), 0),
    *pieces() {
      for (let i = 0; i < sorted.length; ) {
        const first = sorted[i] ?? 0;
        let count = 1;
        // Every third run of consecutive blocks goes out as pieces of up to 3 blocks.
        while (first % 3 === 0 && count < 3 && set.has(first + count)) count++;
        const parts = Array.from({ length: count }, (_, k) => {
          const data = noise(seed, first + k, lengthOf(first + k));
          shape?.(first + k, data);
          return data;
        });
        yield { offset: first * blockSize, data: Buffer.concat(parts) };
        i += count;
      }
    },
  };
}

const disks: TestDisk[] = [
  // 10 GiB, 1 MiB blocks: ~60 scattered blocks and a few runs, the last block included; some partly zero.
  testDisk(
    "sparse 10 GiB",
    1,
    10 * GiB,
    MiB,
    [0, 1, 2, 3, 4, 511, 512, 513, ...Array.from({ length: 50 }, (_, i) => 700 + i * 191), 5000, 5001, 10239],
    (block, data) => {
      if (block % 4 === 1) data.fill(0, 0, data.length / 2); // first half zero
      if (block % 4 === 2) data.fill(0, 64 * KiB, 192 * KiB); // two zero grains in the middle
      if (block === 5001) data.fill(0, 4 * KiB); // 4 KiB of data, the rest zero
    },
  ),
  // 100 MiB of random data in 4 MiB blocks, all allocated.
  testDisk("random 100 MiB", 2, 100 * MiB, 4 * MiB, Array.from({ length: 25 }, (_, i) => i)),
  // Not whole MiB (whole sectors), 256 KiB blocks, some missing; a 1 GiB virtual size, as clouds want.
  testDisk("37 MiB + 12 KiB in 1 GiB", 3, 37 * MiB + 12 * KiB, 256 * KiB, Array.from({ length: 149 }, (_, i) => i).filter((b) => b % 5 !== 3), undefined, GiB),
  // Not whole sectors, 8 MiB blocks, the short last block allocated.
  testDisk("37 MiB + 12345 bytes", 4, 37 * MiB + 12345, 8 * MiB, [0, 2, 4], (block, data) => {
    if (block === 2) data.fill(0, MiB, 3 * MiB);
  }),
];

/** Writes the bytes of a stream to a file, leaving zero chunks as holes; counts the bytes. */
class SparseFileSink extends Writable {
  bytes = 0;
  readonly #file: FileHandle;
  readonly #zeros = Buffer.alloc(MiB);

  constructor(file: FileHandle) {
    super({ highWaterMark: 4 * MiB });
    this.#file = file;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const at = this.bytes;
    this.bytes += chunk.length;
    if (this.#isZero(chunk)) {
      callback();
      return;
    }
    this.#file.write(chunk, 0, chunk.length, at).then(() => { callback(); }, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#file.truncate(this.bytes).then(() => { callback(); }, callback);
  }

  #isZero(chunk: Buffer): boolean {
    for (let at = 0; at < chunk.length; at += MiB) {
      const part = chunk.subarray(at, Math.min(chunk.length, at + MiB));
      if (!part.equals(this.#zeros.subarray(0, part.length))) return false;
    }
    return true;
  }
}

/** Writes `disk` as `format` to `path`; returns the bytes written and the seconds taken. */
async function writeImage(disk: TestDisk, format: ImageFormat, path: string): Promise<{ bytes: number; seconds: number; imageSize: number | undefined }> {
  const file = await open(path, "w");
  try {
    const started = process.hrtime.bigint();
    const image = createImageStream(format, disk.layout);
    const sink = new SparseFileSink(file);
    await pipeline(Readable.from(disk.pieces()), image.stream, sink);
    return { bytes: sink.bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9, imageSize: image.imageSize };
  } finally {
    await file.close();
  }
}

/** The reference: the disk's pieces written at their offsets into a sparse file of the disk's size. */
async function writeReference(disk: TestDisk, path: string): Promise<void> {
  const file = await open(path, "w");
  try {
    for (const piece of disk.pieces()) await file.write(piece.data, 0, piece.data.length, piece.offset);
    await file.truncate(disk.layout.size);
  } finally {
    await file.close();
  }
}

/** qemu-img's output; throws with its words when it exits non-zero (a difference, corruption or leak). */
async function qemuImgOk(args: string[]): Promise<string> {
  const r = await qemuImg(args);
  if (r.code !== 0) throw new Error(`qemu-img ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

let dir: string;
const results: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lifeboat-images-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  if (results.length > 0) console.log(`Image writers (disk, format: image bytes, seconds, MB/s of allocated data):\n${results.join("\n")}`);
});

describe.each(disks)("$name", (disk) => {
  const reference = (): string => join(dir, `${disk.name.replace(/\W+/g, "-")}.reference.raw`);
  const written = new Map<ImageFormat, { path: string; bytes: number }>();

  beforeAll(async () => {
    await writeReference(disk, reference());
  });

  afterAll(async () => {
    await rm(reference(), { force: true });
    for (const { path } of written.values()) await rm(path, { force: true });
  });

  it.each(FORMATS)("%s: qemu-img reads it as the same disk", async (format) => {
    const path = join(dir, `${disk.name.replace(/\W+/g, "-")}.${format}`);
    const { bytes, seconds, imageSize } = await writeImage(disk, format, path);
    written.set(format, { path, bytes });
    results.push(`  ${disk.name}, ${format}: ${bytes} bytes, ${seconds.toFixed(2)} s, ${(disk.allocatedBytes / 1e6 / seconds).toFixed(0)} MB/s`);
    expect((await stat(path)).size).toBe(bytes);
    if (format !== "vmdk") expect(bytes).toBe(imageSize);

    const f = qemuFormat(format);
    const info = JSON.parse(await qemuImgOk(["info", "--output=json", "-f", f, path])) as {
      format: string;
      "virtual-size": number;
      "format-specific"?: { data?: { "create-type"?: string; compat?: string; "refcount-bits"?: number } };
    };
    expect(info.format).toBe(f);
    // qemu counts whole sectors: it reads a raw file that ends mid-sector as if zeros filled the sector.
    const virtualSize = imageVirtualSize(format, disk.layout);
    expect(info["virtual-size"]).toBe(format === "raw" ? Math.ceil(virtualSize / 512) * 512 : virtualSize);
    if (format === "raw") expect(bytes).toBe(virtualSize);
    if (format === "vmdk") expect(info["format-specific"]?.data?.["create-type"]).toBe("streamOptimized");
    if (format === "qcow2") expect(info["format-specific"]?.data).toMatchObject({ compat: "1.1", "refcount-bits": 16 });

    if (format === "qcow2" || format === "vmdk") {
      // Exit status 0: no corruptions, no leaks (qemu-img check exits 2 and 3 for those).
      const check = JSON.parse(await qemuImgOk(["check", "--output=json", "-f", f, path])) as Record<string, unknown>;
      expect(check["corruptions"] ?? 0).toBe(0);
      expect(check["leaks"] ?? 0).toBe(0);
      expect(check["check-errors"]).toBe(0);
    }

    const compare = await qemuImgOk(["compare", "-f", "raw", "-F", f, reference(), path]);
    expect(compare).toContain("Images are identical.");
  });

  if (disk.name === "sparse 10 GiB") {
    it("keeps the sparse formats about the size of the allocated data", () => {
      const data = disk.allocatedBytes;
      const qcow2 = written.get("qcow2")?.bytes ?? Infinity;
      const vmdk = written.get("vmdk")?.bytes ?? Infinity;
      const vhd = written.get("vhd")?.bytes ?? Infinity;
      // qcow2: the allocated clusters plus a few clusters of metadata.
      expect(qcow2).toBeLessThanOrEqual(data + 40 * 64 * KiB);
      // VMDK: no more than the data (incompressible, less its zero grains) and its markers.
      expect(vmdk).toBeLessThanOrEqual(data * 1.01 + 64 * KiB);
      // VHD: whole 2 MiB blocks, at most two per allocated 1 MiB block.
      expect(vhd).toBeLessThanOrEqual(2 * data + 64 * KiB);
      expect(written.get("raw")?.bytes).toBe(10 * GiB);
    });
  }
});
