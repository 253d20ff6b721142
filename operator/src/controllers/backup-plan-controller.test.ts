import { describe, expect, it } from "@jest/globals";
import type { BackupPlan } from "../api/generated/types.js";
import { OperatorMetrics } from "../telemetry/metrics.js";
import { dueRun, forgetPlanMetrics, nextScheduledRun, recordPlanMetrics, scheduleIntervalSeconds } from "./backup-plan-controller.js";

describe("nextScheduledRun", () => {
  it("computes the next run in the plan's time zone", () => {
    const r = nextScheduledRun("0 2 * * *", "Asia/Tokyo", new Date("2026-11-29T12:00:00Z"));
    expect(r).toEqual({ ok: true, next: new Date("2026-11-29T17:00:00Z") }); // 02:00 JST on the 30th
  });

  it("accepts macros", () => {
    const r = nextScheduledRun("@daily", "UTC", new Date("2026-11-29T12:00:00Z"));
    expect(r).toEqual({ ok: true, next: new Date("2026-11-30T00:00:00Z") });
  });

  it("reads a numeric step start as it always has, and as Kubernetes CronJobs do (5/5: minute 5, then every 5)", () => {
    const r = nextScheduledRun("5/5 * * * *", "UTC", new Date("2026-11-29T12:07:00Z"));
    expect(r).toEqual({ ok: true, next: new Date("2026-11-29T12:10:00Z") });
    expect(nextScheduledRun("5/5 * * * *", "UTC", new Date("2026-11-29T12:56:00Z"))).toEqual({ ok: true, next: new Date("2026-11-29T13:05:00Z") });
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

describe("scheduleIntervalSeconds", () => {
  const after = new Date("2026-11-25T12:00:00Z"); // a Wednesday

  it("is the gap between runs of a regular schedule", () => {
    expect(scheduleIntervalSeconds("0 2 * * *", "Asia/Tokyo", after)).toBe(86_400);
    expect(scheduleIntervalSeconds("*/15 * * * *", "UTC", after)).toBe(900);
  });

  it("is the longest gap of an irregular one, so a weekday schedule is not overdue on Monday", () => {
    expect(scheduleIntervalSeconds("0 2 * * 1-5", "UTC", after)).toBe(3 * 86_400);
  });

  it("is undefined for a schedule that does not parse", () => {
    expect(scheduleIntervalSeconds("61 * * * *", "UTC", after)).toBeUndefined();
  });
});

describe("the plan's gauges", () => {
  const plan: BackupPlan = {
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "BackupPlan",
    metadata: { name: "nightly", namespace: "prod", creationTimestamp: new Date("2026-11-01T00:00:00Z") },
    spec: { vCenterRef: { name: "vc" }, vaultRef: { name: "v" }, gatewayRef: { name: "g" }, vms: { names: ["a"] }, retention: { keepLast: 1 }, schedule: { cron: "0 2 * * *" } },
  };
  const labels = { namespace: "prod", plan: "nightly" };
  const values = async (g: OperatorMetrics["planLastRun"]) => (await g.get()).values.map((v) => ({ labels: v.labels, value: v.value }));

  it("carry the last run's end and result, the last success, the creation and the schedule's interval", async () => {
    const metrics = new OperatorMetrics();
    recordPlanMetrics({ ...plan, status: { lastRun: { result: "Failed", completionTime: "2026-11-29T02:30:00Z" }, lastSuccessfulTime: "2026-11-28T02:30:00Z" } }, metrics);
    expect(await values(metrics.planLastRun)).toEqual([{ labels: { ...labels, result: "Failed" }, value: Date.parse("2026-11-29T02:30:00Z") / 1000 }]);
    expect(await values(metrics.planLastSuccess)).toEqual([{ labels, value: Date.parse("2026-11-28T02:30:00Z") / 1000 }]);
    expect(await values(metrics.planCreated)).toEqual([{ labels, value: Date.parse("2026-11-01T00:00:00Z") / 1000 }]);
    expect(await values(metrics.planScheduleInterval)).toEqual([{ labels, value: 86_400 }]);
    // The run counters start at 0, so that increase() counts the first run of each result.
    expect((await metrics.backupRuns.get()).values.map((v) => ({ labels: v.labels, value: v.value }))).toEqual(["Succeeded", "PartiallyFailed", "Failed"].map((result) => ({ labels: { ...labels, result }, value: 0 })));

    // The next run succeeds: one series per plan, under its new result.
    recordPlanMetrics({ ...plan, status: { lastRun: { result: "Succeeded", completionTime: "2026-11-30T02:30:00Z" }, lastSuccessfulTime: "2026-11-30T02:30:00Z" } }, metrics);
    expect(await values(metrics.planLastRun)).toEqual([{ labels: { ...labels, result: "Succeeded" }, value: Date.parse("2026-11-30T02:30:00Z") / 1000 }]);
  });

  it("have no interval while the plan is paused or runs only on request, and no success before the first", async () => {
    const metrics = new OperatorMetrics();
    recordPlanMetrics({ ...plan, spec: { ...plan.spec, paused: true } }, metrics);
    expect(await values(metrics.planScheduleInterval)).toEqual([]);
    expect(await values(metrics.planLastSuccess)).toEqual([]);
    expect(await values(metrics.planLastRun)).toEqual([]);
    const { schedule: _none, ...onRequest } = plan.spec;
    recordPlanMetrics({ ...plan, spec: onRequest }, metrics);
    expect(await values(metrics.planScheduleInterval)).toEqual([]);
  });

  it("go with the plan", async () => {
    const metrics = new OperatorMetrics();
    recordPlanMetrics({ ...plan, status: { lastRun: { result: "Failed", completionTime: "2026-11-29T02:30:00Z" }, lastSuccessfulTime: "2026-11-28T02:30:00Z" } }, metrics);
    forgetPlanMetrics("prod", "nightly", metrics);
    for (const gauge of [metrics.planLastRun, metrics.planLastSuccess, metrics.planCreated, metrics.planScheduleInterval]) expect(await values(gauge)).toEqual([]);
    expect((await metrics.backupRuns.get()).values).toEqual([]);
  });
});
