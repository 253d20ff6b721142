// The planned failover's stop of an instance, against the Alibaba contract
// server in process (the official SDKs are the clients): asked, forced after
// five minutes, given up on after ten, and done once ECS says Stopped.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ecs from "@alicloud/ecs20140526";
import { $OpenApiUtil } from "@alicloud/openapi-core";
import { EcsDr } from "../cloud/alibaba/ecs-dr.js";
import { ManualClock } from "../../../e2e/testbed/alibaba-contract/clock.js";
import { startAlibabaContractServer, type AlibabaContractServer } from "../../../e2e/testbed/alibaba-contract/server.js";
import { ecsClientConfig } from "../../../e2e/testbed/alibaba-contract/sdk-clients.js";
import { stopStep } from "./cloud-protection.js";

const credentials = { accessKeyId: "LTAIstopstep0001", accessKeySecret: "stop-step-secret" };
const region = "cn-hangzhou";
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

describe("stopping an instance for a planned failover (contract server)", () => {
  let dir: string;
  let server: AlibabaContractServer;
  let ecs: EcsDr;
  let sdk: InstanceType<typeof Ecs.default>;
  /** The server's state machines move only when the test says: a stop takes a minute of this clock. */
  const clock = new ManualClock();

  async function elapse(ms: number): Promise<void> {
    clock.advance(ms);
    await server.harness.tick();
  }

  async function runningInstance(): Promise<string> {
    const id = (await sdk.runInstances(new Ecs.RunInstancesRequest({ regionId: region, imageId: "aliyun_3_x64_20G_alibase_20251030.vhd", instanceType: "ecs.g7.large" }))).body?.instanceIdSets?.instanceIdSet?.[0] ?? "";
    await elapse(200);
    expect((await ecs.instance(region, id))?.status).toBe("Running");
    return id;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "stop-step-"));
    server = await startAlibabaContractServer({ ...credentials, dataDir: dir, regionId: region, clock, timings: { instanceStartMs: 100, instanceStopMs: 60_000 } });
    const endpoint = `${server.protocol}://${server.ecsEndpoint}`;
    ecs = new EcsDr(credentials, { [region]: { ecs: endpoint, vpc: endpoint } });
    sdk = new Ecs.default(new $OpenApiUtil.Config(ecsClientConfig(server, credentials)));
  });

  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("asks a running instance to stop and records when, then waits", async () => {
    const id = await runningInstance();
    const step: { stopRequestTime?: string } = {};
    expect(await stopStep(ecs, region, id, step)).toBe("waiting");
    expect(step.stopRequestTime).toBeDefined();
    expect((await ecs.instance(region, id))?.status).toBe("Stopping");
    expect(await stopStep(ecs, region, id, step)).toBe("waiting");
  });

  it("keeps waiting through the forced stop after five minutes, and gives up after ten", async () => {
    const id = await runningInstance();
    const step = { stopRequestTime: minutesAgo(6) };
    expect(await stopStep(ecs, region, id, step)).toBe("waiting");
    expect((await ecs.instance(region, id))?.status).toBe("Stopping");
    step.stopRequestTime = minutesAgo(11);
    expect(await stopStep(ecs, region, id, step)).toBe("giveUp");
  });

  it("is done once ECS says Stopped, and says so when the instance is gone", async () => {
    const id = await runningInstance();
    await sdk.stopInstance(new Ecs.StopInstanceRequest({ instanceId: id }));
    expect(await stopStep(ecs, region, id, {})).toBe("waiting");
    await elapse(61_000);
    expect(await stopStep(ecs, region, id, {})).toBe("stopped");
    expect(await stopStep(ecs, region, "i-doesnotexist", {})).toBe("gone");
  });
});
