/**
 * The control-plane steps of disaster recovery that the operator does itself
 * through its vCenter sessions: finding a VM again (by MoRef, else by
 * instance UUID after a re-registration), fencing and unfencing, shutting a
 * guest down, capturing a CBT baseline and deleting what DR created. Moving
 * disk data is never done here: that is the workers' job.
 */
import type { VCenter } from "../api/generated/types.js";
import type { Kube, WithKind } from "../runtime/kube.js";
import { ObjectNotFoundError, type MoRef, type VirtualMachine, type VsphereClient } from "../vsphere/index.js";
import type { VCenterConnections } from "./vcenter-connections.js";
import { vcenterConnectOptions } from "./vcenter-controller.js";

/** A VM as DR records it in status. */
export interface VmIdentity {
  readonly name?: string | undefined;
  readonly moRef?: string | undefined;
  readonly instanceUUID?: string | undefined;
}

const vmRef = (value: string): MoRef => ({ type: "VirtualMachine", value });

/** How long a guest gets to shut down before it is powered off hard. */
const GUEST_SHUTDOWN_MS = 120_000;

/** The session of a VCenter object (shared with every controller). */
export async function vsphereClient(kube: Kube, connections: VCenterConnections, vc: WithKind<VCenter>): Promise<VsphereClient> {
  const options = await vcenterConnectOptions(kube, vc);
  if (!options.ok) throw new Error(`Could not connect to VCenter ${vc.metadata.name ?? ""}: ${options.problem.message}`);
  const conn = await connections.get(`${vc.metadata.namespace ?? ""}/${vc.metadata.name ?? ""}`, options.value);
  return conn.client;
}

/**
 * Finds a VM DR knows: by MoRef; when that is gone (the VM was removed from
 * the inventory and registered again, which gives it a new MoRef), by its
 * instance UUID; with neither, by name when it is unique. Undefined when
 * nothing matches.
 */
export async function findKnownVm(client: VsphereClient, known: VmIdentity): Promise<VirtualMachine | undefined> {
  if (known.moRef) {
    try {
      const vm = await client.getVm(vmRef(known.moRef));
      if (!known.instanceUUID || !vm.instanceUuid || vm.instanceUuid === known.instanceUUID) return vm;
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError)) throw err;
    }
  }
  if (known.instanceUUID) {
    const [vm] = (await client.findVmsByInstanceUuid(known.instanceUUID)).filter((v) => !v.template);
    if (vm) return vm;
  }
  if (known.name && !known.moRef && !known.instanceUUID) {
    const found = (await client.findVmsByName(known.name)).filter((v) => !v.template);
    if (found.length === 1) return found[0];
    if (found.length > 1) throw new Error(`${found.length} VMs are named "${known.name}" (${found.map((v) => v.ref.value).join(", ")}); Lifeboat cannot tell which one is meant`);
  }
  return undefined;
}

/** The identity to record for a VM. */
export function identityOf(vm: VirtualMachine): { name: string; moRef: string; instanceUUID?: string } {
  return { name: vm.name, moRef: vm.ref.value, ...(vm.instanceUuid ? { instanceUUID: vm.instanceUuid } : {}) };
}

/**
 * Fences a VM so that it and the server running elsewhere can never both
 * serve: powered off, every NIC disconnected and not connecting at power-on.
 * Never deletes it (reverse replication and failback need its disks).
 */
export async function fence(client: VsphereClient, vm: VirtualMachine): Promise<void> {
  if (vm.powerState !== "poweredOff") await client.powerOff(vm.ref);
  await client.setNicsConnected(vm.ref, false);
}

/** Undoes a fence's NIC part before a VM serves again. */
export async function unfence(client: VsphereClient, vm: VirtualMachine): Promise<void> {
  await client.setNicsConnected(vm.ref, true);
}

/** Shuts the guest down cleanly, or powers the VM off when the guest does not within two minutes. Returns how it went off. */
export async function shutDown(client: VsphereClient, vm: VirtualMachine): Promise<"guest" | "alreadyOff" | "powerOff"> {
  if (vm.powerState === "poweredOff") return "alreadyOff";
  try {
    return await client.shutdownGuest(vm.ref, { timeoutMs: GUEST_SHUTDOWN_MS });
  } catch {
    const now = await client.getVm(vm.ref);
    if (now.powerState !== "poweredOff") await client.powerOff(vm.ref);
    return "powerOff";
  }
}

/** The CBT changeId of each disk at the VM's current content, by device key. */
export async function captureBaseline(client: VsphereClient, vm: VirtualMachine): Promise<{ diskKey: number; changeId: string }[]> {
  const ids = await client.captureChangeIds(vm.ref);
  return [...ids.entries()].sort((a, b) => a[0] - b[0]).map(([diskKey, changeId]) => ({ diskKey, changeId }));
}

/**
 * Deletes a VM DR created (powering it off first) and confirms with a lookup
 * that it is gone. Resolves true when no such VM exists any more. A VM whose
 * annotation does not carry `marker` (the restore id DR wrote into it) is
 * never deleted: a MoRef alone could name another VM after a re-registration.
 */
export async function destroyCreatedVm(client: VsphereClient, moRef: string, marker: string): Promise<boolean> {
  let vm: VirtualMachine;
  try {
    vm = await client.getVm(vmRef(moRef));
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return true;
    throw err;
  }
  if (!(vm.annotation ?? "").includes(marker)) {
    throw new Error(`VM ${vm.name} (${moRef}) does not carry Lifeboat's marker ${marker}; Lifeboat deletes only the VMs it made`);
  }
  if (vm.powerState !== "poweredOff") await client.powerOff(vm.ref);
  await client.destroyVm(vm.ref);
  try {
    await client.getVm(vmRef(moRef));
    return false;
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return true;
    throw err;
  }
}

/** VMs whose annotation carries `marker` (the restore id DR writes into every VM it creates). */
export async function vmsMarked(client: VsphereClient, name: string, marker: string): Promise<VirtualMachine[]> {
  return (await client.findVmsByName(name)).filter((v) => (v.annotation ?? "").includes(marker));
}
