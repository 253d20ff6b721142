import { describe, expect, it } from "@jest/globals";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { BLOB_OVERHEAD, BlobError, CIPHER_STEP, PROBE_MIN_BLOCK, PROBE_SLICE, PROBE_SLICES, blockId, openBlockInto, sealBlock } from "./crypto.js";
import type { MasterKeys } from "./keys.js";

const keys: MasterKeys = { dataKey: randomBytes(32), idKey: randomBytes(32) };

/** A blob as one AES-GCM pass over the whole body makes it: what vaults written before CIPHER_STEP hold. */
function sealWhole(flag: number, id: Buffer, body: Buffer): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keys.dataKey, nonce);
  cipher.setAAD(Buffer.concat([Buffer.from("LBB1"), Buffer.from([flag]), id]));
  return Buffer.concat([Buffer.from([flag]), nonce, cipher.update(body), cipher.final(), cipher.getAuthTag()]);
}

/** The body of a blob, opened in one AES-GCM pass. */
function openWhole(id: Buffer, blob: Buffer): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", keys.dataKey, blob.subarray(1, 13));
  decipher.setAAD(Buffer.concat([Buffer.from("LBB1"), blob.subarray(0, 1), id]));
  decipher.setAuthTag(blob.subarray(blob.length - 16));
  return Buffer.concat([decipher.update(blob.subarray(13, blob.length - 16)), decipher.final()]);
}

// Lengths around the cipher's step, where an off-by-one in the pieces would show.
const lengths = [1, CIPHER_STEP - 1, CIPHER_STEP, CIPHER_STEP + 1, 3 * CIPHER_STEP + 17, 1024 * 1024];

describe("sealBlock and openBlockInto, a piece at a time", () => {
  it.each(lengths)("a random (stored raw) block of %i bytes is the blob one AES-GCM pass makes, and opens", (length) => {
    const block = randomBytes(length);
    const id = blockId(keys.idKey, block);
    const blob = sealBlock(keys, 1, id, block, Buffer.allocUnsafeSlow(length + BLOB_OVERHEAD));
    expect(blob[0]).toBe(0);
    expect(blob.length).toBe(length + BLOB_OVERHEAD);
    expect(openWhole(id, blob).equals(block)).toBe(true);
    const out = Buffer.alloc(length);
    expect(openBlockInto(keys, id, blob, out)).toBe(length);
    expect(out.equals(block)).toBe(true);
  });

  it.each(lengths)("a compressible block of %i bytes round-trips, and its blob is one AES-GCM pass's", (length) => {
    const block = Buffer.alloc(length);
    for (let i = 0; i < length; i += 7) block.write("lifeboat", i);
    const id = blockId(keys.idKey, block);
    const blob = sealBlock(keys, 1, id, block);
    const body = openWhole(id, blob);
    if (blob[0] === 1) expect(body.length).toBeLessThan(length);
    const out = Buffer.alloc(length);
    expect(openBlockInto(keys, id, blob, out)).toBe(length);
    expect(out.equals(block)).toBe(true);
  });

  it.each([256 * 1024, 1024 * 1024])("a half-compressible block of %i bytes, whose compressed body spans pieces, round-trips", (length) => {
    // Hex digits of random bytes: zstd halves them, so the body is longer than CIPHER_STEP and stays compressed.
    const block = Buffer.from(randomBytes(length / 2).toString("hex"), "latin1");
    const id = blockId(keys.idKey, block);
    const blob = sealBlock(keys, 1, id, block);
    expect(blob[0]).toBe(1);
    expect(blob.length - BLOB_OVERHEAD).toBeGreaterThan(2 * CIPHER_STEP);
    const packed = openWhole(id, blob);
    const out = Buffer.alloc(length);
    expect(openBlockInto(keys, id, blob, out)).toBe(length);
    expect(out.equals(block)).toBe(true);
    // And the same body encrypted in one pass opens too.
    out.fill(0);
    expect(openBlockInto(keys, id, sealWhole(1, id, packed), out)).toBe(length);
    expect(out.equals(block)).toBe(true);
  });

  it("opens blobs sealed in one pass, compressed then raw, across the step", () => {
    const text = Buffer.from("a restore reads old vaults too. ".repeat(8192));
    const textId = blockId(keys.idKey, text);
    // Compressed by the same sealBlock, then re-encrypted in one pass, so only the cipher's pieces differ.
    const packed = openWhole(textId, sealBlock(keys, 1, textId, text));
    expect(packed.length).toBeLessThan(text.length);
    const into = Buffer.alloc(text.length);
    expect(openBlockInto(keys, textId, sealWhole(1, textId, packed), into)).toBe(text.length);
    expect(into.equals(text)).toBe(true);

    // After a compressed block, whose body the thread's own buffer took, a raw one still lands in the caller's.
    for (const raw of [randomBytes(1000), randomBytes(2 * CIPHER_STEP + 5)]) {
      const rawId = blockId(keys.idKey, raw);
      const out = Buffer.alloc(raw.length);
      expect(openBlockInto(keys, rawId, sealWhole(0, rawId, raw), out)).toBe(raw.length);
      expect(out.equals(raw)).toBe(true);
    }
  });

  it("refuses a blob altered past the first piece, a raw body larger than the block, a compressed one not smaller", () => {
    const block = randomBytes(3 * CIPHER_STEP);
    const id = blockId(keys.idKey, block);
    const blob = Buffer.from(sealBlock(keys, 1, id, block));
    const at = 13 + 2 * CIPHER_STEP + 3;
    blob[at] = (blob[at] ?? 0) ^ 1;
    expect(() => openBlockInto(keys, id, blob, Buffer.alloc(block.length))).toThrow(BlobError);
    const whole = sealBlock(keys, 1, id, block);
    expect(() => openBlockInto(keys, id, whole, Buffer.alloc(block.length - 1))).toThrow(/more than/);
    // A compressed blob's body as long as its block is damage, refused before anything is decrypted.
    const text = Buffer.from("lifeboat ".repeat(1000));
    const textId = blockId(keys.idKey, text);
    expect(() => openBlockInto(keys, textId, sealWhole(1, textId, text), Buffer.alloc(text.length))).toThrow(/not fewer than/);
  });
});

describe("sealBlock's probe for incompressible blocks", () => {
  const MiB = 1024 * 1024;
  /** Where the probe's slices start in a block of `length` bytes (the last one ends at its end). */
  const sliceStarts = (length: number): number[] => {
    const stride = Math.floor((length - PROBE_SLICE) / (PROBE_SLICES - 1));
    return Array.from({ length: PROBE_SLICES }, (_, i) => i * stride);
  };

  /** Seals `block`, checks that it opens, and returns its flag (0 raw, 1 zstd) and the body's length. */
  function seal(block: Buffer): { flag: number; body: number } {
    const id = blockId(keys.idKey, block);
    const blob = sealBlock(keys, 1, id, block);
    const out = Buffer.alloc(block.length);
    expect(openBlockInto(keys, id, blob, out)).toBe(block.length);
    expect(out.equals(block)).toBe(true);
    return { flag: blob[0] ?? -1, body: blob.length - BLOB_OVERHEAD };
  }

  it.each([["fourth", 3], ["last", PROBE_SLICES - 1]])("compresses a block that is random but for text under its %s slice", (_, slice) => {
    // 64 KiB of text from the slice's start: the probe sees it, and the full pass shrinks the block by about that.
    const block = randomBytes(MiB);
    const from = Math.min(sliceStarts(MiB)[slice] ?? 0, MiB - 64 * 1024);
    block.fill("lifeboat ", from, from + 64 * 1024);
    const { flag, body } = seal(block);
    expect(flag).toBe(1);
    expect(body).toBeLessThan(MiB - 32 * 1024);
  });

  it("stores raw, without the full pass, a block whose slices are all incompressible though its repeats are not", () => {
    // A random run of 300 KiB, repeated: zstd over the whole block keeps the
    // run once (its repeats are within zstd's window), but no two slices fall
    // on the same bytes of the run, so the probe sees only random data. Space
    // is the probe's price, never correctness.
    const run = randomBytes(300 * 1024);
    const block = Buffer.concat([run, run, run, run]).subarray(0, MiB);
    const inRun = sliceStarts(MiB).map((at) => at % run.length);
    for (const [i, a] of inRun.entries()) {
      expect(a + PROBE_SLICE).toBeLessThanOrEqual(run.length);
      for (const b of inRun.slice(0, i)) expect(Math.abs(a - b)).toBeGreaterThanOrEqual(PROBE_SLICE);
    }
    expect(seal(block)).toEqual({ flag: 0, body: MiB });
  });

  it("probes a block from its size up, and compresses a smaller one whole", () => {
    // Zeros between the first two slices' places: the probe, where it runs, misses them.
    const withGap = (length: number): Buffer => {
      const block = randomBytes(length);
      block.fill(0, PROBE_SLICE + 1024, (sliceStarts(length)[1] ?? 0) - 1024);
      return block;
    };
    expect(seal(withGap(PROBE_MIN_BLOCK)).flag).toBe(0);
    const smaller = seal(withGap(PROBE_MIN_BLOCK - 8 * 1024));
    expect(smaller.flag).toBe(1);
    expect(smaller.body).toBeLessThan(PROBE_MIN_BLOCK - 8 * 1024 - 8 * 1024);
  });
});
