import { describe, expect, test } from "@jest/globals";
import { formatBytes, formatRate, formatRatio, parseQuantity } from "./quantity.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

describe("formatBytes", () => {
  test.each([
    [0, "0 B"],
    [512, "512 B"],
    [1023, "1023 B"],
    [1024, "1.0 KiB"],
    [1536, "1.5 KiB"],
    [10 * MiB, "10 MiB"],
    [954.4 * MiB, "954 MiB"],
    [10 * GiB, "10 GiB"], // the 10737418240
    [10.3 * GiB, "10 GiB"],
    [1.25 * GiB, "1.3 GiB"],
    [2 * 1024 * GiB, "2.0 TiB"],
    [3 * 1024 * 1024 * GiB, "3.0 PiB"],
  ])("%d bytes read as %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  test("a value that rounds up to 1024 of a unit moves to the next unit", () => {
    expect(formatBytes(1023.7 * KiB)).toBe("1.0 MiB");
    expect(formatBytes(MiB - 1)).toBe("1.0 MiB");
    expect(formatBytes(GiB - MiB)).toBe("1023 MiB");
  });

  test("nonsense is shown as such, not as a size", () => {
    expect(formatBytes(-1)).toBe("-");
    expect(formatBytes(Number.NaN)).toBe("-");
  });

  test("is not a quantity a program would take for the exact value", () => {
    expect(() => parseQuantity(formatBytes(10.3 * GiB))).toThrow();
  });
});

describe("formatRate and formatRatio", () => {
  test("rates carry /s", () => {
    expect(formatRate(52_428_800)).toBe("50 MiB/s");
    expect(formatRate(0)).toBe("0 B/s");
  });

  test("ratios keep the two-decimal number form, 0.00 when there is nothing to divide", () => {
    expect(formatRatio(4.2149)).toBe("4.21");
    expect(formatRatio(1065.5187)).toBe("1065.52");
    expect(formatRatio(0)).toBe("0.00");
    expect(formatRatio(Number.NaN)).toBe("0.00");
    expect(formatRatio(Number.POSITIVE_INFINITY)).toBe("0.00");
  });
});
