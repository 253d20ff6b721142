/**
 * Finding the VM a worker acts on, and naming its networks. A VM is found by
 * MoRef when the caller knows it (stable across renames), else by its name,
 * which must then be unique in the vCenter.
 */
import { retrieveOne } from "../vsphere/property-collector.js";
import { ObjectNotFoundError, type VirtualMachine, type VsphereClient } from "../vsphere/index.js";
import { textOf } from "../vsphere/xml.js";
import { EXIT, WorkerError } from "./errors.js";

/** The VM by MoRef, else by unique name; WorkerError(VMNotFound) otherwise. */
export async function findVm(client: VsphereClient, vm: { readonly name: string; readonly moRef?: string | undefined }): Promise<VirtualMachine> {
  if (vm.moRef) {
    try {
      return await client.getVm({ type: "VirtualMachine", value: vm.moRef });
    } catch (err) {
      if (err instanceof ObjectNotFoundError) {
        throw new WorkerError(EXIT.vmNotFound, `VM ${vm.moRef} ("${vm.name}") does not exist in vCenter any more; was it deleted or re-registered?`, { cause: err });
      }
      throw err;
    }
  }
  const found = (await client.findVmsByName(vm.name)).filter((v) => !v.template);
  if (found.length === 0) throw new WorkerError(EXIT.vmNotFound, `No VM is named "${vm.name}" in vCenter`);
  if (found.length > 1) {
    throw new WorkerError(EXIT.vmNotFound, `${found.length} VMs are named "${vm.name}" (${found.map((v) => v.ref.value).join(", ")}); select the VM by MoRef`);
  }
  return found[0] as VirtualMachine;
}

/**
 * The network name of each NIC, in NIC order: the port group name of a
 * standard network, or the name of the distributed port group a NIC's port
 * belongs to (looked up among the VM's networks).
 */
export async function nicNetworkNames(client: VsphereClient, vm: VirtualMachine): Promise<string[]> {
  const byKey = new Map<string, string>();
  const byRef = new Map<string, string>();
  if (vm.nics.some((n) => !n.networkName)) {
    for (const ref of vm.networks) {
      const pathSet = ref.type === "DistributedVirtualPortgroup" ? ["name", "key"] : ["name"];
      const o = await retrieveOne(client.session, ref, pathSet).catch(() => undefined);
      const name = textOf(o?.props.get("name"));
      if (!name) continue;
      byRef.set(ref.value, name);
      const key = textOf(o?.props.get("key"));
      if (key) byKey.set(key, name);
    }
  }
  return vm.nics.map((n) => n.networkName ?? (n.portgroupKey ? byKey.get(n.portgroupKey) : undefined) ?? (n.network ? byRef.get(n.network.value) : undefined) ?? "");
}
