import { describe, expect, test } from "@jest/globals";
import { maxPageOrder, meminfoBytes } from "./page-reporting.js";

describe("page reporting's inputs", () => {
  test("the largest page order is the number of per-order counts after the zone, less one", () => {
    const buddyinfo = [
      "Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3 ",
      "Node 0, zone   Normal   4696   3991   3731   2554   1698   1162    964   1380    202     93    841 ",
      "",
    ].join("\n");
    expect(maxPageOrder(buddyinfo)).toBe(10);
    expect(() => maxPageOrder("")).toThrow(/buddyinfo/);
  });

  test("a meminfo field is read in bytes, and a missing one is named", () => {
    const meminfo = "MemTotal:       24683828 kB\nMemFree:        19452104 kB\nMemAvailable:   20730000 kB\n";
    expect(meminfoBytes(meminfo, "MemFree")).toBe(19452104 * 1024);
    expect(() => meminfoBytes(meminfo, "SwapFree")).toThrow(/SwapFree/);
  });
});
