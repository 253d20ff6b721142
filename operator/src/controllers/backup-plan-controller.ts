import { Cron } from "croner";
import type { BackupPlan } from "../api/generated/types.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import { firstProblem, problemCondition, resolveRef, type Problem } from "./references.js";

/** The next time a plan's schedule fires, or a problem naming what is wrong with it. */
export function nextScheduledRun(cron: string, timeZone: string, after: Date = new Date()): { ok: true; next: Date | undefined } | { ok: false; problem: Problem } {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone }).format(after);
  } catch {
    return { ok: false, problem: { reason: "InvalidTimeZone", message: `spec.schedule.timeZone: "${timeZone}" is not an IANA time zone such as Asia/Tokyo or UTC` } };
  }
  try {
    const next = new Cron(cron, { timezone: timeZone, paused: true }).nextRun(after) ?? undefined;
    return { ok: true, next };
  } catch (err) {
    return { ok: false, problem: { reason: "InvalidSchedule", message: `spec.schedule.cron: "${cron}" is not a valid cron expression (${err instanceof Error ? err.message : String(err)})` } };
  }
}

/**
 * Checks that a BackupPlan can run: its VCenter is Connected, its vault
 * Ready, its gateway Activated and its schedule valid; reports the next run
 * and wakes up at it. Ready says which of these is not so.
 */
export class BackupPlanReconciler implements Reconciler<BackupPlan> {
  readonly kind = "BackupPlan";
  readonly readyCondition = "Ready";

  async reconcile(plan: BackupPlan, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = plan.metadata.namespace ?? "";
    const status = (plan.status ??= {});
    let requeue: ReconcileResult | undefined;

    if (plan.spec.schedule && !plan.spec.paused) {
      const schedule = nextScheduledRun(plan.spec.schedule.cron, plan.spec.schedule.timeZone ?? "UTC");
      if (!schedule.ok) {
        delete status.nextRun;
        ctx.setCondition(plan, problemCondition("Ready", schedule.problem));
        return undefined;
      }
      if (schedule.next) {
        status.nextRun = schedule.next.toISOString().replace(/\.\d{3}Z$/, "Z");
        requeue = { requeueAfterMs: Math.max(1000, schedule.next.getTime() - Date.now()) };
      } else {
        delete status.nextRun;
      }
    } else {
      delete status.nextRun;
    }

    const checks = [
      await resolveRef(ctx.kube, "VCenter", ns, "spec.vCenterRef", plan.spec.vCenterRef.name, "Connected"),
      await resolveRef(ctx.kube, "BackupVault", ns, "spec.vaultRef", plan.spec.vaultRef.name, "Ready"),
      await resolveRef(ctx.kube, "Gateway", ns, "spec.gatewayRef", plan.spec.gatewayRef.name, "Activated"),
    ];
    const problem = firstProblem(checks);
    if (problem) {
      ctx.setCondition(plan, problemCondition("Ready", problem));
      return requeue;
    }
    ctx.setCondition(plan, {
      type: "Ready",
      status: "True",
      reason: plan.spec.paused ? "Paused" : plan.spec.schedule ? "Scheduled" : "OnRequest",
      message: plan.spec.paused
        ? "references resolve; the plan is paused and starts no scheduled runs"
        : plan.spec.schedule
          ? `vCenter Connected, vault Ready, gateway Activated; next run ${status.nextRun ?? "never"}`
          : "vCenter Connected, vault Ready, gateway Activated; runs only on request (spec.runRequest)",
    });
    return requeue;
  }
}
