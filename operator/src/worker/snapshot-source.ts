/**
 * A DiskSource over a snapshot's disk through the datastore interface (HTTP
 * GET with a Range). A backup reads each run of adjacent blocks as one
 * ranged GET (readRange), streamed into its block buffers: one request per
 * megabyte cost vCenter (vcsim: three times the CPU of the transfer) and
 * this process a response each. Single blocks (readInto) are one GET each.
 * Memory stays at the vault's blocks in flight: a transfer is only read as
 * fast as the backup takes its blocks. Reads pass the bandwidth limit first;
 * this is where the worker spends the link to vCenter, and the vault uploads
 * no more than it reads.
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
  /** Attempts per read on a failed transfer (default 3); a range resumes where it broke, and progress earns it fresh attempts. */
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

/**
 * The bytes of [offset, offset + length) from streams that `open` makes of
 * a range, as they come. A transfer that breaks (dropped connection, idle
 * timeout while the consumer was busy, short or long answer) is opened again
 * for the rest of the range, from the first byte not yet yielded: nothing is
 * read twice. `attempts` failures in a row with no byte gained fail it; a
 * failure after progress counts as the first of a new series, as if each
 * part of the range were a read of its own. The abort signal stops it
 * between attempts (and `open` should pass it on to the request). Leaving
 * the iteration early destroys the stream in hand.
 */
export async function* resumingRange(
  open: (offset: number, length: number) => Promise<Readable>,
  offset: number,
  length: number,
  attempts: number,
  signal: AbortSignal,
  what: string,
): AsyncGenerator<Buffer, void, undefined> {
  let done = 0;
  let failures = 0;
  while (done < length) {
    signal.throwIfAborted();
    const from = done;
    let stream: Readable | undefined;
    try {
      stream = await open(offset + from, length - from);
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (done + chunk.length > length) throw new Error(`The datastore sent more than the ${length - from} bytes asked for`);
        done += chunk.length;
        yield chunk;
      }
      if (done < length) throw new Error(`The datastore sent ${done - from} of ${length - from} bytes`);
    } catch (err) {
      failures = done > from ? 1 : failures + 1;
      if (failures >= attempts || signal.aborted) throw new Error(`Reading ${what} failed at offset ${offset + done}`, { cause: err });
    } finally {
      stream?.destroy();
    }
  }
}

/** Bandwidth is taken, and reads reported, in steps of this many bytes along a range. */
const RANGE_STEP = 1024 * 1024;

export function snapshotSource(opts: SnapshotSourceOptions): DiskSource {
  const attempts = opts.attempts ?? 3;
  const name = `[${opts.location.datastoreName}] ${opts.location.path}`;
  return {
    size: opts.size,
    async readInto(buffer, offset) {
      const length = Math.min(buffer.length, opts.size - offset);
      if (length <= 0) return;
      await opts.bandwidth.take(length, opts.signal);
      const view = buffer.subarray(0, length);
      const what = `${length} bytes at offset ${offset} of ${name}`;
      await readWithAttempts(() => opts.client.readDisk(opts.location, offset, length, { signal: opts.signal }), view, attempts, opts.signal, what);
      opts.onRead?.(length);
    },
    async *readRange(offset, length) {
      if (offset < 0 || length <= 0 || offset + length > opts.size) throw new Error(`Range of ${length} bytes at offset ${offset} lies outside ${name} of ${opts.size} bytes`);
      const open = (at: number, n: number): Promise<Readable> => opts.client.readDisk(opts.location, at, n, { signal: opts.signal });
      // Bandwidth is taken a step ahead of the bytes handed on, so the limit
      // holds over the range as it does over single reads.
      let taken = 0;
      let seen = 0;
      let reported = 0;
      const step = async (): Promise<void> => {
        const n = Math.min(RANGE_STEP, length - taken);
        await opts.bandwidth.take(n, opts.signal);
        taken += n;
      };
      await step();
      for await (const chunk of resumingRange(open, offset, length, attempts, opts.signal, `${length} bytes at offset ${offset} of ${name}`)) {
        seen += chunk.length;
        while (taken < seen) await step();
        if (seen - reported >= RANGE_STEP || seen === length) {
          opts.onRead?.(seen - reported);
          reported = seen;
        }
        yield chunk;
      }
    },
    close: () => Promise.resolve(),
  };
}
