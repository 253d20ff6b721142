/**
 * What the vSphere drill (recovery-drill-controller.ts) and the cloud drills
 * (cloud-drill.ts) share: the conditions a RecoveryDrill reports on its way,
 * its finalizer, and the Secrets it holds for its clean-up.
 */
import type { RecoveryDrill } from "../api/generated/types.js";
import type { ReconcileContext, ReconcileResult } from "../runtime/controller.js";
import { problemCondition, type Problem } from "./references.js";
import { holdSecrets, releaseSecrets } from "./secret-holds.js";
import { shortHash } from "../workloads/worker-job.js";

/** Held on a RecoveryDrill until every object the drill created is gone. */
export const DRILL_FINALIZER = "lifeboat.io/drill-cleanup";

/**
 * The finalizer a drill puts on each Secret its clean-up logs in with
 * (status.heldSecrets). One per drill, so drills sharing a Secret release it
 * independently.
 */
export function drillSecretFinalizer(drill: RecoveryDrill): string {
  return `lifeboat.io/drill-${shortHash(drill.metadata.uid ?? "")}`;
}

/** The drill failed for good: it says so, and that deleting it cleans up what it made. */
export async function drillFailed(drill: RecoveryDrill, ctx: ReconcileContext, reason: string, message: string): Promise<ReconcileResult | undefined> {
  (drill.status ??= {}).phase = "Failed";
  ctx.setCondition(drill, problemCondition("Ready", { reason, message: `${message}; delete the RecoveryDrill to clean up what it made` }));
  await ctx.events.record(drill, "Warning", "DrillFailed", message);
  return undefined;
}

/** A deleted drill still cleaning: what is left, and when to look again. */
export function drillCleaning(drill: RecoveryDrill, ctx: ReconcileContext, message: string, afterMs: number): ReconcileResult {
  ctx.setCondition(drill, { type: "Ready", status: "False", reason: "Cleaning", message });
  return { requeueAfterMs: afterMs };
}

/**
 * Adds `names` to status.heldSecrets; true when one was new. The drill writes
 * the names to status before it holds them, so a crash between the two
 * leaves a name with nothing to release, never a held Secret nobody releases.
 */
export function recordHeldSecrets(drill: RecoveryDrill, names: readonly string[]): boolean {
  const status = (drill.status ??= {});
  const fresh = [...new Set(names)].filter((n) => !(status.heldSecrets ?? []).includes(n));
  if (fresh.length === 0) return false;
  status.heldSecrets = [...(status.heldSecrets ?? []), ...fresh];
  return true;
}

/** Holds every Secret status.heldSecrets names; a problem when one is already being deleted (then nothing should be made). */
export function holdDrillSecrets(drill: RecoveryDrill, ctx: ReconcileContext): Promise<Problem | undefined> {
  return holdSecrets(ctx.kube, drill.metadata.namespace ?? "", drill.status?.heldSecrets ?? [], drillSecretFinalizer(drill));
}

/** Lets go of the Secrets the drill held, once its clean-up is done. */
export function releaseDrillSecrets(drill: RecoveryDrill, ctx: ReconcileContext): Promise<void> {
  return releaseSecrets(ctx.kube, drill.metadata.namespace ?? "", drill.status?.heldSecrets ?? [], drillSecretFinalizer(drill));
}
