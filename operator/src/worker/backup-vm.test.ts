import { describe, expect, it } from "@jest/globals";
import type { VmDisk } from "../vsphere/index.js";
import { splitSnapshotDisks } from "./backup-vm.js";
import { EXIT, WorkerError } from "./errors.js";

const disk = (key: number, diskMode: string, extra: Partial<VmDisk> = {}): VmDisk => ({
  key,
  label: `Hard disk ${key - 1999}`,
  capacityBytes: 1 << 20,
  fileName: `[ds1] app/app_${key}.vmdk`,
  datastoreName: "ds1",
  path: `app/app_${key}.vmdk`,
  diskMode,
  backingType: "VirtualDiskFlatVer2BackingInfo",
  ...extra,
});

describe("splitSnapshotDisks", () => {
  it("keeps the disks a snapshot captures and names the others with their reason", () => {
    const rdm = disk(2002, "persistent", { backingType: "VirtualDiskRawDiskMappingVer1BackingInfo", compatibilityMode: "physicalMode" });
    const { disks, excluded } = splitSnapshotDisks({ name: "app" }, [disk(2000, "persistent"), disk(2001, "independent_persistent"), rdm]);
    expect(disks.map((d) => d.key)).toEqual([2000]);
    expect(excluded.map((e) => [e.disk.key, e.reason])).toEqual([[2001, "IndependentDisk"], [2002, "PhysicalModeRDM"]]);
  });

  it("refuses a VM whose every disk a snapshot leaves out, with an exit code the Job does not retry and what to change", () => {
    let thrown: unknown;
    try {
      splitSnapshotDisks({ name: "app" }, [disk(2000, "independent_persistent")]);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(WorkerError);
    expect((thrown as WorkerError).exitCode).toBe(EXIT.noSnapshotDisks);
    expect((thrown as WorkerError).message).toBe(
      'VM "app" has no disk a snapshot captures: Hard disk 1 ([ds1] app/app_2000.vmdk) is an independent disk, and a VM snapshot does not capture such disks. ' +
        "Make them dependent disks (disk mode persistent; an RDM in virtual compatibility mode) to protect them with Lifeboat, or back them up from inside the guest",
    );
    expect(() => splitSnapshotDisks({ name: "empty" }, [])).toThrow('VM "empty" has no virtual disks to back up');
  });
});
