import { describe, expect, test } from "@jest/globals";
import { frameName, topFrames, windowOf, type CpuProfile } from "./cpu-profile.js";

/** A profile from 1,000,000 µs: `samples` are [node id, µs since the previous sample]. */
function profile(samples: [number, number][]): CpuProfile {
  const frame = (functionName: string, url = "", lineNumber = 0) => ({ functionName, url, lineNumber });
  return {
    nodes: [
      { id: 1, callFrame: frame("(idle)") },
      { id: 2, callFrame: frame("compress", "file:///repo/node_modules/zstd-napi/dist/compress.js", 66) },
      { id: 3, callFrame: frame("", "file:///repo/dist/operator/src/vault/backup.js", 9) },
    ],
    samples: samples.map(([id]) => id),
    timeDeltas: samples.map(([, us]) => us),
    startTime: 1_000_000,
    endTime: 1_000_000 + samples.reduce((n, [, us]) => n + us, 0),
  };
}

describe("frameName", () => {
  test("the function and where it is, node_modules and the build directory shortened", () => {
    expect(frameName({ functionName: "compress", url: "file:///repo/node_modules/zstd-napi/dist/compress.js", lineNumber: 66 })).toBe("compress zstd-napi/dist/compress.js:67");
    expect(frameName({ functionName: "", url: "file:///work/x/dist/operator/src/vault/backup.js", lineNumber: 9 })).toBe("(anonymous) dist/operator/src/vault/backup.js:10");
    expect(frameName({ functionName: "writev", url: "", lineNumber: -1 })).toBe("writev");
  });
});

describe("topFrames", () => {
  const p = profile([[1, 50], [2, 300], [2, 300], [3, 250], [1, 100]]);

  test("self time per frame, largest first, as a share of the profiled time", () => {
    const top = topFrames([{ profile: p }], 2);
    expect(top).toEqual([
      { frame: "compress zstd-napi/dist/compress.js:67", selfMs: 0.6, share: 0.6 },
      { frame: "(anonymous) dist/operator/src/vault/backup.js:10", selfMs: 0.25, share: 0.25 },
    ]);
  });

  test("a window counts only its samples, and shares are of the window", () => {
    // Samples end at +50, +350, +650, +900, +1000 µs; the window +300..+700 holds the two compress samples.
    const top = topFrames([{ profile: p, window: { fromUs: 1_000_300, toUs: 1_000_700 } }], 5);
    expect(top).toEqual([{ frame: "compress zstd-napi/dist/compress.js:67", selfMs: 0.6, share: 1.5 }]);
  });

  test("several profiles add up; a window outside a profile adds nothing", () => {
    const top = topFrames([{ profile: p }, { profile: p }, { profile: p, window: { fromUs: 0, toUs: 10 } }], 1);
    expect(top).toEqual([{ frame: "compress zstd-napi/dist/compress.js:67", selfMs: 1.2, share: 0.6 }]);
  });
});

describe("windowOf", () => {
  test("a wall-clock span maps onto the profile's clock from the process start", () => {
    expect(windowOf({ fromMs: 10_500, toMs: 12_000 }, { wallMs: 10_000, profileUs: 7_000_000 })).toEqual({ fromUs: 7_500_000, toUs: 9_000_000 });
  });
});
