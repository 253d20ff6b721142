import { describe, expect, it } from "@jest/globals";
import { buildPointLabels, describeExcludedDisks, excludedDisksOf, labelsForSnapshotTime, networksOf, numberLabel } from "./labels.js";

describe("buildPointLabels", () => {
  const vm = { ref: { type: "VirtualMachine", value: "vm-42" }, name: "app-01", instanceUuid: "5003-abcd", guestId: "rhel9_64Guest", numCpu: 4, memoryMB: 8192, firmware: "efi" };
  const disks = [
    { key: 2000, label: "Hard disk 1", fileName: "[ds1] app-01/app-01.vmdk", controllerKey: 1000, unitNumber: 0 },
    { key: 2001, label: "Hard disk 2", fileName: "[ds1] app-01/app-01_1.vmdk", controllerKey: 1000, unitNumber: 1 },
  ];

  it("adds what the RecoveryPoint sync and a restore read, keeping the caller's labels", () => {
    const labels = buildPointLabels({ plan: "nightly", namespace: "prod", vm: "app-01", run: "r1" }, vm, disks, ["VM Network", "Backup"]);
    expect(labels).toEqual({
      plan: "nightly",
      namespace: "prod",
      vm: "app-01",
      run: "r1",
      vmMoRef: "vm-42",
      vmInstanceUUID: "5003-abcd",
      guestOS: "rhel9_64Guest",
      numCPUs: "4",
      memoryMiB: "8192",
      firmware: "efi",
      networks: "VM Network,Backup",
      "disk.2000.label": "Hard disk 1",
      "disk.2000.file": "[ds1] app-01/app-01.vmdk",
      "disk.2000.controllerKey": "1000",
      "disk.2000.unitNumber": "0",
      "disk.2001.label": "Hard disk 2",
      "disk.2001.file": "[ds1] app-01/app-01_1.vmdk",
      "disk.2001.controllerKey": "1000",
      "disk.2001.unitNumber": "1",
    });
    expect(networksOf(labels)).toEqual(["VM Network", "Backup"]);
    expect(numberLabel(labels, "memoryMiB")).toBe(8192);
  });

  it("names the VM when the caller did not, and leaves out what vCenter did not report", () => {
    const labels = buildPointLabels({ plan: "p" }, { ref: vm.ref, name: "db" }, [], []);
    expect(labels).toEqual({ plan: "p", vm: "db", vmMoRef: "vm-42", networks: "" });
    expect(networksOf(labels)).toEqual([]);
    expect(numberLabel(labels, "numCPUs")).toBeUndefined();
  });

  it("names the disks the snapshot left out, with their reason, and reads them back", () => {
    const excluded = [
      { disk: { key: 2002, label: "Hard disk 3", fileName: "[ds1] app-01/rdm.vmdk", capacityBytes: 1 << 30 }, reason: "PhysicalModeRDM" as const },
      { disk: { key: 2001, label: "Hard disk 2", fileName: "[ds1] app-01/app-01_1.vmdk", capacityBytes: 4 << 20 }, reason: "IndependentDisk" as const },
    ];
    const labels = buildPointLabels({ plan: "p" }, { ref: vm.ref, name: "app-01" }, disks.slice(0, 1), [], excluded);
    expect(labels["disk.2001.excluded"]).toBe("IndependentDisk");
    expect(labels["disk.2002.capacityBytes"]).toBe(String(1 << 30));
    expect(excludedDisksOf(labels)).toEqual([
      { key: "2001", reason: "IndependentDisk", label: "Hard disk 2", fileName: "[ds1] app-01/app-01_1.vmdk", capacityBytes: 4 << 20 },
      { key: "2002", reason: "PhysicalModeRDM", label: "Hard disk 3", fileName: "[ds1] app-01/rdm.vmdk", capacityBytes: 1 << 30 },
    ]);
    expect(describeExcludedDisks(excludedDisksOf(labels))).toBe(
      "Hard disk 2 ([ds1] app-01/app-01_1.vmdk) is an independent disk; Hard disk 3 ([ds1] app-01/rdm.vmdk) is a physical-mode RDM",
    );
    expect(excludedDisksOf(buildPointLabels({}, { ref: vm.ref, name: "db" }, disks, []))).toEqual([]);
    expect(excludedDisksOf({ "disk.7.excluded": "SomethingElse" })).toEqual([]);
  });
});

describe("labelsForSnapshotTime", () => {
  const labels = { namespace: "dr", protectedServer: "db", direction: "forward", consistencyGroup: "shop", groupTick: "20261207T190500Z" };

  it("keeps a consistency group's labels on a snapshot taken at its tick, and takes a late one outside the group", () => {
    expect(labelsForSnapshotTime(labels, "2026-12-07T19:05:00Z", new Date("2026-12-07T19:05:00.300Z"))).toBe(labels);
    expect(labelsForSnapshotTime(labels, "2026-12-07T19:05:00Z", new Date("2026-12-07T19:05:30Z"))).toBe(labels);
    expect(labelsForSnapshotTime(labels, "2026-12-07T19:05:00Z", new Date("2026-12-07T19:05:30.001Z"))).toEqual({ namespace: "dr", protectedServer: "db", direction: "forward" });
    expect(labelsForSnapshotTime(labels, undefined, new Date("2026-12-08T00:00:00Z"))).toBe(labels);
  });
});
