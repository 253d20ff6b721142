import { describe, expect, it } from "@jest/globals";
import type { RecoveryPoint } from "../../api/generated/types.js";
import { formatAge, formatDuration, formatRate, formatSize, formatTable, progressBar } from "./format.js";
import { pointsTable, selectPoints } from "./points.js";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

describe("sizes and rates", () => {
  it("are IEC units a person reads at a glance", () => {
    expect(formatSize(10 * GiB)).toBe("10 GiB");
    expect(formatSize(1.5 * GiB)).toBe("1.5 GiB");
    expect(formatSize(0)).toBe("0 B");
    expect(formatSize(1023)).toBe("1023 B");
    expect(formatRate(120 * MiB)).toBe("120 MiB/s");
    expect(formatRate(2.25 * MiB)).toBe("2.3 MiB/s");
  });

  it("show a dash, not undefined or NaN, when unknown", () => {
    expect(formatSize(undefined)).toBe("-");
    expect(formatRate(Number.NaN)).toBe("-");
  });
});

describe("durations and ages", () => {
  it("print as kubectl prints ages", () => {
    // The cases of apimachinery's duration.HumanDuration.
    expect(formatDuration(45)).toBe("45s");
    expect(formatDuration(119)).toBe("119s");
    expect(formatDuration(200)).toBe("3m20s");
    expect(formatDuration(3600)).toBe("60m");
    expect(formatDuration(3600 * 5 + 600)).toBe("5h10m");
    expect(formatDuration(3600 * 43 + 50)).toBe("43h");
    expect(formatDuration(86400 * 3 + 3600 * 4)).toBe("3d4h");
    expect(formatDuration(86400 * 12 + 5)).toBe("12d");
    expect(formatDuration(86400 * (365 * 3 + 10))).toBe("3y10d");
    expect(formatDuration(-3)).toBe("0s");
    expect(formatAge("2026-12-02T10:00:00Z", new Date("2026-12-02T10:05:00Z"))).toBe("5m");
    expect(formatAge(undefined, new Date())).toBe("-");
  });
});

describe("tables and bars", () => {
  it("align columns under upper-case headers without trailing spaces", () => {
    expect(formatTable(["Name", "Size"], [["a", "10 GiB"], ["longer-name", "1 B"]])).toBe("NAME          SIZE\na             10 GiB\nlonger-name   1 B\n");
  });

  it("draw a bar with its percentage, clamped to 0-100", () => {
    expect(progressBar(35, 100)).toBe("[#######-------------]  35%");
    expect(progressBar(0, 0)).toBe("[--------------------]   0%");
    expect(progressBar(120, 100, 4)).toBe("[####] 100%");
  });
});

function point(name: string, vm: string, time: string, plan = "daily"): RecoveryPoint {
  return {
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "RecoveryPoint",
    metadata: { name },
    spec: { vaultRef: { name: "v" }, pointID: name, planRef: { name: plan }, vm: { name: vm }, time, consistency: "Crash" },
    status: { sizeBytes: 10 * GiB, newBytes: 120 * MiB, conditions: [{ type: "Available", status: "True", reason: "InVault", message: "", lastTransitionTime: time }] },
  };
}

describe("points", () => {
  const all = [point("web-1", "web", "2026-12-01T02:00:00Z"), point("db-2", "db", "2026-12-02T02:00:00Z", "db"), point("web-2", "web", "2026-12-02T02:00:00Z")];

  it("lists newest first, filtered by VM or plan", () => {
    expect(selectPoints(all, {}).map((p) => p.metadata.name)).toEqual(["db-2", "web-2", "web-1"]);
    expect(selectPoints(all, { vm: "web" }).map((p) => p.metadata.name)).toEqual(["web-2", "web-1"]);
    expect(selectPoints(all, { plan: "db" }).map((p) => p.metadata.name)).toEqual(["db-2"]);
  });

  it("shows sizes human-readable in the table", () => {
    const table = pointsTable(selectPoints(all, { vm: "web" }), new Date("2026-12-02T03:00:00Z"));
    const [header, first] = table.split("\n");
    expect(header).toMatch(/^NAME\s+VM\s+TIME\s+AGE\s+CONSISTENCY\s+SIZE\s+NEW\s+SOURCE\s+LOCKED UNTIL\s+AVAILABLE$/);
    expect(first).toMatch(/^web-2\s+web\s+2026-12-02T02:00:00Z\s+60m\s+Crash\s+10 GiB\s+120 MiB\s+plan\/daily\s+-\s+True$/);
  });
});
