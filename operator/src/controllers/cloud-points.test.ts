// Cloud replication points and the checks of a cloud site pair, against the
// Alibaba contract server in process (the official SDKs are the clients), and
// seed 004's "24 points in 24 hours" with a fast clock: a day of 5-minute
// cycles judged as the controller judges them after every cycle.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SitePair } from "../api/generated/types.js";
import { DR_TAG, EcsDr, type SnapshotInfo } from "../cloud/alibaba/ecs-dr.js";
import { startAlibabaContractServer, type AlibabaContractServer } from "../../../e2e/testbed/alibaba-contract/server.js";
import { completePoints, cycleIdAt, timeOfCycleId, type CloudPoint } from "./cloud-points.js";
import { judgeReplicationPoints, DEFAULT_RETENTION } from "./replication-retention.js";
import { checkCloudSites } from "./site-pair-controller.js";

const credentials = { accessKeyId: "LTAIcloudpoints0001", accessKeySecret: "cloud-points-secret" };

function snap(point: string, device: string, status = "accomplished", disks = 2): SnapshotInfo {
  return { snapshotId: `s-${point}-${device}`, regionId: "r", status, progress: "100%", sourceDiskId: `d-${device}`, sourceDiskSizeGiB: 20, sourceDiskType: "data", tags: { [DR_TAG.point]: point, [DR_TAG.role]: "point", [DR_TAG.device]: device, [DR_TAG.disks]: String(disks), [DR_TAG.instance]: "i-1", [DR_TAG.instanceType]: "ecs.g7.large", [DR_TAG.category]: "cloud_essd" } };
}

describe("cloud points", () => {
  it("names a cycle by its start time, compactly, and reads the time back", () => {
    const at = new Date("2026-12-03T02:15:07.500Z");
    expect(cycleIdAt(at)).toBe("20261203t021507z");
    expect(timeOfCycleId(cycleIdAt(at))).toBe("2026-12-03T02:15:07Z");
  });

  it("counts a point only when every disk's snapshot is accomplished, system disk first", () => {
    const points = completePoints(
      [
        snap("20261203t020000z", "/dev/xvdb"),
        snap("20261203t020000z", "/dev/xvda"),
        snap("20261203t020500z", "/dev/xvda"),
        snap("20261203t020500z", "/dev/xvdb", "progressing"),
        snap("20261203t021000z", "/dev/xvda"), // its second disk's snapshot is not there yet
        { ...snap("20261203t021500z", "/dev/xvda", "accomplished", 1), tags: { ...snap("x", "/dev/xvda").tags, [DR_TAG.point]: "20261203t021500z", [DR_TAG.role]: "copy-source", [DR_TAG.disks]: "1" } },
      ],
      "forward",
      "r",
    );
    expect(points.map((p) => p.id)).toEqual(["20261203t020000z"]);
    expect(points[0]?.disks.map((d) => d.device)).toEqual(["/dev/xvda", "/dev/xvdb"]);
    expect(points[0]).toMatchObject({ instanceType: "ecs.g7.large", time: "2026-12-03T02:00:00Z" });
  });

  it("keeps 24 hourly points over a day of 5-minute cycles, each the newest of its hour, as retention runs after every cycle", () => {
    const rules = { ...DEFAULT_RETENTION, keepAllForMinutes: 0 };
    let kept: CloudPoint[] = [];
    // Two days of cycles, ending at 23:55; retention judges after each one, as the controller does.
    const start = Date.parse("2026-12-01T00:00:00Z");
    for (let t = start; t < start + 48 * 3_600_000; t += 5 * 60_000) {
      const id = cycleIdAt(new Date(t));
      kept.push({ id, time: timeOfCycleId(id), consistency: "crash", direction: "forward", region: "r", instanceId: "i-1", instanceType: "", disks: [] });
      kept = judgeReplicationPoints(kept, rules, new Set(), new Date(t)).filter((v) => v.keep).map((v) => v.point);
    }
    kept.sort((a, b) => a.time.localeCompare(b.time));
    const hours = kept.map((p) => p.time.slice(0, 13));
    expect(new Set(hours).size).toBe(hours.length);
    expect(kept.every((p) => p.time.slice(14, 16) === "55")).toBe(true);
    // 24 whole hours, plus the hour that began exactly 24 hours before the newest point's.
    expect(kept.length).toBe(25);
    expect(kept.at(-1)?.time).toBe("2026-12-02T23:55:00Z");
    expect(kept[0]?.time).toBe("2026-12-01T23:55:00Z");
  });
});

describe("cloud site pair checks (contract server)", () => {
  let dir: string;
  let server: AlibabaContractServer;
  let ecs: EcsDr;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "cloud-sites-"));
    server = await startAlibabaContractServer({ ...credentials, dataDir: dir, regionId: "cn-hangzhou" });
    server.harness.createVSwitch({ vSwitchId: "vsw-rec", vpcId: "vpc-1", regionId: "cn-hangzhou", zoneId: "cn-hangzhou-i", cidrBlock: "10.0.1.0/24" });
    server.harness.createVSwitch({ vSwitchId: "vsw-test", vpcId: "vpc-1", regionId: "cn-hangzhou", zoneId: "cn-hangzhou-i", cidrBlock: "10.0.2.0/24" });
    server.harness.createVSwitch({ vSwitchId: "vsw-other-zone", vpcId: "vpc-1", regionId: "cn-hangzhou", zoneId: "cn-hangzhou-j", cidrBlock: "10.0.3.0/24" });
    server.harness.createSecurityGroup({ securityGroupId: "sg-1", vpcId: "vpc-1", regionId: "cn-hangzhou" });
    server.harness.createSecurityGroup({ securityGroupId: "sg-other-vpc", vpcId: "vpc-2", regionId: "cn-hangzhou" });
    const endpoint = `${server.protocol}://${server.ecsEndpoint}`;
    ecs = new EcsDr(credentials, { "cn-hangzhou": { ecs: endpoint, vpc: endpoint } });
  });

  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  function pair(spec: Partial<SitePair["spec"]>): SitePair {
    return {
      apiVersion: "lifeboat.io/v1alpha1",
      kind: "SitePair",
      metadata: { name: "p", namespace: "ns" },
      spec: {
        type: "CrossZone",
        source: { region: "cn-hangzhou", zone: "cn-hangzhou-h" },
        target: { region: "cn-hangzhou", zone: "cn-hangzhou-i" },
        recoveryNetwork: { vSwitchId: "vsw-rec", securityGroupId: "sg-1" },
        testNetwork: { vSwitchId: "vsw-test", securityGroupId: "sg-1" },
        ...spec,
      },
    };
  }

  it("passes a pair whose zones and networks are where they must be", async () => {
    expect(await checkCloudSites(pair({}), ecs)).toBeUndefined();
  });

  it.each([
    [{ target: { region: "cn-hangzhou", zone: "cn-hangzhou-q" } }, "ZoneNotFound", "spec.target.zone"],
    [{ recoveryNetwork: undefined }, "NoRecoveryNetwork", "spec.recoveryNetwork"],
    [{ testNetwork: { vSwitchId: "vsw-rec", securityGroupId: "sg-1" } }, "TestNetworkNotIsolated", "spec.testNetwork.vSwitchId"],
    [{ testNetwork: { vSwitchId: "vsw-nope", securityGroupId: "sg-1" } }, "VSwitchNotFound", "spec.testNetwork.vSwitchId"],
    [{ testNetwork: { vSwitchId: "vsw-other-zone", securityGroupId: "sg-1" } }, "VSwitchInOtherZone", "spec.testNetwork.vSwitchId"],
    [{ recoveryNetwork: { vSwitchId: "vsw-rec", securityGroupId: "sg-other-vpc" } }, "SecurityGroupInOtherVpc", "spec.recoveryNetwork.securityGroupId"],
    [{ target: { region: "cn-hangzhou", zone: "cn-hangzhou-i", vpcId: "vpc-9" } }, "VSwitchInOtherVpc", "spec.target.vpcId"],
  ] as const)("refuses %j with %s, naming %s", async (spec, reason, field) => {
    const problem = await checkCloudSites(pair(spec), ecs);
    expect(problem?.reason).toBe(reason);
    expect(problem?.message).toContain(field);
  });
});
