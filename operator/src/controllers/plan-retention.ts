/**
 * A BackupPlan's retention, applied after each run: the operator judges the
 * plan's points by its retention policy (a pure function of the point list)
 * and hands the points to forget, and the prune after, to a maintenance Job
 * (maintenance-jobs.ts). status.retention follows the pass; its end is an
 * event, and the vault is asked to sync its RecoveryPoints.
 */
import type { BackupPlan, BackupPlanStatus } from "../api/generated/types.js";
import type { ReconcileContext } from "../runtime/controller.js";
import type { WithKind } from "../runtime/kube.js";
import { isoSeconds } from "../util/time.js";
import { applyRetention, parseDuration, type RetentionPolicy } from "../vault/index.js";
import { requestVaultSync, type RunContext } from "./backup-runs.js";
import { describeMaintenance, maintenanceJobName, pruneMaintenanceHistory, readMaintenanceJob, startMaintenanceJob } from "./maintenance-jobs.js";
import { withVault } from "./dr-points.js";

type RetentionStatus = NonNullable<BackupPlanStatus["retention"]>;

/** The plan's retention as the vault engine's policy. */
export function retentionPolicy(plan: BackupPlan): RetentionPolicy {
  const r = plan.spec.retention;
  const maxAge = r.maxAge ? parseDuration(r.maxAge) : undefined;
  return { keepLast: r.keepLast, keepDaily: r.daily, keepWeekly: r.weekly, keepMonthly: r.monthly, keepYearly: r.yearly, maxAgeMs: maxAge, groupBy: ["namespace", "plan", "vm"] };
}

/**
 * Starts the retention pass of a finished run: a maintenance Job that
 * forgets this plan's points its policy does not keep (never a locked one,
 * never another plan's) and then prunes. Nothing to forget starts nothing.
 * A pass still running from an earlier run is left to finish; this run's
 * points are judged at the next run's end.
 */
export async function startRetentionPass(rc: RunContext, runId: string, ctx: ReconcileContext): Promise<void> {
  const { plan } = rc;
  const status = (plan.status ??= {});
  if (status.retention?.phase === "Running") {
    ctx.log.info({ job: status.retention.job }, "A retention pass is still running; this run's points are judged at the next run's end");
    return;
  }
  const ns = plan.metadata.namespace ?? "";
  const drop = await withVault(ctx.kube, rc.vault, async (vault) => {
    const mine = (await vault.listPoints()).filter((p) => p.labels.plan === plan.metadata.name && p.labels.namespace === ns);
    return applyRetention(mine, retentionPolicy(plan)).filter((d) => !d.keep).map((d) => d.point.id);
  });
  if (drop.length === 0) return;
  const job = maintenanceJobName(plan, runId);
  await startMaintenanceJob(ctx.kube, { owner: plan, name: job, vault: rc.vault, gateway: rc.gateway, forget: drop, prune: true });
  status.retention = { job, run: runId, phase: "Running", startTime: isoSeconds(new Date()), message: `forgetting ${drop.length} recovery point(s), then pruning` };
  ctx.log.info({ job, forget: drop.length }, "Started a retention pass");
}

/**
 * Follows a running retention pass; records its end in status.retention and
 * as an event. Returns true while it runs. The operator may have restarted
 * since it began: the Job and its pod's termination message are the truth.
 */
export async function followRetentionPass(plan: WithKind<BackupPlan>, ctx: ReconcileContext): Promise<boolean> {
  const pass = plan.status?.retention;
  if (pass?.phase !== "Running" || !pass.job) return false;
  const outcome = await readMaintenanceJob(ctx.kube, plan.metadata.namespace ?? "", pass.job);
  if (outcome.state === "Running") return true;
  const ended: RetentionStatus = { job: pass.job, ...(pass.run ? { run: pass.run } : {}), ...(pass.startTime ? { startTime: pass.startTime } : {}), completionTime: isoSeconds(outcome.finishedAt), phase: outcome.state };
  if (outcome.state === "Succeeded") {
    const r = outcome.result;
    Object.assign(ended, { forgotten: r.forgotten, keptLocked: r.keptLocked, bytesFreed: r.prune?.bytesFreed ?? 0, message: describeMaintenance(r), ...(r.pruneDeferred ? { reason: "PruneDeferred" } : {}) });
    await ctx.events.record(plan, "Normal", "RetentionApplied", ended.message ?? "");
  } else {
    Object.assign(ended, { reason: outcome.reason, message: outcome.message });
    await ctx.events.record(plan, "Warning", "RetentionFailed", `retention pass ${pass.job} failed (${outcome.reason}): ${outcome.message}`);
  }
  (plan.status ??= {}).retention = ended;
  ctx.log.info({ job: pass.job, phase: ended.phase, message: ended.message }, "Retention pass ended");
  await requestVaultSync({ metadata: { namespace: plan.metadata.namespace ?? "", name: plan.spec.vaultRef.name } }, ctx);
  await pruneMaintenanceHistory(ctx.kube, plan);
  return false;
}
