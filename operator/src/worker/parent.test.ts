import { describe, expect, it } from "@jest/globals";
import type { PointHeader } from "../vault/index.js";
import { baseChangeId, findRunPoint, selectParent } from "./parent.js";

function point(id: string, time: string, labels: Record<string, string>, disks: { key: string; changeId?: string }[]): PointHeader {
  return {
    id,
    time,
    committedAt: time,
    labels,
    consistency: "crash",
    blockSize: 1 << 20,
    storedBytes: 0,
    host: "h",
    disks: disks.map((d) => ({ ...d, size: 1 << 20, blocks: 1, allocatedBytes: 0, readBytes: 0, newBytes: 0, blockList: { offset: 0, length: 0 } })),
  };
}

const lineage = { namespace: "prod", plan: "nightly", vm: "app-01" };

describe("selectParent", () => {
  const points = [
    point("p1", "2026-01-01T00:00:00Z", { ...lineage, run: "r1" }, [{ key: "2000", changeId: "c1" }]),
    point("p2", "2026-01-02T00:00:00Z", { ...lineage, run: "r2" }, [{ key: "2000", changeId: "c2" }]),
    point("p3", "2026-01-03T00:00:00Z", { ...lineage, plan: "weekly", run: "r3" }, [{ key: "2000", changeId: "c3" }]),
    point("p4", "2026-01-04T00:00:00Z", { ...lineage, vm: "app-02", run: "r4" }, [{ key: "2000", changeId: "c4" }]),
    point("p5", "2026-01-05T00:00:00Z", { ...lineage, run: "r5" }, [{ key: "2000" }]),
  ];

  it("takes the newest point of the same namespace, plan and VM that has a changeId for one of the disks", () => {
    expect(selectParent(points, lineage, ["2000"])?.id).toBe("p2");
  });

  it("finds none for another namespace, or for disks no point recorded", () => {
    expect(selectParent(points, { ...lineage, namespace: "dev" }, ["2000"])).toBeUndefined();
    expect(selectParent(points, lineage, ["3000"])).toBeUndefined();
  });

  it("does not depend on the order the vault lists points in", () => {
    expect(selectParent([...points].reverse(), lineage, ["2000"])?.id).toBe("p2");
  });
});

describe("lineage", () => {
  const replication = ["namespace", "protectedServer", "direction"];
  const dr = { namespace: "prod", protectedServer: "web", direction: "forward", vm: "app-01" };
  const points = [
    point("plan1", "2026-01-01T00:00:00Z", { ...lineage, run: "r1" }, [{ key: "2000", changeId: "c1" }]),
    point("dr1", "2026-01-02T00:00:00Z", { ...dr, run: "c1" }, [{ key: "2000", changeId: "d1" }]),
    point("plan2", "2026-01-03T00:00:00Z", { ...lineage, run: "r2" }, [{ key: "2000", changeId: "c2" }]),
    point("rev1", "2026-01-04T00:00:00Z", { ...dr, direction: "reverse", vm: "app-01-recovered", run: "c2" }, [{ key: "2000", changeId: "e1" }]),
  ];

  it("keeps replication and BackupPlan chains of one VM in one vault apart", () => {
    expect(selectParent(points, dr, ["2000"], replication)?.id).toBe("dr1");
    expect(selectParent(points, lineage, ["2000"])?.id).toBe("plan2");
    expect(selectParent(points, { ...dr, direction: "reverse" }, ["2000"], replication)?.id).toBe("rev1");
  });

  it("matches no point on a lineage label the caller lacks, even one the points lack too", () => {
    expect(selectParent(points, { namespace: "prod", vm: "app-01" }, ["2000"])).toBeUndefined();
    expect(selectParent(points, { namespace: "prod", direction: "forward" }, ["2000"], replication)).toBeUndefined();
  });

  it("finds a retried cycle's point within its lineage only", () => {
    expect(findRunPoint(points, { ...dr, run: "c1" }, replication)?.id).toBe("dr1");
    expect(findRunPoint(points, { ...dr, run: "c2" }, replication)).toBeUndefined();
  });
});

describe("baseChangeId", () => {
  const parent = point("p", "2026-01-01T00:00:00Z", lineage, [{ key: "2000", changeId: "c1" }, { key: "2001" }]);

  it("uses the parent's changeId for a disk it recorded one for", () => {
    expect(baseChangeId(parent, "2000")).toEqual({ changeId: "c1", usesParent: true });
  });

  it("reads the allocated areas of a disk new since the parent", () => {
    expect(baseChangeId(parent, "2002")).toEqual({ changeId: "*", usesParent: true });
  });

  it("cannot trust the parent for a disk it backed up without CBT", () => {
    expect(baseChangeId(parent, "2001")).toEqual({ changeId: "*", usesParent: false });
  });

  it("reads allocated areas without a parent", () => {
    expect(baseChangeId(undefined, "2000")).toEqual({ changeId: "*", usesParent: true });
  });
});

describe("findRunPoint", () => {
  it("finds the point a retried run already committed, only in its own lineage", () => {
    const points = [point("p1", "2026-01-01T00:00:00Z", { ...lineage, run: "r1" }, []), point("p2", "2026-01-01T00:00:00Z", { ...lineage, vm: "other", run: "r2" }, [])];
    expect(findRunPoint(points, { ...lineage, run: "r1" })?.id).toBe("p1");
    expect(findRunPoint(points, { ...lineage, run: "r2" })).toBeUndefined();
  });
});
