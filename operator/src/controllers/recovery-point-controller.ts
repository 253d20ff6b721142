import type { BackupVault, ProtectedServer, RecoveryPoint, SitePair } from "../api/generated/types.js";
import { cloudSites } from "./cloud-sites.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import type { WithKind } from "../runtime/kube.js";
import { describe } from "../runtime/errors.js";
import { formatBytes } from "../util/quantity.js";
import { openVault, reasonOf } from "../vault/index.js";
import { problemCondition, resolveRef } from "./references.js";
import { vaultSpecOf } from "./vault-access.js";

/**
 * A RecoveryPoint is Available when its vault is Ready and the point is in
 * the vault; its size comes from the point's manifest (bytes, and the same
 * human-readable for the Size column). A RecoveryPoint whose
 * point the vault does not hold says so (NotInVault) rather than pretending.
 */
export class RecoveryPointReconciler implements Reconciler<RecoveryPoint> {
  readonly kind = "RecoveryPoint";
  readonly readyCondition = "Available";

  async reconcile(rp: RecoveryPoint, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = rp.metadata.namespace ?? "";
    if (!rp.spec.vaultRef) return this.reconcileCloud(rp, ctx);
    const vaultName = rp.spec.vaultRef.name;
    const bv = await resolveRef<WithKind<BackupVault>>(ctx.cache, "BackupVault", ns, "spec.vaultRef", vaultName, "Ready");
    if (!bv.ok) {
      ctx.setCondition(rp, problemCondition("Available", bv.problem));
      return undefined;
    }
    const spec = await vaultSpecOf(ctx.kube, bv.value);
    if (!spec.ok) {
      ctx.setCondition(rp, problemCondition("Available", spec.problem));
      return undefined;
    }
    const vault = await openVault(spec.value);
    try {
      const point = await vault.getPoint(rp.spec.pointID);
      const status = (rp.status ??= {});
      status.sizeBytes = point.disks.reduce((n, d) => n + d.size, 0);
      status.size = formatBytes(status.sizeBytes);
      status.newBytes = point.storedBytes;
      status.new = formatBytes(status.newBytes);
      status.readBytes = point.disks.reduce((n, d) => n + d.readBytes, 0);
      ctx.setCondition(rp, { type: "Available", status: "True", reason: "InVault", message: `point ${point.id} is in vault ${vaultName}` });
    } catch (err) {
      if (reasonOf(err) !== "NotFound") throw new Error(`Could not read point ${rp.spec.pointID}`, { cause: err });
      ctx.setCondition(rp, { type: "Available", status: "False", reason: "NotInVault", message: `vault ${vaultName} holds no point ${rp.spec.pointID}: ${describe(err)}` });
    } finally {
      await vault.close();
    }
    return undefined;
  }

  /**
   * A point of cloud snapshots (CrossZone, CrossRegion) is Available when
   * ECS lists every one of its snapshots as accomplished, read with its
   * server's SitePair credentials.
   */
  private async reconcileCloud(rp: RecoveryPoint, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = rp.metadata.namespace ?? "";
    const cloud = rp.spec.cloudSnapshots;
    if (!cloud) return undefined;
    const ps = await resolveRef<WithKind<ProtectedServer>>(ctx.cache, "ProtectedServer", ns, "spec.protectedServerRef", rp.spec.protectedServerRef?.name ?? "");
    if (!ps.ok) return this.unknown(rp, ctx, ps.problem.reason, ps.problem.message);
    const pair = await resolveRef<WithKind<SitePair>>(ctx.cache, "SitePair", ns, "ProtectedServer spec.sitePairRef", ps.value.spec.sitePairRef.name);
    if (!pair.ok) return this.unknown(rp, ctx, pair.problem.reason, pair.problem.message);
    const sites = await cloudSites(ctx.kube, pair.value);
    if (!sites.ok) return this.unknown(rp, ctx, sites.problem.reason, sites.problem.message);
    const ids = cloud.snapshots.map((s) => s.snapshotId);
    let found;
    try {
      found = await sites.value.ecs.snapshotsById(cloud.region, ids);
    } catch (err) {
      return this.unknown(rp, ctx, "CloudUnreachable", `could not list the snapshots in ${cloud.region}: ${describe(err)}`);
    }
    const status = (rp.status ??= {});
    status.sizeBytes = cloud.snapshots.reduce((n, s) => n + (s.sizeGiB ?? 0) * 1024 ** 3, 0);
    status.size = formatBytes(status.sizeBytes);
    const missing = ids.filter((id) => !found.some((s) => s.snapshotId === id && s.status === "accomplished"));
    ctx.setCondition(rp, missing.length === 0
      ? { type: "Available", status: "True", reason: "SnapshotsAccomplished", message: `ECS lists its ${ids.length} snapshot(s) in ${cloud.region} as accomplished` }
      : { type: "Available", status: "False", reason: "SnapshotsMissing", message: `ECS does not list as accomplished in ${cloud.region}: ${missing.join(", ")}` });
    return { requeueAfterMs: 10 * 60_000 };
  }

  private unknown(rp: RecoveryPoint, ctx: ReconcileContext, reason: string, message: string): ReconcileResult {
    ctx.setCondition(rp, { type: "Available", status: "Unknown", reason, message });
    return { requeueAfterMs: 60_000 };
  }
}
