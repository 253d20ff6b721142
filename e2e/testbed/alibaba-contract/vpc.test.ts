// The VPC API side of the contract server (2016-04-28: vSwitches and elastic
// IPs, whose ECS versions are deprecated), driven by the official SDK
// (@alicloud/vpc20160428) only. Every response body is checked against the
// SDK's model of it.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EcsSdk, * as $Ecs from "@alicloud/ecs20140526";
import VpcSdk, * as $Vpc from "@alicloud/vpc20160428";
import { $OpenApiUtil } from "@alicloud/openapi-core";
import { startAlibabaContractServer, type AlibabaContractServer } from "./server.js";
import { ecsClientConfig } from "./sdk-clients.js";
import { recording } from "./recording-client.js";

const credentials = { accessKeyId: "LTAIcontracttest0002", accessKeySecret: "contract-secret-0002" };
const region = "cn-shanghai";

/** The VPC SDK's client, recording each raw response body for the field check. */
const RecordingVpc = recording(VpcSdk.default);
type RecordingVpc = InstanceType<typeof RecordingVpc>;

let dir: string;
let server: AlibabaContractServer;
let vpc: RecordingVpc;
let ecs: InstanceType<typeof EcsSdk.default>;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "alibaba-contract-vpc-"));
  server = await startAlibabaContractServer({ ...credentials, dataDir: dir, regionId: region, timings: { instanceStartMs: 300, eipAssociateMs: 300, eipUnassociateMs: 300 } });
  const config = ecsClientConfig(server, credentials);
  vpc = new RecordingVpc(new $OpenApiUtil.Config(config));
  ecs = new EcsSdk.default(new $OpenApiUtil.Config(config));
  server.harness.createVSwitch({ vSwitchId: "vsw-a", vpcId: "vpc-a", regionId: region, zoneId: `${region}-h`, cidrBlock: "10.0.1.0/24" });
  server.harness.createSecurityGroup({ securityGroupId: "sg-a", vpcId: "vpc-a", regionId: region });
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe("VPC API", () => {
  it("lists vSwitches", async () => {
    const out = await vpc.describeVSwitches(new $Vpc.DescribeVSwitchesRequest({ regionId: region, vSwitchId: "vsw-a" }));
    vpc.lastConformsTo($Vpc.DescribeVSwitchesResponseBody);
    expect(out.body?.vSwitches?.vSwitch?.map((v) => [v.vSwitchId, v.zoneId, v.vpcId, v.cidrBlock])).toEqual([["vsw-a", `${region}-h`, "vpc-a", "10.0.1.0/24"]]);
  });

  it("does not answer ECS-only actions under the VPC version", async () => {
    const err = (await vpc.describeVpcs(new $Vpc.DescribeVpcsRequest({ regionId: region })).catch((e: unknown) => e)) as { code?: string };
    expect(err.code).toBe("InvalidAction.NotFound");
  });

  it("allocates a tagged elastic IP, finds it by tag, associates, unassociates and releases it", async () => {
    const tag = { key: "lifeboat.io/drill", value: "ns/d1" };
    const allocated = await vpc.allocateEipAddress(new $Vpc.AllocateEipAddressRequest({ regionId: region, bandwidth: "5", internetChargeType: "PayByTraffic", tag: [new $Vpc.AllocateEipAddressRequestTag(tag)] }));
    vpc.lastConformsTo($Vpc.AllocateEipAddressResponseBody);
    const allocationId = allocated.body?.allocationId ?? "";
    await vpc.allocateEipAddress(new $Vpc.AllocateEipAddressRequest({ regionId: region, internetChargeType: "PayByTraffic" }));
    const byTag = async () => (await vpc.describeEipAddresses(new $Vpc.DescribeEipAddressesRequest({ regionId: region, tag: [new $Vpc.DescribeEipAddressesRequestTag(tag)] }))).body?.eipAddresses?.eipAddress ?? [];
    const found = await byTag();
    vpc.lastConformsTo($Vpc.DescribeEipAddressesResponseBody);
    expect(found.map((e) => [e.allocationId, e.status, e.tags?.tag?.map((t) => [t.key, t.value])])).toEqual([[allocationId, "Available", [[tag.key, tag.value]]]]);

    const instanceId = (await ecs.runInstances(new $Ecs.RunInstancesRequest({ regionId: region, imageId: "aliyun_3_x64_20G_alibase_20240528.vhd", instanceType: "ecs.g7.large", vSwitchId: "vsw-a", securityGroupId: "sg-a" }))).body?.instanceIdSets?.instanceIdSet?.[0] ?? "";
    await until("Running", async () => (await ecs.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, instanceIds: JSON.stringify([instanceId]) }))).body?.instances?.instance?.[0]?.status === "Running");
    await vpc.associateEipAddress(new $Vpc.AssociateEipAddressRequest({ regionId: region, allocationId, instanceId, instanceType: "EcsInstance" }));
    vpc.lastConformsTo($Vpc.AssociateEipAddressResponseBody);
    await until("InUse", async () => (await byTag())[0]?.status === "InUse");
    expect((await byTag())[0]?.instanceId).toBe(instanceId);
    await vpc.unassociateEipAddress(new $Vpc.UnassociateEipAddressRequest({ regionId: region, allocationId, instanceId, instanceType: "EcsInstance" }));
    vpc.lastConformsTo($Vpc.UnassociateEipAddressResponseBody);
    await until("Available", async () => (await byTag())[0]?.status === "Available");
    await vpc.releaseEipAddress(new $Vpc.ReleaseEipAddressRequest({ regionId: region, allocationId }));
    vpc.lastConformsTo($Vpc.ReleaseEipAddressResponseBody);
    expect(await byTag()).toEqual([]);
  });
});
