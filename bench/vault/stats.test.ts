import { describe, expect, test } from "@jest/globals";
import { CBT_PHASE, markdownTable, median, ratioCell, resultsTable, rotation, spread, summarize, TOOLS, type Phase, type Sample, type Tool } from "./stats.js";

const MB = 1e6;

function sample(run: number, phase: Phase, tool: Tool, wallSeconds: number, more: Partial<Sample> = {}): Sample {
  return { run, phase, tool, wallSeconds, syncSeconds: 0.1, cpuSeconds: 1, peakRssBytes: 100 * 1024 * 1024, storedBytes: 50 * 1024 * 1024, readBytes: 1000 * MB, ...more };
}

describe("rotation", () => {
  test("the issue's order: each tool goes first, second and third once over three runs", () => {
    expect(rotation(TOOLS, 0)).toEqual(["lifeboat", "kopia", "restic"]);
    expect(rotation(TOOLS, 1)).toEqual(["kopia", "restic", "lifeboat"]);
    expect(rotation(TOOLS, 2)).toEqual(["restic", "lifeboat", "kopia"]);
  });

  test("wraps around after as many runs as there are tools, and leaves its input alone", () => {
    const tools = [...TOOLS];
    expect(rotation(tools, 3)).toEqual(rotation(tools, 0));
    expect(rotation(tools, 4)).toEqual(rotation(tools, 1));
    expect(tools).toEqual(["lifeboat", "kopia", "restic"]);
  });

  test("refuses a negative or fractional run", () => {
    expect(() => rotation(TOOLS, -1)).toThrow(/whole number/);
    expect(() => rotation(TOOLS, 1.5)).toThrow(/whole number/);
  });
});

describe("median and spread", () => {
  test("odd count: the middle value, whatever the input order", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([10])).toBe(10);
  });

  test("even count: the mean of the two middle values", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([100, 200])).toBe(150);
  });

  test("spread is the minimum and the maximum", () => {
    expect(spread([5, 2, 9, 4])).toEqual({ min: 2, max: 9 });
  });

  test("no values is an error, not a silent 0", () => {
    expect(() => median([])).toThrow();
    expect(() => spread([])).toThrow();
  });
});

describe("summarize", () => {
  test("MB/s is the image size over the wall time; the median and the spread are of the runs", () => {
    const samples = [
      sample(0, "full backup", "kopia", 10),
      sample(1, "full backup", "kopia", 5),
      sample(2, "full backup", "kopia", 4),
    ];
    const row = summarize(samples, 1000 * MB).find((r) => r.phase === "full backup" && r.tool === "kopia");
    expect(row?.stats).toMatchObject({ runs: 3, mbps: 200, mbpsMin: 100, mbpsMax: 250, wallSeconds: 5 });
  });

  test("every phase and tool has a row, in order; a tool without the phase has no stats", () => {
    const rows = summarize([sample(0, CBT_PHASE, "lifeboat", 1)], 1000 * MB);
    expect(rows).toHaveLength(15);
    expect(rows.slice(3, 6).map((r) => [r.phase, r.tool, r.stats !== undefined])).toEqual([
      [CBT_PHASE, "lifeboat", true],
      [CBT_PHASE, "kopia", false],
      [CBT_PHASE, "restic", false],
    ]);
  });

  test("restores have no image read", () => {
    const rows = summarize([sample(0, "restore latest", "restic", 2, { readBytes: undefined })], 1000 * MB);
    expect(rows.find((r) => r.phase === "restore latest" && r.tool === "restic")?.stats?.readBytes).toBeUndefined();
  });
});

describe("the table", () => {
  const samples = [
    sample(0, "full backup", "lifeboat", 2),
    sample(0, "full backup", "kopia", 4),
    sample(0, "full backup", "restic", 1),
    sample(0, CBT_PHASE, "lifeboat", 0.5, { readBytes: 50 * MB }),
  ];
  const rows = summarize(samples, 1000 * MB);

  test("the ratio is Lifeboat's MB/s over the peer's, in the peer's row", () => {
    const of = (phase: Phase, tool: Tool): string => {
      const row = rows.find((r) => r.phase === phase && r.tool === tool);
      if (!row) throw new Error(`no row ${phase} ${tool}`);
      return ratioCell(rows, row);
    };
    expect(of("full backup", "kopia")).toBe("2.00x");
    expect(of("full backup", "restic")).toBe("0.50x");
    expect(of("full backup", "lifeboat")).toBe("—");
    expect(of(CBT_PHASE, "kopia")).toBe("n/a");
  });

  test("prints medians, the spread and n/a for peers in the CBT phase", () => {
    const lines = resultsTable(rows).split("\n");
    expect(lines[0]).toMatch(/^\| phase +\| tool +\| MB\/s \(median\) \|/);
    expect(lines[1]).toMatch(/^\|-+\|/);
    const kopiaFull = lines.find((l) => l.includes("full backup") && l.includes("kopia"));
    expect(kopiaFull?.split("|").map((c) => c.trim())).toEqual(["", "full backup", "kopia", "250", "250–250", "4.00", "0.10", "1.0", "100 MiB", "954 MiB", "50 MiB", "2.00x", ""]);
    const cbtPeer = lines.find((l) => l.includes(CBT_PHASE) && l.includes("restic"));
    expect(cbtPeer?.split("|").map((c) => c.trim()).slice(3, 12)).toEqual(Array(9).fill("n/a"));
    const cbtOurs = lines.find((l) => l.includes(CBT_PHASE) && l.includes("lifeboat"));
    expect(cbtOurs).toContain("48 MiB");
  });

  test("markdownTable pads columns to the widest cell", () => {
    expect(markdownTable(["a", "bb"], [["xxx", "y"]])).toBe("| a   | bb |\n|-----|----|\n| xxx | y  |");
  });
});
