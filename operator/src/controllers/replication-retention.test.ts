import { describe, expect, it } from "@jest/globals";
import type { PointHeader } from "../vault/index.js";
import { DEFAULT_RETENTION, judgeReplicationPoints } from "./replication-retention.js";

const now = new Date("2026-12-01T12:00:00Z");

function point(time: string, consistency: "crash" | "app" = "crash"): PointHeader {
  return { id: `p-${time}`, time, committedAt: time, labels: {}, consistency, blockSize: 1 << 20, disks: [], storedBytes: 0, host: "h" };
}

/** Points every 5 minutes from `from` to `to` (inclusive). */
function everyFiveMinutes(from: string, to: string): PointHeader[] {
  const out: PointHeader[] = [];
  for (let t = Date.parse(from); t <= Date.parse(to); t += 5 * 60_000) out.push(point(new Date(t).toISOString()));
  return out;
}

function kept(points: PointHeader[], pinned: string[] = []): string[] {
  return judgeReplicationPoints(points, DEFAULT_RETENTION, new Set(pinned), now).filter((v) => v.keep).map((v) => v.point.time).sort();
}

describe("replication retention", () => {
  it("keeps every point of the last hour, then the newest point of each hour", () => {
    const points = everyFiveMinutes("2026-12-01T06:00:00.000Z", "2026-12-01T12:00:00.000Z");
    const expected = [
      ...["06", "07", "08", "09", "10"].map((h) => `2026-12-01T${h}:55:00.000Z`),
      ...everyFiveMinutes("2026-12-01T11:00:00.000Z", "2026-12-01T12:00:00.000Z").map((p) => p.time),
    ].sort();
    expect(kept(points)).toEqual(expected);
  });

  it("keeps application-consistent points for days and forgets crash-consistent ones past 24 hours", () => {
    const points = [point("2026-11-28T12:00:00.000Z", "app"), point("2026-11-29T12:00:00.000Z"), point("2026-11-20T12:00:00.000Z", "app"), point("2026-12-01T11:59:00.000Z")];
    expect(kept(points)).toEqual(["2026-11-28T12:00:00.000Z", "2026-12-01T11:59:00.000Z"]);
  });

  it("keeps a pinned point whatever its age, and always the newest", () => {
    const old = point("2026-11-01T00:00:00.000Z");
    const newest = point("2026-11-02T00:00:00.000Z");
    expect(kept([old, newest], [old.id])).toEqual([old.time, newest.time]);
    expect(kept([old, newest])).toEqual([newest.time]);
  });

  it("counts a kept point as its interval's point, so an hour keeps one", () => {
    // 10:59 is kept by the keep-all rule at 11:30; 10:29 in the same hour is not kept as well.
    const at = new Date("2026-12-01T11:30:00Z");
    const points = [point("2026-12-01T10:29:00.000Z"), point("2026-12-01T10:59:00.000Z"), point("2026-12-01T11:29:00.000Z")];
    const verdicts = judgeReplicationPoints(points, DEFAULT_RETENTION, new Set(), at);
    expect(verdicts.filter((v) => v.keep).map((v) => v.point.time).sort()).toEqual(["2026-12-01T10:59:00.000Z", "2026-12-01T11:29:00.000Z"]);
  });
});
