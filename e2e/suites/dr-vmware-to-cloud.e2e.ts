// Disaster recovery from vSphere to Alibaba ECS (SitePair VMwareToCloud),
// end to end: a vcsim VM replicates by CBT cycles into the recovery vault; a
// drill converts a point into an ECS image (through a RestoreJob: the worker
// stages QCOW2 in OSS, ECS imports it) and starts an instance on the test
// vSwitch only, cleaned by tag when the drill is deleted; a planned failover
// shuts the VM down, takes a last cycle, and starts an instance whose system
// disk holds the VM's bytes at shutdown; commit fences the VM and deletes the
// image; reverse replication reads the instance back through ExportImage
// into the protected vault, and a failback makes a vSphere VM holding the
// instance's bytes at its stop, then forward replication resumes from the
// failback's seed and the instance is deleted. ECS and OSS are the Alibaba contract server (no runnable ECS exists
// here), driven through the official SDKs.
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import Ecs from "@alicloud/ecs20140526";
import Vpc from "@alicloud/vpc20160428";
import { $OpenApiUtil } from "@alicloud/openapi-core";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { exportPrefixes } from "../../operator/src/cloud/alibaba/export-cleanup.js";
import { startAlibabaContractServer, type AlibabaContractServer } from "../testbed/alibaba-contract/server.js";
import { ecsClientConfig } from "../testbed/alibaba-contract/sdk-clients.js";
import { serveAddress } from "../testbed/paths.js";
import { apply, betweenCycles, condition, firstDisk, getObject, MiB, mixedData, nextSucceededCycle, patchSpec, psStatus, sha256, startSites, vmByName, type DrSites, type PsStatus } from "../support/dr.js";
import { waitForCondition } from "../support/lifeboat.js";
import { adminConfig, eventually } from "../support/testbed.js";

jest.setTimeout(900_000);

const CREDS = { accessKeyId: "LTAI5tLifeboatV2C", accessKeySecret: "vmware-to-cloud-e2e-secret" };
// Singapore: a region where ExportImage honours ImageFormat, so reverse cycles read QCOW2 exports (only their data).
const REGION = "ap-southeast-1";
const ZONE = `${REGION}-i`;
const BUCKET = "lifeboat-dr-staging";
const DATA = 48 * MiB;

let s: DrSites;
let server: AlibabaContractServer;
let ecs: InstanceType<typeof Ecs.default>;
let vpc: InstanceType<typeof Vpc.default>;
let vm: string;
let source: Buffer;

interface CloudFailover {
  step?: string;
  postScript?: { phase?: string; instanceId?: string; exitCode?: number; output?: string };
  instanceType?: string;
  planned?: boolean;
  job?: string;
  restoreId?: string;
  imageId?: string;
  eipAddress?: string;
  vm?: { instanceId?: string };
  committed?: boolean;
  fenced?: boolean;
}

async function status(): Promise<PsStatus & { failover?: CloudFailover }> {
  return (await psStatus(s, "web"));
}

async function instance(id: string) {
  const out = await ecs.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: REGION, instanceIds: JSON.stringify([id]) }));
  return out.body?.instances?.instance?.find((i) => i.instanceId === id);
}

/** The hash of the first DATA bytes of an instance's system disk. */
async function systemDiskHash(instanceId: string): Promise<string> {
  const disks = (await ecs.describeDisks(new Ecs.DescribeDisksRequest({ regionId: REGION, instanceId }))).body?.disks?.disk ?? [];
  const system = disks.find((d) => d.type === "system");
  if (!system?.diskId) throw new Error(`instance ${instanceId} has no system disk`);
  return sha256(await server.harness.read(server.harness.diskContent(system.diskId), 0, DATA));
}

async function tagged(key: string, value: string): Promise<{ instances: string[]; images: string[]; eips: string[] }> {
  const instances = (await ecs.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: REGION, tag: [new Ecs.DescribeInstancesRequestTag({ key, value })] }))).body?.instances?.instance ?? [];
  const images = (await ecs.describeImages(new Ecs.DescribeImagesRequest({ regionId: REGION, imageOwnerAlias: "self", status: "Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated", tag: [new Ecs.DescribeImagesRequestTag({ key, value })] }))).body?.images?.image ?? [];
  const eips = (await vpc.describeEipAddresses(new Vpc.DescribeEipAddressesRequest({ regionId: REGION, tag: [new Vpc.DescribeEipAddressesRequestTag({ key, value })] }))).body?.eipAddresses?.eipAddress ?? [];
  return { instances: instances.map((i) => i.instanceId ?? ""), images: images.map((i) => i.imageId ?? ""), eips: eips.map((e) => e.allocationId ?? "") };
}

async function restoreJobExists(name: string): Promise<boolean> {
  return getObject(s, "RestoreJob", name).then(() => true, () => false);
}

beforeAll(async () => {
  s = await startSites({ vms: 1, prefix: "v2c" });
  [vm = ""] = s.vms;
  server = await startAlibabaContractServer({ ...CREDS, dataDir: join(s.workDir, "ecs"), host: serveAddress(), regionId: REGION, timings: { imageImportMs: 1500, instanceStartMs: 1000, instanceStopMs: 1000 } });
  server.harness.createBucket(BUCKET);
  server.harness.createVSwitch({ vSwitchId: "vsw-recovery", vpcId: "vpc-dr", regionId: REGION, zoneId: ZONE, cidrBlock: "172.20.1.0/24" });
  server.harness.createVSwitch({ vSwitchId: "vsw-test", vpcId: "vpc-dr", regionId: REGION, zoneId: ZONE, cidrBlock: "172.20.2.0/24" });
  server.harness.createSecurityGroup({ securityGroupId: "sg-dr", vpcId: "vpc-dr", regionId: REGION });
  // The server's own recovery network (seed 004's failover panel), beside the pair's.
  server.harness.createVSwitch({ vSwitchId: "vsw-web", vpcId: "vpc-dr", regionId: REGION, zoneId: ZONE, cidrBlock: "172.20.3.0/24" });
  const config = new $OpenApiUtil.Config(ecsClientConfig(server, CREDS));
  ecs = new Ecs.default(config);
  vpc = new Vpc.default(config);
  await adminConfig().makeApiClient(k8s.CoreV1Api).createNamespacedSecret({ namespace: s.ns, body: { metadata: { name: "alibaba" }, stringData: CREDS } });
  const endpoint = `${server.protocol}://${server.ecsEndpoint}`;
  await apply(s, "SitePair", "to-cloud", {
    type: "VMwareToCloud",
    source: { vCenterRef: { name: "vc-protected" }, datacenter: "DC0", datastore: "LocalDS_0" },
    target: { region: REGION, zone: ZONE, ecsEndpoint: endpoint, vpcEndpoint: endpoint, useHTTPS: server.protocol === "https" },
    vaultRef: { name: "recovery-vault" },
    reverseVaultRef: { name: "protected-vault" },
    gatewayRef: { name: "protected-site" },
    recoveryGatewayRef: { name: "recovery-site" },
    credentialsSecretRef: { name: "alibaba" },
    imageConversion: { ossBucket: BUCKET, strategy: "ImportImage", format: "QCOW2", ossEndpoint: server.ossEndpoint, useHTTPS: server.protocol === "https" },
    recoveryNetwork: { vSwitchId: "vsw-recovery", securityGroupId: "sg-dr" },
    testNetwork: { vSwitchId: "vsw-test", securityGroupId: "sg-dr" },
  });
  await waitForCondition("SitePair", s.ns, "to-cloud", "Ready", "True", "SitesChecked", 90_000);
  source = mixedData(DATA, 7);
  await s.protectedSim.writeDisk(vm, (await firstDisk(s.protectedSim, vm)).key, 0, source);
  await apply(s, "ProtectedServer", "web", {
    sitePairRef: { name: "to-cloud" },
    source: { vmName: vm },
    replication: { crashConsistentIntervalMinutes: 1 },
    // No instance type: a failover chooses one by the VM's own vCPUs and memory.
    // Seed 004's switch-over script: run by Cloud Assistant inside the recovered instance once it is up.
    recovery: { privateIpAddress: "172.20.3.30", eip: true, network: { vSwitchId: "vsw-web", securityGroupId: "sg-dr" }, postScript: { content: 'echo "serving from $LIFEBOAT_CONTRACT_INSTANCE_ID"' } },
  });
  await waitForCondition("ProtectedServer", s.ns, "web", "RecoveryNetworksValid", "True", "Checked");
  await eventually("web replicating", async () => ((await status()).stage === "RealTimeReplication" ? true : undefined), 300_000);
});

afterAll(async () => {
  // The drills and the namespace go first (DrSites.stop), while the contract
  // server still answers: a drill's finalizer deletes its instance there, and nothing is left calling it.
  try {
    await (s as DrSites | undefined)?.stop();
  } finally {
    await server.close();
  }
});

describe("VMware to Alibaba ECS disaster recovery (vcsim, contract server)", () => {
  it("drills on the test vSwitch from a converted point, and deleting the drill leaves nothing in the cloud", async () => {
    // Sized by CPU and memory, on SSDs (seed 004's drill panel): a vSphere point has no family to keep, so the first preferred family (g7 before g6).
    await apply(s, "RecoveryDrill", "d1", { protectedServerRef: { name: "web" }, eip: true, cpu: 2, memoryGiB: 8, diskCategory: "cloud_ssd" });
    const drilled = await eventually("drill d1 Ready", async () => {
      const st = (await getObject<{ status?: { phase?: string; instanceId?: string; instanceType?: string; eipAddress?: string; pointID?: string; createdObjects?: { kind: string; name?: string; id?: string }[]; conditions?: { type: string; reason: string; message: string }[] } }>(s, "RecoveryDrill", "d1")).status;
      if (st?.phase === "Failed") throw new Error(`drill failed: ${JSON.stringify(st.conditions)}`);
      return st?.phase === "Ready" ? st : undefined;
    }, 300_000);
    const test = await instance(drilled.instanceId ?? "");
    expect(test?.vpcAttributes?.vSwitchId).toBe("vsw-test");
    expect(test?.zoneId).toBe(ZONE);
    expect(test?.eipAddress?.ipAddress).toBe(drilled.eipAddress);
    expect([test?.instanceType, drilled.instanceType]).toEqual(["ecs.g7.large", "ecs.g7.large"]);
    const testDisks = (await ecs.describeDisks(new Ecs.DescribeDisksRequest({ regionId: REGION, instanceId: drilled.instanceId ?? "" }))).body?.disks?.disk ?? [];
    expect(testDisks.length).toBeGreaterThan(0);
    expect(testDisks.every((d) => d.category === "cloud_ssd")).toBe(true);
    expect(await systemDiskHash(drilled.instanceId ?? "")).toBe(sha256(source));
    const conversion = drilled.createdObjects?.find((o) => o.kind === "RestoreJob");
    expect(conversion?.id).toBeTruthy();
    expect((await status()).pinnedPoints).toContain(drilled.pointID);

    await s.custom.deleteNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: s.ns, plural: "recoverydrills", name: "d1" });
    await eventually("drill d1 gone", async () => (await getObject(s, "RecoveryDrill", "d1").then(() => false, () => true)) || undefined, 180_000);
    expect(await tagged("lifeboat.io/drill", `${s.ns}/d1`)).toEqual({ instances: [], images: [], eips: [] });
    expect((await tagged("lifeboat.io/restore", conversion?.id ?? "")).images).toEqual([]);
    expect(await restoreJobExists(conversion?.name ?? "")).toBe(false);
  });

  it("fails over from 'latest' as a planned failover: the instance holds the VM's bytes at shutdown", async () => {
    // New data on the VM: only a planned failover (guest shutdown, last cycle) carries it over.
    source = mixedData(DATA, 8);
    await s.protectedSim.writeDisk(vm, (await firstDisk(s.protectedSim, vm)).key, 0, source);
    await patchSpec(s, "ProtectedServer", "web", { desiredState: "FailedOver" });
    const done = await eventually("web failed over", async () => {
      const st = await status();
      return st.stage === "FailedOver" ? st : undefined;
    }, 400_000);
    expect(done.failover).toMatchObject({ planned: true });
    const id = done.failover?.vm?.instanceId ?? "";
    const recovered = await instance(id);
    // The VM's own size (vcsim's VMs: 1 vCPU, 32 MiB, so 1 GiB): the one type of that size in stock.
    const [vmNow] = await vmByName(s.protectedClient, vm);
    expect([vmNow?.numCpu, Math.ceil((vmNow?.memoryMB ?? 0) / 1024)]).toEqual([1, 1]);
    expect(recovered).toMatchObject({ zoneId: ZONE, instanceType: "ecs.s6-c1m1.small", status: "Running" });
    expect(done.failover?.instanceType).toBe("ecs.s6-c1m1.small");
    expect(recovered?.vpcAttributes?.vSwitchId).toBe("vsw-web");
    expect(recovered?.vpcAttributes?.privateIpAddress?.ipAddress).toEqual(["172.20.3.30"]);
    expect(recovered?.eipAddress?.ipAddress).toBe(done.failover?.eipAddress);
    expect(await systemDiskHash(id)).toBe(sha256(source));
    const [original] = await vmByName(s.protectedClient, vm);
    expect(original?.powerState).toBe("poweredOff");
    const scripted = await eventually("web's post script succeeded", async () => {
      const st = await status();
      return condition(st, "PostScriptSucceeded")?.status === "True" ? st : undefined;
    }, 60_000);
    expect(scripted.failover?.postScript).toMatchObject({ phase: "Succeeded", instanceId: id, exitCode: 0, output: `serving from ${id}\n` });
  });

  it("commit fences the VM and deletes the image", async () => {
    const before = await status();
    await patchSpec(s, "ProtectedServer", "web", { commitFailover: true });
    await eventually("web fenced and its image deleted", async () => {
      const st = await status();
      return condition(st, "SourceFenced")?.status === "True" && !st.failover?.imageId ? true : undefined;
    }, 120_000);
    expect(await restoreJobExists(before.failover?.job ?? "")).toBe(false);
    expect((await tagged("lifeboat.io/restore", before.failover?.restoreId ?? "")).images).toEqual([]);
    expect((await instance(before.failover?.vm?.instanceId ?? ""))?.status).toBe("Running");
  });

  it("replicates the instance back into the protected vault through ExportImage, whole disks, each cycle deleting its export", async () => {
    const id = (await status()).failover?.vm?.instanceId ?? "";
    // The server writes in the cloud.
    source = mixedData(DATA, 9);
    await server.harness.writeDisk(await systemDiskId(id), 0, source);
    await patchSpec(s, "ProtectedServer", "web", { desiredState: "ReverseReplicating" });
    const st = await eventually("web reverse replicating", async () => {
      const x = await status();
      return x.stage === "ReverseRealTimeReplication" ? x : undefined;
    }, 400_000);
    expect(st.direction).toBe("Reverse");
    expect(condition(st, "ResyncRequired")?.reason).toBe("WholeDiskReads");
    const cycle = await nextSucceededCycle(s, "web", st.lastCycle?.id, 300_000);
    // A cycle's worker deletes its files, image and snapshots before it ends (the next cycle may already be exporting).
    expect(await exportsLeft(cycle.id)).toEqual({ objects: [], images: [], snapshots: [] });
  });

  it("fails back to a new vSphere VM holding the instance's bytes at its stop, then replicates forward again and deletes the instance", async () => {
    const id = (await status()).failover?.vm?.instanceId ?? "";
    source = mixedData(DATA, 10);
    await server.harness.writeDisk(await systemDiskId(id), 0, source);
    // Seed 004's failback panel: the new VM's CPU and memory; an instance type means nothing for a VM, and a condition says so.
    await patchSpec(s, "ProtectedServer", "web", { desiredState: "FailedBack", failback: { cpu: 2, memoryGiB: 1, instanceType: "ecs.g7.large", network: { vSwitchId: "vsw-web", securityGroupId: "sg-dr" } } });
    const ignored = await waitForCondition("ProtectedServer", s.ns, "web", "IgnoredFields", "True", "NotUsedByVMwareToCloud");
    expect(ignored.message).toBe(
      "not acted on: spec.failback.instanceType (cloud sites only: a failback to vSphere makes a VM); spec.failback.network (cloud sites only: a failback to vSphere makes a VM whose NICs follow the site pair's spec.networkMappings)",
    );
    const done = await eventually("web failed back", async () => {
      const x = await status();
      return x.stage === "FailedBack" ? x : undefined;
    }, 600_000);
    expect((await instance(id))?.status).toBe("Stopped");
    const back = `${vm}-failback`;
    const [made] = await vmByName(s.protectedClient, back);
    expect(made?.powerState).toBe("poweredOn");
    expect([made?.numCpu, made?.memoryMB]).toEqual([2, 1024]);
    expect(done.failback?.vm?.moRef).toBe(made?.ref.value);
    const disk = await firstDisk(s.protectedSim, back);
    const fh = await open(disk.flatPath, "r");
    try {
      const buf = Buffer.alloc(DATA);
      await fh.read(buf, 0, DATA, 0);
      expect(sha256(buf)).toBe(sha256(source));
    } finally {
      await fh.close();
    }

    await patchSpec(s, "ProtectedServer", "web", { desiredState: "Replicating", commitFailover: false });
    const forward = await eventually("web replicating forward", async () => {
      const x = await status();
      return x.stage === "RealTimeReplication" ? x : undefined;
    }, 300_000);
    expect(forward.direction).toBe("Forward");
    expect(condition(forward, "ResyncRequired")?.reason).toBe("ChangeTrackingTrusted");
    expect(await instance(id)).toBeUndefined();
    expect(await exportsLeft()).toEqual({ objects: [], images: [], snapshots: [] });
    // The forward chain continues from the failback's seed: the next cycle reads only what changed.
    const before = await betweenCycles(s, "web");
    await s.protectedSim.writeDisk(back, disk.key, 5 * MiB, mixedData(2 * MiB, 11));
    const cycle = await nextSucceededCycle(s, "web", before.lastCycle?.id);
    expect(cycle.bytesRead).toBe(2 * MiB);
  });
});

async function systemDiskId(instanceId: string): Promise<string> {
  const disks = (await ecs.describeDisks(new Ecs.DescribeDisksRequest({ regionId: REGION, instanceId }))).body?.disks?.disk ?? [];
  return disks.find((d) => d.type === "system")?.diskId ?? "";
}

/** What reverse cycles (or the one cycle `run`) export and must delete: files under the server's (or run's) prefix, images and snapshots tagged role=export. */
async function exportsLeft(run?: string): Promise<{ objects: string[]; images: string[]; snapshots: string[] }> {
  const ofRun = (tags: { tag?: { tagKey?: string; tagValue?: string }[] } | undefined): boolean => run === undefined || (tags?.tag ?? []).some((t) => t.tagKey === "lifeboat.io/point" && t.tagValue === run);
  const prefixes = exportPrefixes(s.ns, "web", run ?? "");
  const objects = server.harness.oss.objectKeys(BUCKET).filter((k) => k.startsWith(run === undefined ? prefixes.server : prefixes.run));
  const tag = { key: "lifeboat.io/role", value: "export" };
  const images = (await ecs.describeImages(new Ecs.DescribeImagesRequest({ regionId: REGION, imageOwnerAlias: "self", status: "Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated", tag: [new Ecs.DescribeImagesRequestTag(tag)] }))).body?.images?.image ?? [];
  const snapshots = (await ecs.describeSnapshots(new Ecs.DescribeSnapshotsRequest({ regionId: REGION, tag: [new Ecs.DescribeSnapshotsRequestTag(tag)] }))).body?.snapshots?.snapshot ?? [];
  return { objects, images: images.filter((i) => ofRun(i.tags)).map((i) => i.imageId ?? ""), snapshots: snapshots.filter((x) => ofRun(x.tags)).map((x) => x.snapshotId ?? "") };
}
