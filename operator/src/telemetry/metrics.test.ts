import { describe, expect, it } from "@jest/globals";
import { Counter, Gauge } from "prom-client";
import { WorkerMetrics } from "../worker/metrics.js";
import { OperatorMetrics } from "./metrics.js";

describe("the process metrics", () => {
  it("leave out prom-client's gauges named ..._total, keeping the per-type ones they sum", () => {
    for (const [registry, prefix] of [[new OperatorMetrics().registry, "lifeboat_process_"], [new WorkerMetrics().registry, "lifeboat_worker_process_"]] as const) {
      const misnamed = registry.getMetricsAsArray().filter((m) => m.name.endsWith("_total") && !(m instanceof Counter));
      expect(misnamed.map((m) => m.name)).toEqual([]);
      expect(registry.getSingleMetric(`${prefix}nodejs_active_resources`)).toBeInstanceOf(Gauge);
    }
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
