// Backup and restore primitives against vcsim with the harness extensions:
// tasks, snapshots (frozen content), CBT (QueryChangedDiskAreas), ranged disk
// reads, orphaned snapshot cleanup, VM creation with uploaded disks.
import { createHash, randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import * as https from "node:https";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import {
  connect,
  FaultError,
  ObjectNotFoundError,
  TaskCancelledError,
  type DiskArea,
  type DiskLocation,
  type MoRef,
  type VirtualMachine,
  type VsphereClient,
} from "../../operator/src/vsphere/index.js";
import { datastoreFilePath, flatFilePath } from "../../operator/src/vsphere/disk-io.js";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";
import { vcsimPlacement } from "./vsphere-placement.js";

jest.setTimeout(300_000);

const MiB = 1024 * 1024;
const BLOCK = 64 * 1024; // the harness's CBT granularity (vcsim -cbt-block-size default)

let sim: Vcsim;
let client: VsphereClient;
let vm: VirtualMachine;
let dcPath: string;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readRange(loc: DiskLocation, offset: number, length: number): Promise<Buffer> {
  return readAll(await client.readDisk(loc, offset, length));
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** The block-aligned cover of byte ranges, merged: what CBT at BLOCK granularity must report. */
function blockCover(ranges: readonly DiskArea[]): DiskArea[] {
  const blocks = new Set<number>();
  for (const r of ranges) for (let b = Math.floor(r.start / BLOCK); b * BLOCK < r.start + r.length; b++) blocks.add(b);
  const out: DiskArea[] = [];
  for (const b of [...blocks].sort((x, y) => x - y)) {
    const last = out[out.length - 1];
    if (last && last.start + last.length === b * BLOCK) out[out.length - 1] = { start: last.start, length: last.length + BLOCK };
    else out.push({ start: b * BLOCK, length: BLOCK });
  }
  return out;
}

async function snapshotDisk(snapshot: MoRef) {
  const disks = await client.snapshotDisks(snapshot);
  const disk = disks[0];
  if (!disk) throw new Error("the snapshot has no disk");
  return { disk, loc: { datacenterPath: dcPath, datastoreName: disk.datastoreName, path: disk.path } };
}

beforeAll(async () => {
  // 32 MiB pages: a query over the 10 GiB disk takes 320 QueryChangedDiskAreas calls.
  sim = await startVcsim({ vms: 1, clusterHosts: 1, standaloneHosts: 1, cbtPageBytes: 32 * MiB, log: (l) => { console.log(l); } });
  client = await connect({ address: sim.address, username: sim.username, password: sim.password, tls: { caCert: sim.caCert }, keepAliveMs: 0 });
  const found = await client.findVmsByName("DC0_H0_VM0");
  if (!found[0]) throw new Error("vcsim has no DC0_H0_VM0");
  vm = found[0];
  dcPath = await client.datacenterPath(vm.ref);
}, 900_000);

afterAll(async () => {
  await client.close();
  await sim.stop();
});

describe("tasks and snapshots", () => {
  it("takes a snapshot through a task with progress, lists it and removes it", async () => {
    const progress: number[] = [];
    const snap = await client.createSnapshot(vm.ref, { name: "lifeboat-task-test", description: "d", quiesce: true, onProgress: (p) => progress.push(p) });
    expect(progress[progress.length - 1]).toBe(100);
    expect(progress.some((p) => p > 0 && p < 100)).toBe(true);
    const listed = await client.listSnapshots(vm.ref);
    expect(listed.map((s) => s.name)).toEqual(["lifeboat-task-test"]);
    expect(listed[0]).toMatchObject({ ref: snap, description: "d", quiesced: true, state: "poweredOff" });
    await client.removeSnapshot(snap);
    expect(await client.listSnapshots(vm.ref)).toEqual([]);
  });

  it("refuses snapshot names without the lifeboat- prefix unless asked", async () => {
    await expect(client.createSnapshot(vm.ref, { name: "nightly" })).rejects.toThrow(/lifeboat-/);
  });

  it("reports a failing task with its fault name", async () => {
    const gone: MoRef = { type: "VirtualMachineSnapshot", value: "snapshot-does-not-exist" };
    const err = await client.removeSnapshot(gone).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(FaultError);
    expect((err as FaultError).faultName).toBe("ManagedObjectNotFound");
  });
});

describe("disk content, snapshots and CBT", () => {
  const data = randomBytes(64 * MiB);
  let first: MoRef;
  let firstChangeId: string;

  it("enables change tracking and publishes changeIds on the disk backings", async () => {
    expect(vm.changeTrackingEnabled).toBe(false);
    await client.setChangeTracking(vm.ref, true);
    const after = await client.getVm(vm.ref);
    expect(after.changeTrackingEnabled).toBe(true);
    expect(after.disks[0]?.changeId).toMatch(/^[0-9a-f-]{36}\/\d+$/);
  });

  it("reads 64 MiB of a snapshot's disk in ranges and gets exactly the bytes written", async () => {
    for (let off = 0; off < data.length; off += 16 * MiB) await sim.writeDisk(vm.name, vm.disks[0]?.key ?? 0, off, data.subarray(off, off + 16 * MiB));
    first = await client.createSnapshot(vm.ref, { name: "lifeboat-full" });
    const { disk, loc } = await snapshotDisk(first);
    expect(disk.fileName).not.toBe(vm.disks[0]?.fileName); // the snapshot's frozen disk, not the live one
    expect(disk.changeId).toBeDefined();
    firstChangeId = disk.changeId ?? "";

    const hash = createHash("sha256");
    for (let off = 0; off < data.length; off += 4 * MiB) hash.update(await readRange(loc, off, 4 * MiB));
    expect(hash.digest("hex")).toBe(sha(data));
    // An unaligned range, and a range past the written data (zeros of the sparse disk).
    expect((await readRange(loc, 12_345_678, 1_000_001)).equals(data.subarray(12_345_678, 12_345_678 + 1_000_001))).toBe(true);
    expect((await readRange(loc, 9 * 1024 * MiB, MiB)).equals(Buffer.alloc(MiB))).toBe(true);
  });

  it("reads disk data only with a live session, and logs in again when an administrator ends it", async () => {
    const { loc } = await snapshotDisk(first);
    // Without the session cookie the datastore refuses, as vCenter does.
    const anonymous = await new Promise<number>((resolve, reject) => {
      const path = datastoreFilePath(loc, flatFilePath(loc.path));
      https.get({ host: sim.address.split(":")[0], port: Number(sim.address.split(":")[1]), path, ca: sim.caCert, servername: "localhost" }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on("error", reject);
    });
    expect(anonymous).toBe(401);
    const admin = await connect({ address: sim.address, username: sim.username, password: sim.password, tls: { caCert: sim.caCert }, keepAliveMs: 0 });
    try {
      const before = client.sessionKey;
      await admin.terminateSession(before ?? "");
      expect((await readRange(loc, 3 * MiB, MiB)).equals(data.subarray(3 * MiB, 4 * MiB))).toBe(true);
      expect(client.sessionKey).not.toBe(before);
    } finally {
      await admin.close();
    }
  });

  it('answers "*" with the allocated areas of the whole disk, across pages', async () => {
    const { disk } = await snapshotDisk(first);
    expect(disk.capacityBytes).toBe(10 * 1024 * MiB);
    expect(await client.queryChangedAreas(vm.ref, first, disk, "*")).toEqual([{ start: 0, length: 64 * MiB }]);
  });

  it("keeps the snapshot's content while the live disk changes, and reports exactly the changed areas", async () => {
    const key = vm.disks[0]?.key ?? 0;
    const regions = [
      { start: 5 * MiB, data: randomBytes(64 * 1024) }, // one aligned block
      { start: 20 * MiB + 100_000, data: randomBytes(200_000) }, // unaligned, spans blocks
      { start: 100 * MiB, data: randomBytes(MiB) }, // in a hole, in another page
    ];
    for (const r of regions) await sim.writeDisk(vm.name, key, r.start, r.data);

    // The first snapshot still reads as it was.
    const { loc: firstLoc } = await snapshotDisk(first);
    expect((await readRange(firstLoc, 5 * MiB, 64 * 1024)).equals(data.subarray(5 * MiB, 5 * MiB + 64 * 1024))).toBe(true);
    expect((await readRange(firstLoc, 100 * MiB, MiB)).equals(Buffer.alloc(MiB))).toBe(true);

    const second = await client.createSnapshot(vm.ref, { name: "lifeboat-incr" });
    const { disk, loc } = await snapshotDisk(second);
    expect(disk.changeId).not.toBe(firstChangeId);

    const changed = await client.queryChangedAreas(vm.ref, second, disk, firstChangeId);
    expect(changed).toEqual(blockCover(regions.map((r) => ({ start: r.start, length: r.data.length }))));
    for (const r of regions) expect((await readRange(loc, r.start, r.data.length)).equals(r.data)).toBe(true);
    // Untouched data is unchanged in the new snapshot too.
    expect((await readRange(loc, 30 * MiB, MiB)).equals(data.subarray(30 * MiB, 31 * MiB))).toBe(true);

    // Nothing changed between the second snapshot and itself.
    expect(await client.queryChangedAreas(vm.ref, second, disk, disk.changeId ?? "")).toEqual([]);
    // "*" now includes the region written into the hole.
    expect(await client.queryChangedAreas(vm.ref, second, disk, "*")).toEqual([{ start: 0, length: 64 * MiB }, { start: 100 * MiB, length: MiB }]);

    // A changeId of another tracking session is refused with a typed fault.
    const bogus = await client.queryChangedAreas(vm.ref, second, disk, "52 00 00 00-00/3").then(() => undefined, (e: unknown) => e);
    expect(bogus).toBeInstanceOf(FaultError);
    expect((bogus as FaultError).faultName).toBe("InvalidArgument");

    await client.removeSnapshot(second);
    await client.removeSnapshot(first);
    expect(await client.listSnapshots(vm.ref)).toEqual([]);
    // The harness deleted the frozen copies with the snapshots.
    const vmDir = join(sim.datastoreDir, "DC0-LocalDS_0", "DC0_H0_VM0");
    expect((await readdir(vmDir)).filter((f) => f.includes("lbsnap"))).toEqual([]);
  });
});

describe("orphaned snapshots", () => {
  it("finds and removes the snapshots a failed run left behind, and only those", async () => {
    await client.createSnapshot(vm.ref, { name: "before-upgrade", allowForeignName: true });
    const crashed = await client.createSnapshot(vm.ref, { name: "lifeboat-crashed-run" });
    // A fresh client, as after an operator restart.
    const next = await connect({ address: sim.address, username: sim.username, password: sim.password, tls: { thumbprint: sim.thumbprint }, keepAliveMs: 0 });
    try {
      const found = await next.findOrphanedSnapshots({ olderThan: new Date(Date.now() + 60_000) });
      expect(found.map((s) => s.ref)).toEqual([crashed]);
      expect(await next.findOrphanedSnapshots({ olderThan: new Date(Date.now() - 3_600_000) })).toEqual([]);
      expect(await next.findOrphanedSnapshots({ keep: [crashed] })).toEqual([]);
      const { removed, failed } = await next.removeOrphanedSnapshots();
      expect(failed).toEqual([]);
      expect(removed.map((s) => s.name)).toEqual(["lifeboat-crashed-run"]);
      expect((await next.listSnapshots(vm.ref)).map((s) => s.name)).toEqual(["before-upgrade"]);
      for (const s of await next.listSnapshots(vm.ref)) await next.removeSnapshot(s.ref);
    } finally {
      await next.close();
    }
  });

  it("cancels a slow snapshot task, and the snapshot it still produced is cleaned up", async () => {
    const slow = await startVcsim({ vms: 1, clusterHosts: 1, standaloneHosts: 0, taskDelays: { CreateSnapshot_Task: 2500 } });
    const c = await connect({ address: slow.address, username: slow.username, password: slow.password, tls: { thumbprint: slow.thumbprint }, keepAliveMs: 0 });
    try {
      const target = (await c.inventory()).vms[0];
      if (!target) throw new Error("no VM");
      const abort = new AbortController();
      setTimeout(() => { abort.abort(); }, 300);
      const err = await c.createSnapshot(target.ref, { name: "lifeboat-cancelled", signal: abort.signal }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(TaskCancelledError);
      // vcsim (like a real host that was already past the point of no return) still takes the snapshot.
      await new Promise((r) => setTimeout(r, 4000));
      const { removed } = await c.removeOrphanedSnapshots();
      expect(removed.map((s) => s.name)).toEqual(["lifeboat-cancelled"]);
      expect(await c.listSnapshots(target.ref)).toEqual([]);
    } finally {
      await c.close();
      await slow.stop();
    }
  });
});

describe("VM creation for restore", () => {
  it("creates a VM with disks, controller and NIC, holds exactly the uploaded bytes, powers on and off, and is destroyed", async () => {
    const { folder, resourcePool, datastoreName, network, portgroup } = await vcsimPlacement(client);
    const sizes = [64 * MiB, 8 * MiB];
    const ref = await client.createVm({
      name: "restored-vm",
      folder,
      resourcePool,
      datastoreName,
      numCpu: 2,
      memoryMB: 2048,
      guestId: "otherGuest64",
      disks: sizes.map((capacityBytes) => ({ capacityBytes })),
      nics: [{ portgroup }, { network, adapter: "e1000e" }],
    });
    const created = await client.getVm(ref);
    expect(created.name).toBe("restored-vm");
    expect(created.numCpu).toBe(2);
    expect(created.memoryMB).toBe(2048);
    expect(created.disks.map((d) => d.capacityBytes)).toEqual(sizes);
    expect(created.controllers.some((c) => c.type === "ParaVirtualSCSIController")).toBe(true);
    expect(created.nics.map((n) => n.type)).toEqual(["VirtualVmxnet3", "VirtualE1000e"]);
    expect(created.nics[0]?.portgroupKey).toBe(portgroup.portgroupKey);
    expect(created.powerState).toBe("poweredOff");

    const contents = sizes.map((n) => randomBytes(n));
    for (const [i, disk] of created.disks.entries()) {
      const content = contents[i] ?? Buffer.alloc(0);
      const loc = await client.diskLocation(ref, disk);
      // A stream in 1 MiB pieces, as a restore sends it.
      const pieces = Array.from({ length: content.length / MiB }, (_, k) => content.subarray(k * MiB, (k + 1) * MiB));
      await client.uploadDisk(loc, Readable.from(pieces), content.length);
      const back = createHash("sha256");
      for (let off = 0; off < content.length; off += 8 * MiB) back.update(await readRange(loc, off, Math.min(8 * MiB, content.length - off)));
      expect(back.digest("hex")).toBe(sha(content));
    }

    await client.powerOn(ref);
    expect((await client.getVm(ref)).powerState).toBe("poweredOn");
    await client.powerOff(ref);
    expect((await client.getVm(ref)).powerState).toBe("poweredOff");
    await client.destroyVm(ref);
    await expect(client.getVm(ref)).rejects.toBeInstanceOf(ObjectNotFoundError);
  });
});
