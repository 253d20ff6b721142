import { afterEach, beforeEach, describe, expect, test } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, open, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BackupSession, backup, check, checkLockConfig, FilesystemBackend, forget, openDiskSource, openDiskTarget, prune, reasonOf, repairIndex, restoreDisk, stats, Vault,
  type BackupProgress, type Extent,
} from "./index.js";

const MiB = 1024 * 1024;
const KEY = Buffer.from("unit-test-key-0123456789abcdef");

/** A disk image: random blocks, a zero region, text, and a repeated block. */
function makeImage(blocks: number): Buffer {
  const img = Buffer.alloc(blocks * MiB);
  for (let b = 0; b < blocks; b++) {
    const at = b * MiB;
    if (b % 5 === 1) continue; // zeros
    if (b % 5 === 2) img.write("lifeboat ".repeat(MiB / 9), at, "utf8");
    else if (b % 5 === 3 && b > 5) img.copy(img, at, 0, MiB); // duplicate of block 0
    else randomBytes(MiB).copy(img, at);
  }
  return img;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "vault-unit-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function newVault(lockDays?: number): Promise<Vault> {
  return Vault.init(new FilesystemBackend(join(dir, "repo")), KEY, lockDays ? { lock: { enabled: true, mode: "Compliance", retentionDays: lockDays } } : {}, { threads: 0 });
}

async function backupFile(vault: Vault, path: string, options: { parent?: string; extents?: Extent[]; onProgress?: (p: BackupProgress) => void } = {}) {
  const source = await openDiskSource(path);
  try {
    return await backup(vault, [{ key: "2000", source, changedExtents: options.extents, changeId: "52 aa/1" }], {
      parent: options.parent, labels: { plan: "p", vm: "vm-1" }, onProgress: options.onProgress,
    });
  } finally {
    await source.close();
  }
}

/** A vault holding one point of a 12-block image, for tests that then damage it. */
async function vaultWithOnePoint(lockDays?: number) {
  const vault = await newVault(lockDays);
  const image = makeImage(12);
  const src = join(dir, "disk.img");
  await writeFile(src, image);
  return { vault, image, point: await backupFile(vault, src) };
}

/** The first pack of a vault, as the backend lists it. */
async function firstPack(vault: Vault) {
  const [pack] = await vault.backend.list("data/");
  if (!pack) throw new Error("the vault has no pack");
  return pack;
}

async function restoreFile(vault: Vault, pointId: string, path: string): Promise<Buffer> {
  const point = await vault.getPoint(pointId);
  const target = await openDiskTarget(path, point.disks[0]?.size ?? 0);
  try {
    await restoreDisk(vault, pointId, "2000", target);
  } finally {
    await target.close();
  }
  return readFile(path);
}

describe("vault on the filesystem", () => {
  test("backs up and restores byte-identically, with holes and dedup", async () => {
    const vault = await newVault();
    const image = makeImage(20);
    // A last partial block exercises non-aligned sizes.
    const src = join(dir, "disk.img");
    await writeFile(src, Buffer.concat([image, randomBytes(1000)]));
    const progress: BackupProgress[] = [];
    const point = await backupFile(vault, src, { onProgress: (p) => progress.push(p) });
    expect(point.disks[0]?.size).toBe(20 * MiB + 1000);
    expect(point.disks[0]?.changeId).toBe("52 aa/1");
    expect(point.labels).toEqual({ plan: "p", vm: "vm-1" });
    const last = progress.at(-1);
    expect(last?.done).toBe(true);
    expect(last?.bytesZero).toBe(4 * MiB);
    expect(last?.bytesReused).toBe(6 * MiB); // blocks 8, 13, 18 repeat block 0; text blocks 7, 12, 17 repeat block 2
    expect(last?.bytesRead).toBe(20 * MiB + 1000);

    const restored = await restoreFile(vault, point.id, join(dir, "out.img"));
    expect(restored.equals(await readFile(src))).toBe(true);
    const s = await stats(vault);
    expect(s.pointCount).toBe(1);
    expect(s.logicalBytes).toBe(20 * MiB + 1000);
    // Random blocks are stored once, text compresses, zeros cost nothing.
    expect(s.packBytes).toBeLessThan(11 * MiB);
    expect((await check(vault, { readData: true })).errors).toEqual([]);
    await vault.close();
  });

  test("a lost index: prune refuses and deletes nothing, repair-index rebuilds it from the packs with their locks", async () => {
    const { vault, image, point } = await vaultWithOnePoint(30);
    const packs = (await vault.backend.list("data/")).map((o) => o.key).sort();
    expect(packs.length).toBeGreaterThan(0);

    // Index objects are not under Object Lock: someone deletes them all.
    for (const o of await vault.backend.list("index/")) await vault.backend.delete(o.key);
    await expect(prune(vault, { marginMs: 0 })).rejects.toMatchObject({ reason: "IndexIncomplete" });
    expect((await vault.backend.list("data/")).map((o) => o.key).sort()).toEqual(packs);
    expect((await check(vault)).errors.join("\n")).toContain("is in no indexed pack");

    const result = await repairIndex(vault);
    expect(result).toMatchObject({ packs: packs.length, unreadablePacks: [], replacedIndexObjects: 0 });
    expect(result.blocks).toBeGreaterThan(0);
    const { index, objects } = await vault.loadIndex();
    expect(objects).toHaveLength(1);
    // Each pack stays locked at least as long as the point using it (backups add up to 7 days of slack).
    const retainUntil = Date.parse(point.retainUntil ?? "");
    for (const info of index.packs.values()) expect(info.lockedUntil).toBeGreaterThanOrEqual(retainUntil);

    expect((await check(vault, { readData: true })).errors).toEqual([]);
    const pruned = await prune(vault, { marginMs: 0 });
    expect(pruned.packsDeleted).toBe(0);
    expect((await restoreFile(vault, point.id, join(dir, "out.img"))).equals(image)).toBe(true);
    await vault.close();
  });

  test("repair-index keeps the old index's record of a pack whose header no longer opens, and names it", async () => {
    const { vault, image, point } = await vaultWithOnePoint();
    const victim = await firstPack(vault);
    // Flip the last byte of the sealed header (just before the 8-byte trailer).
    const fh = await open(join(dir, "repo", victim.key), "r+");
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, victim.size - 9);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await fh.write(byte, 0, 1, victim.size - 9);
    await fh.close();

    const result = await repairIndex(vault);
    const pack = victim.key.split("/").pop() ?? "";
    expect(result.unreadablePacks).toEqual([pack]);
    expect((await vault.loadIndex()).index.packs.has(pack)).toBe(true);
    // The blobs themselves are intact, so the point still restores.
    expect((await restoreFile(vault, point.id, join(dir, "out.img"))).equals(image)).toBe(true);
    await vault.close();
  });

  test("prune still runs when a pack is lost rather than unindexed: there is nothing left to protect", async () => {
    const { vault } = await vaultWithOnePoint();
    await vault.backend.delete((await firstPack(vault)).key);
    await expect(prune(vault, { marginMs: 0 })).resolves.toMatchObject({ packsDeleted: 0 });
    expect((await check(vault)).errors.join("\n")).toContain("is in no indexed pack");
    await vault.close();
  });

  test("a backup of many packs stores every block intact", async () => {
    // 16 MiB packs (the least) and 70 MiB of random blocks: five packs, so later packs may fill the buffers of
    // written ones (whether they do depends on when the uploads end; this checks that nothing is lost either way).
    const vault = await Vault.init(new FilesystemBackend(join(dir, "repo")), KEY, { packSize: 16 * MiB }, { threads: 0 });
    const src = join(dir, "disk.img");
    const image = randomBytes(70 * MiB);
    await writeFile(src, image);
    const point = await backupFile(vault, src);
    expect((await vault.backend.list("data/")).length).toBe(5);
    expect((await restoreFile(vault, point.id, join(dir, "out.img"))).equals(image)).toBe(true);
    expect((await check(vault, { readData: true })).errors).toEqual([]);
    await vault.close();
  });

  test("a backup into a slow vault holds at most uploads + 1 packs in memory", async () => {
    // Eight packs of 16 MiB into a vault whose first pack write takes a second (or until a fourth pack buffer is
    // asked for), the others 50 ms. Readers that found the pack full and both upload slots taken used to start
    // pack after pack, however fast the machine; now they wait for a written pack's buffer.
    class SlowBackend extends FilesystemBackend {
      buffers = 0;
      private fourth: () => void = () => undefined;
      private readonly firstHeld = new Promise<void>((resolve) => {
        this.fourth = resolve;
        setTimeout(resolve, 1000);
      });
      private packs = 0;
      override packBuffer(size: number): Buffer {
        if (++this.buffers > 3) this.fourth();
        return super.packBuffer(size);
      }
      override async put(...args: Parameters<FilesystemBackend["put"]>): Promise<void> {
        if (args[0].startsWith("data/")) await (this.packs++ === 0 ? this.firstHeld : new Promise((resolve) => setTimeout(resolve, 50)));
        await super.put(...args);
      }
    }
    const backend = new SlowBackend(join(dir, "repo"));
    const vault = await Vault.init(backend, KEY, { packSize: 16 * MiB }, { threads: 0 });
    const src = join(dir, "disk.img");
    const image = randomBytes(120 * MiB);
    await writeFile(src, image);
    const point = await backupFile(vault, src);
    expect((await vault.backend.list("data/")).length).toBe(8);
    expect(backend.buffers).toBeLessThanOrEqual(3);
    expect((await restoreFile(vault, point.id, join(dir, "out.img"))).equals(image)).toBe(true);
    await vault.close();
  });

  // A loop device needs root and the loop driver (CI has both).
  const withLoopDevices = process.getuid?.() === 0 && existsSync("/dev/loop-control") ? test : test.skip;
  withLoopDevices("a restore to a block device writes its holes as zeros and is on the device when the target closes", async () => {
    const { vault, image, point } = await vaultWithOnePoint();
    try {
      const backing = join(dir, "device.img");
      await writeFile(backing, Buffer.alloc(image.length + MiB, 0xff));
      const device = execFileSync("losetup", ["--find", "--show", backing], { encoding: "utf8" }).trim();
      try {
        // Another holder, as kubelet may hold a raw block volume: closing the target is then not the
        // device's last close, which would have synced it anyway.
        const holder = await open(device, "r");
        try {
          const written = async (): Promise<number> => Number((await readFile(`/sys/block/${device.replace("/dev/", "")}/stat`, "utf8")).trim().split(/\s+/)[6]) * 512;
          const before = await written();
          const target = await openDiskTarget(device, image.length);
          expect(target.zeroed).toBe(false);
          try {
            await restoreDisk(vault, point.id, "2000", target);
          } finally {
            await target.close();
          }
          // Without an fsync the blocks would stay in the device's page cache for half a minute
          // (unless something else, a global sync say, wrote them back first: then this passes anyway).
          expect((await written()) - before).toBeGreaterThanOrEqual(image.length);
          const back = await readFile(device);
          expect(back.subarray(0, image.length).equals(image)).toBe(true);
          expect(back.subarray(image.length).every((b) => b === 0xff)).toBe(true);
        } finally {
          await holder.close();
        }
      } finally {
        execFileSync("losetup", ["--detach", device]);
      }
    } finally {
      await vault.close();
    }
  });

  test("a restore to a file reads each repeated block once; a stream target reads it wherever the disk holds it", async () => {
    const vault = await newVault();
    const src = join(dir, "disk.img");
    const image = makeImage(20);
    await writeFile(src, image);
    const point = await backupFile(vault, src);
    const fetched = async (target: Parameters<typeof restoreDisk>[3]): Promise<number> => {
      let bytes = 0;
      await restoreDisk(vault, point.id, "2000", target, { onProgress: (p) => (bytes = p.bytesFetched), concurrency: 3, maxReadBytes: 3 * MiB });
      return bytes;
    };
    const file = await openDiskTarget(join(dir, "out.img"), image.length);
    const toFile = await fetched(file);
    await file.close();
    expect((await readFile(join(dir, "out.img"))).equals(image)).toBe(true);

    const streamed = Buffer.alloc(image.length);
    const toStream = await fetched({ zeroed: true, write: (buf, offset) => Promise.resolve(void buf.copy(streamed, offset)), close: () => Promise.resolve() });
    expect(streamed.equals(image)).toBe(true);
    // Blocks 8, 13 and 18 repeat block 0, which is random and stored uncompressed: read once for the file, four times for the stream.
    expect(toStream - toFile).toBeGreaterThanOrEqual(3 * MiB);
    await vault.close();
  });

  test("an incremental with changed extents reads only them and is a synthetic full", async () => {
    const vault = await newVault();
    const src = join(dir, "disk.img");
    const image = makeImage(16);
    await writeFile(src, image);
    const first = await backupFile(vault, src);

    // Change two blocks in place, as a guest would; tell the backup only about block 3's range
    // and one byte range crossing blocks 9-10.
    const fh = await open(src, "r+");
    await fh.write(randomBytes(MiB), 0, MiB, 3 * MiB);
    await fh.write(randomBytes(4096), 0, 4096, 10 * MiB - 2048);
    await fh.close();
    let last: BackupProgress | undefined;
    const second = await backupFile(vault, src, {
      parent: first.id,
      extents: [{ offset: 3 * MiB, length: MiB }, { offset: 10 * MiB - 2048, length: 4096 }],
      onProgress: (p) => (last = p),
    });
    expect(second.parent).toBe(first.id);
    expect(last?.bytesRead).toBe(3 * MiB);
    expect(last?.bytesFromParent).toBe(13 * MiB);
    expect((await restoreFile(vault, second.id, join(dir, "second.img"))).equals(await readFile(src))).toBe(true);
    expect((await restoreFile(vault, first.id, join(dir, "first.img"))).equals(image)).toBe(true);
    await vault.close();
  });

  test("prune frees unreferenced packs and keeps referenced data", async () => {
    const vault = await newVault();
    const a = join(dir, "a.img");
    const b = join(dir, "b.img");
    await writeFile(a, randomBytes(40 * MiB));
    await writeFile(b, randomBytes(8 * MiB));
    const pa = await backupFile(vault, a);
    const pb = await backupFile(vault, b);
    const before = await stats(vault);
    await forget(vault, { ids: [pa.id] });
    const result = await prune(vault, { marginMs: 0 });
    expect(result.packsDeleted).toBeGreaterThanOrEqual(2);
    const after = await stats(vault);
    expect(after.packBytes).toBeLessThan(before.packBytes - 30 * MiB);
    expect(after.pointCount).toBe(1);
    expect((await restoreFile(vault, pb.id, join(dir, "b.out"))).equals(await readFile(b))).toBe(true);
    expect((await check(vault, { readData: true })).errors).toEqual([]);
    await vault.close();
  });

  test("a locked point is refused by forget, and policies keep it", async () => {
    const vault = await newVault(30);
    const src = join(dir, "disk.img");
    await writeFile(src, randomBytes(2 * MiB));
    const p = await backupFile(vault, src);
    expect(p.retainUntil).toBeDefined();
    await expect(forget(vault, { ids: [p.id] })).rejects.toMatchObject({ reason: "PointLocked" });
    const result = await forget(vault, { policy: { maxAgeMs: 0 } }, { now: new Date(Date.now() + 1000) });
    expect(result.forgotten).toEqual([]);
    expect(result.decisions[0]?.reasons.join()).toMatch(/locked until/);
    // Past its retain-until the point can go.
    const later = new Date(Date.now() + 31 * 86400_000);
    expect((await forget(vault, { policy: { keepLast: 0, maxAgeMs: 1 } }, { now: later })).forgotten).toEqual([p.id]);
    await vault.close();
  });

  test("check --read-data names a flipped byte's pack and block", async () => {
    const vault = await newVault();
    const src = join(dir, "disk.img");
    await writeFile(src, randomBytes(3 * MiB));
    const p = await backupFile(vault, src);
    const packDir = join(dir, "repo", "data");
    const [sub] = await readdir(packDir);
    const [packName] = await readdir(join(packDir, sub ?? ""));
    const packPath = join(packDir, sub ?? "", packName ?? "");
    const fh = await open(packPath, "r+");
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, MiB + 100);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await fh.write(byte, 0, 1, MiB + 100);
    await fh.close();
    expect((await check(vault)).ok).toBe(true); // structure is intact
    const result = await check(vault, { readData: true });
    expect(result.ok).toBe(false);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toContain(`Pack ${packName ?? ""}`);
    // Blobs are packed in the order reads complete, so the damaged one is one of the three blocks.
    expect(result.errors[0]).toMatch(new RegExp(`at offset ${MiB + 37} is damaged .*; used by point ${p.id} disk 2000 block [0-2]$`));
    await expect(restoreFile(vault, p.id, join(dir, "out.img"))).rejects.toMatchObject({ reason: "Corrupt" });
    await vault.close();
  });

  test("readBlock returns one verified block by id, and names an unknown or damaged one", async () => {
    const { vault, image, point } = await vaultWithOnePoint();
    const content = await vault.readPoint(point.id);
    const ids = content.blockLists.get("2000") as Buffer;
    const { index } = await vault.loadIndex();
    // Block 0 holds random bytes, block 2 text (stored compressed).
    for (const b of [0, 2]) expect((await vault.readBlock(ids.subarray(b * 32, (b + 1) * 32), index)).equals(image.subarray(b * MiB, (b + 1) * MiB))).toBe(true);
    await expect(vault.readBlock(randomBytes(32), index)).rejects.toMatchObject({ reason: "NotFound" });
    const pack = await firstPack(vault);
    await writeFile(join(dir, "repo", pack.key), Buffer.alloc(pack.size, 7));
    await expect(vault.readBlock(ids.subarray(0, 32), index)).rejects.toMatchObject({ reason: "Corrupt" });
    await vault.close();
  });

  test("addDiskBlocks makes a point from block ids the vault holds, reading nothing; unknown ids are refused", async () => {
    const { vault, image, point } = await vaultWithOnePoint();
    const ids = (await vault.readPoint(point.id)).blockLists.get("2000") as Buffer;
    const session = await BackupSession.begin(vault, { labels: { vm: "copy" } });
    session.addDiskBlocks({ key: "2000", size: image.length, ids, changeId: "52 cc/9" });
    expect(() => { session.addDiskBlocks({ key: "2001", size: MiB, ids: randomBytes(32) }); }).toThrow(/is in no pack of the index/);
    const copy = await session.commit({ seedOf: point.id });
    expect(copy.labels).toEqual({ vm: "copy", seedOf: point.id });
    expect(copy.disks[0]).toMatchObject({ key: "2000", changeId: "52 cc/9", readBytes: 0, newBytes: 0, allocatedBytes: point.disks[0]?.allocatedBytes });
    expect(copy.storedBytes).toBe(0);
    expect((await restoreFile(vault, copy.id, join(dir, "copy.img"))).equals(image)).toBe(true);
    await vault.close();
  });

  test("a damaged key slot does not hide another that opens with the key; when none opens, the damaged one is named", async () => {
    const vault = await newVault();
    const other = Buffer.from("another-key-of-enough-length");
    const otherSlot = await vault.addKey(other);
    await vault.close();
    // Damage the slot that open tries first, whichever key it is for.
    const [first] = await vault.backend.list("keys/");
    if (!first) throw new Error("the vault has no key slot");
    const damagedKey = first.key.endsWith(otherSlot) ? other : KEY;
    const intactKey = damagedKey === KEY ? other : KEY;
    await writeFile(join(dir, "repo", first.key), "{ not json");
    await (await Vault.open(new FilesystemBackend(join(dir, "repo")), intactKey, { threads: 0 })).close();
    await expect(Vault.open(new FilesystemBackend(join(dir, "repo")), damagedKey, { threads: 0 })).rejects.toMatchObject({ reason: "Corrupt", message: expect.stringContaining(first.key) as unknown as string });
  });

  test("a wrong key and a missing vault give classified errors", async () => {
    const vault = await newVault();
    await vault.close();
    await expect(Vault.open(new FilesystemBackend(join(dir, "repo")), Buffer.from("another-key-of-enough-length"), { threads: 0 })).rejects.toMatchObject({ reason: "WrongKey" });
    await expect(Vault.open(new FilesystemBackend(join(dir, "nothing")), KEY, { threads: 0 })).rejects.toMatchObject({ reason: "NotInitialized" });
    await expect(Vault.init(new FilesystemBackend(join(dir, "repo")), KEY, {}, { threads: 0 })).rejects.toMatchObject({ reason: "AlreadyInitialized" });
  });

  test("an interrupted backup leaves packs that the next backup reuses", async () => {
    const vault = await newVault();
    const src = join(dir, "disk.img");
    await writeFile(src, randomBytes(40 * MiB));
    const source = await openDiskSource(src);
    // Fail the source after 36 MiB: abort uploads and indexes what was sealed by then.
    let reads = 0;
    const failing = { ...source, size: source.size, readInto: async (buf: Buffer, offset: number) => {
      if (++reads > 36) throw new Error("disk went away");
      await source.readInto(buf, offset);
    } };
    await expect(backup(vault, [{ key: "2000", source: failing }])).rejects.toThrow(/Backup of disk 2000 failed/);
    await source.close();
    expect((await vault.loadIndex()).index.size).toBeGreaterThanOrEqual(16);
    let last: BackupProgress | undefined;
    const p = await backupFile(vault, src, { onProgress: (x) => (last = x) });
    expect(last?.bytesReused).toBeGreaterThanOrEqual(16 * MiB);
    expect((await restoreFile(vault, p.id, join(dir, "out.img"))).equals(await readFile(src))).toBe(true);
    const result = await check(vault, { readData: true });
    expect(result.errors).toEqual([]);
    await vault.close();
    expect(reasonOf(new Error("x", { cause: result }))).toBeUndefined();
    expect((await stat(src)).size).toBe(40 * MiB);
  });

  test("concurrent backups from separate openers are safe, and prune waits for them", async () => {
    const first = await newVault();
    const second = await Vault.open(new FilesystemBackend(join(dir, "repo")), KEY, { threads: 0 });
    const a = join(dir, "a.img");
    const b = join(dir, "b.img");
    const shared = randomBytes(8 * MiB);
    await writeFile(a, Buffer.concat([shared, randomBytes(20 * MiB)]));
    await writeFile(b, Buffer.concat([shared, randomBytes(20 * MiB)]));
    const sa = await openDiskSource(a);
    const sb = await openDiskSource(b);
    const session = await BackupSession.begin(first, { labels: { vm: "a" } });
    // While a backup holds its shared lock, prune is refused rather than racing it.
    await expect(prune(second, { marginMs: 0 })).rejects.toMatchObject({ reason: "RepositoryBusy" });
    const [pa, pb] = await Promise.all([
      session.backupDisk({ key: "2000", source: sa }).then(() => session.commit()),
      backup(second, [{ key: "2000", source: sb }], { labels: { vm: "b" } }),
    ]);
    await sa.close();
    await sb.close();
    expect((await first.listPoints()).map((p) => p.id).sort()).toEqual([pa.id, pb.id].sort());
    expect((await restoreFile(first, pa.id, join(dir, "a.out"))).equals(await readFile(a))).toBe(true);
    expect((await restoreFile(second, pb.id, join(dir, "b.out"))).equals(await readFile(b))).toBe(true);
    await prune(second, { marginMs: 0 });
    expect((await check(first, { readData: true })).errors).toEqual([]);
    await first.close();
    await second.close();
  });

  test("a vault opened with its threads booted backs up and restores, and a wrong key still says so", async () => {
    await newVault().then((v) => v.close());
    const repo = join(dir, "repo");
    await expect(Vault.open(new FilesystemBackend(repo), Buffer.from("not-the-key-0123456789abcdefgh"), { threads: 0, bootThreads: true })).rejects.toMatchObject({ reason: "WrongKey" });
    const vault = await Vault.open(new FilesystemBackend(repo), KEY, { threads: 0, bootThreads: true });
    const image = makeImage(8);
    await writeFile(join(dir, "disk.img"), image);
    const point = await backupFile(vault, join(dir, "disk.img"));
    expect((await restoreFile(vault, point.id, join(dir, "out.img"))).equals(image)).toBe(true);
    await vault.close();
  });

  test("a point forgotten between a listing and the read of its manifest is left out, not an error", async () => {
    const { vault, point } = await vaultWithOnePoint();
    const src = join(dir, "disk.img");
    const second = await backupFile(vault, src, { parent: point.id });
    // A retention pass beside the listing: the manifest goes after the list and before its read.
    class ForgettingBackend extends FilesystemBackend {
      override async list(prefix: string) {
        const listed = await super.list(prefix);
        if (prefix.startsWith("manifests")) await forget(vault, { ids: [point.id] });
        return listed;
      }
    }
    const racing = await Vault.open(new ForgettingBackend(join(dir, "repo")), KEY, { threads: 0 });
    expect((await racing.listPoints()).map((p) => p.id)).toEqual([second.id]);
    await racing.close();
    // The same for getPoint, between its stat and its read: the point does not exist, and says so by name.
    class DeletingBackend extends FilesystemBackend {
      override async stat(key: string) {
        const info = await super.stat(key);
        if (key.startsWith("manifests")) await forget(vault, { ids: [second.id] });
        return info;
      }
    }
    const statting = await Vault.open(new DeletingBackend(join(dir, "repo")), KEY, { threads: 0 });
    await expect(statting.getPoint(second.id)).rejects.toMatchObject({ reason: "NotFound", message: expect.stringContaining(second.id) as unknown });
    await statting.close();
    await vault.close();
  });

  test("checkLockConfig names a lock that differs from the spec", async () => {
    const vault = await newVault(30);
    expect(await checkLockConfig(vault, { enabled: true, mode: "Compliance", retentionDays: 30 })).toEqual([]);
    const problems = await checkLockConfig(vault, { enabled: true, mode: "Governance", retentionDays: 7 });
    expect(problems.map((p) => p.reason)).toEqual(["LockMismatch"]);
    expect(problems[0]?.message).toContain("Compliance, 30 days");
    expect((await checkLockConfig(vault, { enabled: false, mode: "Governance", retentionDays: 0 }))[0]?.reason).toBe("LockMismatch");
    await vault.close();
  });
});
