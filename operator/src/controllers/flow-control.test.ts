import { describe, expect, it } from "@jest/globals";
import type { GatewaySpec } from "../api/generated/types.js";
import { flowControlState } from "./flow-control.js";

type Window = NonNullable<GatewaySpec["flowControl"]>[number];

describe("flowControlState", () => {
  const business: Window = { days: ["Mon", "Tue", "Wed", "Thu", "Fri"], start: "09:00", end: "18:00", bandwidth: "10Mi" };

  it("limits inside a window in the gateway's time zone and names the next change", () => {
    // Monday 2026-11-30 10:00 in Tokyo is 01:00 UTC.
    const s = flowControlState([business], "Asia/Tokyo", new Date("2026-11-30T01:00:00Z"));
    expect(s.limit).toBe(10 * 2 ** 20);
    expect(s.nextChange?.toISOString()).toBe("2026-11-30T09:00:00.000Z"); // 18:00 JST
  });

  it("is unlimited outside every window and wakes at the next start", () => {
    // Saturday 2026-11-28 12:00 JST.
    const s = flowControlState([business], "Asia/Tokyo", new Date("2026-11-28T03:00:00Z"));
    expect(s.limit).toBeUndefined();
    expect(s.nextChange?.toISOString()).toBe("2026-11-30T00:00:00.000Z"); // Monday 09:00 JST
  });

  it("handles a window that runs past midnight, and the lowest overlapping limit wins", () => {
    const night: Window = { days: ["Fri"], start: "22:00", end: "06:00", bandwidth: "100Mi" };
    const tight: Window = { days: ["Sat"], start: "01:00", end: "02:00", bandwidth: "1Mi" };
    expect(flowControlState([night, tight], "UTC", new Date("2026-11-27T23:00:00Z")).limit).toBe(100 * 2 ** 20); // Fri 23:00
    expect(flowControlState([night, tight], "UTC", new Date("2026-11-28T01:30:00Z")).limit).toBe(2 ** 20); // Sat 01:30
    expect(flowControlState([night, tight], "UTC", new Date("2026-11-28T05:00:00Z")).limit).toBe(100 * 2 ** 20); // Sat 05:00
    expect(flowControlState([night, tight], "UTC", new Date("2026-11-28T06:00:00Z")).limit).toBeUndefined();
  });
});
