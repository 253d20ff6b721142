import { describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { BLOB_OVERHEAD, blockId, openBlockInto, sealBlock } from "./crypto.js";
import type { MasterKeys } from "./keys.js";
import { decodePackHeader, PACK_MAGIC, PACK_TRAILER, PackBuilder } from "./pack.js";

const keys: MasterKeys = { dataKey: randomBytes(32), idKey: randomBytes(32) };

describe("sealBlock", () => {
  it("seals into the caller's space when it holds the largest blob, and the blob opens", () => {
    const block = randomBytes(4096);
    const id = blockId(keys.idKey, block);
    const space = Buffer.allocUnsafeSlow(block.length + BLOB_OVERHEAD);
    const blob = sealBlock(keys, 1, id, block, space);
    expect(blob.buffer).toBe(space.buffer);
    const out = Buffer.alloc(block.length);
    expect(openBlockInto(keys, id, blob, out)).toBe(block.length);
    expect(out.equals(block)).toBe(true);
    // Too small a space: the blob gets a buffer of its own, whole.
    const small = Buffer.alloc(100);
    const own = sealBlock(keys, 1, id, block, small);
    expect(own.buffer).not.toBe(small.buffer);
    expect(openBlockInto(keys, id, own, out)).toBe(block.length);
  });
});

describe("PackBuilder", () => {
  it("copies each blob, so the blob's buffer is free for the next block once added", () => {
    const blocks = [randomBytes(3000), Buffer.from("lifeboat ".repeat(400)), randomBytes(5000)];
    const space = Buffer.allocUnsafeSlow(6000 + BLOB_OVERHEAD);
    const builder = new PackBuilder(Buffer.allocUnsafeSlow(64));
    for (const block of blocks) {
      builder.add(blockId(keys.idKey, block), sealBlock(keys, 1, blockId(keys.idKey, block), block, space), block.length);
    }
    // The last blob is still in `space`: scribbling over it must not reach the pack.
    space.fill(0xaa);
    const pack = Buffer.concat(builder.finish(keys));
    expect(pack.subarray(0, PACK_MAGIC.length).equals(PACK_MAGIC)).toBe(true);
    const headerLength = pack.readUInt32LE(pack.length - PACK_TRAILER);
    const entries = decodePackHeader(keys, pack.subarray(pack.length - PACK_TRAILER - headerLength, pack.length - PACK_TRAILER), "test");
    expect(entries.map((e) => e.rawLength)).toEqual(blocks.map((b) => b.length));
    entries.forEach((e, i) => {
      const out = Buffer.alloc(e.rawLength);
      openBlockInto(keys, e.id, pack.subarray(e.offset, e.offset + e.length), out);
      expect(out.equals(blocks[i] ?? Buffer.alloc(0))).toBe(true);
    });
    // The 64-byte space grew to hold the blobs.
    expect(builder.buffer.length).toBeGreaterThanOrEqual(builder.bytes);
  });
});
