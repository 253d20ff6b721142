// The ECS side of the contract server, driven by the official SDK
// (@alicloud/ecs20140526, ACS3-HMAC-SHA256 signing) only. Every response body
// is checked against the SDK's model of it.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EcsSdk, * as $Ecs from "@alicloud/ecs20140526";
import { $OpenApiUtil } from "@alicloud/openapi-core";
import OSS from "ali-oss";
import { ManualClock } from "./clock.js";
import { startAlibabaContractServer, type AlibabaContractServer } from "./server.js";
import { ecsClientConfig, ossClientOptions } from "./sdk-clients.js";
import { recording } from "./recording-client.js";

const credentials = { accessKeyId: "LTAIcontracttest0001", accessKeySecret: "contract-secret-0001" };
const region = "cn-hangzhou";

/** The SDK's client, recording each raw response body for the field check. */
const RecordingClient = recording(EcsSdk.default);
type RecordingClient = InstanceType<typeof RecordingClient>;

let dir: string;
let server: AlibabaContractServer;
let ecs: RecordingClient;

function client(secret = credentials.accessKeySecret): RecordingClient {
  return new RecordingClient(new $OpenApiUtil.Config(ecsClientConfig(server, { ...credentials, accessKeySecret: secret })));
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function errorOf(p: Promise<unknown>): Promise<{ code: string; statusCode: number; name: string; retryAfter?: number; data?: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; statusCode: number; name: string };
  }
  throw new Error("expected the call to fail");
}


beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "alibaba-contract-ecs-"));
  server = await startAlibabaContractServer({
    ...credentials,
    dataDir: dir,
    // Long enough that the intermediate states the tests assert are still there on a loaded machine.
    timings: { instanceStartMs: 1000, instanceStopMs: 1000, diskCreateMs: 1000, diskAttachMs: 1000, diskDetachMs: 200, snapshotMs: 1000, imageCreateMs: 1000, imageImportMs: 1000, snapshotCopyMs: 1000, eipAssociateMs: 300, eipUnassociateMs: 300 },
  });
  ecs = client();
  // The network the lifecycle tests name.
  server.harness.createVSwitch({ vSwitchId: "vsw-1", vpcId: "vpc-1", regionId: region, zoneId: `${region}-i`, cidrBlock: "192.168.0.0/24" });
  server.harness.createSecurityGroup({ securityGroupId: "sg-1", vpcId: "vpc-1", regionId: region });
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe("signatures", () => {
  it("answers a correctly signed call, with a RequestId", async () => {
    const res = await ecs.describeRegions(new $Ecs.DescribeRegionsRequest({ regionId: region }));
    expect(res.statusCode).toBe(200);
    expect(res.body?.requestId).toMatch(/^[0-9A-F-]{36}$/);
    ecs.lastConformsTo($Ecs.DescribeRegionsResponseBody);
  });

  it("refuses a wrong secret with SignatureDoesNotMatch and the documented error body", async () => {
    const err = await errorOf(client("not-the-secret").describeRegions(new $Ecs.DescribeRegionsRequest({ regionId: region })));
    expect(err.code).toBe("SignatureDoesNotMatch");
    expect(err.statusCode).toBe(400);
    expect(Object.keys(err.data ?? {}).sort()).toEqual(["Code", "HostId", "Message", "Recommend", "RequestId"]);
  });

  it("refuses an unknown AccessKey id", async () => {
    const other = new RecordingClient(new $OpenApiUtil.Config(ecsClientConfig(server, { accessKeyId: "LTAIunknown", accessKeySecret: credentials.accessKeySecret })));
    const err = await errorOf(other.describeRegions(new $Ecs.DescribeRegionsRequest({ regionId: region })));
    expect(err.code).toBe("InvalidAccessKeyId.NotFound");
    expect(err.statusCode).toBe(404);
  });

  it("refuses an action it does not implement", async () => {
    const err = await errorOf(ecs.describeInstanceTypes(new $Ecs.DescribeInstanceTypesRequest({})));
    expect(err.code).toBe("InvalidAction.NotFound");
  });
});

describe("zones", () => {
  it("lists R-h, R-i and R-j for any region by default", async () => {
    for (const r of [region, "ap-southeast-1"]) {
      const res = await ecs.describeZones(new $Ecs.DescribeZonesRequest({ regionId: r }));
      ecs.lastConformsTo($Ecs.DescribeZonesResponseBody);
      expect(res.body?.zones?.zone?.map((z) => z.zoneId)).toEqual([`${r}-h`, `${r}-i`, `${r}-j`]);
      expect(res.body?.zones?.zone?.[0]?.localName).toBeTruthy();
    }
  });

  it("refuses RunInstances and CreateDisk in a zone the region does not have", async () => {
    const run = await errorOf(ecs.runInstances(new $Ecs.RunInstancesRequest({ regionId: region, zoneId: "cn-shanghai-i", imageId: "aliyun_3_x64_20G_alibase_20240528.vhd", instanceType: "ecs.g7.large" })));
    expect([run.statusCode, run.code]).toEqual([404, "InvalidZoneId.NotFound"]);
    const disk = await errorOf(ecs.createDisk(new $Ecs.CreateDiskRequest({ regionId: region, zoneId: `${region}-z`, size: 20 })));
    expect([disk.statusCode, disk.code]).toEqual([404, "InvalidZoneId.NotFound"]);
  });

  it("takes the zones of a region from the server's options", async () => {
    const zoned = await startAlibabaContractServer({ ...credentials, dataDir: join(dir, "zoned"), zones: { [region]: [`${region}-k`, `${region}-l`] } });
    try {
      const c = new RecordingClient(new $OpenApiUtil.Config(ecsClientConfig(zoned, credentials)));
      expect((await c.describeZones(new $Ecs.DescribeZonesRequest({ regionId: region }))).body?.zones?.zone?.map((z) => z.zoneId)).toEqual([`${region}-k`, `${region}-l`]);
      expect((await errorOf(c.createDisk(new $Ecs.CreateDiskRequest({ regionId: region, zoneId: `${region}-i`, size: 20 })))).code).toBe("InvalidZoneId.NotFound");
      // Without ZoneId, an instance lands in the region's first zone.
      const id = (await c.runInstances(new $Ecs.RunInstancesRequest({ regionId: region, imageId: "aliyun_3_x64_20G_alibase_20240528.vhd", instanceType: "ecs.g7.large" }))).body?.instanceIdSets?.instanceIdSet?.[0];
      const inst = (await c.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, instanceIds: JSON.stringify([id]) }))).body?.instances?.instance?.[0];
      expect(inst?.zoneId).toBe(`${region}-k`);
    } finally {
      await zoned.close();
    }
  });
});

describe("instance types", () => {
  it("lists the types of a size in stock in a zone, in the documented response shape", async () => {
    const res = await ecs.describeAvailableResource(new $Ecs.DescribeAvailableResourceRequest({ regionId: region, zoneId: `${region}-i`, destinationResource: "InstanceType", instanceChargeType: "PostPaid", cores: 4, memory: 16 }));
    ecs.lastConformsTo($Ecs.DescribeAvailableResourceResponseBody);
    const zones = res.body?.availableZones?.availableZone ?? [];
    expect(zones.map((z) => [z.zoneId, z.status, z.statusCategory])).toEqual([[`${region}-i`, "Available", "WithStock"]]);
    const supported = zones[0]?.availableResources?.availableResource?.[0]?.supportedResources?.supportedResource ?? [];
    expect(supported.map((r) => r.value).sort()).toEqual(["ecs.g6.xlarge", "ecs.g7.xlarge"]);
    expect(supported.every((r) => r.status === "Available" && r.statusCategory === "WithStock")).toBe(true);
  });

  it("leaves out zones with no type of that size, and refuses what it does not answer", async () => {
    const none = await ecs.describeAvailableResource(new $Ecs.DescribeAvailableResourceRequest({ regionId: region, destinationResource: "InstanceType", cores: 3, memory: 7 }));
    expect(none.body?.availableZones?.availableZone).toEqual([]);
    const all = await ecs.describeAvailableResource(new $Ecs.DescribeAvailableResourceRequest({ regionId: region, destinationResource: "InstanceType", cores: 1, memory: 1 }));
    expect(all.body?.availableZones?.availableZone?.map((z) => z.zoneId)).toEqual([`${region}-h`, `${region}-i`, `${region}-j`]);
    const disk = await errorOf(ecs.describeAvailableResource(new $Ecs.DescribeAvailableResourceRequest({ regionId: region, destinationResource: "SystemDisk" })));
    expect([disk.statusCode, disk.code]).toEqual([400, "InvalidParameter"]);
    const zone = await errorOf(ecs.describeAvailableResource(new $Ecs.DescribeAvailableResourceRequest({ regionId: region, zoneId: `${region}-z`, destinationResource: "InstanceType" })));
    expect(zone.code).toBe("InvalidZoneId.NotFound");
  });
});

describe("instance, disk, snapshot and image lifecycle", () => {
  const tags = [new $Ecs.RunInstancesRequestTag({ key: "lifeboat.io/restore", value: "r1" })];
  let instanceId: string;
  let diskId: string;
  let snapshotId: string;

  it("runs a tagged instance that goes Pending → Running", async () => {
    const res = await ecs.runInstances(new $Ecs.RunInstancesRequest({ regionId: region, zoneId: `${region}-i`, imageId: "aliyun_3_x64_20G_alibase_20240528.vhd", instanceType: "ecs.g7.large", vSwitchId: "vsw-1", securityGroupId: "sg-1", tag: tags, systemDisk: new $Ecs.RunInstancesRequestSystemDisk({ size: "20", category: "cloud_essd" }) }));
    ecs.lastConformsTo($Ecs.RunInstancesResponseBody);
    const ids = res.body?.instanceIdSets?.instanceIdSet ?? [];
    expect(ids).toHaveLength(1);
    instanceId = ids[0] ?? "";
    expect(instanceId).toMatch(/^i-[a-z0-9]{20}$/);
    const first = await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, instanceIds: JSON.stringify([instanceId]) }));
    ecs.lastConformsTo($Ecs.DescribeInstancesResponseBody);
    expect(first.body?.instances?.instance?.[0]?.status).toBe("Pending");
    await until("Running", async () => {
      const r = await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, instanceIds: JSON.stringify([instanceId]) }));
      return r.body?.instances?.instance?.[0]?.status === "Running" ? true : undefined;
    });
  });

  it("finds the instance by tag, and not by another tag value", async () => {
    const hit = await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, tag: [new $Ecs.DescribeInstancesRequestTag({ key: "lifeboat.io/restore", value: "r1" })] }));
    expect(hit.body?.instances?.instance?.map((i) => i.instanceId)).toEqual([instanceId]);
    expect(hit.body?.instances?.instance?.[0]?.tags?.tag?.[0]).toMatchObject({ tagKey: "lifeboat.io/restore", tagValue: "r1" });
    const miss = await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, tag: [new $Ecs.DescribeInstancesRequestTag({ key: "lifeboat.io/restore", value: "r2" })] }));
    expect(miss.body?.totalCount).toBe(0);
  });

  it("creates a disk Creating → Available, attaches it Attaching → In_use with a device", async () => {
    const created = await ecs.createDisk(new $Ecs.CreateDiskRequest({ regionId: region, zoneId: `${region}-i`, size: 20, diskCategory: "cloud_essd", tag: [new $Ecs.CreateDiskRequestTag({ key: "lifeboat.io/restore", value: "r1" })] }));
    ecs.lastConformsTo($Ecs.CreateDiskResponseBody);
    diskId = created.body?.diskId ?? "";
    expect(diskId).toMatch(/^d-/);
    const describe = async () => (await ecs.describeDisks(new $Ecs.DescribeDisksRequest({ regionId: region, diskIds: JSON.stringify([diskId]) }))).body?.disks?.disk?.[0];
    expect((await describe())?.status).toBe("Creating");
    ecs.lastConformsTo($Ecs.DescribeDisksResponseBody);
    // Attaching a disk that is still being created is refused.
    expect((await errorOf(ecs.attachDisk(new $Ecs.AttachDiskRequest({ instanceId, diskId })))).code).toBe("IncorrectDiskStatus");
    await until("Available", async () => ((await describe())?.status === "Available" ? true : undefined));
    await ecs.attachDisk(new $Ecs.AttachDiskRequest({ instanceId, diskId }));
    ecs.lastConformsTo($Ecs.AttachDiskResponseBody);
    expect((await describe())?.status).toBe("Attaching");
    const inUse = await until("In_use", async () => {
      const d = await describe();
      return d?.status === "In_use" ? d : undefined;
    });
    expect(inUse.instanceId).toBe(instanceId);
    expect(inUse.device).toBe("/dev/xvdb");
    const byInstance = await ecs.describeDisks(new $Ecs.DescribeDisksRequest({ regionId: region, instanceId }));
    expect(byInstance.body?.disks?.disk?.map((d) => d.type).sort()).toEqual(["data", "system"]);
  });

  it("snapshots the disk's bytes, progressing with Progress to accomplished", async () => {
    await server.harness.writeDisk(diskId, 4096, Buffer.from("lifeboat contract bytes"));
    const res = await ecs.createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId, snapshotName: "s1", tag: [new $Ecs.CreateSnapshotRequestTag({ key: "lifeboat.io/restore", value: "r1" })] }));
    ecs.lastConformsTo($Ecs.CreateSnapshotResponseBody);
    snapshotId = res.body?.snapshotId ?? "";
    // Later writes to the disk are not in the snapshot.
    await server.harness.writeDisk(diskId, 4096, Buffer.from("LATER"));
    const seen = new Set<string>();
    await until("accomplished", async () => {
      const r = await ecs.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: region, snapshotIds: JSON.stringify([snapshotId]) }));
      ecs.lastConformsTo($Ecs.DescribeSnapshotsResponseBody);
      const s = r.body?.snapshots?.snapshot?.[0];
      if (s?.progress) seen.add(s.progress);
      return s?.status === "accomplished" ? s : undefined;
    });
    expect(seen.has("100%")).toBe(true);
    expect([...seen].some((p) => p !== "100%")).toBe(true);
    const bytes = await server.harness.read(server.harness.snapshotContent(snapshotId), 4096, 23);
    expect(bytes.toString()).toBe("lifeboat contract bytes");
  });

  it("makes an image from the snapshot (Creating, hidden by DescribeImages' default Status) that becomes Available", async () => {
    const res = await ecs.createImage(new $Ecs.CreateImageRequest({ regionId: region, imageName: "restored", diskDeviceMapping: [new $Ecs.CreateImageRequestDiskDeviceMapping({ snapshotId, device: "/dev/xvda" })], tag: [new $Ecs.CreateImageRequestTag({ key: "lifeboat.io/restore", value: "r1" })] }));
    ecs.lastConformsTo($Ecs.CreateImageResponseBody);
    const imageId = res.body?.imageId ?? "";
    expect(imageId).toMatch(/^m-/);
    const hidden = await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: region, imageId }));
    expect(hidden.body?.totalCount).toBe(0);
    const creating = await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: region, imageId, status: "Creating,Available" }));
    ecs.lastConformsTo($Ecs.DescribeImagesResponseBody);
    expect(creating.body?.images?.image?.[0]?.status).toBe("Creating");
    // An image being created cannot be deleted, nor can its snapshot.
    expect((await errorOf(ecs.deleteImage(new $Ecs.DeleteImageRequest({ regionId: region, imageId })))).statusCode).toBe(403);
    expect((await errorOf(ecs.deleteSnapshot(new $Ecs.DeleteSnapshotRequest({ snapshotId })))).code).toBe("SnapshotCreatedImage");
    const image = await until("Available", async () => {
      const r = await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: region, imageId }));
      return r.body?.images?.image?.[0];
    });
    ecs.lastConformsTo($Ecs.DescribeImagesResponseBody);
    expect(image.status).toBe("Available");
    expect(image.progress).toBe("100%");
    expect(image.diskDeviceMappings?.diskDeviceMapping?.[0]?.snapshotId).toBe(snapshotId);
    const [system] = server.harness.imageContents(imageId);
    expect(system).toBeDefined();
    if (system) expect((await server.harness.read(system, 4096, 23)).toString()).toBe("lifeboat contract bytes");
    await ecs.deleteImage(new $Ecs.DeleteImageRequest({ regionId: region, imageId }));
    ecs.lastConformsTo($Ecs.DeleteImageResponseBody);
  });

  it("lists every tagged resource with ListTagResources", async () => {
    for (const [type, id] of [["instance", instanceId], ["disk", diskId], ["snapshot", snapshotId]] as const) {
      const res = await ecs.listTagResources(new $Ecs.ListTagResourcesRequest({ regionId: region, resourceType: type, tag: [new $Ecs.ListTagResourcesRequestTag({ key: "lifeboat.io/restore", value: "r1" })] }));
      ecs.lastConformsTo($Ecs.ListTagResourcesResponseBody);
      expect(res.body?.tagResources?.tagResource?.map((t) => t.resourceId)).toContain(id);
    }
  });

  it("detaches, deletes everything, and leaves nothing tagged", async () => {
    await ecs.detachDisk(new $Ecs.DetachDiskRequest({ instanceId, diskId }));
    ecs.lastConformsTo($Ecs.DetachDiskResponseBody);
    await until("Available", async () => {
      const r = await ecs.describeDisks(new $Ecs.DescribeDisksRequest({ regionId: region, diskIds: JSON.stringify([diskId]) }));
      return r.body?.disks?.disk?.[0]?.status === "Available" ? true : undefined;
    });
    await ecs.deleteDisk(new $Ecs.DeleteDiskRequest({ diskId }));
    ecs.lastConformsTo($Ecs.DeleteDiskResponseBody);
    await ecs.deleteSnapshot(new $Ecs.DeleteSnapshotRequest({ snapshotId }));
    ecs.lastConformsTo($Ecs.DeleteSnapshotResponseBody);
    // A running instance is deleted only with Force.
    expect((await errorOf(ecs.deleteInstance(new $Ecs.DeleteInstanceRequest({ instanceId })))).code).toBe("IncorrectInstanceStatus");
    await ecs.deleteInstance(new $Ecs.DeleteInstanceRequest({ instanceId, force: true }));
    ecs.lastConformsTo($Ecs.DeleteInstanceResponseBody);
    for (const type of ["instance", "disk", "snapshot", "image"]) {
      const res = await ecs.listTagResources(new $Ecs.ListTagResourcesRequest({ regionId: region, resourceType: type, tag: [new $Ecs.ListTagResourcesRequestTag({ key: "lifeboat.io/restore" })] }));
      expect(res.body?.tagResources?.tagResource).toEqual([]);
    }
  });

  it("stops an instance Running → Stopping → Stopped", async () => {
    const res = await ecs.runInstances(new $Ecs.RunInstancesRequest({ regionId: region, imageId: "aliyun_3_x64_20G_alibase_20240528.vhd", instanceType: "ecs.g7.large" }));
    const id = res.body?.instanceIdSets?.instanceIdSet?.[0] ?? "";
    expect((await errorOf(ecs.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: id })))).code).toBe("IncorrectInstanceStatus");
    const status = async () => (await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, instanceIds: JSON.stringify([id]) }))).body?.instances?.instance?.[0]?.status;
    await until("Running", async () => ((await status()) === "Running" ? true : undefined));
    await ecs.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: id }));
    ecs.lastConformsTo($Ecs.StopInstanceResponseBody);
    expect(await status()).toBe("Stopping");
    await until("Stopped", async () => ((await status()) === "Stopped" ? true : undefined));
    await ecs.deleteInstance(new $Ecs.DeleteInstanceRequest({ instanceId: id }));
  });
});


describe("vSwitches, security groups and private addresses", () => {
  const image = "aliyun_3_x64_20G_alibase_20240528.vhd";
  const run = (more: Partial<$Ecs.RunInstancesRequest>) => ecs.runInstances(new $Ecs.RunInstancesRequest({ regionId: region, imageId: image, instanceType: "ecs.g7.large", ...more }));
  const instance = async (id: string | undefined) => (await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, instanceIds: JSON.stringify([id]) }))).body?.instances?.instance?.[0];
  const post = async (route: string, body: object) => {
    const res = await fetch(`${server.harnessUrl}/${route}`, { method: "POST", body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, string>;
  };

  beforeAll(async () => {
    expect(await post("vswitches", { vSwitchId: "vsw-dr", vpcId: "vpc-dr", regionId: region, zoneId: `${region}-j`, cidrBlock: "10.8.0.0/24" })).toEqual({ vSwitchId: "vsw-dr", vpcId: "vpc-dr", regionId: region, zoneId: `${region}-j`, cidrBlock: "10.8.0.0/24" });
    expect((await post("security-groups", { vpcId: "vpc-dr", regionId: region })).securityGroupId).toMatch(/^sg-/);
    server.harness.createSecurityGroup({ securityGroupId: "sg-dr", vpcId: "vpc-dr", regionId: region });
    server.harness.createVSwitch({ vSwitchId: "vsw-tiny", vpcId: "vpc-dr", regionId: region, zoneId: `${region}-j`, cidrBlock: "10.9.0.0/29" });
    server.harness.createVSwitch({ vSwitchId: "vsw-sh", vpcId: "vpc-sh", regionId: "cn-shanghai", zoneId: "cn-shanghai-i", cidrBlock: "10.10.0.0/24" });
  });

  it("lists vSwitches and security groups by region, VPC and zone", async () => {
    /* eslint-disable @typescript-eslint/no-deprecated -- ECS's DescribeVSwitches is deprecated for the VPC API's, but ECS and its SDK still serve it, and it is the one the server offers */
    const vsw = await ecs.describeVSwitches(new $Ecs.DescribeVSwitchesRequest({ regionId: region, vpcId: "vpc-dr" }));
    ecs.lastConformsTo($Ecs.DescribeVSwitchesResponseBody);
    expect(vsw.body?.vSwitches?.vSwitch?.map((v) => v.vSwitchId).sort()).toEqual(["vsw-dr", "vsw-tiny"]);
    expect(vsw.body?.vSwitches?.vSwitch?.find((v) => v.vSwitchId === "vsw-tiny")).toMatchObject({ zoneId: `${region}-j`, cidrBlock: "10.9.0.0/29", availableIpAddressCount: 4, status: "Available" });
    expect((await ecs.describeVSwitches(new $Ecs.DescribeVSwitchesRequest({ regionId: region, zoneId: `${region}-i` }))).body?.vSwitches?.vSwitch?.map((v) => v.vSwitchId)).toEqual(["vsw-1"]);
    expect((await ecs.describeVSwitches(new $Ecs.DescribeVSwitchesRequest({ regionId: "cn-shanghai" }))).body?.vSwitches?.vSwitch?.map((v) => v.vSwitchId)).toEqual(["vsw-sh"]);
    /* eslint-enable @typescript-eslint/no-deprecated */
    const sgs = await ecs.describeSecurityGroups(new $Ecs.DescribeSecurityGroupsRequest({ regionId: region, vpcId: "vpc-dr" }));
    ecs.lastConformsTo($Ecs.DescribeSecurityGroupsResponseBody);
    expect(sgs.body?.totalCount).toBe(2);
    const byIds = await ecs.describeSecurityGroups(new $Ecs.DescribeSecurityGroupsRequest({ regionId: region, securityGroupIds: JSON.stringify(["sg-dr", "sg-1"]) }));
    expect(byIds.body?.securityGroups?.securityGroup?.map((g) => [g.securityGroupId, g.vpcId])).toEqual([["sg-1", "vpc-1"], ["sg-dr", "vpc-dr"]]);
    expect((await ecs.describeSecurityGroups(new $Ecs.DescribeSecurityGroupsRequest({ regionId: region, securityGroupId: "sg-dr" }))).body?.totalCount).toBe(1);
  });

  it("places an instance in its vSwitch's zone with the next free address, and reports its VPC attributes", async () => {
    const id = (await run({ vSwitchId: "vsw-dr", securityGroupId: "sg-dr" })).body?.instanceIdSets?.instanceIdSet?.[0];
    const inst = await instance(id);
    ecs.lastConformsTo($Ecs.DescribeInstancesResponseBody);
    expect(inst).toMatchObject({ zoneId: `${region}-j`, instanceNetworkType: "vpc", vpcAttributes: { vpcId: "vpc-dr", vSwitchId: "vsw-dr", privateIpAddress: { ipAddress: ["10.8.0.1"] } }, securityGroupIds: { securityGroupId: ["sg-dr"] } });
    const second = await instance((await run({ vSwitchId: "vsw-dr", securityGroupId: "sg-dr" })).body?.instanceIdSets?.instanceIdSet?.[0]);
    expect(second?.vpcAttributes?.privateIpAddress?.ipAddress).toEqual(["10.8.0.2"]);
    const byVpc = await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, vpcId: "vpc-dr" }));
    expect(byVpc.body?.totalCount).toBe(2);
    // Without a vSwitch the instance is on the classic network, as before.
    expect((await instance((await run({})).body?.instanceIdSets?.instanceIdSet?.[0]))?.instanceNetworkType).toBe("classic");
  });

  it("takes a free PrivateIpAddress inside the vSwitch's CIDR block, and refuses others", async () => {
    const id = (await run({ vSwitchId: "vsw-dr", securityGroupId: "sg-dr", privateIpAddress: "10.8.0.200" })).body?.instanceIdSets?.instanceIdSet?.[0];
    expect((await instance(id))?.vpcAttributes?.privateIpAddress?.ipAddress).toEqual(["10.8.0.200"]);
    const cases: [Partial<$Ecs.RunInstancesRequest>, number, string][] = [
      [{ vSwitchId: "vsw-dr", privateIpAddress: "10.8.0.200" }, 400, "InvalidPrivateIpAddress.Duplicated"],
      [{ vSwitchId: "vsw-dr", privateIpAddress: "10.8.1.5" }, 400, "InvalidPrivateIpAddress"],
      // The last three addresses of a vSwitch are the system's.
      [{ vSwitchId: "vsw-dr", privateIpAddress: "10.8.0.253" }, 400, "InvalidPrivateIpAddress"],
      [{ vSwitchId: "vsw-dr", privateIpAddress: "10.8.0" }, 400, "InvalidPrivateIpAddress.Malformed"],
      [{ privateIpAddress: "10.8.0.9" }, 400, "MissingParameter"],
    ];
    for (const [more, status, code] of cases) {
      const err = await errorOf(run(more));
      expect([more, err.statusCode, err.code]).toEqual([more, status, code]);
    }
  });

  it("refuses an unknown vSwitch, one of another zone or region, an unknown security group and one of another VPC", async () => {
    const cases: [Partial<$Ecs.RunInstancesRequest>, number, string][] = [
      [{ vSwitchId: "vsw-nowhere" }, 404, "InvalidVSwitchId.NotFound"],
      [{ vSwitchId: "vsw-sh" }, 404, "InvalidVSwitchId.NotFound"],
      [{ vSwitchId: "vsw-dr", zoneId: `${region}-i` }, 400, "InvalidParameter.Mismatch"],
      [{ vSwitchId: "vsw-dr", securityGroupId: "sg-nowhere" }, 404, "InvalidSecurityGroupId.NotFound"],
      [{ vSwitchId: "vsw-dr", securityGroupId: "sg-1" }, 400, "InvalidParameter.Mismatch"],
    ];
    for (const [more, status, code] of cases) {
      const err = await errorOf(run(more));
      expect([more, err.statusCode, err.code]).toEqual([more, status, code]);
    }
  });

  it("runs out of addresses in a small vSwitch without making anything", async () => {
    const before = (await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, vSwitchId: "vsw-tiny" }))).body?.totalCount;
    const err = await errorOf(run({ vSwitchId: "vsw-tiny", amount: 5 }));
    expect([err.statusCode, err.code]).toEqual([400, "QuotaExceeded.PrivateIpAddress"]);
    expect((await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, vSwitchId: "vsw-tiny" }))).body?.totalCount).toBe(before);
    const ids = (await run({ vSwitchId: "vsw-tiny", amount: 4 })).body?.instanceIdSets?.instanceIdSet ?? [];
    expect(ids).toHaveLength(4);
  });
});

/* eslint-disable @typescript-eslint/no-deprecated -- ECS's EIP actions are deprecated for the VPC API's, but ECS and its SDK still serve them, and they are the ones the server offers */
describe("elastic IP addresses", () => {
  const eipOf = async (allocationId: string) => (await ecs.describeEipAddresses(new $Ecs.DescribeEipAddressesRequest({ regionId: region, allocationId }))).body?.eipAddresses?.eipAddress?.[0];
  const instanceOf = async (id: string) => (await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, instanceIds: JSON.stringify([id]) }))).body?.instances?.instance?.[0];
  const allocate = async (clientToken?: string) => (await ecs.allocateEipAddress(new $Ecs.AllocateEipAddressRequest({ regionId: region, bandwidth: "10", internetChargeType: "PayByTraffic", clientToken }))).body;
  let instanceId: string;
  let allocationId: string;
  let address: string;

  it("allocates an Available address, once per ClientToken", async () => {
    const first = await allocate("eip-token-1");
    ecs.lastConformsTo($Ecs.AllocateEipAddressResponseBody);
    allocationId = first?.allocationId ?? "";
    address = first?.eipAddress ?? "";
    expect(allocationId).toMatch(/^eip-/);
    expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect((await allocate("eip-token-1"))?.allocationId).toBe(allocationId);
    const eip = await eipOf(allocationId);
    ecs.lastConformsTo($Ecs.DescribeEipAddressesResponseBody);
    expect(eip).toMatchObject({ status: "Available", ipAddress: address, bandwidth: "10", internetChargeType: "PayByTraffic", instanceId: "" });
  });

  it("associates with a Running instance: Associating → InUse, shown by DescribeInstances; a bound address is not released", async () => {
    instanceId = (await ecs.runInstances(new $Ecs.RunInstancesRequest({ regionId: region, imageId: "aliyun_3_x64_20G_alibase_20240528.vhd", instanceType: "ecs.g7.large", vSwitchId: "vsw-1", securityGroupId: "sg-1" }))).body?.instanceIdSets?.instanceIdSet?.[0] ?? "";
    const pending = await errorOf(ecs.associateEipAddress(new $Ecs.AssociateEipAddressRequest({ allocationId, instanceId })));
    expect([pending.statusCode, pending.code]).toEqual([400, "IncorrectInstanceStatus"]);
    await until("Running", async () => ((await instanceOf(instanceId))?.status === "Running" ? true : undefined));
    expect((await instanceOf(instanceId))?.eipAddress).toMatchObject({ allocationId: "", ipAddress: "" });
    await ecs.associateEipAddress(new $Ecs.AssociateEipAddressRequest({ regionId: region, allocationId, instanceId }));
    ecs.lastConformsTo($Ecs.AssociateEipAddressResponseBody);
    expect(await eipOf(allocationId)).toMatchObject({ status: "Associating", instanceId, instanceType: "EcsInstance" });
    const busy = await errorOf(ecs.releaseEipAddress(new $Ecs.ReleaseEipAddressRequest({ allocationId })));
    expect([busy.statusCode, busy.code]).toEqual([400, "IncorrectEipStatus"]);
    await until("InUse", async () => ((await eipOf(allocationId))?.status === "InUse" ? true : undefined));
    const inst = await instanceOf(instanceId);
    ecs.lastConformsTo($Ecs.DescribeInstancesResponseBody);
    expect(inst?.eipAddress).toMatchObject({ allocationId, ipAddress: address, bandwidth: 10 });
    expect((await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, eipAddresses: JSON.stringify([address]) }))).body?.instances?.instance?.map((i) => i.instanceId)).toEqual([instanceId]);
    const bound = await ecs.describeEipAddresses(new $Ecs.DescribeEipAddressesRequest({ regionId: region, associatedInstanceType: "EcsInstance", associatedInstanceId: instanceId }));
    expect(bound.body?.eipAddresses?.eipAddress?.map((e) => e.allocationId)).toEqual([allocationId]);
    // One EIP per instance; an InUse EIP is not associated again.
    const other = (await allocate())?.allocationId ?? "";
    expect((await errorOf(ecs.associateEipAddress(new $Ecs.AssociateEipAddressRequest({ allocationId: other, instanceId })))).statusCode).toBe(400);
    expect((await errorOf(ecs.associateEipAddress(new $Ecs.AssociateEipAddressRequest({ allocationId, instanceId })))).code).toBe("IncorrectEipStatus");
    await ecs.releaseEipAddress(new $Ecs.ReleaseEipAddressRequest({ allocationId: other }));
  });

  it("unassociates: Unassociating → Available, and the instance shows no EIP", async () => {
    await ecs.unassociateEipAddress(new $Ecs.UnassociateEipAddressRequest({ allocationId, instanceId }));
    ecs.lastConformsTo($Ecs.UnassociateEipAddressResponseBody);
    expect((await eipOf(allocationId))?.status).toBe("Unassociating");
    await until("Available", async () => ((await eipOf(allocationId))?.status === "Available" ? true : undefined));
    expect((await eipOf(allocationId))?.instanceId).toBe("");
    expect((await instanceOf(instanceId))?.eipAddress?.ipAddress).toBe("");
    expect((await errorOf(ecs.unassociateEipAddress(new $Ecs.UnassociateEipAddressRequest({ allocationId, instanceId })))).code).toBe("IncorrectEipStatus");
  });

  it("dissociates the EIP of a deleted instance; releases an Available one, after which it is not found", async () => {
    await ecs.associateEipAddress(new $Ecs.AssociateEipAddressRequest({ allocationId, instanceId }));
    await until("InUse", async () => ((await eipOf(allocationId))?.status === "InUse" ? true : undefined));
    await ecs.deleteInstance(new $Ecs.DeleteInstanceRequest({ instanceId, force: true }));
    expect(await eipOf(allocationId)).toMatchObject({ status: "Available", instanceId: "" });
    await ecs.releaseEipAddress(new $Ecs.ReleaseEipAddressRequest({ regionId: region, allocationId }));
    ecs.lastConformsTo($Ecs.ReleaseEipAddressResponseBody);
    expect(await eipOf(allocationId)).toBeUndefined();
    const gone = await errorOf(ecs.releaseEipAddress(new $Ecs.ReleaseEipAddressRequest({ allocationId })));
    expect([gone.statusCode, gone.code]).toEqual([404, "InvalidAllocationId.NotFound"]);
  });
});
/* eslint-enable @typescript-eslint/no-deprecated */

describe("Cloud Assistant (RunCommand, DescribeInvocationResults)", () => {
  let instanceId: string;
  const status = async (id: string) => {
    const res = await ecs.describeCloudAssistantStatus(new $Ecs.DescribeCloudAssistantStatusRequest({ regionId: region, instanceId: [id] }));
    ecs.lastConformsTo($Ecs.DescribeCloudAssistantStatusResponseBody);
    return res.body?.instanceCloudAssistantStatusSet?.instanceCloudAssistantStatus?.[0]?.cloudAssistantStatus;
  };
  const run = (content: string, more: Partial<$Ecs.RunCommandRequest> = {}) =>
    ecs.runCommand(new $Ecs.RunCommandRequest({ regionId: region, instanceId: [instanceId], type: "RunShellScript", commandContent: Buffer.from(content).toString("base64"), contentEncoding: "Base64", timeout: 60, ...more }));
  const result = async (invokeId: string) => {
    const res = await ecs.describeInvocationResults(new $Ecs.DescribeInvocationResultsRequest({ regionId: region, invokeId, instanceId }));
    ecs.lastConformsTo($Ecs.DescribeInvocationResultsResponseBody);
    return res.body?.invocation?.invocationResults?.invocationResult?.[0];
  };
  const ended = (invokeId: string) => until(`invocation ${invokeId} to end`, async () => {
    const r = await result(invokeId);
    return r && r.invocationStatus !== "Running" ? r : undefined;
  });

  const launch = async () => (await ecs.runInstances(new $Ecs.RunInstancesRequest({ regionId: region, imageId: "aliyun_3_x64_20G_alibase_20240528.vhd", instanceType: "ecs.g7.large" }))).body?.instanceIdSets?.instanceIdSet?.[0] ?? "";
  const instanceStatus = async (id: string) => (await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, instanceIds: JSON.stringify([id]) }))).body?.instances?.instance?.[0]?.status;

  beforeAll(async () => {
    instanceId = await launch();
    await until("the agent to come online, a moment after the instance runs", async () => ((await status(instanceId)) === "true" ? true : undefined));
  });

  it("aborts a command sent to an instance that is not running; its agent is offline", async () => {
    const stopped = await launch();
    await until("the instance running", async () => ((await instanceStatus(stopped)) === "Running" ? true : undefined));
    await ecs.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: stopped }));
    await until("the instance stopped", async () => ((await instanceStatus(stopped)) === "Stopped" ? true : undefined));
    expect(await status(stopped)).toBe("false");
    const early = await ecs.runCommand(new $Ecs.RunCommandRequest({ regionId: region, instanceId: [stopped], type: "RunShellScript", commandContent: "echo early" }));
    ecs.lastConformsTo($Ecs.RunCommandResponseBody);
    const r = (await ecs.describeInvocationResults(new $Ecs.DescribeInvocationResultsRequest({ regionId: region, invokeId: early.body?.invokeId ?? "", contentEncoding: "PlainText" }))).body?.invocation?.invocationResults?.invocationResult?.[0];
    expect([r?.instanceId, r?.invocationStatus, r?.errorCode, r?.output]).toEqual([stopped, "Aborted", "InstanceNotRunning", ""]);
  });

  it("runs a shell script in the guest, with its output (Base64 by default), exit code and times", async () => {
    const res = await run("echo \"on $LIFEBOAT_CONTRACT_INSTANCE_ID\"; echo oops >&2; exit 0", { name: "check", clientToken: "token-1" });
    const invokeId = res.body?.invokeId ?? "";
    expect(invokeId).toMatch(/^t-/);
    const r = await ended(invokeId);
    expect([r.invocationStatus, r.exitCode, r.errorCode]).toEqual(["Success", 0, ""]);
    expect(Buffer.from(r.output ?? "", "base64").toString()).toBe(`on ${instanceId}\noops\n`);
    expect(Date.parse(r.finishedTime ?? "")).toBeGreaterThanOrEqual(Date.parse(r.startTime ?? ""));
    // The same ClientToken answers the same invocation; with other parameters it is refused.
    expect((await run("echo \"on $LIFEBOAT_CONTRACT_INSTANCE_ID\"; echo oops >&2; exit 0", { name: "check", clientToken: "token-1" })).body?.invokeId).toBe(invokeId);
    expect((await errorOf(run("echo other", { clientToken: "token-1" }))).code).toBe("IdempotentParameterMismatch");
  });

  it("reports a non-zero exit, a type the guest cannot run, and a run cut short by a stop", async () => {
    const failed = await ended((await run("echo half; exit 3")).body?.invokeId ?? "");
    expect([failed.invocationStatus, failed.exitCode, failed.errorCode]).toEqual(["Failed", 3, "ExitCodeNonzero"]);
    const windows = await ended((await run("Write-Output hi", { type: "RunPowerShellScript" })).body?.invokeId ?? "");
    expect([windows.invocationStatus, windows.errorCode]).toEqual(["Invalid", "CommandNotApplicable"]);
    const long = (await run("sleep 30")).body?.invokeId ?? "";
    expect((await result(long))?.invocationStatus).toBe("Running");
    await ecs.stopInstance(new $Ecs.StopInstanceRequest({ instanceId }));
    const cut = await ended(long);
    expect([cut.invocationStatus, cut.errorCode]).toEqual(["Terminated", "ExecutionInterrupted"]);
    // A deleted instance's runs stay listed, as ECS keeps them for four weeks.
    await ecs.deleteInstance(new $Ecs.DeleteInstanceRequest({ instanceId, force: true }));
    expect((await result(long))?.invocationStatus).toBe("Terminated");
  });

  it("refuses what the documented error table refuses", async () => {
    expect((await errorOf(run("x".repeat(19 * 1024)))).code).toBe("CmdContent.ExceedLimit");
    expect((await errorOf(run("true", { instanceId: ["i-bp1nosuchinstance000000"] }))).code).toBe("InvalidInstance.NotFound");
    expect((await errorOf(run("true", { instanceId: [] }))).code).toBe("MissingParam.InstanceId");
  });
});

describe("CopySnapshot to a recovery region", () => {
  const recovery = "cn-shanghai";
  const image = "aliyun_3_x64_20G_alibase_20240528.vhd";
  let diskId: string;
  let sourceId: string;
  let copyId: string;

  const snapshotOf = async (regionId: string, id: string) => (await ecs.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId, snapshotIds: JSON.stringify([id]) }))).body?.snapshots?.snapshot?.[0];
  const copyRequest = (snapshotId: string, destinationRegionId = recovery) =>
    new $Ecs.CopySnapshotRequest({ regionId: region, snapshotId, destinationRegionId, destinationSnapshotName: "lifeboat-copy", destinationSnapshotDescription: "copy of a point", retentionDays: 7, tag: [new $Ecs.CopySnapshotRequestTag({ key: "lifeboat.io/dr", value: "p1" })] });

  it("refuses a source that is not accomplished, one of the same region, and a missing one", async () => {
    diskId = (await ecs.createDisk(new $Ecs.CreateDiskRequest({ regionId: region, zoneId: `${region}-i`, size: 20 }))).body?.diskId ?? "";
    await until("Available", async () => ((await ecs.describeDisks(new $Ecs.DescribeDisksRequest({ regionId: region, diskIds: JSON.stringify([diskId]) }))).body?.disks?.disk?.[0]?.status === "Available" ? true : undefined));
    await server.harness.writeDisk(diskId, 8192, Buffer.from("protected bytes"));
    sourceId = (await ecs.createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId }))).body?.snapshotId ?? "";
    const notReady = await errorOf(ecs.copySnapshot(copyRequest(sourceId)));
    expect([notReady.statusCode, notReady.code]).toEqual([403, "InvalidSnapshotId.NotReady"]);
    await until("accomplished", async () => ((await snapshotOf(region, sourceId))?.status === "accomplished" ? true : undefined));
    const same = await errorOf(ecs.copySnapshot(copyRequest(sourceId, region)));
    expect([same.statusCode, same.code]).toEqual([403, "InvalidOperation.NotSupportCopyInSameRegion"]);
    const missing = await errorOf(ecs.copySnapshot(copyRequest("s-bp1doesnotexist00000")));
    expect([missing.statusCode, missing.code]).toEqual([403, "InvalidSnapshotId.NotFound"]);
    const unnamed = await errorOf(ecs.copySnapshot(new $Ecs.CopySnapshotRequest({ regionId: region, snapshotId: sourceId, destinationRegionId: recovery })));
    expect(unnamed.code).toBe("MissingParameter");
  });

  it("copies into the destination region: progressing with Progress, then accomplished with the source's bytes", async () => {
    const res = await ecs.copySnapshot(copyRequest(sourceId));
    ecs.lastConformsTo($Ecs.CopySnapshotResponseBody);
    copyId = res.body?.snapshotId ?? "";
    expect(copyId).toMatch(/^s-/);
    // One unfinished copy per disk and destination region.
    const again = await errorOf(ecs.copySnapshot(copyRequest(sourceId)));
    expect([again.statusCode, again.code]).toEqual([403, "InvalidOperation.UnfinishedCrossRegionCopy"]);
    const copy = await snapshotOf(recovery, copyId);
    ecs.lastConformsTo($Ecs.DescribeSnapshotsResponseBody);
    expect(copy).toMatchObject({ status: "progressing", regionId: recovery, sourceRegionId: region, sourceSnapshotId: sourceId, sourceDiskId: diskId, sourceDiskSize: "20", retentionDays: 7, snapshotName: "lifeboat-copy" });
    expect(copy?.progress).toMatch(/^\d+%$/);
    expect(copy?.tags?.tag?.[0]).toMatchObject({ tagKey: "lifeboat.io/dr", tagValue: "p1" });
    expect(await snapshotOf(region, copyId)).toBeUndefined();
    await until("accomplished", async () => ((await snapshotOf(recovery, copyId))?.status === "accomplished" ? true : undefined));
    expect((await server.harness.read(server.harness.snapshotContent(copyId), 8192, 15)).toString()).toBe("protected bytes");
  });

  it("uses a snapshot only in its own region: CreateDisk, CreateImage and RunInstances elsewhere do not find it", async () => {
    const disk = await errorOf(ecs.createDisk(new $Ecs.CreateDiskRequest({ regionId: region, zoneId: `${region}-i`, snapshotId: copyId })));
    expect([disk.statusCode, disk.code]).toEqual([404, "InvalidSnapshotId.NotFound"]);
    const img = await errorOf(ecs.createImage(new $Ecs.CreateImageRequest({ regionId: region, diskDeviceMapping: [new $Ecs.CreateImageRequestDiskDeviceMapping({ snapshotId: copyId })] })));
    expect([img.statusCode, img.code]).toEqual([404, "InvalidSnapshotId.NotFound"]);
    const run = await errorOf(ecs.runInstances(new $Ecs.RunInstancesRequest({ regionId: region, imageId: image, instanceType: "ecs.g7.large", dataDisk: [new $Ecs.RunInstancesRequestDataDisk({ snapshotId: copyId })] })));
    expect([run.statusCode, run.code]).toEqual([404, "InvalidDataDiskSnapshotId.NotFound"]);
    // In the recovery region it makes disks and images.
    const restored = (await ecs.createDisk(new $Ecs.CreateDiskRequest({ regionId: recovery, zoneId: `${recovery}-i`, snapshotId: copyId }))).body?.diskId ?? "";
    expect((await server.harness.read(server.harness.diskContent(restored), 8192, 15)).toString()).toBe("protected bytes");
    const imageId = (await ecs.createImage(new $Ecs.CreateImageRequest({ regionId: recovery, diskDeviceMapping: [new $Ecs.CreateImageRequestDiskDeviceMapping({ snapshotId: copyId })] }))).body?.imageId ?? "";
    await until("Available", async () => (await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: recovery, imageId }))).body?.images?.image?.[0]);
    // Images are regional as well.
    const elsewhere = await errorOf(ecs.runInstances(new $Ecs.RunInstancesRequest({ regionId: region, imageId, instanceType: "ecs.g7.large" })));
    expect([elsewhere.statusCode, elsewhere.code]).toEqual([404, "InvalidImageId.NotFound"]);
  });
});

describe("switches", () => {
  it("throttles the next call: the SDK raises ThrottlingError with Throttling.User and retryAfter", async () => {
    server.harness.applySwitches({ throttleEcs: 1, retryAfterMs: 1500 });
    const err = await errorOf(ecs.describeRegions(new $Ecs.DescribeRegionsRequest({ regionId: region })));
    expect(err.name).toBe("ThrottlingError");
    expect(err.code).toBe("Throttling.User");
    expect(err.statusCode).toBe(400);
    expect(err.retryAfter).toBe(1500);
    await ecs.describeRegions(new $Ecs.DescribeRegionsRequest({ regionId: region }));
  });

  it("answers 503 ServiceUnavailable for the next N calls", async () => {
    server.harness.applySwitches({ unavailableEcs: 2 });
    for (let i = 0; i < 2; i++) {
      const err = await errorOf(ecs.describeRegions(new $Ecs.DescribeRegionsRequest({ regionId: region })));
      expect(err.name).toBe("ServerError");
      expect([err.statusCode, err.code]).toEqual([503, "ServiceUnavailable"]);
    }
    await ecs.describeRegions(new $Ecs.DescribeRegionsRequest({ regionId: region }));
  });

  it("refuses the next AttachDisk with IncorrectInstanceStatus, and the CreateImage after with CreateFailed", async () => {
    const run = await ecs.runInstances(new $Ecs.RunInstancesRequest({ regionId: region, imageId: "aliyun_3_x64_20G_alibase_20240528.vhd", instanceType: "ecs.g7.large" }));
    const instanceId = run.body?.instanceIdSets?.instanceIdSet?.[0] ?? "";
    const disk = await ecs.createDisk(new $Ecs.CreateDiskRequest({ regionId: region, zoneId: `${region}-i`, size: 20 }));
    const diskId = disk.body?.diskId ?? "";
    await until("Running and Available", async () => {
      const i = await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, instanceIds: JSON.stringify([instanceId]) }));
      const d = await ecs.describeDisks(new $Ecs.DescribeDisksRequest({ regionId: region, diskIds: JSON.stringify([diskId]) }));
      return i.body?.instances?.instance?.[0]?.status === "Running" && d.body?.disks?.disk?.[0]?.status === "Available" ? true : undefined;
    });
    server.harness.applySwitches({ incorrectInstanceStatus: { AttachDisk: 1 } });
    const err = await errorOf(ecs.attachDisk(new $Ecs.AttachDiskRequest({ instanceId, diskId })));
    expect([err.statusCode, err.code]).toEqual([403, "IncorrectInstanceStatus"]);
    await ecs.attachDisk(new $Ecs.AttachDiskRequest({ instanceId, diskId }));
    await until("In_use", async () => {
      const d = await ecs.describeDisks(new $Ecs.DescribeDisksRequest({ regionId: region, diskIds: JSON.stringify([diskId]) }));
      return d.body?.disks?.disk?.[0]?.status === "In_use" ? true : undefined;
    });

    server.harness.applySwitches({ createFailed: { CreateImage: 1 } });
    const snap = await ecs.createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId }));
    const snapshotId = snap.body?.snapshotId ?? "";
    await until("accomplished", async () => {
      const r = await ecs.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: region, snapshotIds: JSON.stringify([snapshotId]) }));
      return r.body?.snapshots?.snapshot?.[0]?.status === "accomplished" ? true : undefined;
    });
    const img = await ecs.createImage(new $Ecs.CreateImageRequest({ regionId: region, snapshotId }));
    const imageId = img.body?.imageId ?? "";
    const failed = await until("CreateFailed", async () => {
      const r = await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: region, imageId, status: "CreateFailed" }));
      return r.body?.images?.image?.[0];
    });
    expect(failed.status).toBe("CreateFailed");
    await ecs.deleteImage(new $Ecs.DeleteImageRequest({ regionId: region, imageId }));
    await ecs.deleteInstance(new $Ecs.DeleteInstanceRequest({ instanceId, force: true }));
  });
});

describe("ImportImage from OSS", () => {
  const bucket = "lifeboat-import";
  let oss: OSS;
  const disk = Buffer.alloc(2 * 1024 * 1024);

  beforeAll(async () => {
    oss = new OSS(ossClientOptions(server, credentials, bucket));
    await oss.putBucket(bucket);
    disk.write("restored system disk", 512);
    await oss.put("rp-1/disk-0.raw", disk);
    await oss.put("rp-1/bad.raw", Buffer.alloc(1000));
  });

  const importRequest = (object: string) =>
    new $Ecs.ImportImageRequest({
      regionId: region,
      imageName: "rp-1",
      architecture: "x86_64",
      platform: "Others Linux",
      OSType: "linux",
      roleName: "AliyunECSImageImportDefaultRole",
      diskDeviceMapping: [new $Ecs.ImportImageRequestDiskDeviceMapping({ OSSBucket: bucket, OSSObject: object, format: "RAW", diskImageSize: 20 })],
      tag: [new $Ecs.ImportImageRequestTag({ key: "lifeboat.io/restore", value: "import" })],
    });

  it("imports a RAW object as a task; the importing image is hidden by default and cannot be deleted", async () => {
    const res = await ecs.importImage(importRequest("rp-1/disk-0.raw"));
    ecs.lastConformsTo($Ecs.ImportImageResponseBody);
    const imageId = res.body?.imageId ?? "";
    const taskId = res.body?.taskId ?? "";
    expect(taskId).toMatch(/^t-/);
    const tasks = await ecs.describeTasks(new $Ecs.DescribeTasksRequest({ regionId: region, taskIds: taskId }));
    ecs.lastConformsTo($Ecs.DescribeTasksResponseBody);
    expect(tasks.body?.taskSet?.task?.[0]).toMatchObject({ taskAction: "ImportImage", taskStatus: "Processing", resourceId: imageId });
    expect((await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: region, imageId }))).body?.totalCount).toBe(0);
    const err = await errorOf(ecs.deleteImage(new $Ecs.DeleteImageRequest({ regionId: region, imageId })));
    expect([err.statusCode, err.code]).toEqual([403, "ImageIsImporting"]);
    const attr = await ecs.describeTaskAttribute(new $Ecs.DescribeTaskAttributeRequest({ regionId: region, taskId }));
    ecs.lastConformsTo($Ecs.DescribeTaskAttributeResponseBody);
    expect(attr.body?.taskProcess).toMatch(/^\d+%$/);
    const image = await until("Available", async () => (await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: region, imageId }))).body?.images?.image?.[0]);
    ecs.lastConformsTo($Ecs.DescribeImagesResponseBody);
    expect(image.diskDeviceMappings?.diskDeviceMapping?.[0]).toMatchObject({ importOSSBucket: bucket, importOSSObject: "rp-1/disk-0.raw", format: "RAW", size: "20" });
    const finished = await ecs.describeTasks(new $Ecs.DescribeTasksRequest({ regionId: region, taskIds: taskId }));
    expect(finished.body?.taskSet?.task?.[0]?.taskStatus).toBe("Finished");
    const [system] = server.harness.imageContents(imageId);
    if (!system) throw new Error("the image has no disk");
    expect(Buffer.compare(await server.harness.read(system, 0, disk.length), disk)).toBe(0);
    await ecs.deleteImage(new $Ecs.DeleteImageRequest({ regionId: region, imageId }));
  });

  it("fails the task and the image when the object is not the format it claims", async () => {
    const res = await ecs.importImage(importRequest("rp-1/bad.raw"));
    const taskId = res.body?.taskId ?? "";
    const task = await until("Failed", async () => {
      const t = (await ecs.describeTasks(new $Ecs.DescribeTasksRequest({ regionId: region, taskIds: taskId }))).body?.taskSet?.task?.[0];
      return t?.taskStatus === "Processing" ? undefined : t;
    });
    expect(task.taskStatus).toBe("Failed");
    const image = await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: region, imageId: res.body?.imageId, status: "CreateFailed" }));
    expect(image.body?.images?.image?.[0]?.status).toBe("CreateFailed");
  });

  it("cancels a running import: the task ends Failed, the image CreateFailed, and it can then be deleted", async () => {
    const res = await ecs.importImage(importRequest("rp-1/disk-0.raw"));
    const imageId = res.body?.imageId ?? "";
    const taskId = res.body?.taskId ?? "";
    expect((await ecs.describeTasks(new $Ecs.DescribeTasksRequest({ regionId: region, taskIds: taskId }))).body?.taskSet?.task?.[0]?.supportCancel).toBe("true");
    await ecs.cancelTask(new $Ecs.CancelTaskRequest({ regionId: region, taskId }));
    ecs.lastConformsTo($Ecs.CancelTaskResponseBody);
    expect((await ecs.describeTasks(new $Ecs.DescribeTasksRequest({ regionId: region, taskIds: taskId }))).body?.taskSet?.task?.[0]?.taskStatus).toBe("Failed");
    expect((await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: region, imageId, status: "CreateFailed" }))).body?.images?.image?.[0]?.status).toBe("CreateFailed");
    expect((await errorOf(ecs.cancelTask(new $Ecs.CancelTaskRequest({ regionId: region, taskId })))).code).toBe("IncorrectTaskStatus");
    await ecs.deleteImage(new $Ecs.DeleteImageRequest({ regionId: region, imageId }));
    expect((await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: region, imageId, status: "CreateFailed" }))).body?.totalCount).toBe(0);
  });

  it("ends in CreateFailed when the switch says so", async () => {
    server.harness.applySwitches({ createFailed: { ImportImage: 1 } });
    const res = await ecs.importImage(importRequest("rp-1/disk-0.raw"));
    const image = await until("CreateFailed", async () => (await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: region, imageId: res.body?.imageId, status: "CreateFailed" }))).body?.images?.image?.[0]);
    expect(image.status).toBe("CreateFailed");
  });

  it("refuses a missing object, and a missing RAM role with NoSetRoletoECSServiceAccount", async () => {
    expect((await errorOf(ecs.importImage(importRequest("rp-1/missing.raw")))).code).toBe("InvalidOSSObject.NotFound");
    server.harness.applySwitches({ ramRoleMissing: true });
    try {
      const err = await errorOf(ecs.importImage(importRequest("rp-1/disk-0.raw")));
      expect([err.statusCode, err.code]).toEqual([403, "NoSetRoletoECSServiceAccount"]);
    } finally {
      server.harness.applySwitches({ ramRoleMissing: false });
    }
  });
});

describe("ExportImage to OSS", () => {
  const bucket = "lifeboat-export";
  const formatRegion = "ap-southeast-1";
  let oss: OSS;
  const system = Buffer.alloc(3 * 1024 * 1024);
  const data = Buffer.alloc(1024 * 1024);
  const images: Record<string, string> = {};

  beforeAll(async () => {
    oss = new OSS(ossClientOptions(server, credentials, bucket));
    await oss.putBucket(bucket);
    system.write("exported system disk", 4096);
    data.write("exported data disk", 0);
    await oss.put("src/system.raw", system);
    await oss.put("src/data.raw", data);
    for (const regionId of [region, formatRegion]) {
      const res = await ecs.importImage(new $Ecs.ImportImageRequest({
        regionId,
        diskDeviceMapping: [
          new $Ecs.ImportImageRequestDiskDeviceMapping({ OSSBucket: bucket, OSSObject: "src/system.raw", format: "RAW", diskImageSize: 1 }),
          new $Ecs.ImportImageRequestDiskDeviceMapping({ OSSBucket: bucket, OSSObject: "src/data.raw", format: "RAW", diskImageSize: 1, device: "/dev/xvdb" }),
        ],
      }));
      const imageId = res.body?.imageId ?? "";
      images[regionId] = imageId;
      await until("Available", async () => (await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId, imageId }))).body?.images?.image?.[0]);
    }
  });

  async function exported(regionId: string, prefix: string, imageFormat?: string): Promise<string[]> {
    const imageId = images[regionId] ?? "";
    const res = await ecs.exportImage(new $Ecs.ExportImageRequest({ regionId, imageId, OSSBucket: bucket, OSSPrefix: prefix, ...(imageFormat ? { imageFormat } : {}) }));
    ecs.lastConformsTo($Ecs.ExportImageResponseBody);
    const taskId = res.body?.taskId ?? "";
    const byImage = await ecs.describeTasks(new $Ecs.DescribeTasksRequest({ regionId, resourceIds: [imageId], taskAction: "ExportImage", taskStatus: "Processing" }));
    expect(byImage.body?.taskSet?.task?.map((t) => t.taskId)).toEqual([taskId]);
    await until("Finished", async () => ((await ecs.describeTasks(new $Ecs.DescribeTasksRequest({ regionId, taskIds: taskId }))).body?.taskSet?.task?.[0]?.taskStatus === "Finished" ? true : undefined));
    return (await oss.listV2({ prefix, "max-keys": "100" })).objects.map((o) => o.name).sort();
  }

  it("writes each disk as a RAW file of its whole size, named with system or data and the device, as a task", async () => {
    const imageId = images[region] ?? "";
    expect(await exported(region, "out1")).toEqual([`out1${imageId}_data_xvdb.raw`, `out1${imageId}_system.raw`]);
    const head = await oss.head(`out1${imageId}_system.raw`);
    expect(Number((head.res.headers as Record<string, string>)["content-length"])).toBe(1024 ** 3);
    const got = await oss.get(`out1${imageId}_system.raw`, { headers: { Range: `bytes=0-${system.length - 1}` } });
    expect(Buffer.compare(got.content as Buffer, system)).toBe(0);
    const tail = await oss.get(`out1${imageId}_data_xvdb.raw`, { headers: { Range: `bytes=${1024 ** 3 - 16}-${1024 ** 3 - 1}` } });
    expect(tail.content).toEqual(Buffer.alloc(16));
  });

  it("writes QCOW2 where the region honours ImageFormat, and RAW where it does not", async () => {
    const imageId = images[formatRegion] ?? "";
    const names = await exported(formatRegion, "out2", "qcow2");
    expect(names).toEqual([`out2${imageId}_data_xvdb.qcow2`, `out2${imageId}_system.qcow2`]);
    const magic = await oss.get(names[1] ?? "", { headers: { Range: "bytes=0-3" } });
    expect(magic.content).toEqual(Buffer.from([0x51, 0x46, 0x49, 0xfb]));
    expect((await exported(region, "out3", "qcow2")).every((n) => n.endsWith(".raw"))).toBe(true);
  });

  it("refuses a missing image, a missing bucket, a malformed prefix and a format the contract server does not write", async () => {
    const imageId = images[region] ?? "";
    const missing = await errorOf(ecs.exportImage(new $Ecs.ExportImageRequest({ regionId: region, imageId: "m-none", OSSBucket: bucket })));
    expect(missing.code).toBe("InvalidImageId.NotFound");
    const noBucket = await errorOf(ecs.exportImage(new $Ecs.ExportImageRequest({ regionId: region, imageId, OSSBucket: "nope-bucket" })));
    expect(noBucket.code).toMatch(/OSS/i);
    const prefix = await errorOf(ecs.exportImage(new $Ecs.ExportImageRequest({ regionId: region, imageId, OSSBucket: bucket, OSSPrefix: "a/b-c" })));
    expect(prefix.code).toMatch(/^InvalidParameter/);
    const vhd = await errorOf(ecs.exportImage(new $Ecs.ExportImageRequest({ regionId: formatRegion, imageId: images[formatRegion], OSSBucket: bucket, imageFormat: "vhd" })));
    expect(vhd.code).toMatch(/^InvalidParameter/);
  });
});

describe("flow control (rateLimit)", () => {
  it("throttles an AccessKey past its rate with Throttling.User and retryAfter; calls spaced out pass", async () => {
    const limited = await startAlibabaContractServer({ ...credentials, dataDir: join(dir, "limited"), rateLimit: { perSecond: 5, burst: 2 } });
    try {
      const c = new RecordingClient(new $OpenApiUtil.Config(ecsClientConfig(limited, credentials)));
      const call = () => c.describeRegions(new $Ecs.DescribeRegionsRequest({ regionId: region }));
      await call();
      await call();
      const err = await errorOf(call());
      expect([err.name, err.statusCode, err.code]).toEqual(["ThrottlingError", 400, "Throttling.User"]);
      expect(err.retryAfter).toBeGreaterThan(0);
      expect(err.retryAfter).toBeLessThanOrEqual(200);
      await new Promise((r) => setTimeout(r, (err.retryAfter ?? 200) + 20));
      await call();
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 250));
        await call();
      }
    } finally {
      await limited.close();
    }
  });
});

describe("a clock the test steps", () => {
  it("moves a snapshot's Progress only when the clock moves", async () => {
    const clock = new ManualClock();
    const stepped = await startAlibabaContractServer({ ...credentials, dataDir: join(dir, "stepped"), clock, timings: { diskCreateMs: 1000, snapshotMs: 10_000 } });
    try {
      const c = new RecordingClient(new $OpenApiUtil.Config(ecsClientConfig(stepped, credentials)));
      const diskId = (await c.createDisk(new $Ecs.CreateDiskRequest({ regionId: region, zoneId: `${region}-i`, size: 20 }))).body?.diskId ?? "";
      clock.advance(1000);
      await stepped.harness.tick();
      const snapshotId = (await c.createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId }))).body?.snapshotId ?? "";
      const progressNow = async () => (await c.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: region, snapshotIds: JSON.stringify([snapshotId]) }))).body?.snapshots?.snapshot?.[0]?.progress;
      expect(await progressNow()).toBe("0%");
      clock.advance(5000);
      expect(await progressNow()).toBe("50%");
      clock.advance(5000);
      expect(await progressNow()).toBe("100%");
    } finally {
      await stepped.close();
    }
  });
});
