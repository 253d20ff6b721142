// Changes a test VM's disks the way an administrator would in vCenter
// (ReconfigVM_Task): add a disk of a given mode or backing, change a disk's
// mode, remove a disk. The product never does these; the tests need VMs
// with independent disks and raw device mappings.
import { child, children, el, isNode, nodeXml, num, rawEl, text, typedEl, xsiType, type MoRef } from "../../operator/src/vsphere/xml.js";
import { retrieveOne } from "../../operator/src/vsphere/property-collector.js";
import { reconfigureVm } from "../../operator/src/vsphere/vm-config.js";
import type { VsphereClient } from "../../operator/src/vsphere/index.js";

async function devices(client: VsphereClient, vm: MoRef): Promise<unknown[]> {
  const o = await retrieveOne(client.session, vm, ["config.hardware.device"]);
  return children(o.props.get("config.hardware.device"), "VirtualDevice");
}

/** The VM's device (as vCenter sent it) with that key. */
async function device(client: VsphereClient, vm: MoRef, key: number): Promise<Record<string, unknown>> {
  const found = (await devices(client, vm)).find((d) => num(d, "key") === key);
  if (!isNode(found)) throw new Error(`VM ${vm.value} has no device ${key}`);
  return found;
}

export interface NewDisk {
  readonly capacityBytes: number;
  /** File name inside the VM's directory on the datastore of its first disk. */
  readonly file: string;
  /** independent_persistent, persistent, ... */
  readonly diskMode?: string;
  /** A raw device mapping (its mapping file is `file`) in this compatibility mode. */
  readonly rdm?: "physicalMode" | "virtualMode";
}

/** Adds a disk on the controller of the VM's first disk, at the next free unit; resolves with its device key. */
export async function addDisk(client: VsphereClient, vm: MoRef, disk: NewDisk): Promise<number> {
  const all = await devices(client, vm);
  const disks = all.filter((d) => xsiType(d) === "VirtualDisk");
  const first = disks[0];
  if (!first) throw new Error(`VM ${vm.value} has no disk to put the new one beside`);
  const controllerKey = num(first, "controllerKey") ?? 0;
  const used = new Set(all.filter((d) => num(d, "controllerKey") === controllerKey).map((d) => num(d, "unitNumber")));
  let unit = 0;
  while (used.has(unit) || unit === 7) unit++;
  const dir = /^\[([^\]]+)\]\s*(.*)\/[^/]*$/.exec(text(child(first, "backing"), "fileName") ?? "");
  if (!dir) throw new Error(`VM ${vm.value}'s first disk has no datastore path`);
  const fileName = `[${dir[1] ?? ""}] ${dir[2] ?? ""}/${disk.file}`;
  const backing = disk.rdm
    ? typedEl("backing", "VirtualDiskRawDiskMappingVer1BackingInfo",
      el("fileName", fileName) + el("deviceName", `/vmfs/devices/disks/naa.6000${unit}`) + el("lunUuid", `0200${unit}0000600`) +
        el("compatibilityMode", disk.rdm) + el("diskMode", disk.diskMode ?? "persistent"))
    : typedEl("backing", "VirtualDiskFlatVer2BackingInfo", el("fileName", fileName) + el("diskMode", disk.diskMode ?? "persistent") + el("thinProvisioned", true));
  const before = new Set(disks.map((d) => num(d, "key")));
  await reconfigureVm(client.session, vm, rawEl("deviceChange",
    el("operation", "add") + el("fileOperation", "create") +
      typedEl("device", "VirtualDisk", el("key", -1) + backing + el("controllerKey", controllerKey) + el("unitNumber", unit) +
        el("capacityInKB", disk.capacityBytes / 1024) + el("capacityInBytes", disk.capacityBytes))), `Adding disk ${disk.file} to ${vm.value}`);
  const added = (await devices(client, vm)).find((d) => xsiType(d) === "VirtualDisk" && !before.has(num(d, "key")));
  const key = num(added, "key");
  if (key === undefined) throw new Error(`VM ${vm.value} shows no new disk after adding ${disk.file}`);
  return key;
}

/** Sets a disk's mode (persistent, independent_persistent, ...); the rest of the device goes back unchanged. */
export async function setDiskMode(client: VsphereClient, vm: MoRef, key: number, diskMode: string): Promise<void> {
  const d = await device(client, vm, key);
  const backing = child(d, "backing");
  if (!isNode(backing)) throw new Error(`Disk ${key} of VM ${vm.value} has no backing`);
  const edited = { ...d, backing: { ...backing, diskMode } };
  await reconfigureVm(client.session, vm, rawEl("deviceChange", el("operation", "edit") + nodeXml("device", edited)), `Setting disk ${key} of ${vm.value} to ${diskMode}`);
}

/** Removes a disk from the VM and deletes its files. */
export async function removeDisk(client: VsphereClient, vm: MoRef, key: number): Promise<void> {
  const d = await device(client, vm, key);
  await reconfigureVm(client.session, vm, rawEl("deviceChange", el("operation", "remove") + el("fileOperation", "destroy") + nodeXml("device", d)), `Removing disk ${key} from ${vm.value}`);
}

