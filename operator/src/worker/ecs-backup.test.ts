import { describe, expect, it } from "@jest/globals";
import { exportPrefixes } from "../cloud/alibaba/export-cleanup.js";
import { exportedFileOf } from "./ecs-backup.js";

describe("the files ExportImage wrote", () => {
  // Alibaba documents only that a file's name contains "system", or "data" and the data disk's mount point.
  const names = ["lbx1234m-1_system.raw", "lbx1234m-1_data_xvdb.qcow2", "lbx1234m-1_data_xvdba.raw"];

  it("finds the system disk by 'system' and a data disk by 'data' and its whole device name", () => {
    expect(exportedFileOf(names, "/dev/xvda")).toBe(names[0]);
    expect(exportedFileOf(names, "/dev/xvdb")).toBe(names[1]);
    expect(exportedFileOf(names, "/dev/xvdba")).toBe(names[2]);
    expect(exportedFileOf(names, "/dev/xvdc")).toBeUndefined();
  });

  it("looks only at the file name, not at the folders above it", () => {
    expect(exportedFileOf(["system/m-1_data_xvdb.raw"], "/dev/xvda")).toBeUndefined();
  });

  it("names a server's exports and each run's with prefixes ExportImage accepts (1-30 letters and digits)", () => {
    const a = exportPrefixes("prod", "db", "20261203t064659z");
    expect(a.server).toMatch(/^[A-Za-z0-9]{1,30}$/);
    expect(a.run).toMatch(/^[A-Za-z0-9]{1,30}$/);
    expect(a.run.startsWith(a.server)).toBe(true);
    expect(exportPrefixes("prod", "web", "20261203t064659z").server).not.toBe(a.server);
    expect(exportPrefixes("prod", "db", "20261203t070000z").run).not.toBe(a.run);
  });
});
