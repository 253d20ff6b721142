import type { BackupVault } from "../api/generated/types.js";
import type { Kube } from "../runtime/kube.js";
import { openOrInitVault, openVault, parseSize, PointHeaderCache, type LockSettings, type Vault, type VaultSpec } from "../vault/index.js";
import { readSecretKeys, type Checked } from "./references.js";
import { operatorClaimMount } from "./vault-mounts.js";

/** The headers of the points of every vault this operator opens, read once each (PointHeaderCache). */
const POINT_HEADERS = new PointHeaderCache();

/** The lock a BackupVault's spec asks for, in the engine's terms. */
export function lockOf(vault: BackupVault): LockSettings {
  const l = vault.spec.lock;
  return l?.enabled ? { enabled: true, mode: l.mode ?? "Governance", retentionDays: l.retentionDays ?? 0 } : { enabled: false, mode: "Governance", retentionDays: 0 };
}

/**
 * Turns a BackupVault's spec and the Secrets it names into what the vault
 * engine opens. Problems (a missing Secret or key, a backend the operator
 * cannot reach) come back as condition reasons, never as thrown errors.
 * Every controller that opens a vault in the operator (BackupVault,
 * RecoveryPoint, retention, DR points) comes through here, so a claim-backed
 * vault resolves to the same mount everywhere (vault-mounts.ts).
 */
export async function vaultSpecOf(kube: Kube, vault: BackupVault): Promise<Checked<VaultSpec>> {
  const ns = vault.metadata.namespace ?? "";
  const key = await readSecretKeys(kube, ns, "spec.encryption.keySecretRef", vault.spec.encryption.keySecretRef, { key: "key" });
  if (!key.ok) return key;
  const backend = vault.spec.backend;
  const fs = backend.filesystem;
  if (fs?.persistentVolumeClaim || fs?.path) {
    const path = fs.persistentVolumeClaim ? await operatorClaimMount(ns, fs.persistentVolumeClaim.name) : { ok: true as const, value: fs.path ?? "" };
    if (!path.ok) return path;
    return { ok: true, value: { backend: { filesystem: { path: path.value } }, key: key.value.key ?? Buffer.alloc(0), threads: 0, pointHeaders: POINT_HEADERS } };
  }
  const s3 = backend.s3;
  if (!s3) return { ok: false, problem: { reason: "InvalidSpec", message: "spec.backend: set exactly one of filesystem or s3" } };
  const creds = await readSecretKeys(kube, ns, "spec.backend.s3.credentialsSecretRef", s3.credentialsSecretRef, { accessKeyIdKey: "accessKeyId", secretAccessKeyKey: "secretAccessKey" });
  if (!creds.ok) return creds;
  let caBundle: Buffer | undefined;
  if (s3.caSecretRef) {
    const ca = await readSecretKeys(kube, ns, "spec.backend.s3.caSecretRef", s3.caSecretRef, { key: "ca.crt" });
    if (!ca.ok) return ca;
    caBundle = ca.value.key;
  }
  return {
    ok: true,
    value: {
      backend: {
        s3: {
          endpoint: s3.endpoint,
          bucket: s3.bucket,
          region: s3.region,
          prefix: s3.prefix,
          forcePathStyle: s3.forcePathStyle,
          useHTTPS: s3.useHTTPS,
          storageClass: s3.storageClass,
          accessKeyId: creds.value.accessKeyIdKey?.toString("utf8") ?? "",
          secretAccessKey: creds.value.secretAccessKeyKey?.toString("utf8") ?? "",
          caBundle,
        },
      },
      key: key.value.key ?? Buffer.alloc(0),
      threads: 0,
      pointHeaders: POINT_HEADERS,
    },
  };
}

/** Opens the vault a BackupVault describes, creating it when empty and spec.initialize allows. */
export async function openBackupVault(spec: VaultSpec, vault: BackupVault): Promise<{ vault: Vault; created: boolean }> {
  if (vault.spec.initialize === false) return { vault: await openVault(spec), created: false };
  return openOrInitVault(spec, {
    blockSize: parseSize(vault.spec.blockSize ?? "1Mi"),
    compressionLevel: vault.spec.compressionLevel ?? 1,
    lock: lockOf(vault),
  });
}
