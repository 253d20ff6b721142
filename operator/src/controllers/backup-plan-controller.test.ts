import { describe, expect, it } from "@jest/globals";
import type { BackupPlan } from "../api/generated/types.js";
import { dueRun, nextScheduledRun } from "./backup-plan-controller.js";

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

describe("dueRun", () => {
  const base: BackupPlan = {
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "BackupPlan",
    metadata: { name: "p" },
    spec: { vCenterRef: { name: "vc" }, vaultRef: { name: "v" }, gatewayRef: { name: "g" }, vms: { names: ["a"] }, retention: { keepLast: 1 }, schedule: { cron: "0 2 * * *", startingDeadlineSeconds: 600 } },
  };
  const now = new Date("2026-11-30T02:01:00Z");

  it("starts a run for a new runRequest, once", () => {
    expect(dueRun({ ...base, spec: { ...base.spec, runRequest: "r1" } }, now)).toEqual({ trigger: "Request" });
    expect(dueRun({ ...base, spec: { ...base.spec, runRequest: "r1" }, status: { lastHandledRunRequest: "r1" } }, now)).toBeUndefined();
  });

  it("starts a scheduled run when its time has come, and calls one past the deadline missed", () => {
    expect(dueRun({ ...base, status: { nextRun: "2026-11-30T02:00:00Z" } }, now)).toEqual({ trigger: "Schedule" });
    expect(dueRun({ ...base, status: { nextRun: "2026-11-30T03:00:00Z" } }, now)).toBeUndefined();
    expect(dueRun({ ...base, status: { nextRun: "2026-11-30T01:00:00Z" } }, now)).toEqual({ missed: "2026-11-30T01:00:00Z" });
  });

  it("starts nothing while paused", () => {
    expect(dueRun({ ...base, spec: { ...base.spec, paused: true, runRequest: "r2" }, status: { nextRun: "2026-11-30T02:00:00Z" } }, now)).toBeUndefined();
  });
});
