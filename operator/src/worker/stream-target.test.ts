import { describe, expect, it } from "@jest/globals";
import { SequentialTarget } from "./stream-target.js";

async function collect(t: SequentialTarget): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of t.stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

describe("SequentialTarget", () => {
  it("puts out-of-order writes and holes into one in-order stream", async () => {
    const holes = new Set([1, 3]);
    // Blocks of 4 bytes: A, hole, B, hole, and a partial last block C.
    const t = new SequentialTarget({ size: 18, blockSize: 4, isHole: (b) => holes.has(b) });
    const out = collect(t);
    await Promise.all([t.write(Buffer.from("CC"), 16), t.write(Buffer.from("BBBB"), 8), t.write(Buffer.from("AAAA"), 0)]);
    await t.close();
    const expected = Buffer.concat([Buffer.from("AAAA"), Buffer.alloc(4), Buffer.from("BBBB"), Buffer.alloc(4), Buffer.from("CC")]);
    expect((await out).equals(expected)).toBe(true);
  });

  it("holds a write ahead of the stream until the bytes before it went out", async () => {
    const t = new SequentialTarget({ size: 8, blockSize: 4, isHole: () => false });
    const out = collect(t);
    let ahead = false;
    const second = t.write(Buffer.from("2222"), 4).then(() => { ahead = true; });
    await new Promise((r) => setTimeout(r, 20));
    expect(ahead).toBe(false);
    await t.write(Buffer.from("1111"), 0);
    await second;
    await t.close();
    expect((await out).toString()).toBe("11112222");
  });

  it("fails on close when bytes are missing, and fails waiting writes when stopped", async () => {
    const t = new SequentialTarget({ size: 8, blockSize: 4, isHole: () => false });
    const out = collect(t).catch((err: unknown) => err);
    const waiting = t.write(Buffer.from("2222"), 4);
    t.fail(new Error("upload refused"));
    await expect(waiting).rejects.toThrow("The disk stream stopped");
    expect(await out).toBeInstanceOf(Error);
    const short = new SequentialTarget({ size: 8, blockSize: 4, isHole: () => false });
    void collect(short).catch(() => undefined);
    await expect(short.close()).rejects.toThrow("ended at byte 0 of 8");
  });
});
