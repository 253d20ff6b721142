import { describe, expect, it } from "@jest/globals";
import type { RecoveryDrill, RecoveryPlan } from "../api/generated/types.js";
import { serverDrillName, serverDrills, serverDrillSpec } from "./plan-drill.js";

function drill(spec: RecoveryDrill["spec"], name = "shop-test"): RecoveryDrill {
  return { apiVersion: "lifeboat.io/v1alpha1", kind: "RecoveryDrill", metadata: { name, namespace: "dr", uid: "u-9" }, spec };
}

const plan: RecoveryPlan = {
  apiVersion: "lifeboat.io/v1alpha1",
  kind: "RecoveryPlan",
  metadata: { name: "shop", namespace: "dr" },
  spec: { groups: [{ name: "database", protectedServers: ["db"] }, { name: "web", protectedServers: ["web-1", "web-2"], pauseBefore: true, script: { image: "dns:1" } }] },
};

describe("serverDrills", () => {
  it("lists every server in the plan's order, each with a drill named after both", () => {
    expect(serverDrills(drill({ recoveryPlanRef: { name: "shop" } }), plan)).toEqual([
      { group: "database", protectedServer: "db", drill: "shop-test-db", phase: "Pending" },
      { group: "web", protectedServer: "web-1", drill: "shop-test-web-1", phase: "Pending" },
      { group: "web", protectedServer: "web-2", drill: "shop-test-web-2", phase: "Pending" },
    ]);
  });
});

describe("serverDrillName", () => {
  it("stays within an object name's 253 characters, distinct per server", () => {
    const long = drill({ recoveryPlanRef: { name: "shop" } }, "d".repeat(200));
    const a = serverDrillName(long, "s".repeat(100));
    const b = serverDrillName(long, `${"s".repeat(99)}t`);
    expect(a.length).toBeLessThanOrEqual(253);
    expect(a).not.toBe(b);
  });
});

describe("serverDrillSpec", () => {
  it("passes on the point and the settings that are not one server's, and names the server", () => {
    const testNetwork = { vSwitchId: "vsw-test-2", securityGroupId: "sg-test" };
    const d = drill({ recoveryPlanRef: { name: "shop" }, recoveryPoint: "latest-app-consistent", powerOn: false, diskCategory: "cloud_ssd", eip: true, testNetwork });
    expect(serverDrillSpec(d, "db")).toEqual({ protectedServerRef: { name: "db" }, recoveryPoint: "latest-app-consistent", powerOn: false, diskCategory: "cloud_ssd", eip: true, testNetwork });
    expect(serverDrillSpec(drill({ recoveryPlanRef: { name: "shop" } }), "db")).toEqual({ protectedServerRef: { name: "db" } });
  });
});
