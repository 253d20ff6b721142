// What ImportImage does with the OSS object: checks that it is the format
// the request says, and turns it into the image's raw disk bytes. Non-RAW
// formats go through `qemu-img convert` (Debian's qemu-utils), the same
// judge the rest of the test bed uses for disk images.
import { execFile } from "node:child_process";
import { open, rm, stat, truncate } from "node:fs/promises";
import { promisify } from "node:util";
import { copyContent } from "./disk-files.js";

const execFileAsync = promisify(execFile);

/** The Format values of ImportImage's DiskDeviceMapping.N.Format. */
export type ImportFormat = "RAW" | "QCOW2" | "VHD" | "VMDK";

export const IMPORT_FORMATS: readonly ImportFormat[] = ["RAW", "QCOW2", "VHD", "VMDK"];

const QEMU_FORMAT: Record<Exclude<ImportFormat, "RAW">, string> = { QCOW2: "qcow2", VHD: "vpc", VMDK: "vmdk" };

/** An import that cannot succeed, with the reason the task reports. */
export class ImportFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ImportFailure";
  }
}

async function readAt(path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * Checks the object's format from its bytes: a RAW image must be a whole
 * number of 512-byte sectors; QCOW2 starts with `QFI\xfb`; a VHD ends with
 * a `conectix` footer; a VMDK starts with `KDMV` (sparse and
 * stream-optimized) or is a text descriptor.
 */
export async function checkFormat(path: string, format: ImportFormat): Promise<void> {
  const size = (await stat(path)).size;
  switch (format) {
    case "RAW":
      if (size === 0 || size % 512 !== 0) throw new ImportFailure(`The RAW image is ${size} bytes, not a positive whole number of 512-byte sectors.`);
      return;
    case "QCOW2":
      if (!(await readAt(path, 0, 4)).equals(Buffer.from([0x51, 0x46, 0x49, 0xfb]))) throw new ImportFailure("The object is not a QCOW2 image (no QFI\\xfb magic).");
      return;
    case "VHD":
      if (size < 512 || (await readAt(path, size - 512, 8)).toString("latin1") !== "conectix") throw new ImportFailure("The object is not a VHD image (no conectix footer).");
      return;
    case "VMDK": {
      const head = await readAt(path, 0, 21);
      if (head.subarray(0, 4).toString("latin1") !== "KDMV" && head.toString("latin1") !== "# Disk DescriptorFile") throw new ImportFailure("The object is not a VMDK image (no KDMV magic or descriptor).");
      return;
    }
  }
}

/**
 * Writes the image's raw disk bytes to `dst`: a sparse copy for RAW, else
 * `qemu-img convert -O raw`. Fails when the disk is larger than
 * `maxBytes` (the request's DiskImageSize).
 */
export async function convertToRaw(src: string, format: ImportFormat, dst: string, maxBytes: number): Promise<void> {
  await checkFormat(src, format);
  if (format === "RAW") {
    if ((await stat(src)).size > maxBytes) throw new ImportFailure("The RAW image is larger than DiskImageSize.");
    await copyContent(src, dst);
    return;
  }
  const qemuFormat = QEMU_FORMAT[format];
  let virtualSize: number;
  try {
    const { stdout } = await execFileAsync("qemu-img", ["info", "--output=json", "-f", qemuFormat, src]);
    virtualSize = (JSON.parse(stdout) as { "virtual-size": number })["virtual-size"];
  } catch (err) {
    throw new ImportFailure(`qemu-img cannot read the ${format} image.`, { cause: err });
  }
  if (virtualSize > maxBytes) throw new ImportFailure(`The ${format} image's virtual size ${virtualSize} is larger than DiskImageSize.`);
  const full = `${dst}.full`;
  try {
    await execFileAsync("qemu-img", ["convert", "-f", qemuFormat, "-O", "raw", src, full]);
    // qemu-img writes a sparse file as long as the virtual size; keep only up
    // to the last data byte, as every content file of the server is kept.
    await trimTrailingHoles(full, dst);
  } catch (err) {
    throw new ImportFailure(`qemu-img could not convert the ${format} image.`, { cause: err });
  } finally {
    await rm(full, { force: true });
  }
}

/**
 * Writes a disk's content (a sparse content file, zeros past its end) as a
 * QCOW2 image of `sizeBytes` at `dst`, for ExportImage, with `qemu-img
 * convert` (holes stay unallocated).
 */
export async function contentToQcow2(content: string, sizeBytes: number, dst: string): Promise<void> {
  const full = `${dst}.raw`;
  try {
    await copyContent(content, full, sizeBytes);
    await truncate(full, sizeBytes);
    await execFileAsync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", full, dst]);
  } finally {
    await rm(full, { force: true });
  }
}

/** Copies a sparse raw file up to its last data extent, found with `qemu-img map` (which uses SEEK_DATA). */
async function trimTrailingHoles(src: string, dst: string): Promise<void> {
  const { stdout } = await execFileAsync("qemu-img", ["map", "--output=json", "-f", "raw", src]);
  const extents = JSON.parse(stdout) as { start: number; length: number; data: boolean; zero: boolean }[];
  let end = 0;
  for (const e of extents) if (e.data && !e.zero) end = Math.max(end, e.start + e.length);
  await copyContent(src, dst, end);
}
