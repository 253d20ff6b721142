import { afterEach, beforeEach, describe, expect, test } from "@jest/globals";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { changeBlocks, changedPieces, chooseChangedBlocks, generateImage, imagePieces, regionBytesFor, SeededStream } from "./image.js";

const KiB = 1024;

describe("SeededStream", () => {
  test("the same seed and stream give the same bytes, however they are asked for", () => {
    const whole = new SeededStream("s", 7).next(1000);
    const pieces = new SeededStream("s", 7);
    expect(Buffer.concat([pieces.next(1), pieces.next(499), pieces.next(500)])).toEqual(whole);
  });

  test("another stream or another seed gives other bytes, which do not compress", () => {
    const a = new SeededStream("s", 1).next(64 * KiB);
    expect(a).not.toEqual(new SeededStream("s", 2).next(64 * KiB));
    expect(a).not.toEqual(new SeededStream("t", 1).next(64 * KiB));
    expect(deflateRawSync(a).length).toBeGreaterThan(a.length);
  });
});

describe("chooseChangedBlocks", () => {
  test("the same distinct, sorted blocks every time: 5% of them", () => {
    const blocks = chooseChangedBlocks(4096, 0.05);
    expect(blocks).toEqual(chooseChangedBlocks(4096, 0.05));
    expect(blocks).toHaveLength(205);
    expect(new Set(blocks).size).toBe(205);
    expect(blocks).toEqual([...blocks].sort((a, b) => a - b));
    expect(blocks.every((b) => b >= 0 && b < 4096)).toBe(true);
  });

  test("at least one block, at most all of them", () => {
    expect(chooseChangedBlocks(3, 0.05)).toHaveLength(1);
    expect(chooseChangedBlocks(3, 2)).toEqual([0, 1, 2]);
  });
});

describe("regionBytesFor", () => {
  const MiB = 1024 * KiB;
  test("64 MiB regions from 1 GiB up; a sixteenth of smaller images, in whole MiB, at least 16 MiB", () => {
    expect(regionBytesFor(4096 * MiB)).toBe(64 * MiB);
    expect(regionBytesFor(1024 * MiB)).toBe(64 * MiB);
    expect(regionBytesFor(600 * MiB)).toBe(37 * MiB);
    expect(regionBytesFor(256 * MiB)).toBe(16 * MiB);
    expect(regionBytesFor(128 * MiB)).toBe(16 * MiB);
    expect(regionBytesFor(8 * MiB)).toBe(16 * MiB);
  });
});

describe("the image", () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), "bench-image-")); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  test("regions of zeros, text, random data and a copy of that random data; the same bytes every time", async () => {
    const region = 64 * KiB;
    const path = join(dir, "a.img");
    await generateImage(path, 4 * region + 1000, "seed", region);
    const a = await readFile(path);
    expect(a.length).toBe(4 * region + 1000);
    const part = (i: number): Buffer => a.subarray(i * region, (i + 1) * region);
    expect(part(0).every((b) => b === 0)).toBe(true);
    expect(part(1).readUInt32LE(0)).toBe(1);
    expect(part(1).toString("latin1", 4, 200)).toContain("INFO request handled");
    expect(part(2)).toEqual(new SeededStream("seed", 2).next(region));
    expect(part(3)).toEqual(part(2));
    expect(a.subarray(4 * region).every((b) => b === 0)).toBe(true);

    await generateImage(join(dir, "b.img"), 4 * region + 1000, "seed", region);
    expect(await readFile(join(dir, "b.img"))).toEqual(a);
  });

  test("the change overwrites the chosen blocks only, with the same bytes every time", async () => {
    const block = 4 * KiB;
    const size = 100 * block;
    const paths = [join(dir, "a.img"), join(dir, "b.img")];
    const extents = [];
    for (const path of paths) {
      await generateImage(path, size, "seed", 64 * KiB);
      extents.push(await changeBlocks(path, size, 0.05, block, "seed"));
    }
    expect(extents[0]).toEqual(extents[1]);
    expect(extents[0]?.map((e) => e.offset / block)).toEqual(chooseChangedBlocks(100, 0.05));
    expect(await readFile(paths[0] ?? "")).toEqual(await readFile(paths[1] ?? ""));

    const original = join(dir, "c.img");
    await generateImage(original, size, "seed", 64 * KiB);
    const before = await readFile(original);
    const after = await readFile(paths[0] ?? "");
    const changed = new Set(extents[0]?.map((e) => e.offset / block));
    for (let b = 0; b < 100; b++) {
      const same = before.subarray(b * block, (b + 1) * block).equals(after.subarray(b * block, (b + 1) * block));
      expect([b, same]).toEqual([b, !changed.has(b)]);
    }
  });
});

describe("imagePieces and changedPieces", () => {
  const MiB = 1024 * KiB;
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), "bench-image-")); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  test("the pieces tile the image in order, at most 4 MiB each, a quarter of them zeros, and are the file's bytes", async () => {
    // Regions of 5 MiB: each one a piece of 4 MiB and one of 1 MiB.
    const region = 5 * MiB;
    const size = 4 * region + 1000;
    const pieces = [...imagePieces(size, "seed", region)];
    let at = 0;
    for (const p of pieces) {
      expect(p.offset).toBe(at);
      expect(p.data.length).toBeLessThanOrEqual(4 * MiB);
      at += p.data.length;
    }
    expect(at).toBe(size);
    const zeros = pieces.filter((p) => p.kind === "zeros").reduce((n, p) => n + p.data.length, 0);
    expect(zeros).toBe(region + 1000);
    expect(pieces.filter((p) => p.kind === "zeros").every((p) => p.data.every((b) => b === 0))).toBe(true);
    expect(pieces.filter((p) => p.kind !== "zeros").every((p) => p.data.some((b) => b !== 0))).toBe(true);

    const path = join(dir, "a.img");
    await generateImage(path, size, "seed", region);
    // Buffer.equals: toEqual on megabytes of Buffer enumerates every byte as a key.
    expect((await readFile(path)).equals(Buffer.concat(pieces.map((p) => p.data)))).toBe(true);
  });

  test("the changed pieces are the blocks changeBlocks writes, with the same bytes", async () => {
    const block = 4 * KiB;
    const size = 100 * block;
    const path = join(dir, "a.img");
    await generateImage(path, size, "seed", 64 * KiB);
    const before = await readFile(path);
    const extents = await changeBlocks(path, size, 0.05, block, "seed");
    const pieces = [...changedPieces(size, 0.05, block, "seed")];
    expect(pieces.map((p) => ({ offset: p.offset, length: p.data.length }))).toEqual(extents);
    for (const p of pieces) p.data.copy(before, p.offset);
    expect((await readFile(path)).equals(before)).toBe(true);
  });
});
