/**
 * Replication cycles of cloud-to-cloud DR (CrossZone, CrossRegion; seed
 * 004), agentless through ECS's own snapshots: a cycle snapshots every disk
 * of the replicated instance at one moment and, when the chain's points are
 * kept in another region (CrossRegion), copies each snapshot there
 * (CopySnapshot). The point is complete when every disk's snapshot is
 * accomplished where the chain keeps its points. Cycles are scheduled to the
 * RPO as vSphere cycles are (replication-schedule.ts), and points are kept
 * by the same rules (replication-retention.ts).
 *
 * Nothing here waits: each pass reads what the cloud says about the running
 * cycle (by tag) and takes the next step, so a restarted operator goes on
 * where the cloud is. ClientTokens make a repeated creation a no-op.
 */
import type { ProtectedServer, SitePair } from "../api/generated/types.js";
import { CloudApiError } from "../cloud/alibaba/ecs-api.js";
import { clientToken, DR_TAG, isNotYet, type SnapshotInfo } from "../cloud/alibaba/ecs-dr.js";
import type { ReconcileContext } from "../runtime/controller.js";
import { describe } from "../runtime/errors.js";
import type { WithKind } from "../runtime/kube.js";
import { isoSeconds } from "../util/time.js";
import { chainTags, cloudRecoveryPointName, completePoints, cycleIdAt, syncCloudRecoveryPoints, timeOfCycleId, type CloudPoint } from "./cloud-points.js";
import type { CloudSites } from "./cloud-sites.js";
import type { Direction } from "./dr-points.js";
import { retentionOf } from "./replication-cycles.js";
import { judgeReplicationPoints } from "./replication-retention.js";
import { learnCycleSeconds, nextCycle } from "./replication-schedule.js";

type Status = NonNullable<ProtectedServer["status"]>;
type Cycle = NonNullable<Status["currentCycle"]>;

/** A cloud server, its pair and both sites, resolved once per reconcile. */
export interface CloudDrContext {
  readonly ps: WithKind<ProtectedServer>;
  readonly pair: WithKind<SitePair>;
  readonly sites: CloudSites;
  readonly ctx: ReconcileContext;
  /** Point ids retention must keep: in use by drills or an uncommitted failover. */
  readonly pins: ReadonlySet<string>;
}

/** One replication chain: which instance is snapshotted, and where its points are kept. */
export interface CloudLine {
  readonly direction: Direction;
  readonly instanceId: string;
  readonly instanceName: string;
  /** The region of the instance: its snapshots are taken there. */
  readonly instanceRegion: string;
  /** The region the chain's points are kept in (the other site's). */
  readonly pointRegion: string;
}

/** Where one cycle is, as the cloud says. */
export type CycleStep =
  | { readonly state: "running"; readonly message: string }
  | { readonly state: "done"; readonly point: CloudPoint }
  | { readonly state: "failed"; readonly reason: string; readonly message: string };

const PROGRESS_MS = 2_000;
const IDLE_REFRESH_MS = 60_000;

/** A snapshot name ECS takes (2-128 characters, starting with a letter). */
function snapshotName(ps: ProtectedServer, cycleId: string, device: string): string {
  return `lifeboat-${ps.metadata.name ?? ""}-${cycleId}-${device.replace(/^\/dev\//, "")}`.slice(0, 128);
}

function meanProgress(snaps: readonly SnapshotInfo[]): number {
  if (snaps.length === 0) return 0;
  return Math.round(snaps.reduce((n, s) => n + (s.status === "accomplished" ? 100 : Number.parseInt(s.progress, 10) || 0), 0) / snaps.length);
}

/**
 * Takes the next step of cycle `cycleId` of `line`: snapshot each disk,
 * then (CrossRegion) copy each snapshot to the points' region.
 */
export async function stepCycle(c: CloudDrContext, line: CloudLine, cycleId: string): Promise<CycleStep> {
  const { ecs } = c.sites;
  const tags = { ...chainTags(c.ps, line.direction), [DR_TAG.point]: cycleId };
  const crossRegion = line.instanceRegion !== line.pointRegion;
  const takenRole = crossRegion ? "copy-source" : "point";
  try {
    let taken = await ecs.snapshotsTagged(line.instanceRegion, { ...tags, [DR_TAG.role]: takenRole });
    const wanted = Number(taken[0]?.tags[DR_TAG.disks] ?? 0);
    if (taken.length === 0 || taken.length < wanted) {
      const instance = await ecs.instance(line.instanceRegion, line.instanceId);
      if (!instance) return { state: "failed", reason: "InstanceNotFound", message: `instance ${line.instanceId} does not exist in ${line.instanceRegion}` };
      const disks = await ecs.instanceDisks(line.instanceRegion, line.instanceId);
      if (disks.length === 0) return { state: "failed", reason: "NoDisks", message: `instance ${line.instanceId} has no disks attached` };
      // Keyed by disk id: a disk's device name is only reported while it is attached.
      const have = new Set(taken.map((s) => s.sourceDiskId));
      for (const d of disks) {
        if (have.has(d.diskId)) continue;
        const snapTags = { ...tags, [DR_TAG.role]: takenRole, [DR_TAG.device]: d.device || d.diskId, [DR_TAG.diskType]: d.type === "system" ? "system" : "data", [DR_TAG.disks]: String(disks.length), [DR_TAG.instance]: line.instanceId, [DR_TAG.instanceType]: instance.instanceType, [DR_TAG.category]: d.category };
        await ecs.createSnapshot(line.instanceRegion, d.diskId, snapshotName(c.ps, cycleId, d.device), snapTags, clientToken(c.ps.metadata.uid ?? "", cycleId, d.diskId));
      }
      taken = await ecs.snapshotsTagged(line.instanceRegion, { ...tags, [DR_TAG.role]: takenRole });
    }
    if (taken.some((s) => s.status === "failed")) return { state: "failed", reason: "SnapshotFailed", message: `a snapshot of instance ${line.instanceId} failed` };
    if (taken.some((s) => s.status !== "accomplished")) return { state: "running", message: `snapshots of ${taken.length} disk(s) ${meanProgress(taken)}% done` };
    if (!crossRegion) return done(completePoints(taken, line.direction, line.pointRegion));

    let copies = await ecs.snapshotsTagged(line.pointRegion, { ...tags, [DR_TAG.role]: "point" });
    const copied = new Set(copies.map((s) => s.sourceDiskId));
    const missing = taken.filter((s) => !copied.has(s.sourceDiskId));
    for (const s of missing) {
      await ecs.copySnapshot(line.instanceRegion, s.snapshotId, line.pointRegion, snapshotName(c.ps, cycleId, s.tags[DR_TAG.device] ?? ""), { ...s.tags, [DR_TAG.role]: "point" }, clientToken(c.ps.metadata.uid ?? "", cycleId, s.snapshotId, "copy"));
    }
    if (missing.length > 0) copies = await ecs.snapshotsTagged(line.pointRegion, { ...tags, [DR_TAG.role]: "point" });
    if (copies.some((s) => s.status === "failed")) return { state: "failed", reason: "SnapshotCopyFailed", message: `copying a snapshot to ${line.pointRegion} failed` };
    if (copies.length < taken.length || copies.some((s) => s.status !== "accomplished")) return { state: "running", message: `copies to ${line.pointRegion} of ${taken.length} snapshot(s) ${meanProgress(copies) * copies.length / taken.length}% done` };
    return done(completePoints(copies, line.direction, line.pointRegion));
  } catch (err) {
    if (isNotYet(err)) return { state: "running", message: `waiting for ECS: ${describe(err)}` };
    if (err instanceof CloudApiError) return { state: "failed", reason: err.code.replace(/[^A-Za-z0-9]/g, "") || "CloudError", message: describe(err) };
    throw err;
  }

  function done(points: CloudPoint[]): CycleStep {
    const point = points.find((p) => p.id === cycleId);
    return point ? { state: "done", point } : { state: "failed", reason: "IncompletePoint", message: `the snapshots of cycle ${cycleId} do not make a whole point` };
  }
}

/** Deletes what a failed cycle left: its snapshots in both regions (best effort; the next cycle does not need them). */
async function discardCycle(c: CloudDrContext, line: CloudLine, cycleId: string): Promise<void> {
  const tags = { ...chainTags(c.ps, line.direction), [DR_TAG.point]: cycleId };
  for (const region of new Set([line.instanceRegion, line.pointRegion])) {
    try {
      for (const s of await c.sites.ecs.snapshotsTagged(region, tags)) await c.sites.ecs.deleteSnapshot(region, s.snapshotId);
    } catch (err) {
      c.ctx.log.warn({ cycle: cycleId, region, err: describe(err) }, "Could not delete a failed cycle's snapshots; the next retention pass tries again");
    }
  }
}

/**
 * The scheduler of one chain: follow the running cycle, and when none runs
 * start the next once it is due. Returns when to look again.
 */
export async function runCloudCycles(c: CloudDrContext, line: CloudLine): Promise<number> {
  const { ps, ctx } = c;
  const status = (ps.status ??= {});
  if (status.currentCycle?.id) {
    const ended = await followCloudCycle(c, line, status.currentCycle.id);
    if (!ended) {
      reportReplicating(ps, ctx);
      return PROGRESS_MS;
    }
  }
  const lastFailed = status.lastCycle?.result === "Failed";
  const autoResume = ps.spec.replication?.autoResume ?? true;
  const resumeAsked = !!ps.spec.resumeRequest && ps.spec.resumeRequest !== status.handledResumeRequest;
  if (lastFailed && !autoResume && !resumeAsked) {
    ctx.setCondition(ps, { type: "Replicating", status: "False", reason: status.lastCycle?.reason ?? "CycleFailed", message: `${status.lastCycle?.message ?? "the last cycle failed"}; autoResume is off: set spec.resumeRequest to a new value to resume` });
    return IDLE_REFRESH_MS;
  }
  const now = new Date();
  const next = nextCycle({
    now,
    intervalSeconds: (ps.spec.replication?.crashConsistentIntervalMinutes ?? 5) * 60,
    lastPointTime: status.lastRecoveryPointTime ? new Date(status.lastRecoveryPointTime) : undefined,
    learnedCycleSeconds: status.learnedCycleSeconds ?? 0,
    lastCycleEnd: status.lastCycle?.completionTime ? new Date(status.lastCycle.completionTime) : undefined,
    consecutiveFailures: resumeAsked ? 0 : (status.failedCycles ?? 0),
  });
  status.nextCycleTime = isoSeconds(next.due);
  if (next.due > now) {
    reportReplicating(ps, ctx);
    return Math.min(next.due.getTime() - now.getTime() + 200, IDLE_REFRESH_MS);
  }
  if (resumeAsked) status.handledResumeRequest = ps.spec.resumeRequest;
  startCloudCycle(status, line, now);
  await followCloudCycle(c, line, status.currentCycle?.id ?? "");
  reportReplicating(ps, ctx);
  return PROGRESS_MS;
}

/** Records a new cycle as running; its first step is taken by the caller. */
export function startCloudCycle(status: Status, line: CloudLine, now: Date): Cycle {
  const cycle: Cycle = { id: cycleIdAt(now), direction: line.direction === "reverse" ? "Reverse" : "Forward", consistency: "Crash", startTime: isoSeconds(now) };
  status.currentCycle = cycle;
  return cycle;
}

/**
 * Steps the running cycle; when it ends, records it (lastCycle, RPO,
 * metrics), applies retention and syncs the RecoveryPoints. Returns the
 * ended cycle, or undefined while it runs.
 */
export async function followCloudCycle(c: CloudDrContext, line: CloudLine, cycleId: string): Promise<Cycle | undefined> {
  const { ps, ctx } = c;
  const status = (ps.status ??= {});
  const cur = status.currentCycle;
  if (!cur || cur.id !== cycleId) return status.lastCycle?.id === cycleId ? status.lastCycle : undefined;
  const step = await stepCycle(c, line, cycleId);
  const labels = { namespace: ps.metadata.namespace ?? "", protected_server: ps.metadata.name ?? "" };
  const now = new Date();
  if (step.state === "running") {
    cur.message = step.message;
    return undefined;
  }
  if (step.state === "failed") {
    await discardCycle(c, line, cycleId);
    const ended: Cycle = { ...cur, completionTime: isoSeconds(now), result: "Failed", reason: step.reason, message: step.message };
    status.lastCycle = ended;
    delete status.currentCycle;
    status.failedCycles = (status.failedCycles ?? 0) + 1;
    await ctx.events.record(ps, "Warning", "CycleFailed", `replication cycle ${cycleId} failed (${step.reason}): ${step.message}`);
    ctx.afterStatusWrite(() => { ctx.metrics.replicationCycles.inc({ ...labels, direction: line.direction, result: "Failed" }); });
    ctx.log.warn({ cycle: cycleId, reason: step.reason, message: step.message }, "Replication cycle failed");
    return ended;
  }
  const point = step.point;
  const duration = Math.max(0, (now.getTime() - Date.parse(cur.startTime ?? point.time)) / 1000);
  const ended: Cycle = { ...cur, completionTime: isoSeconds(now), durationSeconds: Math.round(duration), result: "Succeeded", pointID: point.id, recoveryPoint: cloudRecoveryPointName(ps, point), message: `${point.disks.length} disk snapshot(s) in ${point.region}` };
  status.lastCycle = ended;
  delete status.currentCycle;
  status.failedCycles = 0;
  if (!status.lastRecoveryPointTime || point.time > status.lastRecoveryPointTime) status.lastRecoveryPointTime = point.time;
  status.learnedCycleSeconds = learnCycleSeconds(status.learnedCycleSeconds ?? 0, duration);
  ctx.afterStatusWrite(() => {
    ctx.metrics.replicationCycles.inc({ ...labels, direction: line.direction, result: "Succeeded" });
    ctx.metrics.replicationCycleDuration.observe({ ...labels, direction: line.direction }, duration);
  });
  ctx.log.info({ cycle: cycleId, region: point.region, snapshots: point.disks.map((d) => d.snapshotId), seconds: Math.round(duration) }, "Replication cycle committed a point");
  await dropOldCopySources(c, line, cycleId);
  status.recoveryPointCount = await applyCloudRetention(c, line);
  return ended;
}

/**
 * CrossRegion keeps the newest cycle's snapshots in the instance's region
 * too: ECS copies a snapshot incrementally when the previous one of the same
 * disk is still there. Older ones are deleted.
 */
async function dropOldCopySources(c: CloudDrContext, line: CloudLine, keep: string): Promise<void> {
  if (line.instanceRegion === line.pointRegion) return;
  const old = (await c.sites.ecs.snapshotsTagged(line.instanceRegion, { ...chainTags(c.ps, line.direction), [DR_TAG.role]: "copy-source" })).filter((s) => s.tags[DR_TAG.point] !== keep);
  for (const s of old) await c.sites.ecs.deleteSnapshot(line.instanceRegion, s.snapshotId);
}

/**
 * Deletes the snapshots of the points the rules do not keep (never a pinned
 * one, never the newest) and brings the RecoveryPoints in step. Returns how
 * many points the chain keeps.
 */
export async function applyCloudRetention(c: CloudDrContext, line: CloudLine): Promise<number> {
  const all = await c.sites.ecs.snapshotsTagged(line.pointRegion, { ...chainTags(c.ps, line.direction), [DR_TAG.role]: "point" });
  const points = completePoints(all, line.direction, line.pointRegion);
  const verdicts = judgeReplicationPoints(points, retentionOf(c.ps), c.pins);
  const kept = verdicts.filter((v) => v.keep).map((v) => v.point);
  for (const v of verdicts.filter((x) => !x.keep)) {
    try {
      for (const d of v.point.disks) await c.sites.ecs.deleteSnapshot(line.pointRegion, d.snapshotId);
      c.ctx.log.info({ point: v.point.id, reason: v.reason }, "Deleted a replication point's snapshots");
    } catch (err) {
      // Kept (and mirrored) until its snapshots can go, e.g. while a disk made from one exists: the next pass tries again.
      kept.push(v.point);
      c.ctx.log.warn({ point: v.point.id, err: describe(err) }, "Could not delete a replication point's snapshots");
      await c.ctx.events.record(c.ps, "Warning", "PointNotDeleted", `point ${v.point.id} is past its retention but ECS refuses to delete its snapshots (${describe(err)}); it is kept and tried again`);
    }
  }
  await dropIncompletePoints(c, line, all, new Set(points.map((p) => p.id)));
  await syncCloudRecoveryPoints(c.ps, line.direction, kept, line.instanceName, c.ctx);
  return kept.length;
}

/** How old a point that never completed may get before its snapshots are deleted (a failed cycle's clean-up that failed, a cycle cut off by a direction change). */
const INCOMPLETE_GRACE_MS = 60 * 60_000;

async function dropIncompletePoints(c: CloudDrContext, line: CloudLine, snapshots: readonly SnapshotInfo[], complete: ReadonlySet<string>): Promise<void> {
  const running = c.ps.status?.currentCycle?.id;
  for (const s of snapshots) {
    const id = s.tags[DR_TAG.point] ?? "";
    if (complete.has(id) || id === running || Date.now() - Date.parse(timeOfCycleId(id)) < INCOMPLETE_GRACE_MS) continue;
    try {
      await c.sites.ecs.deleteSnapshot(line.pointRegion, s.snapshotId);
      c.ctx.log.info({ point: id, snapshot: s.snapshotId }, "Deleted a snapshot of a point that never completed");
    } catch (err) {
      c.ctx.log.warn({ point: id, snapshot: s.snapshotId, err: describe(err) }, "Could not delete a snapshot of a point that never completed");
    }
  }
}

/** The Replicating condition from the cycles: on schedule, running, or held by the last cycle's failure. */
function reportReplicating(ps: ProtectedServer, ctx: ReconcileContext): void {
  const status = ps.status ?? {};
  const last = status.lastCycle;
  const cur = status.currentCycle;
  if (last?.result === "Failed" && !cur) {
    const autoResume = ps.spec.replication?.autoResume ?? true;
    ctx.setCondition(ps, { type: "Replicating", status: "False", reason: last.reason ?? "CycleFailed", message: `${last.message ?? "the last cycle failed"}; ${autoResume ? "the next cycle starts on its own once the cause clears" : "set spec.resumeRequest to resume"}` });
    return;
  }
  ctx.setCondition(ps, cur
    ? { type: "Replicating", status: "True", reason: "CycleRunning", message: `${cur.direction === "Reverse" ? "reverse " : ""}cycle ${cur.id ?? ""} is running: ${cur.message ?? "starting"}` }
    : { type: "Replicating", status: "True", reason: "OnSchedule", message: `the next cycle starts at ${status.nextCycleTime ?? "once due"}` });
}
