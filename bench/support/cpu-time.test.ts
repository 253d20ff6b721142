import { describe, expect, test } from "@jest/globals";
import { cpuBetween, cpuSeconds, peakRssBytes, statTicks, statusPeakRss } from "./cpu-time.js";

describe("statTicks", () => {
  test("user plus system ticks, whatever the command name holds", () => {
    const fields = "S 1 1 1 0 -1 4194304 126 0 0 0 250 50 0 0 20 0 3 0 6483832";
    expect(statTicks(`4242 (node) ${fields}`)).toBe(300);
    expect(statTicks(`4242 (a (b) c) ${fields}`)).toBe(300);
    expect(() => statTicks("4242 (node) S 1")).toThrow(/Not a \/proc\/PID\/stat line/);
  });

  test("this process has used some CPU; a process that is gone has none to tell", async () => {
    expect(await cpuSeconds(process.pid)).toBeGreaterThan(0);
    expect(await cpuSeconds(2 ** 30)).toBeUndefined();
  });
});

describe("statusPeakRss", () => {
  test("VmHWM in bytes; a text without it is an error", () => {
    expect(statusPeakRss("Name:\tnode\nVmPeak:\t 1200000 kB\nVmHWM:\t  350000 kB\nVmRSS:\t  200000 kB\n")).toBe(350000 * 1024);
    expect(() => statusPeakRss("Name:\tnode\n")).toThrow(/VmHWM/);
  });

  test("this process has a peak RSS at least its current one; a process that is gone has none", async () => {
    const rss = process.memoryUsage.rss();
    expect(await peakRssBytes(process.pid)).toBeGreaterThanOrEqual(rss);
    expect(await peakRssBytes(2 ** 30)).toBeUndefined();
  });
});

describe("cpuBetween", () => {
  const samples = [{ atMs: 1000, seconds: 10 }, { atMs: 2000, seconds: 11 }, { atMs: 3000, seconds: 13 }];

  test("interpolates between the samples around each end", () => {
    expect(cpuBetween(samples, 1500, 2500)).toBeCloseTo(1.5, 9);
    expect(cpuBetween(samples, 1000, 3000)).toBe(3);
  });

  test("before the first sample and after the last, the edge samples count; no samples, no time", () => {
    expect(cpuBetween(samples, 0, 5000)).toBe(3);
    expect(cpuBetween([], 0, 5000)).toBe(0);
  });
});
