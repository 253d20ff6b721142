/**
 * What the vSphere drill (recovery-drill-controller.ts) and the cloud drills
 * (cloud-drill.ts) share: the conditions a RecoveryDrill reports on its way,
 * and its finalizer.
 */
import type { RecoveryDrill } from "../api/generated/types.js";
import type { ReconcileContext, ReconcileResult } from "../runtime/controller.js";
import { problemCondition } from "./references.js";

/** Held on a RecoveryDrill until every object the drill created is gone. */
export const DRILL_FINALIZER = "lifeboat.io/drill-cleanup";

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

