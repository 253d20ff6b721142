/**
 * Failback (seed 004; seed 003 stage 2): a planned failover in the reverse
 * direction. A last reverse cycle of the running recovered VM, a guest
 * shutdown, one more cycle of the stopped VM (its point holds everything the
 * server wrote), then the protected-site VM is brought to that point (the
 * original, overwritten in place, or a new VM), its CBT baseline captured,
 * the forward chain seeded from the recovered VM's disks so forward
 * replication resumes without a full resync, and it is powered on while the
 * recovered VM stays fenced. One step runs per reconcile, so each step's
 * record is in status before the next step's effect, and every effect is
 * idempotent, so an operator killed at any moment completes the failback
 * exactly once.
 */
import type { BackupVault, ProtectedServer } from "../api/generated/types.js";
import { capturedDisksInVmOrder } from "../vsphere/index.js";
import { describe } from "../runtime/errors.js";
import { isoSeconds } from "../util/time.js";
import { createServerRestoreJob, deleteJob, drJobName, jobOutcome } from "./dr-jobs.js";
import { siteClient, usable, vmNameWithin80, type DrContext } from "./dr-context.js";
import { lineagePoints } from "./dr-points.js";
import { networksOf, orderedDisks } from "../worker/labels.js";
import { runSeed } from "./dr-seed.js";
import { captureBaseline, fence, findKnownVm, identityOf, shutDown, unfence, vmsMarked } from "./dr-vsphere.js";
import { NEXT_STEP_MS, restoreIdOf, roundOf, toEcs } from "./failover.js";
import { cloudReverseLine } from "./cloud-reverse.js";
import { cloudSites } from "./cloud-sites.js";
import { stopStep } from "./cloud-protection.js";
import { planNetworks, unmappedMessage } from "./network-mapping.js";
import type { ReplicationCycles } from "./replication-cycles.js";
import { reverseLine } from "./reverse-replication.js";

type Status = NonNullable<ProtectedServer["status"]>;
type FailbackStatus = NonNullable<Status["failback"]>;

const STEP_POLL_MS = 3_000;
const WAIT_POLL_MS = 15_000;

export class Failback {
  constructor(private readonly cycles: ReplicationCycles) {}

  async advance(dr: DrContext): Promise<number> {
    const { ps, ctx } = dr;
    const status = (ps.status ??= {});
    let fb = status.failback;
    if (!fb?.requestTime) {
      fb = status.failback = { requestTime: isoSeconds(new Date()), step: "FinalCycle" };
      await ctx.events.record(ps, "Normal", "FailbackStarted", "failing back to the protected site");
    }
    if (!status.reverse?.seedPointID) return this.waiting(dr, fb, "ReverseNotSeeded", "failback needs reverse replication to have started (its seed point)");
    const before = fb.step;
    const wait = await this.step(dr, fb);
    if (wait !== undefined) return wait;
    if (fb.step !== before) return NEXT_STEP_MS;
    return fb.step === "Done" ? 60_000 : STEP_POLL_MS;
  }

  private async step(dr: DrContext, fb: FailbackStatus): Promise<number | undefined> {
    switch (fb.step) {
      case "FinalCycle":
      case "LastCycle":
        return this.reverseCycle(dr, fb);
      case "ShuttingDown":
        return this.shutDownRecovered(dr, fb);
      case "Restoring":
        return this.restore(dr, fb);
      case "Baseline":
        return this.baseline(dr, fb);
      case "SeedingForward":
        return this.seedForward(dr, fb);
      case "PoweringOn":
        return this.powerOn(dr, fb);
      default:
        return undefined;
    }
  }

  /** The last reverse cycles: one of the running VM (a short stop), one of the stopped VM (nothing lost). */
  private async reverseCycle(dr: DrContext, fb: FailbackStatus): Promise<number | undefined> {
    const { ps, ctx } = dr;
    const status = (ps.status ??= {});
    const cloud = toEcs(dr) ? await cloudReverseLine(dr) : undefined;
    if (cloud && !cloud.ok) return this.waiting(dr, fb, cloud.problem.reason, `the last reverse cycles wait: ${cloud.problem.message}`);
    const line = cloud?.ok ? cloud.value : reverseLine(dr);
    if (!line) return this.waiting(dr, fb, "SiteNotReady", "the recovery site's vCenter and Gateway and the protected site's vault must be usable for the last reverse cycles");
    const which = fb.step === "FinalCycle" ? "finalCycle" : "lastCycle";
    const cycle = await this.cycles.needed(ps, line, ctx, dr.pins, fb[which], new Date(fb.requestTime ?? Date.now()));
    if (cycle.state === "waiting") return this.waiting(dr, fb, "WaitingForGateway", cycle.why);
    if (cycle.state === "started") fb[which] = cycle.id;
    if (cycle.state !== "ended") return STEP_POLL_MS;
    const last = cycle.cycle;
    if (last.result !== "Succeeded") {
      // Failback is planned: nothing is lost by trying again.
      if (which === "finalCycle") delete fb.finalCycle;
      else delete fb.lastCycle;
      return this.waiting(dr, fb, last.reason ?? "CycleFailed", `reverse cycle ${last.id ?? ""} failed: ${last.message ?? ""}; trying again`);
    }
    if (status.reverse) status.reverse.bytesTransferred = (status.reverse.bytesTransferred ?? 0) + (last.bytesTransferred ?? 0);
    if (which === "finalCycle") {
      // Checked before the instance is stopped: an in-place restore into disks of another size would fail with both sites down.
      const mismatch = toEcs(dr) && ps.spec.reverseInPlace ? await this.sizeMismatch(dr, line.vault, last.pointID ?? "") : undefined;
      if (mismatch) {
        return this.waiting(dr, fb, "DiskSizeChanged", `${mismatch}: an in-place failback needs disks of the same size; set spec.reverseInPlace to false to fail back to a new VM`, 60_000);
      }
      fb.step = "ShuttingDown";
    } else {
      fb.pointID = last.pointID;
      fb.step = "Restoring";
    }
    return undefined;
  }

  /** How the disks of a reverse point differ in size from the original VM's (in controller/unit order), if they do. */
  private async sizeMismatch(dr: DrContext, vault: BackupVault, pointId: string): Promise<string | undefined> {
    const point = (await lineagePoints(dr.ctx.kube, vault, dr.ps, "reverse")).find((p) => p.id === pointId);
    const original = await findKnownVm(await siteClient(dr, dr.protectedSite), dr.ps.status?.source ?? { name: dr.ps.spec.source.vmName });
    if (!point || !original) return undefined;
    const pointSizes = orderedDisks(point).map((d) => d.size);
    const vmSizes = capturedDisksInVmOrder(original.disks).map((d) => d.capacityBytes);
    if (pointSizes.length === vmSizes.length && pointSizes.every((s, i) => s === vmSizes[i])) return undefined;
    return `the instance's disks (${pointSizes.join(", ")} bytes) are not the original VM's (${vmSizes.join(", ")} bytes)`;
  }

  private async shutDownRecovered(dr: DrContext, fb: FailbackStatus): Promise<number | undefined> {
    const fo = dr.ps.status?.failover;
    if (toEcs(dr)) {
      // The instance is stopped (forced after five minutes): the last cycle then holds everything it wrote.
      const sites = await cloudSites(dr.ctx.kube, dr.pair);
      if (!sites.ok) return this.waiting(dr, fb, sites.problem.reason, sites.problem.message);
      const stopped = await stopStep(sites.value.ecs, sites.value.recoverySite.region, fo?.vm?.instanceId ?? "", fb);
      if (stopped === "gone") return this.waiting(dr, fb, "RecoveredInstanceNotFound", `the recovered instance ${fo?.vm?.instanceId ?? ""} is gone`);
      if (stopped === "giveUp") return this.waiting(dr, fb, "InstanceDidNotStop", `the recovered instance ${fo?.vm?.instanceId ?? ""} did not stop, even forced: a failback without its last writes would lose them; stop it in the ECS console`, 60_000);
      if (stopped === "waiting") return this.waiting(dr, fb, "StoppingInstance", `stopping the recovered instance ${fo?.vm?.instanceId ?? ""}`, STEP_POLL_MS);
      fb.step = "LastCycle";
      return undefined;
    }
    const client = await siteClient(dr, dr.recoverySite);
    const vm = await findKnownVm(client, fo?.vm ?? {});
    if (!vm) return this.waiting(dr, fb, "RecoveredVMNotFound", `the recovered VM ${fo?.vm?.moRef ?? ""} is gone`);
    fb.shutdown = await shutDown(client, vm);
    fb.step = "LastCycle";
    return undefined;
  }

  /** Brings the protected-site VM to the last reverse point: the original in place, or a new VM. */
  private async restore(dr: DrContext, fb: FailbackStatus): Promise<number | undefined> {
    const { ps, ctx, pair } = dr;
    const ns = ps.metadata.namespace ?? "";
    const need = ["vcenter", "gateway", "vault"] as const;
    const usableSite = usable(dr.protectedSite, need);
    if (!usableSite.ok) return this.waiting(dr, fb, usableSite.problem.reason, `waiting for the protected site: ${usableSite.problem.message}`);
    const site = usableSite.value;
    const inPlace = ps.spec.reverseInPlace ?? false;
    const fo = ps.status?.failover;
    const attempt = fo?.attempt ?? 1;
    const restoreId = restoreIdOf(ps, "failback", roundOf(fo), attempt);
    const vmName = inPlace ? (ps.status?.source?.name ?? ps.spec.source.vmName ?? "") : vmNameWithin80(ps.spec.source.vmName ?? ps.metadata.name ?? "server", "-failback");
    if (!fb.job) {
      const point = (await lineagePoints(ctx.kube, site.vault, ps, "reverse")).find((p) => p.id === fb.pointID);
      if (!point) return this.waiting(dr, fb, "PointNotFound", `reverse point ${fb.pointID ?? ""} is not in the protected site's vault`);
      let target: { moRef: string; name: string } | undefined;
      if (inPlace) {
        const original = await findKnownVm(await siteClient(dr, dr.protectedSite), ps.status?.source ?? { name: ps.spec.source.vmName });
        if (!original) return this.waiting(dr, fb, "OriginalVMNotFound", "reverseInPlace: the original VM is not at the protected site any more; set reverseInPlace to false to fail back to a new VM");
        target = { moRef: original.ref.value, name: original.name };
      } else if (!pair.spec.source.datastore) {
        return this.waiting(dr, fb, "NoDatastore", `a failback to a new VM needs SitePair ${pair.metadata.name ?? ""} spec.source.datastore; or set spec.reverseInPlace`);
      }
      // A VMwareToCloud reverse point names the networks the VM had at the protected site (the instance has vSwitches, not port groups): it goes back onto them.
      const nets = toEcs(dr) ? { mappings: networksOf(point.labels).map((n) => ({ source: n, target: n })), unmapped: [] } : planNetworks(pair, networksOf(point.labels), "back");
      if (nets.unmapped.length > 0) return this.waiting(dr, fb, "UnmappedNetwork", unmappedMessage(pair, nets.unmapped, "back"));
      const job = drJobName(ps, `failback-${roundOf(fo)}-${attempt}`);
      await createServerRestoreJob(ctx.kube, ps, job, point.id, site, {
          datastore: pair.spec.source.datastore ?? "",
          ...(pair.spec.source.datacenter ? { datacenter: pair.spec.source.datacenter } : {}),
          ...(target ? { inPlace: true, targetVm: target } : { inPlace: false, vmName, ...failbackSize(ps) }),
          networkMappings: nets.mappings,
          requireNetworkMapping: true,
          diskProvisioning: ps.spec.recovery?.diskProvisioning ?? "Thin",
          powerOn: false,
          annotation: `Failed back by Lifeboat: ProtectedServer ${ns}/${ps.metadata.name ?? ""} from reverse point ${point.id} (${restoreId})`,
          restoreId,
      });
      fb.job = job;
      if (!target) fb.restoreId = restoreId;
      return STEP_POLL_MS;
    }
    const outcome = await jobOutcome(ctx.kube, ns, fb.job, false);
    if (outcome.state === "Running") return this.waiting(dr, fb, "Restoring", `worker ${fb.job} brings the protected-site VM to ${fb.pointID ?? ""}`, STEP_POLL_MS);
    if (outcome.state === "Missing") {
      delete fb.job;
      return STEP_POLL_MS;
    }
    if (outcome.state === "Failed") {
      const status = (ps.status ??= {});
      if (!ps.spec.resumeRequest || ps.spec.resumeRequest === status.handledResumeRequest) {
        return this.waiting(dr, fb, outcome.reason, `${outcome.message}; fix the cause and set spec.resumeRequest to a new value to try again`, 60_000);
      }
      // A new try with the same Job name and restore id: the worker replaces what the failed one left.
      await deleteJob(ctx.kube, ns, fb.job);
      delete fb.job;
      status.handledResumeRequest = ps.spec.resumeRequest;
      return STEP_POLL_MS;
    }
    const client = await siteClient(dr, dr.protectedSite);
    const vm = inPlace ? await findKnownVm(client, ps.status?.source ?? { name: ps.spec.source.vmName }) : (await vmsMarked(client, vmName, restoreId))[0];
    if (!vm) return this.waiting(dr, fb, "VMNotFound", `the failback restore finished but its VM "${vmName}" is not found`);
    fb.vm = identityOf(vm);
    fb.step = "Baseline";
    return undefined;
  }

  private async baseline(dr: DrContext, fb: FailbackStatus): Promise<number | undefined> {
    const client = await siteClient(dr, dr.protectedSite);
    const vm = await findKnownVm(client, fb.vm ?? {});
    if (!vm) return this.waiting(dr, fb, "VMNotFound", `VM ${fb.vm?.moRef ?? ""} is gone`);
    fb.baseline = await captureBaseline(client, vm);
    fb.step = "SeedingForward";
    return undefined;
  }

  /** The forward chain's new first point, equal to the failback point, built at the recovery site from the stopped recovered VM's disks. */
  private async seedForward(dr: DrContext, fb: FailbackStatus): Promise<number | undefined> {
    const { ps, ctx } = dr;
    const fo = ps.status?.failover;
    const seed = await runSeed(dr, {
      direction: "forward",
      round: roundOf(fo),
      attempt: fo?.attempt ?? 1,
      site: "recovery",
      sourceSite: "protected",
      sourcePointId: fb.pointID ?? "",
      chainVm: fb.vm ?? {},
      chainSite: "protected",
      baseline: fb.baseline ?? [],
      // An ECS instance has no disks a seed worker could read locally: every block comes from the protected vault.
      localVm: toEcs(dr) ? undefined : fo?.vm,
    });
    if (seed.state === "waiting") return this.waiting(dr, fb, seed.reason, seed.message, seed.after);
    fb.forwardSeedPointID = seed.pointId;
    const labels = { namespace: ps.metadata.namespace ?? "", protected_server: ps.metadata.name ?? "", direction: "forward" };
    const bytes = seed.transferredBytes;
    ctx.afterStatusWrite(() => { ctx.metrics.replicationBytesTransferred.inc(labels, bytes); });
    fb.step = "PoweringOn";
    return undefined;
  }

  private async powerOn(dr: DrContext, fb: FailbackStatus): Promise<number | undefined> {
    const { ps, ctx } = dr;
    try {
      // A recovered ECS instance was stopped before the last cycle, and stays stopped until it is deleted.
      if (!toEcs(dr)) {
        const recoveryClient = await siteClient(dr, dr.recoverySite);
        const recovered = await findKnownVm(recoveryClient, ps.status?.failover?.vm ?? {});
        if (recovered) await fence(recoveryClient, recovered);
      }
    } catch (err) {
      return this.waiting(dr, fb, "FenceFailed", `could not fence the recovered VM before powering the protected-site VM on: ${describe(err)}`);
    }
    const client = await siteClient(dr, dr.protectedSite);
    const vm = await findKnownVm(client, fb.vm ?? {});
    if (!vm) return this.waiting(dr, fb, "VMNotFound", `VM ${fb.vm?.moRef ?? ""} is gone`);
    await unfence(client, vm);
    if ((ps.spec.recovery?.powerOn ?? true) && vm.powerState !== "poweredOn") await client.powerOn(vm.ref);
    const now = new Date();
    fb.poweredOnTime = isoSeconds(now);
    fb.rtoSeconds = Math.max(0, Math.round((now.getTime() - Date.parse(fb.requestTime ?? isoSeconds(now))) / 1000));
    fb.step = "Done";
    const rto = fb.rtoSeconds;
    const labels = { namespace: ps.metadata.namespace ?? "", protected_server: ps.metadata.name ?? "", operation: "failback" };
    ctx.afterStatusWrite(() => { ctx.metrics.recoveryTime.set(labels, rto); });
    await ctx.events.record(ps, "Normal", "FailedBack", `running at the protected site again as VM ${vm.name} (${vm.ref.value}); the recovered ${toEcs(dr) ? "instance is stopped" : "VM is fenced"}; set desiredState to Replicating to protect it again (no full resync)`);
    return undefined;
  }

  private waiting(dr: DrContext, fb: FailbackStatus, reason: string, message: string, after = WAIT_POLL_MS): number {
    dr.ctx.setCondition(dr.ps, { type: "FailedBack", status: "False", reason, message: `${fb.step ?? ""}: ${message}` });
    return after;
  }
}

/** The size spec.failback asks of a new VM at the protected site (the point's, the recovered VM's, otherwise). */
function failbackSize(ps: ProtectedServer): { numCpu?: number; memoryMB?: number } {
  const fb = ps.spec.failback ?? {};
  return { ...(fb.cpu ? { numCpu: fb.cpu } : {}), ...(fb.memoryGiB ? { memoryMB: fb.memoryGiB * 1024 } : {}) };
}
