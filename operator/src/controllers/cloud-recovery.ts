/**
 * Bringing a cloud point up as an ECS instance (drills, failover, failback;
 * seed 004) and taking down what that made. The system disk's snapshot
 * becomes an image (ECS starts instances from images only), the data disks
 * are made straight from their snapshots (RunInstances DataDisk.N.SnapshotId,
 * so they keep their categories), the instance joins the given vSwitch and
 * security group with the private IP asked for, and an elastic IP is
 * allocated and associated when asked (through the VPC API). Every image,
 * instance and elastic IP carries the caller's tags, and tear-down deletes
 * exactly what a lookup by those tags finds.
 *
 * Each pass takes one step and never waits, as the cycles do.
 */
import { CloudApiError } from "../cloud/alibaba/ecs-api.js";
import { clientToken, isNotYet, type EcsDr, type InstanceInfo, type Tags } from "../cloud/alibaba/ecs-dr.js";
import { describe } from "../runtime/errors.js";
import type { CloudPoint } from "./cloud-points.js";
import type { CloudNetwork, CloudSite } from "./cloud-sites.js";
import type { ProtectedServer } from "../api/generated/types.js";

/** Where and how a point is brought up. */
export interface RecoveryTarget {
  readonly region: string;
  readonly zone: string;
  readonly network: CloudNetwork;
  /** Instance type; default one chosen by `sizing`, else the point's (the protected instance's when it was taken). */
  readonly instanceType?: string | undefined;
  /**
   * With no instance type: the vCPUs and memory the instance needs (seed
   * 004: CPU and memory instead of an ECS specification). An instance type
   * of exactly that size in stock in the zone is chosen (chooseInstanceType).
   */
  readonly sizing?: InstanceSizing | undefined;
  readonly privateIpAddress?: string | undefined;
  /** Category of every disk; default each disk's own. */
  readonly diskCategory?: string | undefined;
  readonly eip: boolean;
  /** Leave the instance running (default) or stopped once made. */
  readonly powerOn?: boolean | undefined;
  /** Instance (and image) name. */
  readonly name: string;
  /** Tags on the image and the instance: the tear-down finds them by these. */
  readonly tags: Tags;
  /** Makes the ClientTokens: one per bring-up attempt. */
  readonly token: string;
}

/** vCPUs and memory an instance type is chosen by. */
export interface InstanceSizing {
  readonly cpu: number;
  readonly memoryGiB: number;
  /**
   * A size to fit rather than to match (a vSphere VM's own, which need not be
   * an ECS shape): with no type of exactly this size in stock, the smallest
   * standard shape with at least as many vCPUs and GiB that has one.
   */
  readonly atLeast?: boolean;
}

/** The sizing some CPU and memory fields ask for: both together, or none. */
export function sizingOf(fields: { readonly cpu?: number | undefined; readonly memoryGiB?: number | undefined }): InstanceSizing | undefined {
  return fields.cpu !== undefined && fields.memoryGiB !== undefined ? { cpu: fields.cpu, memoryGiB: fields.memoryGiB } : undefined;
}

/**
 * The size some fields ask for: their instance type; else the type their CPU
 * and memory (both) choose; else `fallback` to choose it by. The one place
 * the precedence of seed 004's "ECS specification, or CPU and memory" lives.
 */
export function sizeOf(
  fields: { readonly instanceType?: string | undefined; readonly cpu?: number | undefined; readonly memoryGiB?: number | undefined },
  fallback?: InstanceSizing,
): { instanceType?: string | undefined; sizing?: InstanceSizing | undefined } {
  return fields.instanceType !== undefined ? { instanceType: fields.instanceType } : { sizing: sizingOf(fields) ?? fallback };
}

/**
 * Why CPU and memory fields are not acted on at a cloud site, for an
 * IgnoredFields condition: an instance type set beside them decides, and one
 * of them alone cannot choose an instance type.
 */
export function ignoredSizing(at: string, fields: { readonly instanceType?: string | undefined; readonly cpu?: number | undefined; readonly memoryGiB?: number | undefined }): string[] {
  const set = (["cpu", "memoryGiB"] as const).filter((f) => fields[f] !== undefined);
  if (set.length === 0) return [];
  if (fields.instanceType !== undefined) return set.map((f) => `${at}.${f} (${at}.instanceType decides)`);
  if (set.length === 1) return set.map((f) => `${at}.${f} (an instance type is chosen by vCPUs and memory together: set ${at}.${f === "cpu" ? "memoryGiB" : "cpu"} too)`);
  return [];
}

/** What a bring-up made so far (kept in status between passes). */
export interface Recovered {
  /** The instance type chosen by sizing (once chosen, kept), or the instance's. */
  instanceType?: string | undefined;
  imageId?: string | undefined;
  instanceId?: string | undefined;
  eipAllocationId?: string | undefined;
  eipAddress?: string | undefined;
  privateIpAddress?: string | undefined;
}

/** What a failover records of its bring-up in status (cloud-protection.ts and cloud-vault-recovery.ts both keep it there). */
export interface RecoveredRecord {
  instanceType?: string | undefined;
  imageId?: string | undefined;
  eipAllocationId?: string | undefined;
  eipAddress?: string | undefined;
  privateIpAddress?: string | undefined;
  vm?: { instanceId?: string | undefined } | undefined;
}

/** What a failover's status says its bring-up made. */
export function recoveredOf(r: RecoveredRecord): Recovered {
  return { instanceType: r.instanceType, imageId: r.imageId, instanceId: r.vm?.instanceId, eipAllocationId: r.eipAllocationId, eipAddress: r.eipAddress, privateIpAddress: r.privateIpAddress };
}

/** Writes back into a failover's status what its bring-up made this pass (the instance itself is recorded by the caller, with its name). */
export function recordRecovered(r: RecoveredRecord, made: Recovered): void {
  Object.assign(r, { instanceType: made.instanceType, imageId: made.imageId, eipAllocationId: made.eipAllocationId, eipAddress: made.eipAddress, privateIpAddress: made.privateIpAddress });
}

/**
 * A failover's instance at the recovery site, as the server's spec.recovery
 * asks for it. `sizing` is the size to choose an instance type by when
 * spec.recovery names neither a type nor both CPU and memory (a vSphere VM's
 * own vCPUs and memory, for VMwareToCloud).
 */
export function failoverTarget(recovery: ProtectedServer["spec"]["recovery"], site: CloudSite, network: CloudNetwork, name: string, tags: Tags, token: string, sizing?: InstanceSizing): RecoveryTarget {
  const r = recovery ?? {};
  return {
    region: site.region,
    zone: site.zone,
    network,
    ...sizeOf(r, sizing),
    privateIpAddress: r.privateIpAddress,
    diskCategory: r.diskCategory,
    eip: r.eip ?? false,
    powerOn: r.powerOn ?? true,
    name,
    tags,
    token,
  };
}

export type BringUp =
  | { readonly state: "running"; readonly message: string }
  | { readonly state: "done"; readonly instance: InstanceInfo }
  | { readonly state: "failed"; readonly reason: string; readonly message: string };

/**
 * What an instance is made from: a point of cloud snapshots (its system
 * disk's snapshot becomes an image made here, its data disks are made from
 * their snapshots), or an image already made of every disk (a vault point
 * converted by a restore worker; its data disks come with it).
 */
export type RecoverySource = { readonly point: CloudPoint } | { readonly image: { readonly imageId: string; readonly what: string } };

/** Takes the next step of bringing `source` up; `made` is updated with what exists. */
export async function bringUp(ecs: EcsDr, source: RecoverySource, target: RecoveryTarget, made: Recovered): Promise<BringUp> {
  const point = "point" in source ? source.point : undefined;
  const system = point?.disks[0];
  if (point && !system) return { state: "failed", reason: "EmptyPoint", message: `point ${point.id} has no disks` };
  try {
    let instanceType = target.instanceType ?? made.instanceType;
    if (!instanceType && target.sizing && !made.instanceId) {
      // Recorded in status before RunInstances: a later pass could choose otherwise, and ECS refuses a ClientToken reused with another type.
      return await chooseInstanceTypeStep(ecs, target, made, point?.instanceType);
    }
    instanceType ??= point?.instanceType;
    if (!instanceType && !made.instanceId) return { state: "failed", reason: "NoInstanceType", message: `${point ? `point ${point.id} does not record the instance type` : "a vSphere point has no ECS instance type"}: set it (spec.recovery.instanceType, or the drill's spec.instanceType), or the CPU and memory to choose one by` };
    if ("image" in source) made.imageId = source.image.imageId;
    if (!made.imageId && system) {
      const found = await ecs.imagesTagged(target.region, target.tags);
      made.imageId = found[0]?.imageId ?? (await ecs.createImage(target.region, { name: `lifeboat-${target.name}`.slice(0, 128), snapshotId: system.snapshotId, sizeGiB: system.sizeGiB, tags: target.tags, token: clientToken(target.token, "image") }));
    }
    if (!made.instanceId) {
      const imageTags = "image" in source ? undefined : target.tags;
      const image = imageTags ? (await ecs.imagesTagged(target.region, imageTags)).find((i) => i.imageId === made.imageId) : await ecs.image(target.region, made.imageId ?? "");
      const from = system ? `snapshot ${system.snapshotId}` : "image" in source ? source.image.what : "";
      if (!image) return { state: "running", message: `image ${made.imageId ?? ""} is not listed yet` };
      if (image.status === "CreateFailed") return { state: "failed", reason: "ImageFailed", message: `ECS could not make image ${image.imageId} from ${from}` };
      if (image.status !== "Available") return { state: "running", message: `image ${image.imageId} is ${image.status}` };
      const existing = await ecs.instancesTagged(target.region, target.tags);
      made.instanceId = existing[0]?.instanceId ?? (await ecs.runInstance(target.region, {
        name: target.name,
        imageId: image.imageId,
        instanceType: instanceType ?? "",
        zoneId: target.zone,
        vSwitchId: target.network.vSwitchId,
        securityGroupId: target.network.securityGroupId,
        privateIpAddress: target.privateIpAddress,
        systemDisk: { ...(system ? { sizeGiB: system.sizeGiB } : {}), category: target.diskCategory ?? (system?.category || undefined) },
        dataDisks: (point?.disks.slice(1) ?? []).map((d) => ({ snapshotId: d.snapshotId, sizeGiB: d.sizeGiB, category: target.diskCategory ?? (d.category || undefined) })),
        tags: target.tags,
        token: clientToken(target.token, "instance"),
      }));
    }
    const instance = await ecs.instance(target.region, made.instanceId);
    if (!instance) return { state: "running", message: `instance ${made.instanceId} is not listed yet` };
    made.instanceType = instance.instanceType || made.instanceType;
    made.privateIpAddress = instance.privateIps[0];
    const powerOn = target.powerOn ?? true;
    if (powerOn && instance.status === "Stopped") {
      await ecs.startInstance(target.region, instance.instanceId);
      return { state: "running", message: `instance ${instance.instanceId} is starting` };
    }
    if (!powerOn && instance.status === "Running") {
      await ecs.stopInstance(target.region, instance.instanceId);
      return { state: "running", message: `instance ${instance.instanceId} is stopping (powerOn is false)` };
    }
    if (instance.status !== (powerOn ? "Running" : "Stopped")) return { state: "running", message: `instance ${instance.instanceId} is ${instance.status}` };
    if (target.eip) {
      if (!made.eipAllocationId) {
        const eip = (await ecs.eipsTagged(target.region, target.tags))[0] ?? (await ecs.allocateEip(target.region, target.tags, clientToken(target.token, "eip")));
        made.eipAllocationId = eip.allocationId;
        made.eipAddress = eip.ipAddress;
      }
      const eip = await ecs.eip(target.region, made.eipAllocationId);
      if (!eip) return { state: "running", message: `elastic IP ${made.eipAllocationId} is not listed yet` };
      made.eipAddress = eip.ipAddress;
      if (eip.status === "Available") {
        await ecs.associateEip(target.region, eip.allocationId, instance.instanceId);
        return { state: "running", message: `associating elastic IP ${eip.ipAddress}` };
      }
      if (eip.status !== "InUse" || eip.instanceId !== instance.instanceId) return { state: "running", message: `elastic IP ${eip.ipAddress} is ${eip.status}` };
    }
    return { state: "done", instance };
  } catch (err) {
    if (isNotYet(err)) return { state: "running", message: `waiting for ECS: ${describe(err)}` };
    if (err instanceof CloudApiError) return { state: "failed", reason: err.code.replace(/[^A-Za-z0-9]/g, "") || "CloudError", message: describe(err) };
    throw err;
  }
}

/**
 * Families taken before others of the same size when the protected instance's
 * family has none (or there is no protected instance: a vSphere VM): x86
 * general-purpose, compute and memory families of current generations, and
 * the shared s6. ECS lists ARM (g8y, c6r), burstable (t6), GPU and local-disk
 * types of the same size too; an image of an x86 VM does not start on ARM,
 * so those come only when none of these has stock.
 */
export const PREFERRED_FAMILIES = ["ecs.g7.", "ecs.c7.", "ecs.r7.", "ecs.g8i.", "ecs.c8i.", "ecs.r8i.", "ecs.g6.", "ecs.c6.", "ecs.r6.", "ecs.s6-"] as const;

/**
 * Picks among the instance types of the size asked for that the zone has in
 * stock: one of the protected instance's family (ecs.g7.large asks for
 * ecs.g7.xlarge before ecs.g6.xlarge), so a recovered server keeps its CPU
 * generation and its ratio of memory to vCPUs where it can; else one of
 * PREFERRED_FAMILIES, in that order; else the first by name, so the same
 * stock always gives the same choice.
 */
export function chooseInstanceType(inStock: readonly string[], sourceType: string | undefined): string | undefined {
  const familyOf = (type: string): string => type.slice(0, type.lastIndexOf(".") + 1);
  const family = sourceType ? familyOf(sourceType) : "";
  const sorted = [...new Set(inStock)].sort();
  const preferred = PREFERRED_FAMILIES.map((f) => sorted.find((t) => t.startsWith(f))).find((t) => t !== undefined);
  return sorted.find((t) => family !== "" && familyOf(t) === family) ?? preferred ?? sorted[0];
}

/** vCPU counts of ECS's standard shapes, and the GiB per vCPU of its families (1:1 to 1:8). */
const STANDARD_CORES = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128] as const;
const MEMORY_RATIOS = [1, 2, 4, 8] as const;

/**
 * The sizes to ask ECS for, in order: the one asked; then, for a size to fit
 * (atLeast), standard shapes with at least as many vCPUs and GiB, smallest
 * first (the next two vCPU counts up, each at 1, 2, 4 and 8 GiB per vCPU).
 * A VM of 6 vCPUs and 12 GiB is asked for as 6/12, then 8/16, 8/32, ...
 */
export function sizesToTry(sizing: InstanceSizing): InstanceSizing[] {
  const out: InstanceSizing[] = [{ cpu: sizing.cpu, memoryGiB: sizing.memoryGiB }];
  if (!sizing.atLeast) return out;
  const shapes = STANDARD_CORES.filter((c) => c >= sizing.cpu).slice(0, 2)
    .flatMap((cpu) => MEMORY_RATIOS.map((r) => ({ cpu, memoryGiB: cpu * r })).filter((x) => x.memoryGiB >= sizing.memoryGiB));
  for (const x of shapes.sort((a, b) => a.cpu - b.cpu || a.memoryGiB - b.memoryGiB)) {
    if (!out.some((o) => o.cpu === x.cpu && o.memoryGiB === x.memoryGiB)) out.push(x);
  }
  return out;
}

/**
 * Chooses the instance type of `target.sizing` (the first of sizesToTry with
 * a type in stock, chooseInstanceType among them) and records it in `made`;
 * "running" once chosen, so the caller writes it to status before anything
 * is made with it. Callers that have slow work to do first (converting a
 * vault point) call it before that work, so no stock wastes a conversion.
 */
export async function chooseInstanceTypeStep(ecs: EcsDr, target: RecoveryTarget, made: Recovered, sourceType: string | undefined): Promise<BringUp> {
  const sizing = target.sizing;
  if (!sizing) return { state: "failed", reason: "NoInstanceType", message: "no instance type and no CPU and memory to choose one by" };
  for (const size of sizesToTry(sizing)) {
    const chosen = chooseInstanceType(await ecs.instanceTypesInStock(target.region, target.zone, size.cpu, size.memoryGiB, target.diskCategory), sourceType);
    if (chosen) {
      made.instanceType = chosen;
      return { state: "running", message: `chose instance type ${chosen} (${size.cpu} vCPUs, ${size.memoryGiB} GiB) in zone ${target.zone}` };
    }
  }
  const fit = sizing.atLeast ? " or larger" : "";
  return { state: "failed", reason: "NoInstanceTypeInStock", message: `zone ${target.zone} has no instance type with ${sizing.cpu} vCPUs and ${sizing.memoryGiB} GiB${fit}${target.diskCategory ? ` and ${target.diskCategory} disks` : ""} in stock: set an instance type, or other CPU and memory` };
}

/**
 * Deletes what a bring-up made: its elastic IP, every instance and image
 * carrying `tags`. Returns what a lookup still finds (empty once all is
 * gone); call again until it is.
 */
export async function tearDown(ecs: EcsDr, region: string, tags: Tags, made: Recovered, options: { keepImages?: boolean } = {}): Promise<string[]> {
  const left: string[] = [];
  const eips = new Set([...(made.eipAllocationId ? [made.eipAllocationId] : []), ...(await ecs.eipsTagged(region, tags)).map((e) => e.allocationId)]);
  for (const id of eips) {
    if (await ecs.releaseEip(region, id)) {
      if (made.eipAllocationId === id) delete made.eipAllocationId;
    } else left.push(`elastic IP ${id}`);
  }
  for (const i of await ecs.instancesTagged(region, tags)) {
    await ecs.deleteInstance(region, i.instanceId);
    left.push(`instance ${i.instanceId}`);
  }
  if (left.length === 0 && !options.keepImages) {
    // Images go after the instances made from them.
    for (const img of await ecs.imagesTagged(region, tags)) {
      try {
        await ecs.deleteImage(region, img.imageId);
      } catch (err) {
        if (!isNotYet(err)) throw err;
      }
      left.push(`image ${img.imageId}`);
    }
  }
  return left;
}
