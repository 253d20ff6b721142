import { describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { mkdtemp, open, rm, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { alignedBuffer, DIRECT_ALIGNMENT, directLength, O_DIRECT } from "./direct-io.js";
import { FilesystemBackend, writeAll } from "./filesystem.js";

/**
 * A file that takes at most `room` bytes per call, as a filling filesystem
 * does (a short write, no error), and nothing once `capacity` is reached.
 */
function shortWritingFile(room: number, capacity = Infinity): { file: Pick<FileHandle, "writev" | "write">; bytes: () => Buffer } {
  let stored = Buffer.alloc(0);
  const take = (data: Buffer, position: number): number => {
    const n = Math.max(0, Math.min(room, data.length, capacity - position));
    const next = Buffer.alloc(Math.max(stored.length, position + n));
    stored.copy(next);
    data.copy(next, position, 0, n);
    stored = next;
    return n;
  };
  const file = {
    writev: (buffers: NodeJS.ArrayBufferView[], position = 0) => Promise.resolve({ bytesWritten: take(Buffer.concat(buffers as Buffer[]), position), buffers }),
    write: (buffer: Buffer, offset = 0, length = buffer.length - offset, position = 0) =>
      Promise.resolve({ bytesWritten: take(buffer.subarray(offset, offset + length), position), buffer }),
  } as unknown as Pick<FileHandle, "writev" | "write">;
  return { file, bytes: () => stored };
}

describe("writeAll", () => {
  const chunks = [Buffer.alloc(700, 1), Buffer.alloc(500, 2), Buffer.alloc(300, 3)];

  it("writes what a short writev left, in order", async () => {
    const { file, bytes } = shortWritingFile(256);
    await writeAll(file, chunks);
    expect(bytes().equals(Buffer.concat(chunks))).toBe(true);
  });

  it("writes from the position asked, the rest of a short writev too (after a pack's directly written start)", async () => {
    const { file, bytes } = shortWritingFile(256);
    await writeAll(file, chunks, 8192);
    expect(bytes().subarray(8192).equals(Buffer.concat(chunks))).toBe(true);
    expect(bytes().length).toBe(8192 + 1500);
  });

  it("fails with ENOSPC when the file takes no more, rather than keep a truncated file", async () => {
    const { file, bytes } = shortWritingFile(1024, 1000);
    await expect(writeAll(file, chunks)).rejects.toMatchObject({ code: "ENOSPC" });
    expect(bytes().length).toBe(1000);
  });
});

describe("FilesystemBackend.readRange", () => {
  it("lends each read in flight a buffer of its own, takes it back for the next, and reads larger ranges whole", async () => {
    const dir = await mkdtemp(join(tmpdir(), "read-range-"));
    try {
      const backend = new FilesystemBackend(dir);
      const objects = Array.from({ length: 4 }, () => randomBytes(100 * 1024));
      await Promise.all(objects.map((data, i) => backend.put(`o/${i}`, data)));
      const lent: ArrayBufferLike[] = [];
      // Four at once: each decode sees its own object's bytes, not another read's.
      const read = await Promise.all(objects.map((_, i) => backend.readRange(`o/${i}`, 1000, 8192, (bytes) => {
        lent.push(bytes.buffer);
        return Buffer.from(bytes);
      })));
      read.forEach((bytes, i) => { expect(bytes.equals(objects[i]?.subarray(1000, 9192) ?? Buffer.alloc(0))).toBe(true); });
      expect(new Set(lent).size).toBe(4);
      // Later reads reuse the lent buffers.
      const again = await backend.readRange("o/0", 0, 16, (bytes) => bytes.buffer);
      expect(lent).toContain(again);
      // A range larger than a lent buffer is read whole.
      const whole = await backend.readRange("o/1", 0, 100 * 1024, (bytes) => Buffer.from(bytes));
      expect(whole.equals(objects[1] ?? Buffer.alloc(0))).toBe(true);
      // A decode that throws gives its buffer back and fails the read; a missing object is NotFound.
      await expect(backend.readRange("o/2", 0, 16, () => { throw new Error("bad header"); })).rejects.toThrow("bad header");
      expect(lent).toContain(await backend.readRange("o/2", 0, 16, (bytes) => bytes.buffer));
      await expect(backend.readRange("o/9", 0, 16, (bytes) => bytes.length)).rejects.toMatchObject({ reason: "NotFound" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("FilesystemBackend.getRange", () => {
  it("reads into the caller's buffer when it is large enough, else into a new one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "get-range-"));
    try {
      const backend = new FilesystemBackend(dir);
      const data = randomBytes(64 * 1024);
      await backend.put("o/0", data);
      const into = Buffer.alloc(32 * 1024);
      const view = await backend.getRange("o/0", 100, 20_000, into);
      expect(view.buffer).toBe(into.buffer);
      expect(view.byteOffset).toBe(into.byteOffset);
      expect(view.equals(data.subarray(100, 20_100))).toBe(true);
      const larger = await backend.getRange("o/0", 0, 40_000, into);
      expect(larger.buffer).not.toBe(into.buffer);
      expect(larger.equals(data.subarray(0, 40_000))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Whether the filesystem of `dir` takes an aligned O_DIRECT write (tmpfs before Linux 6.6 does not). */
async function takesDirectWrites(dir: string): Promise<boolean> {
  if (O_DIRECT === undefined) return false;
  const fh = await open(join(dir, "probe"), constants.O_WRONLY | constants.O_CREAT | O_DIRECT).catch(() => undefined);
  try {
    return (await fh?.write(alignedBuffer(DIRECT_ALIGNMENT), 0, DIRECT_ALIGNMENT, 0).then(() => true, () => false)) ?? false;
  } finally {
    await fh?.close();
    await rm(join(dir, "probe"), { force: true });
  }
}

describe("direct I/O", () => {
  it("knows the buffers it aligned, and only their aligned starts", () => {
    const buf = alignedBuffer(3 * DIRECT_ALIGNMENT + 100);
    expect(directLength(buf)).toBe(O_DIRECT === undefined ? 0 : 3 * DIRECT_ALIGNMENT);
    expect(directLength(buf.subarray(DIRECT_ALIGNMENT))).toBe(O_DIRECT === undefined ? 0 : 2 * DIRECT_ALIGNMENT);
    expect(directLength(buf.subarray(16))).toBe(0);
    expect(directLength(Buffer.allocUnsafeSlow(4 * DIRECT_ALIGNMENT))).toBe(0);
  });

  it("puts a pack's aligned start directly and the rest through the cache, and reads back every byte", async () => {
    const dir = await mkdtemp(join(tmpdir(), "direct-put-"));
    try {
      const direct = await takesDirectWrites(dir);
      const backend = new FilesystemBackend(dir);
      // A pack: blobs in an aligned buffer (a part block at the end), then its header and trailer.
      const blobs = alignedBuffer(5 * DIRECT_ALIGNMENT + 1234);
      randomBytes(blobs.length).copy(blobs);
      const pack = [blobs, randomBytes(300), randomBytes(8)];
      await backend.put("packs/a", pack);
      expect((await backend.get("packs/a")).equals(Buffer.concat(pack))).toBe(true);
      expect(backend.directBytes).toBe(direct ? 5 * DIRECT_ALIGNMENT : 0);
      // Exactly aligned, alone.
      const whole = alignedBuffer(2 * DIRECT_ALIGNMENT);
      randomBytes(whole.length).copy(whole);
      await backend.put("packs/b", whole);
      expect((await backend.get("packs/b")).equals(whole)).toBe(true);
      expect(backend.directBytes).toBe(direct ? 7 * DIRECT_ALIGNMENT : 0);
      // Shorter than a block, or not from alignedBuffer: through the cache only.
      const small = alignedBuffer(1000);
      randomBytes(small.length).copy(small);
      const plain = randomBytes(3 * DIRECT_ALIGNMENT);
      await backend.put("packs/c", small);
      await backend.put("packs/d", [plain, randomBytes(10)]);
      expect((await backend.get("packs/c")).equals(small)).toBe(true);
      expect((await backend.get("packs/d")).subarray(0, plain.length).equals(plain)).toBe(true);
      expect(backend.directBytes).toBe(direct ? 7 * DIRECT_ALIGNMENT : 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
