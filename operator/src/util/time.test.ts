import { describe, expect, it } from "@jest/globals";
import { zonedFormatter } from "./time.js";

describe("zonedFormatter", () => {
  it("makes one formatter per time zone and options, and formats in that zone", () => {
    const tokyo = zonedFormatter("Asia/Tokyo", { hour: "2-digit", hourCycle: "h23" });
    expect(zonedFormatter("Asia/Tokyo", { hour: "2-digit", hourCycle: "h23" })).toBe(tokyo);
    expect(zonedFormatter("UTC", { hour: "2-digit", hourCycle: "h23" })).not.toBe(tokyo);
    expect(zonedFormatter("Asia/Tokyo")).not.toBe(tokyo);
    expect(tokyo.format(new Date("2026-12-05T00:30:00Z"))).toBe("09");
  });

  it("throws for a zone that is not one, every time (nothing is kept for it)", () => {
    expect(() => zonedFormatter("Mars/Olympus")).toThrow(RangeError);
    expect(() => zonedFormatter("Mars/Olympus")).toThrow(RangeError);
  });
});
