/**
 * Entry point of a vault worker thread: hashes, seals and opens blocks for
 * the pool in worker-pool.ts, so that the CPU work of a backup or restore
 * uses every core while the main thread does the I/O. Input buffers are
 * handed back (transferred) so the main thread can reuse them: allocating a
 * fresh megabyte per block makes V8 collect garbage constantly.
 */
import { getPriority, setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { BlobError, blockId, sealBlock } from "./crypto.js";
import type { MasterKeys } from "./keys.js";
import { encodeWrites, openRun, VAULT_THREAD_NICENESS, writeSpans, type CloseRequest, type KeysRequest, type WorkerReply, type WorkerRequest } from "./worker-pool.js";

interface WorkerInit {
  writeLock: SharedArrayBuffer;
}

// A thread's work must stay synchronous (writeSync, not fs promises): a thread
// inherits its creator's priority, and libuv's pool threads, shared by the
// whole process, start on first use, so one started from here would run
// the main thread's file and DNS work at this thread's priority for good.
if (process.platform === "linux") {
  // Elsewhere setpriority(0) would lower the whole process, main thread included.
  try {
    setPriority(0, Math.min(19, getPriority(0) + VAULT_THREAD_NICENESS));
  } catch {
    // A sandbox that refuses it (seccomp) leaves the thread at the process's priority: slower under load, never wrong.
  }
}

const init = workerData as WorkerInit;
const writeLock = new Int32Array(init.writeLock);
/** The vault's keys and compression level: the pool's first message (the thread boots before the keys are unwrapped). */
let keys: MasterKeys | undefined;
let level = 0;
/** Reused for runs this worker writes itself (they never leave the thread). */
let scratch = Buffer.allocUnsafeSlow(0);
const port = parentPort;
if (!port) throw new Error("block-worker.ts must run as a worker thread");

/** True when `buf` is the only view of its ArrayBuffer, so it can be transferred. */
function transferable(buf: Uint8Array): boolean {
  return buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && !(buf.buffer instanceof SharedArrayBuffer);
}

port.on("message", (req: WorkerRequest | CloseRequest | KeysRequest) => {
  if (req.op === "close") {
    // Nothing else keeps this thread alive: it exits once the port is closed.
    port.close();
    return;
  }
  if (req.op === "keys") {
    keys = { dataKey: Buffer.from(req.dataKey), idKey: Buffer.from(req.idKey) };
    level = req.level;
    return;
  }
  let reply: WorkerReply;
  const transfer: ArrayBuffer[] = [];
  const give = (buf: Uint8Array): void => {
    if (transferable(buf)) transfer.push(buf.buffer as ArrayBuffer);
  };
  try {
    // The pool sends the keys before any work: their absence is a bug in the pool.
    if (!keys) throw new Error("A vault worker thread was given work before its keys");
    if (req.op === "hash") {
      reply = { seq: req.seq, ok: true, id: blockId(keys.idKey, req.data), data: req.data };
      give(req.data);
    } else if (req.op === "seal") {
      const space = req.space ? Buffer.from(req.space.buffer, req.space.byteOffset, req.space.byteLength) : undefined;
      const blob = sealBlock(keys, level, req.id, req.data, space);
      // A blob sealed into `space` is a view of it: `space` goes back whole, and the view with it.
      reply = { seq: req.seq, ok: true, data: blob, input: req.data, space: req.space };
      if (!space || blob.buffer !== space.buffer) give(blob);
      if (req.space) give(req.space);
      give(req.data);
    } else {
      const total = req.blobs.reduce((s, b) => s + b.rawLength, 0);
      if (req.fd !== undefined && scratch.length < total) scratch = Buffer.allocUnsafeSlow(total);
      const decoded = openRun(keys, req.data, req.blobs, req.fd !== undefined ? scratch : undefined);
      if (req.fd !== undefined) {
        // Write straight to the target: nothing travels back to the main thread.
        writeSpans(req.fd, decoded, req.writes, writeLock);
        reply = { seq: req.seq, ok: true, data: new Uint8Array(0), input: req.data };
      } else {
        const grains = req.encoding ? encodeWrites(decoded, req.writes, req.encoding) : undefined;
        reply = { seq: req.seq, ok: true, data: decoded, input: req.data, ...(grains ? { grains } : {}) };
        give(decoded);
        // Each encoding's two buffers are its own, made for it on this thread.
        for (const g of grains ?? []) transfer.push(g.records.buffer as ArrayBuffer, g.ends.buffer as ArrayBuffer);
      }
      give(req.data);
    }
  } catch (err) {
    // Only a blob that does not verify is a blob error; a failed write (ENOSPC, EIO) is the target's.
    reply = { seq: req.seq, ok: false, message: err instanceof Error ? err.message : String(err), blobError: err instanceof BlobError, index: (err as { index?: number }).index };
  }
  port.postMessage(reply, transfer);
});
