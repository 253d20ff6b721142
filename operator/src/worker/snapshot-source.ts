/**
 * A DiskSource over a snapshot's disk: each read the vault asks for (one
 * block, at most the vault's block size) is one ranged GET on the datastore
 * interface, streamed straight into the caller's buffer, so memory stays at
 * the vault's blocks in flight. Reads pass the bandwidth limit first; this is
 * where the worker spends the link to vCenter, and the vault uploads no more
 * than it reads.
 */
import type { Readable } from "node:stream";
import type { DiskSource } from "../vault/index.js";
import type { DiskLocation, VsphereClient } from "../vsphere/index.js";
import type { TokenBucket } from "./token-bucket.js";

export interface SnapshotSourceOptions {
  readonly client: Pick<VsphereClient, "readDisk">;
  readonly location: DiskLocation;
  readonly size: number;
  readonly bandwidth: TokenBucket;
  readonly signal: AbortSignal;
  /** Called with the bytes of each completed read. */
  readonly onRead?: (bytes: number) => void;
  /** Attempts per read on a failed transfer (default 3). */
  readonly attempts?: number;
}

/** Copies a stream into `buffer` from its start; fails if the stream does not fill it exactly. */
export async function streamInto(stream: Readable, buffer: Buffer): Promise<void> {
  let at = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (at + chunk.length > buffer.length) {
      stream.destroy();
      throw new Error(`The datastore sent more than the ${buffer.length} bytes asked for`);
    }
    chunk.copy(buffer, at);
    at += chunk.length;
  }
  if (at !== buffer.length) throw new Error(`The datastore sent ${at} of ${buffer.length} bytes`);
}

/**
 * Fills `view` from a fresh stream, trying again (a new stream each time) up
 * to `attempts` times: a dropped connection in the middle of a large read is
 * common and costs only that read. `what` names the range in the error.
 */
export async function readWithAttempts(open: () => Promise<Readable>, view: Buffer, attempts: number, signal: AbortSignal, what: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    try {
      await streamInto(await open(), view);
      return;
    } catch (err) {
      if (attempt >= attempts || signal.aborted) throw new Error(`Reading ${what} failed`, { cause: err });
    }
  }
}

export function snapshotSource(opts: SnapshotSourceOptions): DiskSource {
  const attempts = opts.attempts ?? 3;
  return {
    size: opts.size,
    async readInto(buffer, offset) {
      const length = Math.min(buffer.length, opts.size - offset);
      if (length <= 0) return;
      await opts.bandwidth.take(length, opts.signal);
      const view = buffer.subarray(0, length);
      const what = `${length} bytes at offset ${offset} of [${opts.location.datastoreName}] ${opts.location.path}`;
      await readWithAttempts(() => opts.client.readDisk(opts.location, offset, length, { signal: opts.signal }), view, attempts, opts.signal, what);
      opts.onRead?.(length);
    },
    close: () => Promise.resolve(),
  };
}
