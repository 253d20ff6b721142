import { afterEach, beforeEach, describe, expect, test } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { backup, FilesystemBackend, IndexTotalsCache, openDiskSource, prune, reductionRatios, stats, Vault } from "./index.js";

const MiB = 1024 * 1024;
const KEY = Buffer.from("unit-test-key-0123456789abcdef");

describe("reductionRatios", () => {
  test("zeros do not count: a sparse 10 GiB disk holding 10 MiB is about 1x, not 1000x", () => {
    // What the issue saw was logicalBytes / storedBytes = 10 GiB / ~10 MiB: over 1000.
    const stored = 10 * MiB + 64 * 1024;
    const { dedupRatio } = reductionRatios({ allocatedBytes: 10 * MiB, storedBytes: stored, uncompressedBytes: 10 * MiB, compressedBytes: 10 * MiB });
    expect(dedupRatio).toBeCloseTo(0.99, 2);
  });

  test("duplicates count: seven points of the same 10 MiB in the space of one", () => {
    const r = reductionRatios({ allocatedBytes: 7 * 10 * MiB, storedBytes: 10 * MiB, uncompressedBytes: 10 * MiB, compressedBytes: 10 * MiB });
    expect(r).toEqual({ dedupRatio: 7, compressionRatio: 1 });
  });

  test("compression shows in both, and compressionRatio says how much of dedupRatio is compression", () => {
    const r = reductionRatios({ allocatedBytes: 40 * MiB, storedBytes: 5 * MiB, uncompressedBytes: 20 * MiB, compressedBytes: 5 * MiB });
    expect(r).toEqual({ dedupRatio: 8, compressionRatio: 4 });
  });

  test("an empty vault has ratios of 0, not NaN or Infinity", () => {
    expect(reductionRatios({ allocatedBytes: 0, storedBytes: 0, uncompressedBytes: 0, compressedBytes: 0 })).toEqual({ dedupRatio: 0, compressionRatio: 0 });
  });
});

describe("stats of a real vault", () => {
  let dir: string;
  let vault: Vault;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "vault-stats-"));
    vault = await Vault.init(new FilesystemBackend(join(dir, "repo")), KEY, {}, { threads: 0 });
  });
  afterEach(async () => {
    await vault.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function backupImage(image: Buffer, vm: string) {
    const path = join(dir, `${vm}.img`);
    await writeFile(path, image);
    const source = await openDiskSource(path);
    try {
      return await backup(vault, [{ key: "2000", source }], { labels: { vm } });
    } finally {
      await source.close();
    }
  }

  test("a sparse disk: logical counts the zeros, the dedup ratio does not", async () => {
    const image = Buffer.alloc(40 * MiB);
    randomBytes(4 * MiB).copy(image, 0);
    await backupImage(image, "sparse");
    const s = await stats(vault);
    expect(s.logicalBytes).toBe(40 * MiB);
    expect(s.allocatedBytes).toBe(4 * MiB);
    // Random data neither dedups nor compresses; metadata and the blob envelopes cost a little.
    expect(s.dedupRatio).toBeGreaterThan(0.95);
    expect(s.dedupRatio).toBeLessThan(1);
    expect(s.uncompressedBytes).toBe(4 * MiB);
    expect(s.compressionRatio).toBeGreaterThan(0.99);
    expect(s.compressionRatio).toBeLessThanOrEqual(1);
  });

  test("duplicates: the same data in a second VM and again in the next point raises the ratio, compression stays apart", async () => {
    const data = randomBytes(8 * MiB);
    const image = Buffer.concat([data, Buffer.alloc(8 * MiB)]);
    await backupImage(image, "a");
    await backupImage(image, "b");
    await backupImage(image, "a");
    const s = await stats(vault);
    expect(s.allocatedBytes).toBe(3 * 8 * MiB);
    expect(s.uncompressedBytes).toBe(8 * MiB);
    expect(s.dedupRatio).toBeGreaterThan(2.8);
    expect(s.dedupRatio).toBeLessThan(3);
    expect(s.compressionRatio).toBeLessThanOrEqual(1);
  });

  test("compressible data: compressionRatio is compression's share of the dedup ratio", async () => {
    const text = Buffer.from("lifeboat ".repeat((8 * MiB) / 9 + 1)).subarray(0, 8 * MiB);
    await backupImage(text, "text");
    const s = await stats(vault);
    expect(s.compressionRatio).toBeGreaterThan(20);
    // No block repeats (the text's phase differs per block) and nothing else is stored, so the two are close.
    expect(s.dedupRatio).toBeGreaterThan(1);
    expect(s.dedupRatio).toBeLessThanOrEqual(s.compressionRatio);
  });

  test("a cache reads each index object once, counts a pack named twice once, and forgets what prune deleted", async () => {
    const image = Buffer.concat([randomBytes(6 * MiB), Buffer.alloc(2 * MiB)]);
    await backupImage(image, "a");
    const cache = new IndexTotalsCache();
    const first = await stats(vault, cache);
    expect(first.uncompressedBytes).toBe(6 * MiB);

    // Index objects naming a pack again, as a resumed backup or prune (new index before the old is deleted) leave them.
    const { index } = await vault.loadIndex();
    const records = [...index.packs.keys()].map((pack) => ({
      pack,
      lockedUntil: 0,
      entries: [...index.entries()].filter(([, loc]) => loc.pack === pack).map(([key, loc]) => ({ id: Buffer.from(key, "latin1"), offset: loc.offset, length: loc.length, rawLength: loc.rawLength })),
    }));
    await vault.writeIndex(records);
    let gets = 0;
    const get = vault.backend.get.bind(vault.backend);
    vault.backend.get = async (key, ...rest) => {
      if (key.startsWith("index/")) gets++;
      return get(key, ...rest);
    };
    const again = await stats(vault, cache);
    expect(gets).toBe(1); // only the new object
    expect(again.uncompressedBytes).toBe(6 * MiB);
    expect(again.compressedBytes).toBe(first.compressedBytes);

    await prune(vault, { marginMs: 0 });
    gets = 0;
    const pruned = await stats(vault, cache);
    expect(gets).toBe(1); // prune's one new index object
    expect(pruned.uncompressedBytes).toBe(6 * MiB);
    expect(pruned.compressionRatio).toBe((await stats(vault)).compressionRatio);
  });

  test("an index object deleted between the listing and the read is skipped, not an error", async () => {
    await backupImage(Buffer.concat([randomBytes(2 * MiB), Buffer.alloc(MiB)]), "a");
    const list = vault.backend.list.bind(vault.backend);
    vault.backend.list = async (prefix) => {
      const objects = await list(prefix);
      return prefix === "index/" ? [...objects, { key: `index/${"0".repeat(64)}`, size: 100, modified: new Date() }] : objects;
    };
    const s = await stats(vault);
    expect(s.uncompressedBytes).toBe(2 * MiB);
  });

  test("an index object that cannot be decoded is named and left out; the statistics still come", async () => {
    await backupImage(Buffer.concat([randomBytes(2 * MiB), Buffer.alloc(MiB)]), "a");
    const [good] = await vault.backend.list("index/");
    const sealed = Buffer.from(await vault.backend.get(good?.key ?? ""));
    sealed[sealed.length - 1] = (sealed[sealed.length - 1] ?? 0) ^ 0xff; // fails authentication
    const bad = `index/${"f".repeat(64)}`;
    await vault.backend.put(bad, sealed);
    const cache = new IndexTotalsCache();
    const s = await stats(vault, cache);
    expect(s.unreadableIndexObjects).toEqual([bad]);
    expect(s.uncompressedBytes).toBe(2 * MiB);
    expect(s.points.map((p) => p.labels.vm)).toEqual(["a"]);
    // Not remembered as read: once it is repaired (here, removed) it stops being reported.
    await vault.backend.delete(bad);
    expect((await stats(vault, cache)).unreadableIndexObjects).toEqual([]);
  });
});
