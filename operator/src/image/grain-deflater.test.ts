import { describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { constants, inflateSync } from "node:zlib";
import { GrainDeflater } from "./grain-deflater.js";

const GRAIN = 64 * 1024;

describe("GrainDeflater", () => {
  it("gives one complete, independent zlib stream per grain, with as many contexts as grains in flight", async () => {
    const deflater = new GrainDeflater({ level: constants.Z_BEST_SPEED, chunkSize: 2 * GRAIN });
    const grains = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? randomBytes(GRAIN) : Buffer.alloc(GRAIN, `line ${i}\n`)));
    const out: Buffer[] = [];
    // Four at a time, as the VMDK writer does.
    for (let i = 0; i < grains.length; i += 4) {
      const batch = grains.slice(i, i + 4).map((g) => deflater.deflate(g, (chunks) => Buffer.concat(chunks)));
      out.push(...(await Promise.all(batch)));
    }
    expect(deflater.contexts).toBe(4);
    out.forEach((z, i) => {
      expect(z.readUInt8(0)).toBe(0x78); // a zlib header on every grain
      expect(inflateSync(z).equals(grains[i] as Buffer)).toBe(true);
    });
    // Text compresses: the context's state carries nothing over that makes a grain depend on another.
    expect((out[1] as Buffer).length).toBeLessThan(GRAIN / 10);
    deflater.close();
    expect(deflater.contexts).toBe(0);
  });
});
