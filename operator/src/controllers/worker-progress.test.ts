import { describe, expect, it } from "@jest/globals";
import type { WorkerProgress } from "../worker/spec.js";
import { shownOutage, workerOutage } from "./worker-progress.js";

const progress = (extra: Partial<WorkerProgress>): WorkerProgress => ({ phase: "Transferring", bytesDone: 0, bytesTotal: 0, bytesUploaded: 0, throughputBytesPerSecond: 0, ...extra });
const since = "2026-12-05T10:00:00Z";

describe("worker outages in status", () => {
  it("names the vault's outage first, then vCenter's, as status reasons", () => {
    expect(workerOutage(progress({}))).toBeUndefined();
    expect(workerOutage(progress({ vcenterOutage: { since, message: "vCenter 10.0.0.1 does not answer (…)" } }))).toEqual({ reason: "VCenterUnreachable", message: "vCenter 10.0.0.1 does not answer (…)" });
    expect(workerOutage(progress({ vcenterOutage: { since, message: "v" }, vaultOutage: { since, message: "the vault does not answer (…)" } }))?.reason).toBe("VaultUnavailable");
  });

  it("tells an outage the worker reports from a failed attempt's note with the same reason, which stays while the next attempt runs", () => {
    expect(shownOutage({ reason: "VCenterUnreachable", message: "vCenter 10.0.0.1 does not answer (…); the worker has been retrying since …" })).toBe("VCenterUnreachable");
    expect(shownOutage({ reason: "VaultUnavailable", message: "the vault does not answer (…)" })).toBe("VaultUnavailable");
    expect(shownOutage({ reason: "VCenterUnreachable", message: "attempt 1 of 4 failed (VCenterUnreachable: RetrieveServiceContent: ECONNREFUSED); the worker Job tries again" })).toBeUndefined();
    expect(shownOutage({ reason: "WorkerFailed", message: "attempt 1 of 4 failed with exit code 137; the worker Job tries again" })).toBeUndefined();
    expect(shownOutage({ reason: "Running", message: "restore worker r reads the vault again" })).toBeUndefined();
    expect(shownOutage(undefined)).toBeUndefined();
  });
});
