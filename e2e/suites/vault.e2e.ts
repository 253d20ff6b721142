// The vault engine end to end through the `lifeboat vault` CLI, on the real
// filesystem and on a real S3 server with Object Lock (versitygw, built from
// its Go module): full and incremental backups, byte-identical restores,
// prune, the lock (refused by our CLI and by the S3 server itself), and a
// wrong key.
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { DeleteObjectCommand, ListObjectVersionsCommand, S3Client } from "@aws-sdk/client-s3";
import { VAULT_THREAD_NICENESS } from "../../operator/src/vault/worker-pool.js";
import { repoRoot } from "../testbed/paths.js";
import { startS3Server, type S3Server } from "../testbed/s3-server.js";
import { vaultCli, vaultOk } from "../support/vault-cli.js";

jest.setTimeout(180_000);

const MiB = 1024 * 1024;
const execFileAsync = promisify(execFile);

const cli = vaultCli;
const ok = vaultOk;

/** A disk image mixing what VM disks hold: zeros, text, random data, repeated blocks. */
function diskImage(blocks: number): Buffer {
  const img = Buffer.alloc(blocks * MiB);
  for (let b = 0; b < blocks; b++) {
    const kind = b % 6;
    if (kind === 0 || kind === 3) continue;
    if (kind === 1) img.write(`block ${b} of a log file; `.repeat(MiB / 16), b * MiB, "utf8");
    else if (kind === 5 && b > 6) img.copy(img, b * MiB, 2 * MiB, 3 * MiB);
    else randomBytes(MiB).copy(img, b * MiB);
  }
  return img;
}

let work: string;
let s3: S3Server;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "vault-e2e-"));
  s3 = await startS3Server(join(work, "s3"));
  await s3.createBucket("vault-plain");
  await s3.createBucket("vault-locked", { objectLock: true });
}, 300_000);

afterAll(async () => {
  await s3.stop();
  await rm(work, { recursive: true, force: true });
});

function s3Client(): S3Client {
  return new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey } });
}

interface Backend {
  name: string;
  repo: (name: string) => string;
  lockedRepo: (name: string) => string;
  env: () => NodeJS.ProcessEnv;
}

const backends: Backend[] = [
  { name: "filesystem", repo: (n) => join(work, n), lockedRepo: (n) => join(work, n), env: () => ({}) },
  {
    name: "s3",
    repo: (n) => `s3://vault-plain/${n}`,
    lockedRepo: (n) => `s3://vault-locked/${n}`,
    env: () => ({ AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey, AWS_ENDPOINT_URL: s3.endpoint, AWS_REGION: s3.region }),
  },
];

describe.each(backends)("lifeboat vault on $name", (backend) => {
  let env: NodeJS.ProcessEnv;
  let keyFile: string;

  beforeAll(async () => {
    keyFile = join(work, `${backend.name}.key`);
    await writeFile(keyFile, randomBytes(32));
    env = { ...backend.env(), LIFEBOAT_VAULT_KEY_FILE: keyFile };
  });

  it("backs up, backs up incrementally from changed extents, restores byte-identically and prunes", async () => {
    const repo = backend.repo("main");
    const dir = await mkdtemp(join(work, `${backend.name}-`));
    const disk = join(dir, "disk.img");
    const original = diskImage(48);
    await writeFile(disk, original);
    await ok(["init", "--repo", repo, "--pack-size", "16Mi"], env);

    const first = JSON.parse(await ok(["backup", "--repo", repo, "--json", "--disk", `2000=${disk}`, "--change-id", "2000=52 1a/7", "--label", "vm=vm-7", "--label", "plan=nightly"], env)) as { id: string; disks: { readBytes: number; changeId: string }[] };
    expect(first.disks[0]?.readBytes).toBe(48 * MiB);
    expect(first.disks[0]?.changeId).toBe("52 1a/7");

    // The guest writes: one whole block, and a range crossing blocks 20 and 21.
    const fh = await open(disk, "r+");
    await fh.write(randomBytes(MiB), 0, MiB, 4 * MiB);
    await fh.write(randomBytes(8192), 0, 8192, 21 * MiB - 4096);
    await fh.close();
    const extents = join(dir, "changed.json");
    await writeFile(extents, JSON.stringify([{ offset: 4 * MiB, length: MiB }, { offset: 21 * MiB - 4096, length: 8192 }]));
    const second = JSON.parse(await ok(["backup", "--repo", repo, "--json", "--disk", `2000=${disk}`, "--changed", `2000=${extents}`, "--parent", "latest", "--label", "vm=vm-7", "--label", "plan=nightly"], env)) as { id: string; parent: string; disks: { readBytes: number }[] };
    expect(second.parent).toBe(first.id);
    expect(second.disks[0]?.readBytes).toBe(3 * MiB);

    await ok(["restore", "--repo", repo, second.id, "--disk", `2000=${join(dir, "second.img")}`], env);
    expect((await readFile(join(dir, "second.img"))).equals(await readFile(disk))).toBe(true);
    await ok(["restore", "--repo", repo, first.id, "--target", join(dir, "first.img")], env);
    expect((await readFile(join(dir, "first.img"))).equals(original)).toBe(true);

    // A second VM's disk, then forgotten: prune must free its packs and keep the rest.
    const other = join(dir, "other.img");
    await writeFile(other, randomBytes(40 * MiB));
    const third = JSON.parse(await ok(["backup", "--repo", repo, "--json", "--disk", `2000=${other}`, "--label", "vm=vm-8"], env)) as { id: string };
    const before = JSON.parse(await ok(["stats", "--repo", repo, "--json"], env)) as { packBytes: number; pointCount: number };
    expect(before.pointCount).toBe(3);
    const forgotten = JSON.parse(await ok(["forget", "--repo", repo, "--json", "--keep-last", "1", "--group-by", "vm"], env)) as { forgotten: string[] };
    expect(forgotten.forgotten).toEqual([first.id]);
    await ok(["forget", "--repo", repo, third.id], env);
    const pruned = JSON.parse(await ok(["prune", "--repo", repo, "--json", "--margin", "0s"], env)) as { packsDeleted: number; bytesFreed: number };
    expect(pruned.packsDeleted).toBeGreaterThanOrEqual(2);
    const after = JSON.parse(await ok(["stats", "--repo", repo, "--json"], env)) as { packBytes: number; pointCount: number };
    expect(after.pointCount).toBe(1);
    expect(after.packBytes).toBeLessThan(before.packBytes - 35 * MiB);
    expect(before.packBytes - after.packBytes).toBe(pruned.bytesFreed);

    await ok(["restore", "--repo", repo, second.id, "--target", join(dir, "again.img")], env);
    expect((await readFile(join(dir, "again.img"))).equals(await readFile(disk))).toBe(true);
    const checked = await cli(["check", "--repo", repo, "--read-data"], env);
    expect(checked.stdout).toContain("No errors");
    expect(checked.code).toBe(0);
  });

  it("never deletes a locked point: the CLI refuses, and so does the S3 server; a deleted index is rebuilt", async () => {
    const repo = backend.lockedRepo("locked");
    const dir = await mkdtemp(join(work, `${backend.name}-lock-`));
    await writeFile(join(dir, "disk.img"), diskImage(4));
    await ok(["init", "--repo", repo, "--pack-size", "16Mi", "--lock-mode", "Compliance", "--lock-days", "1"], env);
    const point = JSON.parse(await ok(["backup", "--repo", repo, "--json", "--disk", `2000=${join(dir, "disk.img")}`], env)) as { id: string; retainUntil: string };
    expect(Date.parse(point.retainUntil)).toBeGreaterThan(Date.now() + 23 * 3600_000);

    const refused = await cli(["forget", "--repo", repo, point.id], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("[PointLocked]");
    const policy = JSON.parse(await ok(["forget", "--repo", repo, "--json", "--keep-last", "0"], env)) as { forgotten: string[]; decisions: { reasons: string[] }[] };
    expect(policy.forgotten).toEqual([]);
    expect(policy.decisions[0]?.reasons.join()).toContain("locked until");
    await ok(["prune", "--repo", repo, "--margin", "0s"], env);
    expect(await ok(["ls", "--repo", repo], env)).toContain(point.id);
    expect((await cli(["check", "--repo", repo, "--read-data"], env)).code).toBe(0);

    if (backend.name !== "s3") return;
    // The storage itself refuses, whoever asks: the bucket owner deleting each object version,
    // even with the governance bypass header.
    const client = s3Client();
    try {
      const versions = await client.send(new ListObjectVersionsCommand({ Bucket: "vault-locked", Prefix: "locked/" }));
      // Manifests and packs, and what reading them needs first: the config and the key slots.
      const guarded = (versions.Versions ?? []).filter((v) => v.Key === "locked/config" || v.Key?.includes("/keys/") || v.Key?.includes("/manifests/") || v.Key?.includes("/data/"));
      expect(guarded.filter((v) => v.Key === "locked/config" || v.Key?.includes("/keys/")).length).toBeGreaterThanOrEqual(2);
      expect(guarded.length).toBeGreaterThanOrEqual(4);
      for (const v of guarded) {
        await expect(client.send(new DeleteObjectCommand({ Bucket: "vault-locked", Key: v.Key, VersionId: v.VersionId }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
        await expect(client.send(new DeleteObjectCommand({ Bucket: "vault-locked", Key: v.Key, VersionId: v.VersionId, BypassGovernanceRetention: true }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
      }
      // The index is not retained (prune rewrites it), so it can be deleted, every version of it.
      const indexVersions = (versions.Versions ?? []).filter((v) => v.Key?.includes("/index/"));
      expect(indexVersions.length).toBeGreaterThanOrEqual(1);
      for (const v of indexVersions) await client.send(new DeleteObjectCommand({ Bucket: "vault-locked", Key: v.Key, VersionId: v.VersionId }));
    } finally {
      client.destroy();
    }
    // Without an index prune would take every pack for a leftover: it refuses, and says what to run.
    const refusedPrune = await cli(["prune", "--repo", repo, "--margin", "0s"], env);
    expect(refusedPrune.code).toBe(1);
    expect(refusedPrune.stderr).toContain("[IndexIncomplete]");
    expect(refusedPrune.stderr).toContain("lifeboat vault repair-index");
    const repaired = JSON.parse(await ok(["repair-index", "--repo", repo, "--json"], env)) as { packs: number; blocks: number; unreadablePacks: string[] };
    expect(repaired.packs).toBeGreaterThanOrEqual(1);
    expect(repaired.unreadablePacks).toEqual([]);
    await ok(["prune", "--repo", repo, "--margin", "0s"], env);
    await ok(["restore", "--repo", repo, point.id, "--target", join(dir, "restored.img")], env);
    expect((await readFile(join(dir, "restored.img"))).equals(await readFile(join(dir, "disk.img")))).toBe(true);
    expect((await cli(["check", "--repo", repo, "--read-data"], env)).code).toBe(0);
  });

  it("takes concurrent backups from several processes into one vault", async () => {
    const repo = backend.repo("concurrent");
    const dir = await mkdtemp(join(work, `${backend.name}-conc-`));
    await ok(["init", "--repo", repo, "--pack-size", "16Mi"], env);
    const shared = randomBytes(12 * MiB);
    const disks = await Promise.all([0, 1, 2].map(async (i) => {
      const path = join(dir, `vm${i}.img`);
      await writeFile(path, Buffer.concat([shared, randomBytes(20 * MiB), diskImage(6)]));
      return path;
    }));
    const points = await Promise.all(disks.map(async (path, i) =>
      JSON.parse(await ok(["backup", "--repo", repo, "--json", "--disk", `2000=${path}`, "--label", `vm=vm-${i}`], env)) as { id: string }));
    expect(new Set(points.map((p) => p.id)).size).toBe(3);
    expect((await cli(["check", "--repo", repo, "--read-data"], env)).code).toBe(0);
    for (const [i, p] of points.entries()) {
      await ok(["restore", "--repo", repo, p.id, "--target", join(dir, `out${i}.img`)], env);
      expect((await readFile(join(dir, `out${i}.img`))).equals(await readFile(disks[i] ?? ""))).toBe(true);
    }
  });

  it("explains a wrong key and a missing vault", async () => {
    const repo = backend.repo("keyed");
    await ok(["init", "--repo", repo], env);
    const otherKey = join(work, `${backend.name}.other.key`);
    await writeFile(otherKey, randomBytes(32));
    const wrong = await cli(["ls", "--repo", repo, "--key-file", otherKey], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/The key does not open the vault .*\[WrongKey\]/);
    const missing = await cli(["ls", "--repo", backend.repo("nothing-here")], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("[NotInitialized]");
  });
});

describe("a locked vault on a bucket without Object Lock", () => {
  it("is refused at init", async () => {
    const keyFile = join(work, "nolock.key");
    await writeFile(keyFile, randomBytes(32));
    const run = await cli(["init", "--repo", "s3://vault-plain/wants-lock", "--lock-mode", "Governance", "--lock-days", "7"], {
      ...backends[1]?.env(), LIFEBOAT_VAULT_KEY_FILE: keyFile,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("[ObjectLockNotEnabled]");
  });
});

describe("the vault's worker threads", () => {
  it("run below the main thread's priority, and the main thread keeps its own", async () => {
    if (process.platform !== "linux") return;
    // The built pool in a process of its own: two blocks at once go to both threads,
    // which set their priority as they start, before they take any work.
    const pool = pathToFileURL(join(repoRoot, "dist", "operator", "src", "vault", "worker-pool.js")).href;
    const script = `
      import { readdirSync, readFileSync } from "node:fs";
      import { WorkerPool } from ${JSON.stringify(pool)};
      const pool = new WorkerPool(2);
      pool.setKeys({ dataKey: Buffer.alloc(32, 1), idKey: Buffer.alloc(32, 2) }, 1);
      await Promise.all([pool.hash(Buffer.alloc(4096, 3)), pool.hash(Buffer.alloc(4096, 4))]);
      const tasks = readdirSync("/proc/self/task").map((tid) => {
        const stat = readFileSync("/proc/self/task/" + tid + "/stat", "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return { tid: Number(tid), nice: Number(fields[16]) };
      });
      await pool.close();
      process.stdout.write(JSON.stringify({ pid: process.pid, tasks }));
    `;
    const file = join(work, "pool-priority.mjs");
    await writeFile(file, script);
    const { stdout } = await execFileAsync(process.execPath, [file]);
    const { pid, tasks } = JSON.parse(stdout) as { pid: number; tasks: { tid: number; nice: number }[] };
    const main = tasks.find((t) => t.tid === pid);
    expect(main).toBeDefined();
    // A process already at the lowest priority has none lower to give its threads.
    if ((main?.nice ?? 0) >= 19) return;
    // Threads are named only on newer Node.js ("WorkerThread"), so they are told apart by priority:
    // exactly the pool's two run lower, and every other thread (V8's, libuv's) keeps the process's.
    const lowered = Math.min(19, (main?.nice ?? 0) + VAULT_THREAD_NICENESS);
    expect(tasks.filter((t) => t.nice === lowered)).toHaveLength(2);
    expect(tasks.filter((t) => t.nice !== lowered).every((t) => t.nice === main?.nice)).toBe(true);
  });
});
