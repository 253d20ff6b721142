/**
 * Failover of a protected server (seed 004 step 4): bring it up at the
 * recovery site from a chosen point. "latest" means the current time: when
 * the protected site answers, a planned failover (a last cycle, a guest
 * shutdown, one more cycle of the stopped VM: no data loss); otherwise the
 * newest point, with the data at risk said. Before commit the point can be
 * changed (the recovered VM is replaced); commit makes it final and fences
 * the original server. One step runs per reconcile, so each step's record is
 * in status before the next step's effect, and every effect is idempotent
 * (Job names and restore ids are deterministic per failover round and
 * attempt, and VMs carry their restore id), so an operator killed at any
 * moment never makes a second VM.
 */
import type { ProtectedServer } from "../api/generated/types.js";
import { POINT_CHOICES } from "../api/protected-server.js";
import { isoSeconds } from "../util/time.js";
import { describe } from "../runtime/errors.js";
import { shortHash } from "../workloads/worker-job.js";
import { createServerRestoreJob, deleteJob, drJobName, jobOutcome } from "./dr-jobs.js";
import { choosePoint, lineagePoints, pointsToChoose, type ChosenPoint } from "./dr-points.js";
import { failoverGroupChoice } from "./consistency-groups.js";
import { networksOf } from "../worker/labels.js";
import { siteClient, siteProblem, usable, type DrContext } from "./dr-context.js";
import { captureBaseline, destroyCreatedVm, fence, findKnownVm, identityOf, shutDown, vmsMarked } from "./dr-vsphere.js";
import { planNetworks, unmappedMessage } from "./network-mapping.js";
import type { ReplicationCycles, ReplicationLine } from "./replication-cycles.js";
import { discardEcsAttempt, ecsPostScript, ecsRecoveryNetworkProblem, restoreToEcs } from "./cloud-vault-recovery.js";

type Status = NonNullable<ProtectedServer["status"]>;
export type FailoverStatus = NonNullable<Status["failover"]>;

/** How often a step that waits for something outside (a worker, a site coming back) looks again. */
const STEP_POLL_MS = 3_000;
const WAIT_POLL_MS = 15_000;
/** After a step moved on: the next runs in the next reconcile, once this one's record is written. */
export const NEXT_STEP_MS = 200;

/** One failover round (a failover and what follows it: reverse replication, failback), named by when it was asked for. */
export function roundOf(fo: { requestTime?: string | undefined } | undefined): string {
  return shortHash(fo?.requestTime ?? "").slice(0, 6);
}

/** The restore id written into a VM DR makes: finds exactly that VM again, and no VM of another round or attempt. */
export function restoreIdOf(ps: { metadata: { uid?: string } }, what: string, round: string, attempt: number): string {
  return `lifeboat-${what}-${shortHash(ps.metadata.uid ?? "")}-${round}-${attempt}`;
}

/** The name of the recovered VM. */
export function recoveredVmName(ps: ProtectedServer): string {
  return ps.spec.recovery?.vmName ?? ps.spec.source.vmName ?? ps.metadata.name ?? "server";
}

/** A VMwareToCloud pair: the recovery site is ECS, reached through a converted image (cloud-vault-recovery.ts). */
export function toEcs(dr: DrContext): boolean {
  return dr.pair.spec.type === "VMwareToCloud";
}

export class Failover {
  constructor(private readonly cycles: ReplicationCycles) {}

  /**
   * Moves the failover on by one or more steps. `forward` is the forward
   * replication line when the protected site is usable (the planned path
   * needs it). Returns when to look again.
   */
  async advance(dr: DrContext, forward: ReplicationLine | undefined): Promise<number> {
    const { ps, ctx } = dr;
    const status = (ps.status ??= {});
    const choice = ps.spec.recoveryPoint ?? POINT_CHOICES.latest;
    let fo = status.failover;
    if (!fo?.requestTime) {
      fo = status.failover = { requestTime: isoSeconds(new Date()), attempt: 1, choice, step: "ChoosingPoint" };
      await ctx.events.record(ps, "Normal", "FailoverStarted", `failing over to the recovery site from ${choice}`);
    }
    if (fo.choice !== choice && !fo.committed) {
      const wait = await this.changePoint(dr, fo, choice);
      if (wait !== undefined) return wait;
      fo = status.failover ?? fo;
    }
    if (fo.step === "Failed") {
      const retry = ps.spec.resumeRequest && ps.spec.resumeRequest !== status.handledResumeRequest;
      if (!retry) return 60_000;
      if (!(await this.retry(dr, fo))) return STEP_POLL_MS;
      status.handledResumeRequest = ps.spec.resumeRequest;
    }
    const before = fo.step;
    const wait = await this.step(dr, fo, forward);
    if (wait !== undefined) return wait;
    if (fo.step !== before) return NEXT_STEP_MS;
    // An ECS instance runs: the switch-over script runs in it (and again once changed after a failure), beside the commit.
    if (fo.step !== "Done") return STEP_POLL_MS;
    // The fence first: a script that waits for its agent must not hold it.
    const next = ps.spec.commitFailover ? await this.commit(dr, fo) : 60_000;
    const script = toEcs(dr) ? await ecsPostScript(dr, fo) : undefined;
    return Math.min(next, script ?? Infinity);
  }

  /** One step; returns a requeue delay when it must wait, undefined when it moved on. */
  private async step(dr: DrContext, fo: FailoverStatus, forward: ReplicationLine | undefined): Promise<number | undefined> {
    switch (fo.step) {
      case "ChoosingPoint":
        return this.choose(dr, fo, forward);
      case "FinalCycle":
      case "LastCycle":
        return this.plannedCycle(dr, fo, forward);
      case "ShuttingDown":
        return this.shutDownSource(dr, fo);
      case "Restoring":
        return toEcs(dr) ? restoreToEcs(dr, fo, roundOf(fo), recoveredVmName(dr.ps), (reason, message, after) => this.waiting(dr, fo, reason, message, after)) : this.restore(dr, fo);
      case "Baseline":
        return this.baseline(dr, fo);
      case "PoweringOn":
        // An ECS instance runs already: bringUp started it (or left it stopped, as spec.recovery.powerOn asks).
        return toEcs(dr) ? this.done(dr, fo, `ECS instance ${fo.vm?.instanceId ?? ""}`) : this.powerOn(dr, fo);
      default:
        return undefined;
    }
  }

  private async choose(dr: DrContext, fo: FailoverStatus, forward: ReplicationLine | undefined): Promise<number | undefined> {
    const { ps, ctx } = dr;
    const choice = fo.choice ?? POINT_CHOICES.latest;
    if (toEcs(dr)) {
      // Before the protected VM is shut down for a planned failover, or a point converted.
      const problem = await ecsRecoveryNetworkProblem(dr);
      if (problem) return this.waiting(dr, fo, problem.reason, `${problem.message}; nothing is stopped or made until it is fixed`);
    }
    if (choice === POINT_CHOICES.latest && !fo.latestUsed) {
      fo.latestUsed = true;
      if (forward && (await this.sourceAnswers(dr))) {
        fo.planned = true;
        fo.step = "FinalCycle";
        ctx.log.info("The protected site answers: planned failover with a last cycle");
        return undefined;
      }
      fo.planned = false;
    }
    const vault = dr.recoverySite.vault;
    if (!vault.ok) return this.waiting(dr, fo, vault.problem.reason, `the recovery site's vault is not usable: ${vault.problem.message}`);
    const points = await pointsToChoose(ctx.kube, vault.value, ps);
    const group = failoverGroupChoice(ps, ctx.listCached<ProtectedServer>("ProtectedServer", ps.metadata.namespace ?? ""));
    const chosen = await choosePoint(ctx.kube, ps, vault.value, choice === POINT_CHOICES.latest ? POINT_CHOICES.latest : choice, points, "spec.recoveryPoint", group);
    if (!chosen.ok) return this.waiting(dr, fo, chosen.problem.reason, chosen.problem.message);
    this.record(fo, chosen.value);
    if (chosen.value.notShared) await ctx.events.record(ps, "Warning", "NoSharedPoint", chosen.value.notShared);
    if (choice === POINT_CHOICES.latest && !fo.planned) {
      fo.dataAtRiskSeconds = Math.max(0, Math.round((Date.now() - Date.parse(chosen.value.point.time)) / 1000));
      await ctx.events.record(ps, "Warning", "UnplannedFailover", `the protected site does not answer: failing over from the newest point ${chosen.value.recoveryPoint} (${fo.dataAtRiskSeconds} s of data at risk)`);
    }
    fo.step = "Restoring";
    return undefined;
  }

  private record(fo: FailoverStatus, chosen: ChosenPoint): void {
    fo.recoveryPoint = chosen.recoveryPoint;
    fo.pointID = chosen.point.id;
    fo.pointTime = isoSeconds(chosen.point.time);
    if (chosen.groupTick) fo.groupTick = chosen.groupTick;
    else delete fo.groupTick;
  }

  /** Whether the protected site answers now: its vCenter Connected and the VM there. */
  private async sourceAnswers(dr: DrContext): Promise<boolean> {
    if (siteProblem(dr.protectedSite, ["vcenter"])) return false;
    try {
      const vm = await findKnownVm(await siteClient(dr, dr.protectedSite), dr.ps.status?.source ?? { name: dr.ps.spec.source.vmName });
      return vm !== undefined;
    } catch {
      return false;
    }
  }

  /**
   * The planned path's cycles: a last cycle of the running VM (so the stop
   * is short), then, after the guest shutdown, one of the stopped VM: its
   * point holds everything the server wrote. A failure on the way means the
   * protected site stopped answering: fall back to the newest point.
   */
  private async plannedCycle(dr: DrContext, fo: FailoverStatus, forward: ReplicationLine | undefined): Promise<number | undefined> {
    const { ps, ctx } = dr;
    const status = (ps.status ??= {});
    if (!forward) {
      const gone = siteProblem(dr.protectedSite, ["vcenter"]);
      if (gone) return this.fallBack(dr, fo, `the protected site stopped answering: ${gone.message}`);
      return this.waiting(dr, fo, "SiteNotReady", `the planned failover waits for the protected site's Gateway and the recovery site's vault: ${(siteProblem(dr.protectedSite, ["gateway"]) ?? siteProblem(dr.recoverySite, ["vault"]))?.message ?? ""}`);
    }
    const which = fo.step === "FinalCycle" ? "finalCycle" : "lastCycle";
    const cycle = await this.cycles.needed(ps, forward, ctx, dr.pins, fo[which], new Date(fo.requestTime ?? Date.now()));
    if (cycle.state === "waiting") return this.waiting(dr, fo, "WaitingForGateway", `the ${which === "finalCycle" ? "last cycle before the shutdown" : "cycle of the stopped VM"} waits: ${cycle.why}`);
    if (cycle.state === "started") fo[which] = cycle.id;
    if (cycle.state !== "ended") return STEP_POLL_MS;
    const last = cycle.cycle;
    if (last.result !== "Succeeded") return this.fallBack(dr, fo, `cycle ${last.id ?? ""} failed (${last.reason ?? "CycleFailed"})`);
    if (which === "finalCycle") {
      fo.step = "ShuttingDown";
      return undefined;
    }
    fo.recoveryPoint = last.recoveryPoint;
    fo.pointID = last.pointID;
    fo.pointTime = status.lastRecoveryPointTime;
    fo.dataAtRiskSeconds = 0;
    fo.step = "Restoring";
    await ctx.events.record(ps, "Normal", "PlannedFailoverPoint", `the stopped server's last cycle made ${last.recoveryPoint ?? ""}: nothing it wrote is lost`);
    return undefined;
  }

  private async shutDownSource(dr: DrContext, fo: FailoverStatus): Promise<number | undefined> {
    const { ps, ctx } = dr;
    if (toEcs(dr) && fo.sourceStopped === undefined) {
      // Checked again right before the shutdown: the last cycle before it may have taken long (a held resync made in it).
      const problem = await ecsRecoveryNetworkProblem(dr);
      if (problem) return this.waiting(dr, fo, problem.reason, `${problem.message}; the protected VM is not shut down until it is fixed`);
    }
    try {
      const client = await siteClient(dr, dr.protectedSite);
      const vm = await findKnownVm(client, ps.status?.source ?? { name: ps.spec.source.vmName });
      if (!vm) return await this.fallBack(dr, fo, "the protected VM is gone");
      if (fo.sourceStopped === undefined) {
        // Recorded before the shutdown, from the power state before it: a cancel powers on again exactly what the failover stopped.
        fo.sourceStopped = vm.powerState !== "poweredOff";
        return NEXT_STEP_MS;
      }
      fo.sourceShutdown = await shutDown(client, vm);
      ctx.log.info({ vm: vm.name, how: fo.sourceShutdown }, "Stopped the protected VM for a planned failover");
      fo.step = "LastCycle";
      return undefined;
    } catch (err) {
      return this.fallBack(dr, fo, `the protected VM could not be shut down: ${describe(err)}`);
    }
  }

  /** The planned path cannot finish: the newest point it has is used, as for an unplanned failover. */
  private async fallBack(dr: DrContext, fo: FailoverStatus, why: string): Promise<number | undefined> {
    fo.planned = false;
    fo.step = "ChoosingPoint";
    await dr.ctx.events.record(dr.ps, "Warning", "PlannedFailoverFailed", `${why}; failing over from the newest point instead`);
    return undefined;
  }

  private async restore(dr: DrContext, fo: FailoverStatus): Promise<number | undefined> {
    const { ps, ctx, pair } = dr;
    const ns = ps.metadata.namespace ?? "";
    const usableSite = usable(dr.recoverySite, ["vcenter", "gateway", "vault"]);
    if (!usableSite.ok) return this.waiting(dr, fo, usableSite.problem.reason, `waiting for the recovery site: ${usableSite.problem.message}`);
    const site = usableSite.value;
    const attempt = fo.attempt ?? 1;
    const job = drJobName(ps, `failover-${roundOf(fo)}-${attempt}`);
    const restoreId = restoreIdOf(ps, "failover", roundOf(fo), attempt);
    const vmName = recoveredVmName(ps);
    if (!fo.job) {
      const points = await lineagePoints(ctx.kube, site.vault, ps, "forward");
      const point = points.find((p) => p.id === fo.pointID);
      if (!point) return this.waiting(dr, fo, "PointNotFound", `point ${fo.pointID ?? ""} is not in vault ${site.vault.metadata.name ?? ""} any more; choose another spec.recoveryPoint`);
      const nets = planNetworks(pair, networksOf(point.labels), "recovery");
      if (nets.unmapped.length > 0) return this.waiting(dr, fo, "UnmappedNetwork", unmappedMessage(pair, nets.unmapped, "recovery"));
      const datastore = ps.spec.recovery?.datastore ?? pair.spec.target.datastore ?? "";
      await createServerRestoreJob(ctx.kube, ps, job, point.id, site, {
          datastore,
          ...(pair.spec.target.datacenter ? { datacenter: pair.spec.target.datacenter } : {}),
          vmName,
          inPlace: false,
          networkMappings: nets.mappings,
          requireNetworkMapping: true,
          diskProvisioning: ps.spec.recovery?.diskProvisioning ?? "Thin",
          powerOn: false,
          ...(ps.spec.recovery?.cpu ? { numCpu: ps.spec.recovery.cpu } : {}),
          ...(ps.spec.recovery?.memoryGiB ? { memoryMB: ps.spec.recovery.memoryGiB * 1024 } : {}),
          annotation: `Recovered by Lifeboat: failover of ProtectedServer ${ns}/${ps.metadata.name ?? ""} from ${fo.recoveryPoint ?? point.id} (${restoreId})`,
          restoreId,
      });
      fo.job = job;
      fo.restoreId = restoreId;
      ctx.log.info({ job, point: point.id, vm: vmName }, "Started the failover restore");
      return STEP_POLL_MS;
    }
    const outcome = await jobOutcome(ctx.kube, ns, fo.job, false);
    if (outcome.state === "Running") return this.waiting(dr, fo, "Restoring", `worker ${fo.job} is writing the recovered VM's disks from ${fo.recoveryPoint ?? ""}`, STEP_POLL_MS);
    if (outcome.state === "Failed") {
      fo.step = "Failed";
      ctx.setCondition(ps, { type: "FailedOver", status: "False", reason: outcome.reason, message: `${outcome.message}; set spec.resumeRequest to a new value to try again` });
      await ctx.events.record(ps, "Warning", "FailoverFailed", outcome.message);
      return undefined;
    }
    if (outcome.state === "Missing") {
      delete fo.job; // created again at once, with the same name: the worker replaces a half-made VM of this restore id
      return STEP_POLL_MS;
    }
    const client = await siteClient(dr, dr.recoverySite);
    const [vm, ...more] = await vmsMarked(client, vmName, restoreId);
    if (!vm || more.length > 0) return this.waiting(dr, fo, "RecoveredVMNotFound", `the restore finished but ${vm ? "more than one" : "no"} VM named "${vmName}" carries restore id ${restoreId}`);
    fo.vm = identityOf(vm);
    fo.step = "Baseline";
    return undefined;
  }

  /** CBT is enabled on the recovered VM before it ever runs, and its changeIds recorded: reverse replication reads only what changes after. */
  private async baseline(dr: DrContext, fo: FailoverStatus): Promise<number | undefined> {
    const client = await siteClient(dr, dr.recoverySite);
    const vm = await findKnownVm(client, fo.vm ?? {});
    if (!vm) return this.waiting(dr, fo, "RecoveredVMNotFound", `the recovered VM ${fo.vm?.moRef ?? ""} is gone`);
    fo.baseline = await captureBaseline(client, vm);
    fo.step = "PoweringOn";
    return undefined;
  }

  private async powerOn(dr: DrContext, fo: FailoverStatus): Promise<number | undefined> {
    const { ps } = dr;
    const client = await siteClient(dr, dr.recoverySite);
    const vm = await findKnownVm(client, fo.vm ?? {});
    if (!vm) return this.waiting(dr, fo, "RecoveredVMNotFound", `the recovered VM ${fo.vm?.moRef ?? ""} is gone`);
    if ((ps.spec.recovery?.powerOn ?? true) && vm.powerState !== "poweredOn") await client.powerOn(vm.ref);
    return this.done(dr, fo, `VM ${vm.name} (${vm.ref.value})`);
  }

  /** The failover is done: the RTO is measured (status and metric) and said. */
  private async done(dr: DrContext, fo: FailoverStatus, running: string): Promise<undefined> {
    const { ps, ctx } = dr;
    const now = new Date();
    fo.poweredOnTime = isoSeconds(now);
    fo.rtoSeconds = Math.max(0, Math.round((now.getTime() - Date.parse(fo.requestTime ?? isoSeconds(now))) / 1000));
    fo.step = "Done";
    const labels = { namespace: ps.metadata.namespace ?? "", protected_server: ps.metadata.name ?? "", operation: "failover" };
    const rto = fo.rtoSeconds;
    ctx.afterStatusWrite(() => { ctx.metrics.recoveryTime.set(labels, rto); });
    await ctx.events.record(ps, "Normal", "FailedOver", `running at the recovery site as ${running} from ${fo.recoveryPoint ?? ""}; RTO ${rto} s${fo.planned ? ", planned: no data lost" : `, ${fo.dataAtRiskSeconds ?? 0} s of data at risk`}`);
    return undefined;
  }

  /**
   * Commit: final, the points are no longer pinned, and the original server
   * is fenced (powered off, NICs disconnected) so the two can never both run.
   * Fencing waits for the protected site when it does not answer, and says so.
   */
  async commit(dr: DrContext, fo: FailoverStatus): Promise<number> {
    const { ps, ctx } = dr;
    if (!fo.committed) {
      fo.committed = true;
      await ctx.events.record(ps, "Normal", "FailoverCommitted", `the failover to ${fo.vm?.name ?? ""} is final; fencing the original server`);
    }
    if (fo.fenced && toEcs(dr) && fo.job && fo.imageId) {
      // The recovered instance's disks are its own: the converted image (and what its conversion left) goes.
      const left = await discardEcsAttempt(dr, fo, true);
      if (left) return this.waiting(dr, fo, "CleaningUp", `deleting the failover's image: ${left}`, STEP_POLL_MS);
    }
    if (fo.fenced) return 60_000;
    const problem = siteProblem(dr.protectedSite, ["vcenter"]);
    if (problem) {
      ctx.setCondition(ps, { type: "SourceFenced", status: "False", reason: "SourceUnreachable", message: `waiting for the protected site to fence the original server: ${problem.message}` });
      return WAIT_POLL_MS;
    }
    try {
      const client = await siteClient(dr, dr.protectedSite);
      const vm = await findKnownVm(client, ps.status?.source ?? { name: ps.spec.source.vmName });
      if (vm) await fence(client, vm);
      fo.fenced = true;
      ctx.setCondition(ps, { type: "SourceFenced", status: "True", reason: vm ? "Fenced" : "SourceGone", message: vm ? `VM ${vm.name} (${vm.ref.value}) is powered off with its NICs disconnected; it is kept for reverse replication` : "the original VM no longer exists at the protected site" });
      await ctx.events.record(ps, "Normal", "SourceFenced", vm ? `fenced ${vm.name}: powered off, NICs disconnected` : "the original VM is gone; nothing to fence");
      return toEcs(dr) && fo.imageId ? NEXT_STEP_MS : 60_000;
    } catch (err) {
      ctx.setCondition(ps, { type: "SourceFenced", status: "False", reason: "FenceFailed", message: `could not fence the original server yet: ${describe(err)}` });
      return WAIT_POLL_MS;
    }
  }

  /**
   * A new spec.recoveryPoint before commit (seed 004: change recovery
   * point): the recovered VM is deleted, and one is made from the new point.
   * "latest" a second time is refused: it stands for the moment of the
   * failover, which has passed.
   */
  private async changePoint(dr: DrContext, fo: FailoverStatus, choice: string): Promise<number | undefined> {
    const { ps, ctx } = dr;
    // "latest" a second time is refused (the FailedOver condition says so): the failover goes on with its point.
    if (choice === POINT_CHOICES.latest && fo.latestUsed) return undefined;
    const left = await this.stopRestore(dr, fo);
    if (left) return this.waiting(dr, fo, "ReplacingVM", left);
    await ctx.events.record(ps, "Normal", "RecoveryPointChanged", `replacing the recovered VM (${fo.recoveryPoint ?? "none yet"}) with one from ${choice}`);
    (ps.status ??= {}).failover = {
      requestTime: fo.requestTime,
      attempt: (fo.attempt ?? 1) + 1,
      latestUsed: fo.latestUsed,
      choice,
      step: "ChoosingPoint",
      ...(fo.sourceStopped !== undefined ? { sourceStopped: fo.sourceStopped } : {}),
      ...(fo.sourceShutdown ? { sourceShutdown: fo.sourceShutdown } : {}),
    };
    return undefined;
  }

  /**
   * Cancels an uncommitted failover (desiredState back to Replicating): the
   * recovered VM is deleted and the original powered on again if the
   * failover had shut it down. Returns true once done.
   */
  async cancel(dr: DrContext): Promise<boolean> {
    const { ps, ctx } = dr;
    const fo = ps.status?.failover;
    if (!fo) return true;
    const left = await this.stopRestore(dr, fo);
    if (left) {
      this.waiting(dr, fo, "Cancelling", left);
      return false;
    }
    if (fo.sourceStopped) {
      const client = await siteClient(dr, dr.protectedSite);
      const vm = await findKnownVm(client, ps.status?.source ?? { name: ps.spec.source.vmName });
      if (vm && vm.powerState !== "poweredOn") await client.powerOn(vm.ref);
    }
    await ctx.events.record(ps, "Normal", "FailoverCancelled", "the failover was cancelled before commit: the recovered VM is deleted and replication goes on");
    delete ps.status?.failover;
    return true;
  }

  /** Tries the restore again after it failed for good: what a failed attempt may have left is deleted first. */
  private async retry(dr: DrContext, fo: FailoverStatus): Promise<boolean> {
    const { ps, ctx } = dr;
    const attempt = fo.attempt ?? 1;
    const left = await this.stopRestore(dr, fo);
    if (left) {
      this.waiting(dr, fo, "Retrying", left);
      return false;
    }
    delete fo.job;
    delete fo.vm;
    delete fo.instanceType;
    delete fo.restoreId;
    fo.attempt = attempt + 1;
    fo.step = fo.pointID ? "Restoring" : "ChoosingPoint";
    await ctx.events.record(ps, "Normal", "FailoverRetried", `trying the failover again (attempt ${fo.attempt})`);
    return true;
  }

  /**
   * Stops the failover's restore worker (and waits until its pod is gone, so
   * it cannot make a VM after the lookup), then deletes the VMs carrying this
   * attempt's restore id. Returns what is still left, or undefined once
   * nothing of the attempt remains.
   */
  private async stopRestore(dr: DrContext, fo: FailoverStatus): Promise<string | undefined> {
    const { ps, ctx } = dr;
    const ns = ps.metadata.namespace ?? "";
    if (toEcs(dr)) return discardEcsAttempt(dr, fo);
    if (fo.job) {
      await deleteJob(ctx.kube, ns, fo.job);
      const pods = await ctx.kube.core.listNamespacedPod({ namespace: ns, labelSelector: `job-name=${fo.job}` });
      if (pods.items.length > 0) return `waiting for worker pod ${pods.items.map((p) => p.metadata?.name ?? "").join(", ")} to stop`;
    }
    if (!fo.restoreId) return undefined;
    const client = await siteClient(dr, dr.recoverySite);
    const made = [...(await vmsMarked(client, recoveredVmName(ps), fo.restoreId)).map((v) => v.ref.value), ...(fo.vm?.moRef ? [fo.vm.moRef] : [])];
    for (const moRef of new Set(made)) {
      if (!(await destroyCreatedVm(client, moRef, fo.restoreId))) return `VM ${moRef} is still there after its deletion`;
    }
    return undefined;
  }

  private waiting(dr: DrContext, fo: FailoverStatus, reason: string, message: string, after = WAIT_POLL_MS): number {
    dr.ctx.setCondition(dr.ps, { type: "FailedOver", status: "False", reason, message: `${fo.step ?? ""}: ${message}` });
    return after;
  }
}
