import { describe, expect, it } from "@jest/globals";
import type { ProtectedServer, ProtectedServerSpec, ProtectedServerStatus } from "../../api/generated/types.js";
import { failbackStep, failoverStep, resyncStep, reverseStep } from "./dr.js";

function server(spec: Partial<ProtectedServerSpec>, status: ProtectedServerStatus = {}): ProtectedServer {
  return {
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "ProtectedServer",
    metadata: { name: "db-01", namespace: "prod", resourceVersion: "7" },
    spec: { sitePairRef: { name: "pair" }, source: { vmName: "db-01" }, ...spec },
    status,
  };
}

const replicating = server({}, { stage: "RealTimeReplication", lastRecoveryPointTime: "2026-12-02T21:00:00Z" });
const failedOver = (commit: boolean, status: ProtectedServerStatus = {}) => server({ desiredState: "FailedOver", recoveryPoint: "latest", commitFailover: commit }, { stage: "FailedOver", failover: { step: "Done" }, ...status });
const noFlags = { commit: false, cancel: false };

describe("failover", () => {
  it("from Replicating: FailedOver with the point asked for (latest by default), committed when asked", () => {
    expect(failoverStep(replicating, { server: "db-01", ...noFlags }).patch).toEqual({ desiredState: "FailedOver", recoveryPoint: "latest" });
    expect(failoverStep(replicating, { server: "db-01", point: "db-01-p1", commit: true, cancel: false }).patch).toEqual({ desiredState: "FailedOver", recoveryPoint: "db-01-p1", commitFailover: true });
  });

  it("refuses a server with no recovery point yet", () => {
    expect(() => failoverStep(server({}, { stage: "FullReplication" }), { server: "db-01", ...noFlags })).toThrow("no recovery point at the recovery site yet (stage FullReplication)");
  });

  it("while failed over: changes the point or commits; refuses a second latest and any change after the commit", () => {
    expect(failoverStep(failedOver(false), { server: "db-01", point: "db-01-p2", ...noFlags }).patch).toEqual({ recoveryPoint: "db-01-p2" });
    expect(failoverStep(failedOver(false), { server: "db-01", commit: true, cancel: false }).patch).toEqual({ commitFailover: true });
    const latestUsed = server({ desiredState: "FailedOver", recoveryPoint: "db-01-p2" }, { failover: { latestUsed: true } });
    expect(() => failoverStep(latestUsed, { server: "db-01", point: "latest", ...noFlags })).toThrow('"latest" was already used');
    expect(() => failoverStep(failedOver(true), { server: "db-01", point: "db-01-p2", ...noFlags })).toThrow("committed: its recovery point can no longer change");
    const nothing = failoverStep(failedOver(true), { server: "db-01", commit: true, cancel: false });
    expect(nothing.patch).toBeUndefined();
    expect(nothing.message).toContain("kubectl lifeboat reverse db-01");
  });

  it("cancels only an uncommitted failover", () => {
    expect(failoverStep(failedOver(false), { server: "db-01", commit: false, cancel: true }).patch).toEqual({ desiredState: "Replicating" });
    expect(() => failoverStep(failedOver(true), { server: "db-01", commit: false, cancel: true })).toThrow("committed, which is final");
    expect(() => failoverStep(replicating, { server: "db-01", commit: false, cancel: true })).toThrow("no failover to cancel");
  });

  it("refuses after reverse replication or a failback, saying what to do", () => {
    expect(() => failoverStep(server({ desiredState: "ReverseReplicating", commitFailover: true }), { server: "db-01", ...noFlags })).toThrow("kubectl lifeboat failback db-01");
    expect(() => failoverStep(server({ desiredState: "FailedBack", commitFailover: true }), { server: "db-01", ...noFlags })).toThrow("kubectl patch protectedserver db-01 -n prod");
  });
});

describe("reverse and failback", () => {
  it("reverse follows a committed failover only", () => {
    expect(reverseStep(failedOver(true), { server: "db-01", inPlace: false, confirmInPlace: false }).patch).toEqual({ desiredState: "ReverseReplicating" });
    expect(reverseStep(failedOver(true), { server: "db-01", inPlace: true, confirmInPlace: true }).patch).toEqual({ desiredState: "ReverseReplicating", reverseInPlace: true, confirmReverseInPlace: true });
    expect(() => reverseStep(failedOver(true), { server: "db-01", inPlace: true, confirmInPlace: false })).toThrow("--confirm-in-place");
    expect(() => reverseStep(failedOver(false), { server: "db-01", inPlace: false, confirmInPlace: false })).toThrow("failover db-01 --commit");
    expect(() => reverseStep(replicating, { server: "db-01", inPlace: false, confirmInPlace: false })).toThrow("not failed over");
    const inPlaceInSpec = server({ desiredState: "FailedOver", commitFailover: true, reverseInPlace: true, confirmReverseInPlace: true }, { stage: "FailedOver" });
    expect(() => reverseStep(inPlaceInSpec, { server: "db-01", inPlace: false, confirmInPlace: false })).toThrow("spec.reverseInPlace=true");
    expect(reverseStep(inPlaceInSpec, { server: "db-01", inPlace: true, confirmInPlace: true }).message).toContain("onto the original VM");
  });

  it("failback follows reverse replication only", () => {
    const reversing = server({ desiredState: "ReverseReplicating", commitFailover: true }, { stage: "ReverseRealTimeReplication" });
    expect(failbackStep(reversing, { server: "db-01" }).patch).toEqual({ desiredState: "FailedBack" });
    expect(() => failbackStep(failedOver(true), { server: "db-01" })).toThrow("kubectl lifeboat reverse db-01");
    expect(() => failbackStep(failedOver(false), { server: "db-01" })).toThrow("--cancel");
    expect(() => failbackStep(replicating, { server: "db-01" })).toThrow("nothing to fail back");
    expect(failbackStep(server({ desiredState: "FailedBack", commitFailover: true }), { server: "db-01" }).patch).toBeUndefined();
  });
});

describe("resync", () => {
  const request = "2026-12-07T00:00:00.000Z";
  it("sets a new spec.resyncRequest while cycles run, either way", () => {
    expect(resyncStep(replicating, { server: "db-01", request }).patch).toEqual({ resyncRequest: request });
    const reversing = server({ desiredState: "ReverseReplicating", commitFailover: true }, { stage: "ReverseRealTimeReplication" });
    expect(resyncStep(reversing, { server: "db-01", request }).patch).toEqual({ resyncRequest: request });
    const running = server({}, { stage: "RealTimeReplication", currentCycle: { id: "20261207T000000Z" } });
    expect(resyncStep(running, { server: "db-01", request }).message).toContain("after cycle 20261207T000000Z ends");
  });

  it("refuses when no cycles run", () => {
    expect(() => resyncStep(failedOver(true), { server: "db-01", request })).toThrow("no replication cycles run");
    expect(() => resyncStep(server({ desiredState: "FailedBack", commitFailover: true }), { server: "db-01", request })).toThrow("nothing to resync");
    const cloud = server({}, { stage: "RealTimeReplication", conditions: [{ type: "ResyncRequired", status: "False", reason: "CloudSnapshots", message: "", lastTransitionTime: "2026-12-07T00:00:00Z" }] });
    expect(() => resyncStep(cloud, { server: "db-01", request })).toThrow("ECS snapshots");
  });
});
