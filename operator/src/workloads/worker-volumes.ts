/**
 * The volumes of a worker pod. A worker reads and writes claims in its own
 * namespace (a BackupVault's repository, a seed's source vault, a restore's
 * image files), each mounted at a fixed path that the WorkerSpec names, and
 * it gets a small writable /tmp because its root filesystem is read-only.
 */
import type * as k8s from "@kubernetes/client-node";

/** Where a worker mounts each claim it uses; the WorkerSpec carries these paths. */
export const WORKER_MOUNT_PATHS = {
  /** The BackupVault the worker writes to (or restores from). */
  vault: "/var/lib/lifeboat/vault",
  /** A seed's source vault. */
  sourceVault: "/var/lib/lifeboat/source-vault",
  /** A RestoreJob's imageFile claim. */
  image: "/var/lib/lifeboat/image",
} as const;

/** One claim mounted at one path. */
export interface ClaimMount {
  readonly claimName: string;
  readonly mountPath: string;
}

/** Scratch space for libraries that write temporary files; the root filesystem is read-only. */
const TMP_VOLUME: k8s.V1Volume = { name: "tmp", emptyDir: { sizeLimit: "64Mi" } };

/**
 * Volumes and mounts for the claims, plus /tmp. A claim used twice (a seed
 * whose source vault is on the same claim as its destination) is one volume
 * mounted at both paths: a pod may not list one claim as two volumes on
 * every storage driver.
 */
export function workerVolumes(claims: readonly ClaimMount[]): { volumes: k8s.V1Volume[]; volumeMounts: k8s.V1VolumeMount[] } {
  const volumes: k8s.V1Volume[] = [TMP_VOLUME];
  const volumeMounts: k8s.V1VolumeMount[] = [{ name: TMP_VOLUME.name, mountPath: "/tmp" }];
  const byClaim = new Map<string, string>();
  for (const c of claims) {
    let name = byClaim.get(c.claimName);
    if (!name) {
      name = `claim-${byClaim.size}`;
      byClaim.set(c.claimName, name);
      volumes.push({ name, persistentVolumeClaim: { claimName: c.claimName } });
    }
    volumeMounts.push({ name, mountPath: c.mountPath });
  }
  return { volumes, volumeMounts };
}
