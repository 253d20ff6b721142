/**
 * Errors of the vault engine. Every error a user can cause carries a one-word
 * `reason` so that callers (the CLI, the BackupVault reconciler) can map it to
 * an exit status or a condition reason without parsing messages.
 */

/** Why a vault operation failed, in words a condition reason can use. */
export type VaultErrorReason =
  /** The backend could not be reached (DNS, connection refused, timeouts, 5xx after retries). */
  | "BackendUnreachable"
  /** The backend refused the credentials or the operation (403). */
  | "AccessDenied"
  /** The bucket does not exist. */
  | "BucketNotFound"
  /** The key does not open any key slot of the repository. */
  | "WrongKey"
  /** There is no repository at the location. */
  | "NotInitialized"
  /** `init` found a repository already there. */
  | "AlreadyInitialized"
  /** The repository's format version is newer than this program understands. */
  | "UnsupportedFormat"
  /** The vault's lock settings differ from what the caller expects. */
  | "LockMismatch"
  /** The vault wants a lock but the bucket has no Object Lock (it can only be enabled at bucket creation). */
  | "ObjectLockNotEnabled"
  /** A recovery point is locked until its retain-until time. */
  | "PointLocked"
  /** Another process holds a conflicting repository lock (prune vs. backup). */
  | "RepositoryBusy"
  /** A recovery point, disk or object does not exist. */
  | "NotFound"
  /** Stored data failed verification. */
  | "Corrupt"
  /** The backend's storage is full: a filesystem out of space (ENOSPC) or over its quota (EDQUOT). */
  | "NoSpace"
  /** Recovery points use blocks that no index object names (index objects lost or deleted); `repair-index` rebuilds them. */
  | "IndexIncomplete"
  /** The caller passed something invalid. */
  | "InvalidArgument";

/** An error with a classified reason; `cause` keeps the underlying error. */
export class VaultError extends Error {
  readonly reason: VaultErrorReason;

  constructor(reason: VaultErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "VaultError";
    this.reason = reason;
  }
}

/** True when `err` is a VaultError with the given reason. */
export function isVaultError(err: unknown, reason?: VaultErrorReason): err is VaultError {
  return err instanceof VaultError && (reason === undefined || err.reason === reason);
}

/**
 * The reason of the first VaultError in `err`'s cause chain, so that a
 * wrapped error (`new Error("Backup failed", { cause })`) still classifies.
 */
export function reasonOf(err: unknown): VaultErrorReason | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 10 && current instanceof Error; depth++) {
    if (current instanceof VaultError) return current.reason;
    current = current.cause;
  }
  return undefined;
}

/** A short description of an unknown thrown value, for messages. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
