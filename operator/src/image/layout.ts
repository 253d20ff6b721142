/**
 * Checks a DiskLayout once, up front, and settles the image's virtual size,
 * so that every writer can plan its whole file from the allocation map
 * before the first byte goes out.
 */
import { ImageFormatError } from "./errors.js";
import type { DiskLayout } from "./writer.js";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

/** What a format asks of the virtual size. */
export interface SizeRules {
  /** Format name for messages. */
  readonly format: string;
  /** The virtual size is rounded up to a multiple of this (1 = bytes as given). */
  readonly alignment: number;
  /** The largest virtual size the format (or its readers) can take. */
  readonly maxVirtualSize: number;
  /** How to say the limit in a message, e.g. "2040 GiB, qemu's and Hyper-V's VHD limit". */
  readonly maxDescription: string;
}

/** A DiskLayout that passed the checks, with the virtual size the image will have. */
export interface CheckedLayout {
  readonly size: number;
  readonly blockSize: number;
  /** Blocks of the disk, the last one possibly short. */
  readonly blockCount: number;
  readonly allocated: (block: number) => boolean;
  /** The image's virtual size: `virtualSize ?? size`, rounded up to the format's alignment. */
  readonly virtualSize: number;
}

/** Rounds `n` up to a multiple of `alignment`. */
export function roundUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/**
 * Checks `layout` and works out the virtual size for a format. Throws an
 * ImageFormatError that names the field and the fix.
 */
export function checkLayout(layout: DiskLayout, rules: SizeRules): CheckedLayout {
  const { size, blockSize } = layout;
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new ImageFormatError(`The disk size ${size} is not a positive whole number of bytes: pass the disk's capacity in bytes`);
  }
  if (!Number.isSafeInteger(blockSize) || blockSize < 256 * KiB || blockSize > 8 * MiB || (blockSize & (blockSize - 1)) !== 0) {
    throw new ImageFormatError(`The block size ${blockSize} is not a power of two from 256 KiB to 8 MiB: pass the recovery point's block size`);
  }
  if (typeof layout.allocated !== "function") {
    throw new ImageFormatError("The layout has no allocated(block) function: pass one that says which blocks hold data");
  }
  const requested = layout.virtualSize ?? size;
  if (!Number.isSafeInteger(requested) || requested < size) {
    throw new ImageFormatError(`The virtual size ${requested} is smaller than the disk (${size} bytes) or not a whole number: pass a virtual size of at least the disk's size, or none`);
  }
  const virtualSize = roundUp(requested, rules.alignment);
  if (virtualSize > rules.maxVirtualSize) {
    throw new ImageFormatError(
      `A ${rules.format} image of ${virtualSize} bytes is over ${rules.maxDescription} (${rules.maxVirtualSize} bytes): choose another format (qcow2 or raw) for a disk this large`,
    );
  }
  return { size, blockSize, blockCount: Math.ceil(size / blockSize), allocated: layout.allocated, virtualSize };
}

/** True when any block overlapping the disk's bytes [start, end) is allocated. */
export function rangeAllocated(layout: CheckedLayout, start: number, end: number): boolean {
  const stop = Math.min(end, layout.size);
  if (stop <= start) return false;
  const last = Math.floor((stop - 1) / layout.blockSize);
  for (let block = Math.floor(start / layout.blockSize); block <= last; block++) {
    if (layout.allocated(block)) return true;
  }
  return false;
}
