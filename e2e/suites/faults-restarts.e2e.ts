// Faults outside Lifeboat, each in the middle of real work, against the real
// components: the S3 server (versitygw) stopped for 60 s during a backup,
// kube-apiserver and etcd restarted during a backup and during a restore,
// vCenter (vcsim, which keeps its state across the restart) stopped for 30 s
// during a backup, and the operator killed with SIGKILL during a restore and
// during a retention pass (a maintenance Job). Each must end with
// nothing lost: the run or restore succeeds on its own, the restored disk
// holds exactly the backed-up bytes, no snapshot is left on the VM, and the
// vault checks clean, data included. The worker rides the S3 outage and the
// API server restart out (it is not retried for them); a vCenter that goes
// away takes the snapshot the worker reads with it, so that attempt fails,
// the plan says why, and a later attempt removes the orphaned snapshot and
// backs up. While the S3 outage lasts the plan says so.
import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { recoveryPointName } from "../../operator/src/controllers/backup-vault-controller.js";
import { connect, type VsphereClient } from "../../operator/src/vsphere/index.js";
import { startS3Server, type S3Server } from "../testbed/s3-server.js";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";
import { installLifeboat, operatorPods, waitForCondition } from "../support/lifeboat.js";
import { firstDisk, lifeboatCli, zeroBeyond } from "../support/dr.js";
import { adminConfig, createNamespace, eventually, killContainer, restartApiServerAndEtcd } from "../support/testbed.js";

const MiB = 1024 * 1024;
const VAULT_KEY = randomBytes(32).toString("base64");
/** Random, so the upload is as large as the data: at BANDWIDTH a backup lasts long enough to be hit mid-transfer. */
const FULL = randomBytes(48 * MiB);
const CHANGE_AT = 64 * MiB;
const CHANGE = randomBytes(32 * MiB);
/** Everything written lies below this offset; the rest of the 10 GiB disk is zeros. */
const WRITTEN = CHANGE_AT + CHANGE.length;
const BANDWIDTH = "2Mi";
const OUTAGE_MS = 60_000;
/**
 * vCenter is down this long: longer than the worker Job's quick retries (pods 10 s, 20 s and 40 s apart, some 70 s),
 * which a backup's worker outlasts by waiting for vCenter at its login.
 */
const VCENTER_OUTAGE_MS = 100_000;
/** Written before the run vCenter restarts in: CBT makes it the run's whole transfer, 8 s at BANDWIDTH. */
const RESTART_CHANGE = randomBytes(16 * MiB);
/** vcsim holds each PowerOnVM_Task this long: a restore's worker (which powers its VM on) is surely still running when a fault lands. */
const POWER_ON_DELAY_MS = 20_000;

let ns: string;
let workDir: string;
let vcsim: Vcsim;
let s3: S3Server;
let client: VsphereClient;
let custom: k8s.CustomObjectsApi;
let core: k8s.CoreV1Api;
let vm: string;
let datastore: string;

interface VmEntry { name: string; phase: string; bytesDone?: number; attempts?: number; reason?: string; message?: string; recoveryPoint?: string }
interface PlanStatus {
  lastRun?: { id?: string; result?: string; message?: string };
  lastResults?: VmEntry[];
  currentRun?: { id?: string; vms?: VmEntry[] };
  retention?: { job?: string; phase?: string; forgotten?: number; keptLocked?: number; message?: string };
  conditions?: { type: string; status: string; reason: string; message: string }[];
}

const api = (plural: string) => ({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural });

function create(kind: string, name: string, spec: object) {
  return custom.createNamespacedCustomObject({ ...api(`${kind.toLowerCase()}s`), body: { apiVersion: "lifeboat.io/v1alpha1", kind, metadata: { name }, spec } });
}

async function planStatus(): Promise<PlanStatus> {
  return ((await custom.getNamespacedCustomObject({ ...api("backupplans"), name: "plan" })) as { status?: PlanStatus }).status ?? {};
}

/** Asks for a run; resolves with the plan's status once it has ended (polling rides out an API server restart). */
async function runPlan(request: string): Promise<PlanStatus> {
  const before = (await planStatus()).lastRun?.id;
  await custom.patchNamespacedCustomObject({ ...api("backupplans"), name: "plan", body: { spec: { runRequest: request } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch));
  return eventually(`run ${request} to finish`, async () => {
    const s = await planStatus();
    return s.lastRun?.id && s.lastRun.id !== before && !s.currentRun ? s : undefined;
  }, 600_000);
}

/** The running run's VM entry once its worker has moved at least `bytes`. */
function transferring(bytes: number): Promise<VmEntry> {
  return eventually("the worker to transfer", async () => {
    const entry = (await planStatus()).currentRun?.vms?.[0];
    return entry?.phase === "Transferring" && (entry.bytesDone ?? 0) >= bytes ? entry : undefined;
  }, 180_000);
}

/** Starts a restore of `point` to a new VM and resolves once its worker pod runs. */
async function startRestore(name: string, point: string): Promise<void> {
  await create("RestoreJob", name, { recoveryPointRef: { name: point }, gatewayRef: { name: "gw" }, target: { vSphere: { vCenterRef: { name: "vc" }, datastore, vmName: name, powerOn: true } } });
  await eventually(`restore ${name}'s worker to run`, async () => {
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: "app.kubernetes.io/component=worker" });
    return pods.items.some((p) => p.metadata?.name?.startsWith(`restore-${name}-`) && p.status?.phase === "Running") ? true : undefined;
  }, 180_000);
}

/** The bytes of a disk image below WRITTEN, where everything the suite writes lies. */
async function readWritten(path: string): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(WRITTEN);
    await fh.read(buf, 0, WRITTEN, 0);
    return buf;
  } finally {
    await fh.close();
  }
}

/** The restored VM's disk holds exactly the source disk's bytes. */
async function expectRestoredDisk(name: string): Promise<void> {
  const [source, restored] = [await firstDisk(vcsim, vm), await firstDisk(vcsim, name)];
  expect((await readWritten(restored.flatPath)).equals(await readWritten(source.flatPath))).toBe(true);
  expect(restored.capacityBytes).toBe(source.capacityBytes);
  expect(await zeroBeyond(restored.flatPath, WRITTEN, restored.capacityBytes)).toBe(true);
}

const s3Env = () => ({ AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey, AWS_ENDPOINT_URL: s3.endpoint, AWS_REGION: s3.region });

beforeAll(async () => {
  custom = adminConfig().makeApiClient(k8s.CustomObjectsApi);
  core = adminConfig().makeApiClient(k8s.CoreV1Api);
  workDir = await mkdtemp(join(tmpdir(), "lifeboat-faults-restarts-e2e-"));
  s3 = await startS3Server(join(workDir, "s3"));
  await s3.createBucket("vault");
  vcsim = await startVcsim({ standaloneHosts: 1, clusters: 0, vms: 1, taskDelays: { PowerOnVM_Task: POWER_ON_DELAY_MS }, restartable: true });
  client = await connect({ address: vcsim.address, username: vcsim.username, password: vcsim.password, tls: { thumbprint: vcsim.thumbprint } });
  const inventory = await client.inventory();
  vm = inventory.vms.find((v) => !v.template)?.name ?? "";
  datastore = inventory.datastores[0]?.name ?? "";
  const disk = await firstDisk(vcsim, vm);
  await vcsim.writeDisk(vm, disk.key, 0, FULL);

  ns = await createNamespace("faults-restarts");
  await installLifeboat();
  const secret = (name: string, data: Record<string, string>) => core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: data } });
  await secret("vault-key", { key: VAULT_KEY });
  await secret("s3-credentials", { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey });
  await secret("vc", { username: vcsim.username, password: vcsim.password });
  await create("BackupVault", "vault", { backend: { s3: { endpoint: s3.endpoint, bucket: "vault", region: s3.region, forcePathStyle: true, useHTTPS: false, credentialsSecretRef: { name: "s3-credentials" } } }, encryption: { keySecretRef: { name: "vault-key" } } });
  // Flow control around the clock: a backup lasts long enough for a fault to land in it.
  const always = { days: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], start: "00:00", end: "23:59", bandwidth: BANDWIDTH };
  await create("Gateway", "gw", { vaultRef: { name: "vault" }, flowControl: [always] });
  await create("VCenter", "vc", { address: vcsim.address, credentialsSecretRef: { name: "vc" }, tls: { thumbprint: vcsim.thumbprint }, gatewayRef: { name: "gw" } });
  await create("BackupPlan", "plan", { vCenterRef: { name: "vc" }, vaultRef: { name: "vault" }, gatewayRef: { name: "gw" }, vms: { names: [vm] }, retention: { keepLast: 10 } });
  await waitForCondition("BackupPlan", ns, "plan", "Ready", "True", undefined, 180_000);
}, 600_000);

afterAll(async () => {
  await client.close().catch(() => undefined);
  await (vcsim as Vcsim | undefined)?.stop().catch(() => undefined);
  await (s3 as S3Server | undefined)?.stop().catch(() => undefined);
  await rm(workDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 500 });
});

describe("faults outside Lifeboat, in the middle of real work", () => {
  it("the S3 server stopped for 60 s during a backup: the plan says so while it lasts, and the worker finishes once S3 is back", async () => {
    const run = runPlan("s3-outage");
    await transferring(2 * MiB);
    await s3.stop();
    const stopped = Date.now();
    try {
      const during = await eventually("the plan to show the outage", async () => {
        const entry = (await planStatus()).currentRun?.vms?.[0];
        return entry?.reason === "VaultUnavailable" ? entry : undefined;
      }, OUTAGE_MS - 5_000);
      expect(during.message).toMatch(/^the vault does not answer \(.*\); the worker has been retrying since \S+ and goes on for up to 5 minutes$/);
      await new Promise((r) => setTimeout(r, Math.max(0, stopped + OUTAGE_MS - Date.now())));
    } finally {
      await s3.start();
    }
    const status = await run;
    expect(status.lastRun?.result).toBe("Succeeded");
    const [entry] = status.lastResults ?? [];
    // One attempt: the worker rode the outage out rather than failing and being retried.
    expect(entry).toMatchObject({ phase: "Succeeded", attempts: 1 });
    expect(entry?.reason).toBeUndefined();
    expect(entry?.recoveryPoint).toBeDefined();
  }, 900_000);

  it("kube-apiserver and etcd restarted during an incremental backup: the run succeeds with its first worker", async () => {
    await vcsim.writeDisk(vm, (await firstDisk(vcsim, vm)).key, CHANGE_AT, CHANGE);
    const run = runPlan("apiserver-restart");
    await transferring(1);
    await restartApiServerAndEtcd();
    const status = await run;
    expect(status.lastRun?.result).toBe("Succeeded");
    expect(status.lastResults?.[0]).toMatchObject({ phase: "Succeeded", attempts: 1 });
  }, 900_000);

  it("the operator killed (SIGKILL) during a restore: the restarted operator follows it to the end", async () => {
    const point = (await planStatus()).lastResults?.[0]?.recoveryPoint ?? "";
    await startRestore("after-kill", point);
    for (const pod of await operatorPods()) await killContainer(pod);
    await waitForCondition("RestoreJob", ns, "after-kill", "Succeeded", "True", undefined, 300_000);
    await expectRestoredDisk("after-kill");
  }, 600_000);

  it("kube-apiserver and etcd restarted during a restore: it succeeds, bytes intact", async () => {
    const point = (await planStatus()).lastResults?.[0]?.recoveryPoint ?? "";
    await startRestore("after-restart", point);
    await restartApiServerAndEtcd();
    await waitForCondition("RestoreJob", ns, "after-restart", "Succeeded", "True", undefined, 300_000);
    await expectRestoredDisk("after-restart");
  }, 600_000);

  it("vCenter stopped for 100 s and restarted during a backup: the plan says which attempt failed and why, then that the next waits for vCenter; it removes the orphaned snapshot, and the point holds the disk's bytes", async () => {
    const disk = await firstDisk(vcsim, vm);
    await vcsim.writeDisk(vm, disk.key, 0, RESTART_CHANGE);
    const run = runPlan("vcenter-restart");
    await transferring(MiB);
    await vcsim.serviceStop();
    const stopped = Date.now();
    try {
      const during = await eventually("the plan to show the failed attempt", async () => {
        const entry = (await planStatus()).currentRun?.vms?.[0];
        return entry?.message?.startsWith("attempt ") ? entry : undefined;
      }, VCENTER_OUTAGE_MS - 5_000);
      expect(during.reason).toBe("VCenterUnreachable");
      expect(during.message).toMatch(/^attempt 1 of 4 failed \(VCenterUnreachable: .+\); the worker Job tries again$/);
      // The Job's next attempt waits at its login rather than failing in turn, and says so.
      const waiting = await eventually("the plan to show the next attempt waiting for vCenter", async () => {
        const entry = (await planStatus()).currentRun?.vms?.[0];
        return entry?.message?.startsWith("vCenter ") ? entry : undefined;
      }, Math.max(1_000, stopped + VCENTER_OUTAGE_MS - 5_000 - Date.now()));
      expect(waiting.reason).toBe("VCenterUnreachable");
      expect(waiting.message).toMatch(/^vCenter \S+ does not answer \(.+\); the worker has been retrying since \S+ and goes on for up to 5 minutes$/);
      await new Promise((r) => setTimeout(r, Math.max(0, stopped + VCENTER_OUTAGE_MS - Date.now())));
    } finally {
      await vcsim.serviceStart();
    }
    const status = await run;
    expect(status.lastRun?.result).toBe("Succeeded");
    const [entry] = status.lastResults ?? [];
    expect(entry).toMatchObject({ phase: "Succeeded" });
    // Past the Job's quick retries (some 70 s in all): the run succeeded because an attempt waited vCenter out.
    expect(entry?.attempts).toBeGreaterThan(1);
    expect(entry?.reason).toBeUndefined();
    const [source] = (await client.findVmsByName(vm)).filter((v) => !v.template);
    expect(await client.listSnapshots(source?.ref ?? { type: "VirtualMachine", value: "" })).toEqual([]);
    // The point is the disk as it was: restored by the CLI, byte for byte.
    const file = join(workDir, "vcenter-restart.img");
    const restored = await lifeboatCli(["vault", "restore", "latest", "--repo", "s3://vault", "--disk", `${disk.key}=${file}`], VAULT_KEY, s3Env());
    if (restored.code !== 0) throw new Error(`vault restore exited ${restored.code}: ${restored.stderr}`);
    expect((await readWritten(file)).equals(await readWritten((await firstDisk(vcsim, vm)).flatPath))).toBe(true);
    await rm(file, { force: true });
  }, 900_000);

  it("the operator killed (SIGKILL) during a retention pass: its maintenance Job finishes, and the restarted operator records what it did", async () => {
    await custom.patchNamespacedCustomObject({ ...api("backupplans"), name: "plan", body: { spec: { retention: { keepLast: 1 } } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch));
    const run = runPlan("retention");
    // The run's end starts the pass (status.retention Running, a maintenance Job); the kill lands then.
    const pass = await eventually("the retention pass to start", async () => {
      const r = (await planStatus()).retention;
      return r?.phase === "Running" && r.job ? r : undefined;
    }, 600_000);
    for (const pod of await operatorPods()) await killContainer(pod);
    const status = await run;
    expect(status.lastRun?.result).toBe("Succeeded");
    const ended = await eventually("the restarted operator to record the pass", async () => {
      const r = (await planStatus()).retention;
      return r && r.job === pass.job && r.phase !== "Running" ? r : undefined;
    }, 300_000);
    // Four points (the S3 outage run, the API server restart run, the vCenter restart run, this run); keepLast 1 forgets three, in the Job's pod.
    expect(ended).toMatchObject({ phase: "Succeeded", forgotten: 3, keptLocked: 0 });
    expect(ended.message).toMatch(/^forgot 3 recovery point\(s\) the retention does not keep; prune freed \d+ bytes/);
    const job = await adminConfig().makeApiClient(k8s.BatchV1Api).readNamespacedJob({ namespace: ns, name: pass.job ?? "" });
    expect(job.metadata?.labels).toMatchObject({ "app.kubernetes.io/component": "worker", "lifeboat.io/maintenance-for-kind": "BackupPlan", "lifeboat.io/maintenance-for": "plan" });
    const ls = await lifeboatCli(["vault", "ls", "--json", "--repo", "s3://vault"], VAULT_KEY, s3Env());
    const points = JSON.parse(ls.stdout) as { id: string }[];
    // The one kept is this run's point.
    expect(points).toHaveLength(1);
    expect(status.lastResults?.[0]?.recoveryPoint).toBe(recoveryPointName({ id: points[0]?.id ?? "", labels: { vm } } as never));
  }, 900_000);

  it("leaves no snapshot on the VM and a vault that checks clean, data included", async () => {
    const [source] = (await client.findVmsByName(vm)).filter((v) => !v.template);
    expect(await client.listSnapshots(source?.ref ?? { type: "VirtualMachine", value: "" })).toEqual([]);
    const check = await lifeboatCli(["vault", "check", "--read-data", "--repo", "s3://vault"], VAULT_KEY, s3Env());
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/^No errors in 1 points?, \d+ packs, \d+ blocks; verified/);
  });

  it("verifies the vault with a maintenance Job on request: Verified True, then False naming a pack whose byte was flipped", async () => {
    const requestCheck = (request: string) => custom.patchNamespacedCustomObject({ ...api("backupvaults"), name: "vault", body: { spec: { check: { gatewayRef: { name: "gw" }, readData: true, request } } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch));
    await requestCheck("clean");
    const clean = await waitForCondition("BackupVault", ns, "vault", "Verified", "True", "CheckPassed", 300_000);
    expect(clean.message).toMatch(/^no errors in 1 point\(s\), \d+ pack\(s\), \d+ bytes of data verified/);
    const vault = (await custom.getNamespacedCustomObject({ ...api("backupvaults"), name: "vault" })) as { status?: { lastCheck?: { job?: string; trigger?: string; errors?: number; bytesVerified?: number } } };
    expect(vault.status?.lastCheck).toMatchObject({ trigger: "Request", errors: 0 });
    expect(vault.status?.lastCheck?.bytesVerified).toBeGreaterThan(0);
    const job = await adminConfig().makeApiClient(k8s.BatchV1Api).readNamespacedJob({ namespace: ns, name: vault.status?.lastCheck?.job ?? "" });
    expect(job.metadata?.labels).toMatchObject({ "lifeboat.io/maintenance-for-kind": "BackupVault", "lifeboat.io/maintenance-for": "vault" });

    // Flip one byte in the middle of a pack, behind Lifeboat's back.
    const bucket = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey } });
    try {
      const listed = await bucket.send(new ListObjectsV2Command({ Bucket: "vault", Prefix: "data/" }));
      const pack = listed.Contents?.find((o) => (o.Size ?? 0) > 1024)?.Key ?? "";
      expect(pack).not.toBe("");
      const bytes = Buffer.from(await (await bucket.send(new GetObjectCommand({ Bucket: "vault", Key: pack }))).Body?.transformToByteArray() ?? []);
      const at = Math.floor(bytes.length / 2);
      bytes[at] = (bytes[at] ?? 0) ^ 0xff;
      await bucket.send(new PutObjectCommand({ Bucket: "vault", Key: pack, Body: bytes }));
      await requestCheck("damaged");
      const damaged = await waitForCondition("BackupVault", ns, "vault", "Verified", "False", "CheckFoundErrors", 300_000);
      expect(damaged.message).toContain(pack.split("/").pop() ?? "");
    } finally {
      bucket.destroy();
    }
  }, 900_000);
});
