import { describe, expect, it } from "@jest/globals";
import type { InventoryChange } from "../vsphere/index.js";
import type { InventoryListener, VCenterConnections } from "./vcenter-connections.js";
import { mayBringVm, VmArrivals } from "./vm-arrivals.js";

const vm = (kind: "enter" | "modify" | "leave", ...props: string[]) => ({ kind, obj: { type: "VirtualMachine", value: "vm-1" }, changes: props.map((name) => ({ name, op: "assign", val: undefined })) });
const change = (...updates: ReturnType<typeof vm>[]): InventoryChange => ({ resync: false, updates });

describe("mayBringVm", () => {
  it("is true when the feed restarted or failed, a VM entered, or a VM's name, instance UUID or template flag changed", () => {
    expect(mayBringVm(undefined)).toBe(true);
    expect(mayBringVm({ resync: true, updates: [] })).toBe(true);
    expect(mayBringVm(change(vm("enter", "name")))).toBe(true);
    expect(mayBringVm(change(vm("modify", "name")))).toBe(true);
    expect(mayBringVm(change(vm("modify", "config.instanceUuid")))).toBe(true);
    expect(mayBringVm(change(vm("modify", "config.template")))).toBe(true);
  });

  it("is false for power states, a VM leaving, and changes of other objects", () => {
    expect(mayBringVm(change(vm("modify", "runtime.powerState")))).toBe(false);
    expect(mayBringVm(change(vm("leave")))).toBe(false);
    expect(mayBringVm(change({ kind: "modify", obj: { type: "Datastore", value: "ds-1" }, changes: [{ name: "name", op: "assign", val: undefined }] }))).toBe(false);
  });
});

describe("VmArrivals", () => {
  function sessions(open: string[]): { connections: VCenterConnections; fire: (vcenter: string, c: InventoryChange | undefined) => void } {
    const listeners = new Map<string, InventoryListener>();
    const connections = {
      listen: (key: string, _name: string, onChange: InventoryListener) => {
        if (!open.includes(key)) return false;
        listeners.set(key, onChange);
        return true;
      },
    } as unknown as VCenterConnections;
    return { connections, fire: (vcenter, c) => listeners.get(vcenter)?.(c) };
  }

  it("wakes the waiters of a vCenter once, on a change that may bring their VM, and none of another vCenter's", () => {
    const { connections, fire } = sessions(["ns/a", "ns/b"]);
    const arrivals = new VmArrivals(connections, "test");
    const woken: string[] = [];
    expect(arrivals.wait("ns/a", "ns/s1", () => woken.push("s1"))).toBe(true);
    expect(arrivals.wait("ns/a", "ns/s2", () => woken.push("s2"))).toBe(true);
    expect(arrivals.wait("ns/a", "ns/s2", () => woken.push("s2 again"))).toBe(true);
    expect(arrivals.wait("ns/b", "ns/s3", () => woken.push("s3"))).toBe(true);
    fire("ns/a", change(vm("modify", "runtime.powerState")));
    expect(woken).toEqual([]);
    fire("ns/a", change(vm("enter", "name")));
    expect(woken).toEqual(["s1", "s2 again"]);
    fire("ns/a", change(vm("enter", "name")));
    expect(woken).toEqual(["s1", "s2 again"]);
  });

  it("does not wake a waiter that was forgotten, and says when a vCenter has no session to listen to", () => {
    const { connections, fire } = sessions(["ns/a"]);
    const arrivals = new VmArrivals(connections, "test");
    const woken: string[] = [];
    arrivals.wait("ns/a", "ns/s1", () => woken.push("s1"));
    arrivals.forget("ns/s1");
    fire("ns/a", undefined);
    expect(woken).toEqual([]);
    expect(arrivals.wait("ns/closed", "ns/s2", () => woken.push("s2"))).toBe(false);
  });
});
