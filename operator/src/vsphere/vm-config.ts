import { isNic } from "./devices.js";
import { VsphereError } from "./errors.js";
import { retrieveOne } from "./property-collector.js";
import type { Session } from "./session.js";
import { taskRef, waitForTask, type WaitOptions } from "./tasks.js";
import { bool, child, children, el, isNode, moRefEl, nodeXml, rawEl, textOf, type MoRef } from "./xml.js";

/**
 * Changing an existing VM's configuration (ReconfigVM_Task): disaster
 * recovery fences and unfences VMs by their NICs' connection state and gives
 * a recovered VM the CPU and memory its spec asks for.
 */

/**
 * Applies a VirtualMachineConfigSpec with ReconfigVM_Task and waits for the
 * task. `specXml` is the spec's content, fields in WSDL order; `what` names
 * the change in errors.
 */
export async function reconfigureVm(session: Session, vm: MoRef, specXml: string, what: string, opts: WaitOptions = {}): Promise<void> {
  const res = await session.call("ReconfigVM_Task", moRefEl("_this", vm) + rawEl("spec", specXml));
  await waitForTask(session, taskRef(res, "ReconfigVM_Task"), what, opts);
}

/** A connection state differs from the one asked for. A NIC of a VM that is not running is never connected. */
function connectionDiffers(connectable: unknown, connected: boolean, poweredOn: boolean): boolean {
  return (
    bool(connectable, "startConnected") !== connected ||
    bool(connectable, "allowGuestControl") !== connected ||
    bool(connectable, "connected") !== (connected && poweredOn)
  );
}

// VirtualDevice fields that come before connectable in WSDL order.
const fieldsBeforeConnectable = new Set(["key", "deviceInfo", "backing"]);

/**
 * The deviceChange that edits one NIC (a parsed VirtualDevice as the server
 * sent it): startConnected, allowGuestControl and connected become
 * `connected`; the rest of the device goes back unchanged, because an edit
 * replaces the whole device. Exported for unit tests.
 */
export function nicConnectionEditXml(device: unknown, connected: boolean): string {
  if (!isNode(device)) throw new VsphereError("A virtual NIC in the VM's device list has no content");
  const old = child(device, "connectable");
  const connectable = {
    ...(isNode(old) ? old : {}),
    startConnected: String(connected),
    allowGuestControl: String(connected),
    connected: String(connected),
  };
  const entries = Object.entries(device).filter(([key]) => key !== "connectable");
  const at = entries.findIndex(([key]) => !key.startsWith("@_") && !fieldsBeforeConnectable.has(key));
  entries.splice(at < 0 ? entries.length : at, 0, ["connectable", connectable]);
  return rawEl("deviceChange", el("operation", "edit") + nodeXml("device", Object.fromEntries(entries)));
}

/**
 * Connects (`true`) or disconnects (`false`) every virtual NIC of a VM, now
 * and at power-on: connected, startConnected and allowGuestControl all
 * become `connected`. Disaster recovery fences a VM this way (the original
 * after a failover, a copy it must keep off the network): it stays off the
 * network even when someone powers it on, and the guest cannot reconnect it.
 * A powered-off VM's NICs connect when it powers on. Only NICs not yet in
 * that state are edited, in one reconfiguration; resolves with how many (0:
 * nothing to change, nothing sent).
 */
export async function setNicsConnected(session: Session, vm: MoRef, connected: boolean, opts: WaitOptions = {}): Promise<number> {
  const o = await retrieveOne(session, vm, ["config.hardware.device", "runtime.powerState"]);
  const poweredOn = textOf(o.props.get("runtime.powerState")) === "poweredOn";
  const nics = children(o.props.get("config.hardware.device"), "VirtualDevice").filter(isNic);
  const edits = nics.filter((d) => connectionDiffers(child(d, "connectable"), connected, poweredOn));
  if (edits.length === 0) return 0;
  const what = `${connected ? "Connecting" : "Disconnecting"} ${edits.length} NIC(s) of ${vm.value}`;
  await reconfigureVm(session, vm, edits.map((d) => nicConnectionEditXml(d, connected)).join(""), what, opts);
  return edits.length;
}

export interface HardwareChange {
  readonly numCpu?: number;
  readonly memoryMB?: number;
}

/**
 * Sets the number of virtual CPUs and the memory size (ReconfigVM_Task
 * numCPUs, memoryMB): a recovered VM gets what the user's spec asks for, not
 * what the protected VM had. vSphere changes them while the VM is powered off
 * (or with CPU/memory hot-add enabled). Nothing is sent when neither is given.
 */
export async function reconfigureHardware(session: Session, vm: MoRef, change: HardwareChange, opts: WaitOptions = {}): Promise<void> {
  for (const [name, value] of [["numCpu", change.numCpu], ["memoryMB", change.memoryMB]] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0)) {
      throw new VsphereError(`${name} must be a positive integer, not ${value}`);
    }
  }
  const spec = el("numCPUs", change.numCpu) + el("memoryMB", change.memoryMB);
  if (spec === "") return;
  await reconfigureVm(session, vm, spec, `Setting ${change.numCpu ?? "the same"} CPU(s) and ${change.memoryMB ?? "the same"} MB of memory on ${vm.value}`, opts);
}
