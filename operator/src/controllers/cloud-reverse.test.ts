import { describe, expect, it } from "@jest/globals";
import { exportLimit } from "./cloud-reverse.js";

const GiB = 1024 ** 3;
const disk = (i: number, sizeBytes = 10 * GiB) => ({ key: String(2000 + i), device: `/dev/xvd${String.fromCharCode(97 + i)}`, sizeBytes });

describe("what ExportImage can bring back (its documented limits)", () => {
  it("takes a Linux server with up to 4 data disks of up to 500 GiB", () => {
    expect(exportLimit({ disks: [disk(0, 2000 * GiB), disk(1), disk(2), disk(3), disk(4, 500 * GiB)], labels: { guestOS: "centos8_64Guest" } })).toBeUndefined();
  });

  it("refuses Windows, a fifth data disk and a data disk over 500 GiB, saying which", () => {
    expect(exportLimit({ disks: [disk(0)], labels: { guestOS: "windows2019srv_64Guest" } })).toMatch(/Windows/);
    expect(exportLimit({ disks: [0, 1, 2, 3, 4, 5].map((i) => disk(i)), labels: {} })).toMatch(/at most 4 data disks; the server has 5/);
    expect(exportLimit({ disks: [disk(0), disk(1, 501 * GiB)], labels: {} })).toMatch(/disk 2001 has 501 GiB/);
  });
});
