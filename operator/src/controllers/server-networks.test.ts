// The networks a server or a drill names over its site pair's, judged as the
// controllers judge them: isolation from the namespace's objects, and the
// ECS API's answer, against the Alibaba contract server in process (the
// official SDKs are the clients).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ProtectedServer, RecoveryDrill, SitePair } from "../api/generated/types.js";
import { EcsDr } from "../cloud/alibaba/ecs-dr.js";
import type { ConditionInput } from "../runtime/conditions.js";
import { startAlibabaContractServer, type AlibabaContractServer } from "../../../e2e/testbed/alibaba-contract/server.js";
import type { CloudSites } from "./cloud-sites.js";
import { checkServerNetworks, drillNetwork, networkRoles, recoveryNetworkOf, ServerNetworkChecks, type NetworkRoles } from "./server-networks.js";

const credentials = { accessKeyId: "LTAIservernetworks01", accessKeySecret: "server-networks-secret" };
const HZ = "cn-hangzhou";

function pair(spec: Partial<SitePair["spec"]> = {}, name = "p"): SitePair {
  return {
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "SitePair",
    metadata: { name, namespace: "ns", generation: 1 },
    spec: {
      type: "CrossZone",
      source: { region: HZ, zone: `${HZ}-h` },
      target: { region: HZ, zone: `${HZ}-i` },
      recoveryNetwork: { vSwitchId: "vsw-rec", securityGroupId: "sg-1" },
      testNetwork: { vSwitchId: "vsw-test", securityGroupId: "sg-1" },
      ...spec,
    },
  };
}

function server(spec: Partial<ProtectedServer["spec"]> = {}, name = "web"): ProtectedServer {
  return { apiVersion: "lifeboat.io/v1alpha1", kind: "ProtectedServer", metadata: { name, namespace: "ns", uid: `uid-${name}`, generation: 1 }, spec: { sitePairRef: { name: "p" }, source: { instanceId: "i-1" }, ...spec } };
}

function drill(spec: Partial<RecoveryDrill["spec"]> = {}, name = "d"): RecoveryDrill {
  return { apiVersion: "lifeboat.io/v1alpha1", kind: "RecoveryDrill", metadata: { name, namespace: "ns" }, spec: { protectedServerRef: { name: "web" }, ...spec } };
}

const own = (vSwitchId: string, securityGroupId = "sg-1") => ({ vSwitchId, securityGroupId });

describe("networks a server or drill names (contract server)", () => {
  let dir: string;
  let contract: AlibabaContractServer;
  let ecs: EcsDr;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "server-networks-"));
    contract = await startAlibabaContractServer({ ...credentials, dataDir: dir, regionId: HZ });
    const h = contract.harness;
    h.createVSwitch({ vSwitchId: "vsw-rec", vpcId: "vpc-1", regionId: HZ, zoneId: `${HZ}-i`, cidrBlock: "10.0.1.0/24" });
    h.createVSwitch({ vSwitchId: "vsw-test", vpcId: "vpc-1", regionId: HZ, zoneId: `${HZ}-i`, cidrBlock: "10.0.2.0/24" });
    h.createVSwitch({ vSwitchId: "vsw-app", vpcId: "vpc-1", regionId: HZ, zoneId: `${HZ}-i`, cidrBlock: "10.0.4.0/24" });
    h.createVSwitch({ vSwitchId: "vsw-src-2", vpcId: "vpc-1", regionId: HZ, zoneId: `${HZ}-h`, cidrBlock: "10.0.5.0/24" });
    h.createSecurityGroup({ securityGroupId: "sg-1", vpcId: "vpc-1", regionId: HZ });
    h.createSecurityGroup({ securityGroupId: "sg-other-vpc", vpcId: "vpc-2", regionId: HZ });
    const endpoint = `${contract.protocol}://${contract.ecsEndpoint}`;
    ecs = new EcsDr(credentials, { [HZ]: { ecs: endpoint, vpc: endpoint } });
  });

  afterAll(async () => {
    await contract.close();
    await rm(dir, { recursive: true, force: true });
  });

  const roles = (servers: ProtectedServer[] = [], drills: RecoveryDrill[] = [], pairs: SitePair[] = [pair()]): (() => NetworkRoles) => () => networkRoles(pairs, servers, drills);

  it("passes a server's own recovery and failback networks in their sites' zones", async () => {
    const ps = server({ recovery: { network: own("vsw-app") }, failback: { network: own("vsw-src-2") } });
    expect(await checkServerNetworks(ps, pair(), ecs, roles([ps]))).toBeUndefined();
  });

  it.each([
    [{ recovery: { network: own("vsw-test") } }, "TestNetworkNotIsolated", "SitePair p's spec.testNetwork"],
    [{ recovery: { network: own("vsw-nope") } }, "VSwitchNotFound", "spec.recovery.network.vSwitchId"],
    [{ recovery: { network: own("vsw-src-2") } }, "VSwitchInOtherZone", "SitePair p spec.target.zone"],
    [{ recovery: { network: own("vsw-app", "sg-other-vpc") } }, "SecurityGroupInOtherVpc", "spec.recovery.network.securityGroupId"],
    // A failback instance is made at the protected site: a recovery-zone vSwitch is refused.
    [{ failback: { network: own("vsw-app") } }, "VSwitchInOtherZone", "SitePair p spec.source.zone"],
  ] as const)("refuses a server's networks %j with %s, naming %s", async (spec, reason, named) => {
    const problem = await checkServerNetworks(server(spec), pair(), ecs, roles());
    expect(problem?.reason).toBe(reason);
    expect(problem?.message).toContain(named);
  });

  it("refuses a recovery vSwitch that any drill of the namespace tests on, without asking ECS", async () => {
    const ps = server({ recovery: { network: own("vsw-app") } });
    const got = await recoveryNetworkOf(ps, pair(), { ecs, recoveryNetwork: undefined }, roles([ps], [drill({ testNetwork: own("vsw-app") }, "other-drill")]), false);
    expect(got.ok ? undefined : got.problem).toEqual({ reason: "TestNetworkNotIsolated", message: "spec.recovery.network.vSwitchId: vsw-app is RecoveryDrill other-drill's spec.testNetwork: drill instances join it, so a recovered instance must not" });
  });

  it("does not read a failback network for a pair whose failback goes to vSphere", async () => {
    const ps = server({ failback: { network: own("vsw-nope") } });
    expect(await checkServerNetworks(ps, pair({ type: "VMwareToCloud" }), ecs, roles())).toBeUndefined();
  });

  describe("a drill's test network", () => {
    const sites = (p: SitePair): CloudSites => ({
      protectedSite: { region: HZ, zone: `${HZ}-h` },
      recoverySite: { region: HZ, zone: `${HZ}-i` },
      ecs,
      credentials,
      recoveryNetwork: p.spec.recoveryNetwork as CloudSites["recoveryNetwork"],
      testNetwork: p.spec.testNetwork as CloudSites["testNetwork"],
    });

    it("is the drill's own over the pair's, and the pair's without one", async () => {
      const p = pair();
      expect(await drillNetwork(drill({ testNetwork: own("vsw-app") }), p, sites(p), roles(), true)).toEqual({ ok: true, value: own("vsw-app") });
      expect(await drillNetwork(drill(), p, sites(p), roles(), true)).toEqual({ ok: true, value: own("vsw-test") });
    });

    it.each([
      ["neither the pair nor the drill has one", {}, [], [pair({ testNetwork: undefined })], "NoTestNetwork", "spec.testNetwork"],
      ["the drill names the pair's recovery vSwitch", { testNetwork: own("vsw-rec") }, [], [pair()], "TestNetworkNotIsolated", "SitePair p's spec.recoveryNetwork"],
      ["the pair's test vSwitch is a server's own recovery vSwitch", {}, [server({ recovery: { network: own("vsw-test") } }, "db")], [pair()], "TestNetworkNotIsolated", "ProtectedServer db's spec.recovery.network"],
      ["the drill's vSwitch is another pair's recovery vSwitch", { testNetwork: own("vsw-app") }, [], [pair(), pair({ recoveryNetwork: own("vsw-app") }, "q")], "TestNetworkNotIsolated", "SitePair q's spec.recoveryNetwork"],
      ["the drill's vSwitch is in another zone", { testNetwork: own("vsw-src-2") }, [], [pair()], "VSwitchInOtherZone", "SitePair p spec.target.zone"],
    ] as const)("is refused when %s", async (_what, drillSpec, servers, pairs, reason, named) => {
      const p = pairs[0];
      const got = await drillNetwork(drill(drillSpec), p, sites(p), roles([...servers], [], [...pairs]), true);
      expect(got.ok ? undefined : got.problem.reason).toBe(reason);
      expect(got.ok ? undefined : got.problem.message).toContain(named);
    });

    it("keeps isolation once something is made, when ECS is no longer asked", async () => {
      const p = pair();
      const got = await drillNetwork(drill({ testNetwork: own("vsw-rec") }), p, sites(p), roles(), false);
      expect(got.ok ? undefined : got.problem.reason).toBe("TestNetworkNotIsolated");
    });
  });

  describe("the RecoveryNetworksValid condition", () => {
    const report = async (checks: ServerNetworkChecks, ps: ProtectedServer, r: () => NetworkRoles, p = pair()) => {
      const set: ConditionInput[] = [];
      let asked = 0;
      await checks.report(ps, p, r, () => {
        asked++;
        return Promise.resolve({ ok: true, value: ecs });
      }, (c) => set.push(c));
      return { condition: set.at(-1), asked };
    };

    it("asks ECS once per spec, says so, and asks again when the pair's spec changes", async () => {
      const checks = new ServerNetworkChecks();
      const ps = server({ recovery: { network: own("vsw-app") } });
      const first = await report(checks, ps, roles([ps]));
      expect([first.condition?.status, first.condition?.reason, first.asked]).toEqual(["True", "Checked", 1]);
      expect((await report(checks, ps, roles([ps]))).asked).toBe(0);
      const moved = pair();
      moved.metadata.generation = 2;
      expect((await report(checks, ps, roles([ps]), moved)).asked).toBe(1);
    });

    it("says at once when a drill starts testing on the server's recovery vSwitch, and valid again when it goes", async () => {
      const checks = new ServerNetworkChecks();
      const ps = server({ recovery: { network: own("vsw-app") } });
      await report(checks, ps, roles([ps]));
      const clash = await report(checks, ps, roles([ps], [drill({ testNetwork: own("vsw-app") })]));
      expect([clash.condition?.status, clash.condition?.reason]).toEqual(["False", "TestNetworkNotIsolated"]);
      const again = await report(checks, ps, roles([ps]));
      expect([again.condition?.status, again.asked]).toEqual(["True", 0]);
    });

    it("removes the condition when the server names no network of its own", async () => {
      const ps = server();
      ps.status = { conditions: [{ type: "RecoveryNetworksValid", status: "True", reason: "Checked", message: "", lastTransitionTime: "2026-12-07T00:00:00Z" }] };
      const { condition, asked } = await report(new ServerNetworkChecks(), ps, roles());
      expect([condition, asked, ps.status.conditions]).toEqual([undefined, 0, []]);
    });
  });
});
