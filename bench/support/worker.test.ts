import { describe, expect, test } from "@jest/globals";
import { logSpan, logTime, markdownTable, median } from "./worker.js";

describe("logSpan", () => {
  const logs = [
    { msg: "Found the VM", time: "2026-12-03T10:00:00.000Z" },
    { msg: "not a timed line" },
    { msg: "Started the backup", time: "2026-12-03T10:00:01.250Z" },
    { msg: "Committed the recovery point", time: "2026-12-03T10:00:04.000Z" },
    { msg: "Started the backup", time: "2026-12-03T10:09:00.000Z" },
  ];

  test("the seconds between two log lines, from the first of each", () => {
    expect(logSpan(logs, "Started the backup", "Committed the recovery point")).toBeCloseTo(2.75, 6);
    expect(logTime(logs, "Found the VM")).toBe(Date.parse("2026-12-03T10:00:00.000Z"));
  });

  test("a missing line, or one without a time, is an error rather than 0", () => {
    expect(() => logSpan(logs, "Started the backup", "Imported the VM")).toThrow(/"Imported the VM"/);
    expect(() => logTime(logs, "not a timed line")).toThrow(/with a time/);
  });
});

describe("markdownTable and median", () => {
  test("a header, a separator and one line per row", () => {
    expect(markdownTable(["a", "b"], [["1", "2"], ["3", "4"]])).toEqual(["| a | b |", "|---|---|", "| 1 | 2 |", "| 3 | 4 |"]);
  });

  test("the median of an odd count, the upper one of an even count, 0 of none", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(3);
    expect(median([])).toBe(0);
  });
});
