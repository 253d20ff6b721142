/**
 * A vault: an opened repository. Holds the config, the unwrapped keys and a
 * worker pool; reads the index and manifests; the operations (backup,
 * restore, forget, prune, check) live in their own files and work on a Vault.
 */
import { BlockIndex, decodeIndex, encodeIndex, type IndexedPack } from "./block-index.js";
import { BLOB_OVERHEAD, BlobError } from "./crypto.js";
import { VaultError } from "./errors.js";
import { newConfig, parseConfig, paths, randomId, type InitOptions, type LockSettings, type VaultConfig } from "./format.js";
import { newMasterKeys, parseKeySlot, unwrapKeys, wrapKeys, type MasterKeys } from "./keys.js";
import { decodeBlockList, decodePointHeader, manifestHeaderLength, MANIFEST_PREFIX_READ, type PointHeader } from "./manifest.js";
import { decodePackHeader, PACK_MAGIC, PACK_TRAILER, parsePackTrailer, type PackEntry } from "./pack.js";
import type { PointHeaderCache } from "./point-header-cache.js";
import { defaultThreads, WorkerPool } from "./worker-pool.js";
import type { Backend, ObjectInfo, Retention } from "./backends/backend.js";

const DAY_MS = 24 * 3600_000;

/** Options for opening a vault. */
export interface VaultOptions {
  /** Worker threads for CPU work; 0 runs it inline. Default: one per core. */
  threads?: number;
  /**
   * Boot the worker threads while the vault opens, for a caller that is
   * about to back up or restore: they load (tens of milliseconds each) while
   * scrypt unwraps the keys. Left off, a backup or restore starts them as it
   * begins (startThreads) and an open alone (ls, the operator's
   * reconcilers) starts none. Vault.init ignores it.
   */
  bootThreads?: boolean;
  /** Headers read by earlier opens in this process, so listPoints reads only new manifests (a long-running process that lists often: the operator). */
  pointHeaders?: PointHeaderCache;
}

/** A point with its block lists. */
export interface PointContent {
  readonly header: PointHeader;
  /** Block ids per disk key (32 bytes per block, zero for holes). */
  readonly blockLists: ReadonlyMap<string, Buffer>;
}

/** Runs `fn` over `items` with at most `limit` running at once; rejects on the first failure. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return results;
}

/** An opened repository. */
export class Vault {
  private workerPool: WorkerPool | undefined;

  private constructor(
    readonly backend: Backend,
    readonly config: VaultConfig,
    readonly keys: MasterKeys,
    private readonly options: VaultOptions,
    booted?: WorkerPool,
  ) {
    this.workerPool = booted;
    booted?.setKeys(keys, config.compressionLevel);
  }

  /**
   * Creates a repository: a key slot wrapping fresh master keys under
   * `userKey`, then the config (written last and only if absent, so a
   * half-done init is simply retried). A locked vault on a backend that
   * cannot enforce retention is refused unless the backend is a filesystem,
   * where Lifeboat's commands enforce it.
   */
  static async init(backend: Backend, userKey: Buffer, init: InitOptions = {}, options: VaultOptions = {}): Promise<Vault> {
    const config = newConfig(init);
    if (await backend.stat(paths.config)) throw new VaultError("AlreadyInitialized", `A vault already exists at ${backend.location}`);
    if (config.lock.enabled) await requireObjectLock(backend, config.lock);
    const keys = newMasterKeys();
    const slot = await wrapKeys(keys, userKey, config.repositoryId);
    await backend.put(paths.key(randomId()), Buffer.from(JSON.stringify(slot, null, 2)));
    await backend.put(paths.config, Buffer.from(JSON.stringify(config, null, 2)), { ifAbsent: true });
    return new Vault(backend, config, keys, options);
  }

  /** Opens a repository; throws NotInitialized, WrongKey or UnsupportedFormat as the case may be. */
  static async open(backend: Backend, userKey: Buffer, options: VaultOptions = {}): Promise<Vault> {
    let configBytes: Buffer;
    try {
      configBytes = await backend.get(paths.config);
    } catch (err) {
      if (err instanceof VaultError && err.reason === "NotFound") {
        throw new VaultError("NotInitialized", `There is no vault at ${backend.location}; run \`lifeboat vault init\` (or set spec.initialize) first`, { cause: err });
      }
      throw err;
    }
    const config = parseConfig(configBytes);
    const booted = options.bootThreads ? new WorkerPool(options.threads ?? defaultThreads()) : undefined;
    try {
      return await Vault.unlock(backend, config, userKey, options, booted);
    } catch (err) {
      await booted?.close();
      throw err;
    }
  }

  /** Opens the vault with the first key slot `userKey` unwraps; throws WrongKey when none does. */
  private static async unlock(backend: Backend, config: VaultConfig, userKey: Buffer, options: VaultOptions, booted: WorkerPool | undefined): Promise<Vault> {
    const slots = await backend.list(paths.keysPrefix);
    // A slot that cannot be read does not hide the others: another may open with this key.
    let unreadable: VaultError | undefined;
    for (const obj of slots) {
      let slot: ReturnType<typeof parseKeySlot>;
      try {
        slot = parseKeySlot(await backend.get(obj.key), obj.key);
      } catch (err) {
        if (!(err instanceof VaultError) || (err.reason !== "Corrupt" && err.reason !== "UnsupportedFormat")) throw err;
        unreadable ??= err;
        continue;
      }
      const keys = await unwrapKeys(slot, userKey, config.repositoryId);
      if (keys) return new Vault(backend, config, keys, options, booted);
    }
    // None opened: a slot that could not be read may be the one this key was for.
    if (unreadable) throw unreadable;
    const tried = slots.length === 0 ? "there is no key slot" : `tried key slot${slots.length === 1 ? "" : "s"} ${slots.map((o) => o.key).join(", ")}`;
    throw new VaultError(
      "WrongKey",
      `The key does not open the vault at ${backend.location} (${tried}); check the key Secret or key file (if the key is right, a key slot or the config object's repositoryId, to which the slots are bound, was altered)`,
    );
  }

  /** The worker pool, started on first use (or by startThreads). */
  get pool(): WorkerPool {
    return this.startThreads();
  }

  /**
   * Starts the worker pool's threads now, not at the first block. A thread
   * takes tens of milliseconds to boot (Node.js, the crypto and zstd
   * addons); started before a backup's or a restore's lock, manifest and
   * index reads, the threads boot while those are read.
   */
  startThreads(): WorkerPool {
    if (!this.workerPool) {
      this.workerPool = new WorkerPool(this.options.threads ?? defaultThreads());
      this.workerPool.setKeys(this.keys, this.config.compressionLevel);
    }
    return this.workerPool;
  }

  /** Adds a key slot for another user key (key rotation: add the new, then remove the old). */
  async addKey(userKey: Buffer): Promise<string> {
    const id = randomId();
    await this.backend.put(paths.key(id), Buffer.from(JSON.stringify(await wrapKeys(this.keys, userKey, this.config.repositoryId), null, 2)));
    return id;
  }

  /** Loads every index object into one in-memory index. */
  async loadIndex(): Promise<{ index: BlockIndex; objects: string[] }> {
    const index = new BlockIndex();
    const objects = (await this.backend.list(paths.indexPrefix)).map((o) => o.key);
    const decoded = await mapLimit(objects, 8, async (key) => decodeIndex(this.keys, await this.backend.get(key), key));
    for (const records of decoded) for (const r of records) index.add(r);
    return { index, objects };
  }

  /**
   * One block's content by id, verified as a restore verifies it
   * (authenticated decryption, then the keyed hash against the id). For a
   * caller that needs single blocks rather than whole disks: a DR seed
   * fetches only the blocks its local VM lacks. The caller loads the index
   * once and holds a repository lock meanwhile, so prune cannot remove the
   * pack. Throws NotFound when the index has no such block, Corrupt when it
   * does not verify.
   */
  async readBlock(id: Buffer, index: BlockIndex): Promise<Buffer> {
    const loc = index.get(id);
    if (!loc) throw new VaultError("NotFound", `Block ${id.toString("hex")} is in no pack of the index of ${this.backend.location}`);
    const blob = await this.backend.getRange(paths.pack(loc.pack), loc.offset, loc.length);
    try {
      return await this.pool.open(id, blob, loc.rawLength);
    } catch (err) {
      if (err instanceof BlobError) throw new VaultError("Corrupt", `Block ${id.toString("hex")} in pack ${loc.pack} at offset ${loc.offset} does not verify: ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** The blobs a pack lists in its own sealed header; `size` is the pack's size in storage. */
  async readPackHeader(pack: string, size: number): Promise<PackEntry[]> {
    if (size < PACK_MAGIC.length + PACK_TRAILER) throw new VaultError("Corrupt", `Pack ${pack} has ${size} bytes, too few for a pack (truncated)`);
    const trailer = await this.backend.getRange(paths.pack(pack), size - PACK_TRAILER, PACK_TRAILER);
    const headerLength = parsePackTrailer(trailer, pack, size);
    const header = await this.backend.getRange(paths.pack(pack), size - PACK_TRAILER - headerLength, headerLength);
    return decodePackHeader(this.keys, header, pack);
  }

  /**
   * A buffer to build a pack in: room for packSize and the blob that takes
   * a pack past it (the largest is a block and its overhead), from the
   * backend where it has buffers it writes faster (a filesystem's direct I/O).
   */
  newPackBuffer(): Buffer {
    const size = this.config.packSize + this.config.blockSize + BLOB_OVERHEAD;
    return this.backend.packBuffer?.(size) ?? Buffer.allocUnsafeSlow(size);
  }

  /** Writes one index object; returns its name. */
  async writeIndex(records: readonly IndexedPack[]): Promise<string> {
    const key = paths.index(randomId());
    await this.backend.put(key, encodeIndex(this.keys, records));
    return key;
  }

  /** Headers of every point, oldest first. */
  async listPoints(): Promise<PointHeader[]> {
    const objects = await this.backend.list(paths.manifestsPrefix);
    const read = (obj: ObjectInfo) => this.readPointHeaderIfPresent(obj);
    const cache = this.options.pointHeaders;
    const headers = cache ? await cache.headers(this.config.repositoryId, objects, read) : await mapLimit(objects, 8, read);
    return headers.filter((h) => h !== undefined).sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
  }

  /**
   * A point's header, or undefined when its manifest is gone by the time it
   * is read: a retention pass (forget) running beside a listing or a
   * getPoint deletes manifests between the list or stat and the read, and
   * a forgotten point is simply not there, not an error.
   */
  private async readPointHeaderIfPresent(obj: ObjectInfo): Promise<PointHeader | undefined> {
    try {
      return await this.readPointHeader(obj);
    } catch (err) {
      if (err instanceof VaultError && err.reason === "NotFound") return undefined;
      throw err;
    }
  }

  /**
   * A point's header from the start of its manifest object: one read of
   * MANIFEST_PREFIX_READ bytes, a second of exactly the header's length
   * when it is longer. The bytes are lent (Backend.readRange): a listing
   * reads thousands of them and keeps only the decoded headers.
   */
  private async readPointHeader(obj: ObjectInfo): Promise<PointHeader> {
    const id = obj.key.slice(paths.manifestsPrefix.length);
    const first = Math.min(obj.size, MANIFEST_PREFIX_READ);
    // The first read decodes the header when it holds all of it, and otherwise says how many bytes it needs.
    const headerOrNeeded = await this.backend.readRange(obj.key, 0, first, (prefix) => {
      const needed = 12 + manifestHeaderLength(prefix, id);
      // The length is not authenticated: never read past the object for it.
      if (needed > obj.size) throw new VaultError("Corrupt", `Manifest ${id} is shorter than its header (${obj.size} bytes, the header ends at byte ${needed})`);
      return needed > first ? needed : decodePointHeader(this.keys, prefix, id);
    });
    if (typeof headerOrNeeded !== "number") return headerOrNeeded;
    return this.backend.readRange(obj.key, 0, headerOrNeeded, (prefix) => decodePointHeader(this.keys, prefix, id));
  }

  /**
   * A point's header, from the start of its manifest only (through the
   * vault's PointHeaderCache when it has one), not its block lists: the
   * operator asks this of every RecoveryPoint it reconciles, and a
   * restart reconciles them all at once. Throws NotFound naming the point.
   */
  async getPoint(id: string): Promise<PointHeader> {
    checkPointId(id);
    const manifest = await this.backend.stat(paths.manifest(id));
    if (!manifest) throw pointNotFound(id, this.backend.location);
    const read = (obj: ObjectInfo) => this.readPointHeaderIfPresent(obj);
    const cache = this.options.pointHeaders;
    const header = cache ? await cache.header(this.config.repositoryId, manifest, read) : await read(manifest);
    if (!header) throw pointNotFound(id, this.backend.location);
    return header;
  }

  /** A point with its block lists. */
  async readPoint(id: string): Promise<PointContent> {
    checkPointId(id);
    let bytes: Buffer;
    try {
      bytes = await this.backend.get(paths.manifest(id));
    } catch (err) {
      if (err instanceof VaultError && err.reason === "NotFound") throw pointNotFound(id, this.backend.location, err);
      throw err;
    }
    const header = decodePointHeader(this.keys, bytes, id);
    const blockLists = new Map<string, Buffer>();
    for (const disk of header.disks) blockLists.set(disk.key, decodeBlockList(this.keys, id, disk, bytes));
    return { header, blockLists };
  }

  /** Resolves "latest" (optionally of points matching labels) or an id prefix to a point id. */
  async resolvePoint(ref: string, labels: Readonly<Record<string, string>> = {}): Promise<string> {
    const points = (await this.listPoints()).filter((p) => Object.entries(labels).every(([k, v]) => p.labels[k] === v));
    if (ref === "latest") {
      const last = points.at(-1);
      if (!last) throw new VaultError("NotFound", `No recovery point${Object.keys(labels).length ? ` with labels ${JSON.stringify(labels)}` : ""} exists yet`);
      return last.id;
    }
    const matches = points.filter((p) => p.id.startsWith(ref));
    if (matches.length === 1 && matches[0]) return matches[0].id;
    if (matches.length > 1) throw new VaultError("InvalidArgument", `"${ref}" matches ${matches.length} recovery points; give more of the id`);
    return ref;
  }

  /** The lock's retention for data written now for a point retained until `pointUntil`. */
  retentionFor(pointUntil: Date | undefined): Retention | undefined {
    if (!this.config.lock.enabled || !pointUntil) return undefined;
    return { mode: this.config.lock.mode, until: pointUntil };
  }

  /**
   * Retain-until of packs: the point's, plus a slack of up to 7 days so that
   * the next backups (which reuse the same packs) need not extend every pack
   * again each day.
   */
  packRetentionFor(pointUntil: Date): Retention | undefined {
    if (!this.config.lock.enabled) return undefined;
    const slack = Math.min(this.config.lock.retentionDays, 7) * DAY_MS;
    return { mode: this.config.lock.mode, until: new Date(pointUntil.getTime() + slack) };
  }

  /**
   * Keeps what every reader needs first, the config and the key slots,
   * retained at least as long as a point locked until `pointUntil`: with them
   * deleted, no locked point could be decrypted. Retention is extended (with
   * the packs' slack) only when it would end before `pointUntil`, so most
   * commits only read it.
   */
  async retainReaderObjects(pointUntil: Date): Promise<void> {
    const retention = this.packRetentionFor(pointUntil);
    if (!retention) return;
    const keys = (await this.backend.list(paths.keysPrefix)).map((o) => o.key);
    await mapLimit([paths.config, ...keys], 4, async (key) => {
      const until = await this.backend.retainedUntil(key);
      if (!until || until < pointUntil) await this.backend.extendRetention(key, retention);
    });
  }

  /** The minimum retain-until of a point taken at `time` under the vault's lock. */
  minimumRetainUntil(time: Date): Date | undefined {
    if (!this.config.lock.enabled) return undefined;
    return new Date(time.getTime() + this.config.lock.retentionDays * DAY_MS);
  }

  /** Stops worker threads and closes the backend. */
  async close(): Promise<void> {
    await this.workerPool?.close();
    this.workerPool = undefined;
    await this.backend.close();
  }
}

/** Throws ObjectLockNotEnabled when the storage cannot enforce the lock and is not a filesystem. */
export async function requireObjectLock(backend: Backend, lock: LockSettings): Promise<void> {
  const support = await backend.lockSupport();
  if (!support.objectLock && support.required) {
    throw new VaultError(
      "ObjectLockNotEnabled",
      `The vault lock (${lock.mode}, ${lock.retentionDays} days) needs Object Lock on the bucket, but ${support.detail}; create the bucket with Object Lock enabled (it cannot be turned on later on most stores)`,
    );
  }
}

/** Throws InvalidArgument unless `id` can name a manifest (no path separators, no dots). */
function checkPointId(id: string): void {
  if (!/^[0-9A-Za-z-]+$/.test(id)) throw new VaultError("InvalidArgument", `"${id}" is not a recovery point id`);
}

/** The NotFound of a point the vault does not hold. */
function pointNotFound(id: string, location: string, cause?: unknown): VaultError {
  return new VaultError("NotFound", `Recovery point ${id} does not exist in ${location}; \`lifeboat vault ls\` lists them`, cause === undefined ? undefined : { cause });
}
