// The ECS resources of the contract server and their state machines. Each
// resource remembers when it entered its current status; `advance()` applies
// every transition that the clock says is due. Operations check the
// documented preconditions and throw the documented errors.
import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Clock, Timings } from "./clock.js";
import { clampContent, copyContent, createEmptyContent } from "./disk-files.js";
import { ecsErrors, EcsApiError } from "./errors.js";
import { resourceId } from "./ids.js";
import { contentToQcow2, convertToRaw, IMPORT_FORMATS, type ImportFormat } from "./image-import.js";
import { intToIp, ipToInt, parseCidr, usableRange, type SecurityGroupRecord, type VSwitchRecord } from "./networks.js";
import type { Switches } from "./switches.js";
import type { CommandRun, GuestDevice, UserDataRunner } from "./user-data.js";

export interface Tag {
  key: string;
  value: string;
}

export type InstanceStatus = "Pending" | "Starting" | "Running" | "Stopping" | "Stopped";
export type DiskStatus = "Creating" | "Available" | "Attaching" | "In_use" | "Detaching";
export type SnapshotStatus = "progressing" | "accomplished" | "failed";
export type ImageStatus = "Creating" | "Available" | "CreateFailed";
export type TaskStatus = "Processing" | "Finished" | "Failed";
export type EipStatus = "Available" | "Associating" | "InUse" | "Unassociating";

export interface InstanceRecord {
  id: string;
  regionId: string;
  zoneId: string;
  name: string;
  description: string;
  instanceType: string;
  imageId: string;
  /** Empty for a classic-network instance (RunInstances without VSwitchId). */
  vSwitchId: string;
  vpcId: string;
  privateIpAddress?: string;
  securityGroupIds: string[];
  userData?: string;
  status: InstanceStatus;
  since: number;
  createdAt: number;
  startedAt?: number;
  tags: Tag[];
}

export interface DiskRecord {
  id: string;
  regionId: string;
  zoneId: string;
  name: string;
  description: string;
  category: string;
  sizeGiB: number;
  type: "system" | "data";
  status: DiskStatus;
  since: number;
  createdAt: number;
  instanceId?: string;
  device?: string;
  attachedAt?: number;
  detachedAt?: number;
  deleteWithInstance: boolean;
  sourceSnapshotId?: string;
  imageId?: string;
  file: string;
  tags: Tag[];
}

export interface SnapshotRecord {
  id: string;
  regionId: string;
  name: string;
  description: string;
  sourceDiskId: string;
  sourceDiskSizeGiB: number;
  sourceDiskType: "system" | "data";
  /** For a CopySnapshot copy: where it was copied from. */
  sourceRegionId?: string;
  sourceSnapshotId?: string;
  retentionDays?: number;
  status: SnapshotStatus;
  /** How long it stays progressing: snapshotMs, or snapshotCopyMs for a copy. */
  durationMs: number;
  since: number;
  createdAt: number;
  file: string;
  tags: Tag[];
}

export interface ImageDisk {
  device: string;
  type: "system" | "data";
  sizeGiB: number;
  file: string;
  snapshotId?: string;
  format?: ImportFormat;
  ossBucket?: string;
  ossObject?: string;
}

export interface ImageRecord {
  id: string;
  regionId: string;
  name: string;
  description: string;
  status: ImageStatus;
  since: number;
  createdAt: number;
  durationMs: number;
  source: "CreateImage" | "ImportImage";
  /** Decided when the image was requested: the CreateFailed switch fired. */
  failByOrder: boolean;
  /** For imports: the conversion's outcome once it has finished. */
  conversion: "pending" | "done" | { error: string };
  taskId?: string;
  architecture: string;
  platform: string;
  osType: string;
  bootMode: string;
  disks: ImageDisk[];
  tags: Tag[];
}

export interface TaskRecord {
  id: string;
  regionId: string;
  action: "ImportImage" | "ExportImage";
  resourceId: string;
  /** ExportImage: whether the files are written yet. */
  export?: "pending" | "done" | { error: string };
  status: TaskStatus;
  createdAt: number;
  finishedAt?: number;
  error?: string;
}

/** An elastic IP address: allocated Available, then bound to at most one instance. */
export interface EipRecord {
  allocationId: string;
  regionId: string;
  ipAddress: string;
  bandwidth: string;
  internetChargeType: string;
  status: EipStatus;
  since: number;
  createdAt: number;
  /** The instance it is associated with (while Associating, InUse or Unassociating). */
  instanceId?: string;
  /** Tags (the VPC API's AllocateEipAddress takes them; ECS's does not). */
  tags: Tag[];
}

export interface EcsStateOptions {
  dataDir: string;
  clock: Clock;
  timings: Timings;
  switches: Switches;
  runner: UserDataRunner;
  /** The content file of an OSS object, or undefined when bucket or object is missing. */
  ossObject(bucket: string, key: string): { file: string } | undefined;
  ossBucketExists(bucket: string): boolean;
  /** Writes an object whose content is `size` bytes: the content file's, then zeros (ExportImage's RAW files). */
  ossPutContent(bucket: string, key: string, contentFile: string, size: number): Promise<void>;
  /** The zones of each region (DescribeZones); a region not listed has `R-h`, `R-i` and `R-j`. */
  zones?: Record<string, string[]>;
}

const GiB = 1024 * 1024 * 1024;

/** The regions where ExportImage honours ImageFormat (Alibaba's list, ExportImage usage notes); elsewhere it writes RAW. */
const IMAGE_FORMAT_REGIONS = ["ap-northeast-1", "ap-southeast-5", "eu-central-1", "me-east-1", "us-east-1", "eu-west-1", "ap-southeast-1", "ap-southeast-3", "us-west-1"];

/** "NN%" of an operation that started at `since` and lasts `duration`, capped below 100% until done. */
export function progress(now: number, since: number, duration: number, done: boolean): string {
  if (done) return "100%";
  const pct = duration <= 0 ? 99 : Math.min(99, Math.floor(((now - since) / duration) * 100));
  return `${Math.max(0, pct)}%`;
}

/** True when every filter tag is on the resource (a filter without value matches any value). */
export function matchesTags(tags: Tag[], filter: { key: string; value?: string }[]): boolean {
  return filter.every((f) => tags.some((t) => t.key === f.key && (f.value === undefined || t.value === f.value)));
}

/** The ECS side of the contract server: resources, transitions and the operations on them. */
export class EcsState {
  readonly instances = new Map<string, InstanceRecord>();
  readonly disks = new Map<string, DiskRecord>();
  readonly snapshots = new Map<string, SnapshotRecord>();
  readonly images = new Map<string, ImageRecord>();
  readonly tasks = new Map<string, TaskRecord>();
  readonly vSwitches = new Map<string, VSwitchRecord>();
  readonly securityGroups = new Map<string, SecurityGroupRecord>();
  readonly eips = new Map<string, EipRecord>();
  /** EIPs come from 198.18.0.0/15 (reserved for benchmarking): nothing a test could reach by mistake. */
  private eipCount = 0;
  /** Cloud Assistant command runs (RunCommand), by invocation id. */
  readonly invocations = new Map<string, CommandRun>();
  /** RunInstances/CreateDisk/… results by ClientToken, for the documented idempotence. */
  readonly clientTokens = new Map<string, unknown>();
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly opts: EcsStateOptions) {}

  get now(): number {
    return this.opts.clock.now();
  }

  /** The zones of a region, as DescribeZones lists them. */
  zonesOf(regionId: string): string[] {
    return this.opts.zones?.[regionId] ?? ["h", "i", "j"].map((z) => `${regionId}-${z}`);
  }

  /** The zone used when a call names none: `R-i` (what the server always used), else the region's first. */
  defaultZone(regionId: string): string {
    const zones = this.zonesOf(regionId);
    return zones.includes(`${regionId}-i`) ? `${regionId}-i` : (zones[0] ?? `${regionId}-i`);
  }

  checkZone(regionId: string, zoneId: string): void {
    if (!this.zonesOf(regionId).includes(zoneId)) throw ecsErrors.zoneNotFound();
  }

  private dir(kind: string): string {
    return join(this.opts.dataDir, "ecs", kind);
  }

  async init(): Promise<void> {
    for (const kind of ["disks", "snapshots", "images", "imports"]) await mkdir(this.dir(kind), { recursive: true });
  }

  /** Waits for background work (conversions, guest starts) to settle; for a clean close. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  private track<T>(p: Promise<T>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
  }

  /** Applies every transition that is due on the clock. */
  async advance(): Promise<void> {
    const now = this.now;
    const t = this.opts.timings;
    for (const d of this.disks.values()) {
      if (d.status === "Creating" && now - d.since >= t.diskCreateMs) this.setDisk(d, "Available", now);
      else if (d.status === "Attaching" && now - d.since >= t.diskAttachMs) this.setDisk(d, "In_use", now);
      else if (d.status === "Detaching" && now - d.since >= t.diskDetachMs) {
        d.instanceId = undefined;
        d.device = undefined;
        d.detachedAt = now;
        this.setDisk(d, "Available", now);
      }
    }
    for (const s of this.snapshots.values()) {
      if (s.status === "progressing" && now - s.since >= s.durationMs) {
        s.status = "accomplished";
        s.since = now;
      }
    }
    for (const img of this.images.values()) {
      if (img.status !== "Creating" || now - img.since < img.durationMs || img.conversion === "pending") continue;
      const failed = img.failByOrder || typeof img.conversion === "object";
      img.status = failed ? "CreateFailed" : "Available";
      img.since = now;
      const task = img.taskId ? this.tasks.get(img.taskId) : undefined;
      if (task) {
        task.status = failed ? "Failed" : "Finished";
        task.finishedAt = now;
        task.error = typeof img.conversion === "object" ? img.conversion.error : failed ? "The image import failed (CreateFailed switch)." : undefined;
      }
    }
    for (const task of this.tasks.values()) {
      if (task.action !== "ExportImage" || task.status !== "Processing" || now - task.createdAt < t.imageExportMs || task.export === "pending") continue;
      task.status = typeof task.export === "object" ? "Failed" : "Finished";
      task.finishedAt = now;
      if (typeof task.export === "object") task.error = task.export.error;
    }
    for (const eip of this.eips.values()) {
      if (eip.status === "Associating" && now - eip.since >= t.eipAssociateMs) this.setEip(eip, "InUse", now);
      else if (eip.status === "Unassociating" && now - eip.since >= t.eipUnassociateMs) {
        eip.instanceId = undefined;
        this.setEip(eip, "Available", now);
      }
    }
    for (const inst of this.instances.values()) {
      if ((inst.status === "Pending" || inst.status === "Starting") && now - inst.since >= t.instanceStartMs) {
        inst.status = "Running";
        inst.since = now;
        inst.startedAt = now;
        // Disks that come with the instance are in use once it runs.
        for (const d of this.disksOf(inst.id)) if (d.status === "Attaching") this.setDisk(d, "In_use", now);
        if (inst.userData) await this.opts.runner.start(inst.id, inst.userData, this.guestDevices(inst.id));
      } else if (inst.status === "Stopping" && now - inst.since >= t.instanceStopMs) {
        inst.status = "Stopped";
        inst.since = now;
      }
    }
  }

  private setEip(e: EipRecord, status: EipStatus, now: number): void {
    e.status = status;
    e.since = now;
  }

  private setDisk(d: DiskRecord, status: DiskStatus, now: number): void {
    d.status = status;
    d.since = now;
  }

  disksOf(instanceId: string): DiskRecord[] {
    return [...this.disks.values()].filter((d) => d.instanceId === instanceId);
  }

  /** The devices a guest started now would see: attached disks (In_use, or coming with the instance). */
  guestDevices(instanceId: string): Record<string, GuestDevice> {
    const out: Record<string, GuestDevice> = {};
    for (const d of this.disksOf(instanceId)) {
      if (d.device && (d.status === "In_use" || d.status === "Attaching")) out[d.device] = { diskId: d.id, path: d.file, sizeBytes: d.sizeGiB * GiB };
    }
    return out;
  }

  instance(id: string): InstanceRecord {
    const i = this.instances.get(id);
    if (!i) throw ecsErrors.instanceNotFound();
    return i;
  }

  disk(id: string): DiskRecord {
    const d = this.disks.get(id);
    if (!d) throw ecsErrors.diskNotFound();
    return d;
  }

  snapshot(id: string): SnapshotRecord {
    const s = this.snapshots.get(id);
    if (!s) throw ecsErrors.snapshotNotFound();
    return s;
  }

  /**
   * A snapshot the call may use: snapshots are regional, so one of another
   * region than the call's RegionId is as unknown as a missing one.
   */
  snapshotIn(regionId: string, id: string, notFound: () => EcsApiError = ecsErrors.snapshotNotFound): SnapshotRecord {
    const s = this.snapshots.get(id);
    if (!s || s.regionId !== regionId) throw notFound();
    return s;
  }

  image(id: string): ImageRecord {
    const i = this.images.get(id);
    if (!i) throw ecsErrors.imageNotFound();
    return i;
  }

  private nextDevice(instanceId: string): string {
    const used = new Set(this.disksOf(instanceId).map((d) => d.device));
    for (let c = "b".charCodeAt(0); c <= "z".charCodeAt(0); c++) {
      const dev = `/dev/xvd${String.fromCharCode(c)}`;
      if (!used.has(dev)) return dev;
    }
    throw new EcsApiError(403, "InstanceDiskNumber.LimitExceed", "The total number of disks in the instance exceeds the limit.");
  }

  private async newDisk(input: { regionId: string; zoneId: string; name?: string; description?: string; category?: string; sizeGiB?: number; snapshotId?: string; snapshotNotFound?: () => EcsApiError; type: "system" | "data"; tags: Tag[]; from?: { file: string; imageId?: string } }): Promise<DiskRecord> {
    let size = input.sizeGiB;
    const snap = input.snapshotId ? this.snapshotIn(input.regionId, input.snapshotId, input.snapshotNotFound) : undefined;
    if (snap && snap.status !== "accomplished") throw ecsErrors.snapshotNotReady();
    if (snap) size = Math.max(size ?? 0, snap.sourceDiskSizeGiB);
    if (size === undefined) throw ecsErrors.missingParameter("Size");
    if (!Number.isInteger(size) || size < 1 || size > 32768) throw ecsErrors.invalidParameter("Size", "must be 1 to 32768 GiB");
    const id = resourceId("d");
    const file = join(this.dir("disks"), `${id}.img`);
    const source = snap?.file ?? input.from?.file;
    if (source) await copyContent(source, file, size * GiB);
    else await createEmptyContent(file);
    const now = this.now;
    const disk: DiskRecord = {
      id,
      regionId: input.regionId,
      zoneId: input.zoneId,
      name: input.name ?? "",
      description: input.description ?? "",
      category: input.category ?? "cloud_essd",
      sizeGiB: size,
      type: input.type,
      status: "Creating",
      since: now,
      createdAt: now,
      deleteWithInstance: input.type === "system",
      sourceSnapshotId: snap?.id,
      imageId: input.from?.imageId,
      file,
      tags: input.tags,
    };
    this.disks.set(id, disk);
    return disk;
  }

  async runInstances(input: {
    regionId: string;
    zoneId?: string;
    imageId: string;
    instanceType: string;
    name?: string;
    description?: string;
    vSwitchId?: string;
    securityGroupIds: string[];
    privateIpAddress?: string;
    userData?: string;
    amount: number;
    systemDisk: { sizeGiB?: number; category?: string };
    dataDisks: { sizeGiB?: number; category?: string; snapshotId?: string; deleteWithInstance?: boolean }[];
    tags: Tag[];
  }): Promise<string[]> {
    const { zoneId, vSwitch, addresses } = this.placeInstances(input);
    let image: ImageRecord | undefined;
    if (input.imageId.startsWith("m-")) {
      image = this.image(input.imageId);
      // Images are regional too: a recovery region's RunInstances cannot use the protected region's image.
      if (image.regionId !== input.regionId) throw ecsErrors.imageNotFound();
      if (image.status !== "Available") throw ecsErrors.imageNotAvailable();
    }
    if (input.userData !== undefined) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(input.userData) || input.userData.length % 4 !== 0) throw ecsErrors.invalidUserData();
      if (input.userData.length > 32 * 1024) throw ecsErrors.userDataTooLarge();
    }
    // Every check before anything is made: a refused call leaves nothing behind.
    for (const d of input.dataDisks) {
      if (d.snapshotId && this.snapshotIn(input.regionId, d.snapshotId, ecsErrors.dataDiskSnapshotNotFound).status !== "accomplished") throw ecsErrors.snapshotNotReady();
    }
    const ids: string[] = [];
    for (let n = 0; n < input.amount; n++) {
      const id = resourceId("i");
      const now = this.now;
      const inst: InstanceRecord = {
        id,
        regionId: input.regionId,
        zoneId,
        name: input.name ?? id,
        description: input.description ?? "",
        instanceType: input.instanceType,
        imageId: input.imageId,
        vSwitchId: vSwitch?.vSwitchId ?? "",
        vpcId: vSwitch?.vpcId ?? "",
        privateIpAddress: addresses[n],
        securityGroupIds: input.securityGroupIds,
        userData: input.userData,
        status: "Pending",
        since: now,
        createdAt: now,
        tags: input.tags,
      };
      const sysImage = image?.disks.find((d) => d.type === "system");
      const system = await this.newDisk({
        regionId: input.regionId,
        zoneId,
        category: input.systemDisk.category,
        sizeGiB: Math.max(input.systemDisk.sizeGiB ?? 40, sysImage?.sizeGiB ?? 0),
        type: "system",
        tags: input.tags,
        from: sysImage ? { file: sysImage.file, imageId: image?.id } : undefined,
      });
      this.attachAtCreation(system, id, "/dev/xvda", true);
      this.instances.set(id, inst);
      const imageData = image?.disks.filter((d) => d.type === "data") ?? [];
      for (const d of imageData) {
        const disk = await this.newDisk({ regionId: input.regionId, zoneId, sizeGiB: d.sizeGiB, type: "data", tags: input.tags, from: { file: d.file, imageId: image?.id } });
        this.attachAtCreation(disk, id, this.nextDevice(id), true);
      }
      for (const d of input.dataDisks) {
        const disk = await this.newDisk({ regionId: input.regionId, zoneId, sizeGiB: d.sizeGiB, category: d.category, snapshotId: d.snapshotId, snapshotNotFound: ecsErrors.dataDiskSnapshotNotFound, type: "data", tags: input.tags });
        this.attachAtCreation(disk, id, this.nextDevice(id), d.deleteWithInstance ?? true);
      }
      ids.push(id);
    }
    return ids;
  }

  /**
   * Where RunInstances puts its instances, with the checks its error table
   * documents: the vSwitch must exist in the region and lie in ZoneId (which
   * defaults to the vSwitch's zone); the security groups must exist and, with
   * a vSwitch, belong to its VPC; PrivateIpAddress needs a vSwitch, must lie
   * in its CIDR block and be free, else each instance gets the next free
   * address. Without VSwitchId the instance is on the classic network.
   */
  private placeInstances(input: { regionId: string; zoneId?: string; vSwitchId?: string; securityGroupIds: string[]; privateIpAddress?: string; amount: number }): { zoneId: string; vSwitch?: VSwitchRecord; addresses: (string | undefined)[] } {
    const vSwitch = input.vSwitchId !== undefined ? this.vSwitchIn(input.regionId, input.vSwitchId) : undefined;
    if (input.zoneId !== undefined) this.checkZone(input.regionId, input.zoneId);
    if (vSwitch && input.zoneId !== undefined && input.zoneId !== vSwitch.zoneId) throw ecsErrors.vSwitchZoneMismatch();
    const zoneId = input.zoneId ?? vSwitch?.zoneId ?? this.defaultZone(input.regionId);
    for (const sgId of input.securityGroupIds) {
      const sg = this.securityGroups.get(sgId);
      if (!sg || sg.regionId !== input.regionId) throw ecsErrors.securityGroupNotFound();
      if (vSwitch && sg.vpcId !== vSwitch.vpcId) throw ecsErrors.securityGroupVpcMismatch();
    }
    if (!vSwitch) {
      // "PrivateIpAddress depends on VSwitchId and cannot be specified alone."
      if (input.privateIpAddress !== undefined) throw ecsErrors.missingParameter("VSwitchId");
      return { zoneId, addresses: [] };
    }
    const used = new Set([...this.instances.values()].filter((i) => i.vSwitchId === vSwitch.vSwitchId).map((i) => i.privateIpAddress));
    const range = usableRange(vSwitch.cidrBlock);
    if (input.privateIpAddress !== undefined) {
      const ip = ipToInt(input.privateIpAddress);
      if (ip === undefined) throw ecsErrors.privateIpMalformed();
      // (assumed) the documented "Amount must be 1" answered as InvalidParameter.
      if (input.amount !== 1) throw ecsErrors.invalidParameter("Amount", "must be 1 when PrivateIpAddress is given");
      if (ip < range.first || ip > range.last) throw ecsErrors.privateIpNotInVSwitch();
      if (used.has(input.privateIpAddress)) throw ecsErrors.privateIpDuplicated();
      return { zoneId, vSwitch, addresses: [input.privateIpAddress] };
    }
    const addresses: string[] = [];
    for (let ip = range.first; ip <= range.last && addresses.length < input.amount; ip++) {
      if (!used.has(intToIp(ip))) addresses.push(intToIp(ip));
    }
    if (addresses.length < input.amount) throw ecsErrors.privateIpExhausted();
    return { zoneId, vSwitch, addresses };
  }

  vSwitchIn(regionId: string, id: string): VSwitchRecord {
    const v = this.vSwitches.get(id);
    if (!v || v.regionId !== regionId) throw ecsErrors.vSwitchNotFound();
    return v;
  }

  /** Harness: a vSwitch (mask /16 to /29, as the VPC API allows) in one of the region's zones. */
  createVSwitch(input: { vSwitchId?: string; vpcId: string; regionId: string; zoneId: string; cidrBlock: string }): VSwitchRecord {
    if (!input.vpcId) throw ecsErrors.missingParameter("vpcId");
    const cidr = parseCidr(input.cidrBlock);
    if (!cidr || cidr.bits < 16 || cidr.bits > 29) throw ecsErrors.invalidParameter("cidrBlock", "must be an IPv4 CIDR block with a mask of /16 to /29");
    this.checkZone(input.regionId, input.zoneId);
    const id = input.vSwitchId ?? resourceId("vsw");
    if (this.vSwitches.has(id)) throw ecsErrors.invalidParameter("vSwitchId", `${id} exists`);
    const record: VSwitchRecord = { vSwitchId: id, vpcId: input.vpcId, regionId: input.regionId, zoneId: input.zoneId, cidrBlock: input.cidrBlock, createdAt: this.now };
    this.vSwitches.set(id, record);
    return record;
  }

  /** Harness: a security group of a VPC. */
  createSecurityGroup(input: { securityGroupId?: string; vpcId: string; regionId: string }): SecurityGroupRecord {
    if (!input.vpcId) throw ecsErrors.missingParameter("vpcId");
    const id = input.securityGroupId ?? resourceId("sg");
    if (this.securityGroups.has(id)) throw ecsErrors.invalidParameter("securityGroupId", `${id} exists`);
    const record: SecurityGroupRecord = { securityGroupId: id, vpcId: input.vpcId, regionId: input.regionId, createdAt: this.now };
    this.securityGroups.set(id, record);
    return record;
  }

  private attachAtCreation(disk: DiskRecord, instanceId: string, device: string, deleteWithInstance: boolean): void {
    disk.instanceId = instanceId;
    disk.device = device;
    disk.attachedAt = this.now;
    disk.deleteWithInstance = deleteWithInstance;
    disk.status = "Attaching";
  }

  private orderedIncorrectStatus(action: string): void {
    if (this.opts.switches.take(this.opts.switches.incorrectInstanceStatus, action)) throw ecsErrors.incorrectInstanceStatus();
  }

  /** DescribeCloudAssistantStatus: an instance's agent is online once the instance has been Running for `cloudAssistantStartMs`. */
  cloudAssistantOnline(inst: InstanceRecord): boolean {
    return inst.status === "Running" && this.now - (inst.startedAt ?? this.now) >= this.opts.timings.cloudAssistantStartMs;
  }

  /**
   * RunCommand: one run per instance, in its guest stand-in (user-data.ts).
   * A Linux guest runs RunShellScript only (other types are Invalid,
   * CommandNotApplicable); an instance not Running, or whose agent is not
   * online yet, gets an Aborted run, as ECS reports a command it could not send.
   */
  async runCommand(input: { regionId: string; instanceIds: string[]; type: string; content: string; timeoutSeconds: number }): Promise<{ invokeId: string; commandId: string }> {
    if (input.instanceIds.length === 0) throw ecsErrors.missingInstanceIdParam();
    if (input.instanceIds.length > 100) throw ecsErrors.instanceIdsExceedLimit();
    const instances = input.instanceIds.map((id) => {
      const inst = this.instances.get(id);
      if (!inst || inst.regionId !== input.regionId) throw ecsErrors.commandInstanceNotFound();
      return inst;
    });
    const invokeId = resourceId("t");
    const commandId = resourceId("c");
    // A command's times are the wall clock's: its process runs in real time, whatever this server's clock does.
    const now = Date.now();
    for (const inst of instances) {
      const run: CommandRun = { invokeId, commandId, instanceId: inst.id, regionId: inst.regionId, status: "Running", exitCode: null, output: "", errorCode: "", errorInfo: "", startedAt: now };
      this.invocations.set(`${invokeId}/${inst.id}`, run);
      if (inst.status !== "Running") Object.assign(run, { status: "Aborted", errorCode: "InstanceNotRunning", errorInfo: "the instance is not running when create task", finishedAt: now });
      else if (!this.cloudAssistantOnline(inst)) Object.assign(run, { status: "Aborted", errorCode: "ClientNotRunning", errorInfo: "the aliyun service is not running on the instance", finishedAt: now });
      else if (input.type !== "RunShellScript") Object.assign(run, { status: "Invalid", errorCode: "CommandNotApplicable", errorInfo: "the command is not applicable", finishedAt: now });
      else await this.opts.runner.runCommand(run, input.content, input.timeoutSeconds * 1000, this.guestDevices(inst.id));
    }
    return { invokeId, commandId };
  }

  /** Stops a running instance; ForceStop changes nothing here, as there is no guest OS to shut down cleanly. */
  async stopInstance(id: string): Promise<void> {
    const inst = this.instance(id);
    this.orderedIncorrectStatus("StopInstance");
    if (inst.status !== "Running") throw ecsErrors.incorrectInstanceStatus();
    inst.status = "Stopping";
    inst.since = this.now;
    await this.opts.runner.stop(id);
  }

  startInstance(id: string): void {
    const inst = this.instance(id);
    this.orderedIncorrectStatus("StartInstance");
    if (inst.status !== "Stopped") throw ecsErrors.incorrectInstanceStatus();
    inst.status = "Starting";
    inst.since = this.now;
  }

  async deleteInstance(id: string, force: boolean): Promise<void> {
    const inst = this.instance(id);
    this.orderedIncorrectStatus("DeleteInstance");
    if (inst.status !== "Stopped" && !force) throw ecsErrors.incorrectInstanceStatus();
    await this.opts.runner.stop(id);
    // "Releasing an instance dissociates its EIP; the EIP must be released separately."
    for (const eip of this.eips.values()) {
      if (eip.instanceId !== id) continue;
      eip.instanceId = undefined;
      this.setEip(eip, "Available", this.now);
    }
    for (const d of this.disksOf(id)) {
      if (d.deleteWithInstance) {
        this.disks.delete(d.id);
        await rm(d.file, { force: true });
      } else {
        d.instanceId = undefined;
        d.device = undefined;
        d.detachedAt = this.now;
        this.setDisk(d, "Available", this.now);
      }
    }
    this.instances.delete(id);
  }

  allocateEip(input: { regionId: string; bandwidth?: string; internetChargeType?: string; tags?: Tag[] }): { allocationId: string; ipAddress: string } {
    const chargeType = input.internetChargeType ?? "PayByBandwidth";
    if (chargeType !== "PayByBandwidth" && chargeType !== "PayByTraffic") throw ecsErrors.internetChargeTypeNotSupported();
    const bandwidth = input.bandwidth ?? "5";
    if (!/^[1-9]\d*$/.test(bandwidth)) throw ecsErrors.invalidParameter("Bandwidth", "must be a whole number of Mbit/s");
    const n = this.eipCount++;
    const ipAddress = intToIp((ipToInt("198.18.0.1") ?? 0) + n);
    const now = this.now;
    const record: EipRecord = { allocationId: resourceId("eip"), regionId: input.regionId, ipAddress, bandwidth, internetChargeType: chargeType, status: "Available", since: now, createdAt: now, tags: input.tags ?? [] };
    this.eips.set(record.allocationId, record);
    return { allocationId: record.allocationId, ipAddress };
  }

  /** An EIP by AllocationId; with RegionId, only in that region. */
  eip(allocationId: string, regionId?: string): EipRecord {
    const e = this.eips.get(allocationId);
    if (!e || (regionId !== undefined && e.regionId !== regionId)) throw ecsErrors.eipNotFound();
    return e;
  }

  /** The EIP bound to an instance as DescribeInstances shows it: once InUse. */
  eipOf(instanceId: string): EipRecord | undefined {
    return [...this.eips.values()].find((e) => e.instanceId === instanceId && e.status === "InUse");
  }

  /**
   * AssociateEipAddress: an Available EIP to a Running or Stopped instance
   * of its region that has none; Associating, then InUse after
   * eipAssociateMs. InstanceType must be EcsInstance (the only kind here).
   */
  associateEip(input: { allocationId: string; instanceId: string; regionId?: string; instanceType?: string }): void {
    const eip = this.eip(input.allocationId, input.regionId);
    if ((input.instanceType ?? "EcsInstance") !== "EcsInstance") throw ecsErrors.eipInstanceTypeNotSupported();
    const inst = this.instances.get(input.instanceId);
    if (!inst || inst.regionId !== eip.regionId) throw ecsErrors.eipInstanceNotFound();
    if (eip.status !== "Available") throw ecsErrors.incorrectEipStatus();
    if (inst.status !== "Running" && inst.status !== "Stopped") throw ecsErrors.eipIncorrectInstanceStatus();
    if ([...this.eips.values()].some((e) => e.instanceId === inst.id)) throw ecsErrors.instanceHasEip();
    eip.instanceId = inst.id;
    this.setEip(eip, "Associating", this.now);
  }

  /** UnassociateEipAddress: an InUse EIP from the instance it is bound to; Unassociating, then Available. */
  unassociateEip(input: { allocationId: string; instanceId: string; regionId?: string; instanceType?: string }): void {
    const eip = this.eip(input.allocationId, input.regionId);
    if ((input.instanceType ?? "EcsInstance") !== "EcsInstance") throw ecsErrors.eipInstanceTypeNotSupported();
    const inst = this.instances.get(input.instanceId);
    if (!inst || inst.regionId !== eip.regionId) throw ecsErrors.eipInstanceNotFound();
    if (eip.status !== "InUse" || eip.instanceId !== inst.id) throw ecsErrors.incorrectEipStatus();
    this.setEip(eip, "Unassociating", this.now);
  }

  /** ReleaseEipAddress: "You can release only an EIP that is in the Available state." Gone at once. */
  releaseEip(allocationId: string, regionId?: string): void {
    const eip = this.eip(allocationId, regionId);
    if (eip.status !== "Available") throw ecsErrors.incorrectEipStatus();
    this.eips.delete(allocationId);
  }

  async createDisk(input: { regionId: string; zoneId: string; name?: string; description?: string; category?: string; sizeGiB?: number; snapshotId?: string; tags: Tag[] }): Promise<string> {
    this.checkZone(input.regionId, input.zoneId);
    const disk = await this.newDisk({ ...input, type: "data" });
    return disk.id;
  }

  attachDisk(instanceId: string, diskId: string, deleteWithInstance: boolean | undefined): void {
    const inst = this.instance(instanceId);
    const disk = this.disk(diskId);
    this.orderedIncorrectStatus("AttachDisk");
    if (inst.status !== "Running" && inst.status !== "Stopped") throw ecsErrors.incorrectInstanceStatus();
    if (disk.status !== "Available") throw ecsErrors.incorrectDiskStatus();
    disk.instanceId = instanceId;
    disk.device = this.nextDevice(instanceId);
    disk.attachedAt = this.now;
    disk.deleteWithInstance = deleteWithInstance ?? false;
    this.setDisk(disk, "Attaching", this.now);
  }

  detachDisk(instanceId: string, diskId: string): void {
    const inst = this.instance(instanceId);
    const disk = this.disk(diskId);
    this.orderedIncorrectStatus("DetachDisk");
    if (inst.status !== "Running" && inst.status !== "Stopped") throw ecsErrors.incorrectInstanceStatus();
    if (disk.instanceId !== instanceId || disk.status !== "In_use") throw ecsErrors.incorrectDiskStatus();
    if (disk.type === "system") throw new EcsApiError(403, "NoAttachedSystemDisk", "The system disk cannot be detached while the instance uses it.");
    this.setDisk(disk, "Detaching", this.now);
  }

  async deleteDisk(id: string): Promise<void> {
    const disk = this.disk(id);
    if (disk.status !== "Available") throw ecsErrors.incorrectDiskStatus();
    this.disks.delete(id);
    await rm(disk.file, { force: true });
  }

  async createSnapshot(input: { diskId: string; name?: string; description?: string; tags: Tag[] }): Promise<string> {
    const disk = this.disk(input.diskId);
    if (disk.status !== "In_use" && disk.status !== "Available") throw ecsErrors.incorrectDiskStatus();
    const id = resourceId("s");
    const file = join(this.dir("snapshots"), `${id}.img`);
    // The point in time is the call: copy now, report progress on the clock.
    await clampContent(disk.file, disk.sizeGiB * GiB);
    await copyContent(disk.file, file);
    const now = this.now;
    this.snapshots.set(id, {
      id,
      regionId: disk.regionId,
      name: input.name ?? "",
      description: input.description ?? "",
      sourceDiskId: disk.id,
      sourceDiskSizeGiB: disk.sizeGiB,
      sourceDiskType: disk.type,
      status: "progressing",
      durationMs: this.opts.timings.snapshotMs,
      since: now,
      createdAt: now,
      file,
      tags: input.tags,
    });
    return id;
  }

  /**
   * CopySnapshot as documented: from an accomplished snapshot of RegionId to
   * another region. The copy holds the source's bytes as of the call and is
   * progressing for snapshotCopyMs. A disk may have only one unfinished copy
   * per destination region (InvalidOperation.UnfinishedCrossRegionCopy): a
   * client copying every cycle must wait for the last copy. RetentionDays is
   * kept and reported; the copy is not released when it expires.
   */
  async copySnapshot(input: { regionId: string; snapshotId: string; destinationRegionId: string; name: string; description: string; retentionDays?: number; tags: Tag[] }): Promise<string> {
    if (input.destinationRegionId === input.regionId) throw ecsErrors.copyInSameRegion();
    if (!/^\p{L}[\p{L}\p{N}:_.-]{1,127}$/u.test(input.name) || /^https?:\/\//.test(input.name)) throw ecsErrors.snapshotNameMalformed();
    if (input.description.length < 2 || input.description.length > 256 || /^https?:\/\//.test(input.description)) throw ecsErrors.descriptionMalformed();
    if (input.retentionDays !== undefined && (input.retentionDays < 1 || input.retentionDays > 65536)) throw ecsErrors.retentionDaysMalformed();
    const source = this.snapshotIn(input.regionId, input.snapshotId, ecsErrors.copySourceNotFound);
    if (source.status !== "accomplished") throw ecsErrors.snapshotNotReady();
    const unfinished = [...this.snapshots.values()].some((s) => s.status === "progressing" && s.sourceSnapshotId !== undefined && s.regionId === input.destinationRegionId && s.sourceDiskId === source.sourceDiskId);
    if (unfinished) throw ecsErrors.unfinishedCrossRegionCopy();
    const id = resourceId("s");
    const file = join(this.dir("snapshots"), `${id}.img`);
    await copyContent(source.file, file);
    const now = this.now;
    this.snapshots.set(id, {
      id,
      regionId: input.destinationRegionId,
      name: input.name,
      description: input.description,
      sourceDiskId: source.sourceDiskId,
      sourceDiskSizeGiB: source.sourceDiskSizeGiB,
      sourceDiskType: source.sourceDiskType,
      sourceRegionId: source.regionId,
      sourceSnapshotId: source.id,
      retentionDays: input.retentionDays,
      status: "progressing",
      durationMs: this.opts.timings.snapshotCopyMs,
      since: now,
      createdAt: now,
      file,
      tags: input.tags,
    });
    return id;
  }

  snapshotUsedByImage(id: string): boolean {
    return [...this.images.values()].some((img) => img.disks.some((d) => d.snapshotId === id));
  }

  /**
   * DeleteSnapshot as documented: a snapshot behind a custom image cannot be
   * deleted until the image is (Force concerns snapshots that disks were
   * created from, and does not lift this).
   */
  async deleteSnapshot(id: string): Promise<void> {
    const snap = this.snapshot(id);
    if (this.snapshotUsedByImage(id)) throw ecsErrors.snapshotCreatedImage();
    this.snapshots.delete(id);
    await rm(snap.file, { force: true });
  }

  async createImage(input: {
    regionId: string;
    name?: string;
    description?: string;
    snapshotId?: string;
    instanceId?: string;
    mappings: { snapshotId?: string; sizeGiB?: number; device?: string }[];
    architecture?: string;
    platform?: string;
    bootMode?: string;
    tags: Tag[];
  }): Promise<string> {
    const sources: { file: string; sizeGiB: number; snapshotId?: string; device?: string }[] = [];
    if (input.mappings.length > 0) {
      for (const m of input.mappings) {
        if (!m.snapshotId) throw ecsErrors.missingParameter("DiskDeviceMapping.N.SnapshotId");
        const snap = this.snapshotIn(input.regionId, m.snapshotId);
        if (snap.status !== "accomplished") throw ecsErrors.snapshotNotReady();
        sources.push({ file: snap.file, sizeGiB: Math.max(m.sizeGiB ?? 0, snap.sourceDiskSizeGiB), snapshotId: snap.id, device: m.device });
      }
    } else if (input.snapshotId) {
      const snap = this.snapshotIn(input.regionId, input.snapshotId);
      if (snap.status !== "accomplished") throw ecsErrors.snapshotNotReady();
      sources.push({ file: snap.file, sizeGiB: snap.sourceDiskSizeGiB, snapshotId: snap.id });
    } else if (input.instanceId) {
      const inst = this.instance(input.instanceId);
      if (inst.status !== "Running" && inst.status !== "Stopped") throw ecsErrors.incorrectInstanceStatus();
      const disks = this.disksOf(inst.id).sort((a, b) => (a.device ?? "").localeCompare(b.device ?? ""));
      for (const d of disks) sources.push({ file: d.file, sizeGiB: d.sizeGiB, device: d.device });
    } else {
      throw ecsErrors.missingParameter("SnapshotId");
    }
    const id = resourceId("m");
    const disks: ImageDisk[] = [];
    for (const [n, s] of sources.entries()) {
      const file = join(this.dir("images"), `${id}-${n + 1}.img`);
      await copyContent(s.file, file, s.sizeGiB * GiB);
      disks.push({ device: s.device ?? (n === 0 ? "/dev/xvda" : `/dev/xvd${String.fromCharCode("a".charCodeAt(0) + n)}`), type: n === 0 ? "system" : "data", sizeGiB: s.sizeGiB, file, snapshotId: s.snapshotId });
    }
    const now = this.now;
    this.images.set(id, {
      id,
      regionId: input.regionId,
      name: input.name ?? id,
      description: input.description ?? "",
      status: "Creating",
      since: now,
      createdAt: now,
      durationMs: this.opts.timings.imageCreateMs,
      source: "CreateImage",
      failByOrder: this.opts.switches.take(this.opts.switches.createFailed, "CreateImage"),
      conversion: "done",
      architecture: input.architecture ?? "x86_64",
      platform: input.platform ?? "Others Linux",
      osType: "linux",
      bootMode: input.bootMode ?? "BIOS",
      disks,
      tags: input.tags,
    });
    return id;
  }

  async importImage(input: {
    regionId: string;
    name?: string;
    description?: string;
    roleName?: string;
    architecture?: string;
    platform?: string;
    osType?: string;
    bootMode?: string;
    mappings: { ossBucket?: string; ossObject?: string; format?: string; diskImageSizeGiB?: number; device?: string }[];
    tags: Tag[];
  }): Promise<{ imageId: string; taskId: string }> {
    if (this.opts.switches.ramRoleMissing) throw ecsErrors.noRamRole();
    if (input.mappings.length === 0) throw ecsErrors.missingParameter("DiskDeviceMapping.1.OSSBucket");
    const id = resourceId("m");
    const plan: { src: string; format: ImportFormat; maxBytes: number; disk: ImageDisk }[] = [];
    for (const [n, m] of input.mappings.entries()) {
      if (!m.ossBucket) throw ecsErrors.missingParameter(`DiskDeviceMapping.${n + 1}.OSSBucket`);
      if (!m.ossObject) throw ecsErrors.missingParameter(`DiskDeviceMapping.${n + 1}.OSSObject`);
      if (!this.opts.ossBucketExists(m.ossBucket)) throw ecsErrors.ossBucketNotFound();
      const object = this.opts.ossObject(m.ossBucket, m.ossObject);
      if (!object) throw ecsErrors.ossObjectNotFound();
      const format = (m.format ?? "RAW").toUpperCase() as ImportFormat;
      if (!IMPORT_FORMATS.includes(format)) throw ecsErrors.invalidParameter(`DiskDeviceMapping.${n + 1}.Format`, "valid values are RAW, VHD, QCOW2 and VMDK");
      const objectSize = (await stat(object.file)).size;
      const sizeGiB = m.diskImageSizeGiB ?? Math.max(1, Math.ceil(objectSize / GiB));
      const file = join(this.dir("images"), `${id}-${n + 1}.img`);
      plan.push({
        src: object.file,
        format,
        maxBytes: sizeGiB * GiB,
        disk: { device: m.device ?? (n === 0 ? "/dev/xvda" : `/dev/xvd${String.fromCharCode("a".charCodeAt(0) + n)}`), type: n === 0 ? "system" : "data", sizeGiB, file, format, ossBucket: m.ossBucket, ossObject: m.ossObject },
      });
    }
    const taskId = resourceId("t");
    const now = this.now;
    const image: ImageRecord = {
      id,
      regionId: input.regionId,
      name: input.name ?? id,
      description: input.description ?? "",
      status: "Creating",
      since: now,
      createdAt: now,
      durationMs: this.opts.timings.imageImportMs,
      source: "ImportImage",
      failByOrder: this.opts.switches.take(this.opts.switches.createFailed, "ImportImage"),
      conversion: "pending",
      taskId,
      architecture: input.architecture ?? "x86_64",
      platform: input.platform ?? "Others Linux",
      osType: input.osType ?? "linux",
      bootMode: input.bootMode ?? "BIOS",
      disks: plan.map((p) => p.disk),
      tags: input.tags,
    };
    this.images.set(id, image);
    this.tasks.set(taskId, { id: taskId, regionId: input.regionId, action: "ImportImage", resourceId: id, status: "Processing", createdAt: now });
    // The object is read in the background, as ECS does: a bad object shows
    // as a failed task and a CreateFailed image, not as an error of the call.
    this.track(
      (async () => {
        try {
          for (const p of plan) await convertToRaw(p.src, p.format, p.disk.file, p.maxBytes);
          image.conversion = "done";
        } catch (err) {
          image.conversion = { error: err instanceof Error ? err.message : String(err) };
        }
      })(),
    );
    return { imageId: id, taskId };
  }

  /**
   * ExportImage: writes each disk of an Available custom image into the
   * bucket, in the background (the task says when it is done): as a RAW file
   * of the disk's whole size, or, in the regions Alibaba lists for
   * ImageFormat, as QCOW2 when asked (holes unallocated, by `qemu-img
   * convert`). Elsewhere ImageFormat is ignored and RAW is written, as
   * documented. Alibaba documents only that the names of the files contain
   * `system` for the system disk and `data` plus the mount point (`xvdb`,
   * ...) for a data disk; the exact names here
   * (`<prefix><imageId>_system.raw`, `<prefix><imageId>_data_xvdb.qcow2`)
   * are *(assumed)*. VHD, VMDK and VDI are refused: the contract server
   * writes RAW and QCOW2 only.
   */
  exportImage(input: { regionId: string; imageId: string; ossBucket: string; ossPrefix?: string; imageFormat?: string }): { taskId: string } {
    if (this.opts.switches.ramRoleMissing) throw ecsErrors.noRamRole();
    const image = this.images.get(input.imageId);
    if (!image || image.regionId !== input.regionId) throw ecsErrors.imageNotFound();
    if (image.status !== "Available") throw ecsErrors.imageNotAvailable();
    if (!this.opts.ossBucketExists(input.ossBucket)) throw ecsErrors.ossBucketNotFound();
    const prefix = input.ossPrefix ?? "";
    // "The prefix can contain digits and letters and must be 1 to 30 characters in length."
    if (input.ossPrefix !== undefined && !/^[A-Za-z0-9]{1,30}$/.test(prefix)) throw ecsErrors.invalidParameter("OSSPrefix", "the prefix can contain digits and letters and must be 1 to 30 characters in length");
    const asked = (input.imageFormat ?? "raw").toLowerCase();
    if (!["raw", "vhd", "qcow2", "vmdk", "vdi"].includes(asked)) throw ecsErrors.invalidParameter("ImageFormat", "valid values are raw, vhd, qcow2, vmdk and vdi");
    const format = IMAGE_FORMAT_REGIONS.includes(input.regionId) ? asked : "raw";
    if (format !== "raw" && format !== "qcow2") throw ecsErrors.invalidParameter("ImageFormat", "the contract server exports raw and qcow2 only");
    const dataDisks = image.disks.filter((d) => d.type === "data");
    if (dataDisks.length > 4) throw ecsErrors.invalidParameter("ImageId", "an exported image may have at most 4 data disks");
    const taskId = resourceId("t");
    const task: TaskRecord = { id: taskId, regionId: input.regionId, action: "ExportImage", resourceId: image.id, status: "Processing", createdAt: this.now, export: "pending" };
    this.tasks.set(taskId, task);
    this.track(
      (async () => {
        try {
          for (const d of image.disks) {
            const key = `${prefix}${image.id}_${d.type === "system" ? "system" : `data_${d.device.replace(/^\/dev\//, "")}`}.${format}`;
            if (format === "raw") {
              await this.opts.ossPutContent(input.ossBucket, key, d.file, d.sizeGiB * GiB);
            } else {
              const file = join(this.dir("images"), `${taskId}-${d.device.replace(/^\/dev\//, "")}.qcow2`);
              try {
                await contentToQcow2(d.file, d.sizeGiB * GiB, file);
                await this.opts.ossPutContent(input.ossBucket, key, file, (await stat(file)).size);
              } finally {
                await rm(file, { force: true });
              }
            }
          }
          task.export = "done";
        } catch (err) {
          task.export = { error: err instanceof Error ? err.message : String(err) };
        }
      })(),
    );
    return { taskId };
  }

  /**
   * CancelTask: stops a running ImportImage task. Its image ends as
   * CreateFailed (so it can be deleted) and the task as Failed with the
   * reason: *(assumed)* the documentation names neither end state.
   */
  cancelTask(id: string): void {
    const task = this.tasks.get(id);
    if (!task) throw ecsErrors.taskNotFound();
    if (task.status !== "Processing") throw ecsErrors.taskNotCancellable();
    const now = this.now;
    task.status = "Failed";
    task.finishedAt = now;
    task.error = "The task was cancelled.";
    const image = this.images.get(task.resourceId);
    if (image?.status === "Creating") {
      image.status = "CreateFailed";
      image.since = now;
    }
  }

  async deleteImage(id: string, force: boolean): Promise<void> {
    const image = this.images.get(id);
    // "If the specified custom image does not exist, the request is ignored." (DeleteImage, ImageId)
    if (!image) return;
    if (image.status === "Creating") throw image.source === "ImportImage" ? ecsErrors.imageIsImporting() : ecsErrors.imageIsCreating();
    if (!force && [...this.instances.values()].some((i) => i.imageId === id)) throw ecsErrors.imageUsedByInstance();
    this.images.delete(id);
    for (const d of image.disks) await rm(d.file, { force: true });
  }
}
