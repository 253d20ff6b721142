// The control-plane operations disaster recovery needs, against vcsim with the
// harness extensions: clean guest shutdown, NIC fencing, VM annotations and
// lookup by instance UUID, capturing changeIds after a restore, CPU/memory.
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import {
  conditionReason,
  connect,
  GuestShutdownTimeoutError,
  type CreateVmSpec,
  type DiskArea,
  type MoRef,
  type VirtualMachine,
  type VsphereClient,
} from "../../operator/src/vsphere/index.js";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";
import { vcsimPlacement } from "./vsphere-placement.js";

jest.setTimeout(300_000);

const MiB = 1024 * 1024;

let sim: Vcsim;
let client: VsphereClient;
let placement: Pick<CreateVmSpec, "folder" | "resourcePool" | "datastoreName" | "nics">;

async function open(s: Vcsim): Promise<VsphereClient> {
  return connect({ address: s.address, username: s.username, password: s.password, tls: { thumbprint: s.thumbprint }, keepAliveMs: 0 });
}

async function vmNamed(c: VsphereClient, name: string): Promise<VirtualMachine> {
  const found = await c.findVmsByName(name);
  if (!found[0]) throw new Error(`vcsim has no ${name}`);
  return found[0];
}

/** A VM made through the API as a restore makes one: one small disk, a standard and a distributed port group NIC. */
async function createTestVm(name: string, extra: Partial<CreateVmSpec> = {}): Promise<VirtualMachine> {
  const ref = await client.createVm({ name, disks: [{ capacityBytes: 64 * MiB }], ...placement, ...extra });
  return client.getVm(ref);
}

/** What CBT reports changed on the VM's first disk since `changeId`, through a snapshot taken now (and removed). */
async function changedSince(vm: MoRef, changeId: string | undefined): Promise<DiskArea[]> {
  const snapshot = await client.createSnapshot(vm, { name: "lifeboat-test-query" });
  try {
    const disk = (await client.snapshotDisks(snapshot))[0];
    if (!disk || changeId === undefined) throw new Error("no disk or no changeId to query");
    return await client.queryChangedAreas(vm, snapshot, disk, changeId);
  } finally {
    await client.removeSnapshot(snapshot);
  }
}

beforeAll(async () => {
  sim = await startVcsim({ vms: 1, clusterHosts: 1, standaloneHosts: 0, log: (l) => { console.log(l); } });
  client = await open(sim);
  const { folder, resourcePool, datastoreName, network, portgroup } = await vcsimPlacement(client);
  placement = { folder, resourcePool, datastoreName, nics: [{ network }, { portgroup, adapter: "e1000e" }] };
}, 900_000);

afterAll(async () => {
  await client.close();
  await sim.stop();
});

describe("guest shutdown", () => {
  it('shuts a running VM down through its guest ("guest") and leaves a VM that is off alone ("alreadyOff")', async () => {
    const vm = await vmNamed(client, "DC0_C0_RP0_VM0");
    expect(vm.powerState).toBe("poweredOn");
    expect(await client.shutdownGuest(vm.ref, { timeoutMs: 60_000 })).toBe("guest");
    expect((await client.getVm(vm.ref)).powerState).toBe("poweredOff");
    expect(await client.shutdownGuest(vm.ref)).toBe("alreadyOff");
  });

  it("gives up with GuestShutdownTimeoutError when the guest takes longer than allowed, and stops waiting on abort", async () => {
    // A guest that needs 8 s to shut down. LockHandoff=0: vcsim does not hold the VM's lock while the task waits, so its power state stays readable.
    const slow = await startVcsim({ vms: 1, clusterHosts: 1, standaloneHosts: 0, taskDelays: { ShutdownGuest: 8000, LockHandoff: 0 } });
    const c = await open(slow);
    try {
      const vm = await vmNamed(c, "DC0_C0_RP0_VM0");
      const started = Date.now();
      const err = await c.shutdownGuest(vm.ref, { timeoutMs: 1500 }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(GuestShutdownTimeoutError);
      expect(conditionReason(err)).toBe("GuestShutdownTimeout");
      expect(Date.now() - started).toBeLessThan(6000);
      expect((await c.getVm(vm.ref)).powerState).toBe("poweredOn");

      const abort = new AbortController();
      setTimeout(() => { abort.abort(new Error("operator stopping")); }, 500);
      await expect(c.shutdownGuest(vm.ref, { signal: abort.signal })).rejects.toThrow("operator stopping");
      // The guest finishes shutting down on its own.
      expect(await c.shutdownGuest(vm.ref, { timeoutMs: 30_000 }).catch(() => "failed")).not.toBe("failed");
      expect((await c.getVm(vm.ref)).powerState).toBe("poweredOff");
    } finally {
      await c.close();
      await slow.stop();
    }
  });
});

describe("fencing by NIC connection state", () => {
  it("disconnects every NIC now and at power-on, keeps the rest of each NIC, and connects them again", async () => {
    const vm = await createTestVm("dr-fence");
    await client.powerOn(vm.ref);
    const on = await client.getVm(vm.ref);
    expect(on.nics).toHaveLength(2);
    for (const nic of on.nics) expect(nic).toMatchObject({ connected: true, startConnected: true, allowGuestControl: true });

    expect(await client.setNicsConnected(vm.ref, false)).toBe(2);
    const fenced = await client.getVm(vm.ref);
    for (const nic of fenced.nics) expect(nic).toMatchObject({ connected: false, startConnected: false, allowGuestControl: false });
    // Only the connection state changed: type, MAC and network of each NIC are as before.
    const identity = (v: VirtualMachine) => v.nics.map((n) => [n.key, n.type, n.macAddress, n.network?.value, n.networkName, n.portgroupKey, n.switchUuid]);
    expect(identity(fenced)).toEqual(identity(on));
    expect(await client.setNicsConnected(vm.ref, false)).toBe(0);

    // A fenced VM stays off the network when it powers on again.
    await client.powerOff(vm.ref);
    await client.powerOn(vm.ref);
    for (const nic of (await client.getVm(vm.ref)).nics) expect(nic).toMatchObject({ connected: false, startConnected: false });

    expect(await client.setNicsConnected(vm.ref, true)).toBe(2);
    for (const nic of (await client.getVm(vm.ref)).nics) expect(nic).toMatchObject({ connected: true, startConnected: true, allowGuestControl: true });
    await client.powerOff(vm.ref);
    for (const nic of (await client.getVm(vm.ref)).nics) expect(nic).toMatchObject({ connected: false, startConnected: true });
    await client.powerOn(vm.ref);
    for (const nic of (await client.getVm(vm.ref)).nics) expect(nic).toMatchObject({ connected: true });
    await client.powerOff(vm.ref);
  });

  it("fences a powered-off VM so that it powers on disconnected", async () => {
    const vm = await createTestVm("dr-fence-off");
    expect(await client.setNicsConnected(vm.ref, false)).toBe(2);
    await client.powerOn(vm.ref);
    for (const nic of (await client.getVm(vm.ref)).nics) expect(nic).toMatchObject({ connected: false, startConnected: false, allowGuestControl: false });
    await client.powerOff(vm.ref);
  });
});

describe("annotation and instance UUID", () => {
  it("creates a VM with its annotation and finds it again by instance UUID, and nothing for an unknown UUID", async () => {
    const annotation = "Created by Lifeboat <DR> & drills\nprotectedserver: ns/web-1";
    const vm = await createTestVm("dr-annotated", { annotation });
    expect(vm.annotation).toBe(annotation);
    expect(vm.instanceUuid).toMatch(/^[0-9a-f-]{36}$/);
    const found = await client.findVmsByInstanceUuid(vm.instanceUuid ?? "");
    expect(found.map((v) => v.ref)).toEqual([vm.ref]);
    expect(found[0]?.annotation).toBe(annotation);
    expect(await client.findVmsByInstanceUuid(randomUUID())).toEqual([]);
    // The BIOS UUID is another identity: an instance UUID search does not match it.
    expect(await client.findVmsByInstanceUuid(vm.biosUuid ?? "")).toEqual([]);
  });
});

describe("changeIds at the current content", () => {
  it("captures changeIds on a VM without change tracking, so a later query reports only what was written after", async () => {
    const vm = await createTestVm("dr-cbt");
    expect(vm.changeTrackingEnabled).toBe(false);
    const key = vm.disks[0]?.key ?? 0;
    await sim.writeDisk(vm.name, key, 0, randomBytes(8 * MiB));

    const first = await client.captureChangeIds(vm.ref);
    expect([...first.keys()]).toEqual([key]);
    expect(first.get(key)).toMatch(/^[0-9a-f-]{36}\/\d+$/);
    expect((await client.getVm(vm.ref)).changeTrackingEnabled).toBe(true);
    expect(await client.listSnapshots(vm.ref)).toEqual([]);
    await sim.writeDisk(vm.name, key, 20 * MiB, randomBytes(MiB));
    expect(await changedSince(vm.ref, first.get(key))).toEqual([{ start: 20 * MiB, length: MiB }]);

    // Again with tracking already on: only what came after this capture.
    const second = await client.captureChangeIds(vm.ref);
    await sim.writeDisk(vm.name, key, 40 * MiB, randomBytes(MiB));
    expect(await changedSince(vm.ref, second.get(key))).toEqual([{ start: 40 * MiB, length: MiB }]);
    expect(await changedSince(vm.ref, first.get(key))).toEqual([{ start: 20 * MiB, length: MiB }, { start: 40 * MiB, length: MiB }]);
    expect(await client.listSnapshots(vm.ref)).toEqual([]);
  });

  it("after a whole-disk upload (a restore), a query since the captured changeId does not report the uploaded blocks", async () => {
    const vm = await createTestVm("dr-restored", { changeTracking: true });
    const disk = vm.disks[0];
    if (!disk?.changeId) throw new Error("the new VM's disk has no changeId");
    const beforeUpload = disk.changeId;
    await client.uploadDisk(await client.diskLocation(vm.ref, disk), randomBytes(disk.capacityBytes), disk.capacityBytes);

    const changeIds = await client.captureChangeIds(vm.ref);
    expect(await client.listSnapshots(vm.ref)).toEqual([]);
    await sim.writeDisk(vm.name, disk.key, 5 * MiB, randomBytes(MiB));

    expect(await changedSince(vm.ref, changeIds.get(disk.key))).toEqual([{ start: 5 * MiB, length: MiB }]);
    // Without the capture, the restore's upload counts as changed: the whole disk.
    expect(await changedSince(vm.ref, beforeUpload)).toEqual([{ start: 0, length: disk.capacityBytes }]);
    expect(await client.listSnapshots(vm.ref)).toEqual([]);
  });
});

describe("CPU and memory", () => {
  it("sets the number of CPUs and the memory size, each on its own", async () => {
    const vm = await createTestVm("dr-sized", { numCpu: 1, memoryMB: 1024 });
    await client.reconfigureHardware(vm.ref, { numCpu: 4, memoryMB: 6144 });
    expect(await client.getVm(vm.ref)).toMatchObject({ numCpu: 4, memoryMB: 6144 });
    await client.reconfigureHardware(vm.ref, { memoryMB: 2048 });
    expect(await client.getVm(vm.ref)).toMatchObject({ numCpu: 4, memoryMB: 2048 });
    await expect(client.reconfigureHardware(vm.ref, { numCpu: 0 })).rejects.toThrow(/numCpu must be a positive integer/);
  });
});
