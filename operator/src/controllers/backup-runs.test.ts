import { describe, expect, it } from "@jest/globals";
import type * as k8s from "@kubernetes/client-node";
import { failedAttemptNote } from "./backup-runs.js";

function pod(created: string, state: k8s.V1ContainerState, phase: string): k8s.V1Pod {
  return { metadata: { creationTimestamp: new Date(created) }, status: { phase, containerStatuses: [{ name: "worker", image: "", imageID: "", ready: false, restartCount: 0, state }] } };
}
const failed = (created: string, exitCode: number, message?: string) => pod(created, { terminated: { exitCode, ...(message ? { message } : {}) } }, "Failed");
const running = (created: string) => pod(created, { running: {} }, "Running");

describe("failedAttemptNote", () => {
  it("says why the newest attempt failed, counting the attempts and quoting the worker", () => {
    const pods = [failed("2026-12-04T10:00:10Z", 11, "VCenterUnreachable: POST 10.0.0.1:443/sdk: ECONNREFUSED"), failed("2026-12-04T10:00:00Z", 1)];
    expect(failedAttemptNote(pods, 4)).toEqual({
      reason: "VCenterUnreachable",
      message: "attempt 2 of 4 failed (VCenterUnreachable: POST 10.0.0.1:443/sdk: ECONNREFUSED); the worker Job tries again",
    });
  });

  it("counts an attempt whose container has ended before its pod's phase says so", () => {
    const ending = pod("2026-12-04T10:00:00Z", { terminated: { exitCode: 11 } }, "Running");
    expect(failedAttemptNote([ending], 4)?.message).toBe("attempt 1 of 4 failed with exit code 11; the worker Job tries again");
  });

  it("names the exit code when the worker left no message", () => {
    expect(failedAttemptNote([failed("2026-12-04T10:00:00Z", 137)], 4)).toEqual({ reason: "WorkerFailed", message: "attempt 1 of 4 failed with exit code 137; the worker Job tries again" });
  });

  it("is undefined while the newest attempt runs, or before any has ended", () => {
    expect(failedAttemptNote([failed("2026-12-04T10:00:00Z", 11), running("2026-12-04T10:00:20Z")], 4)).toBeUndefined();
    expect(failedAttemptNote([running("2026-12-04T10:00:00Z")], 4)).toBeUndefined();
    expect(failedAttemptNote([], 4)).toBeUndefined();
  });
});
