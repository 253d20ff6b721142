// qemu-img is the judge: it writes the images this reader maps.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ImageFormatError } from "./errors.js";
import { readQcow2Guest, readQcow2Map, type ReadAt } from "./qcow2-map.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;
let dir: string;

/** A raw disk of `size` bytes with `pieces` written at their offsets (sparse elsewhere). */
async function rawDisk(name: string, size: number, pieces: [number, Buffer][]): Promise<string> {
  const path = join(dir, name);
  const fh = await open(path, "w");
  for (const [at, data] of pieces) await fh.write(data, 0, data.length, at);
  await fh.truncate(size);
  await fh.close();
  return path;
}

async function fileReader(path: string): Promise<{ read: ReadAt; close: () => Promise<void> }> {
  const fh = await open(path, "r");
  return {
    read: async (offset, length) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    },
    close: () => fh.close(),
  };
}

const pattern = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251 || 1));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "qcow2-map-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the allocation map of a QCOW2 image", () => {
  it("finds exactly the written clusters of a qemu-img image, and reads the guest bytes back", async () => {
    const size = 3 * 1024 * MiB;
    const a = pattern(3 * MiB, 1);
    const b = pattern(100_000, 2);
    const c = pattern(64 * 1024, 3);
    const raw = await rawDisk("a.raw", size, [[0, a], [1024 * MiB + 5000, b], [size - c.length, c]]);
    const img = join(dir, "a.qcow2");
    await run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, img]);
    const f = await fileReader(img);
    try {
      const map = await readQcow2Map(f.read);
      expect(map.virtualSize).toBe(size);
      const allocated = map.extents.reduce((s, e) => s + e.length, 0);
      // Whole 64 KiB clusters around what was written, and nothing else.
      expect(allocated).toBeGreaterThanOrEqual(a.length + b.length + c.length);
      expect(allocated).toBeLessThanOrEqual(a.length + b.length + c.length + 4 * map.clusterSize);
      const guest = Buffer.alloc(4 * MiB);
      await readQcow2Guest(map, f.read, guest, 1024 * MiB);
      const expected = Buffer.alloc(4 * MiB);
      b.copy(expected, 5000);
      expect(guest.equals(expected)).toBe(true);
      const start = Buffer.alloc(a.length);
      await readQcow2Guest(map, f.read, start, 0);
      expect(start.equals(a)).toBe(true);
      const end = Buffer.alloc(c.length);
      await readQcow2Guest(map, f.read, end, size - c.length);
      expect(end.equals(c)).toBe(true);
      const hole = Buffer.alloc(MiB, 7);
      await readQcow2Guest(map, f.read, hole, 2 * 1024 * MiB);
      expect(hole.equals(Buffer.alloc(MiB))).toBe(true);
    } finally {
      await f.close();
    }
  });

  it("maps version 2 images and small clusters too", async () => {
    const raw = await rawDisk("b.raw", 64 * MiB, [[10 * MiB, pattern(10_000, 4)]]);
    const img = join(dir, "b.qcow2");
    await run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", "-o", "compat=0.10,cluster_size=4096", raw, img]);
    const f = await fileReader(img);
    try {
      const map = await readQcow2Map(f.read);
      expect(map.clusterSize).toBe(4096);
      expect(map.extents.map((e) => [e.guestOffset, e.length])).toEqual([[10 * MiB, 12_288]]);
    } finally {
      await f.close();
    }
  });

  it("refuses compressed clusters and files that are not QCOW2, naming why", async () => {
    const raw = await rawDisk("c.raw", 8 * MiB, [[0, pattern(MiB, 5)]]);
    const img = join(dir, "c.qcow2");
    await run("qemu-img", ["convert", "-c", "-f", "raw", "-O", "qcow2", raw, img]);
    const f = await fileReader(img);
    try {
      await expect(readQcow2Map(f.read)).rejects.toThrow(/compressed/);
    } finally {
      await f.close();
    }
    const notQcow = join(dir, "d.raw");
    await writeFile(notQcow, Buffer.alloc(4096));
    const g = await fileReader(notQcow);
    try {
      await expect(readQcow2Map(g.read)).rejects.toBeInstanceOf(ImageFormatError);
    } finally {
      await g.close();
    }
  });
});
