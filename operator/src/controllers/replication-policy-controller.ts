import type { ProtectedServer, ReplicationPolicy } from "../api/generated/types.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import { holdWhileInUse, IN_USE_FINALIZER } from "./in-use-protection.js";
import { isTimeZone } from "./weekly-window.js";

/**
 * A ReplicationPolicy (seed 003): settings its servers read at each of their
 * reconciles (replication-settings.ts), so there is nothing to drive here.
 * The reconciler counts the servers that name the policy, so that
 * `kubectl get rpol` shows what an edit reaches, and keeps the policy while
 * any of them does (in-use protection): deleting it would leave them without
 * a schedule. The API server has checked its rules already; what it
 * cannot check, a time zone's name, is checked here, so the policy says what
 * to fix before each of its servers reports it (IgnoredFields).
 */
export class ReplicationPolicyReconciler implements Reconciler<ReplicationPolicy> {
  readonly kind = "ReplicationPolicy";
  readonly readyCondition = "Ready";
  readonly finalizer = IN_USE_FINALIZER;

  reconcile(policy: ReplicationPolicy, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    countServers(policy, ctx);
    const timeZone = policy.spec.businessHours ? (policy.spec.businessHours.timeZone ?? "UTC") : undefined;
    if (timeZone !== undefined && !isTimeZone(timeZone)) {
      ctx.setCondition(policy, {
        type: "Ready",
        status: "False",
        reason: "InvalidTimeZone",
        message: `spec.businessHours.timeZone "${timeZone}" is not an IANA time zone such as Asia/Tokyo or UTC: its servers' resyncs run when found needed, not after business hours`,
      });
      return Promise.resolve(undefined);
    }
    // One message whatever the count: a change of this condition reconciles every server that names the policy.
    ctx.setCondition(policy, { type: "Ready", status: "True", reason: "Valid", message: "the settings apply to every ProtectedServer that names this policy (status.protectedServers counts them)" });
    return Promise.resolve(undefined);
  }

  finalize(policy: ReplicationPolicy, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    countServers(policy, ctx);
    return holdWhileInUse(policy, ctx, "Ready");
  }
}

/** status.protectedServers: the servers that name the policy, from the cache (a server's change of reference reconciles the policy). */
function countServers(policy: ReplicationPolicy, ctx: ReconcileContext): void {
  const name = policy.metadata.name ?? "";
  // As in-use protection counts them: a server being deleted no longer holds the policy.
  const users = ctx.listCached("ProtectedServer", policy.metadata.namespace ?? "").filter((p) => !p.metadata.deletionTimestamp && (p.spec as ProtectedServer["spec"]).replicationPolicyRef?.name === name);
  (policy.status ??= {}).protectedServers = users.length;
}
