import type { ReconcileContext, ReconcileResult } from "../runtime/controller.js";
import type { LifeboatObject } from "../runtime/kube.js";
import { cleanupReferences, protectingReferences } from "./reference-graph.js";

/** The finalizer that keeps an object while others still refer to it. */
export const IN_USE_FINALIZER = "lifeboat.io/in-use-protection";

/**
 * Finalizer step shared by every referenced kind: while any live object
 * still refers to this one, keep it (reporting who uses it on the given
 * condition) and look again later; the users' deletions also trigger a
 * reconcile through the reference graph. A user whose clean-up goes through
 * this object (cleanupReferences) holds it until that clean-up is done, even
 * while the user is being deleted. Deletes nothing outside the cluster.
 */
export async function holdWhileInUse(obj: LifeboatObject, ctx: ReconcileContext, conditionType: string): Promise<ReconcileResult | undefined> {
  const namespace = obj.metadata.namespace ?? "";
  const name = obj.metadata.name ?? "";
  const users: string[] = [];
  for (const ref of protectingReferences(obj.kind)) {
    for (const user of await ctx.kube.list(ref.from, namespace)) {
      if (user.metadata.deletionTimestamp) continue;
      if (ref.names(user.spec as never).includes(name)) users.push(`${ref.from}/${user.metadata.name ?? ""}`);
    }
  }
  for (const ref of cleanupReferences.filter((r) => r.to === obj.kind)) {
    for (const user of await ctx.kube.list(ref.from, namespace)) {
      if (!(user.metadata.finalizers ?? []).includes(ref.finalizer) || !ref.names(user.status as never).includes(name)) continue;
      users.push(`${ref.from}/${user.metadata.name ?? ""}${user.metadata.deletionTimestamp ? " (cleaning up what it made)" : ""}`);
    }
  }
  if (users.length === 0) return undefined;
  ctx.setCondition(obj, {
    type: conditionType,
    status: "False",
    reason: "InUse",
    message: `deletion waits until nothing uses this ${obj.kind}: still used by ${users.join(", ")}`,
  });
  return { requeueAfterMs: 30_000 };
}
