import { describe, expect, it } from "@jest/globals";
import { nextScheduledRun } from "./backup-plan-controller.js";

describe("nextScheduledRun", () => {
  it("computes the next run in the plan's time zone", () => {
    const r = nextScheduledRun("0 2 * * *", "Asia/Tokyo", new Date("2026-11-29T12:00:00Z"));
    expect(r).toEqual({ ok: true, next: new Date("2026-11-29T17:00:00Z") }); // 02:00 JST on the 30th
  });

  it("accepts macros", () => {
    const r = nextScheduledRun("@daily", "UTC", new Date("2026-11-29T12:00:00Z"));
    expect(r).toEqual({ ok: true, next: new Date("2026-11-30T00:00:00Z") });
  });

  it("names the field of a bad cron expression or time zone", () => {
    const bad = nextScheduledRun("61 * * * *", "UTC");
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.problem).toMatchObject({ reason: "InvalidSchedule", message: expect.stringContaining("spec.schedule.cron") as unknown as string });
    const tz = nextScheduledRun("0 2 * * *", "Mars/Olympus");
    expect(tz.ok).toBe(false);
    if (!tz.ok) expect(tz.problem).toMatchObject({ reason: "InvalidTimeZone" });
  });
});
