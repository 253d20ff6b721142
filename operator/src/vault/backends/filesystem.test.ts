import { describe, expect, it } from "@jest/globals";
import type { FileHandle } from "node:fs/promises";
import { writeAll } from "./filesystem.js";

/**
 * A file that takes at most `room` bytes per call, as a filling filesystem
 * does (a short write, no error), and nothing once `capacity` is reached.
 */
function shortWritingFile(room: number, capacity = Infinity): { file: Pick<FileHandle, "writev" | "write">; bytes: () => Buffer } {
  let stored = Buffer.alloc(0);
  const take = (data: Buffer, position: number): number => {
    const n = Math.max(0, Math.min(room, data.length, capacity - position));
    const next = Buffer.alloc(Math.max(stored.length, position + n));
    stored.copy(next);
    data.copy(next, position, 0, n);
    stored = next;
    return n;
  };
  const file = {
    writev: (buffers: NodeJS.ArrayBufferView[]) => Promise.resolve({ bytesWritten: take(Buffer.concat(buffers as Buffer[]), 0), buffers }),
    write: (buffer: Buffer, offset = 0, length = buffer.length - offset, position = 0) =>
      Promise.resolve({ bytesWritten: take(buffer.subarray(offset, offset + length), position), buffer }),
  } as unknown as Pick<FileHandle, "writev" | "write">;
  return { file, bytes: () => stored };
}

describe("writeAll", () => {
  const chunks = [Buffer.alloc(700, 1), Buffer.alloc(500, 2), Buffer.alloc(300, 3)];

  it("writes what a short writev left, in order", async () => {
    const { file, bytes } = shortWritingFile(256);
    await writeAll(file, chunks);
    expect(bytes().equals(Buffer.concat(chunks))).toBe(true);
  });

  it("fails with ENOSPC when the file takes no more, rather than keep a truncated file", async () => {
    const { file, bytes } = shortWritingFile(1024, 1000);
    await expect(writeAll(file, chunks)).rejects.toMatchObject({ code: "ENOSPC" });
    expect(bytes().length).toBe(1000);
  });
});
