import { describe, expect, it } from "@jest/globals";
import { Counter, Gauge } from "prom-client";
import { WorkerMetrics } from "../worker/metrics.js";
import type { WorkerProgress } from "../worker/spec.js";
import { OperatorMetrics } from "./metrics.js";

/** A worker's report; the throughput differs every time, as a real one's does. */
function progress(bytesDone: number, phase: WorkerProgress["phase"] = "Transferring"): WorkerProgress {
  return { phase, bytesDone, bytesTotal: 100, bytesUploaded: bytesDone / 2, throughputBytesPerSecond: Math.random() * 1000 };
}

describe("the process metrics", () => {
  it("leave out prom-client's gauges named ..._total, keeping the per-type ones they sum", () => {
    for (const [registry, prefix] of [[new OperatorMetrics().registry, "lifeboat_process_"], [new WorkerMetrics().registry, "lifeboat_worker_process_"]] as const) {
      const misnamed = registry.getMetricsAsArray().filter((m) => m.name.endsWith("_total") && !(m instanceof Counter));
      expect(misnamed.map((m) => m.name)).toEqual([]);
      expect(registry.getSingleMetric(`${prefix}nodejs_active_resources`)).toBeInstanceOf(Gauge);
    }
  });
});

describe("the stuck-worker gauge", () => {
  const w = { namespace: "prod", worker: "nightly-x1y2z", owner: "BackupPlan/nightly" };
  const valueOf = async (metrics: OperatorMetrics) => (await metrics.workerLastProgress.get()).values.map((v) => v.value);

  it("moves only when the reported progress changes, not with the throughput or a missing answer", async () => {
    const metrics = new OperatorMetrics();
    const t0 = Date.now() - 10 * 60_000;
    metrics.noteWorker(w, undefined, t0); // first seen, pod not running yet
    expect(await valueOf(metrics)).toEqual([t0 / 1000]);
    metrics.noteWorker(w, progress(0, "Starting"), t0 + 60_000);
    expect(await valueOf(metrics)).toEqual([(t0 + 60_000) / 1000]);
    metrics.noteWorker(w, progress(0, "Starting"), t0 + 120_000); // same progress, another throughput
    metrics.noteWorker(w, undefined, t0 + 180_000); // did not answer
    metrics.noteWorker(w, progress(0, "Starting"), t0 + 240_000); // answers again, still no progress
    expect(await valueOf(metrics)).toEqual([(t0 + 60_000) / 1000]);
    metrics.noteWorker(w, progress(40), t0 + 300_000);
    expect(await valueOf(metrics)).toEqual([(t0 + 300_000) / 1000]);
  });

  it("drops a worker once it finished, once the operator stopped looking at it, or with its owner", async () => {
    const metrics = new OperatorMetrics();
    metrics.noteWorker(w, progress(10));
    metrics.forgetWorker(w.namespace, w.worker);
    expect(await valueOf(metrics)).toEqual([]);
    metrics.noteWorker(w, progress(10), Date.now() - 16 * 60_000);
    expect(await valueOf(metrics)).toEqual([]);
    metrics.noteWorker(w, progress(10));
    metrics.noteWorker({ ...w, worker: "other", owner: "BackupPlan/weekly" }, progress(10));
    metrics.forgetWorkersOf("prod", "BackupPlan/nightly");
    expect((await metrics.workerLastProgress.get()).values.map((v) => v.labels.worker)).toEqual(["other"]);
  });
});

describe("the running-backup gauges", () => {
  const labels = { namespace: "prod", plan: "nightly", vm: "db" };
  const values = async (metrics: OperatorMetrics) =>
    Object.fromEntries(
      await Promise.all(
        [metrics.backupReadBytes, metrics.backupPlannedBytes, metrics.backupUploadedBytes, metrics.backupThroughput].map(async (g) => {
          const { name, values: samples } = await g.get();
          return [name, samples.map((v) => ({ labels: v.labels, value: v.value }))] as const;
        }),
      ),
    );

  it("carry what the worker reported, bytes written to the vault included, until the run is over", async () => {
    const metrics = new OperatorMetrics();
    metrics.noteBackupProgress(labels, { phase: "Transferring", bytesDone: 600, bytesTotal: 1000, bytesUploaded: 250, throughputBytesPerSecond: 120 });
    expect(await values(metrics)).toEqual({
      lifeboat_backup_read_bytes: [{ labels, value: 600 }],
      lifeboat_backup_planned_bytes: [{ labels, value: 1000 }],
      lifeboat_backup_uploaded_bytes: [{ labels, value: 250 }],
      lifeboat_backup_throughput_bytes_per_second: [{ labels, value: 120 }],
    });
    metrics.forgetBackupProgress(labels);
    expect(Object.values(await values(metrics)).flat()).toEqual([]);
  });
});

describe("the vault lock gauge", () => {
  it("holds each vault's live locks until the vault reports others, or none", async () => {
    const metrics = new OperatorMetrics();
    metrics.setVaultLocks("prod", "a", [{ id: "l1", purpose: "backup", host: "w1", expiresAt: 2_000_000 }]);
    metrics.setVaultLocks("prod", "b", [{ id: "l2", purpose: "prune", host: "op", expiresAt: 3_000_000 }]);
    metrics.setVaultLocks("prod", "a", []);
    expect((await metrics.vaultLockExpiry.get()).values).toEqual([{ labels: { namespace: "prod", vault: "b", lock: "l2", purpose: "prune", holder: "op" }, value: 3000 }]);
  });
});
