/**
 * VMwareToCloud failover (seed 004's steps with a vSphere protected site and
 * an ECS recovery site): the chosen vault point becomes an ECS image through
 * a RestoreJob (cloud-conversion.ts), and an instance is made from it in the
 * recovery zone on the pair's recovery vSwitch, with spec.recovery's
 * instance type, private IP, disk category and elastic IP. These are the
 * recovery-site steps of Failover (failover.ts) for this pair type; choosing
 * the point, the planned path (last cycles, guest shutdown), point changes,
 * cancel and the commit's fence of the vSphere original are Failover's own.
 */
import type { ProtectedServer, RecoveryPoint } from "../api/generated/types.js";
import { clientToken, DR_TAG, type Tags } from "../cloud/alibaba/ecs-dr.js";
import type { ReconcileContext } from "../runtime/controller.js";
import { isNotFound, type WithKind } from "../runtime/kube.js";
import { discardConversion, convertPoint } from "./cloud-conversion.js";
import { bringUp, chooseInstanceTypeStep, failoverTarget, recordRecovered, recoveredOf, sizingOf, tearDown, type InstanceSizing } from "./cloud-recovery.js";
import { advancePostScript, postScriptDue } from "./cloud-post-script.js";
import { cloudSites, serverTagValue } from "./cloud-sites.js";
import { namespaceNetworkRoles, recoveryNetworkOf } from "./server-networks.js";
import type { Problem } from "./references.js";
import { usable, type DrContext } from "./dr-context.js";
import { DR_JOB_LABELS, drJobName } from "./dr-jobs.js";
import { labelValue } from "../workloads/worker-job.js";

type FailoverStatus = NonNullable<NonNullable<ProtectedServer["status"]>["failover"]>;

/** How a step that must wait says so: sets the FailedOver condition and returns the requeue delay. */
export type Waiting = (reason: string, message: string, afterMs?: number) => number;

const POLL_MS = 3_000;

/**
 * The vCPUs and memory (whole GiB, rounded up) of the VM a vault point was
 * taken of: what an ECS instance type is chosen by when the drill or server
 * names none (a vSphere point has no ECS instance type), as a size to fit.
 * Undefined while the point's RecoveryPoint is not there yet (its
 * conversion waits for it too; the choice is made at bring-up then).
 */
export async function pointVmSizing(ctx: ReconcileContext, namespace: string, recoveryPoint: string): Promise<InstanceSizing | undefined> {
  const rp = await ctx.kube.get<WithKind<RecoveryPoint>>("RecoveryPoint", namespace, recoveryPoint).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  const vm = rp?.spec.vm;
  const sizing = sizingOf({ cpu: vm?.numCPUs, memoryGiB: vm?.memoryMiB === undefined ? undefined : Math.max(1, Math.ceil(vm.memoryMiB / 1024)) });
  // A VM's size need not be an ECS shape: the smallest one that fits it will do.
  return sizing ? { ...sizing, atLeast: true } : undefined;
}

/** The conversion RestoreJob of a failover attempt; it is also recorded as fo.job. */
export function conversionName(ps: ProtectedServer, round: string, attempt: number): string {
  return drJobName(ps, `failover-${round}-${attempt}`);
}

function tags(ps: ProtectedServer, conversion: string): Tags {
  return { [DR_TAG.server]: serverTagValue(ps.metadata.namespace ?? "", ps.metadata.name ?? ""), [DR_TAG.recovery]: `${ps.metadata.namespace ?? ""}/${conversion}` };
}


/**
 * The first problem with the network the server names for its recovered
 * instance, ECS asked: checked before a failover shuts the protected VM down
 * or converts anything, so a wrong id does not leave nothing running.
 */
export async function ecsRecoveryNetworkProblem(dr: DrContext): Promise<Problem | undefined> {
  const { ps, ctx, pair } = dr;
  if (!ps.spec.recovery?.network) return undefined;
  const sites = await cloudSites(ctx.kube, pair);
  if (!sites.ok) return sites.problem;
  const network = await recoveryNetworkOf(ps, pair, sites.value, () => namespaceNetworkRoles(ctx, ps.metadata.namespace ?? ""));
  return network.ok ? undefined : network.problem;
}

/**
 * The Restoring step: convert the point, then bring the instance up.
 * Returns a requeue delay while it waits, undefined once it moved on
 * (fo.step PoweringOn, or Failed).
 */
export async function restoreToEcs(dr: DrContext, fo: FailoverStatus, round: string, vmName: string, waiting: Waiting): Promise<number | undefined> {
  const { ps, ctx, pair } = dr;
  const site = usable(dr.recoverySite, ["gateway", "vault"]);
  if (!site.ok) return waiting(site.problem.reason, `waiting for the recovery site: ${site.problem.message}`);
  const sites = await cloudSites(ctx.kube, pair);
  if (!sites.ok) return waiting(sites.problem.reason, sites.problem.message);
  const name = conversionName(ps, round, fo.attempt ?? 1);
  const made = recoveredOf(fo);
  // The server's own network is checked before the point is converted for it, not at every poll after.
  const network = await recoveryNetworkOf(ps, pair, sites.value, () => namespaceNetworkRoles(ctx, ps.metadata.namespace ?? ""), !fo.job && !made.instanceId);
  if (!network.ok) return waiting(network.problem.reason, `${network.problem.message}; the failover goes on once it is fixed`);
  const sizing = ps.spec.recovery?.instanceType || made.instanceType || made.instanceId ? undefined : await pointVmSizing(ctx, ps.metadata.namespace ?? "", fo.recoveryPoint ?? "");
  const target = failoverTarget(ps.spec.recovery, sites.value.recoverySite, network.value, vmName, tags(ps, name), clientToken(ps.metadata.uid ?? "", name), sizing);
  if (target.sizing && !made.instanceType && !made.instanceId) {
    // Chosen before the conversion: a size with nothing in stock waits here, without converting the point for nothing.
    const chosen = await chooseInstanceTypeStep(sites.value.ecs, target, made, undefined);
    recordRecovered(fo, made);
    if (chosen.state === "failed") return waiting(chosen.reason, `${chosen.message}; the failover goes on once one is`, 60_000);
    return waiting("ChoseInstanceType", chosen.state === "running" ? chosen.message : "", 200);
  }
  const conversion = await convertPoint(ctx, ps, name, pair, fo.recoveryPoint ?? "", site.value.gateway.metadata.name ?? "", { [DR_JOB_LABELS.protectedServer]: labelValue(ps.metadata.name ?? "") });
  fo.job = name;
  if (conversion.restoreId) fo.restoreId = conversion.restoreId;
  if (conversion.state === "running") return waiting("ConvertingPoint", conversion.message, POLL_MS);
  if (conversion.state === "failed") {
    fo.step = "Failed";
    ctx.setCondition(ps, { type: "FailedOver", status: "False", reason: conversion.reason, message: `${conversion.message}; set spec.resumeRequest to a new value to try again` });
    await ctx.events.record(ps, "Warning", "FailoverFailed", conversion.message);
    return undefined;
  }
  const step = await bringUp(sites.value.ecs, { image: { imageId: conversion.imageId, what: `RestoreJob ${name}` } }, target, made);
  recordRecovered(fo, made);
  if (made.instanceId) fo.vm = { instanceId: made.instanceId, name: vmName, regionId: sites.value.recoverySite.region };
  if (step.state === "running") return waiting("StartingInstance", step.message, POLL_MS);
  if (step.state === "failed") {
    fo.step = "Failed";
    ctx.setCondition(ps, { type: "FailedOver", status: "False", reason: step.reason, message: `${step.message}; set spec.resumeRequest to a new value to try again` });
    await ctx.events.record(ps, "Warning", "FailoverFailed", step.message);
    return undefined;
  }
  fo.vm = { instanceId: step.instance.instanceId, name: step.instance.name, regionId: step.instance.regionId };
  fo.step = "PoweringOn";
  return undefined;
}

/** The switch-over script of a VMwareToCloud failover that is done, in its ECS instance (cloud-post-script.ts); returns when to look again while it runs. */
export async function ecsPostScript(dr: DrContext, fo: FailoverStatus): Promise<number | undefined> {
  const { ps, ctx, pair } = dr;
  const script = ps.spec.recovery?.postScript;
  if (!script || ps.spec.recovery?.powerOn === false || !postScriptDue(script, fo.postScript, fo.vm?.instanceId ?? "")) return undefined;
  const sites = await cloudSites(ctx.kube, pair);
  if (!sites.ok) {
    ctx.log.info({ reason: sites.problem.reason }, `The post script waits for the site pair's credentials: ${sites.problem.message}`);
    return 30_000;
  }
  return advancePostScript(sites.value.ecs, fo.vm?.regionId || sites.value.recoverySite.region, fo, script, `lifeboat-failover-${ps.metadata.namespace ?? ""}-${ps.metadata.name ?? ""}`, clientToken(ps.metadata.uid ?? "", "failover", String(fo.attempt ?? 1)), (type, reason, message) => ctx.events.record(ps, type, reason, message));
}

/**
 * Deletes what a failover attempt made at the recovery site: its instance
 * and elastic IP (by tag), then its conversion (the RestoreJob and the
 * image). Returns what is still there, or undefined once nothing is.
 */
export async function discardEcsAttempt(dr: DrContext, fo: FailoverStatus, keepInstance = false): Promise<string | undefined> {
  const { ps, ctx, pair } = dr;
  if (!fo.job) return undefined;
  const sites = await cloudSites(ctx.kube, pair);
  if (!sites.ok) return sites.problem.message;
  if (!keepInstance) {
    const made = recoveredOf(fo);
    const left = await tearDown(sites.value.ecs, sites.value.recoverySite.region, tags(ps, fo.job), made, { keepImages: true });
    if (left.length > 0) return `deleting ${left.join(", ")}`;
  }
  const left = await discardConversion(ctx, ps.metadata.namespace ?? "", fo.job, fo.restoreId, pair);
  if (left) return left;
  delete fo.imageId;
  return undefined;
}
