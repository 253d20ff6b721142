import { FaultError, GuestShutdownTimeoutError, VsphereError } from "./errors.js";
import { PropertyWatch } from "./property-collector.js";
import type { Session } from "./session.js";
import { resultRef, taskRef, waitForTask, type WaitOptions } from "./tasks.js";
import { el, moRefEl, rawEl, textOf, typedEl, type MoRef } from "./xml.js";

/**
 * Creating, powering and destroying VMs, for restore: the new VM gets the
 * recovery point's disks (empty, of the given capacity), controllers and
 * NICs, placed on the target datastore, folder, resource pool and networks;
 * the restore then uploads each disk's data.
 */

export type ControllerType = "pvscsi" | "lsilogic" | "lsilogic-sas" | "buslogic";

export interface NewDisk {
  readonly capacityBytes: number;
  /** Thin provisioning (default true). */
  readonly thin?: boolean;
}

export interface NewNic {
  /** A standard port group: the Network object and its name. */
  readonly network?: { readonly ref: MoRef; readonly name: string };
  /** A distributed port group: its key and its switch's UUID (Network.portgroupKey/switchUuid). */
  readonly portgroup?: { readonly ref: MoRef; readonly portgroupKey: string; readonly switchUuid: string };
  /** Adapter type (default vmxnet3). */
  readonly adapter?: "vmxnet3" | "e1000e" | "e1000";
  /** Keep a MAC address (e.g. in-place restore); generated when absent. */
  readonly macAddress?: string;
}

export interface CreateVmSpec {
  readonly name: string;
  /** The VM folder to create the VM in (Datacenter.vmFolder or a folder below it). */
  readonly folder: MoRef;
  readonly resourcePool: MoRef;
  /** Optional host (required by vCenter only for pools without DRS). */
  readonly host?: MoRef;
  /** Datastore name for the VM's files and disks. */
  readonly datastoreName: string;
  readonly guestId?: string;
  /** The VM's notes (config.annotation); disaster recovery marks the VMs it creates with it, to find exactly those again. */
  readonly annotation?: string;
  readonly numCpu?: number;
  readonly memoryMB?: number;
  readonly firmware?: "bios" | "efi";
  readonly controller?: ControllerType;
  readonly disks: readonly NewDisk[];
  readonly nics?: readonly NewNic[];
  readonly changeTracking?: boolean;
}

/** The vim25 device type of each controller kind (also the controller part of an import lease's importKey). */
export const controllerXsi: Record<ControllerType, string> = {
  pvscsi: "ParaVirtualSCSIController",
  lsilogic: "VirtualLsiLogicController",
  "lsilogic-sas": "VirtualLsiLogicSASController",
  buslogic: "VirtualBusLogicController",
};

const nicXsi = { vmxnet3: "VirtualVmxnet3", e1000e: "VirtualE1000e", e1000: "VirtualE1000" } as const;

/** The SCSI unit number of the spec's disk `index`: units in order, skipping 7, the controller's own. */
export function diskUnitNumber(index: number): number {
  return index < 7 ? index : index + 1;
}

/**
 * Encodes the VirtualMachineConfigSpec that describes a new VM (fields in
 * WSDL order): the one encoding of CreateVmSpec, used both as CreateVM_Task's
 * `config` and as the `configSpec` of ImportVApp's VirtualMachineImportSpec,
 * so a VM made either way gets the same hardware, notes and networks.
 */
export function vmConfigSpecXml(spec: CreateVmSpec): string {
  if (spec.disks.length > 15) throw new VsphereError(`A restore VM can have at most 15 disks on one controller, not ${spec.disks.length}`);
  const controllerKey = -100;
  const changes: string[] = [];
  changes.push(
    rawEl(
      "deviceChange",
      el("operation", "add") +
        typedEl(
          "device",
          controllerXsi[spec.controller ?? "pvscsi"],
          el("key", controllerKey) + el("busNumber", 0) + el("sharedBus", "noSharing"),
        ),
    ),
  );
  spec.disks.forEach((disk, i) => {
    if (!Number.isSafeInteger(disk.capacityBytes) || disk.capacityBytes <= 0 || disk.capacityBytes % 1024 !== 0) {
      throw new VsphereError(`Disk ${i} capacity must be a positive multiple of 1 KiB, not ${disk.capacityBytes}`);
    }
    const unit = diskUnitNumber(i);
    const backing = typedEl(
      "backing",
      "VirtualDiskFlatVer2BackingInfo",
      el("fileName", `[${spec.datastoreName}]`) + el("diskMode", "persistent") + el("thinProvisioned", disk.thin ?? true),
    );
    changes.push(
      rawEl(
        "deviceChange",
        el("operation", "add") +
          el("fileOperation", "create") +
          typedEl(
            "device",
            "VirtualDisk",
            el("key", -200 - i) + backing + el("controllerKey", controllerKey) + el("unitNumber", unit) +
              el("capacityInKB", disk.capacityBytes / 1024) + el("capacityInBytes", disk.capacityBytes),
          ),
      ),
    );
  });
  (spec.nics ?? []).forEach((nic, i) => {
    let backing: string;
    if (nic.portgroup) {
      backing = typedEl(
        "backing",
        "VirtualEthernetCardDistributedVirtualPortBackingInfo",
        rawEl("port", el("switchUuid", nic.portgroup.switchUuid) + el("portgroupKey", nic.portgroup.portgroupKey)),
      );
    } else if (nic.network) {
      backing = typedEl(
        "backing",
        "VirtualEthernetCardNetworkBackingInfo",
        el("deviceName", nic.network.name) + moRefEl("network", nic.network.ref),
      );
    } else {
      throw new VsphereError(`NIC ${i} needs a network or a distributed port group`);
    }
    const connectable = rawEl("connectable", el("startConnected", true) + el("allowGuestControl", true) + el("connected", false));
    const address = nic.macAddress ? el("addressType", "manual") + el("macAddress", nic.macAddress) : el("addressType", "generated");
    changes.push(
      rawEl(
        "deviceChange",
        el("operation", "add") + typedEl("device", nicXsi[nic.adapter ?? "vmxnet3"], el("key", -300 - i) + backing + connectable + address),
      ),
    );
  });
  return (
    el("name", spec.name) +
    el("guestId", spec.guestId ?? "otherGuest64") +
    el("annotation", spec.annotation) +
    rawEl("files", el("vmPathName", `[${spec.datastoreName}]`)) +
    el("numCPUs", spec.numCpu ?? 1) +
    el("memoryMB", spec.memoryMB ?? 1024) +
    changes.join("") +
    el("changeTrackingEnabled", spec.changeTracking) +
    el("firmware", spec.firmware)
  );
}

/** Creates a VM and resolves with its reference once the task finished. */
export async function createVm(session: Session, spec: CreateVmSpec, opts: WaitOptions = {}): Promise<MoRef> {
  const res = await session.call(
    "CreateVM_Task",
    moRefEl("_this", spec.folder) + rawEl("config", vmConfigSpecXml(spec)) + moRefEl("pool", spec.resourcePool) + moRefEl("host", spec.host),
  );
  const result = await waitForTask(session, taskRef(res, "CreateVM_Task"), `Creating VM "${spec.name}"`, opts);
  return resultRef(result, "CreateVM_Task");
}

export async function powerOn(session: Session, vm: MoRef, opts: WaitOptions = {}): Promise<void> {
  const res = await session.call("PowerOnVM_Task", moRefEl("_this", vm));
  await waitForTask(session, taskRef(res, "PowerOnVM_Task"), `Powering on ${vm.value}`, opts);
}

export async function powerOff(session: Session, vm: MoRef, opts: WaitOptions = {}): Promise<void> {
  const res = await session.call("PowerOffVM_Task", moRefEl("_this", vm));
  await waitForTask(session, taskRef(res, "PowerOffVM_Task"), `Powering off ${vm.value}`, opts);
}

/** How long {@link shutdownGuest} waits for the guest OS by default. */
export const DEFAULT_GUEST_SHUTDOWN_MS = 5 * 60_000;

export interface GuestShutdownOptions {
  /** How long the guest may take to power the VM off (default 5 min); then GuestShutdownTimeoutError. */
  readonly timeoutMs?: number;
  /** Aborting stops the wait (the guest may still shut down) and rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/**
 * Shuts the guest OS down cleanly and waits until the VM is powered off, so
 * that a planned failover stops the protected VM with everything its
 * applications wrote on disk. ShutdownGuest only asks VMware Tools in the
 * guest and returns at once (it is not a task), so the wait follows the VM's
 * runtime.powerState through a property collector. Resolves "alreadyOff" when
 * the VM was already off (nothing is asked) and "guest" when the guest powered
 * it off. Rejects with GuestShutdownTimeoutError when the VM is still on after
 * `timeoutMs`, and with FaultError "ToolsUnavailable" when vCenter cannot
 * reach VMware Tools in the guest; either way the caller may power it off hard.
 */
export async function shutdownGuest(session: Session, vm: MoRef, opts: GuestShutdownOptions = {}): Promise<"guest" | "alreadyOff"> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_GUEST_SHUTDOWN_MS;
  const watch = await PropertyWatch.start(session, {
    propSet: [{ type: "VirtualMachine", pathSet: ["runtime.powerState"] }],
    objectSet: [{ obj: vm }],
  });
  try {
    // The watch's first answer is the current state.
    if ((await nextPowerState(watch, 0, opts.signal)) === "poweredOff") return "alreadyOff";
    const deadline = Date.now() + timeoutMs;
    try {
      await session.call("ShutdownGuest", moRefEl("_this", vm));
    } catch (err) {
      // Powered off by someone else since the first look.
      const offMeanwhile = err instanceof FaultError && err.faultName === "InvalidPowerState" && (await nextPowerState(watch, 0, opts.signal)) === "poweredOff";
      if (offMeanwhile) return "alreadyOff";
      throw err;
    }
    for (;;) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        throw new GuestShutdownTimeoutError(`The guest OS of ${vm.value} did not power it off within ${Math.round(timeoutMs / 1000)} s of the shutdown request`);
      }
      if ((await nextPowerState(watch, Math.min(30, Math.ceil(remainingMs / 1000)), opts.signal)) === "poweredOff") return "guest";
    }
  } finally {
    await watch.destroy();
  }
}

/** The power state a runtime.powerState watch reports next; undefined when it did not change within `maxWaitSeconds`. */
async function nextPowerState(watch: PropertyWatch, maxWaitSeconds: number, signal: AbortSignal | undefined): Promise<string | undefined> {
  let updates;
  try {
    updates = await watch.next(maxWaitSeconds, signal);
  } catch (err) {
    signal?.throwIfAborted();
    throw err;
  }
  signal?.throwIfAborted();
  const changes = updates.flatMap((u) => u.changes).filter((c) => c.name === "runtime.powerState");
  return textOf(changes[changes.length - 1]?.val);
}

/** Deletes the VM and its files. The VM must be powered off. */
export async function destroyVm(session: Session, vm: MoRef, opts: WaitOptions = {}): Promise<void> {
  const res = await session.call("Destroy_Task", moRefEl("_this", vm));
  await waitForTask(session, taskRef(res, "Destroy_Task"), `Destroying ${vm.value}`, opts);
}
