import { afterEach, beforeEach, describe, expect, test } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { backup, FilesystemBackend, forget, openDiskSource, PointHeaderCache, Vault } from "./index.js";
import { MANIFEST_PREFIX_READ } from "./manifest.js";

const MiB = 1024 * 1024;
const KEY = Buffer.from("unit-test-key-0123456789abcdef");

/** A filesystem backend that counts the manifest reads listPoints and getPoint make, and the bytes they read. */
class CountingBackend extends FilesystemBackend {
  manifestReads = 0;
  manifestBytes = 0;
  override async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    const buf = await super.getRange(key, offset, length);
    this.count(key, buf);
    return buf;
  }
  override async readRange<T>(key: string, offset: number, length: number, decode: (bytes: Buffer) => T): Promise<T> {
    return super.readRange(key, offset, length, (bytes) => {
      this.count(key, bytes);
      return decode(bytes);
    });
  }
  override async get(key: string): Promise<Buffer> {
    const buf = await super.get(key);
    this.count(key, buf);
    return buf;
  }
  private count(key: string, buf: Buffer): void {
    if (!key.startsWith("manifests/")) return;
    this.manifestReads++;
    this.manifestBytes += buf.length;
  }
}

describe("PointHeaderCache", () => {
  let dir: string;
  let writer: Vault;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "point-headers-"));
    writer = await Vault.init(new FilesystemBackend(join(dir, "repo")), KEY, {}, { threads: 0 });
  });
  afterEach(async () => {
    await writer.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function point(vm: string): Promise<string> {
    const path = join(dir, `${vm}.img`);
    await writeFile(path, randomBytes(MiB));
    const source = await openDiskSource(path);
    try {
      return (await backup(writer, [{ key: "2000", source }], { labels: { vm } })).id;
    } finally {
      await source.close();
    }
  }

  /** Opens the vault again, as each operator sync does, with `cache`. */
  async function listWith(cache: PointHeaderCache): Promise<{ ids: string[]; reads: number; headers: unknown }> {
    const backend = new CountingBackend(join(dir, "repo"));
    const vault = await Vault.open(backend, KEY, { threads: 0, pointHeaders: cache });
    try {
      const headers = await vault.listPoints();
      return { ids: headers.map((h) => h.id), reads: backend.manifestReads, headers };
    } finally {
      await vault.close();
    }
  }

  test("a manifest's header is read once across opens; new points are read, forgotten ones dropped, and the answer is what an uncached listing gives", async () => {
    const a = await point("a");
    const b = await point("b");
    const cache = new PointHeaderCache();
    const first = await listWith(cache);
    expect(first.reads).toBeGreaterThanOrEqual(2);
    expect(first.ids.sort()).toEqual([a, b].sort());
    const again = await listWith(cache);
    expect(again.reads).toBe(0);
    const c = await point("c");
    const third = await listWith(cache);
    expect(third.reads).toBeGreaterThanOrEqual(1);
    expect(third.reads).toBeLessThan(first.reads + 1);
    expect(third.headers).toEqual(await writer.listPoints());
    await forget(writer, { ids: [a] });
    const afterForget = await listWith(cache);
    expect(afterForget.reads).toBe(0);
    expect(afterForget.ids.sort()).toEqual([b, c].sort());
  });

  test("a header larger than the first read of a manifest is read whole, cached or not", async () => {
    const path = join(dir, "big.img");
    await writeFile(path, randomBytes(MiB));
    const source = await openDiskSource(path);
    const notes = "n".repeat(3 * MANIFEST_PREFIX_READ);
    try {
      await backup(writer, [{ key: "2000", source }], { labels: { vm: "big", notes } });
    } finally {
      await source.close();
    }
    expect((await writer.listPoints()).map((p) => p.labels.notes)).toEqual([notes]);
    expect((await listWith(new PointHeaderCache())).headers).toEqual(await writer.listPoints());
  });

  test("getPoint reads a point's header, not its block lists, once across opens, and says NotFound for a point the vault does not hold", async () => {
    // 768 blocks of 256 KiB, each distinct (a counter at its start, zeros after): a block list of 24 KiB of ids, larger than the header's first read.
    const BS = 256 * 1024;
    const repo = join(dir, "small-blocks");
    const small = await Vault.init(new FilesystemBackend(repo), KEY, { blockSize: BS }, { threads: 0 });
    const path = join(dir, "large.img");
    const disk = Buffer.alloc(768 * BS);
    for (let i = 0; i < 768; i++) disk.writeUInt32LE(i + 1, i * BS);
    await writeFile(path, disk);
    const source = await openDiskSource(path);
    let id: string;
    try {
      id = (await backup(small, [{ key: "2000", source }], { labels: { vm: "large" } })).id;
    } finally {
      await source.close();
    }
    const whole = await small.readPoint(id);
    await small.close();
    expect((await stat(join(repo, "manifests", id))).size).toBeGreaterThan(2 * MANIFEST_PREFIX_READ);
    const cache = new PointHeaderCache();
    const get = async (pointId: string) => {
      const backend = new CountingBackend(repo);
      const vault = await Vault.open(backend, KEY, { threads: 0, pointHeaders: cache });
      try {
        return { header: await vault.getPoint(pointId), reads: backend.manifestReads, bytes: backend.manifestBytes };
      } finally {
        await vault.close();
      }
    };
    const first = await get(id);
    expect(first.header).toEqual(whole.header);
    expect(first.reads).toBe(1);
    expect(first.bytes).toBeLessThanOrEqual(MANIFEST_PREFIX_READ);
    const again = await get(id);
    expect(again.header).toEqual(first.header);
    expect(again.reads).toBe(0);
    await expect(get("0000000000000000")).rejects.toMatchObject({ reason: "NotFound", message: expect.stringContaining("Recovery point 0000000000000000 does not exist") });
    await expect(get("../config")).rejects.toMatchObject({ reason: "InvalidArgument" });
  });
});
