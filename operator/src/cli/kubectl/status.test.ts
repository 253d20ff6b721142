import { describe, expect, it } from "@jest/globals";
import type { BackupPlan, ProtectedServer, RestoreJob } from "../../api/generated/types.js";
import { statusLines } from "./status.js";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const NOW = new Date("2026-12-02T22:00:00Z");
const ready = (reason: string) => [{ type: "Ready", status: "True" as const, reason, message: "", lastTransitionTime: "2026-12-02T20:00:00Z" }];

const plan: BackupPlan = {
  apiVersion: "lifeboat.io/v1alpha1",
  kind: "BackupPlan",
  metadata: { name: "web-daily" },
  spec: { vCenterRef: { name: "vc" }, vaultRef: { name: "v" }, gatewayRef: { name: "gw" }, vms: { names: ["web-01", "web-02"] }, retention: { keepLast: 7 }, schedule: { cron: "0 2 * * *" } },
  status: {
    conditions: ready("Running"),
    lastRun: { id: "20261201t020000z", result: "Succeeded", startTime: "2026-12-01T02:00:00Z", completionTime: "2026-12-01T02:10:00Z" },
    nextRun: "2026-12-03T02:00:00Z",
    currentRun: {
      id: "20261202t215500z",
      trigger: "Request",
      startTime: "2026-12-02T21:55:00Z",
      vms: [
        { name: "web-01", phase: "Transferring", bytesDone: 3.5 * GiB, bytesTotal: 10 * GiB, throughputBytesPerSecond: 120 * MiB, etaSeconds: 55 },
        { name: "web-02", phase: "Pending" },
      ],
    },
  },
};

const restore: RestoreJob = {
  apiVersion: "lifeboat.io/v1alpha1",
  kind: "RestoreJob",
  metadata: { name: "r1" },
  spec: { recoveryPointRef: { name: "p" }, gatewayRef: { name: "gw" }, target: { imageFile: { persistentVolumeClaim: { name: "c" } } } },
  status: { phase: "Running", progress: { bytesDone: 5 * GiB, bytesTotal: 10 * GiB, percent: 50, throughputBytesPerSecond: 210 * MiB } },
};

const server: ProtectedServer = {
  apiVersion: "lifeboat.io/v1alpha1",
  kind: "ProtectedServer",
  metadata: { name: "db-01" },
  spec: { sitePairRef: { name: "pair" }, source: { vmName: "db-01" } },
  status: { stage: "RealTimeReplication", lastRecoveryPointTime: new Date(NOW.getTime() - 130_000).toISOString(), rpoTargetSeconds: 300, conditions: ready("Replicating") },
};

describe("status", () => {
  it("shows plans, the run going on per VM with bars and rates, restores and protected servers", () => {
    const text = statusLines({ namespace: "prod", plans: [plan], restores: [restore], servers: [server] }, NOW).join("\n");
    expect(text).toContain("Namespace prod, 2026-12-02T22:00:00Z");
    expect(text).toMatch(/PLAN\s+READY\s+SCHEDULE\s+LAST RESULT\s+LAST RUN\s+NEXT RUN\nweb-daily\s+True\s+0 2 \* \* \*\s+running\s+43h\s+2026-12-03T02:00:00Z/);
    expect(text).toContain("Run 20261202t215500z of web-daily (Request, started 5m ago):");
    expect(text).toMatch(/ {2}web-01\s+Transferring\s+\[#######-------------\] {2}35% {2}3\.5 GiB \/ 10 GiB {2}120 MiB\/s {2}ETA 55s/);
    expect(text).toMatch(/ {2}web-02\s+Pending$/m);
    expect(text).toContain("  r1  Running  [##########----------]  50%  5.0 GiB / 10 GiB  210 MiB/s");
    expect(text).toMatch(/db-01\s+db-01\s+Replicating\s+RealTimeReplication\s+2m10s \/ 5m\s+True/);
  });

  it("shows a cycle whose worker attempt failed, with why, while its Job tries again", () => {
    const retrying: ProtectedServer = {
      ...server,
      status: {
        ...server.status,
        currentCycle: { id: "20261202t215800z", startTime: "2026-12-02T21:58:00Z", bytesDone: 16 * MiB, bytesTotal: 64 * MiB, attempts: 2, reason: "WorkerFailed", message: "attempt 1 of 4 failed with exit code 137; the worker Job tries again" },
      },
    };
    const text = statusLines({ namespace: "prod", plans: [], restores: [], servers: [retrying] }, NOW).join("\n");
    expect(text).toMatch(/^ {2}cycle db-01\s+Transferring\s+\[#####-+\] {2}25% {2}16 MiB \/ 64 MiB .* {2}WorkerFailed: attempt 1 of 4 failed with exit code 137; the worker Job tries again$/m);
  });

  it("says so when there is nothing", () => {
    expect(statusLines({ namespace: "empty", plans: [], restores: [], servers: [] }, NOW)).toEqual(["Namespace empty, 2026-12-02T22:00:00Z", "", "No BackupPlans."]);
  });
});
