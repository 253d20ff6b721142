// The worker as disaster recovery uses it, run as the built program against
// two vcsim sites (with the harness extensions: snapshots freeze disk content,
// CBT from real writes) and real filesystem vaults with different keys:
// replication cycles that keep their own chain beside BackupPlan points,
// resyncs when CBT cannot be trusted, seeding a reverse chain from the other
// site's vault while reading locally what a local VM already holds, and the
// restore options of drills, failover and failback.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { initVault, openVault, type PointHeader, type VaultSpec } from "../../operator/src/vault/index.js";
import { blockAt, HOLE } from "../../operator/src/vault/manifest.js";
import { connect, type VsphereClient } from "../../operator/src/vsphere/index.js";
import { SECRET_ENV, type BackupWorkerSpec, type RestoreWorkerSpec, type SeedWorkerSpec, type WorkerSpec } from "../../operator/src/worker/spec.js";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";
import { createTestVm, metric, progressOf, touched, waitFor, workerRunner, type TestVm } from "./worker-harness.js";

jest.setTimeout(300_000);

const MiB = 1024 * 1024;
const KiB = 1024;
const DISK_SIZE = 64 * MiB;
const REPLICATION = ["namespace", "protectedServer", "direction"];

/** Both sites' vCenters share one user, so one pair of credential variables serves either. */
const username = "administrator@vsphere.local";
const password = randomBytes(12).toString("base64url");
let siteA: Vcsim;
let siteB: Vcsim;
let clientA: VsphereClient;
let clientB: VsphereClient;
let workDir: string;
/** Vault F at the protected site and vault R at the recovery site: two repositories, two keys. */
const keyF = randomBytes(24).toString("base64url");
const keyR = randomBytes(24).toString("base64url");
const vaultF = (): { filesystem: { path: string } } => ({ filesystem: { path: join(workDir, "vault-f") } });
const vaultR = (): { filesystem: { path: string } } => ({ filesystem: { path: join(workDir, "vault-r") } });
// Inline hashing and sealing: the test process runs TypeScript, which vault worker threads cannot load.
const vaultSpec = (v: { filesystem: { path: string } }, key: string): VaultSpec => ({ backend: { filesystem: v.filesystem }, key: Buffer.from(key), threads: 0 });
/** A worker writing into (or restoring from) vault R, seeding from vault F. */
const intoR = { extraEnv: { [SECRET_ENV.vaultKey]: keyR, [SECRET_ENV.sourceVaultKey]: keyF } };

const { runWorker, runToEnd } = workerRunner(() => ({
  [SECRET_ENV.vaultKey]: keyF,
  [SECRET_ENV.vcenterUsername]: username,
  [SECRET_ENV.vcenterPassword]: password,
}));

const vcenterOf = (s: Vcsim): BackupWorkerSpec["vcenter"] => ({ address: s.address, tls: { thumbprint: s.thumbprint } });

/** A replication cycle of `vm` into vault F (protected server "db", forward). */
function cycleSpec(vm: string, runId: string, extra: Partial<BackupWorkerSpec> = {}): WorkerSpec {
  return {
    mode: "backup",
    runId,
    vm: { name: vm },
    vcenter: vcenterOf(siteA),
    vault: vaultF(),
    quiesce: false,
    changedBlockTracking: true,
    lineage: REPLICATION,
    labels: { namespace: "prod", protectedServer: "db", direction: "forward", vm, run: runId },
    ...extra,
  };
}

/** A BackupPlan backup of the same VM into the same vault. */
function planSpec(vm: string, runId: string): WorkerSpec {
  return { ...cycleSpec(vm, runId), lineage: undefined, labels: { namespace: "prod", plan: "nightly", vm, run: runId } } as WorkerSpec;
}

function fileRestoreSpec(pointId: string, dir: string, vault = vaultF()): WorkerSpec {
  return { mode: "restore", pointId, vault, target: { imageFile: { format: "raw", path: dir } } };
}

type VSphereTarget = Extract<RestoreWorkerSpec["target"], { vSphere: unknown }>["vSphere"];

function vmRestoreSpec(pointId: string, target: Partial<VSphereTarget>, vault = vaultF()): WorkerSpec {
  return {
    mode: "restore",
    pointId,
    vault,
    target: { vSphere: { vcenter: vcenterOf(siteA), datastore: "LocalDS_0", inPlace: false, networkMappings: [], diskProvisioning: "Thin", powerOn: false, ...target } },
  };
}

/** The VM's live disk content, as the harness stores it. */
async function liveDisk(s: Vcsim, vm: string): Promise<Buffer> {
  const d = (await s.disks(vm))[0];
  if (!d) throw new Error(`VM ${vm} has no disk`);
  return readFile(d.flatPath);
}

/** Restores a point to a raw file and returns its bytes. */
async function restoredContent(pointId: string, vault = vaultF(), opts = {}): Promise<Buffer> {
  const dir = join(workDir, `restore-${pointId}-${randomBytes(3).toString("hex")}`);
  const run = await runToEnd(fileRestoreSpec(pointId, dir, vault), opts);
  expect({ code: run.code, message: run.progress.message }).toEqual({ code: 0, message: undefined });
  return readFile((run.progress.paths ?? [])[0] ?? "");
}

async function pointsOf(v = vaultF(), key = keyF): Promise<PointHeader[]> {
  const vault = await openVault(vaultSpec(v, key));
  try {
    return await vault.listPoints();
  } finally {
    await vault.close();
  }
}

async function pointOf(id: string | undefined, v = vaultF(), key = keyF): Promise<PointHeader> {
  const p = (await pointsOf(v, key)).find((x) => x.id === id);
  if (!p) throw new Error(`Point ${String(id)} is not in ${v.filesystem.path}`);
  return p;
}

/**
 * 64 MiB of mixed data in 1 MiB blocks: random, compressible text, holes.
 * Blocks 0-7 random, 8-15 text, 16-23 holes, 24-39 random, 40-47 text, 48-63 holes.
 */
function mixedImage(): Buffer {
  const img = Buffer.alloc(DISK_SIZE);
  const fill = (from: number, to: number, kind: "random" | "text"): void => {
    for (let b = from; b < to; b++) {
      if (kind === "random") randomBytes(MiB).copy(img, b * MiB);
      else img.write(`block ${b} of the db-01 disk; `.repeat(MiB / 32), b * MiB, "utf8");
    }
  };
  fill(0, 8, "random");
  fill(8, 16, "text");
  fill(24, 40, "random");
  fill(40, 48, "text");
  return img;
}

/** Writes the non-zero MiBs of `img` into the VM's disk. */
async function writeImage(s: Vcsim, vm: TestVm, img: Buffer): Promise<void> {
  for (let at = 0; at < img.length; at += MiB) {
    const block = img.subarray(at, at + MiB);
    if (!block.equals(Buffer.alloc(MiB))) await s.writeDisk(vm.name, vm.diskKey, at, block);
  }
}

async function lifeboatSnapshots(c: VsphereClient, vm: TestVm): Promise<string[]> {
  return (await c.listSnapshots(vm.ref)).map((s) => s.name).filter((n) => n.startsWith("lifeboat-"));
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "lifeboat-worker-dr-e2e-"));
  [siteA, siteB] = await Promise.all([1, 2].map(() => startVcsim({ vms: 1, clusterHosts: 1, username, password, log: (l) => { console.log(l); } })) as [Promise<Vcsim>, Promise<Vcsim>]);
  const login = (s: Vcsim): Promise<VsphereClient> => connect({ address: s.address, username, password, tls: { thumbprint: s.thumbprint }, keepAliveMs: 0 });
  [clientA, clientB] = await Promise.all([login(siteA), login(siteB)]);
  for (const [v, key] of [[vaultF(), keyF], [vaultR(), keyR]] as const) await (await initVault(vaultSpec(v, key))).close();
}, 900_000);

afterAll(async () => {
  await clientA.close().catch(() => undefined);
  await clientB.close().catch(() => undefined);
  await siteA.stop();
  await siteB.stop();
  await rm(workDir, { recursive: true, force: true });
});

/** VM db-01 at the protected site; `image` is its content when cycle c1 ran. */
let vmA: TestVm;
const image = mixedImage();
/** Point P: cycle c1 of db-01 in vault F, holding `image`. */
let pointP: PointHeader;

describe("replication cycles", () => {
  let planFirst: PointHeader;

  it("keep their own chain beside BackupPlan points of the same VM in the same vault, and read only what changed", async () => {
    vmA = await createTestVm(clientA, "db-01", [DISK_SIZE]);
    await writeImage(siteA, vmA, image);
    const plan1 = await runToEnd(planSpec(vmA.name, "plan-1"));
    expect(plan1.code).toBe(0);
    planFirst = await pointOf(plan1.progress.pointId);

    const c1 = await runToEnd(cycleSpec(vmA.name, "c1"));
    expect({ code: c1.code, message: c1.progress.message, resync: c1.progress.resync }).toEqual({ code: 0, message: undefined, resync: undefined });
    pointP = await pointOf(c1.progress.pointId);
    // The BackupPlan point of this VM is not the cycle's parent: the first cycle of a chain reads the allocated areas.
    expect(pointP.parent).toBeUndefined();
    expect(pointP.labels).toMatchObject({ namespace: "prod", protectedServer: "db", direction: "forward", vm: vmA.name, run: "c1" });
    expect(pointP.labels.plan).toBeUndefined();
    expect(pointP.disks[0]?.readBytes).toBe(40 * MiB);

    const changes: [number, number][] = [[2 * MiB + 5000, 200 * KiB], [30 * MiB, 64 * KiB], [50 * MiB, 300 * KiB]];
    for (const [off, len] of changes) await siteA.writeDisk(vmA.name, vmA.diskKey, off, randomBytes(len));
    const c2 = await runToEnd(cycleSpec(vmA.name, "c2"));
    expect(c2.code).toBe(0);
    const second = await pointOf(c2.progress.pointId);
    expect(second.parent).toBe(pointP.id);
    expect(metric(c2.metrics, "lifeboat_worker_bytes_read_total", vmA.name, vmA.diskKey)).toBe(touched(changes, MiB));
    expect(second.disks[0]?.readBytes).toBe(3 * MiB);
    expect(second.labels.resync).toBeUndefined();

    // ...and a BackupPlan backup continues from the plan's point, not from the newer cycles.
    const plan2 = await runToEnd(planSpec(vmA.name, "plan-2"));
    expect(plan2.code).toBe(0);
    const planSecond = await pointOf(plan2.progress.pointId);
    expect(planSecond.parent).toBe(planFirst.id);
    expect(planSecond.disks[0]?.readBytes).toBe(3 * MiB);
    expect((await restoredContent(pointP.id)).equals(image)).toBe(true);
  });

  it("resync with ChangeIdRejected after CBT was reset between cycles, reading the allocated areas and storing little", async () => {
    // Off and on again: the VM tracks changes when the cycle starts, but the parent's changeId belongs to the old tracking session.
    await clientA.setChangeTracking(vmA.ref, false);
    await clientA.setChangeTracking(vmA.ref, true);
    await siteA.writeDisk(vmA.name, vmA.diskKey, 20 * MiB, randomBytes(64 * KiB));
    const live = await liveDisk(siteA, vmA.name);
    // Asked to hold, a run finds the rejection only from CBT, after its snapshot: it stops there and leaves nothing.
    const before = (await pointsOf()).length;
    const held = await runToEnd(cycleSpec(vmA.name, "c3h", { holdResync: true }));
    expect(held.code).toBe(24);
    expect(await clientA.listSnapshots(vmA.ref)).toHaveLength(0);
    expect((await pointsOf()).length).toBe(before);
    const c3 = await runToEnd(cycleSpec(vmA.name, "c3"));
    expect({ code: c3.code, resync: c3.progress.resync }).toEqual({ code: 0, resync: "ChangeIdRejected" });
    expect(c3.logs.some((l) => l.msg === "CBT refused the parent's changeId (change tracking was reset); reading the allocated areas")).toBe(true);
    const point = await pointOf(c3.progress.pointId);
    expect(point.labels.resync).toBe("ChangeIdRejected");
    expect(point.parent).toBeUndefined();
    const disk = point.disks[0];
    // Every allocated MiB was read again (42: c1's 40, the MiB c2 wrote into a hole, the new one)...
    expect(disk?.readBytes).toBe(disk?.allocatedBytes);
    expect(disk?.readBytes).toBe(42 * MiB);
    // ...but only the one changed MiB was new to the vault.
    expect(disk?.newBytes).toBe(MiB);
    expect(point.storedBytes).toBeLessThan(1.1 * MiB);
    expect((await restoredContent(point.id)).equals(live)).toBe(true);
  });

  it("resync with ChangeTrackingReset when the cycle has to turn CBT on, and say so in /progress while it runs", async () => {
    await clientA.setChangeTracking(vmA.ref, false);
    const live = await liveDisk(siteA, vmA.name);
    const run = runWorker(cycleSpec(vmA.name, "c4", { bandwidthBytesPerSecond: 8 * MiB }), { linger: 60 });
    const port = await run.port;
    const during = await waitFor("the cycle to transfer", 60_000, async () => {
      const p = await progressOf(port);
      return p.phase === "Transferring" && p.bytesDone > 0 ? p : undefined;
    });
    expect(during.resync).toBe("ChangeTrackingReset");
    expect(during.bytesDone).toBeLessThan(during.bytesTotal);
    const final = await waitFor("the cycle to finish", 120_000, async () => {
      const p = await progressOf(port);
      return p.phase === "Succeeded" || p.phase === "Failed" ? p : undefined;
    });
    run.proc.kill("SIGTERM");
    expect((await run.exit).code).toBe(0);
    const point = await pointOf(final.pointId);
    expect({ resync: point.labels.resync, parent: point.parent, stored: point.storedBytes }).toEqual({ resync: "ChangeTrackingReset", parent: undefined, stored: 0 });
    expect(point.disks[0]?.readBytes).toBe(42 * MiB);
    expect((await restoredContent(point.id)).equals(live)).toBe(true);
  });

  it("hold a resync it finds needed when asked to (business hours): exit with the reason's code before reading, and leave nothing", async () => {
    // CBT off with a parent: the run would turn it on and resync (ChangeTrackingReset); holdResync leaves both for later.
    await clientA.setChangeTracking(vmA.ref, false);
    const before = (await pointsOf()).length;
    const held = await runToEnd(cycleSpec(vmA.name, "c5h", { holdResync: true }));
    expect(held.code).toBe(26);
    expect(held.logs.some((l) => l.reason === "ResyncHeld" && typeof l.err === "string" && l.err.includes("(ChangeTrackingReset) and held"))).toBe(true);
    expect((await pointsOf()).length).toBe(before);
    expect(await clientA.listSnapshots(vmA.ref)).toHaveLength(0);
    // Held before tracking was turned on: the VM is as it was, so the next run finds the same need by itself.
    expect((await clientA.getVm(vmA.ref)).changeTrackingEnabled).toBe(false);
    expect((await runToEnd(cycleSpec(vmA.name, "c5h2", { holdResync: true }))).code).toBe(26);
    // The controller gives the held reason to the cycle after business hours: made even with holdResync.
    const live = await liveDisk(siteA, vmA.name);
    const made = await runToEnd(cycleSpec(vmA.name, "c5r", { resync: "ChangeTrackingReset", holdResync: true }));
    expect({ code: made.code, resync: made.progress.resync }).toEqual({ code: 0, resync: "ChangeTrackingReset" });
    const point = await pointOf(made.progress.pointId);
    expect({ resync: point.labels.resync, parent: point.parent, read: point.disks[0]?.readBytes }).toEqual({ resync: "ChangeTrackingReset", parent: undefined, read: 42 * MiB });
    expect((await restoredContent(point.id)).equals(live)).toBe(true);
  });

  it("resync when the controller asks, with its reason", async () => {
    const run = await runToEnd(cycleSpec(vmA.name, "c5", { resync: "Requested" }));
    expect({ code: run.code, resync: run.progress.resync }).toEqual({ code: 0, resync: "Requested" });
    const point = await pointOf(run.progress.pointId);
    expect({ resync: point.labels.resync, parent: point.parent, read: point.disks[0]?.readBytes }).toEqual({ resync: "Requested", parent: undefined, read: 42 * MiB });
  });
});

/** The seeded point in vault R: `image`'s content, disk key "2000". */
let seeded: PointHeader;

describe("seeding a reverse chain", () => {
  let vmB: TestVm;
  /** Bytes of P's stored blob for each of its blocks (zero for a hole). */
  let blobBytes: number[];

  const seedSpec = (runId: string, extra: Partial<SeedWorkerSpec> = {}): WorkerSpec => ({
    mode: "seed",
    runId,
    vault: vaultR(),
    source: { vault: vaultF(), pointId: pointP.id },
    local: { vcenter: vcenterOf(siteB), vm: { name: "db-01-recovered" } },
    // The key differs from both VMs' device keys (vcsim gives 203), as a recovered VM's keys differ from the original's.
    disks: [{ key: "2000", sourceDiskKey: String(vmA.diskKey), localDiskKey: vmB.diskKey, changeId: "52 aa bb/7" }],
    labels: { namespace: "prod", protectedServer: "db", direction: "reverse", vm: "db-01-recovered", run: runId },
    ...extra,
  });

  beforeAll(async () => {
    const vault = await openVault(vaultSpec(vaultF(), keyF));
    try {
      const ids = (await vault.readPoint(pointP.id)).blockLists.get(String(vmA.diskKey)) as Buffer;
      const { index } = await vault.loadIndex();
      blobBytes = Array.from({ length: DISK_SIZE / MiB }, (_, b) => (blockAt(ids, b).equals(HOLE) ? 0 : (index.get(blockAt(ids, b))?.length ?? Number.NaN)));
    } finally {
      await vault.close();
    }
  });

  it("reads from the local VM what it holds and fetches only the differing blocks; the point restores to P's bytes", async () => {
    // The recovery site's VM holds P's data, except 3 MiB written since (blocks 4-6) and one MiB of P's data zeroed (block 26).
    vmB = await createTestVm(clientB, "db-01-recovered", [DISK_SIZE]);
    await writeImage(siteB, vmB, image);
    await siteB.writeDisk(vmB.name, vmB.diskKey, 4 * MiB, randomBytes(3 * MiB));
    await siteB.writeDisk(vmB.name, vmB.diskKey, 26 * MiB, Buffer.alloc(MiB));
    const differing = [4, 5, 6, 26];

    const run = await runToEnd(seedSpec("seed-1"), intoR);
    expect({ code: run.code, message: run.progress.message }).toEqual({ code: 0, message: undefined });
    seeded = await pointOf(run.progress.pointId, vaultR(), keyR);
    const transferred = Number(seeded.labels.transferredBytes);
    const local = Number(seeded.labels.localBytes);
    expect(transferred).toBe(differing.reduce((s, b) => s + (blobBytes[b] ?? 0), 0));
    expect(transferred).toBeGreaterThan(0);
    expect(transferred).toBeLessThanOrEqual(5 * MiB);
    expect(local).toBe(40 * MiB - differing.length * MiB);
    expect(seeded.labels).toMatchObject({ seedOf: pointP.id, direction: "reverse", run: "seed-1" });
    expect(seeded.disks.map((d) => ({ key: d.key, changeId: d.changeId, size: d.size }))).toEqual([{ key: "2000", changeId: "52 aa bb/7", size: DISK_SIZE }]);
    expect(seeded.time).toBe(pointP.time);
    expect({ fetched: run.progress.bytesFetched, local: run.progress.bytesLocal, done: run.progress.bytesDone, total: run.progress.bytesTotal })
      .toEqual({ fetched: transferred, local, done: DISK_SIZE, total: DISK_SIZE });
    expect(metric(run.metrics, "lifeboat_worker_bytes_fetched_total", "db-01-recovered", "2000")).toBe(transferred);
    expect(metric(run.metrics, "lifeboat_worker_bytes_read_total", vmB.name, vmB.diskKey)).toBe(40 * MiB);
    expect(await lifeboatSnapshots(clientB, vmB)).toEqual([]);
    expect((await restoredContent(seeded.id, vaultR(), intoR)).equals(image)).toBe(true);
  });

  it("a retried seed whose point is committed exits 0 at once", async () => {
    const before = (await pointsOf(vaultR(), keyR)).length;
    const run = await runToEnd(seedSpec("seed-1"), intoR);
    expect({ code: run.code, pointId: run.progress.pointId }).toEqual({ code: 0, pointId: seeded.id });
    expect(run.progress.bytesFetched).toBeUndefined();
    expect((await pointsOf(vaultR(), keyR)).length).toBe(before);
  });

  it("without a local VM, or with one that is not found, fetches every non-zero block", async () => {
    const all = blobBytes.reduce((s, n) => s + n, 0);
    for (const [runId, local] of [["seed-2", undefined], ["seed-3", { vcenter: vcenterOf(siteB), vm: { name: "no-such-vm" } }]] as const) {
      const spec = { ...seedSpec(runId), local } as WorkerSpec;
      const run = await runToEnd(spec, intoR);
      expect({ code: run.code, message: run.progress.message }).toEqual({ code: 0, message: expect.stringContaining("fetching every non-zero block from the source vault") });
      const point = await pointOf(run.progress.pointId, vaultR(), keyR);
      expect({ transferred: Number(point.labels.transferredBytes), local: Number(point.labels.localBytes) }).toEqual({ transferred: all, local: 0 });
      // The blocks are already in vault R (from seed-1): nothing new is stored.
      expect(point.storedBytes).toBe(0);
    }
  });

  it("from a point of the same repository reuses its block ids and reads nothing", async () => {
    const run = await runToEnd(seedSpec("seed-same", { vault: vaultF(), local: undefined }), { extraEnv: { [SECRET_ENV.sourceVaultKey]: keyF } });
    expect(run.code).toBe(0);
    const point = await pointOf(run.progress.pointId);
    expect(point.labels).toMatchObject({ seedOf: pointP.id, transferredBytes: "0", localBytes: "0" });
    expect({ stored: point.storedBytes, read: point.disks[0]?.readBytes, allocated: point.disks[0]?.allocatedBytes }).toEqual({ stored: 0, read: 0, allocated: 40 * MiB });
    expect(metric(run.metrics, "lifeboat_worker_bytes_fetched_total", "db-01-recovered", "2000")).toBeNaN();
    expect((await restoredContent(point.id)).equals(image)).toBe(true);
  });

  it("refuses a source point the vault does not have with exit 17", async () => {
    const run = await runToEnd({ ...seedSpec("seed-none"), source: { vault: vaultF(), pointId: "20990101T000000Z-deadbeef" } } as WorkerSpec, intoR);
    expect(run.code).toBe(17);
    expect(run.stderr).toMatch(/^PointNotFound: Recovery point 20990101T000000Z-deadbeef is not in the vault/);
  });
});

describe("restores for drills, failover and failback", () => {
  it("a drill VM gets the annotation with the restore id, its CPUs and memory, and P's bytes", async () => {
    const run = await runToEnd(vmRestoreSpec(pointP.id, {
      vmName: "db-01-drill", annotation: "Lifeboat drill of db-01", restoreId: "drill-1", numCpu: 4, memoryMB: 4096,
      requireNetworkMapping: true, networkMappings: [{ source: "VM Network", target: "VM Network" }],
    }));
    expect({ code: run.code, message: run.progress.message }).toEqual({ code: 0, message: undefined });
    const vm = await clientA.getVm({ type: "VirtualMachine", value: run.progress.vmMoRef as string });
    expect({ name: vm.name, numCpu: vm.numCpu, memoryMB: vm.memoryMB, annotation: vm.annotation })
      .toEqual({ name: "db-01-drill", numCpu: 4, memoryMB: 4096, annotation: "Lifeboat drill of db-01\nlifeboat.io/restore-id: drill-1" });
    expect((await liveDisk(siteA, "db-01-drill")).equals(image)).toBe(true);
  });

  it("a retried restore replaces the VM its killed attempt left, and refuses a VM of that name it did not create", async () => {
    // What a killed attempt leaves: a VM of the target name, carrying the restore id, with half its data.
    const inv = await clientA.inventory();
    const dc = inv.datacenters[0];
    const cluster = inv.clusters.find((c) => c.isCluster);
    if (!dc?.vmFolder || !cluster?.resourcePool) throw new Error("vcsim has no folder or cluster");
    const leftover = await clientA.createVm({
      name: "db-01-failover", folder: dc.vmFolder, resourcePool: cluster.resourcePool, datastoreName: "LocalDS_0",
      annotation: "Lifeboat failover fo-1 of db-01", disks: [{ capacityBytes: DISK_SIZE }],
    });
    await siteA.writeDisk("db-01-failover", (await clientA.getVm(leftover)).disks[0]?.key ?? 0, 0, image.subarray(0, 4 * MiB));

    const run = await runToEnd(vmRestoreSpec(pointP.id, { vmName: "db-01-failover", annotation: "Lifeboat failover fo-1 of db-01", restoreId: "fo-1" }));
    expect({ code: run.code, message: run.progress.message }).toEqual({ code: 0, message: undefined });
    expect(run.logs.some((l) => l.msg === "Destroyed the VM an earlier attempt left" && l.moRef === leftover.value)).toBe(true);
    const named = await clientA.findVmsByName("db-01-failover");
    expect(named.map((v) => v.ref.value)).toEqual([run.progress.vmMoRef]);
    expect(run.progress.vmMoRef).not.toBe(leftover.value);
    expect(named[0]?.annotation).toBe("Lifeboat failover fo-1 of db-01");
    expect((await liveDisk(siteA, "db-01-failover")).equals(image)).toBe(true);

    const other = await runToEnd(vmRestoreSpec(pointP.id, { vmName: "db-01-failover", restoreId: "fo-2" }));
    expect(other.code).toBe(19);
    expect(other.stderr).toContain(`RestoreTargetFailed: A VM named "db-01-failover" (${run.progress.vmMoRef ?? ""}) already exists in the target folder and was not created by restore fo-2`);
    expect((await clientA.findVmsByName("db-01-failover")).map((v) => v.ref.value)).toEqual([run.progress.vmMoRef]);
  });

  it("requireNetworkMapping fails closed on an unmapped NIC with exit 19, naming its network, and creates no VM", async () => {
    const run = await runToEnd(vmRestoreSpec(pointP.id, { vmName: "db-01-closed", restoreId: "drill-2", requireNetworkMapping: true, networkMappings: [{ source: "Other Network", target: "VM Network" }] }));
    expect(run.code).toBe(19);
    expect(run.stderr).toMatch(/^RestoreTargetFailed: NIC 1 is on network "VM Network", which spec.target.vSphere.networkMappings does not map/);
    expect(await clientA.findVmsByName("db-01-closed")).toEqual([]);
  });

  it("fails back in place into the original VM from the seeded point, pairing disks by order though their keys differ", async () => {
    expect(seeded.disks.map((d) => d.key)).not.toContain(String(vmA.diskKey));
    await siteA.writeDisk(vmA.name, vmA.diskKey, 0, randomBytes(8 * MiB));
    expect((await liveDisk(siteA, vmA.name)).equals(image)).toBe(false);
    const spec = vmRestoreSpec(seeded.id, { inPlace: true, targetVm: { moRef: vmA.ref.value, name: vmA.name } }, vaultR());
    const run = await runToEnd(spec, intoR);
    expect({ code: run.code, message: run.progress.message }).toEqual({ code: 0, message: undefined });
    expect(run.progress.vmMoRef).toBe(vmA.ref.value);
    expect((await liveDisk(siteA, vmA.name)).equals(image)).toBe(true);

    // Without targetVm the same point has no VM to go to in place: its VM label names the recovered VM at the other site.
    const plain = await runToEnd(vmRestoreSpec(seeded.id, { inPlace: true }, vaultR()), intoR);
    expect(plain.code).toBe(13);
  });
});
