import { Readable } from "node:stream";
import { describe, expect, it } from "@jest/globals";
import { streamParts } from "./stream-parts.js";

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
