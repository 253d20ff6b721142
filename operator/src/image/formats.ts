/**
 * The disk image formats a restore writes, and how their files are named.
 * The controller predicts the names it reports in a RestoreJob's status and
 * the worker writes them, so both take the name from here.
 */

import type { EncodedGrains } from "./vmdk-grains.js";

/** Formats, as the RestoreJob API names them (spec.target.imageFile.format). */
export const IMAGE_FORMATS = ["raw", "qcow2", "vhd", "vhd-fixed", "vmdk"] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/** True for a format name the API accepts. */
export function isImageFormat(value: unknown): value is ImageFormat {
  return typeof value === "string" && (IMAGE_FORMATS as readonly string[]).includes(value);
}

/** File extension of a format, without the dot: both VHD kinds are .vhd, as Hyper-V and the clouds expect. */
export function imageFileExtension(format: ImageFormat): string {
  return format === "vhd-fixed" ? "vhd" : format;
}

/** File (or object) name of one restored disk: `<vm>-disk-<key>.<ext>`, the VM name reduced to safe characters. */
export function imageFileName(vmName: string, diskKey: string | number, format: ImageFormat): string {
  const safe = vmName.replace(/[^A-Za-z0-9._-]+/g, "_") || "vm";
  return `${safe}-disk-${diskKey}.${imageFileExtension(format)}`;
}

/**
 * A piece of a disk's data, as the image writers take it: it starts on a
 * block boundary and holds whole blocks (the disk's last block may be
 * short); offsets strictly increase and only allocated blocks come, each
 * exactly once. The blocks in between read as zeros.
 */
export interface DiskPiece {
  readonly offset: number;
  readonly data: Buffer;
  /**
   * The VMDK grains of `data`, encoded ahead (vmdk-grains.ts) by the vault's
   * threads that decoded it; the VMDK writer takes them instead of encoding
   * `data` itself, and every other writer ignores them.
   */
  readonly vmdkGrains?: EncodedGrains | undefined;
}
