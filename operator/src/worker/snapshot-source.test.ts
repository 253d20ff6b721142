import { describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { resumingRange, snapshotSource } from "./snapshot-source.js";
import { TokenBucket } from "./token-bucket.js";

const KiB = 1024;

/**
 * Opens ranges of `image` as streams of 4 KiB chunks; the n-th open (from 0)
 * breaks after `breakAfter[n]` bytes, when given. Records what was asked.
 */
function opener(image: Buffer, breakAfter: (number | undefined)[] = []): { open: (offset: number, length: number) => Promise<Readable>; asked: [number, number][]; streams: Readable[] } {
  const state = {
    asked: [] as [number, number][],
    streams: [] as Readable[],
    open: (offset: number, length: number): Promise<Readable> => {
      const limit = breakAfter[state.asked.length];
      state.asked.push([offset, length]);
      const stream = Readable.from((function* () {
        for (let at = 0; at < length; at += 4 * KiB) {
          if (limit !== undefined && at >= limit) throw new Error("connection reset");
          yield image.subarray(offset + at, offset + Math.min(length, at + 4 * KiB));
        }
      })(), { objectMode: false });
      state.streams.push(stream);
      return Promise.resolve(stream);
    },
  };
  return state;
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

describe("resumingRange", () => {
  it("reads a range in one request when nothing fails", async () => {
    const image = randomBytes(256 * KiB);
    const o = opener(image);
    const got = await collect(resumingRange(o.open, 8 * KiB, 200 * KiB, 3, new AbortController().signal, "test"));
    expect(got.equals(image.subarray(8 * KiB, 208 * KiB))).toBe(true);
    expect(o.asked).toEqual([[8 * KiB, 200 * KiB]]);
  });

  it("resumes a broken transfer from the first byte not yet handed on", async () => {
    const image = randomBytes(256 * KiB);
    // Breaks after 40 KiB, then at once (no progress), then after 100 KiB of the rest.
    const o = opener(image, [40 * KiB, 0, 100 * KiB]);
    const got = await collect(resumingRange(o.open, 0, 256 * KiB, 3, new AbortController().signal, "test"));
    expect(got.equals(image)).toBe(true);
    expect(o.asked).toEqual([[0, 256 * KiB], [40 * KiB, 216 * KiB], [40 * KiB, 216 * KiB], [140 * KiB, 116 * KiB]]);
  });

  it("gives up after `attempts` failures in a row without progress, naming where", async () => {
    const image = randomBytes(64 * KiB);
    const o = opener(image, [16 * KiB, 0, 0, 0]);
    const run = collect(resumingRange(o.open, 0, 64 * KiB, 3, new AbortController().signal, "64 KiB of disk.vmdk"));
    await expect(run).rejects.toThrow("Reading 64 KiB of disk.vmdk failed at offset 16384");
    // The failure after progress is the first of the series; two more at 16 KiB end it.
    expect(o.asked.length).toBe(3);
  });

  it("fails on a short answer that is not an error, after the attempts", async () => {
    const image = randomBytes(64 * KiB);
    const short = (offset: number, length: number): Promise<Readable> => Promise.resolve(Readable.from([image.subarray(offset, offset + Math.min(length, 4 * KiB) - 1)]));
    const run = collect(resumingRange(short, 0, 64 * KiB, 2, new AbortController().signal, "test"));
    await expect(run).rejects.toThrow("failed");
  });

  it("stops when aborted, and ends the stream in hand when the consumer leaves", async () => {
    const image = randomBytes(128 * KiB);
    const ac = new AbortController();
    const o = opener(image, [8 * KiB]);
    const parts: Buffer[] = [];
    const run = (async () => {
      for await (const c of resumingRange(o.open, 0, 128 * KiB, 3, ac.signal, "test")) {
        parts.push(c);
        if (parts.length === 1) ac.abort(new Error("backup cancelled"));
      }
    })();
    await expect(run).rejects.toThrow();
    expect(o.asked.length).toBe(1);

    const p = opener(image);
    for await (const c of resumingRange(p.open, 0, 128 * KiB, 3, new AbortController().signal, "test")) {
      expect(c.length).toBe(4 * KiB);
      break;
    }
    expect(p.streams.map((s) => s.destroyed && !s.readableEnded)).toEqual([true]);
  });
});

describe("snapshotSource ranges", () => {
  it("reads a range through readDisk, reporting every byte once", async () => {
    const image = randomBytes(3 * 1024 * KiB + 5);
    const o = opener(image, [1536 * KiB]);
    let reported = 0;
    const source = snapshotSource({
      client: { readDisk: (_loc, offset, length) => o.open(offset, length) },
      location: { datacenterPath: "dc", datastoreName: "ds", path: "vm/disk.vmdk" },
      size: image.length,
      bandwidth: new TokenBucket(0),
      signal: new AbortController().signal,
      onRead: (n) => { reported += n; },
    });
    const readRange = source.readRange?.bind(source);
    if (!readRange) throw new Error("snapshotSource reads ranges");
    const got = await collect(readRange(5, image.length - 5));
    expect(got.equals(image.subarray(5))).toBe(true);
    expect(reported).toBe(image.length - 5);
    expect(o.asked).toEqual([[5, image.length - 5], [5 + 1536 * KiB, image.length - 5 - 1536 * KiB]]);
    await expect(collect(readRange(image.length - 4, 5))).rejects.toThrow("outside");
  });
});
