/**
 * The disk image of `npm run bench:vault` and its 5% change, both
 * deterministic: the same size gives the same bytes on every run and every
 * machine, so that runs (and results pasted into docs/benchmarks.md months
 * apart) measure the same input. Random-looking data comes from AES-128-CTR
 * over zeros with a fixed key, a keystream that is incompressible like real
 * random data, reproducible from (seed, stream), and produced at gigabytes
 * per second with AES-NI, so even a 4 GiB image costs little next to the
 * disk writes.
 */
import { createCipheriv, createHash, type Cipher } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";

const MiB = 1024 * 1024;
/** The image is written in pieces of this size, whatever its size. */
const CHUNK = 4 * MiB;
export const DEFAULT_SEED = "lifeboat-bench-vault-1";
/** The largest region of the image's layout (see generateImage). */
export const MAX_REGION_BYTES = 64 * MiB;

/** The smallest region: below this, content-defined chunks (kopia's average 4 MiB) straddle too many region starts to dedup the copies. */
export const MIN_REGION_BYTES = 16 * MiB;

/**
 * The region size of an image of `size` bytes: 64 MiB for 1 GiB and more,
 * a sixteenth of the image below that (whole MiB, at least 16 MiB), so that
 * a small test image (64 MiB and up) still holds every kind of data in the
 * same shares as a large one rather than only the zeros and text of its
 * first regions.
 */
export function regionBytesFor(size: number): number {
  return Math.min(MAX_REGION_BYTES, Math.max(MIN_REGION_BYTES, Math.floor(size / 16 / MiB) * MiB));
}

/**
 * A deterministic stream of random-looking bytes: the AES-128-CTR keystream
 * of `seed` (hashed to a key) from the counter block `stream || 0`, so that
 * distinct streams of one seed never overlap (each would need 2^64 blocks to
 * reach the next). Call `next(n)` for the next n bytes.
 */
export class SeededStream {
  private readonly cipher: Cipher;
  private zeros = Buffer.alloc(0);

  constructor(seed: string, stream: number) {
    if (!Number.isSafeInteger(stream) || stream < 0) throw new Error(`A stream number is a whole number from 0, not ${stream}`);
    const key = createHash("sha256").update(seed).digest().subarray(0, 16);
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64BE(BigInt(stream), 0);
    this.cipher = createCipheriv("aes-128-ctr", key, iv);
  }

  next(length: number): Buffer {
    if (this.zeros.length < length) this.zeros = Buffer.alloc(length);
    return this.cipher.update(this.zeros.subarray(0, length));
  }
}

/** A small deterministic generator (xorshift32), for choices such as which blocks change. */
export function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/** Log lines, for a region that compresses like a VM's logs and text files do. */
const TEXT = Buffer.from(Array.from({ length: 4096 }, (_, i) => `${i} INFO request handled in ${i % 97} ms path=/api/v1/items/${i * 7} user=${i % 13}\n`).join(""));

/** `length` bytes of TEXT repeated from `offset` into the repetition. */
function textAt(offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let o = 0; o < length;) {
    const from = (offset + o) % TEXT.length;
    o += TEXT.copy(out, o, from, Math.min(TEXT.length, from + length - o));
  }
  return out;
}

/** What one piece of the image holds (see imagePieces). */
export type RegionKind = "zeros" | "text" | "random" | "copy";

/** A piece of the image: `data` belongs at `offset`. */
export interface ImagePiece {
  readonly offset: number;
  readonly data: Buffer;
  readonly kind: RegionKind;
}

const KINDS: readonly RegionKind[] = ["zeros", "text", "random", "copy"];

/**
 * The image's bytes in order, as pieces of at most 4 MiB: regions of
 * `regionBytes` cycling through zeros (never written disk areas), log text
 * (compressible; the region's number is stamped into its first bytes so
 * that text regions differ), random data (incompressible, unique) and a copy
 * of the random region before it (what cloned VMs and copied files look
 * like: duplicates a deduplicating store keeps once). A generator, so that a
 * file (generateImage) and a VM's disk written through vcsim's guest-write
 * path (bench:pipeline) get the same bytes without holding the image in
 * memory. Zero pieces share one buffer; every other piece is its own.
 */
export function* imagePieces(size: number, seed = DEFAULT_SEED, regionBytes = regionBytesFor(size)): Generator<ImagePiece> {
  const zeros = Buffer.alloc(Math.min(CHUNK, regionBytes));
  for (let at = 0, region = 0; at < size; at += regionBytes, region++) {
    const regionLength = Math.min(regionBytes, size - at);
    const kind = KINDS[region % 4] ?? "zeros";
    // The copy region replays the stream of the random region before it.
    const random = kind === "random" ? new SeededStream(seed, region) : kind === "copy" ? new SeededStream(seed, region - 1) : undefined;
    for (let o = 0; o < regionLength; o += CHUNK) {
      const length = Math.min(CHUNK, regionLength - o);
      let data: Buffer;
      if (random) data = random.next(length);
      else if (kind === "text") {
        data = textAt(o, length);
        if (o === 0 && length >= 4) data.writeUInt32LE(region, 0);
      } else data = zeros.subarray(0, length);
      yield { offset: at + o, data, kind };
    }
  }
}

/**
 * Writes the image (imagePieces) to a file. The zero regions are written,
 * not left as holes, so that every tool reads the same bytes from the disk.
 */
export async function generateImage(path: string, size: number, seed = DEFAULT_SEED, regionBytes = regionBytesFor(size)): Promise<void> {
  const fh = await open(path, "w");
  try {
    for (const piece of imagePieces(size, seed, regionBytes)) await writeAll(fh, piece.data, piece.offset, path);
    await fh.truncate(size);
  } finally {
    await fh.close();
  }
}

/** The blocks of `blockBytes` to change: `fraction` of them (at least one), chosen by a seeded generator, sorted. */
export function chooseChangedBlocks(blocks: number, fraction: number, seed = 42): number[] {
  if (blocks < 1) throw new Error(`An image of ${blocks} blocks has nothing to change`);
  const want = Math.min(blocks, Math.max(1, Math.round(blocks * fraction)));
  const next = xorshift(seed);
  const chosen = new Set<number>();
  while (chosen.size < want) chosen.add(Math.floor(next() * blocks));
  return [...chosen].sort((a, b) => a - b);
}

/** A byte range of the image, as VMware CBT reports changed areas. */
export interface Extent {
  readonly offset: number;
  readonly length: number;
}

/**
 * The 5% change as pieces: `fraction` of the image's blocks of `blockBytes`
 * (chooseChangedBlocks), each with new random data from one seeded stream
 * apart from the image's, the same blocks and bytes on every run.
 */
export function* changedPieces(size: number, fraction: number, blockBytes = MiB, seed = DEFAULT_SEED): Generator<{ offset: number; data: Buffer }> {
  const blocks = chooseChangedBlocks(Math.floor(size / blockBytes), fraction);
  // Stream numbers of the image are region numbers, far below 2^32.
  const random = new SeededStream(seed, 2 ** 32);
  for (const b of blocks) yield { offset: b * blockBytes, data: random.next(blockBytes) };
}

/**
 * Overwrites the image file with changedPieces; returns the changed
 * extents, as CBT would.
 */
export async function changeBlocks(path: string, size: number, fraction: number, blockBytes = MiB, seed = DEFAULT_SEED): Promise<Extent[]> {
  const extents: Extent[] = [];
  const fh = await open(path, "r+");
  try {
    for (const piece of changedPieces(size, fraction, blockBytes, seed)) {
      await writeAll(fh, piece.data, piece.offset, path);
      extents.push({ offset: piece.offset, length: piece.data.length });
    }
  } finally {
    await fh.close();
  }
  return extents;
}

async function writeAll(fh: FileHandle, data: Buffer, position: number, path: string): Promise<void> {
  for (let done = 0; done < data.length;) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done).catch((err: unknown) => {
      throw new Error(`Could not write ${data.length} bytes at ${position} of the bench image ${path}`, { cause: err });
    });
    done += bytesWritten;
  }
}
