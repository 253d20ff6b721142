/**
 * A vault on a local or mounted filesystem (a host path or a
 * PersistentVolumeClaim). Writes go to a temporary file that is fsynced and
 * renamed into place, so a killed writer never leaves a partial object; the
 * aligned start of a pack goes there with direct I/O (direct-io.ts).
 * A filesystem cannot enforce retention by itself: the lock is enforced by
 * Lifeboat's own commands only (lockSupport says so).
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { VaultError } from "../errors.js";
import { alignedBuffer, DIRECT_ALIGNMENT, directLength, O_DIRECT } from "./direct-io.js";
import type { Backend, BackendLockSupport, ObjectInfo, PutOptions } from "./backend.js";

/** Largest single read (Node takes at most 2^31 - 1 bytes per read). */
const MAX_READ = 1024 * 1024 * 1024;
/** Reads up to this size are lent a reused buffer by readRange (a manifest's first read is 8 KiB). */
const LENT_BUFFER_SIZE = 64 * 1024;
/** Lent buffers kept for reuse: more reads in flight at once allocate and drop theirs. */
const LENT_BUFFERS_KEPT = 16;

/** Marker in the names of files being written; listing skips them and prune removes old ones. */
export const TEMP_MARKER = ".tmp-";

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

/**
 * Writes every byte of `chunks` into a new file, from `position`. One writev
 * may write less than asked without an error: a filesystem that fills up
 * midway says so (ENOSPC) only when the rest is written. Taking the first
 * count as the whole put a truncated pack under its final name, which a
 * later index could have pointed into.
 */
export async function writeAll(fh: Pick<FileHandle, "writev" | "write">, chunks: readonly Buffer[], position = 0): Promise<void> {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  let written = (await fh.writev(chunks as Buffer[], position)).bytesWritten;
  if (written === total) return;
  const rest = Buffer.concat(chunks).subarray(written);
  for (let at = 0; at < rest.length;) {
    const { bytesWritten } = await fh.write(rest, at, rest.length - at, position + written);
    if (bytesWritten === 0) throw Object.assign(new Error(`wrote ${written} of ${total} bytes, then nothing more`), { code: "ENOSPC" });
    at += bytesWritten;
    written += bytesWritten;
  }
}

/** A vault rooted at a directory. */
export class FilesystemBackend implements Backend {
  readonly location: string;
  /** Buffers readRange lends and takes back, one per read in flight (a listing reads 8 at a time). */
  private readonly lent: Buffer[] = [];
  /** False once this filesystem refused a direct write (EINVAL): puts then go through the page cache only. */
  private directWrites = true;
  /** Bytes written with O_DIRECT so far (the aligned starts of packs), for tests and diagnostics. */
  directBytes = 0;

  constructor(private readonly root: string) {
    this.location = root;
  }

  private path(key: string): string {
    if (key.includes("..") || key.startsWith("/")) throw new VaultError("InvalidArgument", `Object name ${key} is not a relative name`);
    return join(this.root, ...key.split("/"));
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      throw this.wrap(err, `read ${key}`);
    }
  }

  async getRange(key: string, offset: number, length: number, into?: Buffer): Promise<Buffer> {
    const buf = into && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafeSlow(length);
    await this.readInto(key, offset, length, buf);
    return buf;
  }

  async readRange<T>(key: string, offset: number, length: number, decode: (bytes: Buffer) => T): Promise<T> {
    if (length > LENT_BUFFER_SIZE) return decode(await this.getRange(key, offset, length));
    const buf = this.lent.pop() ?? Buffer.allocUnsafeSlow(LENT_BUFFER_SIZE);
    try {
      await this.readInto(key, offset, length, buf);
      return decode(buf.subarray(0, length));
    } finally {
      if (this.lent.length < LENT_BUFFERS_KEPT) this.lent.push(buf);
    }
  }

  /** Reads `length` bytes at `offset` of an object into the start of `buf`. */
  private async readInto(key: string, offset: number, length: number, buf: Buffer): Promise<void> {
    // A negative position reads from the file's current position instead, and a read of 2 GiB or more aborts Node.
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new VaultError("InvalidArgument", `Cannot read ${length} bytes at ${offset} of ${key} in ${this.root}: not a range`);
    }
    let fh: FileHandle | undefined;
    try {
      fh = await open(this.path(key), "r");
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, Math.min(length - done, MAX_READ), offset + done);
        if (bytesRead === 0) throw new VaultError("Corrupt", `${key} in ${this.root} ends before byte ${offset + length}`);
        done += bytesRead;
      }
    } catch (err) {
      throw this.wrap(err, `read ${key}`);
    } finally {
      await fh?.close();
    }
  }

  async put(key: string, data: Buffer | readonly Buffer[], options: PutOptions = {}): Promise<void> {
    const target = this.path(key);
    const temp = `${target}${TEMP_MARKER}${randomBytes(6).toString("hex")}`;
    try {
      await mkdir(dirname(target), { recursive: true });
      const fh = await open(temp, "wx");
      try {
        const chunks = Buffer.isBuffer(data) ? [data] : data;
        const direct = await this.writeDirect(temp, chunks[0]);
        await writeAll(fh, direct > 0 ? [(chunks[0] as Buffer).subarray(direct), ...chunks.slice(1)] : chunks, direct);
        // Syncs what went through the cache, the file's size, and the device's cache for what went direct.
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (options.ifAbsent) {
        // link() fails when the target exists, which rename() would silently replace.
        try {
          await link(temp, target);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new VaultError("AlreadyInitialized", `${key} already exists in ${this.root}`);
          throw err;
        } finally {
          await unlink(temp).catch(() => undefined);
        }
      } else {
        await rename(temp, target);
      }
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw this.wrap(err, `write ${key}`);
    }
  }

  /** A page-aligned buffer, whose start put() writes with direct I/O; a plain one once this filesystem has refused direct writes. */
  packBuffer(size: number): Buffer {
    return this.directWrites ? alignedBuffer(size) : Buffer.allocUnsafeSlow(size);
  }

  /**
   * Writes the aligned start of `first` to the new file `temp` with O_DIRECT
   * (direct-io.ts) and returns how many bytes it wrote: 0 when `first` is not
   * an aligned buffer or this filesystem refuses direct writes, and the put
   * writes everything through the cache. A refusal (EINVAL) is remembered
   * and not asked again.
   */
  private async writeDirect(temp: string, first: Buffer | undefined): Promise<number> {
    if (!first || !this.directWrites || O_DIRECT === undefined) return 0;
    const length = directLength(first);
    if (length === 0) return 0;
    let fh: FileHandle | undefined;
    try {
      fh = await open(temp, constants.O_WRONLY | O_DIRECT);
      for (let at = 0; at < length;) {
        const { bytesWritten } = await fh.write(first, at, length - at, at);
        // After a short write that leaves an unaligned rest (a filling disk), the cache takes the rest and finds ENOSPC.
        if (bytesWritten === 0 || bytesWritten % DIRECT_ALIGNMENT !== 0) return at + bytesWritten;
        at += bytesWritten;
      }
      this.directBytes += length;
      return length;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw err;
      this.directWrites = false;
      return 0;
    } finally {
      await fh?.close();
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const dir = this.path(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
    const out: ObjectInfo[] = [];
    const walk = async (path: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(path, { withFileTypes: true });
      } catch (err) {
        if (isNotFound(err)) return;
        throw this.wrap(err, `list ${prefix}`);
      }
      for (const entry of entries) {
        const full = join(path, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile() && !entry.name.includes(TEMP_MARKER)) {
          const st = await stat(full).catch((err: unknown) => { if (isNotFound(err)) return undefined; throw err; });
          if (st) out.push({ key: relative(this.root, full).split(sep).join("/"), size: st.size, modified: st.mtime });
        }
      }
    };
    await walk(dir);
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await stat(this.path(key));
      return { key, size: st.size, modified: st.mtime };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.wrap(err, `stat ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(this.path(key), { force: true });
    } catch (err) {
      throw this.wrap(err, `delete ${key}`);
    }
  }

  extendRetention(): Promise<void> {
    return Promise.resolve();
  }

  retainedUntil(): Promise<Date | undefined> {
    return Promise.resolve(undefined);
  }

  lockSupport(): Promise<BackendLockSupport> {
    return Promise.resolve({ objectLock: false, required: false, detail: "a filesystem cannot enforce retention; Lifeboat's commands enforce the lock" });
  }

  async cleanup(before: Date): Promise<number> {
    let removed = 0;
    const walk = async (path: string): Promise<void> => {
      const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const full = join(path, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.name.includes(TEMP_MARKER)) {
          const st = await stat(full).catch(() => undefined);
          if (st && st.mtime < before) {
            await rm(full, { force: true });
            removed++;
          }
        }
      }
    };
    await walk(this.root);
    return removed;
  }

  async close(): Promise<void> {
    // Nothing held open between calls.
  }

  /** Classifies filesystem errors so callers see NotFound / NoSpace / AccessDenied / BackendUnreachable. */
  private wrap(err: unknown, action: string): Error {
    if (err instanceof VaultError) return err;
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code === "ENOENT") return new VaultError("NotFound", `Could not ${action}: no such object in ${this.root}`, { cause: err });
    if (code === "ENOSPC" || code === "EDQUOT") {
      return new VaultError("NoSpace", `Could not ${action} in ${this.root}: the filesystem is ${code === "ENOSPC" ? "out of space" : "over its quota"}; free space or grow the volume, then run again`, { cause: err });
    }
    if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
      return new VaultError("AccessDenied", `Could not ${action} in ${this.root}: permission denied; check the directory's owner and mode`, { cause: err });
    }
    return new VaultError("BackendUnreachable", `Could not ${action} in ${this.root}`, { cause: err });
  }
}
