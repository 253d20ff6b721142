import { Readable } from "node:stream";
import { describe, expect, it } from "@jest/globals";
import { MIN_PART_SIZE, partSizeFor, streamParts } from "./stream-parts.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

async function cut(chunks: Buffer[], partSize: number, limit: number): Promise<{ parts: number[]; total: number }> {
  const c = streamParts(Readable.from(chunks), partSize, limit, "The test stream");
  const parts: number[] = [];
  for await (const p of c.parts) parts.push(p.length);
  return { parts, total: c.total() };
}

describe("streamParts", () => {
  it("cuts whole parts across chunk boundaries, the last one short", async () => {
    expect(await cut([Buffer.alloc(7), Buffer.alloc(10), Buffer.alloc(4)], 8, 100)).toEqual({ parts: [8, 8, 5], total: 21 });
  });

  it("sends no empty last part when the stream ends on a part boundary, and one for an empty stream", async () => {
    expect(await cut([Buffer.alloc(16)], 8, 16)).toEqual({ parts: [8, 8], total: 16 });
    expect(await cut([], 8, 16)).toEqual({ parts: [0], total: 0 });
  });

  it("keeps the bytes in order", async () => {
    const data = Buffer.from(Array.from({ length: 50 }, (_, i) => i));
    const c = streamParts(Readable.from([data.subarray(0, 13), data.subarray(13)]), 16, 64, "The test stream");
    const out: Buffer[] = [];
    for await (const p of c.parts) out.push(Buffer.from(p));
    expect(Buffer.concat(out).equals(data)).toBe(true);
  });

  it("refuses a stream longer than its limit", async () => {
    await expect(cut([Buffer.alloc(10), Buffer.alloc(10)], 8, 15)).rejects.toThrow("The test stream delivered more than its 15 bytes");
  });
});

describe("partSizeFor", () => {
  it("uses 16 MiB parts up to 10 000 of them, then whole MiB parts that fit 10 000", () => {
    expect(partSizeFor(1)).toBe(MIN_PART_SIZE);
    expect(partSizeFor(10_000 * 16 * MiB)).toBe(16 * MiB);
    expect(partSizeFor(10_000 * 16 * MiB + 1)).toBe(17 * MiB);
    expect(partSizeFor(10_000 * 64 * MiB)).toBe(64 * MiB);
    const big = 2 * 1024 * GiB;
    expect(Math.ceil(big / partSizeFor(big))).toBeLessThanOrEqual(10_000);
  });
});
