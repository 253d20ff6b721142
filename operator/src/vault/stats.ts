/**
 * Vault statistics for BackupVault.status and `lifeboat vault stats`.
 */
import { paths } from "./format.js";
import type { Vault } from "./vault.js";

export interface VaultStats {
  /** Bytes in storage: packs, index, manifests, keys and config. */
  readonly storedBytes: number;
  /** Bytes of pack data alone. */
  readonly packBytes: number;
  /** Sum of the disk sizes of all points: what restoring every point would write. */
  readonly logicalBytes: number;
  /** Sum of the non-hole bytes of all points. */
  readonly allocatedBytes: number;
  /** logicalBytes / storedBytes (0 when empty). */
  readonly dedupRatio: number;
  readonly pointCount: number;
  readonly packCount: number;
  readonly repositoryId: string;
  readonly formatVersion: number;
}

/** Computes statistics from listings and point headers (no block data is read). */
export async function stats(vault: Vault): Promise<VaultStats> {
  const [packs, others, points] = await Promise.all([
    vault.backend.list(paths.packsPrefix),
    Promise.all([paths.indexPrefix, paths.manifestsPrefix, paths.keysPrefix].map((p) => vault.backend.list(p))),
    vault.listPoints(),
  ]);
  const packBytes = packs.reduce((s, o) => s + o.size, 0);
  const storedBytes = packBytes + others.flat().reduce((s, o) => s + o.size, 0);
  let logicalBytes = 0;
  let allocatedBytes = 0;
  for (const p of points) {
    for (const d of p.disks) {
      logicalBytes += d.size;
      allocatedBytes += d.allocatedBytes;
    }
  }
  return {
    storedBytes,
    packBytes,
    logicalBytes,
    allocatedBytes,
    dedupRatio: storedBytes > 0 ? logicalBytes / storedBytes : 0,
    pointCount: points.length,
    packCount: packs.length,
    repositoryId: vault.config.repositoryId,
    formatVersion: vault.config.formatVersion,
  };
}
