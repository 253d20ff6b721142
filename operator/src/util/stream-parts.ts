/**
 * Cuts a byte stream into parts for a multipart upload (S3, OSS): every part
 * `partSize` bytes but the last, each a fresh buffer (an SDK may still hold
 * the previous one for a retry of the request it just finished), read only
 * as the caller takes them, so the stream waits (backpressure up to the
 * vault) while a part is in flight and memory stays at one part.
 */
import type { Readable } from "node:stream";

const MiB = 1024 * 1024;
/** Smallest part we send: large enough for few requests, small enough to keep memory low. */
export const MIN_PART_SIZE = 16 * MiB;
/** S3 and OSS allow at most this many parts per upload. */
const MAX_PARTS = 10_000;

/**
 * The part size for an object of `size` bytes: 16 MiB, or more (whole MiB)
 * when 10 000 parts of 16 MiB would not hold the disk (above 156 GiB; 64 MiB
 * parts cover 625 GiB, bigger disks get bigger parts rather than failing).
 * Memory use is one part.
 */
export function partSizeFor(size: number): number {
  const needed = Math.ceil(size / MAX_PARTS / MiB) * MiB;
  return Math.max(MIN_PART_SIZE, needed);
}

/**
 * The parts of `stream`; throws once it delivers more than `limit` bytes.
 * The last part is short (possibly empty, for an empty stream); `total()`
 * tells the bytes read so far.
 */
export function streamParts(stream: Readable, partSize: number, limit: number, what: string): { parts: AsyncGenerator<Buffer>; total: () => number } {
  let total = 0;
  async function* parts(): AsyncGenerator<Buffer> {
    let part = Buffer.allocUnsafe(Math.min(partSize, limit));
    let filled = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > limit) throw new Error(`${what} delivered more than its ${limit} bytes`);
      let used = 0;
      while (used < chunk.length) {
        const n = Math.min(part.length - filled, chunk.length - used);
        chunk.copy(part, filled, used, used + n);
        filled += n;
        used += n;
        if (filled === part.length) {
          yield part;
          part = Buffer.allocUnsafe(Math.max(1, Math.min(partSize, limit - total + (chunk.length - used))));
          filled = 0;
        }
      }
    }
    if (filled > 0 || total === 0) yield part.subarray(0, filled);
  }
  return { parts: parts(), total: () => total };
}
