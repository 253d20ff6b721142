// RestoreJob to an Alibaba ECS image, end to end, both strategies: the
// operator schedules the restore worker on the real node; the worker writes
// the point's disk as a QCOW2 file into OSS and imports it (ImportImage), or
// stages it as a VMDK that a temporary instance's guest lays onto a cloud
// disk whose snapshot becomes the image (IntermediateInstance), all through
// the official SDKs, against the ECS/OSS contract server (e2e/testbed/
// alibaba-contract: no runnable ECS exists here; its guests are local
// processes, which run Lifeboat's built guest program). The point comes from the
// vault CLI, so no vCenter is needed: the BackupVault mirrors it as a
// RecoveryPoint.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import Ecs from "@alicloud/ecs20140526";
import { $OpenApiUtil } from "@alicloud/openapi-core";
import OSS from "ali-oss";
import { startAlibabaContractServer, type AlibabaContractServer } from "../testbed/alibaba-contract/server.js";
import { ecsClientConfig, ossClientOptions } from "../testbed/alibaba-contract/sdk-clients.js";
import { repoRoot, serveAddress } from "../testbed/paths.js";
import { lifeboatCli, MiB } from "../support/dr.js";
import { condition, installLifeboat, vaultClaim, waitForCondition } from "../support/lifeboat.js";
import { adminConfig, createNamespace, eventually } from "../support/testbed.js";

const GiB = 1024 * MiB;
const KEY = randomBytes(32).toString("base64");
const CREDS = { accessKeyId: "LTAI5tLifeboatE2E", accessKeySecret: randomBytes(18).toString("base64") };
const BUCKET = "lifeboat-staging";
/** An odd size: not a whole MiB, so the image's virtual size is rounded up to 1 GiB. */
const DISK_SIZE = 40 * MiB + 64 * 1024;
const RESTORE_TAG = "lifeboat.io/restore";

let ns: string;
let workDir: string;
let custom: k8s.CustomObjectsApi;
let disk: Buffer;
let pointName: string;
/** Imports finish in 3 s. */
let fast: AlibabaContractServer;
/** Imports take two minutes: room to delete a RestoreJob while ECS imports. */
let slow: AlibabaContractServer;

function lifeboat(kind: string, name: string, spec: object) {
  return custom.createNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: `${kind.toLowerCase()}s`, body: { apiVersion: "lifeboat.io/v1alpha1", kind, metadata: { name }, spec } });
}

interface RestoreStatus {
  phase?: string;
  result?: { imageId?: string };
  conditions?: { type: string; status: string; reason: string; message: string }[];
}

async function restoreStatus(name: string): Promise<RestoreStatus> {
  const job = (await custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "restorejobs", name })) as { status?: RestoreStatus };
  return job.status ?? {};
}

/** The guest program as the contract server's guests run it: the built one, on the host's Node.js. */
const GUEST_COMMAND = `${process.execPath} ${join(repoRoot, "dist", "operator", "src", "worker", "guest-main.js")}`;

/** A RestoreJob of the suite's point to an ECS image on `server` (IntermediateInstance when `instance` is given). */
function restoreToEcs(name: string, server: AlibabaContractServer, imageName: string, instance?: { guestCommand: string }) {
  return lifeboat("RestoreJob", name, {
    recoveryPointRef: { name: pointName },
    gatewayRef: { name: "gw" },
    target: {
      cloudImage: {
        provider: "AlibabaECS",
        region: server.regionId,
        imageName,
        ...(instance
          ? {
              strategy: "IntermediateInstance",
              intermediateInstance: { imageId: "aliyun_3_x64_20G_alibase_20251030.vhd", instanceType: "ecs.g7.large", vSwitchId: "vsw-e2e", securityGroupId: "sg-e2e", guestCommand: instance.guestCommand, timeoutMinutes: 10, ossEndpoint: server.ossEndpoint },
            }
          : { strategy: "ImportImage", format: "QCOW2" }),
        ossBucket: BUCKET,
        ecsEndpoint: `${server.protocol}://${server.ecsEndpoint}`,
        ossEndpoint: server.ossEndpoint,
        useHTTPS: server.protocol === "https", // plain HTTP must be asked for
        credentialsSecretRef: { name: "alibaba" },
      },
    },
  });
}

/** Everything tagged with a restore id, as the SDK lists it: what must be gone after a restore (but its image and the image's snapshots). */
async function taggedResources(server: AlibabaContractServer, restoreId: string): Promise<{ images: string[]; instances: string[]; disks: string[]; snapshots: string[] }> {
  const ecs = ecsClient(server);
  const tag = { key: RESTORE_TAG, value: restoreId };
  const regionId = server.regionId;
  const instances = (await ecs.describeInstances(new Ecs.DescribeInstancesRequest({ regionId, tag: [new Ecs.DescribeInstancesRequestTag(tag)] }))).body?.instances?.instance ?? [];
  const disks = (await ecs.describeDisks(new Ecs.DescribeDisksRequest({ regionId, tag: [new Ecs.DescribeDisksRequestTag(tag)] }))).body?.disks?.disk ?? [];
  const snapshots = (await ecs.describeSnapshots(new Ecs.DescribeSnapshotsRequest({ regionId, tag: [new Ecs.DescribeSnapshotsRequestTag(tag)] }))).body?.snapshots?.snapshot ?? [];
  return {
    images: (await taggedImages(server, restoreId)).map((i) => i.imageId ?? ""),
    instances: instances.map((i) => i.instanceId ?? ""),
    disks: disks.map((d) => d.diskId ?? ""),
    snapshots: snapshots.map((x) => x.snapshotId ?? ""),
  };
}

/** Polls until the RestoreJob is gone (its finalizer done). */
async function gone(name: string): Promise<void> {
  await eventually(`RestoreJob ${name} to be gone`, async () => {
    try {
      await restoreStatus(name);
      return undefined;
    } catch {
      return true;
    }
  }, 180_000);
}

function ecsClient(server: AlibabaContractServer) {
  return new Ecs.default(new $OpenApiUtil.Config(ecsClientConfig(server, CREDS)));
}

/** The images tagged with a RestoreJob's restore id, in every state, as the SDK lists them. */
async function taggedImages(server: AlibabaContractServer, restoreId: string): Promise<{ imageId?: string; status?: string }[]> {
  const out = await ecsClient(server).describeImages(new Ecs.DescribeImagesRequest({
    regionId: server.regionId,
    imageOwnerAlias: "self",
    status: "Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated",
    tag: [new Ecs.DescribeImagesRequestTag({ key: RESTORE_TAG, value: restoreId })],
  }));
  return out.body?.images?.image ?? [];
}

/** The staged objects and unfinished uploads left in the bucket. */
async function stagedLeft(server: AlibabaContractServer): Promise<string[]> {
  const oss = new OSS(ossClientOptions(server, CREDS, BUCKET));
  const objects = (await oss.listV2({ prefix: "lifeboat/", "max-keys": 1000 })).objects.map((o) => o.name);
  const uploads = (await oss.listUploads({ prefix: "lifeboat/" })).uploads.map((u) => `${u.name} (upload)`);
  return [...objects, ...uploads];
}

/** The restore id a RestoreJob tags with: its worker Job's name (restore-<name>-<hash of its uid>). */
async function restoreIdOf(name: string): Promise<string> {
  const jobs = await adminConfig().makeApiClient(k8s.BatchV1Api).listNamespacedJob({ namespace: ns });
  const job = jobs.items.find((j) => j.metadata?.name?.startsWith(`restore-${name}-`));
  if (!job?.metadata?.name) throw new Error(`RestoreJob ${name} has no worker Job`);
  return job.metadata.name;
}

beforeAll(async () => {
  custom = adminConfig().makeApiClient(k8s.CustomObjectsApi);
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  workDir = await mkdtemp(join(tmpdir(), "lifeboat-cloud-image-e2e-"));
  // A sparse disk with scattered random data, backed up with the vault CLI.
  disk = Buffer.alloc(DISK_SIZE);
  for (const offset of [0, 7 * MiB + 4096, 23 * MiB, DISK_SIZE - 300 * 1024]) randomBytes(256 * 1024).copy(disk, offset);
  const diskPath = join(workDir, "disk.img");
  const fh = await open(diskPath, "w");
  await fh.write(disk, 0, disk.length, 0);
  await fh.close();
  const vaultDir = join(workDir, "vault");
  expect((await lifeboatCli(["vault", "init", "--repo", vaultDir], KEY)).code).toBe(0);
  const backup = await lifeboatCli(["vault", "backup", "--repo", vaultDir, "--disk", `2000=${diskPath}`, "--label", "vm=web-01", "--label", "guestOS=ubuntu64Guest", "--label", "firmware=efi", "--json"], KEY);
  expect(backup.code).toBe(0);
  // The vault was made here as root; Lifeboat's pods run as 65532, as an admin handing the storage over would set it.
  await promisify(execFile)("chown", ["-R", "65532:65532", vaultDir]);

  const host = serveAddress();
  fast = await startAlibabaContractServer({ ...CREDS, dataDir: join(workDir, "ecs-fast"), host });
  slow = await startAlibabaContractServer({ ...CREDS, dataDir: join(workDir, "ecs-slow"), host, timings: { imageImportMs: 120_000 } });
  for (const server of [fast, slow]) {
    server.harness.createBucket(BUCKET);
    // The temporary instance's network, which RunInstances checks; with no zoneId in the spec its zone is the vSwitch's.
    server.harness.createVSwitch({ vSwitchId: "vsw-e2e", vpcId: "vpc-e2e", regionId: server.regionId, zoneId: `${server.regionId}-i`, cidrBlock: "172.16.0.0/24" });
    server.harness.createSecurityGroup({ securityGroupId: "sg-e2e", vpcId: "vpc-e2e", regionId: server.regionId });
  }

  ns = await createNamespace("cloud");
  await installLifeboat({}, [await vaultClaim(ns, "vault", vaultDir)]);
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "vault-key" }, stringData: { key: KEY } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "alibaba" }, stringData: CREDS } });
  await lifeboat("BackupVault", "vault", { backend: { filesystem: { persistentVolumeClaim: { name: "vault" } } }, encryption: { keySecretRef: { name: "vault-key" } } });
  await lifeboat("Gateway", "gw", { vaultRef: { name: "vault" }, maxWorkers: 2, maxCpu: 2 });
  await waitForCondition("Gateway", ns, "gw", "Activated", "True", undefined, 90_000);
  pointName = await eventually("the vault's point to appear as a RecoveryPoint", async () => {
    const list = (await custom.listNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "recoverypoints" })) as { items: { metadata: { name: string } }[] };
    return list.items[0]?.metadata.name;
  }, 120_000);
});

afterAll(async () => {
  await fast.close();
  await slow.close();
  await rm(workDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 500 });
});

describe("restore to an Alibaba ECS image (ImportImage, contract server)", () => {
  it("makes an Available image whose disk holds the point's bytes, surviving throttling, and leaves no staged file", async () => {
    // The first calls of the worker are throttled (x-acs-retry-after) and answered 503: both are waited out.
    fast.harness.applySwitches({ throttleEcs: 2, unavailableEcs: 1, retryAfterMs: 500 });
    await restoreToEcs("to-ecs", fast, "web-01-restored");
    await waitForCondition("RestoreJob", ns, "to-ecs", "Succeeded", "True", undefined, 300_000);
    const status = await restoreStatus("to-ecs");
    const imageId = status.result?.imageId ?? "";
    expect(imageId).toMatch(/^m-/);
    expect(status.conditions?.find((c) => c.type === "Succeeded")?.message).toContain(imageId);

    const [image] = (await ecsClient(fast).describeImages(new Ecs.DescribeImagesRequest({ regionId: fast.regionId, imageId }))).body?.images?.image ?? [];
    expect({ status: image?.status, name: image?.imageName, os: image?.OSType, platform: image?.platform, arch: image?.architecture, boot: image?.bootMode })
      .toEqual({ status: "Available", name: "web-01-restored", os: "linux", platform: "Ubuntu", arch: "x86_64", boot: "UEFI" });

    // The image's system disk, as the peer holds it: the point's bytes, then zeros up to the whole GiB ECS was told.
    const [system, ...data] = fast.harness.imageContents(imageId);
    expect(data).toEqual([]);
    if (!system) throw new Error(`image ${imageId} has no disk`);
    expect(system.sizeBytes).toBe(GiB);
    expect((await fast.harness.read(system, 0, DISK_SIZE)).equals(disk)).toBe(true);
    const zeros = Buffer.alloc(64 * MiB);
    for (let offset = DISK_SIZE; offset < GiB; offset += zeros.length) {
      const length = Math.min(zeros.length, GiB - offset);
      expect((await fast.harness.read(system, offset, length)).equals(zeros.subarray(0, length))).toBe(true);
    }
    expect(await stagedLeft(fast)).toEqual([]);
    expect(fast.harness.switches.throttleEcs + fast.harness.switches.unavailableEcs).toBe(0);
  });

  it("an import that ends CreateFailed fails the RestoreJob as CloudImageFailed, and nothing it made is left", async () => {
    fast.harness.applySwitches({ reset: true, createFailed: { ImportImage: 1 } });
    await restoreToEcs("create-failed", fast, "web-01-failed");
    await waitForCondition("RestoreJob", ns, "create-failed", "Succeeded", "False", "CloudImageFailed", 300_000);
    const c = await condition("RestoreJob", ns, "create-failed", "Succeeded");
    expect(c?.message).toMatch(/ECS could not import image m-\S+ \(web-01-failed\): it is CreateFailed/);
    expect(await taggedImages(fast, await restoreIdOf("create-failed"))).toEqual([]);
    expect(await stagedLeft(fast)).toEqual([]);
  });

  it("a missing RAM role fails at once with what to fix", async () => {
    fast.harness.applySwitches({ reset: true, ramRoleMissing: true });
    await restoreToEcs("no-role", fast, "web-01-no-role");
    await waitForCondition("RestoreJob", ns, "no-role", "Succeeded", "False", "CloudImageFailed", 300_000);
    const c = await condition("RestoreJob", ns, "no-role", "Succeeded");
    expect(c?.message).toContain("the restore worker failed after 1 attempt(s)");
    expect(c?.message).toContain("NoSetRoletoECSServiceAccount");
    expect(c?.message).toContain("authorise the RAM role AliyunECSImageImportDefaultRole");
    expect(await stagedLeft(fast)).toEqual([]);
    fast.harness.applySwitches({ reset: true });
  });

  it("deleting the RestoreJob while ECS imports cancels the import and deletes the image and the staged file", async () => {
    await restoreToEcs("cancelled", slow, "web-01-cancelled");
    const imageId = await eventually("ECS to be importing the image", async () => (await restoreStatus("cancelled")).result?.imageId, 300_000);
    expect((await condition("RestoreJob", ns, "cancelled", "Succeeded"))?.reason).toBe("Importing");
    const restoreId = await restoreIdOf("cancelled");
    expect((await taggedImages(slow, restoreId)).map((i) => ({ id: i.imageId, status: i.status }))).toEqual([{ id: imageId, status: "Creating" }]);
    await custom.deleteNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "restorejobs", name: "cancelled" });
    await gone("cancelled");
    expect(await taggedImages(slow, restoreId)).toEqual([]);
    expect(await stagedLeft(slow)).toEqual([]);
  });
});

describe("restore to an Alibaba ECS image through a temporary instance (IntermediateInstance, contract server)", () => {
  it("a guest holding only presigned URLs writes the disk; the image made from its snapshot holds the point's bytes; only the image and its snapshot stay", async () => {
    fast.harness.applySwitches({ reset: true, throttleEcs: 2, retryAfterMs: 500 });
    await restoreToEcs("through-instance", fast, "web-01-instance", { guestCommand: GUEST_COMMAND });
    await waitForCondition("RestoreJob", ns, "through-instance", "Succeeded", "True", undefined, 300_000);
    const imageId = (await restoreStatus("through-instance")).result?.imageId ?? "";
    expect(imageId).toMatch(/^m-/);
    const [image] = (await ecsClient(fast).describeImages(new Ecs.DescribeImagesRequest({ regionId: fast.regionId, imageId }))).body?.images?.image ?? [];
    expect({ status: image?.status, name: image?.imageName, platform: image?.platform, arch: image?.architecture, boot: image?.bootMode })
      .toEqual({ status: "Available", name: "web-01-instance", platform: "Ubuntu", arch: "x86_64", boot: "UEFI" });

    // The image's system disk: a 20 GiB cloud disk (ECS's smallest) holding the point's bytes, zeros after them.
    const [system, ...data] = fast.harness.imageContents(imageId);
    expect(data).toEqual([]);
    if (!system) throw new Error(`image ${imageId} has no disk`);
    expect(system.sizeBytes).toBe(20 * GiB);
    expect((await fast.harness.read(system, 0, DISK_SIZE)).equals(disk)).toBe(true);
    expect((await fast.harness.read(system, DISK_SIZE, 64 * MiB)).equals(Buffer.alloc(64 * MiB))).toBe(true);

    // The temporary instance and its disk are gone; the snapshot stays as the image's storage (ECS refuses to delete it).
    const restoreId = await restoreIdOf("through-instance");
    const snapshotOfImage = image?.diskDeviceMappings?.diskDeviceMapping?.[0]?.snapshotId;
    expect(await taggedResources(fast, restoreId)).toEqual({ images: [imageId], instances: [], disks: [], snapshots: [snapshotOfImage] });
    expect(await stagedLeft(fast)).toEqual([]);
  });

  it("a snapshot-made image that ends CreateFailed fails the RestoreJob, and nothing it made is left", async () => {
    fast.harness.applySwitches({ reset: true, createFailed: { CreateImage: 1 } });
    await restoreToEcs("instance-failed", fast, "web-01-instance-failed", { guestCommand: GUEST_COMMAND });
    await waitForCondition("RestoreJob", ns, "instance-failed", "Succeeded", "False", "CloudImageFailed", 300_000);
    expect((await condition("RestoreJob", ns, "instance-failed", "Succeeded"))?.message).toMatch(/ECS could not make image m-\S+ \(web-01-instance-failed\): it is CreateFailed/);
    expect(await taggedResources(fast, await restoreIdOf("instance-failed"))).toEqual({ images: [], instances: [], disks: [], snapshots: [] });
    expect(await stagedLeft(fast)).toEqual([]);
  });

  it("deleting the RestoreJob while the guest runs deletes the instance, its disks and the staged files", async () => {
    fast.harness.applySwitches({ reset: true });
    // A guest that takes its time before writing: room to delete the RestoreJob while the instance runs.
    await restoreToEcs("instance-cancelled", fast, "web-01-instance-cancelled", { guestCommand: `sleep 600; ${GUEST_COMMAND}` });
    const restoreId = await eventually("the temporary instance to run", async () => {
      const id = await restoreIdOf("instance-cancelled").catch(() => undefined);
      return id && (await taggedResources(fast, id)).instances.length === 1 ? id : undefined;
    }, 300_000);
    const [instanceId] = (await taggedResources(fast, restoreId)).instances;
    await eventually("its guest to start", () => Promise.resolve(fast.harness.guestRuns(instanceId ?? "").some((r) => r.state === "running") || undefined), 60_000);
    await custom.deleteNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "restorejobs", name: "instance-cancelled" });
    await gone("instance-cancelled");
    expect(await taggedResources(fast, restoreId)).toEqual({ images: [], instances: [], disks: [], snapshots: [] });
    expect(fast.harness.guestRuns(instanceId ?? "").map((r) => r.state)).toEqual(["killed"]);
    expect(await stagedLeft(fast)).toEqual([]);
  });
});
