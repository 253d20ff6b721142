/**
 * A pool of worker threads for the CPU work of the data path (hash,
 * compress, encrypt, decrypt, verify). Buffers move to and from the workers
 * by transfer, not copy, and come back so callers can reuse them. With
 * `threads: 0` the same functions run inline on the calling thread (for tiny
 * machines and for unit tests, which run from TypeScript sources that a
 * worker thread cannot load).
 */
import { writeSync } from "node:fs";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { encodeGrains, type EncodedGrains } from "../image/vmdk-grains.js";
import { BlobError, blockId, openBlockInto, sealBlock } from "./crypto.js";
import type { MasterKeys } from "./keys.js";

/** One blob of a run: where it is in the run buffer and what it must decode to. */
export interface RunBlob {
  readonly id: Uint8Array;
  readonly start: number;
  readonly length: number;
  readonly rawLength: number;
}

/** A contiguous part of a decoded run and where it goes on the target. */
export interface RunWrite {
  /** Offset in the decoded run. */
  readonly start: number;
  readonly length: number;
  /** Offset on the target. */
  readonly position: number;
}

/**
 * What a thread makes of a decoded run's writes besides the bytes, for a
 * target that wants them encoded: "vmdkGrains", the VMDK grains of each
 * write (vmdk-grains.ts), for a restore that uploads a stream-optimized VMDK.
 * The threads that decode the blocks encode their grains, so the main
 * thread, which carries the upload, only places them. With `threads: 0` the
 * encoding runs inline, as all of the pool's work then does.
 */
export type RunEncoding = "vmdkGrains";

/** A request to a worker; `data` is transferred. */
export type WorkerRequest =
  | { seq: number; op: "hash"; data: Uint8Array }
  | { seq: number; op: "seal"; id: Uint8Array; data: Uint8Array; space?: Uint8Array | undefined }
  | { seq: number; op: "openRun"; data: Uint8Array; blobs: readonly RunBlob[]; fd?: number | undefined; writes: readonly RunWrite[]; encoding?: RunEncoding | undefined };

/** Asks a worker thread to close its port and so exit on its own, once its work is done (see WorkerPool.close). */
export interface CloseRequest {
  op: "close";
}

/** Gives a worker thread the vault's keys and compression level: its first message (see WorkerPool.setKeys). */
export interface KeysRequest {
  op: "keys";
  dataKey: Uint8Array;
  idKey: Uint8Array;
  level: number;
}

/** A worker's answer. */
export type WorkerReply =
  | { seq: number; ok: true; id?: Uint8Array; data: Uint8Array; input?: Uint8Array; space?: Uint8Array; grains?: EncodedGrains[] }
  | { seq: number; ok: false; message: string; blobError: boolean; index?: number | undefined };

/** A blob of a run failed to verify; `index` says which. */
export class RunError extends BlobError {
  constructor(readonly index: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Opens every blob of a run and returns their plaintexts back to back, in
 * one buffer (a view of `scratch` when it is large enough, so a worker that
 * writes the run itself reuses one buffer). Throws RunError naming the first
 * blob that does not verify.
 */
export function openRun(keys: MasterKeys, run: Uint8Array, blobs: readonly RunBlob[], scratch?: Buffer): Buffer {
  const total = blobs.reduce((s, b) => s + b.rawLength, 0);
  const out = scratch && scratch.length >= total ? scratch.subarray(0, total) : Buffer.allocUnsafeSlow(total);
  let at = 0;
  blobs.forEach((b, index) => {
    let length: number;
    try {
      length = openBlockInto(keys, b.id, run.subarray(b.start, b.start + b.length), out.subarray(at, at + b.rawLength));
    } catch (err) {
      throw Object.assign(new RunError(index, err instanceof Error ? err.message : String(err), { cause: err }), { index });
    }
    if (length !== b.rawLength) throw Object.assign(new RunError(index, `block has ${length} bytes, expected ${b.rawLength}`), { index });
    at += length;
  });
  return out;
}

const ENCODERS: Record<RunEncoding, (data: Uint8Array, position: number) => EncodedGrains> = { vmdkGrains: encodeGrains };

/** The encoding of each write of a decoded run (see RunEncoding). */
export function encodeWrites(decoded: Uint8Array, writes: readonly RunWrite[], encoding: RunEncoding): EncodedGrains[] {
  const encode = ENCODERS[encoding];
  return writes.map((w) => {
    try {
      return encode(decoded.subarray(w.start, w.start + w.length), w.position);
    } catch (err) {
      // The message is what crosses from a thread: it carries the cause's.
      throw new Error(`Encoding the ${encoding} of the ${w.length} bytes at ${w.position} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  });
}

/**
 * Writes decoded spans to a file descriptor (positional, synchronous: callers
 * are worker threads). `lock` (an Int32Array over shared memory) lets one
 * thread write at a time: concurrent writes to one file contend on the
 * kernel's inode lock, where waiters spin and burn CPU; here they sleep.
 */
export function writeSpans(fd: number, decoded: Uint8Array, writes: readonly RunWrite[], lock?: Int32Array): void {
  if (lock) while (Atomics.compareExchange(lock, 0, 0, 1) !== 0) Atomics.wait(lock, 0, 1, 50);
  try {
    for (const span of writes) {
      let done = 0;
      while (done < span.length) done += writeSync(fd, decoded, span.start + done, span.length - done, span.position + done);
    }
  } finally {
    if (lock) {
      Atomics.store(lock, 0, 0);
      Atomics.notify(lock, 0, 1);
    }
  }
}

interface Pending {
  resolve: (reply: WorkerReply & { ok: true }) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  inFlight: number;
  /** Settles when the thread has exited, however it ended. */
  exited: Promise<void>;
}

/** How long a closing thread may take to exit by itself before it is terminated. */
const CLOSE_TIMEOUT_MS = 30_000;

/**
 * How far below the process's priority a vault thread runs, in nice steps
 * (Linux, where a thread's nice value is its own and raising it needs no
 * privilege; block-worker.ts sets it as it starts). The main thread is the
 * pipeline's one feeder: it receives the disk's bytes (TLS, HTTP) or reads
 * them, hands blocks out and writes packs, while a vault thread works on
 * blocks already handed to it. When cores are short (a worker pod at its
 * CPU limit), a vault thread that takes a core from the main thread stalls
 * the transfer and, through it, every thread; the main thread that takes one
 * from a vault thread only lets blocks wait, no more than the readers hold.
 * With cores to spare it changes nothing. In a pod it orders the worker's
 * own threads (the pod's share against other pods is its CPU request's);
 * run as a plain process (the CLI, the benchmarks), the vault threads also
 * give way to every other process at the caller's priority, vcsim on the
 * test bed among them. Measured in docs/benchmarks.md (the pipeline,
 * 2026-12-06 06:26).
 */
export const VAULT_THREAD_NICENESS = 10;

/** The default thread count: one per core. */
export function defaultThreads(): number {
  return availableParallelism();
}

function ownsBuffer(data: Uint8Array): boolean {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !(data.buffer instanceof SharedArrayBuffer);
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A buffer a worker thread must send back. Its absence is a bug, and must
 * not pass as an empty buffer: a reader's empty block buffer would make
 * every later block look like a hole.
 */
function returned(buf: Uint8Array | undefined, what: string): Buffer {
  if (!buf) throw new Error(`A vault worker thread did not send back the ${what}`);
  return toBuffer(buf);
}

/**
 * Runs block CPU work on worker threads (or inline with threads = 0). The
 * threads can boot before the vault's keys are known (boot, then setKeys):
 * a thread takes tens of milliseconds to load Node.js and the crypto and
 * zstd addons, about as long as the scrypt that unwraps the keys, so a
 * backup or restore that boots them first overlaps the two.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private failure: Error | undefined;
  private closing = false;
  private keys: MasterKeys | undefined;
  private level = 0;
  /** Serializes the workers' writes to restore targets (see writeSpans). */
  private readonly writeLock = new SharedArrayBuffer(4);

  /** Boots `threads` threads (none: the work runs inline); they wait for setKeys, and no work may be sent before it. */
  constructor(threads: number = defaultThreads()) {
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(new URL("./block-worker.js", import.meta.url), { workerData: { writeLock: this.writeLock } });
      worker.on("message", (reply: WorkerReply) => { this.onReply(reply); });
      worker.on("error", (err) => { this.fail(new Error("A vault worker thread failed", { cause: err })); });
      const exited = new Promise<void>((resolve) => {
        worker.on("exit", (code) => {
          if (code !== 0 && !this.closing) this.fail(new Error(`A vault worker thread exited with code ${code}`));
          resolve();
        });
      });
      this.slots.push({ worker, inFlight: 0, exited });
    }
  }

  /** Gives the pool the vault's keys and compression level (each thread gets them before any work). */
  setKeys(keys: MasterKeys, level: number): void {
    if (this.keys) throw new Error("The vault worker pool already has its keys");
    this.keys = keys;
    this.level = level;
    for (const { worker } of this.slots) {
      const request: KeysRequest = { op: "keys", dataKey: keys.dataKey, idKey: keys.idKey, level };
      worker.postMessage(request);
    }
  }

  /** The keys, for work done inline; work sent before setKeys is a bug. */
  private get inlineKeys(): MasterKeys {
    if (!this.keys) throw new Error("The vault worker pool was given work before its keys");
    return this.keys;
  }

  get threads(): number {
    return this.slots.length;
  }

  /** Keyed BLAKE3 of `data`; returns the id and the data back (the caller's buffer is transferred). */
  async hash(data: Buffer): Promise<{ id: Buffer; data: Buffer }> {
    if (this.slots.length === 0) return { id: blockId(this.inlineKeys.idKey, data), data };
    const reply = await this.send({ seq: 0, op: "hash", data }, [data]);
    return { id: returned(reply.id, "block id"), data: toBuffer(reply.data) };
  }

  /**
   * Compresses and encrypts a block into a blob, written into `space` when
   * it is large enough (see sealBlock). Returns the blob and, for reuse, the
   * input buffer and `space` (both travel to the worker and back).
   */
  async seal(id: Buffer, data: Buffer, space?: Buffer): Promise<{ blob: Buffer; input: Buffer; space: Buffer | undefined }> {
    if (this.slots.length === 0) return { blob: sealBlock(this.inlineKeys, this.level, id, data, space), input: data, space };
    const reply = await this.send({ seq: 0, op: "seal", id, data, space }, space ? [data, space] : [data]);
    return { blob: toBuffer(reply.data), input: returned(reply.input, "block"), space: space ? returned(reply.space, "blob buffer") : undefined };
  }

  /** Decrypts, decompresses and verifies one blob of `rawLength` bytes; throws a BlobError when it does not verify. */
  async open(id: Buffer, blob: Buffer, rawLength: number): Promise<Buffer> {
    return (await this.openRun(blob, [{ id, start: 0, length: blob.length, rawLength }], undefined, [])).decoded ?? Buffer.alloc(0);
  }

  /**
   * Opens the blobs of a run (one ranged read of a pack). With `fd`, the
   * decoded spans in `writes` are written to that file descriptor by the
   * worker itself and `decoded` is undefined; otherwise it is the decoded
   * run. `run` (which may be longer than the run: the blobs say where they
   * are) comes back for reuse. With `encoding` (and no `fd`), `grains` holds
   * each write's encoding, made where the run was decoded. Throws RunError (a BlobError) naming the blob
   * that does not verify.
   */
  async openRun(
    run: Buffer,
    blobs: readonly RunBlob[],
    fd: number | undefined,
    writes: readonly RunWrite[],
    encoding?: RunEncoding,
  ): Promise<{ decoded: Buffer | undefined; run: Buffer; grains: EncodedGrains[] | undefined }> {
    if (this.slots.length === 0) {
      const decoded = openRun(this.inlineKeys, run, blobs);
      if (fd === undefined) return { decoded, run, grains: encoding ? encodeWrites(decoded, writes, encoding) : undefined };
      writeSpans(fd, decoded, writes);
      return { decoded: undefined, run, grains: undefined };
    }
    const reply = await this.send({ seq: 0, op: "openRun", data: run, blobs, fd, writes, encoding }, [run]);
    const grains = reply.grains?.map((g) => ({ records: toBuffer(g.records), ends: g.ends }));
    if (encoding && fd === undefined && grains?.length !== writes.length) throw new Error("A vault worker thread did not send back the encoded writes");
    return { decoded: fd === undefined ? toBuffer(reply.data) : undefined, run: returned(reply.input, "run buffer"), grains };
  }

  /**
   * Stops the workers, each by asking it to exit rather than with
   * `terminate()`: a thread terminated while it still loads its native
   * addons (zstd-napi, BLAKE3) can abort the whole process ("terminate
   * called after throwing an instance of 'Napi::Error'", exit 139). A backup
   * with nothing new to read closes its pool within a second of making it,
   * so on a loaded machine that happened to 4 of 20 such backup workers. A
   * thread handles the close message only after its modules have loaded,
   * closes its port and exits. One that does not exit in time is terminated.
   */
  async close(): Promise<void> {
    this.closing = true;
    const slots = this.slots.splice(0);
    await Promise.all(slots.map(async ({ worker, exited }) => {
      const close: CloseRequest = { op: "close" };
      worker.postMessage(close);
      const timer = setTimeout(() => { void worker.terminate(); }, CLOSE_TIMEOUT_MS);
      try {
        await exited;
      } finally {
        clearTimeout(timer);
      }
    }));
  }

  private send(req: WorkerRequest, buffers: Uint8Array[]): Promise<WorkerReply & { ok: true }> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.keys) return Promise.reject(new Error("The vault worker pool was given work before its keys"));
    const seq = ++this.seq;
    const slot = this.slots.reduce((best, s) => (s.inFlight < best.inFlight ? s : best));
    slot.inFlight++;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, {
        resolve: (r) => { slot.inFlight--; resolve(r); },
        reject: (e) => { slot.inFlight--; reject(e); },
      });
      slot.worker.postMessage({ ...req, seq }, buffers.filter(ownsBuffer).map((b) => b.buffer as ArrayBuffer));
    });
  }

  private onReply(reply: WorkerReply): void {
    const pending = this.pending.get(reply.seq);
    if (!pending) return;
    this.pending.delete(reply.seq);
    if (reply.ok) pending.resolve(reply);
    else pending.reject(reply.blobError ? new RunError(reply.index ?? 0, reply.message) : new Error(reply.message));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
