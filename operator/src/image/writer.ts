/**
 * Disk-image writers: turn a disk's blocks (from a recovery point) into an
 * image file that clouds, hypervisors and qemu import, as one sequential
 * byte stream.
 *
 * Every writer plans its file from the allocation map before the first byte,
 * then writes strictly front to back, so the output can go to an S3
 * multipart upload or an HTTP body, never needing a seekable file or a
 * temporary copy of the disk. Each format's file (qcow2.ts, vhd.ts, vmdk.ts,
 * raw.ts) names the spec it follows, what it leaves out, and its memory use.
 */
import type { Duplex } from "node:stream";
import { ImageFormatError } from "./errors.js";
import { IMAGE_FORMATS, imageFileExtension, type DiskPiece, type ImageFormat } from "./formats.js";
import { GeneratorDuplex, type Producer } from "./generator-duplex.js";
import { checkLayout, type CheckedLayout, type SizeRules } from "./layout.js";
import { qcow2Image, QCOW2_SIZE_RULES } from "./qcow2.js";
import { rawImage, RAW_SIZE_RULES } from "./raw.js";
import { vhdDynamicImage, vhdFixedImage, VHD_SIZE_RULES } from "./vhd.js";
import { vmdkImage, VMDK_SIZE_RULES } from "./vmdk.js";

export { ImageFormatError } from "./errors.js";

export { IMAGE_FORMATS, type DiskPiece, type ImageFormat };

/** What the writer knows up front about the disk (from the recovery point's block list). */
export interface DiskLayout {
  /** Size of the disk in bytes (any number of bytes, not necessarily a multiple of 512 or 1 MiB). */
  readonly size: number;
  /** Granularity of `allocated` in bytes: a power of two from 256 KiB to 8 MiB. */
  readonly blockSize: number;
  /** False for blocks that read as zeros; those are never given to the writer. */
  readonly allocated: (block: number) => boolean;
  /**
   * Virtual size of the image, >= size (clouds want whole GiB); the bytes
   * past `size` read as zeros. Default: `size`. Either way it is rounded up
   * as the format needs: raw not at all; qcow2 and vmdk to a multiple of 512
   * (both count the size in 512-byte sectors; qemu would drop a partial
   * one); vhd and vhd-fixed to a multiple of 1 MiB (VHD sizes must be whole
   * sectors, and Azure-like clouds take only whole MiB). `imageVirtualSize`
   * says what it comes to.
   */
  readonly virtualSize?: number;
}


export interface ImageStream {
  /** Writable side takes DiskPiece objects (objectMode); readable side gives the image file's bytes in order. */
  readonly stream: Duplex;
  /** The image file's exact length when known up front (raw, qcow2, vhd, vhd-fixed); undefined for vmdk (compressed). */
  readonly imageSize: number | undefined;
  /** File extension without the dot: raw, qcow2, vhd, vmdk. */
  readonly extension: string;
}

/** A format's plan for one disk: the file's length when known, and the function that writes it. */
export interface ImagePlan {
  readonly imageSize: number | undefined;
  readonly produce: Producer<DiskPiece>;
}

interface FormatWriter {
  readonly sizeRules: SizeRules;
  readonly plan: (layout: CheckedLayout) => ImagePlan;
}

const WRITERS: Record<ImageFormat, FormatWriter> = {
  raw: { sizeRules: RAW_SIZE_RULES, plan: rawImage },
  qcow2: { sizeRules: QCOW2_SIZE_RULES, plan: qcow2Image },
  vhd: { sizeRules: VHD_SIZE_RULES, plan: vhdDynamicImage },
  "vhd-fixed": { sizeRules: VHD_SIZE_RULES, plan: vhdFixedImage },
  vmdk: { sizeRules: VMDK_SIZE_RULES, plan: vmdkImage },
};

function writerOf(format: ImageFormat): FormatWriter {
  if (!(IMAGE_FORMATS as readonly string[]).includes(format)) {
    throw new ImageFormatError(`Unknown image format "${format}": use one of ${IMAGE_FORMATS.join(", ")}`);
  }
  return WRITERS[format];
}

/**
 * A stream that turns the disk's pieces into an image file of `format`.
 * Checks the layout first (throws ImageFormatError for a bad layout or a
 * disk over the format's limit); a piece that breaks the DiskPiece contract
 * destroys the stream with an ImageFormatError.
 */
export function createImageStream(format: ImageFormat, layout: DiskLayout): ImageStream {
  const writer = writerOf(format);
  const plan = writer.plan(checkLayout(layout, writer.sizeRules));
  return { stream: new GeneratorDuplex(plan.produce), imageSize: plan.imageSize, extension: imageFileExtension(format) };
}

/**
 * An upper bound of an image file's length for a disk of `virtualSize`
 * bytes, to size upload parts when the length is known only at the end
 * (VMDK): a stored 64 KiB grain grows by its marker and padding to at most
 * 512 bytes (under 1 %), plus grain tables, directory and footer; a 64th
 * more and 64 MiB is ample.
 */
export function imageSizeBound(virtualSize: number): number {
  return virtualSize + Math.ceil(virtualSize / 64) + 64 * 1024 * 1024;
}

/** The virtual size an image of `format` will have for `layout` (its `virtualSize ?? size`, rounded up as the format needs). */
export function imageVirtualSize(format: ImageFormat, layout: DiskLayout): number {
  return checkLayout(layout, writerOf(format).sizeRules).virtualSize;
}
