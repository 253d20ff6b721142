import type { BackupVault, RecoveryPoint } from "../api/generated/types.js";
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
    const bv = await resolveRef<WithKind<BackupVault>>(ctx.kube, "BackupVault", ns, "spec.vaultRef", rp.spec.vaultRef.name, "Ready");
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
      ctx.setCondition(rp, { type: "Available", status: "True", reason: "InVault", message: `point ${point.id} is in vault ${rp.spec.vaultRef.name}` });
    } catch (err) {
      if (reasonOf(err) !== "NotFound") throw new Error(`Could not read point ${rp.spec.pointID}`, { cause: err });
      ctx.setCondition(rp, { type: "Available", status: "False", reason: "NotInVault", message: `vault ${rp.spec.vaultRef.name} holds no point ${rp.spec.pointID}: ${describe(err)}` });
    } finally {
      await vault.close();
    }
    return undefined;
  }
}
