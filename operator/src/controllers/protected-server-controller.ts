import type { ProtectedServer, SitePair } from "../api/generated/types.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import type { WithKind } from "../runtime/kube.js";
import { problemCondition, resolveRef } from "./references.js";

/**
 * Checks a ProtectedServer (seed 004 step 2): its SitePair is Ready and the
 * source is a vSphere VM for a vSphere source site (or an instance id for a
 * cloud one). While checks fail the stage is Initializing; once they pass it
 * is Initialized, the stage from which replication starts.
 */
export class ProtectedServerReconciler implements Reconciler<ProtectedServer> {
  readonly kind = "ProtectedServer";
  readonly readyCondition = "Ready";

  async reconcile(ps: ProtectedServer, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = ps.metadata.namespace ?? "";
    const status = (ps.status ??= {});
    const pair = await resolveRef<WithKind<SitePair>>(ctx.kube, "SitePair", ns, "spec.sitePairRef", ps.spec.sitePairRef.name, "Ready");
    if (!pair.ok) {
      status.stage = "Initializing";
      ctx.setCondition(ps, problemCondition("Ready", pair.problem));
      return undefined;
    }
    const vSphereSource = pair.value.spec.source.vCenterRef !== undefined;
    if (vSphereSource && !ps.spec.source.vmName) {
      status.stage = "Initializing";
      ctx.setCondition(ps, { type: "Ready", status: "False", reason: "SourceMismatch", message: `spec.source.vmName is required: SitePair ${pair.value.metadata.name ?? ""} has a vSphere source site` });
      return undefined;
    }
    if (!vSphereSource && !ps.spec.source.instanceId) {
      status.stage = "Initializing";
      ctx.setCondition(ps, { type: "Ready", status: "False", reason: "SourceMismatch", message: `spec.source.instanceId is required: SitePair ${pair.value.metadata.name ?? ""} has a cloud source site` });
      return undefined;
    }
    status.stage = "Initialized";
    ctx.setCondition(ps, {
      type: "Ready",
      status: "True",
      reason: "Initialized",
      message: `SitePair ${pair.value.metadata.name ?? ""} is Ready; this version of Lifeboat does not replicate yet`,
    });
    return undefined;
  }
}
