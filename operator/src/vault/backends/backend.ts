/**
 * The storage a vault lives on. The engine needs only whole-object puts,
 * ranged gets, listing and deletes, so a filesystem and any S3-compatible
 * store fit; everything above this interface is backend-agnostic.
 */
import type { LockMode } from "../format.js";

/** One stored object as listed. */
export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly modified: Date;
}

/** Object Lock retention to put on a new object, or to extend an object's to. */
export interface Retention {
  readonly mode: LockMode;
  readonly until: Date;
}

/** What the backend itself enforces about deletion. */
export interface BackendLockSupport {
  /** True when the storage refuses deletion of retained objects (S3 Object Lock enabled on the bucket). */
  readonly objectLock: boolean;
  /** True when a lock needs the storage's enforcement (object stores); a filesystem relies on Lifeboat's commands. */
  readonly required: boolean;
  /** A human description, e.g. "bucket has Object Lock enabled". */
  readonly detail: string;
}

export interface PutOptions {
  /** Object Lock retention for the new object (ignored by backends without Object Lock). */
  readonly retention?: Retention | undefined;
  /** Fail with AlreadyInitialized-style conflict rather than overwrite (used for `config`). */
  readonly ifAbsent?: boolean;
}

/** Storage for a vault. Keys are relative, "/"-separated object names. */
export interface Backend {
  /** Where the vault is, for messages (never includes secrets). */
  readonly location: string;
  /** Reads a whole object; throws VaultError NotFound when absent. */
  get(key: string): Promise<Buffer>;
  /**
   * Reads `length` bytes at `offset`; throws VaultError NotFound when absent.
   * With `into` (at least `length` bytes), a backend that reads into a
   * caller's buffer returns a view of its first `length` bytes, so that a
   * restore reuses its buffers; one that cannot (an HTTP client hands over
   * its own) ignores it.
   */
  getRange(key: string, offset: number, length: number, into?: Buffer): Promise<Buffer>;
  /**
   * Reads `length` bytes at `offset` and returns what `decode` makes of
   * them; the bytes are lent, valid only until `decode` returns (a backend
   * may read into a buffer it reuses). For small reads decoded at once by
   * the thousand, such as the manifest headers a listing of points reads:
   * a Buffer per read is freed only when V8 collects it, and V8 waits for
   * 64 MiB of them. Throws VaultError NotFound when absent.
   */
  readRange<T>(key: string, offset: number, length: number, decode: (bytes: Buffer) => T): Promise<T>;
  /** Writes an object atomically: readers see all of it or nothing. */
  put(key: string, data: Buffer | readonly Buffer[], options?: PutOptions): Promise<void>;
  /**
   * A buffer of `size` bytes to build a pack in, for a backend that writes
   * some buffers faster than others (a filesystem writes page-aligned ones
   * with direct I/O); absent where any Buffer does as well.
   */
  packBuffer?(size: number): Buffer;
  /** Lists objects under a prefix. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Size of an object, or undefined when absent. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /**
   * Deletes an object and, on versioned buckets, every version of it, so the
   * space is really freed. Absent objects are not an error. Throws VaultError
   * PointLocked when the storage refuses because of retention.
   */
  delete(key: string): Promise<void>;
  /** Extends an object's Object Lock retention (no-op without Object Lock). */
  extendRetention(key: string, retention: Retention): Promise<void>;
  /** An object's Object Lock retain-until; undefined when it has none, or the backend has no Object Lock. */
  retainedUntil(key: string): Promise<Date | undefined>;
  /**
   * Removes leftovers of interrupted writers older than `before`: temporary
   * files on a filesystem, incomplete multipart uploads on S3. Returns how many.
   */
  cleanup(before: Date): Promise<number>;
  /** Whether the storage itself enforces retention. */
  lockSupport(): Promise<BackendLockSupport>;
  /** Releases connections. */
  close(): Promise<void>;
}
