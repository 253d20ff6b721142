import { VsphereError } from "./errors.js";
import type { Session } from "./session.js";
import { taskRef, waitForTask, type WaitOptions } from "./tasks.js";
import { el, moRefEl, rawEl, type MoRef } from "./xml.js";

/**
 * Changing an existing VM's configuration (ReconfigVM_Task): disaster
 * recovery gives a recovered VM the CPU and memory its spec asks for.
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
