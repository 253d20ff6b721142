/**
 * qemu-img as the judge of the disk images Lifeboat writes: a real tool that
 * every KVM, OpenStack and cloud import pipeline trusts, so an image it reads
 * as identical to the raw disk is one those peers read too. The test bed
 * installs it (Debian package qemu-utils, e2e/testbed/host-packages.ts).
 */
import { execFile } from "node:child_process";
import type { ImageFormat } from "../../operator/src/image/formats.js";

/** What qemu-img prints and its exit code (0 is clean/identical; compare exits 1 on a difference, check 2 or 3 on corruption or leaks). */
export interface QemuImgResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs qemu-img with `args`; never rejects on a non-zero exit, so a test can assert the code. */
export function qemuImg(args: readonly string[]): Promise<QemuImgResult> {
  return new Promise((resolve, reject) => {
    execFile("qemu-img", [...args], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") {
        reject(new Error(`Could not run qemu-img ${args.join(" ")}; is qemu-utils installed?`, { cause: err }));
        return;
      }
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

/** qemu's driver name for a Lifeboat image format (both VHD kinds are qemu's "vpc"). */
export function qemuFormat(format: ImageFormat): string {
  return format === "vhd" || format === "vhd-fixed" ? "vpc" : format;
}

/** True for the formats `qemu-img check` can check (for the others it answers "does not support checks"). */
export function qemuChecks(format: ImageFormat): boolean {
  return format === "qcow2" || format === "vmdk";
}

/**
 * Asserts, through qemu-img, that `image` (in `format`) is well formed and
 * reads exactly as the raw image `raw`: `check` clean where qemu can check
 * the format, `compare` identical. Throws with qemu-img's own words otherwise.
 */
export async function expectSameAsRaw(image: string, format: ImageFormat, raw: string): Promise<void> {
  const f = qemuFormat(format);
  if (qemuChecks(format)) {
    const check = await qemuImg(["check", "-f", f, image]);
    if (check.code !== 0) throw new Error(`qemu-img check -f ${f} ${image} exited ${check.code}:\n${check.stdout}${check.stderr}`);
  }
  const compare = await qemuImg(["compare", "-f", f, "-F", "raw", image, raw]);
  if (compare.code !== 0) throw new Error(`qemu-img compare -f ${f} -F raw ${image} ${raw} exited ${compare.code}:\n${compare.stdout}${compare.stderr}`);
}
