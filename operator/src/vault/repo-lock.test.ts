import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { FilesystemBackend } from "./backends/filesystem.js";
import { paths } from "./format.js";
import { isStale, JOB_UID_ENV, listLocks, RepositoryLock, type LockRecord } from "./repo-lock.js";

let dir: string;
let backend: FilesystemBackend;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "repo-lock-"));
  backend = new FilesystemBackend(dir);
});
afterEach(async () => {
  await backend.close();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh exclusive lock left in the vault by some holder (a prune). */
async function leftLock(host: string, pid: number, job?: string): Promise<LockRecord> {
  const now = new Date().toISOString();
  const record: LockRecord = { id: `left-${pid}`, exclusive: true, purpose: "prune", host, pid, ...(job ? { job } : {}), createdAt: now, refreshedAt: now };
  await backend.put(paths.lock(record.id), Buffer.from(JSON.stringify(record)));
  return record;
}

describe("repository locks", () => {
  it("take a restarted container's predecessor's lock for stale: same host and pid, not held by this process", async () => {
    const left = await leftLock(hostname(), process.pid);
    expect(isStale(left)).toBe(true);
    const lock = await RepositoryLock.acquire(backend, false, "backup");
    const [mine] = (await listLocks(backend)).filter((l) => l.id !== left.id);
    // This process's own lock, with the same host and pid, is live.
    expect(mine && isStale(mine)).toBe(false);
    // The predecessor's lock is gone from the vault, not just ignored: other writers see it no more.
    expect((await listLocks(backend)).map((l) => l.id)).toEqual([mine?.id]);
    await lock.release();
  });

  it("take an earlier pod's lock of the same Job for stale and remove it; another Job's stays live", async () => {
    process.env[JOB_UID_ENV] = "job-uid-1";
    try {
      const other = await leftLock("another-pod", 7, "job-uid-2");
      expect(isStale(other)).toBe(false);
      await expect(RepositoryLock.acquire(backend, true, "prune")).rejects.toMatchObject({ reason: "RepositoryBusy" });
      await backend.delete(paths.lock(other.id));

      const left = await leftLock("earlier-pod", 7, "job-uid-1");
      expect(isStale(left)).toBe(true);
      const lock = await RepositoryLock.acquire(backend, true, "prune");
      const locks = await listLocks(backend);
      expect(locks).toHaveLength(1);
      expect(locks[0]).toMatchObject({ job: "job-uid-1", exclusive: true });
      expect(locks[0] && isStale(locks[0])).toBe(false);
      await lock.release();
    } finally {
      delete process.env.LIFEBOAT_JOB_UID;
    }
  });

  it("keep the running worker's lock live for another process in its pod (kubectl exec inherits the Job's uid)", async () => {
    process.env[JOB_UID_ENV] = "job-uid-1";
    try {
      const worker = await leftLock(hostname(), process.ppid, "job-uid-1");
      expect(isStale(worker)).toBe(false);
      await expect(RepositoryLock.acquire(backend, false, "check")).rejects.toMatchObject({ reason: "RepositoryBusy" });
      expect((await listLocks(backend)).map((l) => l.id)).toEqual([worker.id]);
    } finally {
      delete process.env.LIFEBOAT_JOB_UID;
    }
  });

  it("keep a live process's lock on this host, and a fresh lock of another host, live", async () => {
    for (const left of [await leftLock(hostname(), process.ppid), await leftLock("another-pod", process.pid)]) {
      expect(isStale(left)).toBe(false);
      await expect(RepositoryLock.acquire(backend, false, "backup")).rejects.toMatchObject({ reason: "RepositoryBusy" });
      await backend.delete(paths.lock(left.id));
    }
  });

  it("take a lock not refreshed for 30 minutes for stale, whoever holds it", async () => {
    const left = await leftLock("another-pod", 1);
    expect(isStale(left, Date.parse(left.refreshedAt) + 30 * 60_000 + 1)).toBe(true);
  });
});
