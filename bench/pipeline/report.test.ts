import { describe, expect, test } from "@jest/globals";
import { against, cpuTable, extentsOfBlocks, importReceipt, limitsTable, medianCpu, summarizePhase, wholeRunTable, type Phase } from "./report.js";

describe("extentsOfBlocks", () => {
  test("runs of adjacent blocks become one extent each, the last clipped at the disk's end", () => {
    expect(extentsOfBlocks([0, 1, 2, 5, 7, 8], 10, 85)).toEqual([
      { offset: 0, length: 30 },
      { offset: 50, length: 10 },
      { offset: 70, length: 15 },
    ]);
  });

  test("no blocks, no extents; one block, one extent", () => {
    expect(extentsOfBlocks([], 10, 100)).toEqual([]);
    expect(extentsOfBlocks([3], 10, 100)).toEqual([{ offset: 30, length: 10 }]);
  });
});

describe("importReceipt", () => {
  const log = [
    "2026/12/03 10:43:40 import lease session[abc]5: disk 2000 of restored-0 received 152043520 bytes, 3104 grains (203423744 bytes of data) of 268435456 bytes of capacity",
    "2026/12/03 10:43:41 import lease session[abc]6: disk 2000 of restored-00 received 1 bytes, 1 grains (65536 bytes of data) of 268435456 bytes of capacity",
    "2026/12/03 10:43:45 import lease session[abc]7: disk 2000 of plain.import-0 received 10 bytes, 2 grains (131072 bytes of data) of 268435456 bytes of capacity",
  ].join("\n");

  test("what vcsim says the VM's disk received, for that VM name exactly", () => {
    expect(importReceipt(log, "restored-0")).toEqual({ streamBytes: 152043520, grains: 3104, grainBytes: 203423744 });
    expect(importReceipt(log, "plain.import-0")).toEqual({ streamBytes: 10, grains: 2, grainBytes: 131072 });
    expect(importReceipt(log, "plainximport-0")).toBeUndefined();
    expect(importReceipt(log, "restored-1")).toBeUndefined();
  });
});

describe("summarizePhase", () => {
  const phase: Phase = {
    name: "full backup",
    moved: "read",
    limits: ["plain read", "other"],
    runs: [
      { seconds: 10, wallSeconds: 14, bytes: 1000, snapshotSeconds: 2, limits: [{ seconds: 5, bytes: 1000 }, { seconds: 20, bytes: 4000 }] },
      { seconds: 8, wallSeconds: 12, bytes: 1000, snapshotSeconds: 1, limits: [{ seconds: 6, bytes: 1000 }, { seconds: 10, bytes: 4000 }] },
      { seconds: 12, wallSeconds: 16, bytes: 1000, snapshotSeconds: 3, limits: [{ seconds: 4, bytes: 1000 }, { seconds: 12, bytes: 4000 }] },
    ],
  };

  test("medians, the fraction of each limit (limit s over pipeline s), and the per-run spread", () => {
    const s = summarizePhase(phase);
    expect(s).toMatchObject({ seconds: 10, wallSeconds: 14, bytes: 1000, snapshotSeconds: 2 });
    expect(s.limits[0]).toMatchObject({ limit: "plain read", seconds: 5, bytes: 1000, fraction: 0.5, wallFraction: 5 / 14 });
    expect(s.limits[0]?.spread[0]).toBeCloseTo(1 / 3, 9);
    expect(s.limits[0]?.spread[1]).toBeCloseTo(0.75, 9);
    expect(s.limits[1]).toMatchObject({ seconds: 12, bytes: 4000, fraction: 1.2 });
  });

  test("a phase without runs, or a run without one of its limits, is an error", () => {
    expect(() => summarizePhase({ ...phase, runs: [] })).toThrow(/no runs/);
    expect(() => summarizePhase({ ...phase, runs: [{ seconds: 1, wallSeconds: 1, bytes: 1, limits: [{ seconds: 1, bytes: 1 }] }] })).toThrow(/lacks its limit "other"/);
  });

  test("the tables: a row per limit, MB/s of 10^6 bytes, the fraction in bold; the whole run's parts", () => {
    const s = summarizePhase({ ...phase, runs: [{ seconds: 2, wallSeconds: 5, bytes: 4e8, snapshotSeconds: 1, limits: [{ seconds: 1, bytes: 4e8 }, { seconds: 4, bytes: 8e8 }] }] });
    const main = limitsTable([s]);
    expect(main).toHaveLength(4);
    expect(main[2]).toBe("| full backup | 381 MiB read | 2.00 | 200 | plain read | 381 MiB | 1.00 | 400 | **50 %** | 50 %–50 % |");
    expect(main[3]).toContain("| other | 763 MiB | 4.00 | 200 | **200 %** |");
    expect(wholeRunTable([s])[2]).toBe("| full backup | 5.00 | 2.00 | 1.00 | 2.00 | 20 % | — |");
  });

  test("the worker's peak RSS: the highest of the runs that measured it", () => {
    const runs = phase.runs.map((r, i) => ({ ...r, peakRssBytes: i === 1 ? undefined : (i + 1) * 100 * 1024 * 1024 }));
    const s = summarizePhase({ ...phase, runs });
    expect(s.peakRssBytes).toBe(300 * 1024 * 1024);
    expect(wholeRunTable([s])[2]).toMatch(/\| 300 MiB \|$/);
    expect(summarizePhase(phase).peakRssBytes).toBeUndefined();
  });
});

describe("against", () => {
  test("says when a goal is missed", () => {
    expect(against(0.8, 0.8)).toEqual({ text: "80 %", met: true });
    expect(against(0.42, 0.8)).toEqual({ text: "42 % (missed)", met: false });
  });
});

describe("CPU", () => {
  test("medians of what was measured, nothing when nothing was", () => {
    expect(medianCpu([{ process: 1, vcsim: 4 }, undefined, { process: 3, vcsim: 2 }, { process: 2, vcsim: 3 }])).toEqual({ process: 2, vcsim: 3 });
    expect(medianCpu([undefined])).toBeUndefined();
  });

  test("the table: the pipeline's and each limit's CPU seconds and the cores they kept busy", () => {
    const s = summarizePhase({
      name: "full backup",
      moved: "read",
      limits: ["plain read"],
      runs: [{ seconds: 4, wallSeconds: 6, bytes: 1, cpu: { process: 5, vcsim: 2.6 }, limits: [{ seconds: 2, bytes: 1, cpu: { process: 1, vcsim: 1.5 } }] }],
    });
    expect(cpuTable([s]).slice(2)).toEqual([
      "| full backup | pipeline (worker) | 4.00 | 5.0 | 2.6 | 1.90 |",
      "| full backup | limit: plain read (this process) | 2.00 | 1.0 | 1.5 | 1.25 |",
    ]);
    expect(cpuTable([{ ...s, cpu: undefined }])[2]).toBe("| full backup | pipeline (worker) | 4.00 | — | — | — |");
  });
});
