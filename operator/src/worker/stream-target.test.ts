import { describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { backup, FilesystemBackend, openDiskSource, restoreDisk, Vault } from "../vault/index.js";
import { paths } from "../vault/format.js";
import { blockAt, HOLE } from "../vault/manifest.js";
import type { DiskPiece } from "../image/formats.js";
import { SequentialTarget } from "./stream-target.js";

async function collect(t: SequentialTarget): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of t.stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

describe("SequentialTarget", () => {
  it("puts out-of-order writes and holes into one in-order stream", async () => {
    const holes = new Set([1, 3]);
    // Blocks of 4 bytes: A, hole, B, hole, and a partial last block C.
    const t = new SequentialTarget({ size: 18, blockSize: 4, isHole: (b) => holes.has(b) });
    const out = collect(t);
    await Promise.all([t.write(Buffer.from("CC"), 16), t.write(Buffer.from("BBBB"), 8), t.write(Buffer.from("AAAA"), 0)]);
    await t.close();
    const expected = Buffer.concat([Buffer.from("AAAA"), Buffer.alloc(4), Buffer.from("BBBB"), Buffer.alloc(4), Buffer.from("CC")]);
    expect((await out).equals(expected)).toBe(true);
  });

  it("holds a write ahead of the stream until the bytes before it went out", async () => {
    const t = new SequentialTarget({ size: 8, blockSize: 4, isHole: () => false });
    const out = collect(t);
    let ahead = false;
    const second = t.write(Buffer.from("2222"), 4).then(() => { ahead = true; });
    await new Promise((r) => setTimeout(r, 20));
    expect(ahead).toBe(false);
    await t.write(Buffer.from("1111"), 0);
    await second;
    await t.close();
    expect((await out).toString()).toBe("11112222");
  });

  it("fails on close when bytes are missing, and fails waiting writes when stopped", async () => {
    const t = new SequentialTarget({ size: 8, blockSize: 4, isHole: () => false });
    const out = collect(t).catch((err: unknown) => err);
    const waiting = t.write(Buffer.from("2222"), 4);
    t.fail(new Error("upload refused"));
    await expect(waiting).rejects.toThrow("The disk stream stopped");
    expect(await out).toBeInstanceOf(Error);
    const short = new SequentialTarget({ size: 8, blockSize: 4, isHole: () => false });
    void collect(short).catch(() => undefined);
    await expect(short.close()).rejects.toThrow("ended at byte 0 of 8");
  });

  it("a restore into it that fails at an early block rejects, and does not wait for the stream forever", async () => {
    const MiB = 1024 * 1024;
    const dir = await mkdtemp(join(tmpdir(), "stream-target-"));
    try {
      const repo = join(dir, "repo");
      const vault = await Vault.init(new FilesystemBackend(repo), Buffer.from("unit-test-key-0123456789abcdef"), {}, { threads: 0 });
      const image = randomBytes(8 * MiB);
      await writeFile(join(dir, "disk.img"), image);
      const source = await openDiskSource(join(dir, "disk.img"));
      const point = await backup(vault, [{ key: "2000", source }], { labels: { plan: "p", vm: "vm-1" } }).finally(() => source.close());
      // Damage block 0's blob: the readers of blocks 1, 2 and 3 are then waiting in the stream for bytes that never come.
      const ids = (await vault.readPoint(point.id)).blockLists.get("2000");
      const loc = ids && (await vault.loadIndex()).index.get(blockAt(ids, 0));
      if (!loc) throw new Error("block 0 is in no pack");
      const pack = await open(join(repo, paths.pack(loc.pack)), "r+");
      await pack.write(Buffer.from([0xff]), 0, 1, loc.offset + 20);
      await pack.close();

      const target = new SequentialTarget({ size: image.length, blockSize: MiB, isHole: () => false });
      void collect(target).catch(() => undefined);
      await expect(restoreDisk(vault, point.id, "2000", target, { concurrency: 4, maxReadBytes: MiB })).rejects.toMatchObject({ reason: "Corrupt" });
      await vault.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("in pieces mode with an encoding, hands the writer pieces whose grains the vault encoded as it decoded them", async () => {
    const MiB = 1024 * 1024;
    const GRAIN = 64 * 1024;
    const dir = await mkdtemp(join(tmpdir(), "stream-target-"));
    try {
      const vault = await Vault.init(new FilesystemBackend(join(dir, "repo")), Buffer.from("unit-test-key-0123456789abcdef"), {}, { threads: 0 });
      // 4 MiB: random, text, zeros (a hole), then random with a zero grain in it.
      const image = Buffer.alloc(4 * MiB);
      randomBytes(MiB).copy(image, 0);
      image.write("a line of a log file\n".repeat(MiB / 21), MiB, MiB, "latin1");
      randomBytes(MiB).copy(image, 3 * MiB);
      image.fill(0, 3 * MiB + GRAIN, 3 * MiB + 2 * GRAIN);
      await writeFile(join(dir, "disk.img"), image);
      const source = await openDiskSource(join(dir, "disk.img"));
      const point = await backup(vault, [{ key: "2000", source }], { labels: { plan: "p", vm: "vm-1" } }).finally(() => source.close());
      const ids = (await vault.readPoint(point.id)).blockLists.get("2000") as Buffer;

      const target = new SequentialTarget({ size: image.length, blockSize: MiB, isHole: (b) => blockAt(ids, b).equals(HOLE), mode: "pieces", encoding: "vmdkGrains" });
      const pieces: DiskPiece[] = [];
      const reading = (async () => { for await (const p of target.stream as AsyncIterable<DiskPiece>) pieces.push(p); })();
      // One read of the whole pack: blocks 0 and 1, then 3 past the hole, are two writes of one run.
      await restoreDisk(vault, point.id, "2000", target, { concurrency: 1, maxReadBytes: 8 * MiB });
      await target.close();
      await reading;
      await vault.close();

      // Blocks 0, 1 and 3, in order (one piece per write: adjacent blocks of one read may come as one).
      expect(pieces.flatMap((p) => Array.from({ length: p.data.length / MiB }, (_, i) => p.offset / MiB + i))).toEqual([0, 1, 3]);
      const disk = Buffer.alloc(image.length);
      let grains = 0;
      for (const piece of pieces) {
        const encoded = piece.vmdkGrains;
        if (!encoded) throw new Error(`the piece at ${piece.offset} came without its grains`);
        expect(encoded.ends.length).toBe(piece.data.length / GRAIN);
        for (let i = 0, at = 0; i < encoded.ends.length; at = encoded.ends[i] ?? 0, i++) {
          const record = encoded.records.subarray(at, encoded.ends[i]);
          if (record.length === 0) continue;
          grains++;
          const size = record.readUInt32LE(8);
          inflateSync(record.subarray(12, 12 + size)).copy(disk, Number(record.readBigUInt64LE(0)) * 512);
        }
      }
      expect(grains).toBe(2 * 16 + 15);
      expect(disk.equals(image)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
