// The backup/restore worker as the operator runs it: the built program
// (node dist/operator/src/worker/main.js) as a child process with its spec and
// secrets in the environment, against vcsim with the harness extensions
// (snapshots freeze disk content, CBT from real writes) and a real vault
// (filesystem, and once on the versitygw S3 server). Assertions come from the
// worker's own endpoints (/progress, /metrics), its exit code, the vault and
// the simulator's disk files.
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { imageFileName } from "../../operator/src/image/formats.js";
import { check, initVault, openVault, type PointHeader, type VaultSpec } from "../../operator/src/vault/index.js";
import { connect, type MoRef, type VsphereClient } from "../../operator/src/vsphere/index.js";
import { CONTROL_TOKEN_ENV, SECRET_ENV, type WorkerSpec } from "../../operator/src/worker/spec.js";
import { expectSameAsRaw } from "../support/qemu-img.js";
import { startS3Server, type S3Server } from "../testbed/s3-server.js";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";
import { createTestVm as createVm, getJson, metric, metricsOf, progressOf, touched, waitFor, workerRunner, type TestVm } from "./worker-harness.js";

jest.setTimeout(300_000);

const MiB = 1024 * 1024;
const KiB = 1024;
/** The vcsim CBT granularity (startVcsim default). */
const CBT_BLOCK = 64 * KiB;
/** The vault's default block size. */
const VAULT_BLOCK = MiB;
const DISK_SIZE = 64 * MiB;

let sim: Vcsim;
let client: VsphereClient;
let workDir: string;
const vaultKey = randomBytes(24).toString("base64url");
const vaultPath = (): string => join(workDir, "vault");
// Inline hashing and sealing: the test process runs TypeScript, which vault worker threads cannot load.
const vaultSpec = (): VaultSpec => ({ backend: { filesystem: { path: vaultPath() } }, key: Buffer.from(vaultKey), threads: 0 });

const { runWorker, runToEnd } = workerRunner(() => ({
  [SECRET_ENV.vaultKey]: vaultKey,
  [SECRET_ENV.vcenterUsername]: sim.username,
  [SECRET_ENV.vcenterPassword]: sim.password,
}));

function backupSpec(vm: string, runId: string, extra: Partial<Extract<WorkerSpec, { mode: "backup" }>> = {}): WorkerSpec {
  return {
    mode: "backup",
    runId,
    vm: { name: vm },
    vcenter: { address: sim.address, tls: { thumbprint: sim.thumbprint } },
    vault: { filesystem: { path: vaultPath() } },
    quiesce: false,
    changedBlockTracking: true,
    labels: { plan: "nightly", namespace: "prod", vm, run: runId },
    ...extra,
  };
}

function fileRestoreSpec(pointId: string, dir: string, vault: WorkerSpec["vault"] = { filesystem: { path: vaultPath() } }): WorkerSpec {
  return { mode: "restore", pointId, vault, target: { imageFile: { format: "raw", path: dir } } };
}

/** Creates a VM with one small disk and a NIC, like the ones a plan backs up. */
function createTestVm(name: string): Promise<TestVm> {
  return createVm(client, name, [DISK_SIZE]);
}

/** The VM's live disk content, as the harness stores it. */
async function liveDisk(vm: string, s: Vcsim = sim): Promise<Buffer> {
  const disks = await s.disks(vm);
  const d = disks[0];
  if (!d) throw new Error(`VM ${vm} has no disk`);
  return readFile(d.flatPath);
}

async function writeRandom(vm: TestVm, ranges: readonly [number, number][]): Promise<void> {
  for (const [off, len] of ranges) await sim.writeDisk(vm.name, vm.diskKey, off, randomBytes(len));
}

async function pointsOf(): Promise<PointHeader[]> {
  const vault = await openVault(vaultSpec());
  try {
    return await vault.listPoints();
  } finally {
    await vault.close();
  }
}

async function lifeboatSnapshots(vm: MoRef): Promise<string[]> {
  return (await client.listSnapshots(vm)).map((s) => s.name).filter((n) => n.startsWith("lifeboat-"));
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "lifeboat-worker-e2e-"));
  sim = await startVcsim({ vms: 1, clusterHosts: 1, log: (l) => { console.log(l); } });
  client = await connect({ address: sim.address, username: sim.username, password: sim.password, tls: { thumbprint: sim.thumbprint }, keepAliveMs: 0 });
  const vault = await initVault(vaultSpec());
  await vault.close();
}, 900_000);

afterAll(async () => {
  await client.close().catch(() => undefined);
  await sim.stop();
  await rm(workDir, { recursive: true, force: true });
});

describe("backup and restore of one VM", () => {
  let vm: TestVm;
  let first: { point: string; content: Buffer };

  it("(a) a first backup reads only the allocated areas, and restores byte for byte", async () => {
    vm = await createTestVm("app-01");
    const ranges: [number, number][] = [[0, 3 * MiB], [20 * MiB, MiB], [40 * MiB + 5000, 100 * KiB]];
    await writeRandom(vm, ranges);
    const { progress, metrics, code, logs } = await runToEnd(backupSpec(vm.name, "run-a"));
    expect({ code, phase: progress.phase, message: progress.message }).toEqual({ code: 0, phase: "Succeeded", message: undefined });
    expect(progress.pointId).toBeTruthy();
    // CBT "*" reported exactly the 64 KiB blocks holding data; the worker read exactly the vault blocks they touch.
    expect(metric(metrics, "lifeboat_worker_changed_areas_bytes", vm.name, vm.diskKey)).toBe(touched(ranges, CBT_BLOCK));
    expect(metric(metrics, "lifeboat_worker_bytes_read_total", vm.name, vm.diskKey)).toBe(touched(ranges, VAULT_BLOCK));
    expect(progress.bytesDone).toBe(touched(ranges, VAULT_BLOCK));
    expect(metric(metrics, "lifeboat_worker_bytes_new_total", vm.name, vm.diskKey)).toBe(touched(ranges, VAULT_BLOCK));
    expect(metric(metrics, "lifeboat_worker_bytes_uploaded_total", vm.name, vm.diskKey)).toBeGreaterThan(4 * MiB);
    expect(JSON.stringify(logs)).not.toContain(sim.password);

    const [point] = (await pointsOf()).filter((p) => p.id === progress.pointId);
    expect(point?.labels).toMatchObject({
      plan: "nightly", namespace: "prod", vm: vm.name, run: "run-a", vmMoRef: vm.ref.value, guestOS: "otherLinux64Guest", numCPUs: "2", memoryMiB: "2048", networks: "VM Network",
      [`disk.${vm.diskKey}.label`]: expect.any(String), [`disk.${vm.diskKey}.file`]: expect.stringContaining(".vmdk"),
    });
    expect(point?.labels.vmInstanceUUID).toBeTruthy();
    expect(point?.consistency).toBe("crash");
    expect(point?.disks[0]?.changeId).toBeTruthy();
    expect(await lifeboatSnapshots(vm.ref)).toEqual([]);

    const content = await liveDisk(vm.name);
    first = { point: progress.pointId as string, content };
    const out = join(workDir, "restore-a");
    const restored = await runToEnd(fileRestoreSpec(first.point, out));
    expect(restored.code).toBe(0);
    expect(restored.progress.paths).toEqual([join(out, `${vm.name}-disk-${vm.diskKey}.raw`)]);
    expect(restored.progress.bytesDone).toBe(DISK_SIZE);
    expect((await readFile(join(out, `${vm.name}-disk-${vm.diskKey}.raw`))).equals(content)).toBe(true);
  });

  it("(a') a retried run whose point exists exits 0 without backing up again", async () => {
    const before = (await pointsOf()).length;
    const { progress, metrics, code } = await runToEnd(backupSpec(vm.name, "run-a"));
    expect(code).toBe(0);
    expect(progress.pointId).toBe(first.point);
    expect(metric(metrics, "lifeboat_worker_bytes_read_total", vm.name, vm.diskKey)).toBeNaN();
    expect((await pointsOf()).length).toBe(before);
  });

  it("(b) an incremental backup reads only the changed areas; both points restore to their moment", async () => {
    const ranges: [number, number][] = [[10 * MiB, 200 * KiB], [30 * MiB + 70_000, 64 * KiB], [50 * MiB, 300 * KiB]];
    await writeRandom(vm, ranges);
    const second = await liveDisk(vm.name);
    expect(second.equals(first.content)).toBe(false);
    const { progress, metrics, code } = await runToEnd(backupSpec(vm.name, "run-b"));
    expect(code).toBe(0);
    expect(metric(metrics, "lifeboat_worker_changed_areas_bytes", vm.name, vm.diskKey)).toBe(touched(ranges, CBT_BLOCK));
    expect(metric(metrics, "lifeboat_worker_bytes_read_total", vm.name, vm.diskKey)).toBe(touched(ranges, VAULT_BLOCK));
    expect(metric(metrics, "lifeboat_worker_bytes_from_parent_total", vm.name, vm.diskKey)).toBe(DISK_SIZE - touched(ranges, VAULT_BLOCK));
    const point = (await pointsOf()).find((p) => p.id === progress.pointId);
    expect(point?.parent).toBe(first.point);

    for (const [id, expected] of [[first.point, first.content], [progress.pointId as string, second]] as const) {
      const out = join(workDir, `restore-${id}`);
      const restored = await runToEnd(fileRestoreSpec(id, out));
      expect(restored.code).toBe(0);
      expect((await readFile(join(out, `${vm.name}-disk-${vm.diskKey}.raw`))).equals(expected)).toBe(true);
    }
  });

  it("(b') an in-place restore of the first point puts its bytes back on the original VM's disk", async () => {
    expect((await liveDisk(vm.name)).equals(first.content)).toBe(false);
    const spec: WorkerSpec = {
      mode: "restore",
      pointId: first.point,
      vault: { filesystem: { path: vaultPath() } },
      target: {
        vSphere: {
          vcenter: { address: sim.address, tls: { thumbprint: sim.thumbprint } },
          datastore: "LocalDS_0",
          inPlace: true,
          networkMappings: [],
          diskProvisioning: "Thin",
          powerOn: false,
        },
      },
    };
    const run = await runToEnd(spec);
    expect({ code: run.code, message: run.progress.message }).toEqual({ code: 0, message: undefined });
    expect(run.progress.vmMoRef).toBe(vm.ref.value);
    expect(run.progress.bytesDone).toBe(DISK_SIZE);
    expect((await client.findVmsByName(vm.name)).map((v) => v.ref.value)).toEqual([vm.ref.value]);
    expect((await liveDisk(vm.name)).equals(first.content)).toBe(true);
  });
});

describe("interruptions and failures", () => {
  let vm: TestVm;
  let content: Buffer;
  let pointId: string;

  it("(c) a worker killed mid-backup leaves nothing a rerun cannot clean: the rerun completes, check passes, no snapshot is left", async () => {
    vm = await createTestVm("app-02");
    await writeRandom(vm, [[4 * MiB, 48 * MiB]]);
    content = await liveDisk(vm.name);
    const killed = runWorker(backupSpec(vm.name, "run-c", { bandwidthBytesPerSecond: 4 * MiB }));
    const port = await killed.port;
    await waitFor("the backup to be half done", 60_000, async () => ((await progressOf(port)).bytesDone >= 8 * MiB ? true : undefined));
    expect(await lifeboatSnapshots(vm.ref)).toEqual(["lifeboat-run-c"]);
    killed.proc.kill("SIGKILL");
    expect((await killed.exit).signal).toBe("SIGKILL");
    expect(await lifeboatSnapshots(vm.ref)).toEqual(["lifeboat-run-c"]);
    expect((await pointsOf()).some((p) => p.labels.run === "run-c")).toBe(false);

    const rerun = await runToEnd(backupSpec(vm.name, "run-c"));
    expect(rerun.code).toBe(0);
    expect(rerun.logs.some((l) => l.msg === "Removed a snapshot left behind by an earlier run")).toBe(true);
    expect(await lifeboatSnapshots(vm.ref)).toEqual([]);
    pointId = rerun.progress.pointId as string;
    const vault = await openVault(vaultSpec());
    try {
      const result = await check(vault, { readData: true });
      expect(result.errors).toEqual([]);
      expect(result.ok).toBe(true);
    } finally {
      await vault.close();
    }
    const out = join(workDir, "restore-c");
    expect((await runToEnd(fileRestoreSpec(pointId, out))).code).toBe(0);
    expect((await readFile(join(out, `${vm.name}-disk-${vm.diskKey}.raw`))).equals(content)).toBe(true);
  });

  it("(d) a wrong vCenter password exits 10 (AuthenticationFailed) and leaves nothing behind", async () => {
    const wrong = `${sim.password}-wrong`;
    const before = (await pointsOf()).length;
    const run = await runToEnd(backupSpec(vm.name, "run-d"), { extraEnv: { [SECRET_ENV.vcenterPassword]: wrong } });
    expect(run.code).toBe(10);
    expect(run.progress.phase).toBe("Failed");
    expect(run.stderr).toMatch(/^AuthenticationFailed: /);
    expect(`${run.stderr}${JSON.stringify(run.logs)}${JSON.stringify(run.progress)}`).not.toContain(wrong);
    expect(await lifeboatSnapshots(vm.ref)).toEqual([]);
    expect((await pointsOf()).length).toBe(before);
  });

  it("rejects an invalid spec with exit 18 and says what to fix", async () => {
    const run = runWorker({ ...backupSpec(vm.name, "bad id!"), quiesce: "yes" } as unknown as WorkerSpec);
    const exit = await run.exit;
    expect(exit.code).toBe(18);
    expect(exit.stderr).toContain("InvalidSpec: ");
    expect(exit.stderr).toContain("spec.runId");
    expect(exit.stderr).toContain("spec.quiesce must be true or false");
  });

  it("exits 17 (PointNotFound) for a point the vault does not have", async () => {
    const run = await runToEnd(fileRestoreSpec("20990101T000000Z-deadbeef", join(workDir, "none")));
    expect(run.code).toBe(17);
  });

  it("(e) restores a point to a new VM whose disk then holds exactly the point's bytes", async () => {
    const spec: WorkerSpec = {
      mode: "restore",
      pointId,
      vault: { filesystem: { path: vaultPath() } },
      target: {
        vSphere: {
          vcenter: { address: sim.address, tls: { thumbprint: sim.thumbprint } },
          datastore: "LocalDS_0",
          vmName: "app-02-restored",
          inPlace: false,
          networkMappings: [],
          diskProvisioning: "Thin",
          powerOn: true,
        },
      },
    };
    const run = await runToEnd(spec);
    expect({ code: run.code, message: run.progress.message }).toEqual({ code: 0, message: undefined });
    expect(run.progress.bytesDone).toBe(DISK_SIZE);
    const restored = await client.getVm({ type: "VirtualMachine", value: run.progress.vmMoRef as string });
    expect(restored).toMatchObject({ name: "app-02-restored", powerState: "poweredOn", guestId: "otherLinux64Guest", numCpu: 2, memoryMB: 2048 });
    expect(restored.disks.map((d) => d.capacityBytes)).toEqual([DISK_SIZE]);
    expect(restored.nics.map((n) => n.networkName)).toEqual(["VM Network"]);
    expect((await liveDisk("app-02-restored")).equals(content)).toBe(true);
  });

  it("(f) PUT /bandwidth applies a new limit to a running backup, with the Job's control token only", async () => {
    const vm4 = await createTestVm("app-04");
    await writeRandom(vm4, [[0, 48 * MiB]]);
    const token = randomBytes(32).toString("base64url");
    const auth = { Authorization: `Bearer ${token}` };
    const run = runWorker(backupSpec(vm4.name, "run-f", { bandwidthBytesPerSecond: 8 * MiB }), { linger: 60, extraEnv: { [CONTROL_TOKEN_ENV]: token } });
    const port = await run.port;
    const readBytes = async (): Promise<number> => metric(await metricsOf(port), "lifeboat_worker_bytes_read_total", vm4.name, vm4.diskKey) || 0;
    await waitFor("the backup to start reading", 60_000, async () => ((await readBytes()) >= 2 * MiB ? true : undefined));
    // Any other pod: no token, or a guessed one, changes nothing.
    expect((await fetch(`http://127.0.0.1:${port}/bandwidth`, { method: "PUT", body: "0" })).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/bandwidth`, { method: "PUT", body: "0", headers: { Authorization: "Bearer guess" } })).status).toBe(401);
    expect(await getJson<{ bytesPerSecond: number }>(port, "/bandwidth")).toEqual({ bytesPerSecond: 8 * MiB });
    const bad = await fetch(`http://127.0.0.1:${port}/bandwidth`, { method: "PUT", body: "fast", headers: auth });
    expect(bad.status).toBe(400);
    const put = await fetch(`http://127.0.0.1:${port}/bandwidth`, { method: "PUT", body: String(MiB), headers: auth });
    expect(put.status).toBe(200);
    expect(await getJson<{ bytesPerSecond: number }>(port, "/bandwidth")).toEqual({ bytesPerSecond: MiB });
    await new Promise((r) => setTimeout(r, 1000));
    const start = await readBytes();
    await new Promise((r) => setTimeout(r, 3000));
    const window = (await readBytes()) - start;
    // 3 s at 1 MiB/s, plus one block of debt and the bucket: well under the 24 MiB the old limit allowed.
    expect(window).toBeLessThanOrEqual(3 * MiB + 2 * MiB);
    expect(window).toBeGreaterThan(0);
    expect(metric(await metricsOf(port), "lifeboat_worker_bytes_read_total", vm4.name, vm4.diskKey)).toBeLessThan(48 * MiB);
    expect((await fetch(`http://127.0.0.1:${port}/bandwidth`, { method: "PUT", body: "0", headers: auth })).status).toBe(200);
    const final = await waitFor("the backup to finish", 120_000, async () => {
      const p = await progressOf(port);
      return p.phase === "Succeeded" || p.phase === "Failed" ? p : undefined;
    });
    expect(final.phase).toBe("Succeeded");
    run.proc.kill("SIGTERM");
    expect((await run.exit).code).toBe(0);
  });
});

describe("graceful stop", () => {
  it("on SIGTERM stops the backup, removes its snapshot and exits 143", async () => {
    const vm = await createTestVm("app-05");
    await writeRandom(vm, [[0, 16 * MiB]]);
    const run = runWorker(backupSpec(vm.name, "run-t", { bandwidthBytesPerSecond: 2 * MiB }));
    const port = await run.port;
    await waitFor("the backup to read", 60_000, async () => ((await progressOf(port)).bytesDone >= 2 * MiB ? true : undefined));
    expect(await lifeboatSnapshots(vm.ref)).toEqual(["lifeboat-run-t"]);
    run.proc.kill("SIGTERM");
    const exit = await run.exit;
    expect(exit.code).toBe(143);
    expect(exit.logs.some((l) => l.msg === "Removed the snapshot")).toBe(true);
    expect(await lifeboatSnapshots(vm.ref)).toEqual([]);
    expect((await pointsOf()).some((p) => p.labels.run === "run-t")).toBe(false);
  });
});

describe("an S3 vault", () => {
  let s3: S3Server;

  beforeAll(async () => {
    s3 = await startS3Server(join(workDir, "s3"));
    await s3.createBucket("lifeboat-worker");
  });

  afterAll(async () => {
    await s3.stop();
  });

  let s3Point: { id: string; content: Buffer; diskKey: number } | undefined;
  const s3Vault = (): WorkerSpec["vault"] => ({ s3: { endpoint: s3.endpoint, bucket: "lifeboat-worker", region: s3.region, forcePathStyle: true } });
  const vaultEnv = (): Record<string, string> => ({ [SECRET_ENV.vaultAccessKeyId]: s3.accessKey, [SECRET_ENV.vaultSecretAccessKey]: s3.secretKey });
  // Loosely typed on purpose: the invalid-spec test passes both path and s3.
  const imageSpec = (pointId: string, imageFile: Record<string, unknown>): WorkerSpec =>
    ({ mode: "restore", pointId, vault: s3Vault(), target: { imageFile: { format: "raw", ...imageFile } } });

  it("backs up to S3 and restores byte for byte", async () => {
    const vault = { s3: { endpoint: s3.endpoint, bucket: "lifeboat-worker", region: s3.region, forcePathStyle: true } };
    const init = await initVault({ backend: { s3: { ...vault.s3, accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey } }, key: Buffer.from(vaultKey) });
    await init.close();
    const extraEnv = { [SECRET_ENV.vaultAccessKeyId]: s3.accessKey, [SECRET_ENV.vaultSecretAccessKey]: s3.secretKey };
    const content = await liveDisk("app-01");
    const backup = await runToEnd(backupSpec("app-01", "run-s3", { vault }), { extraEnv });
    expect({ code: backup.code, message: backup.progress.message }).toEqual({ code: 0, message: undefined });
    const out = join(workDir, "restore-s3");
    const restore = await runToEnd(fileRestoreSpec(backup.progress.pointId as string, out, vault), { extraEnv });
    expect(restore.code).toBe(0);
    const diskKey = (await client.findVmsByName("app-01"))[0]?.disks[0]?.key as number;
    expect((await readFile(join(out, `app-01-disk-${diskKey}.raw`))).equals(content)).toBe(true);
    s3Point = { id: backup.progress.pointId as string, content, diskKey };
  });

  it("restores a point as raw image objects in a bucket, uploaded in parts, byte for byte", async () => {
    if (!s3Point) throw new Error("the S3 backup test did not run");
    await s3.createBucket("lifeboat-images");
    const imageEnv = { [SECRET_ENV.imageAccessKeyId]: s3.accessKey, [SECRET_ENV.imageSecretAccessKey]: s3.secretKey };
    const run = await runToEnd(
      imageSpec(s3Point.id, { s3: { endpoint: s3.endpoint, bucket: "lifeboat-images", prefix: "/restores/app-01/", region: s3.region, forcePathStyle: true } }),
      { extraEnv: { ...vaultEnv(), ...imageEnv } },
    );
    expect({ code: run.code, message: run.progress.message }).toEqual({ code: 0, message: undefined });
    const key = `restores/app-01/app-01-disk-${s3Point.diskKey}.raw`;
    expect(run.progress.paths).toEqual([`s3://lifeboat-images/${key}`]);
    expect({ done: run.progress.bytesDone, total: run.progress.bytesTotal }).toEqual({ done: DISK_SIZE, total: DISK_SIZE });
    expect(`${run.stderr}${JSON.stringify(run.logs)}`).not.toContain(s3.secretKey);

    const bucket = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey } });
    try {
      const object = await bucket.send(new GetObjectCommand({ Bucket: "lifeboat-images", Key: key }));
      expect(object.ContentLength).toBe(DISK_SIZE);
      // A 64 MiB disk goes up as four 16 MiB parts: the ETag of a multipart object ends in "-<parts>".
      expect(object.ETag).toMatch(/-4"?$/);
      const hash = createHash("sha256");
      for await (const chunk of object.Body as Readable) hash.update(chunk as Buffer);
      expect(hash.digest("hex")).toBe(createHash("sha256").update(s3Point.content).digest("hex"));
      const pending = await bucket.send(new ListMultipartUploadsCommand({ Bucket: "lifeboat-images" }));
      expect(pending.Uploads ?? []).toEqual([]);
    } finally {
      bucket.destroy();
    }
  });

  it("restores a point as qcow2, vhd, vhd-fixed and vmdk files and objects that qemu-img reads as the raw disk", async () => {
    if (!s3Point) throw new Error("the S3 backup test did not run");
    const point = s3Point;
    const raw = join(workDir, "formats-raw.img");
    await writeFile(raw, point.content);
    const imageEnv = { [SECRET_ENV.imageAccessKeyId]: s3.accessKey, [SECRET_ENV.imageSecretAccessKey]: s3.secretKey };
    const bucket = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey } });
    try {
      for (const format of ["qcow2", "vhd", "vhd-fixed", "vmdk"] as const) {
        const dir = join(workDir, `formats-${format}`);
        const toFile = await runToEnd(imageSpec(point.id, { format, path: dir }), { extraEnv: vaultEnv() });
        expect({ format, code: toFile.code, message: toFile.progress.message }).toEqual({ format, code: 0, message: undefined });
        const file = join(dir, imageFileName("app-01", point.diskKey, format));
        expect(toFile.progress.paths).toEqual([file]);
        await expectSameAsRaw(file, format, raw);

        // A bucket gets the same bytes as a stream; the VMDK's length is known only at its end.
        const toBucket = await runToEnd(imageSpec(point.id, { format, s3: { endpoint: s3.endpoint, bucket: "lifeboat-images", prefix: "formats", region: s3.region, forcePathStyle: true } }), { extraEnv: { ...vaultEnv(), ...imageEnv } });
        expect({ format, code: toBucket.code, message: toBucket.progress.message }).toEqual({ format, code: 0, message: undefined });
        const key = `formats/${imageFileName("app-01", point.diskKey, format)}`;
        expect(toBucket.progress.paths).toEqual([`s3://lifeboat-images/${key}`]);
        const object = await bucket.send(new GetObjectCommand({ Bucket: "lifeboat-images", Key: key }));
        const downloaded = join(workDir, `formats-downloaded.${format}`);
        await pipeline(object.Body as Readable, createWriteStream(downloaded));
        // The same image (a VHD's footer carries its own time stamp and unique id, so not the same bytes).
        expect((await stat(downloaded)).size).toBe((await stat(file)).size);
        await expectSameAsRaw(downloaded, format, raw);
      }
      // The sparse formats store only the data: app-01's disk has holes, so each is smaller than the disk.
      for (const format of ["qcow2", "vhd", "vmdk"] as const) {
        expect({ format, smaller: (await stat(join(workDir, `formats-${format}`, imageFileName("app-01", point.diskKey, format)))).size < DISK_SIZE }).toEqual({ format, smaller: true });
      }
    } finally {
      bucket.destroy();
    }
  });

  it("a bucket that refuses the image credentials exits 19 (RestoreTargetFailed) without printing them", async () => {
    if (!s3Point) throw new Error("the S3 backup test did not run");
    const wrong = `${s3.secretKey}-wrong`;
    const run = await runToEnd(
      imageSpec(s3Point.id, { s3: { endpoint: s3.endpoint, bucket: "lifeboat-images", prefix: "denied" } }),
      { extraEnv: { ...vaultEnv(), [SECRET_ENV.imageAccessKeyId]: s3.accessKey, [SECRET_ENV.imageSecretAccessKey]: wrong } },
    );
    expect(run.code).toBe(19);
    expect(run.stderr).toMatch(/^RestoreTargetFailed: Uploading disk \d+ to s3:\/\/lifeboat-images\/denied\/app-01-disk-\d+\.raw at http:\S+ failed: .*signature/m);
    expect(`${run.stderr}${JSON.stringify(run.logs)}${JSON.stringify(run.progress)}`).not.toContain(wrong);
  });

  it("rejects an image target with both path and s3, or s3 without credentials, with exit 18", async () => {
    const both = runWorker(imageSpec("p", { path: join(workDir, "x"), s3: { bucket: "b" } }), { extraEnv: vaultEnv() });
    const bothExit = await both.exit;
    expect(bothExit.code).toBe(18);
    expect(bothExit.stderr).toContain("spec.target.imageFile must set exactly one of path (a directory) or s3 (a bucket)");
    const noKeys = runWorker(imageSpec("p", { s3: { bucket: "b" } }), { extraEnv: vaultEnv() });
    const noKeysExit = await noKeys.exit;
    expect(noKeysExit.code).toBe(18);
    expect(noKeysExit.stderr).toContain(`Environment variable ${SECRET_ENV.imageAccessKeyId} must hold the S3 credentials of spec.target.imageFile.s3`);
    expect(noKeysExit.stderr).toContain(SECRET_ENV.imageSecretAccessKey);
  });
});
