import type { ProtectedServer, ReplicationPolicy } from "../api/generated/types.js";
import { removeCondition } from "../runtime/conditions.js";
import type { ReconcileContext } from "../runtime/controller.js";
import type { WithKind } from "../runtime/kube.js";
import type { Problem } from "./references.js";

/** The condition of a server that names a ReplicationPolicy: whether its settings are the policy's now. */
export const REPLICATION_POLICY_CONDITION = "ReplicationPolicyApplied";

/**
 * Gives the server's reconcile the replication settings it runs with, in
 * its spec.replication, and records them in status.replicationSettings. For
 * a server that names a ReplicationPolicy (spec.replicationPolicyRef, which
 * the API server keeps apart from spec.replication) they are the policy's
 * spec. Done once, on the reconcile's own copy of the object (status is the
 * only part ever written back), so that every stage reads its settings where
 * it always did.
 *
 * A policy being deleted still counts: in-use protection keeps it while
 * servers name it, and a deletion that waits must not change their
 * replication. A policy that does not exist (a typo, or a server applied
 * before its policy) leaves the server on the settings it last recorded, so
 * that retention never judges its points by defaults it was not given.
 * Returns the problem only when there is nothing recorded to go on with.
 */
export async function applyReplicationSettings(ps: ProtectedServer, ctx: ReconcileContext): Promise<Problem | undefined> {
  const status = (ps.status ??= {});
  const ref = ps.spec.replicationPolicyRef;
  if (!ref) {
    status.replicationSettings = ps.spec.replication ?? {};
    delete status.replicationPolicy;
    removeCondition(status, REPLICATION_POLICY_CONDITION);
    return undefined;
  }
  const namespace = ps.metadata.namespace ?? "";
  const policy = await ctx.cache.get<WithKind<ReplicationPolicy>>("ReplicationPolicy", namespace, ref.name);
  if (policy) {
    ps.spec.replication = policy.spec;
    status.replicationSettings = policy.spec;
    status.replicationPolicy = { name: ref.name, ...(policy.metadata.generation !== undefined ? { generation: policy.metadata.generation } : {}) };
    ctx.setCondition(ps, { type: REPLICATION_POLICY_CONDITION, status: "True", reason: "Applied", message: `the settings of ReplicationPolicy ${ref.name}${policy.metadata.generation !== undefined ? ` (generation ${policy.metadata.generation})` : ""}` });
    return undefined;
  }
  const missing = `spec.replicationPolicyRef: ReplicationPolicy ${namespace}/${ref.name} does not exist; create it, or set spec.replication instead`;
  const recorded = status.replicationSettings;
  if (recorded) {
    ps.spec.replication = recorded;
    const from = status.replicationPolicy ? `ReplicationPolicy ${status.replicationPolicy.name}'s` : "its own spec.replication's";
    ctx.setCondition(ps, { type: REPLICATION_POLICY_CONDITION, status: "False", reason: "ReplicationPolicyNotFound", message: `${missing}. Meanwhile the server goes on with the settings it last applied, ${from} (status.replicationSettings)` });
    return undefined;
  }
  ctx.setCondition(ps, { type: REPLICATION_POLICY_CONDITION, status: "False", reason: "ReplicationPolicyNotFound", message: missing });
  return { reason: "ReplicationPolicyNotFound", message: missing };
}

/** Where a replication setting of the server is written, for messages: its spec.replication, or its policy's spec. */
export function replicationField(ps: ProtectedServer, field: string): string {
  const policy = ps.spec.replicationPolicyRef?.name;
  return policy ? `spec.${field} of ReplicationPolicy ${policy}` : `spec.replication.${field}`;
}
