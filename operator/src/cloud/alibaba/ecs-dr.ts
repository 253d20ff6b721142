/**
 * The ECS calls of cloud-to-cloud disaster recovery (CrossZone, CrossRegion;
 * seed 004), through the official SDK with EcsApi's retry policy. Replication
 * is the cloud's own: snapshots of the protected instance's disks, copied to
 * the recovery region (CopySnapshot) when it is another one; a point is the
 * set of snapshots of one moment. Everything made here carries tags, and
 * those tags are the source of truth: a point is found by listing snapshots
 * by tag, and clean-up deletes what a tag lookup finds, never by name, so a
 * user's own resources are never touched and a restarted operator picks up
 * where the cloud says it is.
 *
 * Calls are made from a reconciler, so none of them waits for a resource to
 * change state: "not yet" answers (IncorrectInstanceStatus, ...) throw at
 * once, and the caller looks again on its next pass.
 */
import type { DescribeInstancesRequest } from "@alicloud/ecs20140526";
import type { DescribeEipAddressesRequest } from "@alicloud/vpc20160428";
import { createHash } from "node:crypto";
import { CloudApiError, EcsApi, isNotYetCode, type CallOptions, type EcsConnection } from "./ecs-api.js";
import { Ecs, Vpc } from "./sdk.js";
import { VpcApi } from "./vpc-api.js";

/** Where a region's ECS and VPC APIs answer, when not at their public endpoints. */
export interface RegionEndpoints {
  readonly ecs?: string | undefined;
  readonly vpc?: string | undefined;
}

/** Tag keys on what DR makes in the cloud. */
export const DR_TAG = {
  /** `<namespace>/<ProtectedServer name>` on every snapshot, image, instance a server's DR makes. */
  server: "lifeboat.io/protected-server",
  /** The point (cycle id) a snapshot belongs to. */
  point: "lifeboat.io/point",
  /** forward or reverse: which chain the point is in. */
  direction: "lifeboat.io/direction",
  /** The disk's device on the instance, e.g. /dev/xvda. */
  device: "lifeboat.io/device",
  /** How many disks the point has: it is complete when that many snapshots are. */
  disks: "lifeboat.io/disks",
  /** point: a recovery point's snapshot; copy-source: the snapshot in the protected region that a CrossRegion copy was made from. */
  role: "lifeboat.io/role",
  /** system or data: which disk of the instance the snapshot is of (the system disk boots the instance made from the point). */
  diskType: "lifeboat.io/disk-type",
  /** The category of the disk the snapshot was taken of (a snapshot does not say). */
  category: "lifeboat.io/disk-category",
  /** The instance the snapshot was taken of. */
  instance: "lifeboat.io/instance",
  /** Its instance type: the default of an instance made from the point, even when the protected region does not answer. */
  instanceType: "lifeboat.io/instance-type",
  /** `<namespace>/<RecoveryDrill name>` on a drill's image and instance. */
  drill: "lifeboat.io/drill",
  /** `<namespace>/<ProtectedServer name>/<attempt>` on a failover's or failback's image and instance. */
  recovery: "lifeboat.io/recovery",
} as const;

export type Tags = Readonly<Record<string, string>>;

/** Calls from a reconciler: transient errors are retried briefly, "not yet" is never waited for. */
const RECONCILER_CALLS: CallOptions = { retryForMs: 20_000, waitForMs: 0 };

/** Every state an image can be in: DescribeImages lists only Available ones unless Status names them. */
const ALL_IMAGE_STATES = "Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated";

export interface InstanceInfo {
  readonly instanceId: string;
  readonly name: string;
  readonly status: string;
  readonly regionId: string;
  readonly zoneId: string;
  readonly instanceType: string;
  readonly vSwitchId: string;
  readonly securityGroupIds: readonly string[];
  readonly privateIps: readonly string[];
  readonly eipAllocationId: string;
}

export interface DiskInfo {
  readonly diskId: string;
  readonly device: string;
  readonly sizeGiB: number;
  readonly category: string;
  readonly type: string;
}

export interface SnapshotInfo {
  readonly snapshotId: string;
  readonly regionId: string;
  readonly status: string;
  /** "0%" … "100%". */
  readonly progress: string;
  readonly sourceDiskId: string;
  readonly sourceDiskSizeGiB: number;
  readonly sourceDiskType: string;
  readonly tags: Tags;
}

export interface ImageInfo {
  readonly imageId: string;
  readonly status: string;
  readonly tags: Tags;
}

/** One Cloud Assistant command run on one instance (DescribeInvocationResults), as ECS reports it. */
export interface InvocationResult {
  /** Pending, Running, Stopping; or, finished: Success, Failed, Error, Timeout, Invalid, Aborted, Cancelled, Terminated. */
  readonly status: string;
  readonly exitCode: number | undefined;
  /** What the command printed (stdout and stderr), decoded. */
  readonly output: string;
  /** Why it did not run or did not finish (e.g. ClientNotRunning, ExecutionTimeout, ExitCodeNonzero), and ECS's words for it. */
  readonly errorCode: string;
  readonly errorInfo: string;
  readonly startTime: string;
  readonly finishedTime: string;
}

export interface EipInfo {
  readonly allocationId: string;
  readonly ipAddress: string;
  readonly status: string;
  readonly instanceId: string;
}

/** A ClientToken (ECS takes at most 64 ASCII characters) for one creation, so a retried call makes nothing twice. */
export function clientToken(...parts: readonly string[]): string {
  return createHash("sha256").update(parts.join("/")).digest("hex").slice(0, 40);
}

function tagMap(tags: readonly { tagKey?: string | undefined; tagValue?: string | undefined }[] | undefined): Tags {
  return Object.fromEntries((tags ?? []).flatMap((t) => (t.tagKey ? [[t.tagKey, t.tagValue ?? ""]] : [])));
}

const tagList = <T>(make: new (v: { key: string; value: string }) => T, tags: Tags): T[] => Object.entries(tags).map(([key, value]) => new make({ key, value }));

/** True when an error means the resource does not exist (any *.NotFound code). */
export function isNotFound(err: unknown): boolean {
  return err instanceof CloudApiError && /NotFound$/.test(err.code);
}

/** True when an error means "not in the right state yet": look again later. */
export function isNotYet(err: unknown): boolean {
  return err instanceof CloudApiError && isNotYetCode(err.code);
}

/** ECS clients of the regions of one site pair, with one AccessKey pair. */
export class EcsDr {
  private readonly clients = new Map<string, EcsApi>();
  private readonly vpcClients = new Map<string, VpcApi>();

  constructor(
    private readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string },
    /** The ECS and VPC endpoint URLs of each region the pair names, when not the public ones. */
    private readonly endpoints: Readonly<Record<string, RegionEndpoints | undefined>>,
  ) {}

  private api(regionId: string): EcsApi {
    let api = this.clients.get(regionId);
    if (!api) {
      const connection: EcsConnection = { regionId, ...this.credentials, endpoint: this.endpoints[regionId]?.ecs };
      api = new EcsApi(connection, RECONCILER_CALLS);
      this.clients.set(regionId, api);
    }
    return api;
  }

  private vpcApi(regionId: string): VpcApi {
    let api = this.vpcClients.get(regionId);
    if (!api) {
      api = new VpcApi({ regionId, ...this.credentials, endpoint: this.endpoints[regionId]?.vpc }, RECONCILER_CALLS);
      this.vpcClients.set(regionId, api);
    }
    return api;
  }

  async zones(regionId: string): Promise<string[]> {
    const ecs = this.api(regionId);
    const out = await ecs.call(`DescribeZones in ${regionId}`, (rt) => ecs.sdk.describeZonesWithOptions(new Ecs.DescribeZonesRequest({ regionId }), rt));
    return (out.body?.zones?.zone ?? []).flatMap((z) => (z.zoneId ? [z.zoneId] : []));
  }

  /**
   * The instance types with exactly `cores` vCPUs and `memoryGiB` GiB (and,
   * when given, disks of `diskCategory`) that the zone can start now
   * (DescribeAvailableResource, pay-as-you-go: Status Available and
   * StatusCategory WithStock), in the order ECS lists them.
   */
  async instanceTypesInStock(regionId: string, zoneId: string, cores: number, memoryGiB: number, diskCategory?: string): Promise<string[]> {
    const ecs = this.api(regionId);
    const req = new Ecs.DescribeAvailableResourceRequest({
      regionId,
      zoneId,
      destinationResource: "InstanceType",
      instanceChargeType: "PostPaid",
      cores,
      memory: memoryGiB,
      // Only types that take the disks asked for (older generations have no ESSD).
      ...(diskCategory ? { systemDiskCategory: diskCategory, dataDiskCategory: diskCategory } : {}),
    });
    const out = await ecs.call(`DescribeAvailableResource in ${zoneId} for ${cores} vCPUs and ${memoryGiB} GiB`, (rt) => ecs.sdk.describeAvailableResourceWithOptions(req, rt));
    return (out.body?.availableZones?.availableZone ?? [])
      .filter((z) => z.zoneId === zoneId)
      .flatMap((z) => z.availableResources?.availableResource ?? [])
      .filter((r) => r.type === "InstanceType")
      .flatMap((r) => r.supportedResources?.supportedResource ?? [])
      .flatMap((r) => (r.value && r.status === "Available" && r.statusCategory === "WithStock" ? [r.value] : []));
  }

  async vSwitch(regionId: string, vSwitchId: string): Promise<{ zoneId: string; vpcId: string; cidrBlock: string } | undefined> {
    const vpc = this.vpcApi(regionId);
    const out = await vpc.call(`DescribeVSwitches ${vSwitchId}`, (rt) => vpc.sdk.describeVSwitchesWithOptions(new Vpc.DescribeVSwitchesRequest({ regionId, vSwitchId }), rt));
    const v = (out.body?.vSwitches?.vSwitch ?? []).find((s) => s.vSwitchId === vSwitchId);
    return v ? { zoneId: v.zoneId ?? "", vpcId: v.vpcId ?? "", cidrBlock: v.cidrBlock ?? "" } : undefined;
  }

  async securityGroup(regionId: string, securityGroupId: string): Promise<{ vpcId: string } | undefined> {
    const ecs = this.api(regionId);
    const out = await ecs.call(`DescribeSecurityGroups ${securityGroupId}`, (rt) => ecs.sdk.describeSecurityGroupsWithOptions(new Ecs.DescribeSecurityGroupsRequest({ regionId, securityGroupId }), rt));
    const g = (out.body?.securityGroups?.securityGroup ?? []).find((s) => s.securityGroupId === securityGroupId);
    return g ? { vpcId: g.vpcId ?? "" } : undefined;
  }

  private async describeInstances(regionId: string, what: string, filter: Partial<DescribeInstancesRequest>): Promise<InstanceInfo[]> {
    const ecs = this.api(regionId);
    const out = await ecs.call(what, (rt) => ecs.sdk.describeInstancesWithOptions(new Ecs.DescribeInstancesRequest({ regionId, pageSize: 100, ...filter }), rt));
    return (out.body?.instances?.instance ?? []).flatMap((i) =>
      i.instanceId
        ? [{
            instanceId: i.instanceId,
            name: i.instanceName ?? i.instanceId,
            status: i.status ?? "",
            regionId,
            zoneId: i.zoneId ?? "",
            instanceType: i.instanceType ?? "",
            vSwitchId: i.vpcAttributes?.vSwitchId ?? "",
            securityGroupIds: i.securityGroupIds?.securityGroupId ?? [],
            privateIps: i.vpcAttributes?.privateIpAddress?.ipAddress ?? [],
            eipAllocationId: i.eipAddress?.allocationId ?? "",
          }]
        : [],
    );
  }

  /** The instance, or undefined when it does not exist. */
  async instance(regionId: string, instanceId: string): Promise<InstanceInfo | undefined> {
    const found = await this.describeInstances(regionId, `DescribeInstances ${instanceId}`, { instanceIds: JSON.stringify([instanceId]) });
    return found.find((i) => i.instanceId === instanceId);
  }

  instancesTagged(regionId: string, tags: Tags): Promise<InstanceInfo[]> {
    return this.describeInstances(regionId, `DescribeInstances tagged ${JSON.stringify(tags)}`, { tag: tagList(Ecs.DescribeInstancesRequestTag, tags) });
  }

  async instanceDisks(regionId: string, instanceId: string): Promise<DiskInfo[]> {
    const ecs = this.api(regionId);
    const out = await ecs.call(`DescribeDisks of ${instanceId}`, (rt) => ecs.sdk.describeDisksWithOptions(new Ecs.DescribeDisksRequest({ regionId, instanceId, pageSize: 100 }), rt));
    return (out.body?.disks?.disk ?? [])
      .flatMap((d) => (d.diskId ? [{ diskId: d.diskId, device: d.device ?? "", sizeGiB: d.size ?? 0, category: d.category ?? "", type: d.type ?? "" }] : []))
      .sort((a, b) => a.device.localeCompare(b.device));
  }

  async snapshotsTagged(regionId: string, tags: Tags): Promise<SnapshotInfo[]> {
    const ecs = this.api(regionId);
    const found: SnapshotInfo[] = [];
    for (let page = 1; ; page++) {
      const request = new Ecs.DescribeSnapshotsRequest({ regionId, tag: tagList(Ecs.DescribeSnapshotsRequestTag, tags), pageSize: 100, pageNumber: page });
      const out = await ecs.call(`DescribeSnapshots tagged ${JSON.stringify(tags)}`, (rt) => ecs.sdk.describeSnapshotsWithOptions(request, rt));
      const items = out.body?.snapshots?.snapshot ?? [];
      for (const s of items) {
        if (!s.snapshotId) continue;
        found.push({
          snapshotId: s.snapshotId,
          regionId,
          status: s.status ?? "",
          progress: s.progress ?? "",
          sourceDiskId: s.sourceDiskId ?? "",
          sourceDiskSizeGiB: Number(s.sourceDiskSize ?? 0),
          sourceDiskType: s.sourceDiskType ?? "",
          tags: tagMap(s.tags?.tag),
        });
      }
      if (items.length < 100 || found.length >= (out.body?.totalCount ?? 0)) return found;
    }
  }

  async snapshotsById(regionId: string, ids: readonly string[]): Promise<SnapshotInfo[]> {
    const ecs = this.api(regionId);
    const out = await ecs.call(`DescribeSnapshots ${ids.join(",")}`, (rt) => ecs.sdk.describeSnapshotsWithOptions(new Ecs.DescribeSnapshotsRequest({ regionId, snapshotIds: JSON.stringify(ids), pageSize: 100 }), rt));
    return (out.body?.snapshots?.snapshot ?? []).flatMap((s) =>
      s.snapshotId && ids.includes(s.snapshotId)
        ? [{ snapshotId: s.snapshotId, regionId, status: s.status ?? "", progress: s.progress ?? "", sourceDiskId: s.sourceDiskId ?? "", sourceDiskSizeGiB: Number(s.sourceDiskSize ?? 0), sourceDiskType: s.sourceDiskType ?? "", tags: tagMap(s.tags?.tag) }]
        : [],
    );
  }

  async createSnapshot(regionId: string, diskId: string, name: string, tags: Tags, token: string): Promise<string> {
    const ecs = this.api(regionId);
    const request = new Ecs.CreateSnapshotRequest({ diskId, snapshotName: name, description: "Lifeboat replication point", tag: tagList(Ecs.CreateSnapshotRequestTag, tags), clientToken: token });
    const out = await ecs.call(`CreateSnapshot of ${diskId}`, (rt) => ecs.sdk.createSnapshotWithOptions(request, rt));
    if (!out.body?.snapshotId) throw new CloudApiError("NoSnapshotId", out.statusCode, `CreateSnapshot of ${diskId} answered without a snapshot id`);
    return out.body.snapshotId;
  }

  async copySnapshot(regionId: string, snapshotId: string, destinationRegionId: string, name: string, tags: Tags, token: string): Promise<string> {
    const ecs = this.api(regionId);
    const request = new Ecs.CopySnapshotRequest({ regionId, snapshotId, destinationRegionId, destinationSnapshotName: name, destinationSnapshotDescription: `Lifeboat replication point, copied from ${regionId}`, tag: tagList(Ecs.CopySnapshotRequestTag, tags), clientToken: token });
    const out = await ecs.call(`CopySnapshot ${snapshotId} to ${destinationRegionId}`, (rt) => ecs.sdk.copySnapshotWithOptions(request, rt));
    if (!out.body?.snapshotId) throw new CloudApiError("NoSnapshotId", out.statusCode, `CopySnapshot ${snapshotId} answered without a snapshot id`);
    return out.body.snapshotId;
  }

  /**
   * Deletes a snapshot; one already gone is fine. Without Force, ECS refuses
   * one that disks were made from or an image uses: a point someone made a
   * disk of is not deleted behind their back.
   */
  async deleteSnapshot(regionId: string, snapshotId: string): Promise<void> {
    const ecs = this.api(regionId);
    try {
      await ecs.call(`DeleteSnapshot ${snapshotId}`, (rt) => ecs.sdk.deleteSnapshotWithOptions(new Ecs.DeleteSnapshotRequest({ snapshotId }), rt));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** An image of one disk (the system disk) from its snapshot. */
  createImage(regionId: string, input: { name: string; snapshotId: string; sizeGiB: number; tags: Tags; token: string }): Promise<string> {
    return this.createImageOfDisks(regionId, {
      ...input,
      description: "Lifeboat: the system disk of a recovery point, for the instance made from it",
      disks: [{ snapshotId: input.snapshotId, sizeGiB: input.sizeGiB, device: "/dev/xvda", type: "system" }],
    });
  }

  /** An image of several disks from their snapshots: the system disk at /dev/xvda, data disks at their devices. */
  async createImageOfDisks(
    regionId: string,
    input: { name: string; description: string; disks: readonly { snapshotId: string; sizeGiB: number; device: string; type: "system" | "data" }[]; tags: Tags; token: string },
  ): Promise<string> {
    const ecs = this.api(regionId);
    const what = `CreateImage from ${input.disks.map((d) => d.snapshotId).join(", ")}`;
    const request = new Ecs.CreateImageRequest({
      regionId,
      imageName: input.name,
      description: input.description,
      diskDeviceMapping: input.disks.map((d) => new Ecs.CreateImageRequestDiskDeviceMapping({ snapshotId: d.snapshotId, size: d.sizeGiB, device: d.device, diskType: d.type })),
      tag: tagList(Ecs.CreateImageRequestTag, input.tags),
      clientToken: input.token,
    });
    const out = await ecs.call(what, (rt) => ecs.sdk.createImageWithOptions(request, rt));
    if (!out.body?.imageId) throw new CloudApiError("NoImageId", out.statusCode, `${what} answered without an image id`);
    return out.body.imageId;
  }

  /**
   * ExportImage: ECS writes the image's disks into `bucket` under `prefix`
   * (1-30 letters and digits; the names contain `system`, or `data` and the
   * device, e.g. `xvdb`), in `imageFormat` where the region honours it, else
   * RAW. Returns the task to follow. ECS needs the RAM role
   * AliyunECSImageExportDefaultRole to write to the bucket.
   */
  async exportImage(regionId: string, imageId: string, bucket: string, prefix: string, imageFormat: "raw" | "qcow2"): Promise<string> {
    const ecs = this.api(regionId);
    const request = new Ecs.ExportImageRequest({ regionId, imageId, OSSBucket: bucket, OSSPrefix: prefix, imageFormat });
    const out = await ecs.call(`ExportImage ${imageId} to oss://${bucket}/${prefix}`, (rt) => ecs.sdk.exportImageWithOptions(request, rt));
    if (!out.body?.taskId) throw new CloudApiError("NoTaskId", out.statusCode, `ExportImage ${imageId} answered without a task id`);
    return out.body.taskId;
  }

  /** The ExportImage tasks of an image (a retried worker finds the export its first attempt started). */
  async exportTasks(regionId: string, imageId: string): Promise<{ taskId: string; status: string }[]> {
    const ecs = this.api(regionId);
    const request = new Ecs.DescribeTasksRequest({ regionId, resourceIds: [imageId], taskAction: "ExportImage", pageSize: 100 });
    const out = await ecs.call(`DescribeTasks ExportImage of ${imageId}`, (rt) => ecs.sdk.describeTasksWithOptions(request, rt));
    return (out.body?.taskSet?.task ?? []).flatMap((t) => (t.taskId ? [{ taskId: t.taskId, status: t.taskStatus ?? "" }] : []));
  }

  /** Why a task failed, as DescribeTaskAttribute says. */
  async taskError(regionId: string, taskId: string): Promise<string> {
    const ecs = this.api(regionId);
    const out = await ecs.call(`DescribeTaskAttribute ${taskId}`, (rt) => ecs.sdk.describeTaskAttributeWithOptions(new Ecs.DescribeTaskAttributeRequest({ regionId, taskId }), rt));
    const op = out.body?.operationProgressSet?.operationProgress?.[0];
    return [op?.errorCode, op?.errorMsg].filter((x) => x).join(": ") || `task ${taskId} ended ${out.body?.taskStatus ?? ""}`;
  }

  async image(regionId: string, imageId: string): Promise<ImageInfo | undefined> {
    const ecs = this.api(regionId);
    const request = new Ecs.DescribeImagesRequest({ regionId, imageId, imageOwnerAlias: "self", status: ALL_IMAGE_STATES });
    const out = await ecs.call(`DescribeImages ${imageId}`, (rt) => ecs.sdk.describeImagesWithOptions(request, rt));
    const i = (out.body?.images?.image ?? []).find((x) => x.imageId === imageId);
    return i ? { imageId, status: i.status ?? "", tags: tagMap(i.tags?.tag) } : undefined;
  }

  async imagesTagged(regionId: string, tags: Tags): Promise<ImageInfo[]> {
    const ecs = this.api(regionId);
    const request = new Ecs.DescribeImagesRequest({ regionId, imageOwnerAlias: "self", status: ALL_IMAGE_STATES, tag: tagList(Ecs.DescribeImagesRequestTag, tags), pageSize: 100 });
    const out = await ecs.call(`DescribeImages tagged ${JSON.stringify(tags)}`, (rt) => ecs.sdk.describeImagesWithOptions(request, rt));
    return (out.body?.images?.image ?? []).flatMap((i) => (i.imageId ? [{ imageId: i.imageId, status: i.status ?? "", tags: tagMap(i.tags?.tag) }] : []));
  }

  /** Deletes an image, also while instances made from it run (their disks are their own); a missing image is ignored, as ECS does. */
  async deleteImage(regionId: string, imageId: string): Promise<void> {
    const ecs = this.api(regionId);
    await ecs.call(`DeleteImage ${imageId}`, (rt) => ecs.sdk.deleteImageWithOptions(new Ecs.DeleteImageRequest({ regionId, imageId, force: true }), rt));
  }

  /** Starts one instance from an image, with data disks made from snapshots; returns its id. */
  async runInstance(regionId: string, input: {
    name: string;
    imageId: string;
    instanceType: string;
    zoneId: string;
    vSwitchId: string;
    securityGroupId: string;
    privateIpAddress?: string | undefined;
    /** Default size: the image's. */
    systemDisk: { sizeGiB?: number | undefined; category?: string | undefined };
    dataDisks: readonly { snapshotId: string; sizeGiB: number; category?: string | undefined }[];
    tags: Tags;
    token: string;
  }): Promise<string> {
    const ecs = this.api(regionId);
    const request = new Ecs.RunInstancesRequest({
      regionId,
      imageId: input.imageId,
      instanceType: input.instanceType,
      zoneId: input.zoneId,
      vSwitchId: input.vSwitchId,
      securityGroupId: input.securityGroupId,
      ...(input.privateIpAddress ? { privateIpAddress: input.privateIpAddress } : {}),
      instanceName: input.name.slice(0, 128),
      description: "Made by Lifeboat from a recovery point",
      amount: 1,
      systemDisk: new Ecs.RunInstancesRequestSystemDisk({ ...(input.systemDisk.sizeGiB ? { size: String(input.systemDisk.sizeGiB) } : {}), ...(input.systemDisk.category ? { category: input.systemDisk.category } : {}) }),
      dataDisk: input.dataDisks.map((d) => new Ecs.RunInstancesRequestDataDisk({ snapshotId: d.snapshotId, size: d.sizeGiB, deleteWithInstance: true, ...(d.category ? { category: d.category } : {}) })),
      tag: tagList(Ecs.RunInstancesRequestTag, input.tags),
      clientToken: input.token,
    });
    const out = await ecs.call(`RunInstances ${input.name}`, (rt) => ecs.sdk.runInstancesWithOptions(request, rt));
    const id = out.body?.instanceIdSets?.instanceIdSet?.[0];
    if (!id) throw new CloudApiError("NoInstanceId", out.statusCode, `RunInstances ${input.name} answered without an instance id`);
    return id;
  }

  /** Stops an instance; `force` is a power-off, for a guest that does not shut down (or a zone that does not answer). */
  async stopInstance(regionId: string, instanceId: string, force = false): Promise<void> {
    const ecs = this.api(regionId);
    await ecs.call(`StopInstance ${instanceId}${force ? " (forced)" : ""}`, (rt) => ecs.sdk.stopInstanceWithOptions(new Ecs.StopInstanceRequest({ instanceId, forceStop: force }), rt));
  }

  async startInstance(regionId: string, instanceId: string): Promise<void> {
    const ecs = this.api(regionId);
    await ecs.call(`StartInstance ${instanceId}`, (rt) => ecs.sdk.startInstanceWithOptions(new Ecs.StartInstanceRequest({ instanceId }), rt));
  }

  /** Deletes an instance in any state (its disks go with it); one already gone is fine. */
  async deleteInstance(regionId: string, instanceId: string): Promise<void> {
    const ecs = this.api(regionId);
    try {
      await ecs.call(`DeleteInstance ${instanceId}`, (rt) => ecs.sdk.deleteInstanceWithOptions(new Ecs.DeleteInstanceRequest({ instanceId, force: true }), rt));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** True when the instance's Cloud Assistant agent is online (it can take commands). */
  async cloudAssistantReady(regionId: string, instanceId: string): Promise<boolean> {
    const ecs = this.api(regionId);
    const out = await ecs.call(`DescribeCloudAssistantStatus ${instanceId}`, (rt) => ecs.sdk.describeCloudAssistantStatusWithOptions(new Ecs.DescribeCloudAssistantStatusRequest({ regionId, instanceId: [instanceId] }), rt));
    const status = (out.body?.instanceCloudAssistantStatusSet?.instanceCloudAssistantStatus ?? []).find((s) => s.instanceId === instanceId);
    return status?.cloudAssistantStatus === "true";
  }

  /**
   * Runs a script on one instance through Cloud Assistant (RunCommand, run
   * once, the command not kept). Returns the invocation's id. The content
   * travels Base64-encoded, so any character survives the query string.
   */
  async runCommand(regionId: string, input: {
    readonly instanceId: string;
    readonly name: string;
    readonly type: string;
    readonly content: string;
    readonly timeoutSeconds: number;
    readonly username?: string | undefined;
    readonly workingDir?: string | undefined;
    readonly token: string;
  }): Promise<string> {
    const ecs = this.api(regionId);
    const request = new Ecs.RunCommandRequest({
      regionId,
      instanceId: [input.instanceId],
      name: input.name,
      type: input.type,
      commandContent: Buffer.from(input.content, "utf8").toString("base64"),
      contentEncoding: "Base64",
      timeout: input.timeoutSeconds,
      repeatMode: "Once",
      keepCommand: false,
      clientToken: input.token,
      ...(input.username ? { username: input.username } : {}),
      ...(input.workingDir ? { workingDir: input.workingDir } : {}),
    });
    const out = await ecs.call(`RunCommand ${input.name} on ${input.instanceId}`, (rt) => ecs.sdk.runCommandWithOptions(request, rt));
    if (!out.body?.invokeId) throw new CloudApiError("NoInvokeId", out.statusCode, `RunCommand ${input.name} answered without an invocation id`);
    return out.body.invokeId;
  }

  /** The result of invocation `invokeId` on the instance, or undefined while ECS does not list it. */
  async invocationResult(regionId: string, invokeId: string, instanceId: string): Promise<InvocationResult | undefined> {
    const ecs = this.api(regionId);
    const out = await ecs.call(`DescribeInvocationResults ${invokeId}`, (rt) => ecs.sdk.describeInvocationResultsWithOptions(new Ecs.DescribeInvocationResultsRequest({ regionId, invokeId, instanceId, contentEncoding: "Base64" }), rt));
    const r = (out.body?.invocation?.invocationResults?.invocationResult ?? []).find((x) => x.invokeId === invokeId && x.instanceId === instanceId);
    if (!r) return undefined;
    return {
      status: r.invocationStatus ?? "",
      exitCode: r.exitCode,
      output: Buffer.from(r.output ?? "", "base64").toString("utf8"),
      errorCode: r.errorCode ?? "",
      errorInfo: r.errorInfo ?? "",
      startTime: r.startTime ?? "",
      finishedTime: r.finishedTime ?? "",
    };
  }

  async allocateEip(regionId: string, tags: Tags, token: string): Promise<{ allocationId: string; ipAddress: string }> {
    const vpc = this.vpcApi(regionId);
    const request = new Vpc.AllocateEipAddressRequest({ regionId, bandwidth: "5", internetChargeType: "PayByTraffic", tag: tagList(Vpc.AllocateEipAddressRequestTag, tags), clientToken: token });
    const out = await vpc.call(`AllocateEipAddress in ${regionId}`, (rt) => vpc.sdk.allocateEipAddressWithOptions(request, rt));
    if (!out.body?.allocationId) throw new CloudApiError("NoAllocationId", out.statusCode, "AllocateEipAddress answered without an allocation id");
    return { allocationId: out.body.allocationId, ipAddress: out.body.eipAddress ?? "" };
  }

  private async describeEips(regionId: string, what: string, filter: Partial<DescribeEipAddressesRequest>): Promise<EipInfo[]> {
    const vpc = this.vpcApi(regionId);
    const out = await vpc.call(what, (rt) => vpc.sdk.describeEipAddressesWithOptions(new Vpc.DescribeEipAddressesRequest({ regionId, pageSize: 100, ...filter }), rt));
    return (out.body?.eipAddresses?.eipAddress ?? []).flatMap((e) => (e.allocationId ? [{ allocationId: e.allocationId, ipAddress: e.ipAddress ?? "", status: e.status ?? "", instanceId: e.instanceId ?? "" }] : []));
  }

  async eip(regionId: string, allocationId: string): Promise<EipInfo | undefined> {
    return (await this.describeEips(regionId, `DescribeEipAddresses ${allocationId}`, { allocationId })).find((e) => e.allocationId === allocationId);
  }

  eipsTagged(regionId: string, tags: Tags): Promise<EipInfo[]> {
    return this.describeEips(regionId, `DescribeEipAddresses tagged ${JSON.stringify(tags)}`, { tag: tagList(Vpc.DescribeEipAddressesRequestTag, tags) });
  }

  async associateEip(regionId: string, allocationId: string, instanceId: string): Promise<void> {
    const vpc = this.vpcApi(regionId);
    await vpc.call(`AssociateEipAddress ${allocationId} with ${instanceId}`, (rt) => vpc.sdk.associateEipAddressWithOptions(new Vpc.AssociateEipAddressRequest({ regionId, allocationId, instanceId, instanceType: "EcsInstance" }), rt));
  }

  /**
   * Unassociates (when associated) and releases an elastic IP. Returns true
   * once it is gone; false while it is still moving between states.
   */
  async releaseEip(regionId: string, allocationId: string): Promise<boolean> {
    const vpc = this.vpcApi(regionId);
    const e = await this.eip(regionId, allocationId);
    if (!e) return true;
    if (e.status === "InUse" && e.instanceId) {
      await vpc.call(`UnassociateEipAddress ${allocationId}`, (rt) => vpc.sdk.unassociateEipAddressWithOptions(new Vpc.UnassociateEipAddressRequest({ regionId, allocationId, instanceId: e.instanceId, instanceType: "EcsInstance" }), rt));
      return false;
    }
    if (e.status !== "Available") return false;
    try {
      await vpc.call(`ReleaseEipAddress ${allocationId}`, (rt) => vpc.sdk.releaseEipAddressWithOptions(new Vpc.ReleaseEipAddressRequest({ regionId, allocationId }), rt));
    } catch (err) {
      if (isNotYet(err)) return false;
      if (!isNotFound(err)) throw err;
    }
    return true;
  }
}
