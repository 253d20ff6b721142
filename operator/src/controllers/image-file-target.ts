/**
 * A RestoreJob's imageFile target on a PersistentVolumeClaim. A worker's own
 * filesystem is discarded with its pod, so image files go to a claim in the
 * RestoreJob's namespace, which the worker mounts at a fixed path; `path` is
 * a directory inside the claim. The RestoreJob's status names the files as
 * pvc://<claim>/<path inside the claim>, as it names objects s3://bucket/key.
 */
import type { RecoveryPoint, RestoreJob } from "../api/generated/types.js";
import { imageFileName, type ImageFormat } from "../image/formats.js";
import { WORKER_MOUNT_PATHS, type ClaimMount } from "../workloads/worker-volumes.js";

type ImageFile = NonNullable<RestoreJob["spec"]["target"]["imageFile"]>;

/** The files an imageFile restore writes, one per disk, under `dir` (the worker's naming). */
export function imageFilePaths(dir: string, rp: RecoveryPoint, format: ImageFormat, diskKeys?: readonly number[]): string[] {
  const keys = (rp.spec.disks ?? []).map((d) => d.key).filter((k) => !diskKeys || diskKeys.length === 0 || diskKeys.includes(k));
  return keys.map((k) => `${dir.replace(/\/+$/, "")}/${imageFileName(rp.spec.vm.name, k, format)}`);
}

/** `path` inside the claim, without surrounding slashes ("" for the claim's root). */
function relativeDir(file: ImageFile): string {
  return (file.path ?? "").replace(/^\/+|\/+$/g, "");
}

/** The directory the worker writes to: the claim's mount path, then `path`. */
export function imageFileWorkerDir(file: ImageFile): string {
  const rel = relativeDir(file);
  return rel ? `${WORKER_MOUNT_PATHS.image}/${rel}` : WORKER_MOUNT_PATHS.image;
}

/** The claim the worker mounts for the image files; none for a bucket. */
export function imageFileClaims(file: ImageFile | undefined): ClaimMount[] {
  const claim = file?.persistentVolumeClaim;
  return claim ? [{ claimName: claim.name, mountPath: WORKER_MOUNT_PATHS.image }] : [];
}

/** The files written, as the RestoreJob's status lists them: pvc://claim/dir/file or s3://bucket/key. */
export function imageFileResultPaths(file: ImageFile, rp: RecoveryPoint): string[] {
  if (file.persistentVolumeClaim) {
    const rel = relativeDir(file);
    return imageFilePaths(`pvc://${file.persistentVolumeClaim.name}${rel ? `/${rel}` : ""}`, rp, file.format ?? "raw", file.diskKeys);
  }
  if (file.s3) {
    const s3 = file.s3;
    const prefix = s3.prefix ? `${s3.prefix.replace(/\/+$/, "")}/` : "";
    return imageFilePaths("", rp, file.format ?? "raw", file.diskKeys).map((p) => `s3://${s3.bucket}/${prefix}${p.replace(/^\//, "")}`);
  }
  return [];
}
