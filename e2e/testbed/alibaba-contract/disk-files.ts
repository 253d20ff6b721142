// How the contract server keeps block-device contents: one file per disk,
// snapshot or image disk, sparse, and no longer than its last written byte.
// Bytes past the end of the file read as zeros; the logical size is kept
// beside it by the server. This keeps copies (snapshots, images, disks
// created from them) proportional to the data written, not to the disk size:
// Node has no SEEK_DATA, and reading a 40 GiB hole takes minutes.
import { open, stat, truncate, writeFile } from "node:fs/promises";

const CHUNK = 1024 * 1024;

/** Creates an empty content file (a disk of any size whose bytes are all zero). */
export async function createEmptyContent(path: string): Promise<void> {
  await writeFile(path, "");
}

/** True when every byte of the buffer is zero. */
function isZero(buf: Buffer, length: number): boolean {
  for (let i = 0; i < length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Copies a content file, writing only the chunks that hold non-zero bytes,
 * so the copy stays sparse. With `maxBytes`, stops there (a disk cannot hold
 * more than its size, even if a guest wrote past it).
 */
export async function copyContent(src: string, dst: string, maxBytes = Number.POSITIVE_INFINITY): Promise<void> {
  const length = Math.min((await stat(src)).size, maxBytes);
  const input = await open(src, "r");
  const output = await open(dst, "w");
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let pos = 0; pos < length; pos += CHUNK) {
      const want = Math.min(CHUNK, length - pos);
      const { bytesRead } = await input.read(buf, 0, want, pos);
      if (bytesRead > 0 && !isZero(buf, bytesRead)) await output.write(buf, 0, bytesRead, pos);
    }
    await output.truncate(length);
  } catch (err) {
    throw new Error(`Could not copy disk content ${src} to ${dst}`, { cause: err });
  } finally {
    await input.close();
    await output.close();
  }
}

/** Reads `length` bytes at `offset` of a disk's content; bytes past the file's end are zeros. */
export async function readContent(path: string, offset: number, length: number): Promise<Buffer> {
  const out = Buffer.alloc(length);
  const fh = await open(path, "r");
  try {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(out, done, length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return out;
}

/** Writes bytes into a disk's content at an offset (the harness's way to prepare a disk). */
export async function writeContent(path: string, offset: number, data: Buffer): Promise<void> {
  const fh = await open(path, "r+");
  try {
    await fh.write(data, 0, data.length, offset);
  } finally {
    await fh.close();
  }
}

/** Shortens a content file that is longer than the disk it stands for. */
export async function clampContent(path: string, maxBytes: number): Promise<void> {
  if ((await stat(path)).size > maxBytes) await truncate(path, maxBytes);
}
