import { describe, expect, test } from "@jest/globals";
import { applyRetention, parseDuration } from "./retention.js";
import type { PointHeader } from "./manifest.js";

function point(id: string, time: string, labels: Record<string, string> = { plan: "p", vm: "a" }, retainUntil?: string): PointHeader {
  return { id, time, committedAt: time, labels, consistency: "crash", blockSize: 1, disks: [], storedBytes: 0, host: "h", retainUntil };
}

const now = new Date("2026-03-10T12:00:00Z");
const kept = (ds: ReturnType<typeof applyRetention>) => ds.filter((d) => d.keep).map((d) => d.point.id);

describe("retention", () => {
  const daily = Array.from({ length: 40 }, (_, i) => point(`d${i}`, new Date(now.getTime() - i * 86400_000).toISOString()));

  test("keepLast keeps the newest N of each group", () => {
    const other = point("b0", "2026-03-01T00:00:00Z", { plan: "p", vm: "b" });
    expect(kept(applyRetention([...daily, other], { keepLast: 2 }, now)).sort()).toEqual(["b0", "d0", "d1"]);
  });

  test("GFS keeps one per day, week and month", () => {
    const ids = kept(applyRetention(daily, { keepDaily: 3, keepWeekly: 2, keepMonthly: 2 }, now));
    // 3 newest days; newest of this ISO week (d0) and of last week (Sunday 2026-03-08 = d2);
    // newest of March (d0) and of February (2026-02-28 = d10).
    expect(ids.sort()).toEqual(["d0", "d1", "d10", "d2"].sort());
  });

  test("maxAge removes older points unless locked", () => {
    const locked = point("old-locked", "2025-01-01T00:00:00Z", undefined, "2027-01-01T00:00:00Z");
    const ds = applyRetention([...daily, locked], { keepLast: 100, maxAgeMs: parseDuration("7d") }, now);
    expect(kept(ds).sort()).toEqual(["d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "old-locked"].sort());
    expect(ds.find((d) => d.point.id === "old-locked")?.reasons.join()).toContain("locked until 2027");
  });

  test("an empty policy is refused", () => {
    expect(() => applyRetention(daily, {}, now)).toThrow(/no rule/);
  });
});
