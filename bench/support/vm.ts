/**
 * VMs and disk files the vSphere benches share: a VM with one disk in vcsim's
 * inventory, and the hash that checks a restored disk against its original.
 */
import { createReadStream } from "node:fs";
import { Blake3Hasher } from "@napi-rs/blake-hash";
import type { Vcsim, VcsimDisk } from "../../e2e/testbed/vcsim.js";
import type { MoRef, VsphereClient } from "../../operator/src/vsphere/index.js";

/** A VM a bench made, with its one disk as the harness sees it (device key, data file). */
export interface BenchVm {
  readonly ref: MoRef;
  readonly disk: VcsimDisk;
}

/**
 * Where vcsim's default inventory puts a new VM: the first datacenter's VM
 * folder, the first cluster's pool, the first datastore, the standard "VM
 * Network". Read once and passed to every createDiskVm of a run.
 */
export interface Placement {
  readonly folder: MoRef;
  readonly resourcePool: MoRef;
  readonly datastoreName: string;
  readonly network: { readonly ref: MoRef; readonly name: string };
}

/** The placement of new VMs in vcsim's default inventory; throws when the inventory lacks a part of it. */
export async function defaultPlacement(client: VsphereClient): Promise<Placement> {
  const inv = await client.inventory();
  const folder = inv.datacenters[0]?.vmFolder;
  const resourcePool = inv.clusters.find((c) => c.isCluster)?.resourcePool;
  const ds = inv.datastores[0];
  const net = inv.networks.find((n) => n.type === "Network");
  if (!folder || !resourcePool || !ds || !net) throw new Error("vcsim's inventory lacks a datacenter folder, a cluster pool, a datastore or a network");
  return { folder, resourcePool, datastoreName: ds.name, network: { ref: net.ref, name: net.name } };
}

/**
 * Creates a VM with one thin disk of `size` bytes (empty: it reads as zeros
 * until the bench writes into it through vcsim's guest-write path, which CBT
 * sees). `nic` gives it an Ubuntu guest id and a NIC on the placement's
 * network, so that a restore to a new VM has a network to map.
 */
export async function createDiskVm(sim: Vcsim, client: VsphereClient, name: string, size: number, options: { placement?: Placement; nic?: boolean } = {}): Promise<BenchVm> {
  const p = options.placement ?? (await defaultPlacement(client));
  const ref = await client.createVm({
    name,
    folder: p.folder,
    resourcePool: p.resourcePool,
    datastoreName: p.datastoreName,
    disks: [{ capacityBytes: size }],
    ...(options.nic ? { guestId: "ubuntu64Guest", nics: [{ network: p.network }] } : {}),
  });
  const [disk] = await sim.disks(name);
  if (!disk) throw new Error(`VM ${name} was created without a disk`);
  return { ref, disk };
}

/**
 * The blake3 hash (hex) of a file's bytes: how a bench checks that a restored
 * disk is byte for byte the original (several GB/s, so it costs a bench
 * little next to what it measures).
 */
export async function hashFile(path: string): Promise<string> {
  const hasher = new Blake3Hasher();
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) hasher.update(chunk as Buffer);
  } catch (err) {
    throw new Error(`Could not read ${path} to hash it`, { cause: err });
  }
  return hasher.digest("hex");
}
