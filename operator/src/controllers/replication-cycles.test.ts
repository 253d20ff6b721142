import { describe, expect, it } from "@jest/globals";
import { OperatorMetrics } from "../telemetry/metrics.js";
import { forgetCycleCounters, startCycleCounters } from "./replication-cycles.js";

describe("replication cycle counters", () => {
  it("exist at 0 for each direction and result from a server's first report, and go with the server", async () => {
    const metrics = new OperatorMetrics();
    startCycleCounters(metrics, "prod", "db-01");
    metrics.replicationCycles.inc({ namespace: "prod", protected_server: "db-01", direction: "forward", result: "Succeeded" });
    startCycleCounters(metrics, "prod", "db-01"); // every report: never resets a count
    const series = (await metrics.replicationCycles.get()).values.map((v) => `${v.labels.direction} ${v.labels.result} ${v.value}`).sort();
    expect(series).toEqual(["forward Failed 0", "forward Succeeded 1", "reverse Failed 0", "reverse Succeeded 0"]);
    forgetCycleCounters(metrics, "prod", "db-01");
    expect((await metrics.replicationCycles.get()).values).toEqual([]);
  });
});
