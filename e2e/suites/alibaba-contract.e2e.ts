// The Alibaba contract server's parts that run external processes: instance
// user data as a local guest process whose block devices are files (the
// IntermediateInstance restore path), ImportImage of QCOW2/VHD/VMDK objects
// through qemu-img, and HTTPS with a certificate of the test bed's PKI.
// Needs nothing else of the test bed. Driven by the official SDKs only.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { Agent as HttpsAgent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import EcsSdk, * as $Ecs from "@alicloud/ecs20140526";
import { $OpenApiUtil } from "@alicloud/openapi-core";
import OSS from "ali-oss";
import { startAlibabaContractServer, type AlibabaContractServer } from "../testbed/alibaba-contract/server.js";
import { ecsClientConfig, ossClientOptions, ossPathStyleOptions } from "../testbed/alibaba-contract/sdk-clients.js";
import { createPki } from "../testbed/pki.js";

const execFileAsync = promisify(execFile);
const credentials = { accessKeyId: "LTAIcontracte2e0001", accessKeySecret: "contract-e2e-secret" };
const region = "cn-hangzhou";
const MiB = 1024 * 1024;

let dir: string;
let server: AlibabaContractServer;
let ecs: InstanceType<typeof EcsSdk.default>;
let oss: OSS;

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function instanceStatus(instanceId: string): Promise<string | undefined> {
  const r = await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, instanceIds: JSON.stringify([instanceId]) }));
  return r.body?.instances?.instance?.[0]?.status;
}

async function harnessJson(path: string): Promise<unknown> {
  const res = await fetch(`${server.harnessUrl}/${path}`);
  return res.json();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "alibaba-contract-e2e-"));
  server = await startAlibabaContractServer({
    ...credentials,
    dataDir: join(dir, "server"),
    timings: { instanceStartMs: 1000, instanceStopMs: 200, diskCreateMs: 100, diskAttachMs: 100, diskDetachMs: 100, snapshotMs: 300, imageCreateMs: 300, imageImportMs: 300 },
    guestEnv: { NODE: process.execPath },
  });
  ecs = new EcsSdk.default(new $OpenApiUtil.Config(ecsClientConfig(server, credentials)));
  oss = new OSS(ossClientOptions(server, credentials, "lifeboat-e2e"));
  await oss.putBucket("lifeboat-e2e");
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe("an intermediate instance's guest", () => {
  // What the restore worker will do inside the instance, in miniature: write
  // each data disk through the device files the contract server names.
  const guestScript = [
    "#!/bin/sh",
    "set -e",
    'echo "devices: $LIFEBOAT_CONTRACT_DEVICES"',
    `"$NODE" -e '
const fs = require("fs");
const devices = JSON.parse(process.env.LIFEBOAT_CONTRACT_DEVICES);
for (const [device, d] of Object.entries(devices)) {
  if (device === "/dev/xvda") continue;
  const fd = fs.openSync(d.path, "r+");
  fs.writeSync(fd, Buffer.from("written by the guest to " + device), 0, undefined, 1024 * 1024);
  fs.closeSync(fd);
}
'`,
    "echo guest-done",
  ].join("\n");

  it("runs the user data when the instance is Running, with its disks as files, and the written bytes reach an image", async () => {
    const tags = [new $Ecs.RunInstancesRequestTag({ key: "lifeboat.io/restore", value: "e2e" })];
    const run = await ecs.runInstances(new $Ecs.RunInstancesRequest({
      regionId: region,
      imageId: "aliyun_3_x64_20G_alibase_20240528.vhd",
      instanceType: "ecs.g7.large",
      userData: Buffer.from(guestScript).toString("base64"),
      dataDisk: [new $Ecs.RunInstancesRequestDataDisk({ size: 20, category: "cloud_essd" })],
      tag: tags,
    }));
    const instanceId = run.body?.instanceIdSets?.instanceIdSet?.[0] ?? "";
    expect(server.harness.guestRuns(instanceId)).toEqual([]);
    await until("Running", async () => ((await instanceStatus(instanceId)) === "Running" ? true : undefined));
    const guest = await until("the guest to exit", async () => {
      const runs = (await harnessJson(`instances/${instanceId}/guest-runs`)) as { state: string; exitCode: number | null; stdout: string; stderr: string; devices: Record<string, { diskId: string }> }[];
      return runs[0]?.state === "exited" ? runs[0] : undefined;
    });
    expect(guest.stderr).toBe("");
    expect(guest.exitCode).toBe(0);
    expect(guest.stdout).toContain("guest-done");
    expect(Object.keys(guest.devices).sort()).toEqual(["/dev/xvda", "/dev/xvdb"]);
    // Like ECS, the instance stays Running after its user data ends.
    expect(await instanceStatus(instanceId)).toBe("Running");

    const dataDiskId = guest.devices["/dev/xvdb"]?.diskId ?? "";
    const snap = await ecs.createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId: dataDiskId, tag: [new $Ecs.CreateSnapshotRequestTag({ key: "lifeboat.io/restore", value: "e2e" })] }));
    const snapshotId = snap.body?.snapshotId ?? "";
    await until("accomplished", async () => {
      const r = await ecs.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: region, snapshotIds: JSON.stringify([snapshotId]) }));
      return r.body?.snapshots?.snapshot?.[0]?.status === "accomplished" ? true : undefined;
    });
    const img = await ecs.createImage(new $Ecs.CreateImageRequest({ regionId: region, diskDeviceMapping: [new $Ecs.CreateImageRequestDiskDeviceMapping({ snapshotId })] }));
    const imageId = img.body?.imageId ?? "";
    await until("Available", async () => (await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: region, imageId }))).body?.images?.image?.[0]);
    const res = await fetch(`${server.harnessUrl}/images/${imageId}/disks/1/content?offset=${MiB}&length=36`);
    expect(res.headers.get("x-lifeboat-contract-size")).toBe(String(20 * 1024 * MiB));
    expect(Buffer.from(await res.arrayBuffer()).toString()).toBe("written by the guest to /dev/xvdb".padEnd(36, "\0"));

    // Release every temporary resource, then verify by tag that none is left. As documented, the
    // snapshot cannot go while an image is made of it, Force or not: the image goes first.
    await ecs.deleteInstance(new $Ecs.DeleteInstanceRequest({ instanceId, force: true }));
    await expect(ecs.deleteSnapshot(new $Ecs.DeleteSnapshotRequest({ snapshotId, force: true }))).rejects.toMatchObject({ code: "SnapshotCreatedImage" });
    await ecs.deleteImage(new $Ecs.DeleteImageRequest({ regionId: region, imageId }));
    await ecs.deleteSnapshot(new $Ecs.DeleteSnapshotRequest({ snapshotId }));
    for (const type of ["instance", "disk", "snapshot"]) {
      const left = await ecs.listTagResources(new $Ecs.ListTagResourcesRequest({ regionId: region, resourceType: type, tag: [new $Ecs.ListTagResourcesRequestTag({ key: "lifeboat.io/restore", value: "e2e" })] }));
      expect(left.body?.tagResources?.tagResource).toEqual([]);
    }
  });

  it("kills the guest when the instance stops, and shows disks attached later only to a later guest", async () => {
    const run = await ecs.runInstances(new $Ecs.RunInstancesRequest({ regionId: region, imageId: "aliyun_3_x64_20G_alibase_20240528.vhd", instanceType: "ecs.g7.large", userData: Buffer.from("#!/bin/sh\nsleep 600\n").toString("base64") }));
    const instanceId = run.body?.instanceIdSets?.instanceIdSet?.[0] ?? "";
    await until("Running", async () => ((await instanceStatus(instanceId)) === "Running" ? true : undefined));
    const disk = await ecs.createDisk(new $Ecs.CreateDiskRequest({ regionId: region, zoneId: `${region}-i`, size: 20 }));
    const diskId = disk.body?.diskId ?? "";
    await until("Available", async () => ((await ecs.describeDisks(new $Ecs.DescribeDisksRequest({ regionId: region, diskIds: JSON.stringify([diskId]) }))).body?.disks?.disk?.[0]?.status === "Available" ? true : undefined));
    await ecs.attachDisk(new $Ecs.AttachDiskRequest({ instanceId, diskId }));
    await ecs.stopInstance(new $Ecs.StopInstanceRequest({ instanceId }));
    const first = server.harness.guestRuns(instanceId)[0];
    expect(first?.state).toBe("killed");
    expect(Object.keys(first?.devices ?? {})).toEqual(["/dev/xvda"]);
    await until("Stopped", async () => ((await instanceStatus(instanceId)) === "Stopped" ? true : undefined));
    await ecs.startInstance(new $Ecs.StartInstanceRequest({ instanceId }));
    await until("a second guest", () => Promise.resolve(server.harness.guestRuns(instanceId).length === 2 ? true : undefined));
    expect(Object.keys(server.harness.guestRuns(instanceId)[1]?.devices ?? {}).sort()).toEqual(["/dev/xvda", "/dev/xvdb"]);
    await ecs.deleteInstance(new $Ecs.DeleteInstanceRequest({ instanceId, force: true }));
    expect(server.harness.guestRuns(instanceId)[1]?.state).toBe("killed");
  });
});

describe("ImportImage of converted formats", () => {
  const raw = Buffer.alloc(8 * MiB);
  beforeAll(async () => {
    randomBytes(MiB).copy(raw, 0);
    raw.write("tail marker", 7 * MiB);
    await mkdir(join(dir, "images"), { recursive: true });
    await writeFile(join(dir, "images", "disk.raw"), raw);
  });

  for (const [format, qemu, extra] of [["QCOW2", "qcow2", []], ["VHD", "vpc", ["-o", "subformat=dynamic,force_size=on"]], ["VMDK", "vmdk", ["-o", "subformat=streamOptimized"]]] as const) {
    it(`imports a ${format} object as the raw disk bytes (qemu-img convert)`, async () => {
      const file = join(dir, "images", `disk.${qemu}`);
      await execFileAsync("qemu-img", ["convert", "-f", "raw", "-O", qemu, ...extra, join(dir, "images", "disk.raw"), file]);
      await oss.multipartUpload(`rp/disk.${qemu}`, file, { partSize: 1 * MiB });
      const res = await ecs.importImage(new $Ecs.ImportImageRequest({
        regionId: region,
        imageName: `e2e-${qemu}`,
        diskDeviceMapping: [new $Ecs.ImportImageRequestDiskDeviceMapping({ OSSBucket: "lifeboat-e2e", OSSObject: `rp/disk.${qemu}`, format, diskImageSize: 1 })],
      }));
      const taskId = res.body?.taskId ?? "";
      const task = await until("the task to end", async () => {
        const t = (await ecs.describeTasks(new $Ecs.DescribeTasksRequest({ regionId: region, taskIds: taskId }))).body?.taskSet?.task?.[0];
        return t?.taskStatus === "Processing" ? undefined : t;
      });
      expect(task.taskStatus).toBe("Finished");
      const [system] = server.harness.imageContents(res.body?.imageId ?? "");
      if (!system) throw new Error("the image has no disk");
      expect(Buffer.compare(await server.harness.read(system, 0, raw.length), raw)).toBe(0);
    });
  }

  it("fails a QCOW2 import whose object is RAW", async () => {
    await oss.put("rp/not-qcow2", raw);
    const res = await ecs.importImage(new $Ecs.ImportImageRequest({ regionId: region, diskDeviceMapping: [new $Ecs.ImportImageRequestDiskDeviceMapping({ OSSBucket: "lifeboat-e2e", OSSObject: "rp/not-qcow2", format: "QCOW2" })] }));
    const attr = await until("the task to end", async () => {
      const a = (await ecs.describeTaskAttribute(new $Ecs.DescribeTaskAttributeRequest({ regionId: region, taskId: res.body?.taskId }))).body;
      return a?.taskStatus === "Processing" ? undefined : a;
    });
    expect(attr.taskStatus).toBe("Failed");
    expect(attr.operationProgressSet?.operationProgress?.[0]?.errorMsg).toContain("not a QCOW2 image");
  });
});

describe("HTTPS", () => {
  it("serves both endpoints with a certificate of the test bed's PKI", async () => {
    const pkiDir = join(dir, "pki");
    await mkdir(pkiDir, { recursive: true });
    const pki = await createPki(pkiDir, "contract", "127.0.0.1");
    const tlsServer = await startAlibabaContractServer({ ...credentials, dataDir: join(dir, "tls"), tls: { certFile: pki.serverCert, keyFile: pki.serverKey } });
    try {
      const ca = await readFile(pki.caCert, "utf8");
      const client = new EcsSdk.default(new $OpenApiUtil.Config({ ...ecsClientConfig(tlsServer, credentials), ca }));
      expect(tlsServer.protocol).toBe("https");
      expect((await client.describeRegions(new $Ecs.DescribeRegionsRequest({ regionId: region }))).statusCode).toBe(200);
      // ali-oss takes an httpsAgent (lib/client.js), though its types omit it.
      const options: OSS.Options & { httpsAgent: HttpsAgent } = { ...ossPathStyleOptions(tlsServer, credentials, "tls-bucket"), httpsAgent: new HttpsAgent({ ca }) };
      const tlsOss = new OSS(options);
      await tlsOss.putBucket("tls-bucket");
      await tlsOss.put("x", Buffer.from("over tls"));
      expect((((await tlsOss.get("x")).content) as Buffer).toString()).toBe("over tls");
    } finally {
      await tlsServer.close();
    }
  });
});
