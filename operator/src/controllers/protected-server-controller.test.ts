import { describe, expect, it } from "@jest/globals";
import type { ProtectedServer, SitePair } from "../api/generated/types.js";
import { ignoredForVSphereSource } from "./protected-server-controller.js";

const pair = (type: "VMwareToVMware" | "VMwareToCloud"): SitePair => ({ apiVersion: "lifeboat.io/v1alpha1", kind: "SitePair", metadata: { name: "p" }, spec: { type } }) as unknown as SitePair;
const server = (spec: Partial<ProtectedServer["spec"]>): ProtectedServer => ({ apiVersion: "lifeboat.io/v1alpha1", kind: "ProtectedServer", metadata: { name: "db" }, spec: { sitePairRef: { name: "p" }, source: { vmName: "db" }, ...spec } });

describe("ignoredForVSphereSource", () => {
  it("names cloud-only fields toward a vSphere recovery site, and a failback's size when it overwrites the original", () => {
    const ps = server({ recovery: { cpu: 4, instanceType: "ecs.g7.large", eip: false, diskCategory: "cloud_ssd" }, failback: { cpu: 2, privateIpAddress: "10.0.0.9" }, reverseInPlace: true });
    expect(ignoredForVSphereSource(ps, pair("VMwareToVMware"))).toEqual([
      "spec.recovery.instanceType (cloud sites only: the recovery site is vSphere)",
      "spec.recovery.diskCategory (cloud sites only: the recovery site is vSphere)",
      "spec.failback.privateIpAddress (cloud sites only: a failback to vSphere makes a VM)",
      "spec.failback.cpu (reverseInPlace: the original VM keeps its own)",
    ]);
  });

  it("names vSphere-only fields toward ECS, and CPU or memory that cannot choose an instance type", () => {
    expect(ignoredForVSphereSource(server({ recovery: { datastore: "ds1", memoryGiB: 8 }, failback: { cpu: 2, memoryGiB: 4 } }), pair("VMwareToCloud"))).toEqual([
      "spec.recovery.datastore (the recovery site is ECS: the instance's disks are cloud disks)",
      "spec.recovery.memoryGiB (an instance type is chosen by vCPUs and memory together: set spec.recovery.cpu too)",
    ]);
    expect(ignoredForVSphereSource(server({ recovery: { cpu: 2, memoryGiB: 8 } }), pair("VMwareToCloud"))).toEqual([]);
  });
});
