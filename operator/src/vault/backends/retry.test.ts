import { describe, expect, it } from "@jest/globals";
import { isRetryable, withRetry } from "./retry.js";

const refused = () => Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:9000"), { code: "ECONNREFUSED" });

describe("withRetry", () => {
  it("gives up after 8 attempts by default, and at once on an error not worth retrying", async () => {
    let calls = 0;
    await expect(withRetry(() => { calls++; return Promise.reject(refused()); }, { baseDelayMs: 1, maxDelayMs: 1 })).rejects.toThrow("ECONNREFUSED");
    expect(calls).toBe(8);
    calls = 0;
    const denied = Object.assign(new Error("Access Denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
    await expect(withRetry(() => { calls++; return Promise.reject(denied); }, { baseDelayMs: 1 })).rejects.toBe(denied);
    expect(calls).toBe(1);
    expect(isRetryable(refused())).toBe(true);
  });

  it("with maxElapsedMs, keeps retrying an outage past 8 attempts and reports the recovery", async () => {
    const start = Date.now();
    const retries: number[] = [];
    let recoveredAfter = 0;
    // The "server" is down for 300 ms: far more than 8 attempts at a 20 ms cap.
    const result = await withRetry(() => (Date.now() - start < 300 ? Promise.reject(refused()) : Promise.resolve("ok")), { baseDelayMs: 5, maxDelayMs: 20, maxElapsedMs: 5_000, onRetry: (_e, attempt) => retries.push(attempt), onRecovered: (n) => { recoveredAfter = n; } });
    expect(result).toBe("ok");
    expect(retries.length).toBeGreaterThan(8);
    expect(recoveredAfter).toBe(retries.length + 1);
  });

  it("with maxElapsedMs, stops at the deadline rather than after a count", async () => {
    const start = Date.now();
    let calls = 0;
    await expect(withRetry(() => { calls++; return Promise.reject(refused()); }, { baseDelayMs: 5, maxDelayMs: 20, maxElapsedMs: 200 })).rejects.toThrow("ECONNREFUSED");
    const elapsed = Date.now() - start;
    expect(elapsed).toBeGreaterThanOrEqual(190); // timers may fire a millisecond early by Date.now()
    expect(elapsed).toBeLessThan(2_000);
    expect(calls).toBeGreaterThan(8);
  });

  it("calls onRecovered only after a retry", async () => {
    let recovered = false;
    await withRetry(() => Promise.resolve(1), { onRecovered: () => { recovered = true; } });
    expect(recovered).toBe(false);
  });
});
