import type { BackupVault, RecoveryPoint } from "../api/generated/types.js";
import { API_VERSION } from "../api/common.js";
import { isoSeconds } from "../util/time.js";
import type { ReconcileContext, ReconcileResult, Reconciler, WarmUpContext } from "../runtime/controller.js";
import { isConflict, type WithKind } from "../runtime/kube.js";
import { describe } from "../runtime/errors.js";
import type { OperatorMetrics } from "../telemetry/metrics.js";
import { formatBytes, formatRatio } from "../util/quantity.js";
import { excludedDisksOf } from "../worker/labels.js";
import { checkLockConfig, IndexTotalsCache, isStale, listLocks, lockExpiry, openVault, reasonOf, vaultStats, type PointHeader, type Vault } from "../vault/index.js";
import { holdWhileInUse, IN_USE_FINALIZER } from "./in-use-protection.js";
import { problemCondition } from "./references.js";
import { lockOf, openBackupVault, vaultSpecOf } from "./vault-access.js";
import { advanceVaultCheck } from "./vault-checks.js";

/** How often a Ready vault is looked at again: the backend cannot be watched. */
const SYNC_INTERVAL_MS = 60_000;

/** Labels the sync puts on RecoveryPoints. */
export const VAULT_LABEL = "lifeboat.io/vault";
export const POINT_ID_LABEL = "lifeboat.io/point-id";

function dnsLabel(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || "vm";
}

/** The RecoveryPoint name of a vault point: stable, so a deleted object comes back under the same name. */
export function recoveryPointName(point: PointHeader): string {
  return `${dnsLabel(point.labels.vm ?? "point")}-${dnsLabel(point.id)}`;
}

/** The RecoveryPoint a vault point is mirrored as. */
export function recoveryPointFor(vault: BackupVault, point: PointHeader): RecoveryPoint {
  const l = point.labels;
  const disks = point.disks.map((d) => {
    const key = Number.parseInt(d.key, 10);
    return { key: Number.isNaN(key) ? 0 : key, capacityBytes: d.size, ...(l[`disk.${d.key}.label`] ? { label: l[`disk.${d.key}.label`] } : {}), ...(l[`disk.${d.key}.file`] ? { fileName: l[`disk.${d.key}.file`] } : {}) };
  });
  const excludedDisks = excludedDisksOf(l).map((d) => ({
    key: Number.parseInt(d.key, 10) || 0,
    reason: d.reason,
    ...(d.label ? { label: d.label } : {}),
    ...(d.fileName ? { fileName: d.fileName } : {}),
    ...(d.capacityBytes !== undefined ? { capacityBytes: d.capacityBytes } : {}),
  }));
  return {
    apiVersion: API_VERSION,
    kind: "RecoveryPoint",
    metadata: {
      name: recoveryPointName(point),
      namespace: vault.metadata.namespace,
      labels: {
        [VAULT_LABEL]: vault.metadata.name ?? "",
        [POINT_ID_LABEL]: dnsLabel(point.id),
        ...(l.plan ? { "lifeboat.io/plan": dnsLabel(l.plan) } : {}),
        ...(l.protectedServer ? { "lifeboat.io/protected-server": dnsLabel(l.protectedServer) } : {}),
        ...(l.consistencyGroup && l.groupTick ? { "lifeboat.io/consistency-group": dnsLabel(l.consistencyGroup), "lifeboat.io/group-tick": dnsLabel(l.groupTick) } : {}),
      },
      // Owned (not controlled) by the vault, so deleting the BackupVault removes these mirrors from the cluster.
      ownerReferences: [{ apiVersion: API_VERSION, kind: "BackupVault", name: vault.metadata.name ?? "", uid: vault.metadata.uid ?? "", controller: false, blockOwnerDeletion: false }],
    },
    spec: {
      vaultRef: { name: vault.metadata.name ?? "" },
      pointID: point.id,
      ...(l.plan ? { planRef: { name: l.plan } } : {}),
      ...(l.protectedServer ? { protectedServerRef: { name: l.protectedServer }, replicationDirection: l.direction === "reverse" ? "Reverse" : "Forward" } : {}),
      vm: {
        name: l.vm ?? "unknown",
        ...(l.vmInstanceUUID ? { instanceUUID: l.vmInstanceUUID } : {}),
        ...(l.vmMoRef ? { moRef: l.vmMoRef } : {}),
        ...(l.vCenterInstanceUUID ? { vCenterInstanceUUID: l.vCenterInstanceUUID } : {}),
        ...(l.guestOS ? { guestOS: l.guestOS } : {}),
        ...(l.numCPUs ? { numCPUs: Number(l.numCPUs) } : {}),
        ...(l.memoryMiB ? { memoryMiB: Number(l.memoryMiB) } : {}),
      },
      time: isoSeconds(point.time),
      consistency: point.consistency === "app" ? "Application" : "Crash",
      disks,
      ...(excludedDisks.length > 0 ? { excludedDisks } : {}),
      ...(l.networks ? { networks: l.networks.split(",").filter(Boolean) } : {}),
      ...(point.parent ? { parentPointID: point.parent } : {}),
      ...(point.retainUntil ? { retainUntil: isoSeconds(point.retainUntil) } : {}),
    },
  };
}

/**
 * Makes a BackupVault Ready only when its backend answers, the repository
 * opens with the key from its Secret (and is created when empty, if
 * spec.initialize), and its lock matches the spec (on S3: the bucket has
 * Object Lock). Reports stored, logical and allocated bytes (each also
 * human-readable, for printer columns), the dedup and compression ratios and
 * the point count, and syncs RecoveryPoints from the vault, the source of truth: a
 * point missing from the cluster is created, one gone from the vault is
 * removed (from the cluster only; deleting a BackupVault deletes no data).
 */
export class BackupVaultReconciler implements Reconciler<BackupVault> {
  readonly kind = "BackupVault";
  readonly readyCondition = "Ready";
  readonly finalizer = IN_USE_FINALIZER;
  /**
   * Per BackupVault (namespace/name): what its index objects say about
   * compression, so the sync every minute reads only new index objects. Lost
   * on restart, which only costs one full read of the index.
   */
  private readonly indexTotals = new Map<string, IndexTotalsCache>();

  private indexTotalsOf(bv: BackupVault): IndexTotalsCache {
    const key = `${bv.metadata.namespace ?? ""}/${bv.metadata.name ?? ""}`;
    let cache = this.indexTotals.get(key);
    if (!cache) this.indexTotals.set(key, (cache = new IndexTotalsCache()));
    return cache;
  }

  /**
   * Unlocks each vault once before leading: scrypt (150 ms and 32 MiB per
   * vault, one at a time) unwraps its keys, which the process remembers, so
   * the first reconciles of BackupVaults, RecoveryPoints and replication
   * only read. Opening reads the config and key slots; it writes nothing, and
   * a vault that does not open is left for the reconcile to report.
   */
  async warmUp(vaults: readonly BackupVault[], ctx: WarmUpContext): Promise<void> {
    let unlocked = 0;
    for (const bv of vaults) {
      const log = ctx.log.child({ kind: this.kind, namespace: bv.metadata.namespace, name: bv.metadata.name });
      const spec = await vaultSpecOf(ctx.kube, bv);
      if (!spec.ok) {
        log.debug({ reason: spec.problem.reason }, "Not unlocking the vault before leading");
        continue;
      }
      try {
        await (await openVault(spec.value)).close();
        unlocked++;
      } catch (err) {
        log.debug({ reason: reasonOf(err), err }, "Not unlocking the vault before leading");
      }
    }
    ctx.log.info({ unlocked, vaults: vaults.length }, "Unlocked the vaults' keys before leading");
  }

  async reconcile(bv: WithKind<BackupVault>, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    // Checks are maintenance Jobs: followed and started whatever the operator's own view of the vault.
    const checkWake = await advanceVaultCheck(bv, ctx);
    const result = await this.sync(bv, ctx);
    if (checkWake === undefined) return result;
    return { requeueAfterMs: Math.min(result?.requeueAfterMs ?? checkWake, checkWake) };
  }

  /** Opens the vault, reports its figures and locks, and syncs its RecoveryPoints. */
  private async sync(bv: BackupVault, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const spec = await vaultSpecOf(ctx.kube, bv);
    if (!spec.ok) {
      ctx.setCondition(bv, problemCondition("Ready", spec.problem));
      return undefined;
    }
    let vault: Vault;
    let created: boolean;
    try {
      ({ vault, created } = await openBackupVault(spec.value, bv));
    } catch (err) {
      const reason = reasonOf(err) ?? "OpenFailed";
      ctx.setCondition(bv, { type: "Ready", status: "False", reason, message: messageFor(reason, describe(err)) });
      // Its locks cannot be read now: none is reported rather than the last ones seen.
      ctx.metrics.setVaultLocks(bv.metadata.namespace ?? "", bv.metadata.name ?? "", []);
      return { requeueAfterMs: SYNC_INTERVAL_MS };
    }
    try {
      if (created) await ctx.events.record(bv, "Normal", "Initialized", `created a new repository (${vault.config.repositoryId})`);
      const lockProblems = await checkLockConfig(vault, lockOf(bv));
      const stats = await vaultStats(vault, this.indexTotalsOf(bv));
      if (stats.unreadableIndexObjects.length > 0) {
        ctx.log.warn({ objects: stats.unreadableIndexObjects }, "Index objects could not be decoded; the compression ratio leaves them out (run `lifeboat vault check`)");
      }
      const status = (bv.status ??= {});
      status.repositoryID = stats.repositoryId;
      status.formatVersion = stats.formatVersion;
      // Each byte count beside its human-readable form, written together so they never disagree.
      status.storedBytes = stats.storedBytes;
      status.stored = formatBytes(stats.storedBytes);
      status.logicalBytes = stats.logicalBytes;
      status.logical = formatBytes(stats.logicalBytes);
      status.allocatedBytes = stats.allocatedBytes;
      status.allocated = formatBytes(stats.allocatedBytes);
      status.dedupRatio = formatRatio(stats.dedupRatio);
      status.compressionRatio = formatRatio(stats.compressionRatio);
      status.recoveryPointCount = stats.pointCount;
      const labels = { namespace: bv.metadata.namespace ?? "", vault: bv.metadata.name ?? "" };
      ctx.metrics.vaultStoredBytes.set(labels, stats.storedBytes);
      ctx.metrics.vaultLogicalBytes.set(labels, stats.logicalBytes);
      ctx.metrics.vaultAllocatedBytes.set(labels, stats.allocatedBytes);
      ctx.metrics.vaultDedupRatio.set(labels, stats.dedupRatio);
      ctx.metrics.vaultCompressionRatio.set(labels, stats.compressionRatio);
      ctx.metrics.vaultRecoveryPoints.set(labels, stats.pointCount);
      const now = Date.now();
      const live = (await listLocks(vault.backend)).filter((l) => !isStale(l, now));
      ctx.metrics.setVaultLocks(labels.namespace, labels.vault, live.map((l) => ({ id: l.id, purpose: l.purpose, host: l.host, expiresAt: lockExpiry(l) })));
      const [lockProblem] = lockProblems;
      if (lockProblem) {
        ctx.setCondition(bv, { type: "Ready", status: "False", reason: lockProblem.reason, message: lockProblems.map((p) => p.message).join("; ") });
        return { requeueAfterMs: SYNC_INTERVAL_MS };
      }
      await this.syncRecoveryPoints(bv, stats.points, ctx);
      status.lastSyncTime = isoSeconds(new Date());
      ctx.setCondition(bv, {
        type: "Ready",
        status: "True",
        reason: "Available",
        // No counts here (status.recoveryPointCount has them): a condition that changes with every new point
        // would wake every object that refers to the vault, each time one is added.
        message: `repository ${stats.repositoryId} opened with the key${bv.spec.lock?.enabled ? `; lock ${bv.spec.lock.mode ?? "Governance"} ${bv.spec.lock.retentionDays ?? 0} days in force` : ""}`,
      });
      return { requeueAfterMs: SYNC_INTERVAL_MS };
    } finally {
      await vault.close();
    }
  }

  /**
   * Makes the cluster's RecoveryPoints of this vault match its points. The
   * cluster's side is read from the operator's cache, not listed from the API
   * server: this runs every minute, and a list would move every point of the
   * namespace each time. A point the cache has not seen yet is created again
   * (AlreadyExists, harmless); one it still holds after its deletion is
   * deleted again (NotFound, ignored).
   */
  private async syncRecoveryPoints(bv: BackupVault, points: readonly PointHeader[], ctx: ReconcileContext): Promise<void> {
    const ns = bv.metadata.namespace ?? "";
    const existing = ctx.listCached<WithKind<RecoveryPoint>>("RecoveryPoint", ns).filter((rp) => rp.spec.vaultRef?.name === bv.metadata.name);
    const byId = new Map(existing.map((rp) => [rp.spec.pointID, rp]));
    const inVault = new Set(points.map((p) => p.id));
    for (const point of points) {
      if (byId.has(point.id)) continue;
      const rp = recoveryPointFor(bv, point);
      try {
        await ctx.kube.create("RecoveryPoint", rp);
        ctx.log.info({ recoveryPoint: rp.metadata.name, pointID: point.id }, "Synced recovery point from the vault");
      } catch (err) {
        if (isConflict(err)) continue; // made meanwhile, or by the last sync before the cache saw it
        ctx.log.warn({ recoveryPoint: rp.metadata.name, err: describe(err) }, "Could not create recovery point");
      }
    }
    for (const rp of existing) {
      // Only objects the sync made are removed; a hand-written RecoveryPoint stays and reports NotInVault.
      if (inVault.has(rp.spec.pointID) || rp.metadata.labels?.[VAULT_LABEL] !== bv.metadata.name) continue;
      await ctx.kube.delete("RecoveryPoint", ns, rp.metadata.name ?? "");
      ctx.log.info({ recoveryPoint: rp.metadata.name }, "Removed recovery point no longer in the vault");
    }
  }

  finalize(bv: BackupVault, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    return holdWhileInUse(bv, ctx, "Ready");
  }

  /** Whether the vault is Ready, for the vault-not-Ready alert. */
  recordMetrics(bv: BackupVault, metrics: OperatorMetrics): void {
    const ready = bv.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
    metrics.vaultReady.set({ namespace: bv.metadata.namespace ?? "", vault: bv.metadata.name ?? "" }, ready ? 1 : 0);
  }

  forgetMetrics(namespace: string, name: string, metrics: OperatorMetrics): void {
    // The vault is gone: so is the reason to remember its index.
    this.indexTotals.delete(`${namespace}/${name}`);
    const labels = { namespace, vault: name };
    for (const gauge of [metrics.vaultReady, metrics.vaultStoredBytes, metrics.vaultLogicalBytes, metrics.vaultAllocatedBytes, metrics.vaultDedupRatio, metrics.vaultCompressionRatio, metrics.vaultRecoveryPoints]) gauge.remove(labels);
    metrics.setVaultLocks(namespace, name, []);
  }
}

function messageFor(reason: string, detail: string): string {
  switch (reason) {
    case "WrongKey":
      return `the key in spec.encryption.keySecretRef does not open this repository; restore the original key: ${detail}`;
    case "NotInitialized":
      return `no repository at the backend and spec.initialize is false: ${detail}`;
    case "BackendUnreachable":
      return `the backend did not answer; check the endpoint, network and TLS settings: ${detail}`;
    case "AccessDenied":
      return `the backend refused the credentials in spec.backend.s3.credentialsSecretRef: ${detail}`;
    case "BucketNotFound":
      return `spec.backend.s3.bucket does not exist; create it (with Object Lock for a locked vault): ${detail}`;
    default:
      return detail;
  }
}
