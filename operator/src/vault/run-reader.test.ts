import { describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { runsOfBlocks, type DiskSource } from "./disk-io.js";
import { RunReader } from "./run-reader.js";

const BS = 1024;

/** A disk in memory whose ranges come in chunks of `chunk` bytes; records the ranges asked for and the ones ended early. */
function rangeSource(image: Buffer, chunk: number): DiskSource & { ranges: [number, number][]; endedEarly: number } {
  const src = {
    ranges: [] as [number, number][],
    endedEarly: 0,
    size: image.length,
    readInto: (): Promise<void> => Promise.reject(new Error("readInto must not be used when readRange is there")),
    async *readRange(offset: number, length: number): AsyncGenerator<Buffer> {
      src.ranges.push([offset, length]);
      let at = 0;
      try {
        for (; at < length; at += chunk) {
          await Promise.resolve(); // chunks come in later ticks, as from a socket
          yield image.subarray(offset + at, offset + Math.min(length, at + chunk));
        }
      } finally {
        if (at < length) src.endedEarly++;
      }
    },
    close: () => Promise.resolve(),
  };
  return src;
}

describe("runsOfBlocks", () => {
  it("groups adjacent blocks, splits at the cap and clips the last block at the disk's end", () => {
    const size = 20 * BS + 100;
    const runs = runsOfBlocks([0, 1, 2, 3, 4, 7, 9, 10, 20], BS, size, 3 * BS);
    expect(runs).toEqual([
      { first: 0, count: 3, offset: 0, length: 3 * BS },
      { first: 3, count: 2, offset: 3 * BS, length: 2 * BS },
      { first: 5, count: 1, offset: 7 * BS, length: BS },
      { first: 6, count: 2, offset: 9 * BS, length: 2 * BS },
      { first: 8, count: 1, offset: 20 * BS, length: 100 },
    ]);
    expect(runsOfBlocks([], BS, size, 3 * BS)).toEqual([]);
    // A cap below one block still reads one block per run.
    expect(runsOfBlocks([5, 6], BS, size, 10).map((r) => r.count)).toEqual([1, 1]);
  });
});

describe("RunReader", () => {
  it("reads each run as one range, cut into blocks in order, whatever the chunk sizes", async () => {
    const size = 12 * BS + 300;
    const image = randomBytes(size);
    const blocks = [0, 1, 2, 3, 4, 5, 8, 10, 11, 12];
    const source = rangeSource(image, 700); // chunks straddle block boundaries
    const reader = new RunReader(source, blocks, BS, 4 * BS);
    expect(reader.requests).toBe(4);
    // Four readers at once, each with its own buffer, as the backup does; reads are awaited out of order.
    const got = new Map<number, Buffer>();
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < blocks.length) {
        const index = next++;
        const b = blocks[index] ?? 0;
        const view = Buffer.alloc(Math.min(BS, size - b * BS));
        await reader.read(index, view);
        got.set(b, view);
        await new Promise((r) => setTimeout(r, (b * 7) % 3));
      }
    }));
    await reader.close();
    expect(source.ranges).toEqual([[0, 4 * BS], [4 * BS, 2 * BS], [8 * BS, BS], [10 * BS, 2 * BS + 300]]);
    for (const b of blocks) expect(got.get(b)?.equals(image.subarray(b * BS, Math.min(size, (b + 1) * BS)))).toBe(true);
    expect(source.endedEarly).toBe(0);
  });

  it("ends the transfer of a run left midway", async () => {
    const image = randomBytes(8 * BS);
    const source = rangeSource(image, 100);
    const reader = new RunReader(source, [0, 1, 2, 3], BS);
    const view = Buffer.alloc(BS);
    await reader.read(0, view);
    await reader.close();
    expect(source.endedEarly).toBe(1);
  });

  it("fails the block being read and those after it in the run when the range fails", async () => {
    const source: DiskSource = {
      size: 4 * BS,
      readInto: () => Promise.reject(new Error("unused")),
      async *readRange() {
        yield await Promise.resolve(Buffer.alloc(BS + 10));
        throw new Error("connection reset");
      },
      close: () => Promise.resolve(),
    };
    const reader = new RunReader(source, [0, 1, 2, 3], BS);
    const reads = await Promise.allSettled([0, 1, 2].map((i) => reader.read(i, Buffer.alloc(BS))));
    expect(reads.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected"]);
    for (const r of reads.slice(1)) expect(String((r as PromiseRejectedResult).reason)).toContain("connection reset");
    await reader.close();
  });

  it("rejects a range that runs past its last block", async () => {
    const source: DiskSource = {
      size: 4 * BS,
      readInto: () => Promise.reject(new Error("unused")),
      async *readRange(_offset, length) {
        yield await Promise.resolve(Buffer.alloc(length + 1));
      },
      close: () => Promise.resolve(),
    };
    const reader = new RunReader(source, [2], BS);
    await expect(reader.read(0, Buffer.alloc(BS))).rejects.toThrow("past its last block");
  });

  it("reads block by block from a source without ranges", async () => {
    const image = randomBytes(4 * BS);
    const offsets: number[] = [];
    const source: DiskSource = {
      size: image.length,
      readInto: (buffer, offset) => {
        offsets.push(offset);
        image.copy(buffer, 0, offset, offset + buffer.length);
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    };
    const reader = new RunReader(source, [1, 2, 3], BS);
    expect(reader.requests).toBe(3);
    const view = Buffer.alloc(BS);
    await reader.read(1, view);
    expect(view.equals(image.subarray(2 * BS, 3 * BS))).toBe(true);
    expect(offsets).toEqual([2 * BS]);
  });
});
