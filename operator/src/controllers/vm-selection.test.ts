import { describe, expect, it } from "@jest/globals";
import type { Inventory, VirtualMachine } from "../vsphere/index.js";
import { globToRegExp, selectVMs, vmFolderPath } from "./vm-selection.js";

const ref = (type: string, value: string) => ({ type, value });
const vm = (name: string, folder: string, template = false): VirtualMachine =>
  ({ ref: ref("VirtualMachine", name), name, folder: ref("Folder", folder), template, powerState: "poweredOn", changeTrackingEnabled: false, disks: [], controllers: [], nics: [], datastores: [], networks: [] });

const inventory = {
  datacenters: [{ ref: ref("Datacenter", "dc1"), name: "DC1", path: "DC1" }],
  clusters: [],
  hosts: [],
  datastores: [],
  networks: [],
  resourcePools: [],
  folders: [
    { ref: ref("Folder", "vmroot"), name: "vm", parent: ref("Datacenter", "dc1"), childType: ["VirtualMachine"] },
    { ref: ref("Folder", "prod"), name: "prod", parent: ref("Folder", "vmroot"), childType: ["VirtualMachine"] },
    { ref: ref("Folder", "web"), name: "web", parent: ref("Folder", "prod"), childType: ["VirtualMachine"] },
  ],
  vms: [vm("db-1", "prod"), vm("web-1", "web"), vm("web-canary", "web"), vm("test-1", "vmroot"), vm("tpl", "prod", true)],
} as unknown as Inventory;

describe("VM selection", () => {
  it("matches globs literally except * and ?", () => {
    expect(globToRegExp("web-*").test("web-01")).toBe(true);
    expect(globToRegExp("web-?").test("web-12")).toBe(false);
    expect(globToRegExp("a.b").test("axb")).toBe(false);
  });

  it("knows a VM's folder path", () => {
    expect(vmFolderPath(inventory, vm("x", "web"))).toBe("/DC1/vm/prod/web");
  });

  it("selects by name, folder subtree and pattern, minus exclusions and templates", () => {
    const names = (s: Parameters<typeof selectVMs>[1]) => selectVMs(inventory, s).map((v) => v.name);
    expect(names({ folders: ["/DC1/vm/prod"] })).toEqual(["db-1", "web-1", "web-canary"]);
    expect(names({ folders: ["/DC1/vm/prod/"], excludeNames: ["web-canary"] })).toEqual(["db-1", "web-1"]);
    expect(names({ namePatterns: ["*-1"], names: ["web-canary"] })).toEqual(["db-1", "test-1", "web-1", "web-canary"]);
    expect(names({ names: ["nope"] })).toEqual([]);
  });
});
