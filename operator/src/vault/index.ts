/**
 * The vault engine's public API: what the BackupVault reconciler, the backup
 * workers and the CLI use. Open a vault from a spec-like object; every error
 * a user can cause is a VaultError whose `reason` maps to a condition reason.
 */
import { FilesystemBackend } from "./backends/filesystem.js";
import type { S3Settings } from "./backends/s3.js";
import type { Backend } from "./backends/backend.js";
import { VaultError } from "./errors.js";
import { validateLock, type InitOptions, type LockSettings } from "./format.js";
import { stats, type IndexTotalsCache, type VaultStats } from "./stats.js";
import { Vault, type VaultOptions } from "./vault.js";
import type { PointHeader } from "./manifest.js";

export { Vault, type VaultOptions, type PointContent } from "./vault.js";
export { PointHeaderCache } from "./point-header-cache.js";
export { VaultError, isVaultError, reasonOf, type VaultErrorReason } from "./errors.js";
export { BackupSession, backup, type BackupOptions, type BackupProgress, type DiskBackup } from "./backup.js";
export { restoreDisk, type RestoreOptions, type RestoreProgress } from "./restore.js";
export { applyRetention, forget, isLocked, parseDuration, type RetentionPolicy, type RetentionDecision, type ForgetResult } from "./retention.js";
export { prune, type PruneOptions, type PruneResult } from "./prune.js";
export { check, type CheckOptions, type CheckResult } from "./check.js";
export { repairIndex, type RepairIndexResult } from "./repair-index.js";
export { IndexTotalsCache, reductionRatios, stats, type RatioInputs, type VaultStats } from "./stats.js";
export { barringLocks, describeHolders, isStale, listLocks, lockExpiry, type LockRecord } from "./repo-lock.js";
export { openDiskSource, openDiskTarget, type DiskSource, type DiskTarget, type Extent } from "./disk-io.js";
export type { RunEncoding } from "./worker-pool.js";
export { FORMAT_VERSION, parseSize, type LockSettings, type LockMode, type InitOptions, type VaultConfig } from "./format.js";
export type { PointHeader, PointDisk, Consistency } from "./manifest.js";
export { FilesystemBackend } from "./backends/filesystem.js";
export type { S3Settings } from "./backends/s3.js";
export type { Backend } from "./backends/backend.js";

/** Where a vault is, shaped like BackupVault.spec.backend with the Secrets already read. */
export interface VaultBackendSpec {
  readonly filesystem?: { readonly path: string } | undefined;
  /** The bucket, as the S3 backend takes it (tuning fields keep their defaults when omitted). */
  readonly s3?: S3Settings | undefined;
}

/** Everything needed to open (or create) a vault. */
export interface VaultSpec extends VaultOptions {
  readonly backend: VaultBackendSpec;
  /** The user key (the Secret's bytes or a key file's content). */
  readonly key: Buffer;
}

/**
 * Makes the backend for a spec; throws InvalidArgument unless exactly one
 * backend is set. The S3 backend (and with it the AWS SDK) is loaded only
 * for a vault on S3: loading the SDK takes about 0.1 s, a twentieth of a
 * CLI restore of a 4 GiB disk, and a filesystem vault never needs it.
 */
export async function backendFor(spec: VaultBackendSpec): Promise<Backend> {
  if (!!spec.filesystem === !!spec.s3) throw new VaultError("InvalidArgument", "Set exactly one of backend.filesystem or backend.s3");
  if (spec.filesystem) return new FilesystemBackend(spec.filesystem.path);
  const settings = spec.s3 as S3Settings;
  let s3: typeof import("./backends/s3.js");
  try {
    s3 = await import("./backends/s3.js");
  } catch (err) {
    throw new Error(`Could not load the S3 backend (the AWS SDK) for bucket ${settings.bucket}`, { cause: err });
  }
  return new s3.S3Backend(settings);
}

/**
 * Opens an existing vault. Throws VaultError with reason NotInitialized,
 * WrongKey, BackendUnreachable, AccessDenied, BucketNotFound or UnsupportedFormat.
 */
export async function openVault(spec: VaultSpec): Promise<Vault> {
  const backend = await backendFor(spec.backend);
  try {
    return await Vault.open(backend, spec.key, spec);
  } catch (err) {
    await backend.close();
    throw err;
  }
}

/** Creates a vault (AlreadyInitialized if one is there; ObjectLockNotEnabled for a lock on a bucket without Object Lock). */
export async function initVault(spec: VaultSpec, init: InitOptions = {}): Promise<Vault> {
  const backend = await backendFor(spec.backend);
  try {
    return await Vault.init(backend, spec.key, init, spec);
  } catch (err) {
    await backend.close();
    throw err;
  }
}

/** Opens the vault, or creates it when the backend holds none (BackupVault spec.initialize). */
export async function openOrInitVault(spec: VaultSpec, init: InitOptions = {}): Promise<{ vault: Vault; created: boolean }> {
  try {
    return { vault: await openVault(spec), created: false };
  } catch (err) {
    if (!(err instanceof VaultError) || err.reason !== "NotInitialized") throw err;
    return { vault: await initVault(spec, init), created: true };
  }
}

/** One difference between the expected and the actual lock. */
export interface LockProblem {
  readonly reason: "LockMismatch" | "ObjectLockNotEnabled";
  readonly message: string;
}

/**
 * Compares the vault's lock with what the BackupVault spec asks, and checks
 * that the storage can enforce it. Returns the problems (empty when all is well).
 */
export async function checkLockConfig(vault: Vault, expected: LockSettings): Promise<LockProblem[]> {
  validateLock(expected);
  const actual = vault.config.lock;
  const problems: LockProblem[] = [];
  const describe = (l: LockSettings): string => (l.enabled ? `${l.mode}, ${l.retentionDays} days` : "off");
  if (actual.enabled !== expected.enabled || (expected.enabled && (actual.mode !== expected.mode || actual.retentionDays !== expected.retentionDays))) {
    problems.push({ reason: "LockMismatch", message: `The vault's lock is ${describe(actual)} but the spec asks ${describe(expected)}; the lock is fixed at init (a Compliance lock can only be extended)` });
  }
  if (expected.enabled || actual.enabled) {
    const support = await vault.backend.lockSupport();
    if (support.required && !support.objectLock) {
      problems.push({ reason: "ObjectLockNotEnabled", message: `The lock needs Object Lock on the bucket, but ${support.detail}; create a bucket with Object Lock enabled` });
    }
  }
  return problems;
}

/** Headers of all recovery points, oldest first (the source of truth for RecoveryPoint objects). */
export function listPoints(vault: Vault): Promise<PointHeader[]> {
  return vault.listPoints();
}

/** Storage statistics for BackupVault.status; pass one cache per vault to read each index object once. */
export function vaultStats(vault: Vault, cache?: IndexTotalsCache): Promise<VaultStats> {
  return stats(vault, cache);
}
