/**
 * Typed errors of the vSphere client. A reconciler turns them into condition
 * reasons with {@link conditionReason}; every message says what happened and
 * never contains a password or a session cookie.
 */

/** Any failure talking to vSphere. `reason` is a one-word condition reason. */
export class VsphereError extends Error {
  readonly reason: string = "VSphereError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The server could not be reached: connection refused or reset, DNS failure,
 * no answer within the request timeout, or a proxy in front of it answering
 * 502, 503 or 504 without SOAP (vCenter's, while vpxd starts).
 */
export class UnreachableError extends VsphereError {
  override readonly reason = "Unreachable";
}

/**
 * The server's TLS certificate is not the one we trust: its SHA-256
 * thumbprint differs from the pinned one, or it does not chain to the CA
 * bundle, or it does not name the host. Nothing was sent to that server.
 */
export class CertificateMismatchError extends VsphereError {
  override readonly reason = "CertificateMismatch";
}

/**
 * A SOAP fault from the server, e.g. ManagedObjectNotFound, InvalidArgument,
 * FileFault. `faultName` is the vim25 fault type.
 */
export class FaultError extends VsphereError {
  override readonly reason: string = "VSphereFault";
  constructor(
    readonly faultName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The server refused the user name or password (fault InvalidLogin). */
export class AuthenticationFailedError extends FaultError {
  override readonly reason = "AuthenticationFailed";
}

/** The session is gone (fault NotAuthenticated); the session layer logs in again on its own. */
export class NotAuthenticatedError extends FaultError {
  override readonly reason = "NotAuthenticated";
}

/** A managed object no longer exists (fault ManagedObjectNotFound). */
export class ObjectNotFoundError extends FaultError {
  override readonly reason = "NotFound";
}

/** A vSphere task ended in error; `faultName` is the task's fault type. */
export class TaskFailedError extends FaultError {
  override readonly reason = "TaskFailed";
}

/** A task was cancelled (on our request or by someone else). */
export class TaskCancelledError extends FaultError {
  override readonly reason = "TaskCancelled";
}

/**
 * The guest OS did not power the VM off within the time allowed after a
 * clean shutdown request; the caller may power it off hard.
 */
export class GuestShutdownTimeoutError extends VsphereError {
  override readonly reason = "GuestShutdownTimeout";
}

/**
 * Maps a fault name from the server to the most specific error class.
 * RequestCanceled (a cancelled task) becomes TaskCancelledError.
 */
export function faultToError(faultName: string, message: string, options?: { cause?: unknown; task?: boolean }): FaultError {
  switch (faultName) {
    case "InvalidLogin":
      return new AuthenticationFailedError(faultName, message, options);
    case "NotAuthenticated":
      return new NotAuthenticatedError(faultName, message, options);
    case "ManagedObjectNotFound":
      return new ObjectNotFoundError(faultName, message, options);
    case "RequestCanceled":
      return new TaskCancelledError(faultName, message, options);
    default:
      return options?.task ? new TaskFailedError(faultName, message, options) : new FaultError(faultName, message, options);
  }
}

/** The one-word condition reason for any error (VsphereError or not). */
export function conditionReason(err: unknown): string {
  return err instanceof VsphereError ? err.reason : "Error";
}
