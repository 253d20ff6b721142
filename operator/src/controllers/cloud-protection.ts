/**
 * A ProtectedServer of a cloud-to-cloud SitePair (CrossZone, CrossRegion;
 * seed 004), driven toward its desired state with the same API and stages
 * as a vSphere server:
 *
 * - Replicating: snapshot cycles to the RPO (cloud-replication.ts), points
 *   kept by the retention rules, mirrored as RecoveryPoints;
 * - FailedOver: planned when the protected instance answers ("latest": it
 *   is stopped and a last cycle makes the point, so nothing is lost), else
 *   from the chosen point; the point's snapshots become an instance in the
 *   recovery zone on the recovery vSwitch (cloud-recovery.ts). Before the
 *   commit the point can be changed (the instance is replaced) or the
 *   failover cancelled (everything it made is deleted, the protected
 *   instance started again). The commit stops the protected instance (the
 *   fence; it is never deleted) and deletes the image;
 * - ReverseReplicating: cycles of the recovered instance, points kept in
 *   the protected region;
 * - FailedBack: a planned failover back: the recovered instance is stopped,
 *   a last reverse cycle makes the point, and a new instance is made from it
 *   in the protected zone. Back to Replicating, that instance is the
 *   protected one (re-registered) and the recovered instance is deleted.
 *
 * In-place failback (reverseInPlace) is not offered for cloud sites: ECS
 * can only reset a disk to a snapshot of that same disk, and the failback
 * point's snapshots are of the recovered instance's disks. The original
 * stays stopped; a condition says so.
 */
import type { ProtectedServer } from "../api/generated/types.js";
import { POINT_CHOICES } from "../api/protected-server.js";
import { clientToken, DR_TAG, isNotYet, type EcsDr, type InstanceInfo, type Tags } from "../cloud/alibaba/ecs-dr.js";
import { describe } from "../runtime/errors.js";
import { isoSeconds } from "../util/time.js";
import { chainTags, chooseCloudPoint, cloudRecoveryPointName, cycleIdAt, listCloudPoints, syncCloudRecoveryPoints, type CloudPoint } from "./cloud-points.js";
import { CloudApiError } from "../cloud/alibaba/ecs-api.js";
import { reportIgnoredFields } from "../runtime/conditions.js";
import { advancePostScript, ignoredPostScripts, type PostScript } from "./cloud-post-script.js";
import { bringUp, failoverTarget, ignoredSizing, recordRecovered, sizeOf, recoveredOf, tearDown, type Recovered, type RecoveryTarget } from "./cloud-recovery.js";
import { followCloudCycle, runCloudCycles, startCloudCycle, type CloudDrContext, type CloudLine } from "./cloud-replication.js";
import { serverTagValue, type CloudNetwork } from "./cloud-sites.js";
import { failbackNetworkOf, namespaceNetworkRoles, recoveryNetworkOf, type ServerNetworkChecks } from "./server-networks.js";
import { switchDirection } from "./reverse-replication.js";
import { replicationField } from "./replication-settings.js";

type Status = NonNullable<ProtectedServer["status"]>;
type Failover = NonNullable<Status["failover"]>;
type Failback = NonNullable<Status["failback"]>;

const STEP_MS = 2_000;
const RETRY_MS = 30_000;

/** The forward chain: the protected instance, points in the recovery region. */
export function forwardCloudLine(c: CloudDrContext): CloudLine {
  const src = c.ps.status?.source;
  return {
    direction: "forward",
    instanceId: src?.instanceId ?? c.ps.spec.source.instanceId ?? "",
    instanceName: src?.name ?? "",
    instanceRegion: c.sites.protectedSite.region,
    pointRegion: c.sites.recoverySite.region,
  };
}

/** The reverse chain: the recovered instance, points in the protected region. */
function reverseCloudLine(c: CloudDrContext): CloudLine {
  const vm = c.ps.status?.failover?.vm;
  return { direction: "reverse", instanceId: vm?.instanceId ?? "", instanceName: vm?.name ?? "", instanceRegion: c.sites.recoverySite.region, pointRegion: c.sites.protectedSite.region };
}

function recoveryTags(c: CloudDrContext, what: string): Tags {
  const ns = c.ps.metadata.namespace ?? "";
  const name = c.ps.metadata.name ?? "";
  return { [DR_TAG.server]: serverTagValue(ns, name), [DR_TAG.recovery]: `${ns}/${name}/${what}` };
}

/** The tag value of one failover attempt: each round (its request time) and attempt has its own, so no later round finds this one's instance. */
function failoverTag(fo: Failover, attempt: number): string {
  return `failover-${cycleIdAt(new Date(fo.requestTime ?? 0))}-${attempt}`;
}

/** A protected or recovered instance asked to stop is forced off after this long, and given up on (the newest point is used) after STOP_GIVE_UP_MS. */
const FORCE_STOP_MS = 5 * 60_000;
const STOP_GIVE_UP_MS = 10 * 60_000;

/**
 * Takes one step of stopping an instance for a planned failover or
 * failback: asks for a stop, forces it after FORCE_STOP_MS. Returns
 * "stopped", "gone", "waiting", or "giveUp" after STOP_GIVE_UP_MS.
 */
export async function stopStep(ecs: EcsDr, region: string, instanceId: string, step: { stopRequestTime?: string | undefined }): Promise<"stopped" | "gone" | "waiting" | "giveUp"> {
  const instance = await ecs.instance(region, instanceId);
  if (!instance) return "gone";
  if (instance.status === "Stopped") return "stopped";
  const now = Date.now();
  step.stopRequestTime ??= isoSeconds(new Date(now));
  const elapsed = now - Date.parse(step.stopRequestTime);
  if (elapsed > STOP_GIVE_UP_MS) return "giveUp";
  const force = elapsed > FORCE_STOP_MS;
  if (instance.status === "Running" || (force && instance.status === "Stopping")) {
    try {
      await ecs.stopInstance(region, instance.instanceId, force);
    } catch (err) {
      if (!isNotYet(err)) throw err;
    }
  }
  return "waiting";
}

/** True when an error means the ECS API of a region cannot be reached (as opposed to refusing the call). */
function unreachable(err: unknown): boolean {
  return !(err instanceof CloudApiError) || (err.statusCode ?? 0) >= 500 || /^(ServiceUnavailable|InternalError|UnknownError|Unknown|Throttling.*|E[A-Z]+)$/.test(err.code);
}

/** Drives a cloud server toward spec.desiredState. Returns when to look again. */
export class CloudProtection {
  constructor(private readonly networks: ServerNetworkChecks) {}

  async advance(c: CloudDrContext): Promise<number> {
    const { ps, ctx } = c;
    ctx.setCondition(ps, { type: "ResyncRequired", status: "False", reason: "CloudSnapshots", message: "ECS snapshots are incremental by themselves: there is no change tracking to lose" });
    const recovery = ps.spec.recovery ?? {};
    const ignored = [
      ...(ps.spec.replication?.appConsistentIntervalHours !== undefined ? [`${replicationField(ps, "appConsistentIntervalHours")} (cloud snapshot points are crash-consistent: no agent in the guest quiesces it)`] : []),
      ...(ps.spec.resyncRequest ? ["spec.resyncRequest (ECS snapshots are incremental by themselves: there is no change tracking to resync)"] : []),
      ...(ps.spec.replication?.businessHours ? [`${replicationField(ps, "businessHours")} (ECS snapshots are incremental by themselves: there is no resync to hold)`] : []),
      ...(ps.spec.reverseInPlace ? ["spec.reverseInPlace (ECS resets a disk only to a snapshot of that same disk, so a failback makes a new instance and the original stays stopped)"] : []),
      ...(["datastore", "diskProvisioning"] as const).filter((f) => recovery[f] !== undefined && !(f === "diskProvisioning" && recovery[f] === "Thin")).map((f) => `spec.recovery.${f} (vSphere only: the instance type and disk category decide)`),
      ...ignoredSizing("spec.recovery", recovery),
      ...ignoredSizing("spec.failback", ps.spec.failback ?? {}),
      ...ignoredPostScripts(ps),
    ];
    reportIgnoredFields(ps, ignored, "NotUsedByCloudSites", (cond) => { ctx.setCondition(ps, cond); });
    await this.networks.report(ps, c.pair, () => namespaceNetworkRoles(ctx, ps.metadata.namespace ?? ""), () => Promise.resolve({ ok: true, value: c.sites.ecs }), (cond) => { ctx.setCondition(ps, cond); });
    try {
      switch (ps.spec.desiredState ?? "Replicating") {
        case "FailedOver":
          this.stopped(c, "FailedOver", "replication is stopped: the server is failing over to the recovery site");
          return await this.failover(c);
        case "ReverseReplicating": {
          const failingOver = await this.finishFailover(c);
          if (failingOver !== undefined) return failingOver;
          // The recovered instance runs on while it replicates back: its switch-over script goes on (or runs again once changed).
          const fo = c.ps.status?.failover;
          const script = fo ? await this.postScript(c, fo, ps.spec.recovery?.postScript, c.sites.recoverySite.region, "failover", failoverTag(fo, fo.attempt ?? 1)) : undefined;
          return Math.min(await this.reverse(c), script ?? Infinity);
        }
        case "FailedBack":
          this.stopped(c, "FailingBack", "replication is stopped: the server is failing back to the protected site");
          return (await this.finishFailover(c)) ?? (await this.failback(c));
        default:
          return await this.replicate(c);
      }
    } catch (err) {
      if (!isNotYet(err)) throw err;
      ctx.log.debug({ err: describe(err) }, "ECS resource not in the state for the call yet");
      return STEP_MS;
    }
  }

  /** Forward replication, after cancelling an uncommitted failover or finishing a failback. */
  private async replicate(c: CloudDrContext): Promise<number> {
    const { ps, ctx } = c;
    const status = (ps.status ??= {});
    if (status.failback && status.failback.step !== "Done") {
      this.stopped(c, "FailingBack", `forward replication resumes once the failback is done (now: ${status.failback.step ?? ""})`);
      return this.failback(c);
    }
    if (status.failback?.step === "Done") {
      // The post-recovery script ends first: going on deletes the failback's record of it.
      const fb = status.failback;
      const script = await this.postScript(c, fb, ps.spec.failback?.postScript, c.sites.protectedSite.region, "failback", String(fb.attempt ?? 1));
      if (script !== undefined) {
        this.stopped(c, "FailingBack", `forward replication resumes once the failback's post script has ended (${fb.postScript?.phase ?? "Waiting"} on instance ${fb.vm?.instanceId ?? ""})`);
        return script;
      }
      if (!(await this.resumeAfterFailback(c))) return STEP_MS;
    } else if (status.failover && !status.failover.committed) {
      if (!(await this.cancelFailover(c))) return STEP_MS;
    }
    switchDirection(status, "Forward");
    const specId = ps.spec.source.instanceId ?? "";
    // Never while a cycle runs: its missing disks' snapshots would be taken of the other instance.
    if (!status.currentCycle && (status.source?.instanceId === undefined || (specId !== status.registeredInstanceId && specId !== status.source.instanceId))) {
      if (status.source?.instanceId && status.source.instanceId !== specId) await ctx.events.record(ps, "Normal", "ReRegistered", `protecting instance ${specId} now (was ${status.source.instanceId})`);
      status.source = { instanceId: specId, regionId: c.sites.protectedSite.region };
      status.registeredInstanceId = specId;
    }
    if (!status.currentCycle) {
      const instance = await c.sites.ecs.instance(c.sites.protectedSite.region, status.source?.instanceId ?? "");
      if (!instance) {
        this.stopped(c, "InstanceNotFound", `instance ${status.source?.instanceId ?? ""} does not exist in ${c.sites.protectedSite.region}`);
        return RETRY_MS;
      }
      status.source = { instanceId: instance.instanceId, name: instance.name, regionId: instance.regionId };
    }
    return runCloudCycles(c, forwardCloudLine(c));
  }

  /** Reverse and failback start from a failover that is done, committed and fenced; until then it goes on. */
  private async finishFailover(c: CloudDrContext): Promise<number | undefined> {
    const fo = c.ps.status?.failover;
    if (fo?.step === "Done" && fo.committed && fo.fenced) return undefined;
    this.stopped(c, "FailoverNotDone", `reverse replication waits for the failover to be done, committed and the original fenced (now: ${fo?.step ?? "not started"}${fo?.committed ? ", committed" : ""}${fo?.fenced ? ", fenced" : ""})`);
    return this.failover(c);
  }

  private async failover(c: CloudDrContext): Promise<number> {
    const { ps, ctx, sites } = c;
    const status = (ps.status ??= {});
    const choice = ps.spec.recoveryPoint ?? POINT_CHOICES.latest;
    const fo: Failover = (status.failover ??= { requestTime: isoSeconds(new Date()), attempt: 1, step: "Starting", choice });
    const attemptTag = () => failoverTag(fo, fo.attempt ?? 1);

    // A new point before the commit replaces whatever this attempt made so far, at any step (seed 004: change recovery point).
    const changed = !fo.committed && choice !== fo.choice && !(choice === POINT_CHOICES.latest && fo.latestUsed);
    // A commit goes before a new point, and the fence before the script (one waiting for its agent must not hold it).
    const committing = fo.step === "Done" && ps.spec.commitFailover ? await this.commit(c, fo) : undefined;
    // The instance runs and stays: the switch-over script runs in it (and again once changed after a failure).
    const script = fo.step === "Done" && (committing !== undefined || !changed) ? await this.postScript(c, fo, ps.spec.recovery?.postScript, sites.recoverySite.region, "failover", attemptTag()) : undefined;
    if (committing !== undefined) return Math.min(committing, script ?? Infinity);
    if (changed) fo.step = "Replacing";
    if (fo.step === "Done") return script ?? 30_000;
    switch (fo.step) {
      case "Replacing":
      case "Failed": {
        const made = recoveredOf(fo);
        const left = await tearDown(sites.ecs, sites.recoverySite.region, recoveryTags(c, attemptTag()), made);
        if (left.length > 0) return STEP_MS;
        const replacing = fo.step === "Replacing";
        await ctx.events.record(ps, "Normal", replacing ? "RecoveryPointChanged" : "FailoverRetried", replacing ? `replacing the recovered instance: point ${choice}` : `retrying the failover after: ${fo.step}`);
        status.failover = { requestTime: fo.requestTime, attempt: (fo.attempt ?? 1) + 1, step: "ChoosingPoint", choice, latestUsed: fo.latestUsed, planned: fo.planned, sourceStopped: fo.sourceStopped, ...(fo.sourceShutdown ? { sourceShutdown: fo.sourceShutdown } : {}) };
        if (replacing && choice !== POINT_CHOICES.latest) delete status.failover.planned;
        if (!replacing && fo.pointID) Object.assign(status.failover, { pointID: fo.pointID, recoveryPoint: fo.recoveryPoint, pointTime: fo.pointTime, dataAtRiskSeconds: fo.dataAtRiskSeconds, step: "BringingUp" });
        return STEP_MS;
      }
      case "Starting": {
        // A network the server names is checked before the protected instance is stopped: a wrong id must not leave nothing running.
        const network = await recoveryNetworkOf(ps, c.pair, sites, () => namespaceNetworkRoles(ctx, ps.metadata.namespace ?? ""));
        if (!network.ok) {
          ctx.setCondition(ps, { type: "FailedOver", status: "False", reason: network.problem.reason, message: `${network.problem.message}; nothing is stopped or made until it is fixed` });
          return RETRY_MS;
        }
        if (choice === POINT_CHOICES.latest && !fo.latestUsed) {
          let source: InstanceInfo | undefined;
          try {
            source = await sites.ecs.instance(sites.protectedSite.region, status.source?.instanceId ?? "");
          } catch (err) {
            // Only a protected region that cannot be reached makes it unplanned; a refused call (permissions, a bad id) is said and retried.
            if (!unreachable(err)) {
              ctx.setCondition(ps, { type: "FailedOver", status: "False", reason: err instanceof CloudApiError ? err.code.replace(/[^A-Za-z0-9]/g, "") : "CloudError", message: `could not look the protected instance up: ${describe(err)}` });
              return RETRY_MS;
            }
            ctx.log.warn({ err: describe(err) }, "The protected region does not answer: an unplanned failover to the newest point");
          }
          if (source && !["Running", "Stopped", "Stopping", "Starting"].includes(source.status)) return STEP_MS; // Pending and the like settle first
          fo.latestUsed = true;
          if (source) {
            if (source.status !== "Stopped") {
              fo.sourceStopped = true;
              fo.sourceShutdown = "guest";
            } else fo.sourceShutdown = "alreadyOff";
            fo.step = "StoppingSource";
            return STEP_MS;
          }
        }
        fo.step = "ChoosingPoint";
        return STEP_MS;
      }
      case "StoppingSource": {
        const stop = await stopStep(c.sites.ecs, sites.protectedSite.region, status.source?.instanceId ?? "", fo);
        if (stop === "waiting") return STEP_MS;
        if (stop === "stopped") {
          fo.step = "FinalCycle";
          return STEP_MS;
        }
        await ctx.events.record(ps, "Warning", "PlannedFailoverFailed", stop === "gone" ? "the protected instance is gone; failing over from the newest point" : "the protected instance did not stop, even forced, in 10 minutes; failing over from the newest point");
        fo.step = "ChoosingPoint";
        return STEP_MS;
      }
      case "FinalCycle": {
        const point = await this.lastCycle(c, forwardCloudLine(c), fo);
        if (point === "running") return STEP_MS;
        if (point) {
          Object.assign(fo, { planned: true, pointID: point.id, recoveryPoint: cloudRecoveryPointName(ps, point), pointTime: point.time, dataAtRiskSeconds: 0, step: "BringingUp" });
          return STEP_MS;
        }
        fo.step = "ChoosingPoint";
        return STEP_MS;
      }
      case "ChoosingPoint": {
        const points = await listCloudPoints(sites.ecs, ps, "forward", sites.recoverySite.region);
        const chosen = await chooseCloudPoint(ctx.kube, ps, choice, points, "spec.recoveryPoint");
        if (!chosen.ok) {
          ctx.setCondition(ps, { type: "FailedOver", status: "False", reason: chosen.problem.reason, message: chosen.problem.message });
          return RETRY_MS;
        }
        const newest = points.at(-1);
        Object.assign(fo, {
          pointID: chosen.value.id,
          recoveryPoint: cloudRecoveryPointName(ps, chosen.value),
          pointTime: chosen.value.time,
          step: "BringingUp",
          ...(fo.planned ? {} : { dataAtRiskSeconds: newest ? Math.max(0, Math.round((Date.now() - Date.parse(newest.time)) / 1000)) : 0 }),
        });
        return STEP_MS;
      }
      case "BringingUp": {
        const made = recoveredOf(fo);
        // The server's own network is checked before anything is made for it (the image first), not at every poll after.
        const network = await recoveryNetworkOf(ps, c.pair, sites, () => namespaceNetworkRoles(ctx, ps.metadata.namespace ?? ""), !made.imageId && !made.instanceId);
        if (!network.ok) {
          ctx.setCondition(ps, { type: "FailedOver", status: "False", reason: network.problem.reason, message: `${network.problem.message}; the failover goes on once it is fixed` });
          return RETRY_MS;
        }
        const point = await this.pointById(c, "forward", sites.recoverySite.region, fo.pointID ?? "");
        if (!point) {
          fo.step = "ChoosingPoint";
          return STEP_MS;
        }
        const name = ps.spec.recovery?.vmName ?? status.source?.name ?? ps.metadata.name ?? "server";
        const target = failoverTarget(ps.spec.recovery, sites.recoverySite, network.value, name, recoveryTags(c, attemptTag()), clientToken(ps.metadata.uid ?? "", attemptTag()));
        const step = await bringUp(sites.ecs, { point }, target, made);
        recordRecovered(fo, made);
        if (made.instanceId) fo.vm = { instanceId: made.instanceId, name: target.name, regionId: target.region };
        if (step.state === "running") {
          ctx.setCondition(ps, { type: "FailedOver", status: "False", reason: "FailingOver", message: step.message });
          return STEP_MS;
        }
        if (step.state === "failed") {
          fo.step = "Failed";
          ctx.setCondition(ps, { type: "FailedOver", status: "False", reason: step.reason, message: `${step.message}; everything the attempt made is deleted and the failover tried again` });
          await ctx.events.record(ps, "Warning", "FailoverFailed", step.message);
          return RETRY_MS;
        }
        const now = new Date();
        Object.assign(fo, { step: "Done", poweredOnTime: isoSeconds(now), rtoSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(fo.requestTime ?? now.toISOString())) / 1000)) });
        fo.vm = { instanceId: step.instance.instanceId, name: step.instance.name, regionId: step.instance.regionId };
        this.recordRto(c, "failover", fo.rtoSeconds ?? 0);
        await ctx.events.record(ps, "Normal", "FailedOver", `running at the recovery site as instance ${step.instance.instanceId} in ${step.instance.zoneId} from ${fo.recoveryPoint ?? ""}; RTO ${fo.rtoSeconds ?? 0} s${fo.planned ? ", planned: no data lost" : `, ${fo.dataAtRiskSeconds ?? 0} s of data at risk`}`);
        return STEP_MS;
      }
      default:
        fo.step = "Starting";
        return STEP_MS;
    }
  }

  /** The post script of a failover or failback that is done (cloud-post-script.ts); not run on an instance left stopped (powerOn false). */
  private postScript(c: CloudDrContext, holder: Parameters<typeof advancePostScript>[2], script: PostScript | undefined, regionId: string, what: "failover" | "failback", attempt: string): Promise<number | undefined> {
    const { ps, ctx } = c;
    if (ps.spec.recovery?.powerOn === false) return Promise.resolve(undefined);
    return advancePostScript(c.sites.ecs, regionId, holder, script, `lifeboat-${what}-${ps.metadata.namespace ?? ""}-${ps.metadata.name ?? ""}`, clientToken(ps.metadata.uid ?? "", what, attempt), (type, reason, message) => ctx.events.record(ps, type, reason, message));
  }

  /**
   * The commit (seed 004: complete failover): stops the protected instance
   * (the fence; it is never deleted), and deletes the image the recovered
   * instance was made from (its disks are its own).
   */
  private async commit(c: CloudDrContext, fo: Failover): Promise<number> {
    const { sites, ps, ctx } = c;
    fo.committed = true;
    if (!fo.fenced) {
      let source: InstanceInfo | undefined;
      try {
        source = await sites.ecs.instance(sites.protectedSite.region, ps.status?.source?.instanceId ?? "");
      } catch (err) {
        ctx.setCondition(ps, { type: "SourceFenced", status: "False", reason: "ProtectedSiteUnreachable", message: `could not stop the protected instance yet: ${describe(err)}` });
        return RETRY_MS;
      }
      if (source && source.status !== "Stopped") {
        // The fence must hold: forced after a while, and waited for however long it takes (the condition says so).
        const stop = await stopStep(c.sites.ecs, sites.protectedSite.region, source.instanceId, fo);
        if (stop === "giveUp") ctx.setCondition(ps, { type: "SourceFenced", status: "False", reason: "NotStopping", message: `the protected instance ${source.instanceId} is ${source.status} and does not stop, even forced; Lifeboat keeps trying` });
        if (stop === "giveUp") await sites.ecs.stopInstance(sites.protectedSite.region, source.instanceId, true).catch(() => undefined);
        if (stop !== "stopped" && stop !== "gone") return STEP_MS;
      }
      fo.fenced = true;
      ctx.setCondition(ps, { type: "SourceFenced", status: "True", reason: source ? "Stopped" : "Gone", message: source ? `the protected instance ${source.instanceId} is stopped (never deleted)` : "the protected instance no longer exists" });
      await ctx.events.record(ps, "Normal", "FailoverCommitted", `failover committed; the protected instance ${ps.status?.source?.instanceId ?? ""} is stopped`);
    }
    if (fo.imageId) {
      await sites.ecs.deleteImage(sites.recoverySite.region, fo.imageId);
      delete fo.imageId;
      return STEP_MS;
    }
    return 30_000;
  }

  /**
   * Back to Replicating before the commit: deletes what every attempt made,
   * starts the protected instance again when the failover stopped it.
   * Returns true once that is done.
   */
  private async cancelFailover(c: CloudDrContext): Promise<boolean> {
    const { ps, ctx, sites } = c;
    const fo = ps.status?.failover;
    if (!fo) return true;
    let left = 0;
    for (let n = 1; n <= (fo.attempt ?? 1); n++) left += (await tearDown(sites.ecs, sites.recoverySite.region, recoveryTags(c, failoverTag(fo, n)), n === fo.attempt ? recoveredOf(fo) : {})).length;
    if (left > 0) {
      this.stopped(c, "CancellingFailover", `deleting what the failover made (${left} left)`);
      return false;
    }
    if (fo.sourceStopped) {
      const source = await sites.ecs.instance(sites.protectedSite.region, ps.status?.source?.instanceId ?? "");
      if (source?.status === "Stopped") await sites.ecs.startInstance(sites.protectedSite.region, source.instanceId);
      if (source && source.status !== "Running") return false;
    }
    await ctx.events.record(ps, "Normal", "FailoverCancelled", "the failover was cancelled before its commit: what it made is deleted and replication goes on");
    delete ps.status?.failover;
    return true;
  }

  private async reverse(c: CloudDrContext): Promise<number> {
    const status = (c.ps.status ??= {});
    const fo = status.failover;
    status.reverse ??= { step: "Replicating", seedPointID: fo?.pointID ?? "" };
    switchDirection(status, "Reverse");
    return runCloudCycles(c, reverseCloudLine(c));
  }

  private async failback(c: CloudDrContext): Promise<number> {
    const { ps, ctx, sites } = c;
    const status = (ps.status ??= {});
    status.reverse ??= { step: "Replicating", seedPointID: status.failover?.pointID ?? "" };
    switchDirection(status, "Reverse");
    const fb: Failback = (status.failback ??= { requestTime: isoSeconds(new Date()), step: "StoppingRecovered" });
    // The failback instance runs: the post-recovery script runs in it (and again once changed after a failure).
    if (fb.step === "Done") return (await this.postScript(c, fb, ps.spec.failback?.postScript, sites.protectedSite.region, "failback", String(fb.attempt ?? 1))) ?? 30_000;
    const line = reverseCloudLine(c);
    switch (fb.step) {
      case "StoppingRecovered": {
        // A reverse cycle running now ends first.
        if (status.currentCycle?.id && !(await followCloudCycle(c, line, status.currentCycle.id))) return STEP_MS;
        if (!fb.shutdown) {
          // A network the server names is checked before the recovered instance is stopped, as a failover's before it stops the original.
          const named = await failbackNetworkOf(ps, c.pair, sites);
          if (!named.ok) {
            ctx.setCondition(ps, { type: "FailedBack", status: "False", reason: named.problem.reason, message: `${named.problem.message}; nothing is stopped or made until it is fixed` });
            return RETRY_MS;
          }
        }
        const recovered = await sites.ecs.instance(line.instanceRegion, line.instanceId);
        fb.shutdown ??= recovered?.status === "Stopped" ? "alreadyOff" : "guest";
        const stop = await stopStep(c.sites.ecs, line.instanceRegion, line.instanceId, fb);
        if (stop === "waiting") return STEP_MS;
        if (stop === "stopped") {
          fb.step = "FinalCycle";
          return STEP_MS;
        }
        await ctx.events.record(ps, "Warning", "PlannedFailbackFailed", stop === "gone" ? "the recovered instance is gone; failing back from the newest reverse point" : "the recovered instance did not stop, even forced, in 10 minutes; failing back from the newest reverse point");
        fb.step = "ChoosingPoint";
        return STEP_MS;
      }
      case "FinalCycle": {
        const point = await this.lastCycle(c, line, fb);
        if (point === "running") return STEP_MS;
        if (point) {
          Object.assign(fb, { pointID: point.id, step: "BringingUp" });
          return STEP_MS;
        }
        fb.step = "ChoosingPoint";
        return STEP_MS;
      }
      case "ChoosingPoint": {
        const newest = (await listCloudPoints(sites.ecs, ps, "reverse", sites.protectedSite.region)).at(-1);
        if (!newest) {
          ctx.setCondition(ps, { type: "FailedBack", status: "False", reason: "NoRecoveryPoint", message: "the recovered instance cannot be snapshotted and there is no reverse point to fail back to" });
          return RETRY_MS;
        }
        Object.assign(fb, { pointID: newest.id, step: "BringingUp" });
        return STEP_MS;
      }
      case "BringingUp": {
        const point = await this.pointById(c, "reverse", sites.protectedSite.region, fb.pointID ?? "");
        if (!point) {
          fb.step = "ChoosingPoint";
          return STEP_MS;
        }
        // Checked before anything is made for the failback, as the failover's.
        const named = await failbackNetworkOf(ps, c.pair, sites, !fb.imageId && !fb.vm?.instanceId);
        if (!named.ok) {
          ctx.setCondition(ps, { type: "FailedBack", status: "False", reason: named.problem.reason, message: `${named.problem.message}; the failback goes on once it is fixed` });
          return RETRY_MS;
        }
        const network = named.value ?? (await this.originalNetwork(c));
        if (!network) {
          ctx.setCondition(ps, { type: "FailedBack", status: "False", reason: "NoSourceNetwork", message: `the original instance is gone, and neither SitePair ${c.pair.metadata.name ?? ""} spec.sourceNetwork nor the server's spec.failback.network is set: the failback instance needs a vSwitch and security group` });
          return RETRY_MS;
        }
        const name = `${status.source?.name ?? ps.metadata.name ?? "server"}-failback`;
        const round = `${cycleIdAt(new Date(fb.requestTime ?? 0))}-${fb.attempt ?? 1}`;
        const failback = ps.spec.failback ?? {};
        const target: RecoveryTarget = {
          region: sites.protectedSite.region,
          zone: sites.protectedSite.zone,
          network,
          ...sizeOf(failback),
          privateIpAddress: failback.privateIpAddress,
          eip: false,
          powerOn: ps.spec.recovery?.powerOn ?? true,
          name,
          tags: recoveryTags(c, `failback-${round}`),
          token: clientToken(ps.metadata.uid ?? "", "failback", round),
        };
        const made: Recovered = { instanceType: fb.instanceType, imageId: fb.imageId, instanceId: fb.vm?.instanceId };
        const step = await bringUp(sites.ecs, { point }, target, made);
        fb.imageId = made.imageId;
        if (made.instanceType) fb.instanceType = made.instanceType;
        if (made.instanceId) fb.vm = { instanceId: made.instanceId, name, regionId: target.region };
        if (step.state === "running") {
          ctx.setCondition(ps, { type: "FailedBack", status: "False", reason: "FailingBack", message: step.message });
          return STEP_MS;
        }
        if (step.state === "failed") {
          ctx.setCondition(ps, { type: "FailedBack", status: "False", reason: step.reason, message: `${step.message}; deleting what the attempt made and trying again` });
          await ctx.events.record(ps, "Warning", "FailbackFailed", step.message);
          const left = await tearDown(sites.ecs, target.region, target.tags, made);
          if (left.length === 0) {
            // The next attempt has its own tags and ClientTokens: ECS would answer a used token with the deleted resource.
            delete fb.imageId;
            delete fb.instanceType;
            delete fb.vm;
            fb.attempt = (fb.attempt ?? 1) + 1;
          }
          return RETRY_MS;
        }
        if (fb.imageId) await sites.ecs.deleteImage(target.region, fb.imageId);
        delete fb.imageId;
        const now = new Date();
        Object.assign(fb, { step: "Done", poweredOnTime: isoSeconds(now), rtoSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(fb.requestTime ?? now.toISOString())) / 1000)) });
        fb.vm = { instanceId: step.instance.instanceId, name: step.instance.name, regionId: step.instance.regionId };
        this.recordRto(c, "failback", fb.rtoSeconds ?? 0);
        await ctx.events.record(ps, "Normal", "FailedBack", `running at the protected site again as instance ${step.instance.instanceId} in ${step.instance.zoneId}; set desiredState to Replicating to protect it`);
        return 30_000;
      }
      default:
        return 30_000;
    }
  }

  /**
   * Back to Replicating after a failback: the failback instance is the
   * protected instance now, and the recovered instance (stopped, its last
   * state in the failback point) is deleted with what its failover made.
   */
  private async resumeAfterFailback(c: CloudDrContext): Promise<boolean> {
    const { ps, ctx, sites } = c;
    const status = (ps.status ??= {});
    const fo = status.failover;
    if (fo) {
      const left = await tearDown(sites.ecs, sites.recoverySite.region, recoveryTags(c, failoverTag(fo, fo.attempt ?? 1)), recoveredOf(fo));
      if (left.length > 0) {
        this.stopped(c, "CleaningUp", `deleting the recovered instance after the failback (${left.join(", ")})`);
        return false;
      }
    }
    // The reverse chain's points are of the recovered instance, which is gone: they go too, in both regions.
    for (const region of new Set([sites.protectedSite.region, sites.recoverySite.region])) {
      for (const s of await sites.ecs.snapshotsTagged(region, chainTags(ps, "reverse"))) {
        try {
          await sites.ecs.deleteSnapshot(region, s.snapshotId);
        } catch (err) {
          ctx.log.warn({ snapshot: s.snapshotId, err: describe(err) }, "Could not delete a reverse point's snapshot; it is left in ECS");
        }
      }
    }
    await syncCloudRecoveryPoints(ps, "reverse", [], "", ctx);
    const fb = status.failback;
    if (fb?.vm) status.source = { ...fb.vm };
    switchDirection(status, "Forward");
    await ctx.events.record(ps, "Normal", "ReplicationResumed", `replicating instance ${fb?.vm?.instanceId ?? ""} to the recovery site again; the recovered instance ${fo?.vm?.instanceId ?? ""} is deleted`);
    delete status.failover;
    delete status.reverse;
    delete status.failback;
    delete status.lastCycle;
    return true;
  }

  /**
   * The last cycle of a planned failover or failback, of the stopped
   * instance: a cycle running now ends first. Returns its point, "running",
   * or undefined when it failed (the caller falls back to the newest point).
   */
  private async lastCycle(c: CloudDrContext, line: CloudLine, step: { lastCycle?: string | undefined; finalCycle?: string | undefined }): Promise<CloudPoint | "running" | undefined> {
    const status = (c.ps.status ??= {});
    if (status.currentCycle?.id && status.currentCycle.id !== step.lastCycle) {
      step.finalCycle = status.currentCycle.id;
      await followCloudCycle(c, line, status.currentCycle.id);
      return "running";
    }
    if (!step.lastCycle) {
      if (status.lastCycle?.startTime && Date.parse(status.lastCycle.startTime) >= Date.now() - 1000) return "running"; // one cycle id per second
      step.lastCycle = startCloudCycle(status, line, new Date()).id;
    }
    const ended = await followCloudCycle(c, line, step.lastCycle ?? "");
    if (!ended) return "running";
    if (ended.result !== "Succeeded") return undefined;
    return this.pointById(c, line.direction, line.pointRegion, ended.pointID ?? "");
  }

  private async pointById(c: CloudDrContext, direction: "forward" | "reverse", region: string, id: string): Promise<CloudPoint | undefined> {
    return (await listCloudPoints(c.sites.ecs, c.ps, direction, region)).find((p) => p.id === id);
  }

  /** The original instance's vSwitch and security group, for a failback to a new instance beside it. */
  private async originalNetwork(c: CloudDrContext): Promise<CloudNetwork | undefined> {
    const original = await c.sites.ecs.instance(c.sites.protectedSite.region, c.ps.status?.source?.instanceId ?? "");
    const sg = original?.securityGroupIds[0];
    return original?.vSwitchId && sg ? { vSwitchId: original.vSwitchId, securityGroupId: sg } : undefined;
  }

  private recordRto(c: CloudDrContext, operation: "failover" | "failback", seconds: number): void {
    const labels = { namespace: c.ps.metadata.namespace ?? "", protected_server: c.ps.metadata.name ?? "", operation };
    c.ctx.afterStatusWrite(() => { c.ctx.metrics.recoveryTime.set(labels, seconds); });
  }

  private stopped(c: CloudDrContext, reason: string, message: string): void {
    c.ctx.setCondition(c.ps, { type: "Replicating", status: "False", reason, message });
  }
}
