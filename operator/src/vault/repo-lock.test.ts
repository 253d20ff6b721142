import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { FilesystemBackend } from "./backends/filesystem.js";
import { paths } from "./format.js";
import { isStale, listLocks, RepositoryLock, type LockRecord } from "./repo-lock.js";

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
async function leftLock(host: string, pid: number): Promise<LockRecord> {
  const now = new Date().toISOString();
  const record: LockRecord = { id: `left-${pid}`, exclusive: true, purpose: "prune", host, pid, createdAt: now, refreshedAt: now };
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
    await lock.release();
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
