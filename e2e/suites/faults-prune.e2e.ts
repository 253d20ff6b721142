// Fault: prune runs, again and again with no safety margin, while three
// backups write into the same vault on a real S3 server (versitygw). The
// backups deduplicate against packs of a point that was just forgotten, which
// is exactly what an unsafe prune would delete under them. The repository
// locks (backups shared, prune exclusive, write-then-list) must keep every
// byte: each side backs off with RepositoryBusy when the other holds the
// vault, and is retried the way the operator retries (a backup Job's pod, the
// next run's prune). At the end every point restores to its disk's exact
// bytes and `check --read-data` is clean.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startS3Server, type S3Server } from "../testbed/s3-server.js";
import { vaultCli, vaultOk, type VaultCliRun } from "../support/vault-cli.js";

const MiB = 1024 * 1024;
const REPO = "s3://prune/vault";

let work: string;
let s3: S3Server;
let keyFile: string;

const env = (): NodeJS.ProcessEnv => ({ AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey, AWS_ENDPOINT_URL: s3.endpoint, AWS_REGION: s3.region, LIFEBOAT_VAULT_KEY_FILE: keyFile });
const vault = (args: string[]): Promise<VaultCliRun> => vaultCli([...args, "--repo", REPO], env());
const ok = (args: string[]): Promise<string> => vaultOk([...args, "--repo", REPO], env());

const busy = (run: VaultCliRun): boolean => run.code !== 0 && /\[RepositoryBusy\]/.test(run.stderr);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "faults-prune-"));
  s3 = await startS3Server(join(work, "s3"));
  await s3.createBucket("prune");
  keyFile = join(work, "key");
  await writeFile(keyFile, randomBytes(32));
  await ok(["init", "--pack-size", "16Mi"]);
}, 300_000);

afterAll(async () => {
  await (s3 as S3Server | undefined)?.stop();
  await rm(work, { recursive: true, force: true });
});

describe("prune beside three concurrent backups", () => {
  it("loses nothing: every backup commits, every point restores exactly, the vault checks clean", async () => {
    // A forgotten point whose blocks the three new disks share: garbage to prune, and what the backups dedup against.
    const shared = randomBytes(24 * MiB);
    const old = join(work, "old.img");
    await writeFile(old, shared);
    await ok(["backup", "--disk", `d=${old}`, "--label", "vm=old"]);
    const [forgotten] = JSON.parse(await ok(["ls", "--json"])) as { id: string }[];
    await ok(["forget", forgotten?.id ?? ""]);

    const disks = await Promise.all([0, 1, 2].map(async (i) => {
      const path = join(work, `vm${i}.img`);
      await writeFile(path, Buffer.concat([shared, randomBytes(12 * MiB)]));
      return path;
    }));

    const counts = { pruneOk: 0, pruneBusy: 0, backupBusy: 0 };
    const writers = { done: false };
    const pruning = (async () => {
      // Between the first backup and the second: backups that already hold the vault dedup against the
      // forgotten point's packs, and a prune that gets in between two backups must keep what they reference.
      await sleep(400);
      // No margin: only the locks stand between prune and the backups' new packs and dedup hits.
      while (!writers.done) {
        const run = await vault(["prune", "--margin", "0s"]);
        if (run.code === 0) counts.pruneOk++;
        else if (busy(run)) counts.pruneBusy++;
        else throw new Error(`prune failed other than busy (exit ${run.code}):\n${run.stderr.slice(-3000)}`);
      }
    })();
    const backups = disks.map(async (path, i) => {
      await sleep(300 * i);
      for (;;) {
        const run = await vault(["backup", "--disk", `d=${path}`, "--label", `vm=vm${i}`, "--threads", "1"]);
        if (run.code === 0) return;
        if (!busy(run)) throw new Error(`backup of vm${i} failed other than busy (exit ${run.code}):\n${run.stderr.slice(-3000)}`);
        counts.backupBusy++;
        await sleep(100 + Math.random() * 200);
      }
    });
    try {
      await Promise.all(backups);
    } finally {
      writers.done = true;
      await pruning;
    }
    process.stdout.write(`prune beside three backups: ${JSON.stringify(counts)}\n`);
    expect(counts.pruneOk + counts.pruneBusy).toBeGreaterThan(0);

    // Once more with nothing beside it: it must find nothing of the three points to delete.
    await ok(["prune", "--margin", "0s"]);
    const points = JSON.parse(await ok(["ls", "--json"])) as { id: string; labels: Record<string, string> }[];
    expect(points.map((p) => p.labels.vm).sort()).toEqual(["vm0", "vm1", "vm2"]);
    expect(await ok(["check", "--read-data"])).toMatch(/^No errors in 3 points, \d+ packs, \d+ blocks; verified/);
    for (const p of points) {
      const target = join(work, `restored-${p.labels.vm}.img`);
      await ok(["restore", p.id, "--target", target]);
      const i = Number(p.labels.vm?.slice(2));
      expect((await readFile(target)).equals(await readFile(disks[i] ?? ""))).toBe(true);
    }
  }, 600_000);
});
