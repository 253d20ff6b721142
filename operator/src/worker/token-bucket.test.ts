import { describe, expect, it } from "@jest/globals";
import { TokenBucket, type Clock } from "./token-bucket.js";

/** A clock that advances only when someone sleeps. */
function fakeClock(): Clock & { t: number } {
  const clock = {
    t: 0,
    now: () => clock.t,
    sleep: (ms: number) => {
      clock.t += ms;
      return Promise.resolve();
    },
  };
  return clock;
}

describe("TokenBucket", () => {
  it("holds the long-run rate for takes larger than the bucket", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1000, 0.25, clock);
    for (let i = 0; i < 10; i++) await bucket.take(1000);
    // 10 000 bytes at 1000 B/s: at least 9 s (the first take rides the initial burst), not much more.
    expect(clock.t).toBeGreaterThanOrEqual(8_750);
    expect(clock.t).toBeLessThanOrEqual(10_100);
  });

  it("never waits when unlimited", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(0, 0.25, clock);
    for (let i = 0; i < 100; i++) await bucket.take(1 << 20);
    expect(clock.t).toBe(0);
  });

  it("applies a lower rate to takes that are already waiting", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1000, 0.25, clock, 100);
    await bucket.take(1000); // now 750 bytes in debt
    bucket.setRate(100);
    const start = clock.t;
    await bucket.take(1);
    // The debt is repaid at the new rate: about 7.5 s, not 0.75 s.
    expect(clock.t - start).toBeGreaterThanOrEqual(7_000);
  });

  it("releases waiters at once when the limit is lifted", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(10, 0.25, clock, 100);
    await bucket.take(10_000);
    bucket.setRate(0);
    const start = clock.t;
    await bucket.take(10_000);
    expect(clock.t - start).toBe(0);
  });

  it("rejects a negative or non-numeric rate", () => {
    expect(() => new TokenBucket(-1)).toThrow(/non-negative/);
    expect(() => { new TokenBucket(0).setRate(Number.NaN); }).toThrow(/non-negative/);
  });

  it("stops waiting when aborted", async () => {
    const bucket = new TokenBucket(1);
    await bucket.take(100);
    const abort = new AbortController();
    const waiting = bucket.take(1, abort.signal);
    abort.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
  });
});
