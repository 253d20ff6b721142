/**
 * Replication cycles of one protected server in one direction, level-
 * triggered: the cluster (the server's cycle Jobs) and the vault (the points
 * they committed) are the truth, and status mirrors them. A cycle never
 * overlaps another of the same server: a cycle Job that status does not know
 * (the status write after creating it was lost) is adopted, never doubled.
 */
import type { BackupVault, Gateway, ProtectedServer, RecoveryDrill, VCenter } from "../api/generated/types.js";
import type { ReconcileContext } from "../runtime/controller.js";
import { findCondition } from "../runtime/conditions.js";
import { describe } from "../runtime/errors.js";
import type { OperatorMetrics } from "../telemetry/metrics.js";
import type { WithKind } from "../runtime/kube.js";
import { isoSeconds } from "../util/time.js";
import type { PointHeader } from "../vault/index.js";
import { labelValue, shortHash, type StatusNote } from "../workloads/worker-job.js";
import { PROGRESS_INTERVAL_MS, requestVaultSync, runIdFor } from "./backup-runs.js";
import { recoveryPointName } from "./backup-vault-controller.js";
import { flowControlState } from "./flow-control.js";
import { createCycleJob, deleteJob, DR_JOB_LABELS, drJobName, jobOutcome, type EcsCycleSource } from "./dr-jobs.js";
import { pointOfRun, pointsToChoose, type Direction } from "./dr-points.js";
import type { VmIdentity } from "./dr-vsphere.js";
import type { GatewayCapacity } from "./gateway-capacity.js";
import { beginRetentionPass } from "./maintenance-jobs.js";
import { DEFAULT_RETENTION, judgeReplicationPoints, type ReplicationRetention } from "./replication-retention.js";
import { learnCycleSeconds, nextCycle } from "./replication-schedule.js";
import { jobFailed, jobFinished } from "./gateway-capacity.js";
import { describeExcludedDisks, excludedDisksOf } from "../worker/labels.js";
import { heldResyncOf, RESYNC } from "../worker/resync.js";
import { inWindow, isTimeZone, nextWindowChange } from "./weekly-window.js";
import { SPEC_ENV } from "../worker/spec.js";
import { replicationField } from "./replication-settings.js";
import { GROUP_LABELS, groupPoints, groupScheduleProblem, nextGroupTick, parseTickLabel } from "./consistency-groups.js";

type Status = NonNullable<ProtectedServer["status"]>;
export type Cycle = NonNullable<Status["currentCycle"]>;

const CYCLE_DIRECTIONS: readonly Direction[] = ["forward", "reverse"];
const CYCLE_RESULTS = ["Succeeded", "Failed"] as const;

/**
 * Starts a server's cycle counters at 0 for each direction and result, as
 * the backup run counters are: a series that first appears at 1 hides that
 * cycle from increase(), so the dashboard would miss each server's first
 * cycle of a kind after every operator start.
 */
export function startCycleCounters(metrics: OperatorMetrics, namespace: string, server: string): void {
  for (const direction of CYCLE_DIRECTIONS) {
    for (const result of CYCLE_RESULTS) metrics.replicationCycles.inc({ namespace, protected_server: server, direction, result }, 0);
  }
}

/** Removes a deleted server's cycle counters. */
export function forgetCycleCounters(metrics: OperatorMetrics, namespace: string, server: string): void {
  for (const direction of CYCLE_DIRECTIONS) {
    for (const result of CYCLE_RESULTS) metrics.replicationCycles.remove({ namespace, protected_server: server, direction, result });
  }
}

/**
 * Labels on cycle Jobs besides the server's, so a cycle status lost track of
 * can be adopted; a requested resync's Job names its request (hashed: a
 * request may be any string), so the request is not acted on twice.
 */
const CYCLE_LABELS = { cycle: "lifeboat.io/cycle", direction: "lifeboat.io/direction", resyncRequest: "lifeboat.io/resync-request" } as const;

/** Prune needs an exclusive vault lock that running cycles hold shared; it is tried at most this often per vault. */
const PRUNE_INTERVAL_MS = 30 * 60_000;
/**
 * How often a server between cycles is looked at again when nothing it
 * watches changes: a safety net only. Its status holds nothing that ages
 * (the RPO is the age of lastRecoveryPointTime, which kubectl, the plugin
 * and the metrics compute), so a fleet between cycles writes nothing; it
 * used to write an rpoSeconds every 15 s per server.
 */
const IDLE_REFRESH_MS = 5 * 60_000;
/** How often a cycle waiting for a Gateway slot asks again. */
const SLOT_POLL_MS = 5_000;

/** The reason of a cycle that found a resync needed during business hours and stopped before reading (and of Replicating while it waits). */
export const RESYNC_HELD = "ResyncHeld";

/** A cycle that failed; one that held its resync for business hours did not (nothing went wrong, nothing backs off). */
function failedCycle(cycle: Cycle | undefined): cycle is Cycle {
  return cycle?.result === "Failed" && cycle.reason !== RESYNC_HELD;
}

/**
 * Whether the server's business hours (seed 003: resyncs run outside them)
 * are on now, and when that next changes; undefined when it has none, when
 * its time zone is not one (IgnoredFields says so), or for an ECS instance,
 * whose cycles read whole disks and never resync.
 */
export function businessHoursNow(ps: ProtectedServer, line: Pick<ReplicationLine, "ecs">, now: Date): { readonly inside: boolean; readonly nextChange: Date | undefined } | undefined {
  const hours = ps.spec.replication?.businessHours;
  const timeZone = hours?.timeZone ?? "UTC";
  if (!hours || line.ecs || !isTimeZone(timeZone)) return undefined;
  return { inside: inWindow(hours, timeZone, now), nextChange: nextWindowChange(hours, timeZone, now) };
}

/** What ResyncRequired says of cycles of an ECS instance: there is no change tracking to trust or lose. */
export const WHOLE_DISK_READS = { type: "ResyncRequired", status: "False", reason: "WholeDiskReads", message: "ECS has no changed-block API: every cycle of the instance exports and reads whole disks; the vault stores only the blocks it lacks" } as const;

/** One direction of replication: which VM, from which vCenter, into which vault, through which Gateway's workers. */
export interface ReplicationLine {
  readonly direction: Direction;
  readonly vm: VmIdentity & { readonly name: string };
  /** Where the VM is: a vCenter, or an ECS instance (VMwareToCloud reverse replication, crash-consistent whole-disk reads). */
  readonly vcenter?: WithKind<VCenter> | undefined;
  readonly ecs?: EcsCycleSource | undefined;
  readonly vault: WithKind<BackupVault>;
  readonly gateway: WithKind<Gateway>;
  readonly sitePair: string;
}

/** What starting a cycle did. */
export type StartResult = { readonly started: string } | { readonly waiting: string };

/** Where a cycle a step needs now (not when the schedule says) is. */
export type NeededCycle =
  | { readonly state: "running" }
  | { readonly state: "waiting"; readonly why: string }
  | { readonly state: "started"; readonly id: string }
  | { readonly state: "ended"; readonly cycle: Cycle };

export const capitalized = (d: Direction): "Forward" | "Reverse" => (d === "forward" ? "Forward" : "Reverse");

/** The server's retention rules with defaults. */
export function retentionOf(ps: ProtectedServer): ReplicationRetention {
  return { ...DEFAULT_RETENTION, ...(ps.spec.replication?.retention ?? {}) };
}

export class ReplicationCycles {
  private readonly lastPrune = new Map<string, number>();
  /** Consistency group members (by key) that have waited for a Gateway slot since then, through the ticks they missed. */
  private readonly groupWaits = new Map<string, number>();

  constructor(private readonly capacity: GatewayCapacity) {}

  /** Drops what this holds for a server that is gone (key namespace/name). */
  forget(key: string): void {
    this.groupWaits.delete(key);
  }

  /**
   * The usual loop: follow the running cycle, and when none runs start the
   * next one once it is due (early enough to hold the RPO). Returns when to
   * look again.
   */
  async run(ps: WithKind<ProtectedServer>, line: ReplicationLine, ctx: ReconcileContext, pins: ReadonlySet<string>): Promise<number> {
    const status = (ps.status ??= {});
    await this.follow(ps, line, ctx, pins);
    if (status.currentCycle) {
      this.reportReplicating(ps, ctx);
      return PROGRESS_INTERVAL_MS;
    }
    const lastFailed = failedCycle(status.lastCycle);
    const autoResume = ps.spec.replication?.autoResume ?? true;
    const resumeAsked = !!ps.spec.resumeRequest && ps.spec.resumeRequest !== status.handledResumeRequest;
    const resyncAsked = await this.resyncAsked(ps, line, ctx);
    // A requested resync that failed is tried again by the next cycle, on the schedule's backoff like any failed cycle.
    const resyncRetry = lastFailed && status.lastCycle?.resync === RESYNC.requested;
    const now = new Date();
    const hours = businessHoursNow(ps, line, now);
    if (status.heldResync && hours?.inside && !resyncAsked && !resyncRetry) return this.waitForResyncWindow(ps, status.heldResync.reason, hours.nextChange, now, ctx);
    if (lastFailed && !autoResume && !resumeAsked && !resyncAsked) {
      ctx.setCondition(ps, { type: "Replicating", status: "False", reason: status.lastCycle?.reason ?? "CycleFailed", message: `${status.lastCycle?.message ?? "the last cycle failed"}; autoResume is off: set spec.resumeRequest to a new value to resume` });
      return 60_000;
    }
    const interval = (ps.spec.replication?.crashConsistentIntervalMinutes ?? 5) * 60;
    // An ECS instance is never quiesced: application-consistent cycles do not apply to it.
    const appHours = line.ecs ? undefined : ps.spec.replication?.appConsistentIntervalHours;
    const lastPointTime = status.lastRecoveryPointTime ? new Date(status.lastRecoveryPointTime) : undefined;
    const lastCycleEnd = status.lastCycle?.completionTime ? new Date(status.lastCycle.completionTime) : undefined;
    const consecutiveFailures = resumeAsked || resyncAsked ? 0 : (status.failedCycles ?? 0);
    // A consistency group's member snapshots at the group's ticks; a requested resync is due now, at no tick.
    const group = resyncAsked ? undefined : this.groupOf(ps, line, ctx);
    const lastAppPointTime = status.lastAppConsistentPointTime ? new Date(status.lastAppConsistentPointTime) : undefined;
    const failedApp = lastFailed && status.lastCycle?.consistency === "Application" ? lastCycleEnd : undefined;
    const tick = group ? nextGroupTick({ now, settings: ps.spec.replication ?? {}, lastPointTime, lastAppPointTime, lastFailedAppCycleEnd: failedApp, lastCycleEnd, consecutiveFailures }) : undefined;
    const next = tick
      ? { due: tick.start, consistency: tick.application ? "Application" : "Crash" }
      : nextCycle({
          now,
          intervalSeconds: interval,
          appIntervalSeconds: appHours !== undefined ? appHours * 3600 : undefined,
          lastPointTime,
          lastAppPointTime,
          learnedCycleSeconds: status.learnedCycleSeconds ?? 0,
          lastCycleEnd,
          consecutiveFailures,
        });
    // A requested resync is due now, whatever the schedule says, and stays due from the first time it was
    // (nextCycleTime keeps it), so that it keeps its place in the Gateway's queue while it waits for a slot.
    // A nextCycleTime from before the last cycle ended was that cycle's.
    const pinned = Date.parse(status.nextCycleTime ?? "");
    const pinnedNow = pinned >= (Date.parse(status.lastCycle?.completionTime ?? "") || 0) ? pinned : Infinity;
    const due = resyncAsked ? new Date(Math.min(now.getTime(), next.due.getTime(), pinnedNow)) : next.due;
    status.nextCycleTime = isoSeconds(due);
    this.reportReplicating(ps, ctx);
    const waiter = `${ps.metadata.namespace ?? ""}/${ps.metadata.name ?? ""}`;
    if (due > now) {
      // A member whose tick passed while it waited for a slot leaves the Gateway's line until its next tick's start,
      // keeping the time it began to wait (below), so that it is first in line then.
      if (tick) this.capacity.forget(waiter);
      return Math.min(due.getTime() - now.getTime() + 200, IDLE_REFRESH_MS);
    }
    if (resumeAsked) status.handledResumeRequest = ps.spec.resumeRequest;
    const request = resyncAsked || resyncRetry ? ps.spec.resyncRequest ?? status.handledResyncRequest ?? "" : undefined;
    // During business hours a cycle leaves a resync it finds needed for later, unless one is asked for or already waits (then it is made).
    const holdResync = !!hours?.inside && request === undefined && !status.heldResync;
    const since = tick ? new Date(Math.min(due.getTime(), this.groupWaits.get(waiter) ?? Infinity)) : due;
    const started = await this.start(ps, line, ctx, next.consistency === "Application", since, request, holdResync, group && tick ? { group, tick: tick.tick } : undefined);
    if (tick && "waiting" in started) this.groupWaits.set(waiter, since.getTime());
    else this.groupWaits.delete(waiter);
    if ("waiting" in started) {
      ctx.setCondition(ps, { type: "Replicating", status: "True", reason: "WaitingForGateway", message: `the next cycle is due and waits: ${started.waiting}` });
      return SLOT_POLL_MS;
    }
    if (resyncAsked) {
      // Recorded with the cycle it started, in one status write; if that write is lost, resyncAsked finds the Job by its label.
      status.handledResyncRequest = ps.spec.resyncRequest;
      await ctx.events.record(ps, "Normal", "ResyncStarted", `cycle ${started.started} reads every allocated area and compares it with the vault by checksum, as spec.resyncRequest asked`);
    }
    this.reportReplicating(ps, ctx);
    return PROGRESS_INTERVAL_MS;
  }

  /**
   * The consistency group whose ticks this server's cycles take: forward
   * cycles of a vSphere VM whose group's members agree (same site pair and
   * intervals; condition GroupConsistent says when they do not).
   */
  private groupOf(ps: WithKind<ProtectedServer>, line: ReplicationLine, ctx: ReconcileContext): string | undefined {
    const group = ps.spec.consistencyGroup;
    if (!group || line.direction !== "forward" || line.ecs) return undefined;
    return groupScheduleProblem(ps, ctx.listCached<ProtectedServer>("ProtectedServer", ps.metadata.namespace ?? ""), false) ? undefined : group;
  }

  /**
   * Whether spec.resyncRequest holds a value not acted on yet, for a VM
   * whose cycles can resync. Cycles of an ECS instance read whole disks
   * every time, so its request is marked handled with an event saying so.
   * A cycle Job already labelled with the request (its start's status write
   * was lost) has acted on it while it runs (adopt() takes it) or once it
   * succeeded; one that failed before status recorded it has not, and the
   * request starts a new cycle (whose failure status then records, with the
   * usual backoff after it).
   */
  private async resyncAsked(ps: WithKind<ProtectedServer>, line: ReplicationLine, ctx: ReconcileContext): Promise<boolean> {
    const status = (ps.status ??= {});
    const request = ps.spec.resyncRequest;
    if (!request || request === status.handledResyncRequest) return false;
    if (line.ecs) {
      status.handledResyncRequest = request;
      await ctx.events.record(ps, "Normal", "ResyncNotNeeded", `spec.resyncRequest: ${WHOLE_DISK_READS.message}; there is nothing to resync`);
      return false;
    }
    const jobs = await ctx.kube.batch.listNamespacedJob({ namespace: ps.metadata.namespace ?? "", labelSelector: `${DR_JOB_LABELS.protectedServer}=${labelValue(ps.metadata.name ?? "")},${CYCLE_LABELS.resyncRequest}=${shortHash(request)}` });
    const recordedUpTo = status.lastCycle?.id ?? "";
    const acted = jobs.items.some((j) => !jobFailed(j) || (j.metadata?.labels?.[CYCLE_LABELS.cycle] ?? "") <= recordedUpTo);
    if (!acted) return true;
    status.handledResyncRequest = request;
    return false;
  }

  /**
   * While business hours last, a resync a cycle found needed waits, and so
   * does replication: without CBT there is no cheaper cycle to run. Says so,
   * and looks again when the hours end.
   */
  private waitForResyncWindow(ps: ProtectedServer, reason: string, until: Date | undefined, now: Date, ctx: ReconcileContext): number {
    const status = (ps.status ??= {});
    if (until) status.nextCycleTime = isoSeconds(until);
    else delete status.nextCycleTime;
    const message = `${resyncWhy(reason)}: the checksum resync, which reads every allocated area, waits for business hours to end${until ? ` at ${isoSeconds(until)}` : ""} (${replicationField(ps, "businessHours")}), and replication with it; set spec.resyncRequest to a new value to resync now`;
    ctx.setCondition(ps, { type: "ResyncRequired", status: "True", reason, message });
    ctx.setCondition(ps, { type: "Replicating", status: "False", reason: RESYNC_HELD, message });
    return until ? Math.min(Math.max(until.getTime() - now.getTime(), 0) + 200, IDLE_REFRESH_MS) : IDLE_REFRESH_MS;
  }

  /** The Replicating condition from the cycles: on schedule, running, or held by the last cycle's failure. */
  private reportReplicating(ps: ProtectedServer, ctx: ReconcileContext): void {
    const status = ps.status ?? {};
    const last = status.lastCycle;
    if (failedCycle(last) && !status.currentCycle) {
      const autoResume = ps.spec.replication?.autoResume ?? true;
      ctx.setCondition(ps, { type: "Replicating", status: "False", reason: last.reason ?? "CycleFailed", message: `${last.message ?? "the last cycle failed"}; ${autoResume ? "the next cycle starts on its own once the cause clears" : "set spec.resumeRequest to resume"}` });
      return;
    }
    const cur = status.currentCycle;
    ctx.setCondition(ps, cur
      ? { type: "Replicating", status: "True", reason: "CycleRunning", message: `${cur.direction === "Reverse" ? "reverse " : ""}cycle ${cur.id ?? ""} is running` }
      : { type: "Replicating", status: "True", reason: "OnSchedule", message: `the next cycle starts at ${status.nextCycleTime ?? "once due"}` });
  }

  /**
   * A cycle a step needs now, such as the last cycles of a planned failover
   * or failback: a cycle already running ends first, then one is started,
   * due since `since` in the Gateway's line; the step records its id and
   * passes it back (`id`) until the cycle has ended.
   */
  async needed(ps: WithKind<ProtectedServer>, line: ReplicationLine, ctx: ReconcileContext, pins: ReadonlySet<string>, id: string | undefined, since: Date): Promise<NeededCycle> {
    const status = (ps.status ??= {});
    // The schedule's cycles have stopped: a wait for a group's tick is over, and must not put the server ahead when they resume.
    this.groupWaits.delete(`${ps.metadata.namespace ?? ""}/${ps.metadata.name ?? ""}`);
    await this.follow(ps, line, ctx, pins);
    if (!id) {
      if (status.currentCycle) return { state: "running" };
      const started = await this.start(ps, line, ctx, false, since);
      return "waiting" in started ? { state: "waiting", why: started.waiting } : { state: "started", id: started.started };
    }
    const last = status.lastCycle;
    return last?.id === id ? { state: "ended", cycle: last } : { state: "running" };
  }

  /**
   * Starts a cycle now if the Gateway has a free slot and this server is
   * first in line for it. `quiesce` makes it application-consistent;
   * `resyncRequest` makes it a resync for that spec.resyncRequest, and so
   * does a resync held for business hours (status.heldResync), with its
   * reason; `holdResync` has the worker leave a resync it finds needed for
   * later instead of making it (business hours are on).
   */
  async start(ps: WithKind<ProtectedServer>, line: ReplicationLine, ctx: ReconcileContext, quiesceAsked: boolean, dueSince: Date = new Date(), resyncRequest?: string, holdResync = false, groupTick?: { group: string; tick: Date }): Promise<StartResult> {
    const status = (ps.status ??= {});
    // An ECS instance is snapshotted without its guest's help.
    const quiesce = quiesceAsked && !line.ecs;
    // A resync held for business hours is made by whichever cycle comes next, a planned failover's last ones included:
    // after a ChangeTrackingReset the worker could not find the need again by itself.
    const held = status.heldResync ? status.heldResync.reason || RESYNC.requested : undefined;
    const resync = resyncRequest !== undefined ? RESYNC.requested : line.ecs ? undefined : held;
    if (status.currentCycle) return { waiting: `cycle ${status.currentCycle.id ?? ""} is still running` };
    const ns = ps.metadata.namespace ?? "";
    const now = new Date();
    const id = runIdFor(now);
    const job = drJobName(ps, `c${id}`);
    // Cycles share the Gateway's flow-control bandwidth with backups, an equal share each.
    const flow = flowControlState(line.gateway.spec.flowControl ?? [], line.gateway.spec.timeZone ?? "UTC");
    const result = await this.capacity.withFairSlot(ctx.kube, ns, line.gateway, `${ns}/${ps.metadata.name ?? ""}`, dueSince, (slots) =>
      createCycleJob(ctx.kube, {
        bandwidthBytesPerSecond: flow.limit === undefined ? 0 : Math.floor(flow.limit / (slots.active + 1)),
        ps,
        name: job,
        cycleId: id,
        direction: line.direction,
        vm: { name: line.vm.name, moRef: line.vm.moRef },
        vcenter: line.vcenter,
        ecs: line.ecs,
        vault: line.vault,
        gateway: line.gateway,
        quiesce,
        resync,
        holdResync,
        sitePair: line.sitePair,
        groupTick,
        extraLabels: { [CYCLE_LABELS.cycle]: id, [CYCLE_LABELS.direction]: line.direction, ...(resyncRequest !== undefined ? { [CYCLE_LABELS.resyncRequest]: shortHash(resyncRequest) } : {}) },
      }),
    );
    if (!result.ran) return { waiting: result.waitingFor };
    status.currentCycle = { id, job, direction: capitalized(line.direction), consistency: quiesce ? "Application" : "Crash", startTime: isoSeconds(now), ...(resync ? { resync } : {}) };
    ctx.log.info({ cycle: id, job, direction: line.direction, quiesce, resync, vm: line.vm.name, ...(groupTick ? { consistencyGroup: groupTick.group, tick: isoSeconds(groupTick.tick) } : {}) }, "Started replication cycle");
    return { started: id };
  }

  /**
   * Follows the running cycle and accounts it once it ends: its point, the
   * RPO it brings, the learned duration, retention. Returns the cycle that
   * just ended, if one did.
   */
  async follow(ps: WithKind<ProtectedServer>, line: ReplicationLine, ctx: ReconcileContext, pins: ReadonlySet<string>): Promise<Cycle | undefined> {
    const status = (ps.status ??= {});
    if (!status.currentCycle) await this.adopt(ps, line, ctx);
    const cur = status.currentCycle;
    if (!cur?.id || !cur.job) return undefined;
    const ns = ps.metadata.namespace ?? "";
    const outcome = await jobOutcome(ctx.kube, ns, cur.job);
    if (outcome.state !== "Running") ctx.metrics.forgetWorker(ns, cur.job);
    if (outcome.state !== "Missing" && outcome.attempts > 0) cur.attempts = outcome.attempts;
    if (outcome.state === "Running") {
      await this.noteFailedAttempt(ps, cur, outcome.retry, ctx);
      const p = outcome.progress;
      ctx.metrics.noteWorker({ namespace: ns, worker: cur.job, owner: `ProtectedServer/${ps.metadata.name ?? ""}` }, p);
      if (p) {
        cur.bytesDone = p.bytesDone;
        cur.bytesTotal = p.bytesTotal;
        cur.throughputBytesPerSecond = Math.round(p.throughputBytesPerSecond);
        if (p.etaSeconds !== undefined) cur.etaSeconds = Math.round(p.etaSeconds);
        if (p.resync) cur.resync = p.resync;
      }
      if (cur.resync) ctx.setCondition(ps, { type: "ResyncRequired", status: "True", reason: cur.resync, message: resyncMessage(cur.resync) });
      return undefined;
    }
    const { own: points, all } = await pointsToChoose(ctx.kube, line.vault, ps, line.direction);
    const point = pointOfRun(points, ps, line.direction, cur.id);
    if (point) return this.succeeded(ps, line, cur, point, points, ctx, pins, all);
    if (outcome.state === "Failed") {
      const held = heldResyncOf(outcome.exitCode);
      if (held) return this.held(ps, cur, held, outcome.finishedAt, ctx);
    }
    if (outcome.state === "Succeeded") return this.failed(ps, line, cur, "PointNotFound", "the cycle's worker finished but the vault holds no point of this cycle", new Date(), ctx);
    if (outcome.state === "Missing") return this.failed(ps, line, cur, "WorkerJobMissing", `worker Job ${cur.job} is gone and the vault holds no point of this cycle`, new Date(), ctx);
    return this.failed(ps, line, cur, outcome.reason, outcome.message, outcome.finishedAt, ctx);
  }

  /**
   * Says in the current cycle why its newest attempt failed while the Job
   * tries again (a killed pod, a lost node, vCenter restarting), with one
   * Warning event per failed attempt: otherwise the cycle would go on
   * showing a dead pod's last progress. The note stays while the next
   * attempt runs; the cycle's end replaces it.
   */
  private async noteFailedAttempt(ps: WithKind<ProtectedServer>, cur: Cycle, retry: StatusNote | undefined, ctx: ReconcileContext): Promise<void> {
    if (!retry || cur.message === retry.message) return;
    cur.reason = retry.reason;
    cur.message = retry.message;
    await ctx.events.record(ps, "Warning", retry.reason, `replication cycle ${cur.id ?? ""}: ${retry.message}`);
    ctx.log.warn({ cycle: cur.id, job: cur.job, reason: retry.reason, message: retry.message }, "A replication cycle's worker attempt failed; its Job tries again");
  }

  /**
   * Makes a running cycle Job status lost track of (the status write after
   * creating it was lost) the current cycle again, never a second cycle
   * beside it. Only running Jobs: a finished one left from an earlier round
   * is not this direction's cycle any more.
   */
  private async adopt(ps: WithKind<ProtectedServer>, line: ReplicationLine, ctx: ReconcileContext): Promise<void> {
    const status = (ps.status ??= {});
    const ns = ps.metadata.namespace ?? "";
    const jobs = await ctx.kube.batch.listNamespacedJob({ namespace: ns, labelSelector: `${DR_JOB_LABELS.protectedServer}=${labelValue(ps.metadata.name ?? "")},${DR_JOB_LABELS.kind}=cycle,${CYCLE_LABELS.direction}=${line.direction}` });
    const last = status.lastCycle?.id ?? "";
    const orphan = jobs.items
      .map((j) => ({ job: j, id: j.metadata?.labels?.[CYCLE_LABELS.cycle] ?? "" }))
      .filter((j) => j.id > last && !j.job.metadata?.deletionTimestamp && !jobFinished(j.job))
      .sort((a, b) => a.id.localeCompare(b.id))
      .at(-1);
    if (!orphan) return;
    const spec = orphan.job.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === SPEC_ENV)?.value ?? "";
    status.currentCycle = {
      id: orphan.id,
      job: orphan.job.metadata?.name ?? "",
      direction: capitalized(line.direction),
      consistency: spec.includes('"quiesce":true') ? "Application" : "Crash",
      startTime: isoSeconds(new Date(orphan.job.metadata?.creationTimestamp ?? Date.now())),
      ...(orphan.job.metadata?.labels?.[CYCLE_LABELS.resyncRequest] ? { resync: RESYNC.requested } : {}),
    };
    ctx.log.info({ cycle: orphan.id, job: status.currentCycle.job }, "Adopted a replication cycle whose start was not recorded");
  }

  private async succeeded(ps: WithKind<ProtectedServer>, line: ReplicationLine, cur: Cycle, point: PointHeader, points: PointHeader[], ctx: ReconcileContext, pins: ReadonlySet<string>, all: readonly PointHeader[]): Promise<Cycle> {
    const status = (ps.status ??= {});
    // A group's cycle starts ahead of its tick and waits for it: the cycle's time is from the tick on.
    const started = Math.max(Date.parse(cur.startTime ?? point.time), parseTickLabel(point.labels[GROUP_LABELS.tick])?.getTime() ?? 0);
    const duration = Math.max(0, (Date.parse(point.committedAt) - started) / 1000);
    const bytesRead = point.disks.reduce((n, d) => n + d.readBytes, 0);
    const ended: Cycle = {
      id: cur.id,
      job: cur.job,
      direction: cur.direction,
      consistency: point.consistency === "app" ? "Application" : "Crash",
      startTime: cur.startTime,
      completionTime: isoSeconds(point.committedAt),
      durationSeconds: Math.round(duration),
      result: "Succeeded",
      ...(cur.attempts ? { attempts: cur.attempts } : {}),
      bytesRead,
      bytesTransferred: point.storedBytes,
      pointID: point.id,
      recoveryPoint: recoveryPointName(point),
      ...(point.labels.resync ? { resync: point.labels.resync } : {}),
    };
    status.lastCycle = ended;
    delete status.currentCycle;
    status.failedCycles = 0;
    if (point.labels.resync) delete status.heldResync;
    if (!status.lastRecoveryPointTime || point.time > status.lastRecoveryPointTime) status.lastRecoveryPointTime = isoSeconds(point.time);
    if (point.consistency === "app" && (!status.lastAppConsistentPointTime || point.time > status.lastAppConsistentPointTime)) status.lastAppConsistentPointTime = isoSeconds(point.time);
    // A resync reads whole disks once: the schedule learns from the cycles that read CBT's changes.
    if (!point.labels.resync) status.learnedCycleSeconds = learnCycleSeconds(status.learnedCycleSeconds ?? 0, duration);
    // Forward points only: a reverse cycle reads the recovered VM, which has no such disk, while the original's stay unprotected.
    if (!line.ecs && line.direction === "forward") await noteExcludedDisks(ps, point, ctx);
    if (line.ecs) ctx.setCondition(ps, WHOLE_DISK_READS);
    else ctx.setCondition(ps, { type: "ResyncRequired", status: "False", reason: point.labels.resync ? "ResyncCompleted" : "ChangeTrackingTrusted", message: point.labels.resync ? `the checksum resync (${point.labels.resync}) completed with point ${point.id}; cycles read CBT's changes again` : "cycles read only what CBT reports changed" });
    const labels = { namespace: ps.metadata.namespace ?? "", protected_server: ps.metadata.name ?? "" };
    ctx.afterStatusWrite(() => {
      ctx.metrics.replicationCycles.inc({ ...labels, direction: line.direction, result: "Succeeded" });
      ctx.metrics.replicationCycleDuration.observe({ ...labels, direction: line.direction }, duration);
      ctx.metrics.replicationBytesTransferred.inc({ ...labels, direction: line.direction }, point.storedBytes);
    });
    ctx.log.info({ cycle: cur.id, point: point.id, bytesRead, bytesTransferred: point.storedBytes, seconds: Math.round(duration), resync: point.labels.resync }, "Replication cycle committed a point");
    // A consistency group's member, forward: its group's newest shared tick, and the points of its group retention keeps.
    // Reverse cycles take no ticks: the group's moment is that of its forward points, and is not this server's now.
    const ns = ps.metadata.namespace ?? "";
    const group = ps.spec.consistencyGroup && line.direction === "forward"
      ? groupPoints(ps, points, all, ctx.listCached<ProtectedServer>("ProtectedServer", ns), ctx.listCached<RecoveryDrill>("RecoveryDrill", ns))
      : undefined;
    const sharedTime = parseTickLabel(group?.newestShared);
    if (sharedTime) status.sharedPointTime = isoSeconds(sharedTime);
    else delete status.sharedPointTime;
    const retained = group && group.held.size > 0 ? new Set([...pins, ...group.held]) : pins;
    status.recoveryPointCount = await this.applyRetention(ps, line, cur.id ?? "", points, ctx, retained, group?.shared);
    await requestVaultSync(line.vault, ctx);
    await this.removeOldJobs(ps, cur.job ?? "", ctx);
    return ended;
  }

  /**
   * A cycle that found a resync needed during business hours and stopped
   * before reading: not a failure (nothing backs off, no failure metric),
   * but no point either. The resync waits in status.heldResync for the hours
   * to end, with its reason, which the next cycle is given.
   */
  private async held(ps: WithKind<ProtectedServer>, cur: Cycle, reason: string, at: Date, ctx: ReconcileContext): Promise<Cycle> {
    const status = (ps.status ??= {});
    const message = `${resyncWhy(reason)}: the cycle stopped before reading, since a resync reads every allocated area and business hours are on (${replicationField(ps, "businessHours")})`;
    const ended: Cycle = { id: cur.id, job: cur.job, direction: cur.direction, consistency: cur.consistency, startTime: cur.startTime, completionTime: isoSeconds(at), result: "Failed", reason: RESYNC_HELD, message, resync: reason, ...(cur.attempts ? { attempts: cur.attempts } : {}) };
    status.lastCycle = ended;
    delete status.currentCycle;
    // Nothing failed: earlier failures' backoff must not delay the resync once the hours end.
    status.failedCycles = 0;
    status.heldResync = { reason, since: isoSeconds(at) };
    await ctx.events.record(ps, "Warning", RESYNC_HELD, `replication cycle ${cur.id ?? ""}: ${message}; replication waits for them to end, or for spec.resyncRequest`);
    ctx.log.info({ cycle: cur.id, resync: reason }, "A replication cycle held its resync for business hours");
    return ended;
  }

  private async failed(ps: WithKind<ProtectedServer>, line: ReplicationLine, cur: Cycle, reason: string, message: string, at: Date, ctx: ReconcileContext): Promise<Cycle> {
    const status = (ps.status ??= {});
    const ended: Cycle = { id: cur.id, job: cur.job, direction: cur.direction, consistency: cur.consistency, startTime: cur.startTime, completionTime: isoSeconds(at), result: "Failed", reason, message, ...(cur.attempts ? { attempts: cur.attempts } : {}), ...(cur.resync ? { resync: cur.resync } : {}) };
    status.lastCycle = ended;
    delete status.currentCycle;
    status.failedCycles = (status.failedCycles ?? 0) + 1;
    await ctx.events.record(ps, "Warning", "CycleFailed", `replication cycle ${cur.id ?? ""} failed (${reason}): ${message}`);
    const labels = { namespace: ps.metadata.namespace ?? "", protected_server: ps.metadata.name ?? "" };
    ctx.afterStatusWrite(() => { ctx.metrics.replicationCycles.inc({ ...labels, direction: line.direction, result: "Failed" }); });
    ctx.log.warn({ cycle: cur.id, reason, message }, "Replication cycle failed");
    return ended;
  }

  /**
   * Judges the lineage's points by the rules (never a pinned one, never the
   * newest, never one under the vault's lock) and starts a maintenance Job
   * that forgets the others, and prunes now and then. A pass still running
   * is left to finish: the next cycle's end judges again. Returns how many
   * points the lineage keeps.
   */
  private async applyRetention(ps: WithKind<ProtectedServer>, line: ReplicationLine, cycle: string, points: readonly PointHeader[], ctx: ReconcileContext, pins: ReadonlySet<string>, shared: ReadonlySet<string> | undefined): Promise<number> {
    const verdicts = judgeReplicationPoints(points, retentionOf(ps), pins, new Date(), shared);
    const drop = verdicts.filter((v) => !v.keep).map((v) => v.point.id);
    const kept = verdicts.length - drop.length;
    const status = (ps.status ??= {});
    if (drop.length === 0 || status.retention?.phase === "Running") return kept;
    const vaultKey = `${line.vault.metadata.namespace ?? ""}/${line.vault.metadata.name ?? ""}`;
    const prune = Date.now() - (this.lastPrune.get(vaultKey) ?? 0) >= PRUNE_INTERVAL_MS;
    try {
      await beginRetentionPass(ps, cycle, { vault: line.vault, gateway: line.gateway, forget: drop, prune }, ctx);
    } catch (err) {
      await ctx.events.record(ps, "Warning", "RetentionFailed", `could not start the retention pass: ${describe(err)}`);
      return kept;
    }
    if (prune) this.lastPrune.set(vaultKey, Date.now());
    return kept;
  }

  /** Cycle Jobs of this server other than `keep` that have ended are removed (their points are in the vault). */
  private async removeOldJobs(ps: WithKind<ProtectedServer>, keep: string, ctx: ReconcileContext): Promise<void> {
    const ns = ps.metadata.namespace ?? "";
    const jobs = await ctx.kube.batch.listNamespacedJob({ namespace: ns, labelSelector: `${DR_JOB_LABELS.protectedServer}=${labelValue(ps.metadata.name ?? "")},${DR_JOB_LABELS.kind}=cycle` });
    const lastId = (ps.status?.lastCycle?.id ?? "");
    for (const j of jobs.items) {
      const id = j.metadata?.labels?.[CYCLE_LABELS.cycle] ?? "";
      if (j.metadata?.name === keep || id > lastId) continue;
      await deleteJob(ctx.kube, ns, j.metadata?.name ?? "");
    }
  }
}

/** Why a resync is needed, for a reason the worker reports. */
function resyncWhy(reason: string): string {
  const why: Record<string, string> = {
    ChangeIdRejected: "vCenter rejected the changeId of the last point (change tracking was reset)",
    DiskResized: "a disk's size changed since the last point",
    ChangeTrackingReset: "change tracking was off and had to be enabled again",
    [RESYNC.requested]: "spec.resyncRequest asked for it",
  };
  return why[reason] ?? reason;
}

export function resyncMessage(reason: string): string {
  return `${resyncWhy(reason)}: this cycle reads every allocated area and compares it with the vault by checksum, storing only blocks the vault lacks`;
}

/**
 * Says, from each cycle's point, whether the replica has every disk of the
 * VM: a disk a snapshot does not capture (independent, physical-mode RDM) is
 * left out of the point, and a failover would bring the VM up without it.
 * A Warning event marks the moment a disk starts being left out (or the
 * set of such disks changes).
 */
export async function noteExcludedDisks(ps: WithKind<ProtectedServer>, point: PointHeader, ctx: ReconcileContext): Promise<void> {
  const excluded = excludedDisksOf(point.labels);
  if (excluded.length === 0) {
    ctx.setCondition(ps, { type: "AllDisksReplicated", status: "True", reason: "EveryDiskCaptured", message: `point ${point.id} holds every disk of the VM` });
    return;
  }
  const message = `${describeExcludedDisks(excluded)}: a VM snapshot does not capture such disks, so the points hold no data of them and a failover or drill brings the VM up without them; make them dependent disks (disk mode persistent; an RDM in virtual compatibility mode) to replicate them`;
  const before = findCondition(ps.status?.conditions, "AllDisksReplicated");
  if (before?.status !== "False" || before.message !== message) await ctx.events.record(ps, "Warning", "DisksExcluded", message);
  ctx.setCondition(ps, { type: "AllDisksReplicated", status: "False", reason: "DisksExcluded", message });
}
