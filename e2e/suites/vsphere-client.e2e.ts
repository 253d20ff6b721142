// The vSphere client against vcsim (a real process): login with any password,
// TLS trust by thumbprint or CA, typed errors, inventory and summary,
// session re-login and keep-alive, inventory watch.
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import {
  AuthenticationFailedError,
  CertificateMismatchError,
  conditionReason,
  connect,
  UnreachableError,
  type InventoryChange,
  type VsphereClient,
} from "../../operator/src/vsphere/index.js";
import { freePort } from "../testbed/ports.js";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";

// Every printable ASCII special character, a space, and non-ASCII text.
const PASSWORD = "`^~=;!/([]{}@$\\&#%+ <>\"'?|:*,.パスワード";

jest.setTimeout(120_000);

let sim: Vcsim;
const clients: VsphereClient[] = [];

async function login(opts: Partial<Parameters<typeof connect>[0]> = {}): Promise<VsphereClient> {
  const client = await connect({
    address: sim.address,
    username: sim.username,
    password: sim.password,
    tls: { thumbprint: sim.thumbprint },
    keepAliveMs: 0,
    ...opts,
  });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  sim = await startVcsim({ password: PASSWORD, clusterHosts: 3, standaloneHosts: 1, vms: 2, pools: 1, log: (l) => { console.log(l); } });
}, 900_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sim.stop();
});

describe("login and trust", () => {
  it("logs in with a password of every special character and non-ASCII text", async () => {
    const client = await login();
    expect(client.sessionKey).toBeTruthy();
    expect(client.about.version).toBe("8.0.3");
    expect(client.about.apiType).toBe("VirtualCenter");
  });

  it("trusts the server through a CA bundle too, and with a colon-less lower-case thumbprint", async () => {
    const viaCa = await login({ tls: { caCert: sim.caCert } });
    expect(viaCa.sessionKey).toBeTruthy();
    const viaHex = await login({ tls: { thumbprint: sim.thumbprint.replace(/:/g, "").toLowerCase() } });
    expect(viaHex.sessionKey).toBeTruthy();
  });

  it("refuses a wrong password with AuthenticationFailedError that never shows the password", async () => {
    const wrong = `${PASSWORD}-wrong`;
    const err = await connect({ address: sim.address, username: sim.username, password: wrong, tls: { thumbprint: sim.thumbprint } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(conditionReason(err)).toBe("AuthenticationFailed");
    const text = `${String(err)} ${JSON.stringify(err)} ${(err as Error).stack ?? ""}`;
    expect(text).not.toContain(wrong);
    expect(text).not.toContain("パスワード");
  });

  it("refuses a server whose certificate does not match the pinned thumbprint, before sending the password", async () => {
    const other = "AB:".repeat(31) + "AB";
    const err = await connect({ address: sim.address, username: sim.username, password: sim.password, tls: { thumbprint: other } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CertificateMismatchError);
    expect(conditionReason(err)).toBe("CertificateMismatch");
    expect((err as Error).message).toContain(sim.thumbprint);
  });

  it("refuses a certificate that does not chain to the given CA", async () => {
    const { X509Certificate } = await import("node:crypto");
    // Another self-signed certificate: vcsim's own CA bundle belongs to a different simulator run.
    const second = await startVcsim({ vms: 0, clusterHosts: 1, standaloneHosts: 0 });
    try {
      expect(new X509Certificate(second.caCert).fingerprint256).not.toBe(sim.thumbprint);
      const err = await connect({ address: sim.address, username: sim.username, password: sim.password, tls: { caCert: second.caCert } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CertificateMismatchError);
    } finally {
      await second.stop();
    }
  });

  it("reports a closed port as UnreachableError", async () => {
    const port = await freePort();
    const err = await connect({ address: `127.0.0.1:${port}`, username: "u", password: "p", tls: { thumbprint: sim.thumbprint } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UnreachableError);
    expect(conditionReason(err)).toBe("Unreachable");
  });

  it("reports a server that never answers as UnreachableError after the request timeout", async () => {
    // A TCP server that accepts and then stays silent (no TLS handshake).
    const accepted: import("node:net").Socket[] = [];
    const silent = createServer((socket) => accepted.push(socket));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const address = silent.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      const started = Date.now();
      const err = await connect({ address: `127.0.0.1:${port}`, username: "u", password: "p", tls: { thumbprint: sim.thumbprint }, timeoutMs: 1500 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UnreachableError);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});

describe("inventory", () => {
  it("reads every kind of object with its properties, across result pages", async () => {
    const client = await login();
    const inv = await client.inventory({ maxObjects: 3 }); // small pages force ContinueRetrievePropertiesEx
    expect(inv.datacenters.map((d) => d.name)).toEqual(["DC0"]);
    expect(inv.datacenters[0]?.path).toBe("DC0");
    expect(inv.clusters.filter((c) => c.isCluster).map((c) => c.name)).toEqual(["DC0_C0"]);
    expect(inv.clusters.find((c) => c.isCluster)?.hosts).toHaveLength(3);
    expect(inv.hosts).toHaveLength(4); // 3 in the cluster + 1 standalone
    expect(inv.datastores.map((d) => d.name)).toEqual(["LocalDS_0"]);
    expect(inv.datastores[0]?.datacenterPath).toBe("DC0");
    expect(inv.datastores[0]?.capacityBytes).toBeGreaterThan(0);
    expect(inv.networks.some((n) => n.type === "DistributedVirtualPortgroup" && n.portgroupKey && n.switchUuid)).toBe(true);
    expect(inv.folders.some((f) => f.name === "vm" && f.childType.includes("VirtualMachine"))).toBe(true);
    expect(inv.resourcePools.length).toBeGreaterThanOrEqual(3);

    // With child pools, vcsim puts the cluster's VMs into the child pool: 2 there, 2 on the standalone host.
    expect(inv.vms).toHaveLength(4);
    const vm = inv.vms.find((v) => v.name === "DC0_H0_VM0");
    expect(vm).toBeDefined();
    if (!vm) return;
    expect(vm.powerState).toBe("poweredOn");
    expect(vm.instanceUuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(vm.changeTrackingEnabled).toBe(false);
    expect(vm.datacenter?.value).toBe(inv.datacenters[0]?.ref.value);
    expect(vm.disks).toHaveLength(1);
    const disk = vm.disks[0];
    expect(disk?.capacityBytes).toBe(10 * 1024 ** 3);
    expect(disk?.fileName).toBe("[LocalDS_0] DC0_H0_VM0/disk1.vmdk");
    expect(disk?.datastoreName).toBe("LocalDS_0");
    expect(disk?.datastore?.value).toBe(inv.datastores[0]?.ref.value);
    expect(disk?.changeId).toBeUndefined();
    expect(vm.controllers.some((c) => c.type === "ParaVirtualSCSIController")).toBe(true);
    expect(vm.nics).toHaveLength(1);
  });

  it("summarises counts and the vCenter version", async () => {
    const client = await login();
    const summary = await client.summary();
    expect(summary).toMatchObject({
      version: "8.0.3",
      datacenters: 1,
      clusters: 1,
      hosts: 4,
      datastores: 1,
      vms: 4,
    });
    expect(summary.networks).toBeGreaterThanOrEqual(2);
  });
});

describe("session", () => {
  it("logs in again on its own when an administrator terminates the session", async () => {
    const client = await login();
    const admin = await login();
    const before = client.sessionKey;
    expect(before).toBeTruthy();
    await admin.terminateSession(before ?? "");
    // Creating a container view needs a live session: the client must log in again and go on.
    const summary = await client.summary();
    expect(summary.vms).toBe(4);
    expect(client.sessionKey).toBeTruthy();
    expect(client.sessionKey).not.toBe(before);
  });

  it("shares one re-login among concurrent calls", async () => {
    const client = await login();
    const admin = await login();
    const generation = client.session.generation;
    await admin.terminateSession(client.sessionKey ?? "");
    const results = await Promise.all([client.summary(), client.summary(), client.session.touch(), client.summary()]);
    expect(results).toHaveLength(4);
    expect(client.session.generation).toBe(generation + 1);
  });

  it("keeps an idle session alive against the server's idle timeout", async () => {
    const short = await startVcsim({ vms: 1, clusterHosts: 1, standaloneHosts: 0, sessionTimeoutSeconds: 2 });
    try {
      const kept = await connect({ address: short.address, username: short.username, password: short.password, tls: { caCert: short.caCert }, keepAliveMs: 500 });
      const idle = await connect({ address: short.address, username: short.username, password: short.password, tls: { caCert: short.caCert }, keepAliveMs: 0 });
      try {
        const keptKey = kept.sessionKey;
        const idleGeneration = idle.session.generation;
        await new Promise((r) => setTimeout(r, 5_000));
        await kept.summary();
        await idle.summary();
        // The kept-alive session survived; the idle one had expired and was re-established.
        expect(kept.sessionKey).toBe(keptKey);
        expect(kept.session.generation).toBe(1);
        expect(idle.session.generation).toBe(idleGeneration + 1);
      } finally {
        await kept.close();
        await idle.close();
      }
    } finally {
      await short.stop();
    }
  });
});

describe("a vCenter restart (the harness's serviceStop and serviceStart)", () => {
  it("keeps the inventory, a snapshot's frozen content and change tracking; the client logs in again on its own", async () => {
    const restartable = await startVcsim({ vms: 1, clusterHosts: 1, standaloneHosts: 0, restartable: true });
    const client = await connect({ address: restartable.address, username: restartable.username, password: restartable.password, tls: { thumbprint: restartable.thumbprint }, keepAliveMs: 0 });
    try {
      const [vm] = (await client.inventory()).vms.filter((v) => !v.template);
      if (!vm) throw new Error("vcsim made no VM");
      await client.setChangeTracking(vm.ref, true);
      const [disk] = (await client.getVm(vm.ref)).disks;
      if (!disk) throw new Error(`${vm.name} has no disk`);
      const before = Buffer.alloc(256 * 1024, 1);
      await restartable.writeDisk(vm.name, disk.key, 0, before);
      const snapshot = await client.createSnapshot(vm.ref, { name: "lifeboat-before-restart", quiesce: false });
      const [frozen] = await client.snapshotDisks(snapshot);
      if (!frozen) throw new Error("the snapshot has no disk");
      const changeId = frozen.changeId ?? "";
      expect(changeId).not.toBe("");
      const sessionBefore = client.sessionKey;

      await restartable.serviceStop();
      await expect(client.summary()).rejects.toBeInstanceOf(UnreachableError);
      await restartable.serviceStart();

      // Writes after the restart are tracked against the changeId given before it.
      await restartable.writeDisk(vm.name, disk.key, 1024 * 1024, Buffer.alloc(64 * 1024, 2));
      const [found] = await client.listSnapshots(vm.ref);
      expect(found).toMatchObject({ name: "lifeboat-before-restart", ref: snapshot });
      expect(client.sessionKey).not.toBe(sessionBefore);
      const after = await client.createSnapshot(vm.ref, { name: "lifeboat-after-restart", quiesce: false });
      expect(await client.queryChangedAreas(vm.ref, after, disk, changeId)).toEqual([{ start: 1024 * 1024, length: 64 * 1024 }]);
      // The first snapshot still reads as it was taken.
      const loc = await client.diskLocation(vm.ref, frozen);
      const chunks: Buffer[] = [];
      for await (const c of await client.readDisk(loc, 0, before.length * 2)) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).equals(Buffer.concat([before, Buffer.alloc(before.length)]))).toBe(true);
      await client.removeSnapshot(after);
      await client.removeSnapshot(snapshot);
      expect(await client.listSnapshots(vm.ref)).toEqual([]);
    } finally {
      await client.close();
      await restartable.stop();
    }
  }, 180_000);
});

describe("watchInventory", () => {
  it("reports the initial state, then changes, and survives a lost session", async () => {
    const client = await login();
    const admin = await login();
    const changes: InventoryChange[] = [];
    const errors: unknown[] = [];
    const watch = client.watchInventory((c) => { changes.push(c); }, { maxWaitSeconds: 2, retryMs: 200, onError: (e) => errors.push(e) });
    try {
      await waitUntil(() => changes.length >= 1);
      expect(changes[0]?.resync).toBe(true);
      expect(changes[0]?.updates.filter((u) => u.obj.type === "VirtualMachine")).toHaveLength(4);

      const vm = (await admin.findVmsByName("DC0_H0_VM1"))[0];
      expect(vm).toBeDefined();
      if (!vm) return;
      await admin.powerOff(vm.ref);
      await waitUntil(() =>
        changes.some((c) => !c.resync && c.updates.some((u) => u.obj.value === vm.ref.value && u.changes.some((p) => p.name === "runtime.powerState"))),
      );

      // The watch's views and collectors die with the session; it must rebuild them.
      const resyncs = changes.filter((c) => c.resync).length;
      await admin.terminateSession(client.sessionKey ?? "");
      await client.session.touch(); // re-logs in
      await waitUntil(() => changes.filter((c) => c.resync).length > resyncs);
      await admin.powerOn(vm.ref);
      const seen = changes.length;
      await waitUntil(() => changes.slice(seen).some((c) => c.updates.some((u) => u.obj.value === vm.ref.value)));
    } finally {
      await watch.stop();
    }
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 100));
  }
}
