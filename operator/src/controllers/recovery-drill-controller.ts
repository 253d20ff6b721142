import type { ProtectedServer, RecoveryDrill, RecoveryPlan, SitePair, VCenter } from "../api/generated/types.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import { reportIgnoredFields } from "../runtime/conditions.js";
import { describe } from "../runtime/errors.js";
import { mergePatch, type WithKind } from "../runtime/kube.js";
import { isoSeconds } from "../util/time.js";
import { labelValue, shortHash } from "../workloads/worker-job.js";
import { createRestoreJob, deleteJob, DR_JOB_LABELS, drJobName, jobOutcome } from "./dr-jobs.js";
import { resolveSites, usable, vmNameWithin80 } from "./dr-context.js";
import { choosePoint, pointsToChoose } from "./dr-points.js";
import { drillGroupChoice } from "./consistency-groups.js";
import { networksOf } from "../worker/labels.js";
import { destroyCreatedVm, vmsMarked, vsphereClient } from "./dr-vsphere.js";
import { planNetworks, unmappedMessage } from "./network-mapping.js";
import { problemCondition, resolveRef } from "./references.js";
import { DRILL_FINALIZER, drillCleaning, drillFailed } from "./drill-status.js";
import { credentialsGone, finalizersToLeave, holdForCleanup, isCleaned, markCleaned, releaseDrillSecrets } from "./drill-holds.js";
import { vcenterConnectOptions } from "./vcenter-controller.js";
import { CloudDrill } from "./cloud-drill.js";
import { isPlanDrillPart, PlanDrill } from "./plan-drill.js";
import { isCloudPair } from "./cloud-sites.js";
import type { VCenterConnections } from "./vcenter-connections.js";

const POLL_MS = 3_000;

/** The marker written into the drill VM's annotation, and looked for when cleaning. */
export function drillMarker(drill: RecoveryDrill): string {
  return `lifeboat-drill-${shortHash(drill.metadata.uid ?? "")}`;
}

/**
 * A RecoveryDrill (seed 004 drill, seed 003 test failover): a test copy of a
 * protected server at the recovery site, made from a point while
 * replication goes on. Its NICs go only to the site pair's test networks: a
 * NIC without one refuses the drill before anything is made (fail closed).
 * Every object it makes is recorded in status; deleting the drill deletes
 * exactly those (and any VM carrying its marker, should one have been made
 * but not recorded) and lets the object go only when a lookup finds none.
 * Until then the drill holds the VCenter (in-use protection) and its Secrets
 * (status.heldSecrets), so deleting everything at once still cleans up.
 * A drill of a RecoveryPlan goes to PlanDrill, which makes one such drill
 * per server.
 */
export class RecoveryDrillReconciler implements Reconciler<RecoveryDrill> {
  readonly kind = "RecoveryDrill";
  readonly readyCondition = "Ready";
  readonly finalizer = DRILL_FINALIZER;

  private readonly cloud = new CloudDrill();
  private readonly plan = new PlanDrill();

  constructor(private readonly connections: VCenterConnections) {}

  async reconcile(drill: WithKind<RecoveryDrill>, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    if (drill.spec.recoveryPlanRef) return this.plan.reconcile(drill, ctx, (plan) => this.ensureOwner(drill, plan, ctx));
    const ns = drill.metadata.namespace ?? "";
    const status = (drill.status ??= {});
    const held = await holdForCleanup(drill, ctx, (reason, message) => this.pending(drill, ctx, reason, message));
    if (held) return held;
    if (status.phase === "Ready" || status.phase === "Failed") return undefined;
    const ps = await resolveRef<WithKind<ProtectedServer>>(ctx.cache, "ProtectedServer", ns, "spec.protectedServerRef", drill.spec.protectedServerRef?.name ?? "");
    if (!ps.ok) return this.pending(drill, ctx, ps.problem.reason, ps.problem.message);
    // A server's drill made by a RecoveryPlan drill belongs to that drill alone, and goes when it is deleted. Its
    // server as a second owner would promise what Kubernetes does not do: a dependent goes only once all its owners have.
    if (!isPlanDrillPart(drill)) await this.ensureOwner(drill, ps.value, ctx);
    const pair = await resolveRef<WithKind<SitePair>>(ctx.cache, "SitePair", ns, "ProtectedServer spec.sitePairRef", ps.value.spec.sitePairRef.name);
    if (!pair.ok) return this.pending(drill, ctx, pair.problem.reason, pair.problem.message);
    if (isCloudPair(pair.value)) return this.cloud.reconcile(drill, ps.value, pair.value, ctx);
    if (pair.value.spec.type === "VMwareToCloud") return this.cloud.reconcileFromVault(drill, ps.value, pair.value, ctx);
    const cloudOnly = (["instanceType", "privateIpAddress", "eip", "diskCategory", "testNetwork", "postScript"] as const).filter((f) => drill.spec[f] !== undefined && drill.spec[f] !== false);
    reportIgnoredFields(drill, cloudOnly.map((f) => `spec.${f} (cloud sites only: the recovery site is vSphere)`), "NotUsedByVSphereSites", (c) => { ctx.setCondition(drill, c); });
    const { recoverySite } = await resolveSites(ctx.cache, ns, pair.value);
    const need = ["vcenter", "gateway", "vault"] as const;
    const usableSite = usable(recoverySite, need);
    if (!usableSite.ok) return this.pending(drill, ctx, usableSite.problem.reason, `waiting for the recovery site: ${usableSite.problem.message}`);
    const site = usableSite.value;
    status.phase ??= "Pending";
    status.startTime ??= isoSeconds(new Date());
    // Where the worker makes the VM, and so where cleaning looks: fixed once the worker is started. A new one is
    // recorded, and its Secrets held (next pass, before anything is made), before the worker can start there.
    if (!status.job && status.vCenter !== site.vcenter.metadata.name) {
      status.vCenter = site.vcenter.metadata.name;
      return { requeueAfterMs: 200 };
    }

    const jobName = drJobName(drill, "drill");
    if (!status.job) {
      const firstLook = !status.pointID;
      const points = await pointsToChoose(ctx.kube, site.vault, ps.value);
      const group = drillGroupChoice(drill, ps.value, ctx.listCached<ProtectedServer>("ProtectedServer", drill.metadata.namespace ?? ""), ctx.listCached<RecoveryDrill>("RecoveryDrill", drill.metadata.namespace ?? ""));
      const chosen = status.pointID
        ? { ok: true as const, value: { point: points.own.find((p) => p.id === status.pointID), recoveryPoint: status.recoveryPoint ?? "", groupTick: status.groupTick, notShared: undefined } }
        : await choosePoint(ctx.kube, ps.value, site.vault, drill.spec.recoveryPoint ?? "latest", points, "spec.recoveryPoint", group);
      if (!chosen.ok) return this.pending(drill, ctx, chosen.problem.reason, chosen.problem.message);
      if (chosen.value.notShared) await ctx.events.record(drill, "Warning", "NoSharedPoint", chosen.value.notShared);
      const point = chosen.value.point;
      if (!point) return this.fail(drill, ctx, "PointNotFound", `point ${status.pointID ?? ""} is no longer in the vault`);
      status.recoveryPoint = chosen.value.recoveryPoint;
      status.pointID = point.id;
      status.pointTime = isoSeconds(point.time);
      if (chosen.value.groupTick) status.groupTick = chosen.value.groupTick;
      const nets = planNetworks(pair.value, networksOf(point.labels), "test");
      if (nets.unmapped.length > 0) return this.pending(drill, ctx, "UnmappedNetwork", unmappedMessage(pair.value, nets.unmapped, "test"));
      status.networks = nets.mappings.map((m) => ({ source: m.source, test: m.target }));
      status.vmName = drill.spec.vmName ?? vmNameWithin80(ps.value.spec.source.vmName ?? ps.value.metadata.name ?? "server", `-drill-${drill.metadata.name ?? ""}`.slice(0, 40));
      if (firstLook) {
        // The point (a pin) and the VM's name are recorded before the worker may make anything, so a
        // delete coming now still knows what to look for, and a repeated reconcile keeps the same point.
        ctx.setCondition(drill, { type: "Ready", status: "False", reason: "Creating", message: `bringing up ${status.vmName} from ${status.recoveryPoint}` });
        return { requeueAfterMs: 200 };
      }
      const recovery = ps.value.spec.recovery ?? {};
      const cpu = drill.spec.cpu ?? recovery.cpu;
      const memoryGiB = drill.spec.memoryGiB ?? recovery.memoryGiB;
      await createRestoreJob(ctx.kube, {
        owner: drill,
        name: jobName,
        labels: { [DR_JOB_LABELS.drill]: labelValue(drill.metadata.name ?? ""), [DR_JOB_LABELS.protectedServer]: labelValue(ps.value.metadata.name ?? "") },
        pointId: point.id,
        vault: site.vault,
        vcenter: site.vcenter,
        gateway: site.gateway,
        target: {
          datastore: recovery.datastore ?? pair.value.spec.target.datastore ?? "",
          ...(pair.value.spec.target.datacenter ? { datacenter: pair.value.spec.target.datacenter } : {}),
          vmName: status.vmName,
          inPlace: false,
          networkMappings: nets.mappings,
          requireNetworkMapping: true,
          diskProvisioning: "Thin",
          powerOn: drill.spec.powerOn ?? true,
          ...(cpu ? { numCpu: cpu } : {}),
          ...(memoryGiB ? { memoryMB: memoryGiB * 1024 } : {}),
          annotation: `Lifeboat drill ${ns}/${drill.metadata.name ?? ""} of ProtectedServer ${ps.value.metadata.name ?? ""} from ${status.recoveryPoint} (${drillMarker(drill)}); deleting the RecoveryDrill deletes this VM`,
          restoreId: drillMarker(drill),
        },
      });
      status.job = jobName;
      status.phase = "Creating";
      ctx.setCondition(drill, { type: "Ready", status: "False", reason: "Creating", message: `worker ${jobName} brings up ${status.vmName} from ${status.recoveryPoint} on test networks ${nets.mappings.map((m) => m.target).join(", ") || "(none: the VM has no NIC)"}` });
      await ctx.events.record(drill, "Normal", "DrillStarted", `bringing up ${status.vmName} from ${status.recoveryPoint}`);
      return { requeueAfterMs: POLL_MS };
    }

    const outcome = await jobOutcome(ctx.kube, ns, status.job, false);
    if (outcome.state === "Running") return { requeueAfterMs: POLL_MS };
    if (outcome.state === "Failed") return this.fail(drill, ctx, outcome.reason, outcome.message);
    if (outcome.state === "Missing") return this.fail(drill, ctx, "WorkerJobMissing", `worker Job ${status.job} is gone`);
    const client = await vsphereClient(ctx.kube, this.connections, site.vcenter);
    const vms = await vmsMarked(client, status.vmName ?? "", drillMarker(drill));
    status.createdObjects = vms.map((v) => ({ kind: "VirtualMachine", moRef: v.ref.value, name: v.name }));
    const [vm] = vms;
    if (!vm) return this.fail(drill, ctx, "VMNotFound", `the worker finished but no VM named "${status.vmName ?? ""}" carries the drill's marker`);
    status.vmMoRef = vm.ref.value;
    status.phase = "Ready";
    status.readyTime = isoSeconds(new Date());
    ctx.setCondition(drill, { type: "Ready", status: "True", reason: "Running", message: `test VM ${vm.name} (${vm.ref.value}) is up from ${status.recoveryPoint ?? ""} on test networks only; delete this RecoveryDrill to clean it up` });
    await ctx.events.record(drill, "Normal", "DrillReady", `test VM ${vm.name} (${vm.ref.value}) is up`);
    return undefined;
  }

  /**
   * Cleaning the drill: its worker is stopped first (so it cannot make a VM
   * after the lookup), then every recorded object and every VM carrying the
   * drill's marker is deleted, and the finalizer goes only when a lookup
   * finds none of them. Then the drill says so in status, and only after
   * that lets go of the Secrets it held: should removing the finalizer fail,
   * the retry does not need them again.
   */
  async finalize(drill: WithKind<RecoveryDrill>, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    if (drill.spec.recoveryPlanRef) return this.plan.finalize(drill, ctx);
    const status = (drill.status ??= {});
    if (!isCleaned(drill)) {
      status.phase = "Cleaning";
      const cleaning = status.region ? await this.cloud.finalize(drill, ctx) : await this.clean(drill, ctx);
      if (cleaning) return cleaning;
      if ((status.heldSecrets ?? []).length > 0) {
        markCleaned(drill, ctx);
        return { requeueAfterMs: 100 };
      }
    }
    await releaseDrillSecrets(drill, ctx);
    return undefined;
  }

  /** Deletes what the drill made at a vSphere site; undefined once a lookup finds none of it. */
  private async clean(drill: WithKind<RecoveryDrill>, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = drill.metadata.namespace ?? "";
    const status = (drill.status ??= {});
    const jobName = drJobName(drill, "drill");
    await deleteJob(ctx.kube, ns, jobName);
    const pods = await ctx.kube.core.listNamespacedPod({ namespace: ns, labelSelector: `job-name=${jobName}` });
    if (pods.items.length > 0) return this.cleaning(drill, ctx, `waiting for worker pod ${pods.items.map((p) => p.metadata?.name ?? "").join(", ")} to stop`);
    if (!status.vCenter || !status.vmName) return undefined; // nothing was ever made
    // A VCenter being deleted still serves: in-use protection keeps it, and its Secrets are held, until this clean-up is done.
    const vc = await ctx.kube.get<WithKind<VCenter>>("VCenter", ns, status.vCenter);
    if (!vc) return this.cleaning(drill, ctx, `waiting for VCenter ${ns}/${status.vCenter} to delete the test VM ${status.vmName}: it does not exist; create it again, or remove ${finalizersToLeave(drill)} to leave the VM`, 15_000);
    const options = await vcenterConnectOptions(ctx.kube, vc);
    if (!options.ok) {
      const recorded = (status.createdObjects ?? []).map((o) => o.moRef ?? "").filter(Boolean);
      const left = `test VM ${status.vmName}${recorded.length > 0 ? ` (${recorded.join(", ")})` : ""}, marked ${drillMarker(drill)} in its annotation, on VCenter ${vc.metadata.name ?? ""}`;
      const gone = await credentialsGone(drill, ctx, vc, options.problem, left);
      if (gone) return gone.result;
      return this.cleaning(drill, ctx, `waiting for the credentials of VCenter ${vc.metadata.name ?? ""} to delete the test VM ${status.vmName}: ${options.problem.message}`, 15_000);
    }
    try {
      const client = await vsphereClient(ctx.kube, this.connections, vc);
      const recorded = (status.createdObjects ?? []).map((o) => o.moRef ?? "").filter(Boolean);
      const marked = (await vmsMarked(client, status.vmName, drillMarker(drill))).map((v) => v.ref.value);
      const stillThere: string[] = [];
      for (const moRef of new Set([...recorded, ...marked])) if (!(await destroyCreatedVm(client, moRef, drillMarker(drill)))) stillThere.push(moRef);
      const left = await vmsMarked(client, status.vmName, drillMarker(drill));
      if (left.length > 0 || stillThere.length > 0) return this.cleaning(drill, ctx, `still there: ${[...new Set([...left.map((v) => v.ref.value), ...stillThere])].join(", ")}`);
    } catch (err) {
      return this.cleaning(drill, ctx, `could not delete the test VM yet: ${describe(err)}`, 15_000);
    }
    ctx.log.info({ vm: status.vmName }, "Cleaned the drill: a lookup finds none of its objects");
    await ctx.events.record(drill, "Normal", "DrillCleaned", `deleted ${status.vmName}; a lookup finds no object of the drill`);
    return undefined;
  }

  /** Owned by its ProtectedServer (or RecoveryPlan): deleting the server or plan cleans its drills. */
  private async ensureOwner(drill: WithKind<RecoveryDrill>, by: WithKind<ProtectedServer> | WithKind<RecoveryPlan>, ctx: ReconcileContext): Promise<void> {
    if ((drill.metadata.ownerReferences ?? []).some((o) => o.uid === by.metadata.uid)) return;
    const owner = { apiVersion: by.apiVersion, kind: by.kind, name: by.metadata.name ?? "", uid: by.metadata.uid ?? "", blockOwnerDeletion: false };
    const patched = await ctx.kube.custom.patchNamespacedCustomObject(
      { group: "lifeboat.io", version: "v1alpha1", namespace: drill.metadata.namespace ?? "", plural: "recoverydrills", name: drill.metadata.name ?? "", body: { metadata: { ownerReferences: [...(drill.metadata.ownerReferences ?? []), owner], resourceVersion: drill.metadata.resourceVersion } } },
      mergePatch,
    ) as WithKind<RecoveryDrill>;
    drill.metadata.resourceVersion = patched.metadata.resourceVersion;
    drill.metadata.ownerReferences = patched.metadata.ownerReferences;
  }

  private pending(drill: RecoveryDrill, ctx: ReconcileContext, reason: string, message: string): ReconcileResult {
    const status = (drill.status ??= {});
    // A drill whose worker runs stays Creating through a passing problem of the site.
    if (!status.job) status.phase = "Pending";
    ctx.setCondition(drill, problemCondition("Ready", { reason, message }));
    return { requeueAfterMs: 30_000 };
  }

  private fail(drill: RecoveryDrill, ctx: ReconcileContext, reason: string, message: string): Promise<ReconcileResult | undefined> {
    return drillFailed(drill, ctx, reason, message);
  }

  private cleaning(drill: RecoveryDrill, ctx: ReconcileContext, message: string, after = POLL_MS): ReconcileResult {
    return drillCleaning(drill, ctx, message, after);
  }
}
