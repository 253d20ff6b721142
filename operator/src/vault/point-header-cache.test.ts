import { afterEach, beforeEach, describe, expect, test } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { backup, FilesystemBackend, forget, openDiskSource, PointHeaderCache, Vault } from "./index.js";
import { MANIFEST_PREFIX_READ } from "./manifest.js";

const MiB = 1024 * 1024;
const KEY = Buffer.from("unit-test-key-0123456789abcdef");

/** A filesystem backend that counts the manifest reads listPoints makes. */
class CountingBackend extends FilesystemBackend {
  manifestReads = 0;
  override getRange(key: string, offset: number, length: number): Promise<Buffer> {
    if (key.startsWith("manifests/")) this.manifestReads++;
    return super.getRange(key, offset, length);
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
});

