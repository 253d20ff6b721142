/**
 * Where the operator finds a BackupVault that lives on a
 * PersistentVolumeClaim. Workers mount the claim themselves, in the vault's
 * namespace; the operator pod cannot mount claims from users' namespaces,
 * so the chart mounts the same storage (value `vaultVolumes`) at
 * <LIFEBOAT_VAULT_MOUNTS_DIR>/<namespace>/<claim name>. Until it does, the
 * BackupVault says so (ClaimNotMountedByOperator) instead of failing later.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { Checked } from "./references.js";

/** Overrides the directory under which the chart mounts claim-backed vaults. */
export const VAULT_MOUNTS_DIR_ENV = "LIFEBOAT_VAULT_MOUNTS_DIR";

/** The chart's mount directory for claim-backed vaults. */
export const DEFAULT_VAULT_MOUNTS_DIR = "/var/lib/lifeboat/vaults";

/** The path at which the operator expects the claim's storage. */
export function operatorClaimPath(namespace: string, claimName: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(env[VAULT_MOUNTS_DIR_ENV] || DEFAULT_VAULT_MOUNTS_DIR, namespace, claimName);
}

/** The operator's path of a claim-backed vault, or ClaimNotMountedByOperator naming the chart value to set when nothing is there. */
export async function operatorClaimMount(namespace: string, claimName: string, env: NodeJS.ProcessEnv = process.env): Promise<Checked<string>> {
  const path = operatorClaimPath(namespace, claimName, env);
  let isDir = false;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    isDir = false;
  }
  if (isDir) return { ok: true, value: path };
  return {
    ok: false,
    problem: {
      reason: "ClaimNotMountedByOperator",
      message:
        `spec.backend.filesystem.persistentVolumeClaim: the operator has nothing mounted at ${path}; ` +
        `add {namespace: ${namespace}, claimName: ${claimName}, volume: <a volume on the same storage>} to the Lifeboat chart's value vaultVolumes and upgrade the release`,
    },
  };
}
