/**
 * A RecoveryDrill of a cloud server (CrossZone, CrossRegion; seed 004
 * disaster recovery drill): an instance in the recovery zone made from a
 * point, on a test vSwitch and security group only, the drill's own or the
 * site pair's (with neither the drill waits, and a production recovery
 * vSwitch is refused: fail closed; server-networks.ts), while replication
 * goes on. The image and instance carry the drill's tag; deleting the
 * RecoveryDrill deletes what a lookup by that tag finds (and the elastic IP
 * it recorded), and lets the object go only when the lookup finds nothing.
 */
import type { ProtectedServer, RecoveryDrill, SitePair } from "../api/generated/types.js";
import { clientToken, DR_TAG, type EcsDr } from "../cloud/alibaba/ecs-dr.js";
import type { ReconcileContext, ReconcileResult } from "../runtime/controller.js";
import { reportIgnoredFields } from "../runtime/conditions.js";
import { describe } from "../runtime/errors.js";
import type { WithKind } from "../runtime/kube.js";
import { isoSeconds } from "../util/time.js";
import { chooseCloudPoint, cloudRecoveryPointName, listCloudPoints } from "./cloud-points.js";
import { bringUp, chooseInstanceTypeStep, ignoredSizing, sizeOf, tearDown, type BringUp, type InstanceSizing, type Recovered, type RecoveryTarget } from "./cloud-recovery.js";
import { convertPoint, discardConversion } from "./cloud-conversion.js";
import { pointVmSizing } from "./cloud-vault-recovery.js";
import { postScriptPollMs, runPostScript } from "./cloud-post-script.js";
import { resolveSites, usable } from "./dr-context.js";
import { DR_JOB_LABELS, drJobName } from "./dr-jobs.js";
import { choosePoint, pointsToChoose } from "./dr-points.js";
import { drillGroupChoice } from "./consistency-groups.js";
import { labelValue } from "../workloads/worker-job.js";
import { cloudSites, serverTagValue, type CloudNetwork, type CloudSite, type CloudSites } from "./cloud-sites.js";
import { drillNetwork, namespaceNetworkRoles } from "./server-networks.js";
import { problemCondition } from "./references.js";
import { drillCleaning, drillFailed } from "./drill-status.js";
import { credentialsGone, finalizersToLeave } from "./drill-holds.js";

type DrillStatus = NonNullable<RecoveryDrill["status"]>;

const STEP_MS = 2_000;

function drillTags(drill: RecoveryDrill, ps: { namespace: string; name: string }): Record<string, string> {
  return { [DR_TAG.server]: serverTagValue(ps.namespace, ps.name), [DR_TAG.drill]: `${drill.metadata.namespace ?? ""}/${drill.metadata.name ?? ""}` };
}

/**
 * Where and how a drill's instance is made: the recovery zone, the test
 * network only, the drill's settings over the server's. Its size: the
 * drill's instance type, else an instance type chosen by the drill's CPU and
 * memory, else the server's (likewise), else `sizing` (a vSphere VM's own
 * vCPUs and memory), else the protected instance's type.
 */
function drillTarget(drill: RecoveryDrill, ps: ProtectedServer, site: CloudSite, network: CloudNetwork, sizing?: InstanceSizing): RecoveryTarget {
  const recovery = ps.spec.recovery ?? {};
  const own = sizeOf(drill.spec);
  return {
    region: site.region,
    zone: site.zone,
    network,
    ...(own.instanceType !== undefined || own.sizing ? own : sizeOf(recovery, sizing)),
    privateIpAddress: drill.spec.privateIpAddress,
    diskCategory: drill.spec.diskCategory ?? recovery.diskCategory,
    eip: drill.spec.eip ?? false,
    powerOn: drill.spec.powerOn ?? true,
    name: drill.status?.vmName ?? "drill",
    tags: drillTags(drill, { namespace: ps.metadata.namespace ?? "", name: ps.metadata.name ?? "" }),
    token: clientToken(drill.metadata.uid ?? "", "drill"),
  };
}

function madeOf(status: DrillStatus): Recovered {
  const id = (kind: string) => status.createdObjects?.find((o) => o.kind === kind)?.id;
  return { instanceType: status.instanceType, imageId: id("Image"), instanceId: id("Instance"), eipAllocationId: id("EipAddress"), eipAddress: status.eipAddress, privateIpAddress: status.privateIpAddress };
}

function record(status: DrillStatus, made: Recovered, name: string): void {
  const conversion = status.createdObjects?.find((o) => o.kind === "RestoreJob");
  status.createdObjects = [
    ...(conversion ? [conversion] : []),
    ...(made.imageId && !conversion ? [{ kind: "Image", id: made.imageId, name: `lifeboat-${name}` }] : []),
    ...(made.instanceId ? [{ kind: "Instance", id: made.instanceId, name }] : []),
    ...(made.eipAllocationId ? [{ kind: "EipAddress", id: made.eipAllocationId, name: made.eipAddress ?? "" }] : []),
  ];
  if (made.instanceId) status.instanceId = made.instanceId;
  if (made.instanceType) status.instanceType = made.instanceType;
  if (made.privateIpAddress) status.privateIpAddress = made.privateIpAddress;
  if (made.eipAddress) status.eipAddress = made.eipAddress;
}

export class CloudDrill {
  /**
   * VMwareToCloud: the vault point becomes an image through a RestoreJob
   * owned by the drill (cloud-conversion.ts), then the instance is made from
   * it on the test vSwitch as for a cloud pair's drill.
   */
  async reconcileFromVault(drill: WithKind<RecoveryDrill>, ps: WithKind<ProtectedServer>, pair: WithKind<SitePair>, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const status = (drill.status ??= {});
    this.noteIgnoredSizing(drill, ctx);
    const start = await this.start(drill, pair, ctx);
    if (!("network" in start)) return start;
    const { sites, network } = start;
    const { recoverySite: site } = await resolveSites(ctx.cache, drill.metadata.namespace ?? "", pair);
    const usableSite = usable(site, ["gateway", "vault"]);
    if (!usableSite.ok) return this.pending(drill, ctx, usableSite.problem.reason, `waiting for the recovery site: ${usableSite.problem.message}`);
    const conversion = drJobName(drill, "drill");
    if (!status.pointID) {
      const points = await pointsToChoose(ctx.kube, usableSite.value.vault, ps);
      const group = drillGroupChoice(drill, ps, ctx.listCached<ProtectedServer>("ProtectedServer", drill.metadata.namespace ?? ""), ctx.listCached<RecoveryDrill>("RecoveryDrill", drill.metadata.namespace ?? ""));
      const chosen = await choosePoint(ctx.kube, ps, usableSite.value.vault, drill.spec.recoveryPoint ?? "latest", points, "spec.recoveryPoint", group);
      if (!chosen.ok) return this.pending(drill, ctx, chosen.problem.reason, chosen.problem.message);
      if (chosen.value.notShared) await ctx.events.record(drill, "Warning", "NoSharedPoint", chosen.value.notShared);
      // The point (a pin), the conversion's name and where the resources go are recorded before anything is made.
      status.pointID = chosen.value.point.id;
      status.recoveryPoint = chosen.value.recoveryPoint;
      status.pointTime = isoSeconds(chosen.value.point.time);
      if (chosen.value.groupTick) status.groupTick = chosen.value.groupTick;
      status.region = sites.value.recoverySite.region;
      status.sitePair = pair.metadata.name;
      status.vmName = drill.spec.vmName ?? `${ps.spec.source.vmName ?? ps.metadata.name ?? "server"}-drill-${drill.metadata.name ?? ""}`.slice(0, 128);
      status.createdObjects = [{ kind: "RestoreJob", name: conversion }];
      ctx.setCondition(drill, { type: "Ready", status: "False", reason: "Creating", message: `converting ${status.recoveryPoint} into an ECS image` });
      await ctx.events.record(drill, "Normal", "DrillStarted", `bringing up ${status.vmName} from ${status.recoveryPoint} on test vSwitch ${network.vSwitchId}`);
      return { requeueAfterMs: 200 };
    }
    const made = madeOf(status);
    const sizing = made.instanceId || made.instanceType ? undefined : await pointVmSizing(ctx, drill.metadata.namespace ?? "", status.recoveryPoint ?? "");
    const target = drillTarget(drill, ps, sites.value.recoverySite, network, sizing);
    if (target.sizing && !made.instanceType && !made.instanceId) {
      // Chosen before the conversion: a size with nothing in stock waits here, without converting the point for nothing.
      const chosen = await chooseInstanceTypeStep(sites.value.ecs, target, made, undefined);
      record(status, made, status.vmName ?? "drill");
      if (chosen.state === "failed") return this.pending(drill, ctx, chosen.reason, `${chosen.message}; the drill goes on once one is`);
      return { requeueAfterMs: 200 };
    }
    const converted = await convertPoint(ctx, drill, conversion, pair, status.recoveryPoint ?? "", usableSite.value.gateway.metadata.name ?? "", { [DR_JOB_LABELS.drill]: labelValue(drill.metadata.name ?? "") });
    if (converted.restoreId) status.createdObjects = [{ kind: "RestoreJob", name: conversion, id: converted.restoreId }, ...(status.createdObjects ?? []).filter((o) => o.kind !== "RestoreJob")];
    if (converted.state === "running") {
      status.phase = "Creating";
      ctx.setCondition(drill, { type: "Ready", status: "False", reason: "Creating", message: converted.message });
      return { requeueAfterMs: STEP_MS };
    }
    if (converted.state === "failed") return this.fail(drill, ctx, converted.reason, converted.message);
    const step = await bringUp(sites.value.ecs, { image: { imageId: converted.imageId, what: `RestoreJob ${conversion}` } }, target, made);
    record(status, made, status.vmName ?? "drill");
    return this.settle(drill, ctx, step, network.vSwitchId, sites.value.ecs);
  }

  async reconcile(drill: WithKind<RecoveryDrill>, ps: WithKind<ProtectedServer>, pair: WithKind<SitePair>, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const status = (drill.status ??= {});
    this.noteIgnoredSizing(drill, ctx);
    const start = await this.start(drill, pair, ctx);
    if (!("network" in start)) return start;
    const { sites, network } = start;
    const { ecs, recoverySite } = sites.value;
    const points = await listCloudPoints(ecs, ps, "forward", recoverySite.region);
    if (!status.pointID) {
      const chosen = await chooseCloudPoint(ctx.kube, ps, drill.spec.recoveryPoint ?? "latest", points, "spec.recoveryPoint");
      if (!chosen.ok) return this.pending(drill, ctx, chosen.problem.reason, chosen.problem.message);
      // The point (a pin) and where its resources go are recorded before anything is made.
      status.pointID = chosen.value.id;
      status.recoveryPoint = cloudRecoveryPointName(ps, chosen.value);
      status.pointTime = chosen.value.time;
      status.region = recoverySite.region;
      status.sitePair = pair.metadata.name;
      status.vmName = drill.spec.vmName ?? `${ps.status?.source?.name ?? ps.metadata.name ?? "server"}-drill-${drill.metadata.name ?? ""}`.slice(0, 128);
      ctx.setCondition(drill, { type: "Ready", status: "False", reason: "Creating", message: `bringing up ${status.vmName} from ${status.recoveryPoint}` });
      await ctx.events.record(drill, "Normal", "DrillStarted", `bringing up ${status.vmName} from ${status.recoveryPoint} on test vSwitch ${network.vSwitchId}`);
      return { requeueAfterMs: 200 };
    }
    const point = points.find((p) => p.id === status.pointID);
    if (!point && !status.instanceId) return this.fail(drill, ctx, "PointNotFound", `point ${status.pointID} is no longer kept`);
    const made = madeOf(status);
    const step = point
      ? await bringUp(ecs, { point }, drillTarget(drill, ps, recoverySite, network), made)
      : ({ state: "failed", reason: "PointNotFound", message: `point ${status.pointID} is no longer kept` } as const);
    record(status, made, status.vmName ?? "drill");
    return this.settle(drill, ctx, step, network.vSwitchId, ecs);
  }

  /** What every cloud drill needs first: the pair's credentials and a test network (fail closed: none, or a production recovery vSwitch, no drill). */
  private async start(drill: RecoveryDrill, pair: SitePair, ctx: ReconcileContext): Promise<ReconcileResult | { sites: { ok: true; value: CloudSites }; network: CloudNetwork }> {
    const status = (drill.status ??= {});
    status.phase ??= "Pending";
    status.startTime ??= isoSeconds(new Date());
    const sites = await cloudSites(ctx.kube, pair);
    if (!sites.ok) return this.pending(drill, ctx, sites.problem.reason, sites.problem.message);
    const network = await drillNetwork(drill, pair, sites.value, () => namespaceNetworkRoles(ctx, drill.metadata.namespace ?? ""), (status.createdObjects ?? []).length === 0);
    if (!network.ok) return this.pending(drill, ctx, network.problem.reason, network.problem.message);
    return { sites, network: network.value };
  }

  /** Where a drill is once its bring-up step ran: still coming up, failed, or Ready. */
  private async settle(drill: WithKind<RecoveryDrill>, ctx: ReconcileContext, step: BringUp, vSwitchId: string, ecs: EcsDr): Promise<ReconcileResult | undefined> {
    const status = (drill.status ??= {});
    if (step.state === "running") {
      status.phase = "Creating";
      ctx.setCondition(drill, { type: "Ready", status: "False", reason: "Creating", message: step.message });
      return { requeueAfterMs: STEP_MS };
    }
    if (step.state === "failed") return this.fail(drill, ctx, step.reason, step.message);
    // Seed 004's switch-over script checks the test instance: the drill is Ready once it succeeds.
    if (drill.spec.postScript && drill.spec.powerOn !== false) {
      const script = await runPostScript(ecs, status.region ?? "", step.instance.instanceId, drill.spec.postScript, status, `lifeboat-drill-${drill.metadata.namespace ?? ""}-${drill.metadata.name ?? ""}`, clientToken(drill.metadata.uid ?? "", "drill"));
      if (script.state === "running") {
        status.phase = "Creating";
        ctx.setCondition(drill, { type: "Ready", status: "False", reason: "RunningPostScript", message: script.message });
        return { requeueAfterMs: postScriptPollMs(status.postScript) };
      }
      if (script.state === "failed") return this.fail(drill, ctx, script.reason, `${script.message}; the test instance is kept for a look`);
      await ctx.events.record(drill, "Normal", "PostScriptSucceeded", script.message);
    }
    status.phase = "Ready";
    status.readyTime = isoSeconds(new Date());
    const where = `${step.instance.instanceId} (${status.privateIpAddress ?? "no private IP"}${status.eipAddress ? `, EIP ${status.eipAddress}` : ""})`;
    ctx.setCondition(drill, { type: "Ready", status: "True", reason: "Running", message: `test instance ${where} is up from ${status.recoveryPoint ?? ""} on test vSwitch ${vSwitchId} only; delete this RecoveryDrill to clean it up` });
    await ctx.events.record(drill, "Normal", "DrillReady", `test instance ${where} is up`);
    return undefined;
  }

  /** Deletes what the drill made; returns undefined once a lookup by its tag finds nothing. */
  async finalize(drill: WithKind<RecoveryDrill>, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const status = (drill.status ??= {});
    if (!status.region || !status.sitePair) return undefined; // nothing was ever made
    const ns = drill.metadata.namespace ?? "";
    // A SitePair being deleted still serves: in-use protection keeps it, and its Secret is held, until this clean-up is done.
    const pair = await ctx.kube.get<WithKind<SitePair>>("SitePair", ns, status.sitePair);
    if (!pair) return this.cleaning(drill, ctx, `waiting for SitePair ${ns}/${status.sitePair} (its credentials) to delete the drill's resources: it does not exist; create it again, or remove ${finalizersToLeave(drill)} to leave them`, 15_000);
    const sites = await cloudSites(ctx.kube, pair);
    if (!sites.ok) {
      const made = (status.createdObjects ?? []).map((o) => `${o.kind} ${o.id ?? o.name ?? ""}`);
      const left = `what the drill made in ${status.region} (${made.join(", ") || "nothing recorded"}; tagged ${DR_TAG.drill}=${ns}/${drill.metadata.name ?? ""})`;
      const gone = await credentialsGone(drill, ctx, pair, sites.problem, left);
      if (gone) return gone.result;
      return this.cleaning(drill, ctx, `waiting for the site pair's credentials: ${sites.problem.message}`, 15_000);
    }
    const made = madeOf(status);
    let left: string[];
    try {
      left = await tearDown(sites.value.ecs, status.region, drillTags(drill, { namespace: ns, name: drill.spec.protectedServerRef?.name ?? "" }), made);
    } catch (err) {
      return this.cleaning(drill, ctx, `could not delete the drill's resources yet: ${describe(err)}`, 15_000);
    }
    record(status, made, status.vmName ?? "drill");
    if (left.length > 0) return this.cleaning(drill, ctx, `still there: ${left.join(", ")}`);
    const conversion = status.createdObjects?.find((o) => o.kind === "RestoreJob");
    if (conversion?.name) {
      const still = await discardConversion(ctx, ns, conversion.name, conversion.id, pair);
      if (still) return this.cleaning(drill, ctx, `still there: ${still}`);
    }
    ctx.log.info({ instance: status.instanceId }, "Cleaned the drill: a lookup by its tag finds nothing");
    await ctx.events.record(drill, "Normal", "DrillCleaned", `deleted ${status.vmName ?? ""}; a lookup by the drill's tag finds nothing`);
    return undefined;
  }

  /** Says which CPU and memory fields a cloud drill does not act on (cloud-recovery.ts, ignoredSizing). */
  private noteIgnoredSizing(drill: RecoveryDrill, ctx: ReconcileContext): void {
    const script = drill.spec.postScript && drill.spec.powerOn === false ? ["spec.postScript (spec.powerOn is false: the test instance is left stopped, and Cloud Assistant runs scripts only in running instances)"] : [];
    reportIgnoredFields(drill, [...ignoredSizing("spec", drill.spec), ...script], "NotUsedByCloudSites", (c) => { ctx.setCondition(drill, c); });
  }

  private pending(drill: RecoveryDrill, ctx: ReconcileContext, reason: string, message: string): ReconcileResult {
    const status = (drill.status ??= {});
    if (!status.instanceId) status.phase = "Pending";
    ctx.setCondition(drill, problemCondition("Ready", { reason, message }));
    return { requeueAfterMs: 30_000 };
  }

  private fail(drill: RecoveryDrill, ctx: ReconcileContext, reason: string, message: string): Promise<ReconcileResult | undefined> {
    return drillFailed(drill, ctx, reason, message);
  }

  private cleaning(drill: RecoveryDrill, ctx: ReconcileContext, message: string, after = STEP_MS): ReconcileResult {
    return drillCleaning(drill, ctx, message, after);
  }
}
