import { describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { withRetry } from "../vault/backends/retry.js";
import { ProgressTracker } from "./progress.js";
import { REPORT_AFTER_MS } from "./outage-reports.js";
import { VAULT_OUTAGE_MS, vaultOutageRetry } from "./vault-outage.js";

const refused = () => Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:9000"), { code: "ECONNREFUSED" });

describe("vaultOutageRetry", () => {
  it("reports the outage in the progress while requests fail, and clears it when one succeeds", async () => {
    const progress = new ProgressTracker();
    // Each retry one second later on the policy's clock.
    let clock = 0;
    const policy = { ...vaultOutageRetry(pino({ level: "silent" }), progress, () => (clock += 1_000)), baseDelayMs: 1, maxDelayMs: 2 };
    expect(policy.maxElapsedMs).toBe(VAULT_OUTAGE_MS);
    let failures = 12;
    const seen: (string | undefined)[] = [];
    await withRetry(() => {
      seen.push(progress.current.vaultOutage?.message);
      return failures-- > 0 ? Promise.reject(refused()) : Promise.resolve();
    }, policy);
    // Not before the failures have lasted REPORT_AFTER_MS (a throttled request is no outage); from then on until the success.
    const reportedFrom = REPORT_AFTER_MS / 1_000 + 1;
    expect(seen.slice(0, reportedFrom)).toEqual(Array(reportedFrom).fill(undefined));
    seen.splice(0, reportedFrom - 1);
    expect(seen[1]).toMatch(/^the vault does not answer \(connect ECONNREFUSED 10\.0\.0\.1:9000\); the worker has been retrying since \S+ and goes on for up to 5 minutes$/);
    expect(new Set(seen.slice(1))).toEqual(new Set([seen[1]]));
    expect(progress.current.vaultOutage).toBeUndefined();
  });

  it("leaves other progress fields alone", async () => {
    const progress = new ProgressTracker();
    progress.phase("Transferring", { message: "kept", bytesTotal: 10 });
    let failures = 1;
    await withRetry(() => (failures-- > 0 ? Promise.reject(refused()) : Promise.resolve()), { ...vaultOutageRetry(pino({ level: "silent" }), progress), baseDelayMs: 1 });
    expect(progress.current).toMatchObject({ phase: "Transferring", message: "kept", bytesTotal: 10 });
    expect(progress.current.vaultOutage).toBeUndefined();
  });
});
