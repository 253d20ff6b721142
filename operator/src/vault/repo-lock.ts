/**
 * Repository locks (`locks/<id>`), so that several processes can work on one
 * vault safely: backups, restores and checks take shared locks, prune takes
 * an exclusive one. Storage offers no atomic compare-and-swap that every
 * S3-compatible store supports, so the protocol is write-then-list (as
 * restic's): write your lock, list all locks, and back off if a conflicting
 * live lock is there. Two racing exclusive lockers both back off; nobody
 * proceeds wrongly. Holders refresh their lock; a lock not refreshed for
 * STALE_MS, or whose process is gone on this host, is stale and ignored.
 * A lock left by an earlier pod of the same Kubernetes Job (JOB_UID_ENV) is
 * stale too, and removed: the Job starts a new pod only once the old one has
 * failed, so its holder is dead (unless that pod was force-deleted while its
 * node still ran it: see isPredecessors).
 */
import { hostname } from "node:os";
import { VaultError } from "./errors.js";
import { paths, randomId } from "./format.js";
import type { Backend } from "./backends/backend.js";

export const REFRESH_MS = 5 * 60_000;
/**
 * The uid of the Kubernetes Job this process runs in (worker pods get it
 * from their controller-uid label). Its pods run one after another (the
 * worker Job's pod failure policy makes the Job replace a pod only once it
 * has failed), so a lock of the same Job that this process does not hold
 * belongs to a dead predecessor: a prune pod killed with its exclusive lock
 * held no longer blocks every backup until the lock expires.
 */
export const JOB_UID_ENV = "LIFEBOAT_JOB_UID";
export const STALE_MS = 30 * 60_000;

/** The JSON of a lock object. */
export interface LockRecord {
  readonly id: string;
  readonly exclusive: boolean;
  readonly purpose: string;
  readonly host: string;
  readonly pid: number;
  /** The Kubernetes Job whose pod holds it (JOB_UID_ENV), when it runs in one. */
  readonly job?: string;
  readonly createdAt: string;
  readonly refreshedAt: string;
}

/** When a lock goes stale (ms since the epoch) unless its holder refreshes it first. */
export function lockExpiry(lock: LockRecord): number {
  return Date.parse(lock.refreshedAt) + STALE_MS;
}

/** Ids of the locks this process holds now. */
const heldHere = new Set<string>();

/**
 * True when the lock's holder is certainly gone or silent for too long: an
 * earlier pod of this process's Job left it (JOB_UID_ENV), or, on the
 * holder's own host, its process is gone, or the process with its pid is
 * this one and does not hold it. The second is a restarted container (the
 * operator is PID 1 again in the same pod, whose name is the host name): its
 * predecessor's locks, a prune's exclusive one above all, are freed the
 * moment it starts instead of blocking every backup until they expire. This
 * assumes what Lifeboat's pods are: one container in a pod opens vaults
 * (two containers of one pod, each PID 1 in its own PID namespace, would
 * take each other's locks for stale).
 */
export function isStale(lock: LockRecord, now = Date.now()): boolean {
  if (now > lockExpiry(lock)) return true;
  if (isPredecessors(lock)) return true;
  if (lock.host === hostname()) {
    try {
      process.kill(lock.pid, 0);
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "ESRCH";
    }
  }
  return false;
}

/**
 * True when the lock was left by an earlier incarnation of this very
 * process: the same Job's earlier pod (another host name: a process started
 * with `kubectl exec` in the running pod inherits its Job's uid, and must
 * not take the worker's lock for its predecessor's), or (a restarted
 * container) the same host and PID. Either way its holder is dead and the
 * lock can go. The one exception Kubernetes allows: a pod force-deleted
 * (`--grace-period=0 --force`, or its Node object deleted) while its node,
 * cut off, still runs it; its Job's replacement then takes a live lock for
 * dead, as any force-deletion breaks a Job's one-pod-at-a-time promise.
 */
function isPredecessors(lock: LockRecord): boolean {
  if (heldHere.has(lock.id)) return false;
  const job = process.env[JOB_UID_ENV];
  if (job && lock.job === job && lock.host !== hostname()) return true;
  return lock.host === hostname() && lock.pid === process.pid;
}

/** Whether `lock` keeps a lock of this kind from being taken: any live lock bars an exclusive one, a live exclusive one a shared one. */
function bars(lock: LockRecord, exclusive: boolean, now: number): boolean {
  return (exclusive || lock.exclusive) && !isStale(lock, now);
}

/** "The vault is locked (…)", naming each holder, as RepositoryBusy says it. */
export function describeHolders(locks: readonly LockRecord[]): string {
  return `The vault is locked (${locks.map((l) => `${l.purpose} by pid ${l.pid} on ${l.host} since ${l.createdAt}`).join("; ")})`;
}

/**
 * The live locks that would make taking a lock of this kind fail now, read
 * without writing one: a process waiting for the vault looks with this, as
 * each attempt to take an exclusive lock bars other writers for a moment.
 */
export async function barringLocks(backend: Backend, exclusive: boolean): Promise<LockRecord[]> {
  const now = Date.now();
  return (await listLocks(backend)).filter((l) => bars(l, exclusive, now));
}

/** Reads every lock; unreadable ones (being written or deleted) are skipped. */
export async function listLocks(backend: Backend): Promise<LockRecord[]> {
  const out: LockRecord[] = [];
  for (const obj of await backend.list(paths.locksPrefix)) {
    try {
      out.push(JSON.parse((await backend.get(obj.key)).toString("utf8")) as LockRecord);
    } catch {
      // A lock deleted between list and get is simply gone.
    }
  }
  return out;
}

/** A held repository lock; call release() when done. */
export class RepositoryLock {
  private timer: NodeJS.Timeout | undefined;
  private record: LockRecord;

  private constructor(private readonly backend: Backend, record: LockRecord) {
    this.record = record;
  }

  /**
   * Takes a lock. Throws RepositoryBusy naming the conflicting holder when
   * a live conflicting lock exists.
   */
  static async acquire(backend: Backend, exclusive: boolean, purpose: string): Promise<RepositoryLock> {
    const now = new Date().toISOString();
    const job = process.env[JOB_UID_ENV];
    const record: LockRecord = { id: randomId(), exclusive, purpose, host: hostname(), pid: process.pid, ...(job ? { job } : {}), createdAt: now, refreshedAt: now };
    await backend.put(paths.lock(record.id), Buffer.from(JSON.stringify(record)));
    const lock = new RepositoryLock(backend, record);
    heldHere.add(record.id);
    const others = (await listLocks(backend)).filter((l) => l.id !== record.id);
    // A predecessor's lock would block other writers until it expires: remove it now.
    for (const l of others.filter(isPredecessors)) await backend.delete(paths.lock(l.id)).catch(() => undefined);
    const conflicts = others.filter((l) => bars(l, exclusive, Date.now()));
    if (conflicts.length > 0) {
      await lock.release();
      throw new VaultError("RepositoryBusy", `${describeHolders(conflicts)}; try again when that finishes${exclusive ? "" : " (prune holds the vault exclusively)"}`);
    }
    lock.timer = setInterval(() => { void lock.refresh(); }, REFRESH_MS);
    lock.timer.unref();
    return lock;
  }

  private async refresh(): Promise<void> {
    this.record = { ...this.record, refreshedAt: new Date().toISOString() };
    await this.backend.put(paths.lock(this.record.id), Buffer.from(JSON.stringify(this.record))).catch(() => undefined);
  }

  /** Removes the lock object. */
  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    try {
      await this.backend.delete(paths.lock(this.record.id));
    } finally {
      heldHere.delete(this.record.id);
    }
  }
}
