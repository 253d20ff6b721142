import { createHash } from "node:crypto";
import { open } from "node:fs/promises";

const MiB = 1024 * 1024;

/** SHA-256 of the first `length` bytes of a file, streamed; bytes past its end count as zeros (a disk file's tail). */
export async function hashFile(path: string, length: number): Promise<string> {
  const fh = await open(path, "r");
  const hash = createHash("sha256");
  const buf = Buffer.alloc(8 * MiB);
  try {
    for (let off = 0; off < length; off += buf.length) {
      const want = Math.min(buf.length, length - off);
      const { bytesRead } = await fh.read(buf, 0, want, off);
      hash.update(buf.subarray(0, bytesRead));
      if (bytesRead < want) hash.update(Buffer.alloc(want - bytesRead));
    }
  } finally {
    await fh.close();
  }
  return hash.digest("hex");
}
