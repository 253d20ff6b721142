import { randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import { expect } from "@jest/globals";

const MiB = 1024 * 1024;

/** Mixed data as backups and replication meet it: random bytes, a repeated block, compressible text and a zero quarter. */
export function mixedData(size: number, seed: number): Buffer {
  const buf = Buffer.alloc(size);
  const q = Math.floor(size / 4 / MiB) * MiB;
  const block = randomBytes(MiB);
  for (let o = q; o < 2 * q; o += MiB) block.copy(buf, o);
  const text = Buffer.from(`lifeboat e2e line ${seed} the quick brown fox jumps over the lazy dog 0123456789\n`);
  for (let o = 2 * q; o < 3 * q; o += text.length) text.copy(buf, o, 0, Math.min(text.length, 3 * q - o));
  randomBytes(size - 3 * q).copy(buf, 3 * q);
  return buf;
}

/** Compares a disk image file with the expected data followed by zeros up to `size`. */
export async function expectImage(path: string, expected: Buffer, size: number): Promise<void> {
  const fh = await open(path, "r");
  try {
    expect((await fh.stat()).size).toBe(size);
    const chunk = Buffer.alloc(16 * MiB);
    for (let offset = 0; offset < size; offset += chunk.length) {
      const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, size - offset), offset);
      const got = chunk.subarray(0, bytesRead);
      const want = Buffer.alloc(bytesRead);
      if (offset < expected.length) expected.copy(want, 0, offset, Math.min(expected.length, offset + bytesRead));
      if (!got.equals(want)) throw new Error(`${path} differs from the expected content within [${offset}, ${offset + bytesRead})`);
    }
  } finally {
    await fh.close();
  }
}
