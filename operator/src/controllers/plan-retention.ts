/**
 * A BackupPlan's retention, applied after each run: the operator judges the
 * plan's points by its retention policy (a pure function of the point list)
 * and hands the points to forget, and the prune after, to a maintenance Job
 * (maintenance-jobs.ts), whose followRetentionPass records its end.
 */
import type { BackupPlan } from "../api/generated/types.js";
import type { ReconcileContext } from "../runtime/controller.js";
import { applyRetention, parseDuration, type RetentionPolicy } from "../vault/index.js";
import type { RunContext } from "./backup-runs.js";
import { beginRetentionPass } from "./maintenance-jobs.js";
import { withVault } from "./dr-points.js";

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
  await beginRetentionPass(plan, runId, { vault: rc.vault, gateway: rc.gateway, forget: drop, prune: true }, ctx);
}
