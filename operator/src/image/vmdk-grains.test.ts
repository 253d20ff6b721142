import { describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { inflateSync } from "node:zlib";
import { encodedGrainsProblem, encodeGrains, VMDK_GRAIN_SIZE } from "./vmdk-grains.js";

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
    // The random grain is stored: level 0 writes one stored block of 65,535 bytes first (level 1, trying
    // to compress, would cut it into blocks of its 16 Ki-symbol buffer), and the text is deflated far smaller.
    // (A zlib that laid out stored blocks otherwise would fail this line: then tell the levels apart some other way.)
    const stored = record(encoded, 0);
    expect([stored[14], stored.readUInt16LE(15), stored.readUInt16LE(17)]).toEqual([0, 0xffff, 0]);
    expect(stored.length).toBe(129 * 512);
    expect(record(encoded, 2).readUInt32LE(8)).toBeLessThan(GRAIN / 10);
  });

  it("tells an encoding that cannot be a piece's", () => {
    const data = Buffer.alloc(2 * GRAIN + 10, 3);
    const good = encodeGrains(data, 0);
    expect(encodedGrainsProblem(good, 0, data.length)).toBeUndefined();
    expect(encodedGrainsProblem(good, 0, 4 * GRAIN)).toMatch(/3 encoded grains for the 4 grains/);
    expect(encodedGrainsProblem({ records: good.records, ends: Uint32Array.from([1024, 512, good.records.length]) }, 0, data.length)).toMatch(/do not rise/);
    expect(encodedGrainsProblem({ records: good.records.subarray(512), ends: good.ends }, 0, data.length)).toMatch(/where the grains end at/);
    expect(encodedGrainsProblem(good, 512, data.length)).toMatch(/not on a grain/);
  });

  it("refuses a run that does not start on a grain", () => {
    expect(() => encodeGrains(Buffer.alloc(GRAIN), 512)).toThrow(/not a grain's start/);
  });
});
