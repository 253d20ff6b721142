import { describe, expect, it } from "@jest/globals";
import { FairQueue, learnCycleSeconds, leadSeconds, nextCycle } from "./replication-schedule.js";

const now = new Date("2026-12-01T12:00:00Z");
const at = (iso: string) => new Date(iso);

describe("replication schedule", () => {
  it("starts a server without points at once", () => {
    expect(nextCycle({ now, intervalSeconds: 300, learnedCycleSeconds: 0, consecutiveFailures: 0 }).due).toEqual(now);
  });

  it("starts early by the learned cycle time so the newest point never gets older than the interval", () => {
    const next = nextCycle({ now, intervalSeconds: 300, lastPointTime: at("2026-12-01T11:58:00Z"), learnedCycleSeconds: 40, lastCycleEnd: at("2026-12-01T11:58:40Z"), consecutiveFailures: 0 });
    // 11:58 + 5 min - (40 s x 1.25 + 10 s) = 12:02:00 - 60 s
    expect(next.due).toEqual(at("2026-12-01T12:02:00Z"));
    expect(leadSeconds(40)).toBe(60);
    expect(next.consistency).toBe("Crash");
  });

  it("runs cycles back to back when they take longer than the interval, never overlapping", () => {
    const next = nextCycle({ now, intervalSeconds: 60, lastPointTime: at("2026-12-01T11:58:00Z"), learnedCycleSeconds: 120, lastCycleEnd: at("2026-12-01T11:59:59Z"), consecutiveFailures: 0 });
    expect(next.due).toEqual(at("2026-12-01T11:59:59Z"));
  });

  it("quiesces when the application-consistent interval comes due", () => {
    const base = { now, intervalSeconds: 300, appIntervalSeconds: 3600, learnedCycleSeconds: 20, consecutiveFailures: 0, lastPointTime: at("2026-12-01T11:59:00Z") };
    expect(nextCycle({ ...base, lastAppPointTime: at("2026-12-01T11:00:30Z") }).consistency).toBe("Application");
    expect(nextCycle({ ...base, lastAppPointTime: at("2026-12-01T11:30:00Z") }).consistency).toBe("Crash");
    expect(nextCycle({ ...base }).consistency).toBe("Application");
  });

  it("backs off after failed cycles", () => {
    const base = { now, intervalSeconds: 300, lastPointTime: at("2026-12-01T11:00:00Z"), learnedCycleSeconds: 10, lastCycleEnd: at("2026-12-01T12:00:00Z") };
    expect(nextCycle({ ...base, consecutiveFailures: 1 }).due).toEqual(at("2026-12-01T12:00:30Z"));
    expect(nextCycle({ ...base, consecutiveFailures: 3 }).due).toEqual(at("2026-12-01T12:02:00Z"));
    expect(nextCycle({ ...base, consecutiveFailures: 10 }).due).toEqual(at("2026-12-01T12:05:00Z"));
  });

  it("learns a cycle's duration from the recent cycles", () => {
    expect(learnCycleSeconds(0, 42.4)).toBe(42);
    expect(learnCycleSeconds(40, 80)).toBe(60);
  });

  it("gives a gateway's slot to the server waiting longest", () => {
    const q = new FairQueue(60_000);
    expect(q.ask("b", at("2026-12-01T11:59:00Z"), now)).toBe(true);
    expect(q.ask("a", at("2026-12-01T11:58:00Z"), now)).toBe(true);
    expect(q.ask("b", at("2026-12-01T11:59:00Z"), now)).toBe(false);
    q.leave("a");
    expect(q.ask("b", at("2026-12-01T11:59:00Z"), now)).toBe(true);
    // A waiter that stopped asking drops out.
    q.ask("c", at("2026-12-01T11:00:00Z"), now);
    expect(q.ask("b", at("2026-12-01T11:59:00Z"), new Date(now.getTime() + 61_000))).toBe(true);
  });
});
