import { describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { inflateSync } from "node:zlib";
import { encodeGrains, VMDK_GRAIN_SIZE } from "./vmdk-grains.js";

const GRAIN = VMDK_GRAIN_SIZE;

/** Grain i's record of an encoding. */
function record(encoded: ReturnType<typeof encodeGrains>, i: number): Buffer {
  return encoded.records.subarray(i === 0 ? 0 : (encoded.ends[i - 1] ?? 0), encoded.ends[i]);
}

describe("encodeGrains", () => {
  it("frames each non-zero grain as a marker and a zlib stream of its own, stores random grains and leaves zero grains empty", () => {
    // Grains: random, zeros, text, then a short last one (the disk's end inside a grain).
    const data = Buffer.alloc(3 * GRAIN + 1000);
    const random = randomBytes(GRAIN);
    random.copy(data, 0);
    data.write("log line 42: all is well\n".repeat(GRAIN / 25), 2 * GRAIN, GRAIN, "latin1");
    data.fill(7, 3 * GRAIN);
    const offset = 5 * GRAIN;
    const encoded = encodeGrains(data, offset);

    expect(encoded.ends.length).toBe(4);
    expect(record(encoded, 1).length).toBe(0);
    for (const i of [0, 2, 3]) {
      const r = record(encoded, i);
      expect(r.length % 512).toBe(0);
      expect(Number(r.readBigUInt64LE(0))).toBe((offset + i * GRAIN) / 512);
      const size = r.readUInt32LE(8);
      expect(r.subarray(12 + size).every((b) => b === 0)).toBe(true);
      const grain = inflateSync(r.subarray(12, 12 + size));
      const expected = Buffer.alloc(GRAIN);
      data.copy(expected, 0, i * GRAIN, Math.min(data.length, (i + 1) * GRAIN));
      expect(grain.equals(expected)).toBe(true);
    }
    // The random grain is stored (level 0: zlib header 78 01) and the text deflated far smaller.
    expect(record(encoded, 0).subarray(12, 14).toString("hex")).toBe("7801");
    expect(record(encoded, 0).length).toBe(129 * 512);
    expect(record(encoded, 2).readUInt32LE(8)).toBeLessThan(GRAIN / 10);
  });

  it("refuses a run that does not start on a grain", () => {
    expect(() => encodeGrains(Buffer.alloc(GRAIN), 512)).toThrow(/not a grain's start/);
  });
});
