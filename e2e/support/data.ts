import { randomBytes } from "node:crypto";

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
