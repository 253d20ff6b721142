/**
 * What a RecoveryDrill holds so that deleting everything at once (its
 * namespace, or a GitOps prune of the whole application) still deletes what
 * it made. The VCenter (or, for cloud sites, the SitePair) its clean-up goes
 * through is held by in-use protection (cleanupReferences in
 * reference-graph.ts); the Secrets that object logs in with are held here,
 * each with a finalizer of the drill's own.
 */
import type { RecoveryDrill } from "../api/generated/types.js";
import { findCondition } from "../runtime/conditions.js";
import type { ReconcileContext, ReconcileResult } from "../runtime/controller.js";
import type { LifeboatObject } from "../runtime/kube.js";
import { shortHash } from "../workloads/worker-job.js";
import { DRILL_FINALIZER } from "./drill-status.js";
import { holdSecrets, releaseSecrets, secretNames } from "./secret-holds.js";

/**
 * The finalizer a drill puts on each Secret its clean-up logs in with
 * (status.heldSecrets). One per drill, so drills sharing a Secret release it
 * independently.
 */
export function drillSecretFinalizer(drill: RecoveryDrill): string {
  return `lifeboat.io/drill-${shortHash(drill.metadata.uid ?? "")}`;
}

/** What to remove by hand to leave a drill's objects behind: its finalizer, and its finalizer on the Secrets it holds. */
export function finalizersToLeave(drill: RecoveryDrill): string {
  const held = drill.status?.heldSecrets ?? [];
  return `the finalizer ${DRILL_FINALIZER}${held.length > 0 ? `, and ${drillSecretFinalizer(drill)} from Secret ${held.join(", ")}` : ""}`;
}

/**
 * Adds `names` to status.heldSecrets; true when one was new. The names are
 * written to status before the Secrets are held, so a crash between the two
 * leaves a name with nothing to release, never a held Secret nobody releases.
 */
export function recordHeldSecrets(drill: RecoveryDrill, names: readonly string[]): boolean {
  const status = (drill.status ??= {});
  const fresh = [...new Set(names)].filter((n) => !(status.heldSecrets ?? []).includes(n));
  if (fresh.length === 0) return false;
  status.heldSecrets = [...(status.heldSecrets ?? []), ...fresh];
  return true;
}

/**
 * Holds the Secrets of the object the drill's clean-up goes through, once
 * the drill has recorded it; called on every reconcile, so a drill made
 * before holds existed starts holding, and a VCenter or SitePair pointed at
 * a new Secret has that one held too (the old one stays held until the drill
 * goes). Returns a result to end the reconcile with (the names were just
 * recorded; or a Secret being deleted keeps a drill that made nothing yet
 * from making anything), or undefined to go on.
 */
export async function holdForCleanup(drill: RecoveryDrill, ctx: ReconcileContext, pending: (reason: string, message: string) => ReconcileResult): Promise<ReconcileResult | undefined> {
  const ns = drill.metadata.namespace ?? "";
  const status = (drill.status ??= {});
  const through = status.sitePair && status.region
    ? await ctx.cache.get<LifeboatObject>("SitePair", ns, status.sitePair)
    : status.vCenter ? await ctx.cache.get<LifeboatObject>("VCenter", ns, status.vCenter) : undefined;
  if (!through) return undefined;
  if (recordHeldSecrets(drill, secretNames(through.spec))) return { requeueAfterMs: 200 };
  const deleting = await holdSecrets(ctx.kube, ns, status.heldSecrets ?? [], drillSecretFinalizer(drill));
  if (deleting.length === 0) return undefined;
  const what = `Secret ${deleting.join(", ")} of ${through.kind} ${through.metadata.name ?? ""} is being deleted`;
  if (status.phase === "Creating" || status.phase === "Ready" || status.phase === "Failed") {
    await ctx.events.record(drill, "Warning", "SecretDeleting", `${what}: deleting this drill will need it to delete what the drill made`);
    return undefined;
  }
  return pending("SecretDeleting", `${what}: the drill's clean-up would need it, so nothing is made until it is replaced`);
}

/** Marks a drill whose clean-up is done, before its Secrets are let go: a retry after that (its finalizer's removal failed) does not need them again. */
export function markCleaned(drill: RecoveryDrill, ctx: ReconcileContext): void {
  ctx.setCondition(drill, { type: "Ready", status: "False", reason: "Cleaned", message: "everything the drill made is deleted; the Secrets it held are let go next" });
}

/** Whether markCleaned was written. */
export function isCleaned(drill: RecoveryDrill): boolean {
  return findCondition(drill.status?.conditions, "Ready")?.reason === "Cleaned";
}

/**
 * Lets a drill go without cleaning, when the object its clean-up goes
 * through is being deleted and its credentials are gone: they cannot come
 * back, and waiting would keep the namespace (or that object) from ever
 * going. Only a drill that could not hold them gets here: one from before
 * holds existed, or one whose Secret was already being deleted. Says what is
 * left in an event and in the operator's log (a terminating namespace takes
 * no new events).
 */
export async function leaveBehind(drill: RecoveryDrill, ctx: ReconcileContext, left: string, why: string): Promise<undefined> {
  const message = `could not delete ${left}: ${why}; the object its clean-up goes through is being deleted, so the credentials cannot come back: delete it by hand`;
  ctx.log.warn({ left, why }, "Left a drill's objects behind");
  await ctx.events.record(drill, "Warning", "CleanupSkipped", message);
  return undefined;
}

/** Lets go of the Secrets the drill held, once its clean-up is done. */
export function releaseDrillSecrets(drill: RecoveryDrill, ctx: ReconcileContext): Promise<void> {
  return releaseSecrets(ctx.kube, drill.metadata.namespace ?? "", drill.status?.heldSecrets ?? [], drillSecretFinalizer(drill));
}
