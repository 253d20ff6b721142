/**
 * Zero bytes without big allocations: the writers fill holes (raw gaps, VHD
 * block padding, the tail of a short last block) with slices of one shared,
 * never-written buffer instead of allocating gigabytes of zeros.
 */

/** Size of the shared zero buffer: the largest zero chunk a writer emits. */
export const ZERO_CHUNK = 1024 * 1024;

let shared: Buffer | undefined;

/** `length` (at most ZERO_CHUNK) zero bytes. The buffer is shared: never write to it. */
export function zeros(length: number): Buffer {
  if (length > ZERO_CHUNK) throw new RangeError(`zeros(${length}) is over the ${ZERO_CHUNK}-byte zero chunk`);
  shared ??= Buffer.alloc(ZERO_CHUNK);
  return shared.subarray(0, length);
}

/** `length` zero bytes as chunks of at most ZERO_CHUNK, for streams. */
export function* zeroChunks(length: number): Generator<Buffer> {
  for (let left = length; left > 0; left -= ZERO_CHUNK) yield zeros(Math.min(left, ZERO_CHUNK));
}

/** True when every byte of `data` is zero (a memcmp against the shared buffer). */
export function isAllZero(data: Buffer): boolean {
  for (let at = 0; at < data.length; at += ZERO_CHUNK) {
    const part = data.subarray(at, Math.min(data.length, at + ZERO_CHUNK));
    if (!part.equals(zeros(part.length))) return false;
  }
  return true;
}
