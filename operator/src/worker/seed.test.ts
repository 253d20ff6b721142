import { describe, expect, it } from "@jest/globals";
import { allocatedExtents } from "./seed.js";

const BS = 1024;

/** A block list: "x" a block with content, "." a hole. */
function ids(pattern: string): Buffer {
  const out = Buffer.alloc(pattern.length * 32);
  for (let i = 0; i < pattern.length; i++) if (pattern[i] === "x") out.fill(1, i * 32, (i + 1) * 32);
  return out;
}

describe("allocatedExtents", () => {
  it("merges adjacent blocks with content and counts the holes", () => {
    expect(allocatedExtents(ids("xx..x."), 6 * BS, BS)).toEqual({ extents: [{ offset: 0, length: 2 * BS }, { offset: 4 * BS, length: BS }], holeBytes: 3 * BS });
  });

  it("ends the last extent at the disk's end when its last block is short", () => {
    expect(allocatedExtents(ids(".x"), BS + 100, BS)).toEqual({ extents: [{ offset: BS, length: 100 }], holeBytes: BS });
    expect(allocatedExtents(ids("x."), BS + 100, BS)).toEqual({ extents: [{ offset: 0, length: BS }], holeBytes: 100 });
  });
});
