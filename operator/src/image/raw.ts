/**
 * Raw image: the disk's bytes as they are, holes filled with zeros, up to
 * the virtual size. There is no spec to follow; qemu calls this format "raw".
 *
 * Memory: the piece being copied; holes come from the shared zero buffer.
 * Not sparse: every zero byte is written (the output is a stream, not a file
 * with holes). A consumer that writes to a filesystem may skip zero chunks
 * and seek instead.
 */
import { DiskReader } from "./disk-reader.js";
import type { CheckedLayout, SizeRules } from "./layout.js";
import type { DiskPiece } from "./writer.js";

/** Raw images take any size, to the byte. */
export const RAW_SIZE_RULES: SizeRules = {
  format: "raw",
  alignment: 1,
  maxVirtualSize: Number.MAX_SAFE_INTEGER,
  maxDescription: "the largest size this writer can count",
};

/** The raw image of the disk: exactly `virtualSize` bytes. */
export function rawImage(layout: CheckedLayout): { imageSize: number; produce: (pieces: AsyncIterable<DiskPiece>) => AsyncGenerator<Buffer, void, undefined> } {
  return {
    imageSize: layout.virtualSize,
    async *produce(pieces) {
      const disk = new DiskReader(layout, pieces);
      yield* disk.range(0, layout.virtualSize);
      await disk.finish();
    },
  };
}
