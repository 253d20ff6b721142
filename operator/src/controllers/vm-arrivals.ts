/**
 * Objects waiting for a VM to appear in a vCenter (a ProtectedServer whose
 * VM is not there yet), woken by that vCenter's change feed instead of each
 * looking again every few seconds: 2,000 waiting servers that each looked
 * every 15 s kept the operator busy on two cores and never let it converge
 * after a restart (bench:scale). A waiter still looks again on its own, much
 * less often, in case a change was missed.
 */
import type { InventoryChange } from "../vsphere/index.js";
import type { VCenterConnections } from "./vcenter-connections.js";

/** VM properties whose change can make a VM the one a waiter looks for: it is found by name or instance UUID, and templates never are. */
const FINDING_PROPERTIES: ReadonlySet<string> = new Set(["name", "config.instanceUuid", "config.template"]);

/**
 * Whether an inventory change can have brought a VM a waiter looks for: the
 * feed restarted or failed (anything may have changed), a VM entered the
 * inventory, or a VM's name, instance UUID or template flag changed. Power
 * states, datastores' free space and the like do not wake anyone.
 */
export function mayBringVm(change: InventoryChange | undefined): boolean {
  if (!change || change.resync) return true;
  return change.updates.some((u) => u.obj.type === "VirtualMachine" && (u.kind === "enter" || u.changes.some((c) => FINDING_PROPERTIES.has(c.name))));
}

export class VmArrivals {
  /** Waiters by the vCenter (namespace/name) they look in, each with how to wake it. */
  private readonly waiting = new Map<string, Map<string, () => void>>();

  constructor(private readonly connections: VCenterConnections, private readonly listenerName: string) {}

  /**
   * Wakes `wake` once the session of `vcenter` reports a change that may
   * bring the VM; `waiter` names it, so asking again replaces the earlier
   * wish. False when the vCenter has no open session to listen to.
   */
  wait(vcenter: string, waiter: string, wake: () => void): boolean {
    const listening = this.connections.listen(vcenter, this.listenerName, (change) => {
      if (!mayBringVm(change)) return;
      const woken = this.waiting.get(vcenter);
      this.waiting.delete(vcenter);
      for (const w of woken?.values() ?? []) w();
    });
    if (!listening) return false;
    let waiters = this.waiting.get(vcenter);
    if (!waiters) this.waiting.set(vcenter, (waiters = new Map<string, () => void>()));
    waiters.set(waiter, wake);
    return true;
  }

  /** Forgets a waiter that found its VM or is gone. */
  forget(waiter: string): void {
    for (const [vcenter, waiters] of this.waiting) {
      waiters.delete(waiter);
      if (waiters.size === 0) this.waiting.delete(vcenter);
    }
  }
}
