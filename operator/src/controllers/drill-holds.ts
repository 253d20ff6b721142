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
import type { Problem } from "./references.js";
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
 * a new Secret has that one held, and the old one let go (the clean-up reads
 * the object's current Secrets). Returns a result to end the reconcile with
 * (the names were just recorded; or a Secret being deleted keeps a drill
 * that made nothing yet from making anything), or undefined to go on.
 */
export async function holdForCleanup(drill: RecoveryDrill, ctx: ReconcileContext, pending: (reason: string, message: string) => ReconcileResult): Promise<ReconcileResult | undefined> {
  const ns = drill.metadata.namespace ?? "";
  const status = (drill.status ??= {});
  const through = status.sitePair && status.region
    ? await ctx.cache.get<LifeboatObject>("SitePair", ns, status.sitePair)
    : status.vCenter ? await ctx.cache.get<LifeboatObject>("VCenter", ns, status.vCenter) : undefined;
  if (!through) return undefined;
  const current = secretNames(through.spec);
  if (recordHeldSecrets(drill, current)) return { requeueAfterMs: 200 };
  const deleting = await holdSecrets(ctx.kube, ns, current, drillSecretFinalizer(drill));
  const unused = (status.heldSecrets ?? []).filter((n) => !current.includes(n));
  if (deleting.length === 0 && unused.length > 0) {
    await releaseSecrets(ctx.kube, ns, unused, drillSecretFinalizer(drill));
    status.heldSecrets = (status.heldSecrets ?? []).filter((n) => current.includes(n));
  }
  if (deleting.length === 0) return undefined;
  const what = `Secret ${deleting.join(", ")} of ${through.kind} ${through.metadata.name ?? ""} is being deleted`;
  if (status.phase === "Creating" || status.phase === "Ready" || status.phase === "Failed") {
    await ctx.events.record(drill, "Warning", "SecretDeleting", `${what}: deleting this drill will need it to delete what the drill made`);
    return undefined;
  }
  return pending("SecretDeleting", `${what}: the drill's clean-up would need it, so nothing is made until it is replaced`);
}

/** Marks a drill whose clean-up is over, before its Secrets are let go: a retry after that (its finalizer's removal failed) does not need them again. */
export function markCleaned(drill: RecoveryDrill, ctx: ReconcileContext): void {
  ctx.setCondition(drill, { type: "Ready", status: "False", reason: "Cleaned", message: "the drill's clean-up is over; the Secrets it held are let go next" });
}

/** Whether markCleaned was written. */
export function isCleaned(drill: RecoveryDrill): boolean {
  return findCondition(drill.status?.conditions, "Ready")?.reason === "Cleaned";
}

/** How long a drill being deleted waits for credentials that are gone before it leaves what it made behind. */
export const CREDENTIALS_GRACE_MS = 10 * 60_000;

/**
 * Decides for a drill being deleted whose clean-up cannot read the
 * credentials of `through` (its VCenter or SitePair). Only a drill that
 * could not hold them gets here: one from before holds existed, or one
 * whose Secret was already being deleted. When the Secret is gone and
 * `through` is itself being deleted (its namespace is, most likely), the
 * drill gives the user CREDENTIALS_GRACE_MS from its deletion to create the
 * Secret again, then lets go without cleaning, rather than keep the
 * namespace forever: it says what is left in an event and in the operator's
 * log (a terminating namespace takes no new events). Returns undefined when
 * none of this applies (wait for the credentials as usual), else what the
 * clean-up is to return: when to look again, or undefined once it let go.
 */
export async function credentialsGone(drill: RecoveryDrill, ctx: ReconcileContext, through: LifeboatObject, problem: Problem, left: string): Promise<{ result: ReconcileResult | undefined } | undefined> {
  if (problem.reason !== "SecretNotFound" || !through.metadata.deletionTimestamp) return undefined;
  const since = Date.parse(String(drill.metadata.deletionTimestamp ?? ""));
  const leaveAt = (Number.isNaN(since) ? Date.now() : since) + CREDENTIALS_GRACE_MS;
  if (Date.now() < leaveAt) {
    const message = `${problem.message}; ${through.kind} ${through.metadata.name ?? ""} is being deleted too: unless the Secret is back by ${new Date(leaveAt).toISOString()}, the drill leaves ${left} behind`;
    ctx.setCondition(drill, { type: "Ready", status: "False", reason: "Cleaning", message });
    return { result: { requeueAfterMs: Math.min(60_000, Math.max(1_000, leaveAt - Date.now())) } };
  }
  const message = `could not delete ${left}: ${problem.message}, and ${through.kind} ${through.metadata.name ?? ""} is being deleted: delete it by hand`;
  ctx.log.warn({ left, why: problem.message }, "Left a drill's objects behind");
  await ctx.events.record(drill, "Warning", "CleanupSkipped", message);
  return { result: undefined };
}

/** Lets go of the Secrets the drill held, once its clean-up is done. */
export function releaseDrillSecrets(drill: RecoveryDrill, ctx: ReconcileContext): Promise<void> {
  return releaseSecrets(ctx.kube, drill.metadata.namespace ?? "", drill.status?.heldSecrets ?? [], drillSecretFinalizer(drill));
}
