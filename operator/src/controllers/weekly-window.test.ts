import { describe, expect, it } from "@jest/globals";
import { businessHoursNow } from "./replication-cycles.js";
import { inWindow, isTimeZone, nextWindowChange } from "./weekly-window.js";
import type { ProtectedServer } from "../api/generated/types.js";

const weekdays = { days: ["Mon", "Tue", "Wed", "Thu", "Fri"] as ("Mon" | "Tue" | "Wed" | "Thu" | "Fri")[], start: "09:00", end: "18:00" };

describe("weekly windows", () => {
  it("are on from start to end on their days, in their time zone", () => {
    // 2026-12-07 is a Monday; 00:30 UTC is 09:30 in Tokyo.
    expect(inWindow(weekdays, "Asia/Tokyo", new Date("2026-12-07T00:30:00Z"))).toBe(true);
    expect(inWindow(weekdays, "UTC", new Date("2026-12-07T00:30:00Z"))).toBe(false);
    expect(inWindow(weekdays, "Asia/Tokyo", new Date("2026-12-07T09:00:00Z"))).toBe(false); // 18:00 Tokyo: the end is not in
    expect(inWindow(weekdays, "Asia/Tokyo", new Date("2026-12-05T03:00:00Z"))).toBe(false); // Saturday
  });

  it("run past midnight into the next day when they end before they start", () => {
    const nights = { days: ["Fri"], start: "22:00", end: "06:00" };
    expect(inWindow(nights, "UTC", new Date("2026-12-05T05:59:00Z"))).toBe(true); // Saturday morning, from Friday
    expect(inWindow(nights, "UTC", new Date("2026-12-06T05:00:00Z"))).toBe(false); // Sunday: Saturday is not a day of it
  });

  it("change next at their end while on, at their next start while off", () => {
    expect(nextWindowChange(weekdays, "Asia/Tokyo", new Date("2026-12-07T00:30:00Z"))?.toISOString()).toBe("2026-12-07T09:00:00.000Z");
    // Friday 18:00 Tokyo: next on Monday 09:00 Tokyo.
    expect(nextWindowChange(weekdays, "Asia/Tokyo", new Date("2026-12-11T09:00:00Z"))?.toISOString()).toBe("2026-12-14T00:00:00.000Z");
  });

  it("know an IANA time zone from a typo", () => {
    expect([isTimeZone("Asia/Tokyo"), isTimeZone("UTC"), isTimeZone("Asia/Tokio")]).toEqual([true, true, false]);
  });
});

describe("businessHoursNow", () => {
  const server = (businessHours?: NonNullable<ProtectedServer["spec"]["replication"]>["businessHours"]): ProtectedServer => ({
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "ProtectedServer",
    metadata: { name: "db", namespace: "dr" },
    spec: { sitePairRef: { name: "p" }, source: { vmName: "db" }, ...(businessHours ? { replication: { businessHours } } : {}) },
  });
  const monday = new Date("2026-12-07T00:30:00Z");

  it("says whether the hours are on and when they end", () => {
    expect(businessHoursNow(server({ ...weekdays, timeZone: "Asia/Tokyo" }), {}, monday)).toEqual({ inside: true, nextChange: new Date("2026-12-07T09:00:00Z") });
  });

  it("holds nothing without hours, with a time zone that is not one, or for an ECS instance (no resync there)", () => {
    expect(businessHoursNow(server(), {}, monday)).toBeUndefined();
    expect(businessHoursNow(server({ ...weekdays, timeZone: "Asia/Tokio" }), {}, monday)).toBeUndefined();
    expect(businessHoursNow(server({ ...weekdays, timeZone: "Asia/Tokyo" }), { ecs: {} as never }, monday)).toBeUndefined();
  });
});
