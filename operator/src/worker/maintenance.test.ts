import { afterEach, beforeEach, describe, expect, jest, test } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { backup, check, FilesystemBackend, openDiskSource, openVault, Vault, type PointHeader } from "../vault/index.js";
import { RepositoryLock } from "../vault/repo-lock.js";
import type { RunContext } from "./backup-vm.js";
import { runMaintenance } from "./maintenance.js";
import { WorkerMetrics } from "./metrics.js";
import { ProgressTracker } from "./progress.js";
import { SECRET_ENV, type MaintenanceWorkerSpec } from "./spec.js";
import { TokenBucket } from "./token-bucket.js";

const MiB = 1024 * 1024;
const KEY = "maintenance-test-key-0123456789";

let dir: string;
let repo: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "maintenance-"));
  repo = join(dir, "repo");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function context(): RunContext {
  return { env: { [SECRET_ENV.vaultKey]: KEY }, logger: pino({ level: "silent" }), progress: new ProgressTracker(), metrics: new WorkerMetrics(), bandwidth: new TokenBucket(0), signal: new AbortController().signal };
}

function spec(forget: string[], extra: Partial<MaintenanceWorkerSpec> = {}): MaintenanceWorkerSpec {
  return { mode: "maintenance", vault: { filesystem: { path: repo } }, forget, ...extra };
}

/** Backs up `bytes` of random data as one point of plan p. */
async function point(vault: Vault, name: string, bytes: number): Promise<PointHeader> {
  const file = join(dir, `${name}.img`);
  await writeFile(file, randomBytes(bytes));
  const source = await openDiskSource(file);
  try {
    return await backup(vault, [{ key: "2000", source }], { labels: { namespace: "ns", plan: "p", vm: name } });
  } finally {
    await source.close();
  }
}

describe("the maintenance worker", () => {
  test("forgets the named points, skips one already gone, prunes their data, and leaves a vault that checks clean", async () => {
    const vault = await Vault.init(new FilesystemBackend(repo), Buffer.from(KEY), {}, { threads: 0 });
    const doomed = await point(vault, "big", 40 * MiB);
    const kept = await point(vault, "small", 4 * MiB);
    await vault.close();

    const result = await runMaintenance(spec([doomed.id, "20200101T000000Z-00000000"], { prune: { marginMs: 0 } }), context(), 0);
    expect(result).toMatchObject({ forgotten: 1, alreadyGone: 1, keptLocked: 0 });
    expect(result.prune?.packsDeleted).toBeGreaterThanOrEqual(1);
    expect(result.prune?.bytesFreed).toBeGreaterThan(30 * MiB);
    expect(result.pruneDeferred).toBeUndefined();

    const after = await openVault({ backend: { filesystem: { path: repo } }, key: Buffer.from(KEY), threads: 0 });
    expect((await after.listPoints()).map((p) => p.id)).toEqual([kept.id]);
    expect((await check(after, { readData: true })).errors).toEqual([]);
    await after.close();

    // A second pass (a retried pod) finds nothing left to do and fails nothing.
    expect(await runMaintenance(spec([doomed.id], { prune: { marginMs: 0 } }), context(), 0)).toMatchObject({ forgotten: 0, alreadyGone: 1, prune: { packsDeleted: 0 } });
  });

  test("checks the vault and reports what it finds as a result, not a failure: clean, then a damaged pack named", async () => {
    const vault = await Vault.init(new FilesystemBackend(repo), Buffer.from(KEY), {}, { threads: 0 });
    await point(vault, "a", 4 * MiB);
    await vault.close();
    const clean = await runMaintenance(spec([], { check: { readData: true } }), context(), 0);
    expect(clean.check).toMatchObject({ ok: true, errorCount: 0, errors: [], points: 1 });
    expect(clean.check?.bytesVerified).toBeGreaterThan(3 * MiB);

    const [pack] = await readdir(join(repo, "data"), { recursive: true, withFileTypes: true }).then((all) => all.filter((e) => e.isFile()));
    if (!pack) throw new Error("the vault has no pack");
    const file = join(pack.parentPath, pack.name);
    const bytes = await readFile(file);
    bytes[100] = (bytes[100] ?? 0) ^ 0xff;
    await writeFile(file, bytes);
    const damaged = await runMaintenance(spec([], { check: { readData: true } }), context(), 0);
    expect(damaged.check?.ok).toBe(false);
    expect(damaged.check?.errorCount).toBeGreaterThan(0);
    expect(damaged.check?.errors.join("\n")).toContain(pack.name);
    expect(JSON.stringify(damaged).length).toBeLessThan(4096);
  });

  test("keeps a point under the vault lock and counts it, instead of failing the pass", async () => {
    const vault = await Vault.init(new FilesystemBackend(repo), Buffer.from(KEY), { lock: { enabled: true, mode: "Compliance", retentionDays: 1 } }, { threads: 0 });
    const locked = await point(vault, "locked", MiB);
    await vault.close();
    expect(await runMaintenance(spec([locked.id]), context(), 0)).toEqual({ forgotten: 0, keptLocked: 1, alreadyGone: 0 });
  });

  test("defers prune while a backup holds the vault, saying why, and still forgets", async () => {
    const vault = await Vault.init(new FilesystemBackend(repo), Buffer.from(KEY), {}, { threads: 0 });
    const doomed = await point(vault, "a", MiB);
    await point(vault, "b", MiB);
    const backupLock = await RepositoryLock.acquire(vault.backend, false, "backup");
    try {
      const result = await runMaintenance(spec([doomed.id], { prune: { marginMs: 0 }, busyWaitMs: 0 }), context(), 0);
      expect(result).toMatchObject({ forgotten: 1 });
      expect(result.prune).toBeUndefined();
      expect(result.pruneDeferred).toMatch(/locked \(backup by pid/);
    } finally {
      await backupLock.release();
      await vault.close();
    }
  });

  test("waits for a backup to end without trying the vault's exclusive lock meanwhile, then prunes", async () => {
    const vault = await Vault.init(new FilesystemBackend(repo), Buffer.from(KEY), {}, { threads: 0 });
    const doomed = await point(vault, "a", MiB);
    await point(vault, "b", MiB);
    const backupLock = await RepositoryLock.acquire(vault.backend, false, "backup");
    // Each try at the exclusive lock writes it for a moment, and a backup starting in that moment fails: while the backup holds the vault, the pass only looks.
    const acquire = jest.spyOn(RepositoryLock, "acquire");
    try {
      const pass = runMaintenance(spec([doomed.id], { prune: { marginMs: 0 }, busyWaitMs: 60_000 }), context(), 0);
      await new Promise((r) => setTimeout(r, 1500));
      const triedWhileBusy = acquire.mock.calls.filter(([, exclusive]) => exclusive).length;
      await backupLock.release();
      const result = await pass;
      expect(triedWhileBusy).toBe(0);
      expect(acquire.mock.calls.filter(([, exclusive]) => exclusive)).toHaveLength(1);
      expect(result).toMatchObject({ forgotten: 1, prune: { packsDeleted: expect.any(Number) as unknown } });
      expect(result.pruneDeferred).toBeUndefined();
    } finally {
      acquire.mockRestore();
      await backupLock.release();
      await vault.close();
    }
  });
});
