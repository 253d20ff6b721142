import { Cron } from "croner";
import type { BackupPlan, BackupVault, Gateway, VCenter } from "../api/generated/types.js";
import { isoSeconds, msUntilJustAfter, zonedFormatter } from "../util/time.js";
import type { OperatorMetrics } from "../telemetry/metrics.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import type { WithKind } from "../runtime/kube.js";
import { BackupRuns, PROGRESS_INTERVAL_MS } from "./backup-runs.js";
import type { GatewayCapacity } from "./gateway-capacity.js";
import { followRetentionPass, RETENTION_POLL_MS } from "./maintenance-jobs.js";
import { firstProblem, problemCondition, resolveRef, type Checked, type Problem } from "./references.js";
import type { VCenterConnections } from "./vcenter-connections.js";
import { vcenterConnectOptions } from "./vcenter-controller.js";
import { selectVMs } from "./vm-selection.js";


/**
 * How plans' cron expressions are read: as croner 9 read them, which
 * Lifeboat used until 11, so no plan's schedule changes meaning: a numeric
 * step start ("5/5", minute 5 and every 5 after, as Kubernetes CronJobs read
 * it) is accepted.
 */
const CRON_OPTIONS = { paused: true, sloppyRanges: true } as const;

/** The next time a plan's schedule fires, or a problem naming what is wrong with it. */
export function nextScheduledRun(cron: string, timeZone: string, after: Date = new Date()): { ok: true; next: Date | undefined } | { ok: false; problem: Problem } {
  try {
    zonedFormatter(timeZone);
  } catch {
    return { ok: false, problem: { reason: "InvalidTimeZone", message: `spec.schedule.timeZone: "${timeZone}" is not an IANA time zone such as Asia/Tokyo or UTC` } };
  }
  try {
    const next = new Cron(cron, { ...CRON_OPTIONS, timezone: timeZone }).nextRun(after) ?? undefined;
    return { ok: true, next };
  } catch (err) {
    return { ok: false, problem: { reason: "InvalidSchedule", message: `spec.schedule.cron: "${cron}" is not a valid cron expression (${err instanceof Error ? err.message : String(err)})` } };
  }
}

/** How many coming runs scheduleIntervalSeconds looks at: enough for a weekday-only schedule to show its weekend. */
const INTERVAL_RUNS = 10;

/**
 * The longest gap between a schedule's coming runs, in seconds: what "a run
 * is overdue" is measured against. The longest, not the first, so a
 * weekday-only schedule is not called stale over a weekend. Undefined for a
 * schedule that fires fewer than twice more, or one that does not parse.
 */
export function scheduleIntervalSeconds(cron: string, timeZone: string, after: Date = new Date()): number | undefined {
  let runs: Date[];
  try {
    runs = new Cron(cron, { ...CRON_OPTIONS, timezone: timeZone }).nextRuns(INTERVAL_RUNS, after);
  } catch {
    return undefined;
  }
  let longest: number | undefined;
  for (let i = 1; i < runs.length; i++) {
    const gap = ((runs[i]?.getTime() ?? 0) - (runs[i - 1]?.getTime() ?? 0)) / 1000;
    longest = Math.max(longest ?? 0, gap);
  }
  return longest;
}

const RUN_RESULTS = ["Succeeded", "PartiallyFailed", "Failed"] as const;

/** Seconds since the epoch of an API time (a string on the wire, a Date where the client parsed it). */
function epochSeconds(time: string | Date): number {
  return new Date(time).getTime() / 1000;
}

/**
 * What the alert rules need to know of a plan, from its object alone (so the
 * gauges are right again the moment a new leader reconciles it): when its
 * last run ended and how, when it last succeeded, when it was created, and
 * how often its schedule fires (absent while it starts no scheduled runs).
 */
export function recordPlanMetrics(plan: BackupPlan, metrics: OperatorMetrics, now: Date = new Date()): void {
  const labels = { namespace: plan.metadata.namespace ?? "", plan: plan.metadata.name ?? "" };
  const lastRun = plan.status?.lastRun;
  for (const result of RUN_RESULTS) if (result !== lastRun?.result) metrics.planLastRun.remove({ ...labels, result });
  if (lastRun?.result && lastRun.completionTime) metrics.planLastRun.set({ ...labels, result: lastRun.result }, epochSeconds(lastRun.completionTime));
  const success = plan.status?.lastSuccessfulTime;
  if (success) metrics.planLastSuccess.set(labels, epochSeconds(success));
  else metrics.planLastSuccess.remove(labels);
  const created = plan.metadata.creationTimestamp;
  if (created) metrics.planCreated.set(labels, epochSeconds(created));
  // Each result's run counter exists from the start at 0: a series that first
  // appears at 1 hides that run from increase(), the dashboard's run counts.
  for (const result of RUN_RESULTS) metrics.backupRuns.inc({ ...labels, result }, 0);
  const schedule = plan.spec.schedule;
  const interval = schedule && !plan.spec.paused ? scheduleIntervalSeconds(schedule.cron, schedule.timeZone ?? "UTC", now) : undefined;
  if (interval === undefined) metrics.planScheduleInterval.remove(labels);
  else metrics.planScheduleInterval.set(labels, interval);
}

/** Removes a deleted plan's series, and its workers' (their Jobs go with it). */
export function forgetPlanMetrics(namespace: string, plan: string, metrics: OperatorMetrics): void {
  const labels = { namespace, plan };
  for (const result of RUN_RESULTS) metrics.planLastRun.remove({ ...labels, result });
  metrics.planLastSuccess.remove(labels);
  metrics.planCreated.remove(labels);
  metrics.planScheduleInterval.remove(labels);
  for (const result of RUN_RESULTS) metrics.backupRuns.remove({ ...labels, result });
  metrics.forgetWorkersOf(namespace, `BackupPlan/${plan}`);
}

/**
 * What a plan should do now about starting a run: a new spec.runRequest asks
 * for one; a schedule time that has come (and is not older than the starting
 * deadline) starts one; paused plans start none.
 */
export function dueRun(plan: BackupPlan, now: Date): { trigger: "Schedule" | "Request" } | { missed: string } | undefined {
  if (plan.spec.paused) return undefined;
  const request = plan.spec.runRequest;
  if (request && request !== plan.status?.lastHandledRunRequest) return { trigger: "Request" };
  const nextRun = plan.status?.nextRun ? new Date(plan.status.nextRun) : undefined;
  if (!plan.spec.schedule || !nextRun || nextRun > now) return undefined;
  const deadlineMs = (plan.spec.schedule.startingDeadlineSeconds ?? 3600) * 1000;
  if (now.getTime() - nextRun.getTime() > deadlineMs) return { missed: isoSeconds(nextRun) };
  return { trigger: "Schedule" };
}

/**
 * A BackupPlan: Ready when its VCenter is Connected, its vault Ready, its
 * gateway Activated and its schedule valid. At each schedule time, and when
 * spec.runRequest changes, it selects the VMs from vCenter's inventory and
 * runs one dedup-upload worker per VM (BackupRuns); a run that comes due
 * while another goes is skipped or waits, as spec.overlapPolicy says.
 */
export class BackupPlanReconciler implements Reconciler<BackupPlan> {
  readonly kind = "BackupPlan";
  readonly readyCondition = "Ready";
  private readonly runs: BackupRuns;

  constructor(private readonly vcenters: VCenterConnections, capacity: GatewayCapacity) {
    this.runs = new BackupRuns(capacity);
  }

  recordMetrics(plan: BackupPlan, metrics: OperatorMetrics): void {
    recordPlanMetrics(plan, metrics);
  }

  forgetMetrics(namespace: string, name: string, metrics: OperatorMetrics): void {
    forgetPlanMetrics(namespace, name, metrics);
  }

  async reconcile(plan: WithKind<BackupPlan>, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    // A retention pass is a maintenance Job: it is followed to its end whatever else the plan does.
    await followRetentionPass(plan, [plan.spec.vaultRef.name], ctx);
    const result = await this.reconcileRuns(plan, ctx);
    // Still running, or started by a run that just finished: look again soon (the operator watches no Jobs).
    if (plan.status?.retention?.phase !== "Running") return result;
    return { requeueAfterMs: Math.min(result?.requeueAfterMs ?? RETENTION_POLL_MS, RETENTION_POLL_MS) };
  }

  private async reconcileRuns(plan: WithKind<BackupPlan>, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = plan.metadata.namespace ?? "";
    const status = (plan.status ??= {});
    const now = new Date();

    const checks: [Checked<WithKind<VCenter>>, Checked<WithKind<BackupVault>>, Checked<WithKind<Gateway>>] = [
      await resolveRef<WithKind<VCenter>>(ctx.cache, "VCenter", ns, "spec.vCenterRef", plan.spec.vCenterRef.name, "Connected"),
      await resolveRef<WithKind<BackupVault>>(ctx.cache, "BackupVault", ns, "spec.vaultRef", plan.spec.vaultRef.name, "Ready"),
      await resolveRef<WithKind<Gateway>>(ctx.cache, "Gateway", ns, "spec.gatewayRef", plan.spec.gatewayRef.name, "Activated"),
    ];
    const [vc, vault, gateway] = checks;
    const refsOk = vc.ok && vault.ok && gateway.ok;

    // A run in progress goes on (its workers are already out there) as long as its objects exist:
    // a vault or vCenter that is not ready for a while (an outage its workers ride out) only
    // holds back new workers and the run's end, and shows on Ready meanwhile.
    if (status.currentRun) {
      const [v, b, g] = [
        await resolveRef<WithKind<VCenter>>(ctx.cache, "VCenter", ns, "spec.vCenterRef", plan.spec.vCenterRef.name),
        await resolveRef<WithKind<BackupVault>>(ctx.cache, "BackupVault", ns, "spec.vaultRef", plan.spec.vaultRef.name),
        await resolveRef<WithKind<Gateway>>(ctx.cache, "Gateway", ns, "spec.gatewayRef", plan.spec.gatewayRef.name),
      ];
      if (v.ok && b.ok && g.ok) {
        const going = await this.runs.advance({ plan, vcenter: v.value, vault: b.value, gateway: g.value, refsReady: refsOk }, ctx);
        if (going) {
          this.schedule(plan, now, ctx, "advance");
          this.setReady(plan, ctx, firstProblem(checks));
          return { requeueAfterMs: PROGRESS_INTERVAL_MS };
        }
      }
    }

    const scheduleProblem = this.schedule(plan, now, ctx, "refresh");
    if (scheduleProblem) {
      ctx.setCondition(plan, problemCondition("Ready", scheduleProblem));
      return undefined;
    }
    const problem = firstProblem(checks);
    this.setReady(plan, ctx, problem);
    if (!refsOk) return this.wakeAtNextRun(plan);

    const due = status.currentRun ? undefined : dueRun(plan, now);
    if (due && "missed" in due) {
      await ctx.events.record(plan, "Warning", "MissedRun", `the run due at ${due.missed} was missed by more than spec.schedule.startingDeadlineSeconds and is skipped`);
      this.schedule(plan, now, ctx, "advance");
    } else if (due) {
      await this.startRun(plan, due.trigger, vc.value, ctx);
      return { requeueAfterMs: 1000 };
    }
    return this.wakeAtNextRun(plan);
  }

  /**
   * Keeps status.nextRun, the time the schedule fires next. "refresh" keeps a
   * recorded time (it may be due now) unless the spec changed; "advance"
   * moves it past now, except while a run goes and overlapPolicy is Wait,
   * when a due time is kept so the run starts once the current one ends.
   */
  private schedule(plan: BackupPlan, now: Date, ctx: ReconcileContext, mode: "refresh" | "advance"): Problem | undefined {
    const status = (plan.status ??= {});
    if (!plan.spec.schedule || plan.spec.paused) {
      delete status.nextRun;
      return undefined;
    }
    const due = status.nextRun ? new Date(status.nextRun) : undefined;
    const specChanged = status.observedGeneration !== plan.metadata.generation;
    if (mode === "refresh" && due && !specChanged) return undefined;
    if (due && due <= now && status.currentRun) {
      if (plan.spec.overlapPolicy === "Wait") return undefined;
      void ctx.events.record(plan, "Normal", "SkippedRun", `the run due at ${isoSeconds(due)} is skipped: run ${status.currentRun.id ?? ""} is still going (overlapPolicy Skip)`);
    }
    const next = nextScheduledRun(plan.spec.schedule.cron, plan.spec.schedule.timeZone ?? "UTC", now);
    if (!next.ok) {
      delete status.nextRun;
      return next.problem;
    }
    if (next.next) status.nextRun = isoSeconds(next.next);
    else delete status.nextRun;
    return undefined;
  }

  private wakeAtNextRun(plan: BackupPlan): ReconcileResult | undefined {
    const next = plan.status?.nextRun;
    return next ? { requeueAfterMs: msUntilJustAfter(next) } : undefined;
  }

  private setReady(plan: BackupPlan, ctx: ReconcileContext, problem: Problem | undefined): void {
    if (problem) {
      ctx.setCondition(plan, problemCondition("Ready", problem));
      return;
    }
    const status = plan.status ?? {};
    ctx.setCondition(plan, {
      type: "Ready",
      status: "True",
      reason: plan.spec.paused ? "Paused" : status.currentRun ? "Running" : plan.spec.schedule ? "Scheduled" : "OnRequest",
      message: plan.spec.paused
        ? "references resolve; the plan is paused and starts no runs"
        : status.currentRun
          ? `run ${status.currentRun.id ?? ""} is going`
          : plan.spec.schedule
            ? `vCenter Connected, vault Ready, gateway Activated; next run ${status.nextRun ?? "never"}`
            : "vCenter Connected, vault Ready, gateway Activated; runs only on request (spec.runRequest)",
    });
  }

  private async startRun(plan: WithKind<BackupPlan>, trigger: "Schedule" | "Request", vc: WithKind<VCenter>, ctx: ReconcileContext): Promise<void> {
    const status = (plan.status ??= {});
    const options = await vcenterConnectOptions(ctx.kube, vc);
    if (!options.ok) throw new Error(`Could not start a run: ${options.problem.message}`);
    let vms;
    try {
      const conn = await this.vcenters.get(`${vc.metadata.namespace ?? ""}/${vc.metadata.name ?? ""}`, options.value);
      vms = selectVMs(await conn.client.inventory(), plan.spec.vms);
    } catch (err) {
      // Nothing is marked handled yet: the request (or due time) stays, and the retry starts the run.
      await ctx.events.record(plan, "Warning", "RunNotStarted", `could not read the inventory of VCenter ${vc.metadata.name ?? ""} to select VMs; retrying`);
      throw new Error(`Could not read the inventory of VCenter ${vc.metadata.name ?? ""} to select VMs`, { cause: err });
    }
    if (trigger === "Request") status.lastHandledRunRequest = plan.spec.runRequest;
    else this.schedule(plan, new Date(), ctx, "advance");
    this.runs.start(plan, trigger, vms.map((v) => ({ name: v.name, moRef: v.ref.value })));
    ctx.log.info({ run: status.currentRun?.id, trigger, vms: vms.length }, "Started backup run");
    await ctx.events.record(plan, "Normal", "RunStarted", `run ${status.currentRun?.id ?? ""} (${trigger.toLowerCase()}) over ${vms.length} VM(s)${vms.length ? `: ${vms.map((v) => v.name).join(", ")}` : ""}`);
  }

}
