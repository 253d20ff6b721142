/**
 * The CPU work of the data path: keyed BLAKE3 block ids, zstd compression and
 * AES-256-GCM. Pure functions over buffers, so they run the same on a worker
 * thread (block-worker.ts) or inline.
 *
 * A sealed block ("blob") is: flag (1 byte: 0 raw, 1 zstd) | nonce (12) |
 * ciphertext | GCM tag (16). The GCM additional data is "LBB1" | flag | id,
 * which binds each blob to its block id: a blob moved, swapped or altered in
 * storage fails authentication.
 */
import { createCipheriv, createDecipheriv, randomBytes, type Cipher, type Decipher } from "node:crypto";
import { createRequire } from "node:module";
import { Blake3Hasher } from "@napi-rs/blake-hash";
import { compress, decompress } from "zstd-napi";
import type * as ZstdBinding from "zstd-napi/binding.js";
import type { MasterKeys } from "./keys.js";

/**
 * zstd-napi's low-level binding (typed in its binding.d.ts), for the block
 * path: it compresses and decompresses into buffers the caller owns. The
 * high-level compress()/decompress() allocate a fresh megabyte per block,
 * and on the hot path those allocations (page faults, garbage collection)
 * cost about as much as the copies they cause.
 */
const zstd = createRequire(import.meta.url)("zstd-napi/binding.js") as typeof ZstdBinding;

/**
 * Per-thread state of the block path. Every function here is synchronous
 * and a worker thread has its own copy of this module, so reusing these
 * between calls is safe.
 */
const blockState: { cctx?: ZstdBinding.CCtx; dctx?: ZstdBinding.DCtx; packed: Buffer; opened: Buffer; probe: Buffer; probed: Buffer } = {
  packed: Buffer.alloc(0),
  opened: Buffer.alloc(0),
  probe: Buffer.alloc(0),
  probed: Buffer.alloc(0),
};

/**
 * How much of a block one AES-GCM update takes. Node.js's Cipheriv has no
 * "update into" call: each update returns a new buffer as long as its input.
 * For a whole 1 MiB block that is a fresh, zero-filled megabyte per block,
 * which malloc often maps anew, so its 256 pages fault in (dear in a VM that
 * hands freed memory back to its host) and then go cold before the copy into
 * the blob. A 64 KiB output comes from malloc's heap and is still in the
 * core's cache when it is copied (the outputs are garbage at once, and their
 * memory is reused once V8 collects them). GCM is a stream mode: the
 * ciphertext and the tag are the same whatever the pieces. Exported for unit
 * tests.
 */
export const CIPHER_STEP = 64 * 1024;

/**
 * Runs `input` through `cipher` CIPHER_STEP bytes at a time, writing the
 * output into `dest` from `at`; returns where the output ends.
 */
function cipherInto(cipher: Cipher | Decipher, input: Uint8Array, dest: Buffer, at: number): number {
  for (let from = 0; from < input.length; from += CIPHER_STEP) {
    at += cipher.update(input.subarray(from, from + CIPHER_STEP)).copy(dest, at);
  }
  return at;
}

/**
 * How sealBlock tells an incompressible block before compressing it. zstd
 * at level 1 spends about 0.3 ms on an incompressible megabyte (its match
 * search, then a copy into its output) only to find that it cannot shrink
 * it; compressed media, encrypted volumes and archives are most of a VM's
 * data of that kind. So zstd first runs over PROBE_SLICES slices of
 * PROBE_SLICE bytes spread evenly over the block, the first at its start and
 * the last at its end (32 KiB of 1 MiB, a tenth of the full pass's time),
 * and a block whose slices do not shrink by at least 1/PROBE_MIN_GAIN of
 * their length is stored raw. Borg's "auto" compression asks lz4 first for
 * the same reason.
 *
 * The price is space, never correctness: a block compressible only between
 * the slices, or only by repeats further apart than a slice that no two
 * slices catch, or by less than 1/PROBE_MIN_GAIN throughout, is stored raw
 * where the full pass would have shrunk it. A block shorter than
 * PROBE_MIN_BLOCK is compressed whole: the probe would read a quarter of it
 * or more. PROBE_MIN_BLOCK is also what keeps the slices apart and inside
 * the block. Exported for unit tests.
 */
export const PROBE_SLICES = 8;
export const PROBE_SLICE = 4096;
const PROBE_MIN_GAIN = 32;
export const PROBE_MIN_BLOCK = 4 * PROBE_SLICES * PROBE_SLICE;

/** False when the probe (see PROBE_SLICES) finds `data` incompressible. */
function mayCompress(cctx: ZstdBinding.CCtx, level: number, data: Uint8Array): boolean {
  if (data.length < PROBE_MIN_BLOCK) return true;
  const sample = PROBE_SLICES * PROBE_SLICE;
  if (blockState.probe.length < sample) {
    blockState.probe = Buffer.allocUnsafeSlow(sample);
    blockState.probed = Buffer.allocUnsafeSlow(zstd.compressBound(sample));
  }
  // The last slice ends at the block's end, to within the stride's rounding: a zero or text tail (a file's or partition's end) is seen.
  const stride = Math.floor((data.length - PROBE_SLICE) / (PROBE_SLICES - 1));
  for (let i = 0; i < PROBE_SLICES; i++) blockState.probe.set(data.subarray(i * stride, i * stride + PROBE_SLICE), i * PROBE_SLICE);
  return cctx.compress(blockState.probed, blockState.probe, level) <= sample - sample / PROBE_MIN_GAIN;
}

export const ID_BYTES = 32;
export const BLOB_OVERHEAD = 1 + 12 + 16;
const FLAG_RAW = 0;
const FLAG_ZSTD = 1;

/** Keyed BLAKE3-256 of a block: its id. */
export function blockId(idKey: Buffer, data: Uint8Array): Buffer {
  return Blake3Hasher.newKeyed(idKey).update(data).digestBuffer();
}

function blockAad(flag: number, id: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from("LBB1"), Buffer.from([flag]), id]);
}

/**
 * Compresses (kept raw when zstd does not shrink it, or when a probe of a
 * few slices finds it incompressible: see PROBE_SLICES) and encrypts one block.
 * The blob is written into `space` when it holds BLOB_OVERHEAD + the block's
 * length (the most a blob can take), and is then a view of it; otherwise into
 * a new buffer. A backup passes the same buffers again and again: a fresh
 * megabyte per block, moved between threads, sets off V8's major garbage
 * collections.
 */
export function sealBlock(keys: MasterKeys, level: number, id: Uint8Array, data: Uint8Array, space?: Buffer): Buffer {
  const bound = zstd.compressBound(data.length);
  if (blockState.packed.length < bound) blockState.packed = Buffer.allocUnsafeSlow(bound);
  blockState.cctx ??= new zstd.CCtx();
  // A block the probe finds incompressible skips the full pass and is stored raw.
  const packed = mayCompress(blockState.cctx, level, data) ? blockState.packed.subarray(0, blockState.cctx.compress(blockState.packed, data, level)) : undefined;
  const flag = packed && packed.length < data.length ? FLAG_ZSTD : FLAG_RAW;
  const body = packed && flag === FLAG_ZSTD ? packed : data;
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keys.dataKey, nonce);
  cipher.setAAD(blockAad(flag, id));
  const size = BLOB_OVERHEAD + body.length;
  // Not from Buffer's shared pool: the result may be transferred between threads.
  const out = space && space.length >= size ? space.subarray(0, size) : Buffer.allocUnsafeSlow(size);
  out[0] = flag;
  nonce.copy(out, 1);
  let at = cipherInto(cipher, body, out, 13);
  at += cipher.final().copy(out, at);
  cipher.getAuthTag().copy(out, at);
  return out;
}

/** Why a blob failed to open; the caller names the pack and block. */
export class BlobError extends Error {}

/**
 * Decrypts and decompresses one blob into `dest` (at most `dest.length`
 * bytes) and checks that the block's keyed BLAKE3 equals `id`: every
 * restored byte is verified. Returns the block's length. `dest` holds
 * unverified bytes when this throws, so callers must not use them then.
 * Decompressing straight into the caller's buffer spares a restore an
 * allocation and a copy per block.
 */
export function openBlockInto(keys: MasterKeys, id: Uint8Array, blob: Uint8Array, dest: Buffer): number {
  if (blob.length < BLOB_OVERHEAD) throw new BlobError(`blob of ${blob.length} bytes is shorter than its header`);
  const flag = blob[0] ?? -1;
  if (flag !== FLAG_RAW && flag !== FLAG_ZSTD) throw new BlobError(`blob has unknown flag ${flag}`);
  const decipher = createDecipheriv("aes-256-gcm", keys.dataKey, blob.subarray(1, 13));
  decipher.setAAD(blockAad(flag, id));
  decipher.setAuthTag(blob.subarray(blob.length - 16));
  const ciphertext = blob.subarray(13, blob.length - 16);
  // A raw block decrypts straight into `dest`; a compressed one into this thread's buffer, for zstd to read.
  if (flag === FLAG_RAW && ciphertext.length > dest.length) {
    throw new BlobError(`block has ${ciphertext.length} bytes, more than ${dest.length}`);
  }
  // sealBlock compresses only what zstd shrinks: a longer body is damage, and must not grow the thread's buffer.
  if (flag === FLAG_ZSTD && ciphertext.length >= dest.length) {
    throw new BlobError(`compressed block has ${ciphertext.length} bytes, not fewer than the ${dest.length} it decompresses into`);
  }
  if (flag === FLAG_ZSTD && blockState.opened.length < ciphertext.length) blockState.opened = Buffer.allocUnsafeSlow(dest.length);
  const plain = flag === FLAG_RAW ? dest : blockState.opened;
  let bodyLength: number;
  try {
    bodyLength = cipherInto(decipher, ciphertext, plain, 0);
    // GCM is a stream mode: final() checks the tag and returns no bytes; copied all the same, should it ever.
    bodyLength += decipher.final().copy(plain, bodyLength);
  } catch (err) {
    throw new BlobError("blob failed AES-GCM authentication (altered, truncated or misplaced)", { cause: err });
  }
  let length = bodyLength;
  if (flag === FLAG_ZSTD) {
    blockState.dctx ??= new zstd.DCtx();
    try {
      length = blockState.dctx.decompress(dest, plain.subarray(0, bodyLength));
    } catch (err) {
      throw new BlobError(`block does not decompress into ${dest.length} bytes`, { cause: err });
    }
  }
  if (!blockId(keys.idKey, dest.subarray(0, length)).equals(id)) throw new BlobError("block content does not match its id");
  return length;
}

/**
 * Seals a metadata object (pack header, index, manifest): zstd then
 * AES-256-GCM with `kind` as additional data, so an index cannot be passed
 * off as a manifest. Layout: nonce (12) | ciphertext | tag (16).
 */
export function sealObject(keys: MasterKeys, kind: string, plain: Uint8Array): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keys.dataKey, nonce);
  cipher.setAAD(Buffer.from(`LBO1:${kind}`));
  const body = compress(plain, { compressionLevel: 3 });
  return Buffer.concat([nonce, cipher.update(body), cipher.final(), cipher.getAuthTag()]);
}

/** Opens a sealed metadata object; throws BlobError when it fails authentication. */
export function openObject(keys: MasterKeys, kind: string, sealed: Uint8Array): Buffer {
  if (sealed.length < 28) throw new BlobError(`sealed ${kind} of ${sealed.length} bytes is too short`);
  const decipher = createDecipheriv("aes-256-gcm", keys.dataKey, sealed.subarray(0, 12));
  decipher.setAAD(Buffer.from(`LBO1:${kind}`));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  let body: Buffer;
  try {
    body = Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
  } catch (err) {
    throw new BlobError(`sealed ${kind} failed AES-GCM authentication`, { cause: err });
  }
  return decompress(body);
}

/** True when every byte of `data` is zero (such blocks are stored as holes). */
export function isZero(data: Uint8Array, zeros: Buffer): boolean {
  if (data.length > zeros.length) throw new Error("zero buffer shorter than block");
  return Buffer.from(data.buffer, data.byteOffset, data.length).equals(zeros.subarray(0, data.length));
}
