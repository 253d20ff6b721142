// The ECS actions of the contract server: documented request parameters in,
// documented response shapes out (field names and nesting as the SDK's
// response models declare them, e.g. `Disks.Disk[]`, `Tags.Tag[]` with
// TagKey/TagValue). Every response carries RequestId.
import { EcsApiError, ecsErrors } from "./errors.js";
import { ecsTime } from "./ids.js";
import { usableRange, type SecurityGroupRecord, type VSwitchRecord } from "./networks.js";
import { matchesTags, progress, type DiskRecord, type EcsState, type EipRecord, type ImageRecord, type InstanceRecord, type SnapshotRecord, type Tag, type TaskRecord } from "./state.js";

/** Request parameters of an RPC-style call: query and form body merged, flattened (`Tag.1.Key`). */
export type Params = Map<string, string>;

type Json = Record<string, unknown>;

function str(p: Params, name: string): string | undefined {
  const v = p.get(name);
  return v === undefined || v === "" ? undefined : v;
}

function required(p: Params, name: string): string {
  const v = str(p, name);
  if (v === undefined) throw ecsErrors.missingParameter(name);
  return v;
}

function int(p: Params, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw ecsErrors.invalidParameter(name, "must be an integer");
  return n;
}

function bool(p: Params, name: string): boolean | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (v !== "true" && v !== "false") throw ecsErrors.invalidParameter(name, "must be true or false");
  return v === "true";
}

/** `Prefix.N.Field` parameters as a list of records, in N order. */
function repeated(p: Params, prefix: string): Record<string, string>[] {
  const byIndex = new Map<number, Record<string, string>>();
  for (const [key, value] of p) {
    const m = new RegExp(`^${prefix.replace(/\./g, "\\.")}\\.(\\d+)\\.(.+)$`).exec(key);
    if (!m) continue;
    const n = Number(m[1]);
    const entry = byIndex.get(n) ?? {};
    entry[m[2] ?? ""] = value;
    byIndex.set(n, entry);
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** `Prefix.N` scalar parameters, in N order. */
function repeatedScalar(p: Params, prefix: string): string[] {
  const out: [number, string][] = [];
  for (const [key, value] of p) {
    const m = new RegExp(`^${prefix}\\.(\\d+)$`).exec(key);
    if (m) out.push([Number(m[1]), value]);
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** A JSON-array parameter such as DiskIds='["d-…"]'. */
function jsonIds(p: Params, name: string): string[] | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(v);
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === "string")) throw new Error("not a list of strings");
    return parsed;
  } catch (err) {
    throw ecsErrors.invalidParameter(name, `must be a JSON array of ids (${String(err)})`);
  }
}

function tagsParam(p: Params): Tag[] {
  return repeated(p, "Tag").filter((t) => t.Key !== undefined).map((t) => ({ key: t.Key ?? "", value: t.Value ?? "" }));
}

function tagFilter(p: Params): { key: string; value?: string }[] {
  return repeated(p, "Tag").filter((t) => t.Key !== undefined).map((t) => ({ key: t.Key ?? "", value: t.Value }));
}

function tagsJson(tags: Tag[]): Json {
  return { Tag: tags.map((t) => ({ TagKey: t.key, TagValue: t.value })) };
}

function page<T>(p: Params, items: T[]): { items: T[]; pageNumber: number; pageSize: number; total: number } {
  const pageNumber = int(p, "PageNumber") ?? 1;
  const pageSize = int(p, "PageSize") ?? 10;
  if (pageNumber < 1) throw ecsErrors.invalidParameter("PageNumber", "must be 1 or more");
  if (pageSize < 1 || pageSize > 100) throw ecsErrors.invalidParameter("PageSize", "must be 1 to 100");
  return { items: items.slice((pageNumber - 1) * pageSize, pageNumber * pageSize), pageNumber, pageSize, total: items.length };
}

function inRegion<T extends { regionId: string }>(p: Params, items: Iterable<T>): T[] {
  const region = required(p, "RegionId");
  return [...items].filter((i) => i.regionId === region);
}

function dryRun(p: Params): void {
  if (bool(p, "DryRun")) throw ecsErrors.dryRun();
}

/** Remembers the result of a creating call by ClientToken and returns it on a retry. */
async function idempotent<T>(state: EcsState, p: Params, action: string, run: () => Promise<T>): Promise<T> {
  const token = str(p, "ClientToken");
  if (!token) return run();
  const key = `${action}/${token}`;
  if (state.clientTokens.has(key)) return state.clientTokens.get(key) as T;
  const result = await run();
  state.clientTokens.set(key, result);
  return result;
}

function instanceJson(state: EcsState, i: InstanceRecord): Json {
  const eip = state.eipOf(i.id);
  return {
    InstanceId: i.id,
    InstanceName: i.name,
    Description: i.description,
    RegionId: i.regionId,
    ZoneId: i.zoneId,
    Status: i.status,
    InstanceType: i.instanceType,
    ImageId: i.imageId,
    OSType: "linux",
    HostName: i.id,
    CreationTime: ecsTime(i.createdAt),
    StartTime: i.startedAt !== undefined ? ecsTime(i.startedAt) : "",
    InstanceChargeType: "PostPaid",
    InternetChargeType: "PayByTraffic",
    InstanceNetworkType: i.vSwitchId ? "vpc" : "classic",
    IoOptimized: true,
    DeletionProtection: false,
    VpcAttributes: { VSwitchId: i.vSwitchId, VpcId: i.vpcId, NatIpAddress: "", PrivateIpAddress: { IpAddress: i.privateIpAddress !== undefined ? [i.privateIpAddress] : [] } },
    SecurityGroupIds: { SecurityGroupId: i.securityGroupIds },
    PublicIpAddress: { IpAddress: [] },
    // Always present, empty without an EIP, as ECS answers.
    EipAddress: eip ? { AllocationId: eip.allocationId, IpAddress: eip.ipAddress, Bandwidth: Number(eip.bandwidth), InternetChargeType: eip.internetChargeType, IsSupportUnassociate: true } : { AllocationId: "", IpAddress: "", InternetChargeType: "" },
    InnerIpAddress: { IpAddress: [] },
    OperationLocks: { LockReason: [] },
    Tags: tagsJson(i.tags),
  };
}

function diskJson(d: DiskRecord): Json {
  const attached = d.instanceId !== undefined && d.status !== "Available";
  return {
    DiskId: d.id,
    DiskName: d.name,
    Description: d.description,
    RegionId: d.regionId,
    ZoneId: d.zoneId,
    Category: d.category,
    PerformanceLevel: d.category === "cloud_essd" ? "PL1" : "",
    Size: d.sizeGiB,
    Type: d.type,
    Status: d.status,
    InstanceId: attached ? d.instanceId : "",
    Device: attached ? d.device : "",
    CreationTime: ecsTime(d.createdAt),
    AttachedTime: d.attachedAt !== undefined && attached ? ecsTime(d.attachedAt) : "",
    DetachedTime: d.detachedAt !== undefined ? ecsTime(d.detachedAt) : "",
    DeleteWithInstance: d.deleteWithInstance,
    Portable: d.type === "data",
    Encrypted: false,
    DiskChargeType: "PostPaid",
    SourceSnapshotId: d.sourceSnapshotId ?? "",
    ImageId: d.imageId ?? "",
    Attachments: { Attachment: attached ? [{ InstanceId: d.instanceId, Device: d.device, AttachedTime: d.attachedAt !== undefined ? ecsTime(d.attachedAt) : "" }] : [] },
    OperationLocks: { OperationLock: [] },
    Tags: tagsJson(d.tags),
  };
}

function snapshotJson(state: EcsState, s: SnapshotRecord): Json {
  const done = s.status === "accomplished";
  return {
    SnapshotId: s.id,
    SnapshotName: s.name,
    Description: s.description,
    RegionId: s.regionId,
    Status: s.status,
    Progress: progress(state.now, s.since, s.durationMs, done),
    RemainTime: done ? 0 : Math.max(0, Math.ceil((s.since + s.durationMs - state.now) / 1000)),
    Available: done,
    SourceDiskId: s.sourceDiskId,
    SourceDiskSize: String(s.sourceDiskSizeGiB),
    SourceDiskType: s.sourceDiskType,
    // Only copies carry where they came from.
    SourceRegionId: s.sourceRegionId,
    SourceSnapshotId: s.sourceSnapshotId,
    RetentionDays: s.retentionDays,
    CreationTime: ecsTime(s.createdAt),
    Category: "standard",
    SnapshotType: "user",
    Usage: state.snapshotUsedByImage(s.id) ? "image" : "none",
    Encrypted: false,
    InstantAccess: false,
    Tags: tagsJson(s.tags),
  };
}

function imageJson(state: EcsState, img: ImageRecord): Json {
  const done = img.status !== "Creating";
  const pct = progress(state.now, img.since, img.durationMs, done);
  return {
    ImageId: img.id,
    ImageName: img.name,
    Description: img.description,
    Status: img.status,
    Progress: pct,
    Size: img.disks[0]?.sizeGiB ?? 0,
    CreationTime: ecsTime(img.createdAt),
    ImageOwnerAlias: "self",
    IsPublic: false,
    IsCopied: false,
    IsSubscribed: false,
    IsSelfShared: "",
    Usable: img.status === "Available",
    Usage: [...state.instances.values()].some((i) => i.imageId === img.id) ? "instance" : "none",
    OSType: img.osType,
    OSName: img.platform,
    OSNameEn: img.platform,
    Platform: img.platform,
    Architecture: img.architecture,
    BootMode: img.bootMode,
    IsSupportIoOptimized: true,
    IsSupportCloudinit: true,
    DiskDeviceMappings: {
      DiskDeviceMapping: img.disks.map((d) => ({
        Device: d.device,
        Type: d.type,
        Size: String(d.sizeGiB),
        SnapshotId: d.snapshotId ?? "",
        Format: d.format ?? "",
        ImportOSSBucket: d.ossBucket ?? "",
        ImportOSSObject: d.ossObject ?? "",
        Progress: pct,
        RemainTime: done ? 0 : Math.max(0, Math.ceil((img.since + img.durationMs - state.now) / 1000)),
      })),
    },
    Tags: tagsJson(img.tags),
  };
}

function taskJson(t: TaskRecord): Json {
  return {
    TaskId: t.id,
    TaskAction: t.action,
    TaskStatus: t.status,
    ResourceId: t.resourceId,
    SupportCancel: t.status === "Processing" ? "true" : "false",
    CreationTime: ecsTime(t.createdAt),
    FinishedTime: t.finishedAt !== undefined ? ecsTime(t.finishedAt) : "",
  };
}

/**
 * The instance types the server offers in every zone, with their vCPUs and
 * memory as Alibaba Cloud's instance family pages give them: the g7 and g6
 * general-purpose families (1 vCPU : 4 GiB), c7 compute (1 : 2) and r7
 * memory (1 : 8), large to 4xlarge, and the shared s6 family's 1-vCPU types
 * (1, 2 and 4 GiB). A subset, every one with stock; RunInstances still takes
 * any type (the server models no quotas).
 */
const INSTANCE_TYPES: readonly { readonly type: string; readonly cores: number; readonly memoryGiB: number }[] = [
  ...([["g7", 4], ["g6", 4], ["c7", 2], ["r7", 8]] as const).flatMap(([family, ratio]) =>
    ([["large", 2], ["xlarge", 4], ["2xlarge", 8], ["3xlarge", 12], ["4xlarge", 16]] as const).map(([size, cores]) => ({ type: `ecs.${family}.${size}`, cores, memoryGiB: cores * ratio })),
  ),
  ...[1, 2, 4].map((memoryGiB) => ({ type: `ecs.s6-c1m${memoryGiB}.small`, cores: 1, memoryGiB })),
];

/**
 * DescribeAvailableResource with DestinationResource InstanceType: the types
 * of INSTANCE_TYPES matching Cores and Memory (each optional), per zone
 * (ZoneId, else every zone of the region), as Available and WithStock.
 * Zones with no match are left out, as ECS leaves them out.
 */
function availableInstanceTypes(p: Params, state: EcsState): Json {
  const regionId = required(p, "RegionId");
  const destination = required(p, "DestinationResource");
  if (destination !== "InstanceType") throw ecsErrors.invalidParameter("DestinationResource", "the server answers only InstanceType");
  const chargeType = str(p, "InstanceChargeType");
  if (chargeType !== undefined && chargeType !== "PostPaid" && chargeType !== "PrePaid") throw ecsErrors.invalidParameter("InstanceChargeType", "must be PostPaid or PrePaid");
  const zoneId = str(p, "ZoneId");
  if (zoneId) state.checkZone(regionId, zoneId);
  const cores = int(p, "Cores");
  const memory = str(p, "Memory");
  const memoryGiB = memory === undefined ? undefined : Number(memory);
  if (memoryGiB !== undefined && !(memoryGiB > 0)) throw ecsErrors.invalidParameter("Memory", "must be a positive number of GiB");
  const types = INSTANCE_TYPES.filter((t) => (cores === undefined || t.cores === cores) && (memoryGiB === undefined || t.memoryGiB === memoryGiB));
  const zones = (zoneId ? [zoneId] : state.zonesOf(regionId)).filter(() => types.length > 0);
  return {
    AvailableZones: {
      AvailableZone: zones.map((z) => ({
        RegionId: regionId,
        ZoneId: z,
        Status: "Available",
        StatusCategory: "WithStock",
        AvailableResources: {
          AvailableResource: [{ Type: "InstanceType", SupportedResources: { SupportedResource: types.map((t) => ({ Value: t.type, Status: "Available", StatusCategory: "WithStock" })) } }],
        },
      })),
    },
  };
}

/**
 * A zone as DescribeZones lists it. Only what the server models: instances,
 * disks and vSwitches can be made in every zone, with any instance type
 * (AvailableInstanceTypes is left out rather than invented).
 */
function zoneJson(regionId: string, zoneId: string): Json {
  const suffix = zoneId.startsWith(`${regionId}-`) ? zoneId.slice(regionId.length + 1) : zoneId;
  return {
    ZoneId: zoneId,
    // (assumed) ECS names zones in prose ("Hangzhou Zone I"); the server has no region names.
    LocalName: `${regionId} Zone ${suffix.toUpperCase()}`,
    ZoneType: "AvailabilityZone",
    AvailableResourceCreation: { ResourceTypes: ["Instance", "Disk", "VSwitch"] },
    AvailableDiskCategories: { DiskCategories: ["cloud_essd", "cloud_ssd", "cloud_efficiency"] },
  };
}

function vSwitchJson(state: EcsState, v: VSwitchRecord): Json {
  const range = usableRange(v.cidrBlock);
  const used = [...state.instances.values()].filter((i) => i.vSwitchId === v.vSwitchId).length;
  return {
    VSwitchId: v.vSwitchId,
    VpcId: v.vpcId,
    ZoneId: v.zoneId,
    CidrBlock: v.cidrBlock,
    Status: "Available",
    AvailableIpAddressCount: range.last - range.first + 1 - used,
    CreationTime: ecsTime(v.createdAt),
    VSwitchName: "",
    Description: "",
    IsDefault: false,
    ResourceGroupId: "",
  };
}

function eipJson(e: EipRecord): Json {
  return {
    AllocationId: e.allocationId,
    IpAddress: e.ipAddress,
    RegionId: e.regionId,
    Status: e.status,
    InstanceId: e.instanceId ?? "",
    InstanceType: e.instanceId !== undefined ? "EcsInstance" : "",
    Bandwidth: e.bandwidth,
    EipBandwidth: e.bandwidth,
    InternetChargeType: e.internetChargeType,
    ChargeType: "PostPaid",
    AllocationTime: ecsTime(e.createdAt),
    ExpiredTime: "",
    OperationLocks: { LockReason: [] },
  };
}

function securityGroupJson(g: SecurityGroupRecord): Json {
  return {
    SecurityGroupId: g.securityGroupId,
    SecurityGroupName: "",
    Description: "",
    VpcId: g.vpcId,
    SecurityGroupType: "normal",
    CreationTime: ecsTime(g.createdAt),
    ResourceGroupId: "",
    ServiceManaged: false,
    Tags: tagsJson([]),
  };
}

/** What an action handler can reach. */
export interface EcsContext {
  state: EcsState;
  /** The VPC API (2016-04-28) rather than ECS's: EIPs take tags there, and its models list them. */
  vpc?: boolean;
}

type Handler = (p: Params, ctx: EcsContext) => Json | Promise<Json>;

/** The implemented actions, by name. An action not listed answers 404 InvalidAction.NotFound. */
export const ecsActions: Record<string, Handler> = {
  DescribeRegions(p) {
    const region = str(p, "RegionId") ?? "cn-hangzhou";
    return { Regions: { Region: [{ RegionId: region, LocalName: region, RegionEndpoint: `ecs.${region}.aliyuncs.com`, Status: "available" }] } };
  },

  // Deprecated in favour of the VPC API's DescribeVSwitches, but still served by ECS and in the ECS SDK.
  DescribeVSwitches(p, { state }) {
    const id = str(p, "VSwitchId");
    const vpcId = str(p, "VpcId");
    const zone = str(p, "ZoneId");
    const all = inRegion(p, state.vSwitches.values()).filter((v) => (!id || v.vSwitchId === id) && (!vpcId || v.vpcId === vpcId) && (!zone || v.zoneId === zone));
    const pg = page(p, all);
    return { VSwitches: { VSwitch: pg.items.map((v) => vSwitchJson(state, v)) }, TotalCount: pg.total, PageNumber: pg.pageNumber, PageSize: pg.pageSize };
  },

  DescribeSecurityGroups(p, { state }) {
    const id = str(p, "SecurityGroupId");
    const ids = jsonIds(p, "SecurityGroupIds");
    const vpcId = str(p, "VpcId");
    const all = inRegion(p, state.securityGroups.values()).filter((g) => (!id || g.securityGroupId === id) && (!ids || ids.includes(g.securityGroupId)) && (!vpcId || g.vpcId === vpcId));
    const pg = page(p, all);
    return { SecurityGroups: { SecurityGroup: pg.items.map(securityGroupJson) }, TotalCount: pg.total, PageNumber: pg.pageNumber, PageSize: pg.pageSize, RegionId: required(p, "RegionId"), NextToken: "" };
  },

  async AllocateEipAddress(p, { state, vpc }) {
    const regionId = required(p, "RegionId");
    const eip = await idempotent(state, p, "AllocateEipAddress", () => Promise.resolve(state.allocateEip({ regionId, bandwidth: str(p, "Bandwidth"), internetChargeType: str(p, "InternetChargeType"), tags: vpc ? tagsParam(p) : [] })));
    return { AllocationId: eip.allocationId, EipAddress: eip.ipAddress, ...(vpc ? { ResourceGroupId: "", OrderId: 0 } : {}) };
  },

  AssociateEipAddress(p, { state }) {
    state.associateEip({ allocationId: required(p, "AllocationId"), instanceId: required(p, "InstanceId"), regionId: str(p, "RegionId"), instanceType: str(p, "InstanceType") });
    return {};
  },

  UnassociateEipAddress(p, { state }) {
    state.unassociateEip({ allocationId: required(p, "AllocationId"), instanceId: required(p, "InstanceId"), regionId: str(p, "RegionId"), instanceType: str(p, "InstanceType") });
    return {};
  },

  ReleaseEipAddress(p, { state }) {
    state.releaseEip(required(p, "AllocationId"), str(p, "RegionId"));
    return {};
  },

  DescribeEipAddresses(p, { state, vpc }) {
    const tags = vpc ? tagFilter(p) : [];
    const id = str(p, "AllocationId");
    const address = str(p, "EipAddress");
    const status = str(p, "Status");
    const instanceType = str(p, "AssociatedInstanceType");
    const instanceId = str(p, "AssociatedInstanceId");
    const all = inRegion(p, state.eips.values()).filter(
      (e) =>
        (!id || e.allocationId === id) &&
        (!address || e.ipAddress === address) &&
        (!status || e.status === status) &&
        (!instanceType || (instanceType === "EcsInstance" && e.instanceId !== undefined)) &&
        (!instanceId || e.instanceId === instanceId) &&
        matchesTags(e.tags, tags),
    );
    const pg = page(p, all);
    return { EipAddresses: { EipAddress: pg.items.map((e) => (vpc ? { ...eipJson(e), Tags: { Tag: e.tags.map((t) => ({ Key: t.key, Value: t.value })) } } : eipJson(e))) }, TotalCount: pg.total, PageNumber: pg.pageNumber, PageSize: pg.pageSize };
  },

  DescribeAvailableResource(p, { state }) {
    return availableInstanceTypes(p, state);
  },

  DescribeZones(p, { state }) {
    const regionId = required(p, "RegionId");
    return { Zones: { Zone: state.zonesOf(regionId).map((z) => zoneJson(regionId, z)) } };
  },

  // Cloud Assistant (seed 004's switch-over scripts). The guest stand-in runs shell scripts; see user-data.ts.
  DescribeCloudAssistantStatus(p, { state }) {
    const regionId = required(p, "RegionId");
    const ids = repeatedScalar(p, "InstanceId");
    const instances = [...state.instances.values()].filter((i) => i.regionId === regionId && (ids.length === 0 || ids.includes(i.id)));
    const pg = page(p, instances);
    return {
      InstanceCloudAssistantStatusSet: {
        InstanceCloudAssistantStatus: pg.items.map((i) => {
          const online = state.cloudAssistantOnline(i);
          const runs = [...state.invocations.values()].filter((r) => r.instanceId === i.id);
          return {
            InstanceId: i.id,
            CloudAssistantStatus: String(online),
            CloudAssistantVersion: "2.2.3.857",
            OSType: "Linux",
            ActiveTaskCount: runs.filter((r) => r.status === "Running").length,
            InvocationCount: runs.length,
            LastHeartbeatTime: online ? new Date(state.now).toISOString().replace(/\.\d{3}Z$/, "Z") : "",
            SupportSessionManager: false,
          };
        }),
      },
      TotalCount: pg.total,
      PageNumber: pg.pageNumber,
      PageSize: pg.pageSize,
    };
  },

  async RunCommand(p, { state }) {
    const regionId = required(p, "RegionId");
    const type = required(p, "Type");
    if (!["RunShellScript", "RunPowerShellScript", "RunBatScript"].includes(type)) throw ecsErrors.invalidParameter("Type", "must be RunShellScript, RunPowerShellScript or RunBatScript");
    const raw = required(p, "CommandContent");
    const base64 = (str(p, "ContentEncoding") ?? "PlainText").toLowerCase() === "base64";
    if (base64 && (!/^[A-Za-z0-9+/]*={0,2}$/.test(raw) || raw.length % 4 !== 0)) throw ecsErrors.invalidParameter("CommandContent", "is not Base64 while ContentEncoding is Base64");
    const encoded = base64 ? raw : Buffer.from(raw, "utf8").toString("base64");
    if (encoded.length > 24 * 1024) throw ecsErrors.commandContentExceedLimit();
    const repeatMode = str(p, "RepeatMode") ?? "Once";
    if (repeatMode !== "Once") throw ecsErrors.invalidParameter("RepeatMode", "the contract server runs commands once (RepeatMode Once) only");
    const timeoutSeconds = int(p, "Timeout") ?? 60;
    if (timeoutSeconds < 10 || timeoutSeconds > 86_400) throw ecsErrors.invalidParameter("Timeout", "must be 10 to 86400 seconds");
    const instanceIds = repeatedScalar(p, "InstanceId");
    const input = { regionId, instanceIds, type, content: Buffer.from(encoded, "base64").toString("utf8"), timeoutSeconds };
    // ClientToken: the same request again answers the first run; the same token with other parameters is refused.
    const token = str(p, "ClientToken");
    const key = token ? `RunCommand/${token}` : undefined;
    const fingerprint = JSON.stringify(input);
    const seen = key ? (state.clientTokens.get(key) as { fingerprint: string; result: { invokeId: string; commandId: string } } | undefined) : undefined;
    if (seen && seen.fingerprint !== fingerprint) throw ecsErrors.idempotentParameterMismatch();
    const result = seen?.result ?? (await state.runCommand(input));
    if (key && !seen) state.clientTokens.set(key, { fingerprint, result });
    return { CommandId: result.commandId, InvokeId: result.invokeId };
  },

  DescribeInvocationResults(p, { state }) {
    const regionId = required(p, "RegionId");
    const invokeId = str(p, "InvokeId");
    const instanceId = str(p, "InstanceId");
    const plain = (str(p, "ContentEncoding") ?? "Base64").toLowerCase() === "plaintext";
    const runs = [...state.invocations.values()].filter((r) => r.regionId === regionId && (!invokeId || r.invokeId === invokeId) && (!instanceId || r.instanceId === instanceId));
    const pg = page(p, runs);
    const time = (ms: number | undefined) => (ms === undefined ? "" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"));
    return {
      Invocation: {
        InvocationResults: {
          InvocationResult: pg.items.map((r) => ({
            CommandId: r.commandId,
            InvokeId: r.invokeId,
            InstanceId: r.instanceId,
            InvocationStatus: r.status,
            // The invocation as a whole: Finished once its one run ended, Failed when that run did not succeed.
            InvokeRecordStatus: r.status === "Running" ? "Running" : r.status === "Success" ? "Finished" : "Failed",
            ...(r.exitCode !== null ? { ExitCode: r.exitCode } : {}),
            Output: plain ? r.output : Buffer.from(r.output, "utf8").toString("base64"),
            ErrorCode: r.errorCode,
            ErrorInfo: r.errorInfo,
            StartTime: time(r.startedAt),
            FinishedTime: time(r.finishedAt),
            Dropped: 0,
            Repeats: 1,
            Username: "root",
            Tags: { Tag: [] },
          })),
        },
        TotalCount: pg.total,
        PageNumber: pg.pageNumber,
        PageSize: pg.pageSize,
        NextToken: "",
      },
    };
  },

  async RunInstances(p, { state }) {
    dryRun(p);
    const regionId = required(p, "RegionId");
    const ids = await idempotent(state, p, "RunInstances", () =>
      state.runInstances({
        regionId,
        zoneId: str(p, "ZoneId"),
        imageId: required(p, "ImageId"),
        instanceType: required(p, "InstanceType"),
        name: str(p, "InstanceName"),
        description: str(p, "Description"),
        vSwitchId: str(p, "VSwitchId"),
        securityGroupIds: [str(p, "SecurityGroupId"), ...repeatedScalar(p, "SecurityGroupIds")].filter((x): x is string => x !== undefined),
        privateIpAddress: str(p, "PrivateIpAddress"),
        userData: str(p, "UserData"),
        amount: int(p, "Amount") ?? 1,
        systemDisk: { sizeGiB: int(p, "SystemDisk.Size"), category: str(p, "SystemDisk.Category") },
        dataDisks: repeated(p, "DataDisk").map((d) => ({
          sizeGiB: d.Size !== undefined ? Number(d.Size) : undefined,
          category: d.Category,
          snapshotId: d.SnapshotId,
          deleteWithInstance: d.DeleteWithInstance !== undefined ? d.DeleteWithInstance === "true" : undefined,
        })),
        tags: tagsParam(p),
      }),
    );
    return { InstanceIdSets: { InstanceIdSet: ids }, OrderId: "", TradePrice: 0 };
  },

  DescribeInstances(p, { state }) {
    const ids = jsonIds(p, "InstanceIds");
    const status = str(p, "Status");
    const zone = str(p, "ZoneId");
    const name = str(p, "InstanceName");
    const vpcId = str(p, "VpcId");
    const vSwitchId = str(p, "VSwitchId");
    const eips = jsonIds(p, "EipAddresses");
    const tags = tagFilter(p);
    const all = inRegion(p, state.instances.values()).filter(
      (i) =>
        (!ids || ids.includes(i.id)) &&
        (!status || i.status === status) &&
        (!zone || i.zoneId === zone) &&
        (!name || i.name === name) &&
        (!vpcId || i.vpcId === vpcId) &&
        (!vSwitchId || i.vSwitchId === vSwitchId) &&
        (!eips || eips.includes(state.eipOf(i.id)?.ipAddress ?? "")) &&
        matchesTags(i.tags, tags),
    );
    const pg = page(p, all);
    return { Instances: { Instance: pg.items.map((i) => instanceJson(state, i)) }, TotalCount: pg.total, PageNumber: pg.pageNumber, PageSize: pg.pageSize };
  },

  StartInstance(p, { state }) {
    dryRun(p);
    state.startInstance(required(p, "InstanceId"));
    return {};
  },

  async StopInstance(p, { state }) {
    dryRun(p);
    bool(p, "ForceStop");
    await state.stopInstance(required(p, "InstanceId"));
    return {};
  },

  async DeleteInstance(p, { state }) {
    dryRun(p);
    await state.deleteInstance(required(p, "InstanceId"), bool(p, "Force") ?? false);
    return {};
  },

  async CreateDisk(p, { state }) {
    dryRun(p);
    const regionId = required(p, "RegionId");
    const diskId = await idempotent(state, p, "CreateDisk", () =>
      state.createDisk({
        regionId,
        zoneId: required(p, "ZoneId"),
        name: str(p, "DiskName"),
        description: str(p, "Description"),
        category: str(p, "DiskCategory"),
        sizeGiB: int(p, "Size"),
        snapshotId: str(p, "SnapshotId"),
        tags: tagsParam(p),
      }),
    );
    return { DiskId: diskId, OrderId: "" };
  },

  DescribeDisks(p, { state }) {
    const ids = jsonIds(p, "DiskIds");
    const instanceId = str(p, "InstanceId");
    const status = str(p, "Status");
    const diskType = str(p, "DiskType");
    const zone = str(p, "ZoneId");
    const snapshotId = str(p, "SnapshotId");
    const tags = tagFilter(p);
    const all = inRegion(p, state.disks.values()).filter(
      (d) =>
        (!ids || ids.includes(d.id)) &&
        (!instanceId || d.instanceId === instanceId) &&
        (!status || status === "All" || d.status === status) &&
        (!diskType || diskType === "all" || d.type === diskType) &&
        (!zone || d.zoneId === zone) &&
        (!snapshotId || d.sourceSnapshotId === snapshotId) &&
        matchesTags(d.tags, tags),
    );
    const pg = page(p, all);
    return { Disks: { Disk: pg.items.map(diskJson) }, TotalCount: pg.total, PageNumber: pg.pageNumber, PageSize: pg.pageSize };
  },

  AttachDisk(p, { state }) {
    state.attachDisk(required(p, "InstanceId"), required(p, "DiskId"), bool(p, "DeleteWithInstance"));
    return {};
  },

  DetachDisk(p, { state }) {
    state.detachDisk(required(p, "InstanceId"), required(p, "DiskId"));
    return {};
  },

  async DeleteDisk(p, { state }) {
    dryRun(p);
    await state.deleteDisk(required(p, "DiskId"));
    return {};
  },

  async CreateSnapshot(p, { state }) {
    const snapshotId = await idempotent(state, p, "CreateSnapshot", () => state.createSnapshot({ diskId: required(p, "DiskId"), name: str(p, "SnapshotName"), description: str(p, "Description"), tags: tagsParam(p) }));
    return { SnapshotId: snapshotId };
  },

  async CopySnapshot(p, { state }) {
    const regionId = required(p, "RegionId");
    const snapshotId = await idempotent(state, p, "CopySnapshot", () =>
      state.copySnapshot({
        regionId,
        snapshotId: required(p, "SnapshotId"),
        destinationRegionId: required(p, "DestinationRegionId"),
        // Both are required, as the API reference says.
        name: required(p, "DestinationSnapshotName"),
        description: required(p, "DestinationSnapshotDescription"),
        retentionDays: int(p, "RetentionDays"),
        tags: tagsParam(p),
      }),
    );
    return { SnapshotId: snapshotId };
  },

  DescribeSnapshots(p, { state }) {
    const ids = jsonIds(p, "SnapshotIds");
    const diskId = str(p, "DiskId");
    const status = str(p, "Status");
    const tags = tagFilter(p);
    const all = inRegion(p, state.snapshots.values()).filter(
      (s) => (!ids || ids.includes(s.id)) && (!diskId || s.sourceDiskId === diskId) && (!status || status === "all" || s.status === status) && matchesTags(s.tags, tags),
    );
    const pg = page(p, all);
    return { Snapshots: { Snapshot: pg.items.map((s) => snapshotJson(state, s)) }, TotalCount: pg.total, PageNumber: pg.pageNumber, PageSize: pg.pageSize };
  },

  async DeleteSnapshot(p, { state }) {
    bool(p, "Force");
    await state.deleteSnapshot(required(p, "SnapshotId"));
    return {};
  },

  async CreateImage(p, { state }) {
    dryRun(p);
    const regionId = required(p, "RegionId");
    const imageId = await idempotent(state, p, "CreateImage", () =>
      state.createImage({
        regionId,
        name: str(p, "ImageName"),
        description: str(p, "Description"),
        snapshotId: str(p, "SnapshotId"),
        instanceId: str(p, "InstanceId"),
        mappings: repeated(p, "DiskDeviceMapping").map((m) => ({ snapshotId: m.SnapshotId, sizeGiB: m.Size !== undefined ? Number(m.Size) : undefined, device: m.Device })),
        architecture: str(p, "Architecture"),
        platform: str(p, "Platform"),
        bootMode: str(p, "BootMode"),
        tags: tagsParam(p),
      }),
    );
    return { ImageId: imageId };
  },

  async ImportImage(p, { state }) {
    dryRun(p);
    const regionId = required(p, "RegionId");
    const result = await idempotent(state, p, "ImportImage", () =>
      state.importImage({
        regionId,
        name: str(p, "ImageName"),
        description: str(p, "Description"),
        roleName: str(p, "RoleName"),
        architecture: str(p, "Architecture"),
        platform: str(p, "Platform"),
        osType: str(p, "OSType"),
        bootMode: str(p, "BootMode"),
        mappings: repeated(p, "DiskDeviceMapping").map((m) => ({
          ossBucket: m.OSSBucket,
          ossObject: m.OSSObject,
          format: m.Format,
          diskImageSizeGiB: m.DiskImageSize !== undefined ? Number(m.DiskImageSize) : m.DiskImSize !== undefined ? Number(m.DiskImSize) : undefined,
          device: m.Device,
        })),
        tags: tagsParam(p),
      }),
    );
    return { ImageId: result.imageId, TaskId: result.taskId, RegionId: regionId };
  },

  DescribeImages(p, { state }) {
    const ids = str(p, "ImageId")?.split(",");
    // The trap: without Status, only Available images are listed.
    const statuses = (str(p, "Status") ?? "Available").split(",");
    const owner = str(p, "ImageOwnerAlias");
    const name = str(p, "ImageName");
    const snapshotId = str(p, "SnapshotId");
    const tags = tagFilter(p);
    const all = inRegion(p, state.images.values()).filter(
      (i) =>
        (!ids || ids.includes(i.id)) &&
        statuses.includes(i.status) &&
        (!owner || owner === "self") &&
        (!name || i.name === name) &&
        (!snapshotId || i.disks.some((d) => d.snapshotId === snapshotId)) &&
        matchesTags(i.tags, tags),
    );
    const pg = page(p, all);
    return { Images: { Image: pg.items.map((i) => imageJson(state, i)) }, TotalCount: pg.total, PageNumber: pg.pageNumber, PageSize: pg.pageSize, RegionId: required(p, "RegionId") };
  },

  async DeleteImage(p, { state }) {
    dryRun(p);
    await state.deleteImage(required(p, "ImageId"), bool(p, "Force") ?? false);
    return {};
  },

  ExportImage(p, { state }) {
    dryRun(p);
    const regionId = required(p, "RegionId");
    const { taskId } = state.exportImage({ regionId, imageId: required(p, "ImageId"), ossBucket: required(p, "OSSBucket"), ossPrefix: str(p, "OSSPrefix"), imageFormat: str(p, "ImageFormat") });
    return { TaskId: taskId, RegionId: regionId };
  },

  DescribeTasks(p, { state }) {
    const ids = str(p, "TaskIds")?.split(",");
    const resourceIds = repeatedScalar(p, "ResourceIds");
    const action = str(p, "TaskAction");
    const status = str(p, "TaskStatus");
    const all = inRegion(p, state.tasks.values()).filter(
      (t) => (!ids || ids.includes(t.id)) && (resourceIds.length === 0 || resourceIds.includes(t.resourceId)) && (!action || t.action === action) && (!status || t.status === status),
    );
    const pg = page(p, all);
    return { TaskSet: { Task: pg.items.map(taskJson) }, TotalCount: pg.total, PageNumber: pg.pageNumber, PageSize: pg.pageSize, RegionId: required(p, "RegionId") };
  },

  CancelTask(p, { state }) {
    state.cancelTask(required(p, "TaskId"));
    return {};
  },

  DescribeTaskAttribute(p, { state }) {
    const task = state.tasks.get(required(p, "TaskId"));
    if (!task) throw ecsErrors.taskNotFound();
    const image = state.images.get(task.resourceId);
    const done = task.status !== "Processing";
    return {
      TaskId: task.id,
      RegionId: task.regionId,
      TaskAction: task.action,
      TaskStatus: task.status,
      TaskProcess: image ? progress(state.now, image.since, image.durationMs, done) : done ? "100%" : "0%",
      SupportCancel: task.status === "Processing" ? "true" : "false",
      CreationTime: ecsTime(task.createdAt),
      FinishedTime: task.finishedAt !== undefined ? ecsTime(task.finishedAt) : "",
      TotalCount: 1,
      SuccessCount: task.status === "Finished" ? 1 : 0,
      FailedCount: task.status === "Failed" ? 1 : 0,
      OperationProgressSet: {
        OperationProgress: [
          {
            OperationStatus: task.status === "Processing" ? "Processing" : task.status === "Finished" ? "Success" : "Failed",
            ErrorCode: task.status === "Failed" ? `${task.action}Failed` : "",
            ErrorMsg: task.error ?? "",
            RelatedItemSet: { RelatedItem: [{ Name: "ImageId", Value: task.resourceId }] },
          },
        ],
      },
    };
  },

  ListTagResources(p, { state }) {
    const type = required(p, "ResourceType").toLowerCase();
    const ids = repeatedScalar(p, "ResourceId");
    const tags = tagFilter(p);
    if (ids.length === 0 && tags.length === 0) throw ecsErrors.missingParameter("ResourceId.N or Tag.N");
    const pools: Record<string, Iterable<{ id: string; regionId: string; tags: Tag[] }>> = {
      instance: state.instances.values(),
      disk: state.disks.values(),
      snapshot: state.snapshots.values(),
      image: state.images.values(),
    };
    const pool = pools[type];
    if (!pool) throw ecsErrors.invalidParameter("ResourceType", "the contract server knows instance, disk, snapshot and image");
    const rows: Json[] = [];
    for (const r of inRegion(p, pool)) {
      if (ids.length > 0 && !ids.includes(r.id)) continue;
      if (!matchesTags(r.tags, tags)) continue;
      for (const t of r.tags) rows.push({ ResourceId: r.id, ResourceType: type, TagKey: t.key, TagValue: t.value });
    }
    return { TagResources: { TagResource: rows }, NextToken: "" };
  },
};

/** Runs an action; errors that are not EcsApiError become 500 InternalError (and are kept for the log). */
/**
 * The actions the VPC API (2016-04-28) answers here: vSwitches and elastic
 * IPs, which live in VPC's API (ECS's own versions are deprecated). They
 * share ECS's state and error bodies, as both are RPC-style APIs of one
 * account.
 */
export const VPC_ACTIONS = ["DescribeVSwitches", "AllocateEipAddress", "AssociateEipAddress", "UnassociateEipAddress", "ReleaseEipAddress", "DescribeEipAddresses"] as const;

export async function runEcsAction(action: string, p: Params, ctx: EcsContext): Promise<Json> {
  const handler = ctx.vpc && !(VPC_ACTIONS as readonly string[]).includes(action) ? undefined : ecsActions[action];
  if (!handler) throw ecsErrors.invalidAction(action);
  try {
    return await handler(p, ctx);
  } catch (err) {
    if (err instanceof EcsApiError) throw err;
    throw new EcsApiError(500, "InternalError", `The request processing has failed due to some unknown error. (${err instanceof Error ? err.message : String(err)})`);
  }
}
