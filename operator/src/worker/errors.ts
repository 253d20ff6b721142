/**
 * Errors of the worker and their exit codes (spec.ts EXIT_CODES), so the
 * controller can tell from the pod status alone why a VM failed.
 */
import { reasonOf } from "../vault/index.js";
import { AuthenticationFailedError, CertificateMismatchError, UnreachableError } from "../vsphere/index.js";

export const EXIT = {
  succeeded: 0,
  authenticationFailed: 10,
  vcenterUnreachable: 11,
  certificateMismatch: 12,
  vmNotFound: 13,
  snapshotFailed: 14,
  vaultUnavailable: 15,
  wrongKey: 16,
  pointNotFound: 17,
  invalidSpec: 18,
  restoreTargetFailed: 19,
  /** The cloud refused or failed the image (the message says what to fix, e.g. a missing RAM role). */
  cloudImageFailed: 20,
  /** An ECS instance's disks could not be exported and read (ecsBackup). */
  cloudExportFailed: 21,
  /** The vault's storage is full: nothing was committed, and retrying before space is freed cannot help. */
  vaultFull: 22,
  /** Every disk of the VM is one a snapshot leaves out (independent, physical-mode RDM): there is nothing consistent to read. */
  noSnapshotDisks: 23,
  /**
   * A resync is needed and spec.holdResync says not now (business hours):
   * nothing was read. One code per reason (resync.ts, HELD_RESYNC_EXIT), so
   * the controller knows from the pod status alone which resync to make later.
   */
  resyncHeldChangeIdRejected: 24,
  resyncHeldDiskResized: 25,
  resyncHeldChangeTrackingReset: 26,
  /** Any other failure ("WorkerFailed"). */
  failed: 1,
  /** Stopped by SIGTERM (128 + 15), also "WorkerFailed". */
  terminated: 143,
} as const;

/** A failure the worker classified itself; `exitCode` is one of EXIT. */
export class WorkerError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "WorkerError";
  }
}

/** The spec or the environment is wrong; the message says what to fix. */
export class InvalidSpecError extends WorkerError {
  constructor(message: string) {
    super(EXIT.invalidSpec, message);
    this.name = "InvalidSpecError";
  }
}

/**
 * The exit code for an error, from its cause chain: a typed vSphere
 * connection error (wrong password, unreachable, certificate) wins, then a
 * vault that cannot be used, then the worker's own classification, else 1.
 * So a restore step that failed because vCenter went away reports
 * VCenterUnreachable rather than RestoreTargetFailed.
 */
export function exitCodeOf(err: unknown): number {
  const chain: Error[] = [];
  for (let current: unknown = err; chain.length < 12 && current instanceof Error; current = current.cause) chain.push(current);
  for (const e of chain) {
    if (e instanceof AuthenticationFailedError) return EXIT.authenticationFailed;
    if (e instanceof CertificateMismatchError) return EXIT.certificateMismatch;
    if (e instanceof UnreachableError) return EXIT.vcenterUnreachable;
  }
  switch (reasonOf(err)) {
    case "WrongKey":
      return EXIT.wrongKey;
    case "NoSpace":
      return EXIT.vaultFull;
    case "BackendUnreachable":
    case "AccessDenied":
    case "BucketNotFound":
    case "NotInitialized":
    case "UnsupportedFormat":
    case "RepositoryBusy":
      return EXIT.vaultUnavailable;
    default:
      break;
  }
  const own = chain.find((e): e is WorkerError => e instanceof WorkerError);
  return own ? own.exitCode : EXIT.failed;
}

/** The messages of an error and its causes, joined: "Backup failed: disk 2000: HTTP 500". */
export function describeChain(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 12 && current !== undefined; depth++) {
    if (current instanceof Error) {
      if (!parts.includes(current.message)) parts.push(current.message);
      current = current.cause;
    } else {
      parts.push(typeof current === "string" ? current : JSON.stringify(current));
      break;
    }
  }
  return parts.join(": ");
}
