import type { IncomingMessage } from "node:http";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { VsphereError } from "./errors.js";
import { classifyNetworkError, readBody } from "./soap.js";
import type { Session } from "./session.js";

/**
 * Disk data through the datastore HTTP interface (/folder/<path>?dcPath&dsName),
 * authenticated with the session cookie: ranged reads of a disk's data file
 * for backup, and whole-disk uploads for restore. Reads are streams, so memory
 * stays bounded however large the range.
 *
 * A flat VMDK is two files: the descriptor ("disk.vmdk") that VM
 * configurations name, and the data ("disk-flat.vmdk") holding the disk's
 * bytes at their offsets. These functions take the descriptor's location and
 * transfer the data file.
 */

export interface DiskLocation {
  /** Inventory path of the datacenter, e.g. "DC0" (Datacenter.path). */
  readonly datacenterPath: string;
  readonly datastoreName: string;
  /** The descriptor's path inside the datastore, e.g. "vm1/vm1.vmdk" (VmDisk.path). */
  readonly path: string;
}

/** "dir/disk.vmdk" -> "dir/disk-flat.vmdk" */
export function flatFilePath(descriptorPath: string): string {
  if (!descriptorPath.endsWith(".vmdk")) throw new VsphereError(`"${descriptorPath}" is not a VMDK descriptor path`);
  return `${descriptorPath.slice(0, -".vmdk".length)}-flat.vmdk`;
}

/** The request path of a datastore file. Exported for unit tests. */
export function datastoreFilePath(loc: DiskLocation, file: string): string {
  const encoded = file.split("/").map(encodeURIComponent).join("/");
  const q = new URLSearchParams({ dcPath: loc.datacenterPath, dsName: loc.datastoreName });
  return `/folder/${encoded}?${q.toString()}`;
}

/** Counts the bytes passing through and fails the stream if they are not exactly `expected`. */
class ExactLength extends Transform {
  private seen = 0;
  constructor(
    private readonly expected: number,
    private readonly what: string,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.expected) {
      cb(new VsphereError(`${this.what}: the server sent more than the ${this.expected} bytes asked for`));
      return;
    }
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    cb(this.seen === this.expected ? null : new VsphereError(`${this.what}: got ${this.seen} of ${this.expected} bytes`));
  }
}

async function sendWithSession(
  session: Session,
  make: () => { method: string; path: string; headers?: Record<string, string | number>; body?: Buffer | Readable },
  what: string,
  opts: { timeoutMs?: number; signal?: AbortSignal; retryable: boolean },
): Promise<IncomingMessage> {
  const gen = session.generation;
  const req = make();
  let res = await session.transport.send({
    ...req,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if ((res.statusCode === 401 || res.statusCode === 403) && opts.retryable) {
    res.resume();
    await session.reestablish(gen);
    res = await session.transport.send({
      ...make(),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }
  if (res.statusCode === 401 || res.statusCode === 403) {
    res.resume();
    throw new VsphereError(`${what}: the datastore refused the session (HTTP ${res.statusCode})`);
  }
  return res;
}

/**
 * Reads `length` bytes of the disk's data from `offset`, as a stream. The
 * stream errors if the server sends fewer or more bytes.
 */
export async function readDiskRange(
  session: Session,
  loc: DiskLocation,
  offset: number,
  length: number,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<Readable> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0) {
    throw new VsphereError(`Invalid disk range: offset ${offset}, length ${length}`);
  }
  const file = flatFilePath(loc.path);
  const what = `Reading [${loc.datastoreName}] ${file} at ${offset}+${length}`;
  const res = await sendWithSession(
    session,
    () => ({ method: "GET", path: datastoreFilePath(loc, file), headers: { Range: `bytes=${offset}-${offset + length - 1}` } }),
    what,
    { ...opts, retryable: true },
  );
  const status = res.statusCode ?? 0;
  const full = status === 200 && offset === 0 && Number(res.headers["content-length"]) === length;
  if (status !== 206 && !full) {
    const body = (await readBody(res).catch(() => Buffer.alloc(0))).toString("utf8").slice(0, 200);
    throw new VsphereError(`${what}: HTTP ${status}${status === 200 ? " (the server ignored the range)" : ""} ${body}`.trim());
  }
  const counted = new ExactLength(length, what);
  // A connection lost mid-range (vCenter restarting, a network cut) is UnreachableError, as it is before the answer.
  res.once("error", (err) => counted.destroy(classifyNetworkError(err, what)));
  return res.pipe(counted);
}

/**
 * Uploads a whole disk's data (restore): `sizeBytes` bytes from `source`
 * replace the data file of the disk at `loc`. The disk must exist (create
 * the VM first); its capacity should equal `sizeBytes`.
 */
export async function uploadDisk(
  session: Session,
  loc: DiskLocation,
  source: Readable | Buffer,
  sizeBytes: number,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const file = flatFilePath(loc.path);
  const what = `Uploading [${loc.datastoreName}] ${file}`;
  const headers = { "Content-Type": "application/octet-stream", "Content-Length": sizeBytes };
  const body = Buffer.isBuffer(source) ? source : source.pipe(new ExactLength(sizeBytes, what));
  const res = await sendWithSession(session, () => ({ method: "PUT", path: datastoreFilePath(loc, file), headers, body }), what, {
    ...opts,
    // A stream can be sent once; a Buffer can be sent again after a re-login.
    retryable: Buffer.isBuffer(source),
  });
  const status = res.statusCode ?? 0;
  const text = (await readBody(res).catch(() => Buffer.alloc(0))).toString("utf8").slice(0, 200);
  if (status < 200 || status >= 300) throw new VsphereError(`${what}: HTTP ${status} ${text}`.trim());
}
