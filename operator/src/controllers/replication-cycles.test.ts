import { describe, expect, it } from "@jest/globals";
import { OperatorMetrics } from "../telemetry/metrics.js";
import type { ProtectedServer } from "../api/generated/types.js";
import type { ReconcileContext } from "../runtime/controller.js";
import { findCondition, setCondition, type ConditionInput } from "../runtime/conditions.js";
import type { WithKind } from "../runtime/kube.js";
import type { PointHeader } from "../vault/index.js";
import { forgetCycleCounters, noteExcludedDisks, startCycleCounters } from "./replication-cycles.js";

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

describe("noteExcludedDisks", () => {
  const header = (labels: Record<string, string>): PointHeader => ({ id: "p1", time: "2026-12-07T00:00:00Z", committedAt: "2026-12-07T00:00:05Z", labels, consistency: "crash", blockSize: 1 << 20, disks: [], storedBytes: 0, host: "w" });
  function context() {
    const events: string[] = [];
    const ctx = {
      setCondition: (obj: WithKind<ProtectedServer>, c: ConditionInput) => {
        const status = (obj.status ??= {});
        status.conditions = setCondition(status.conditions, c, obj.metadata.generation);
      },
      events: { record: (_obj: unknown, type: string, reason: string, message: string) => { events.push(`${type} ${reason} ${message}`); return Promise.resolve(); } },
    } as unknown as ReconcileContext;
    return { ctx, events };
  }
  const ps = (): WithKind<ProtectedServer> => ({ apiVersion: "lifeboat.io/v1alpha1", kind: "ProtectedServer", metadata: { name: "db", generation: 1 }, spec: { sitePairRef: { name: "p" }, source: { vmName: "db" } } });
  const excluded = { "disk.2001.excluded": "IndependentDisk", "disk.2001.label": "Hard disk 2", "disk.2001.file": "[ds1] db/db_1.vmdk" };

  it("turns AllDisksReplicated False with one Warning when a disk starts being left out, and True again when none is", async () => {
    const server = ps();
    const { ctx, events } = context();
    await noteExcludedDisks(server, header(excluded), ctx);
    await noteExcludedDisks(server, header(excluded), ctx);
    const c = findCondition(server.status?.conditions, "AllDisksReplicated");
    expect(c).toMatchObject({ status: "False", reason: "DisksExcluded" });
    expect(c?.message).toMatch(/^Hard disk 2 \(\[ds1\] db\/db_1\.vmdk\) is an independent disk: a VM snapshot does not capture such disks/);
    expect(events).toEqual([`Warning DisksExcluded ${c?.message ?? ""}`]);
    await noteExcludedDisks(server, header({ ...excluded, "disk.2002.excluded": "PhysicalModeRDM" }), ctx);
    expect(events).toHaveLength(2);
    await noteExcludedDisks(server, header({}), ctx);
    expect(findCondition(server.status?.conditions, "AllDisksReplicated")).toMatchObject({ status: "True", reason: "EveryDiskCaptured", message: "point p1 holds every disk of the VM" });
    expect(events).toHaveLength(2);
  });
});
