// Post scripts through Cloud Assistant, against the Alibaba contract server in
// process (the official SDK is the client; the server runs shell scripts in its
// guest stand-in): waiting for the agent, a run and its result, failures, a
// changed script after a failure, and the condition a server reports.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ecs from "@alicloud/ecs20140526";
import { $OpenApiUtil } from "@alicloud/openapi-core";
import type { ProtectedServer } from "../api/generated/types.js";
import { EcsDr } from "../cloud/alibaba/ecs-dr.js";
import type { Condition, ConditionInput } from "../runtime/conditions.js";
import { startAlibabaContractServer, type AlibabaContractServer } from "../../../e2e/testbed/alibaba-contract/server.js";
import { ecsClientConfig } from "../../../e2e/testbed/alibaba-contract/sdk-clients.js";
import { AGENT_WAIT_MS, OUTPUT_KEPT, advancePostScript, ignoredPostScripts, outputTail, postScriptDue, postScriptPollMs, reportPostScript, runPostScript, scriptHash, type PostScript, type PostScriptRecord, type PostScriptStep } from "./cloud-post-script.js";

const credentials = { accessKeyId: "LTAIpostscript01", accessKeySecret: "post-script-secret" };
const region = "cn-hangzhou";

describe("post scripts through Cloud Assistant (contract server)", () => {
  let dir: string;
  let server: AlibabaContractServer;
  let ecs: EcsDr;
  let sdk: InstanceType<typeof Ecs.default>;

  async function instance(): Promise<string> {
    const id = (await sdk.runInstances(new Ecs.RunInstancesRequest({ regionId: region, imageId: "aliyun_3_x64_20G_alibase_20251030.vhd", instanceType: "ecs.g7.large" }))).body?.instanceIdSets?.instanceIdSet?.[0] ?? "";
    expect(id).not.toBe("");
    return id;
  }

  /** Steps the run until it ends, as a reconciler's passes would. */
  async function untilEnded(instanceId: string, script: PostScript, holder: { postScript?: PostScriptRecord }, token = "t"): Promise<PostScriptStep> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const step = await runPostScript(ecs, region, instanceId, script, holder, "lifeboat-test", token);
      if (step.state !== "running") return step;
      if (Date.now() > deadline) throw new Error(`the post script did not end: ${step.message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "post-script-"));
    server = await startAlibabaContractServer({ ...credentials, dataDir: dir, regionId: region, timings: { instanceStartMs: 200, cloudAssistantStartMs: 300 } });
    const endpoint = `${server.protocol}://${server.ecsEndpoint}`;
    ecs = new EcsDr(credentials, { [region]: { ecs: endpoint, vpc: endpoint } });
    sdk = new Ecs.default(new $OpenApiUtil.Config(ecsClientConfig(server, credentials)));
  });

  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("waits for the agent, runs the script once, and keeps its exit code and output", async () => {
    const id = await instance();
    const holder: { postScript?: PostScriptRecord } = {};
    const script: PostScript = { content: `echo "switched $LIFEBOAT_CONTRACT_INSTANCE_ID"\necho "done, ünïcode" >&2\n` };
    const first = await runPostScript(ecs, region, id, script, holder, "lifeboat-test", "t");
    expect(first).toEqual({ state: "running", message: `waiting for the Cloud Assistant agent of instance ${id} to run the post script` });
    expect(holder.postScript).toMatchObject({ phase: "Waiting", instanceId: id, contentHash: scriptHash(script) });
    expect(holder.postScript?.waitingSince).toBeDefined();
    const step = await untilEnded(id, script, holder);
    expect(step.state).toBe("succeeded");
    expect(holder.postScript).toMatchObject({ phase: "Succeeded", invocationStatus: "Success", exitCode: 0, output: `switched ${id}\ndone, ünïcode\n` });
    expect(holder.postScript?.waitingSince).toBeUndefined();
    const invokeId = holder.postScript?.invokeId;
    // Done: a later pass, even with the script changed, runs nothing more.
    expect(postScriptDue(script, holder.postScript, id)).toBe(false);
    expect(postScriptDue({ content: "echo other" }, holder.postScript, id)).toBe(false);
    expect((await runPostScript(ecs, region, id, { content: "echo other" }, holder, "lifeboat-test", "t")).state).toBe("succeeded");
    expect(holder.postScript?.invokeId).toBe(invokeId);
  });

  it("fails with the exit code and the output's end, and runs a changed script again on the same instance", async () => {
    const id = await instance();
    const holder: { postScript?: PostScriptRecord } = {};
    const bad: PostScript = { content: "echo cannot reach the database; exit 7" };
    const failed = await untilEnded(id, bad, holder);
    expect(failed).toMatchObject({ state: "failed", reason: "PostScriptFailed" });
    expect(failed.state === "failed" && failed.message).toContain("Failed, ExitCodeNonzero, exit code 7; its output ends: cannot reach the database");
    expect(holder.postScript).toMatchObject({ phase: "Failed", exitCode: 7, errorCode: "ExitCodeNonzero" });
    // The same script again: not run again (a retry would repeat what it did).
    expect(postScriptDue(bad, holder.postScript, id)).toBe(false);
    expect((await runPostScript(ecs, region, id, bad, holder, "lifeboat-test", "t")).state).toBe("failed");
    // Changed: run again, as a new invocation.
    const fixed: PostScript = { content: "echo reached" };
    expect(postScriptDue(fixed, holder.postScript, id)).toBe(true);
    const before = holder.postScript?.invokeId;
    expect((await untilEnded(id, fixed, holder)).state).toBe("succeeded");
    expect(holder.postScript?.invokeId).not.toBe(before);
    expect(holder.postScript?.output).toBe("reached\n");
  });

  it("runs content it ran before again, after another script in between (each run its own ClientToken)", async () => {
    const id = await instance();
    const holder: { postScript?: PostScriptRecord } = {};
    const a: PostScript = { content: "test -f ready || { echo not ready; exit 1; }" };
    expect((await untilEnded(id, a, holder)).state).toBe("failed");
    const first = holder.postScript?.invokeId;
    expect((await untilEnded(id, { content: "touch ready; exit 9" }, holder)).state).toBe("failed");
    expect(holder.postScript?.attempt).toBe(2);
    expect((await untilEnded(id, a, holder)).state).toBe("succeeded");
    expect(holder.postScript).toMatchObject({ attempt: 3, phase: "Succeeded" });
    expect(holder.postScript?.invokeId).not.toBe(first);
  });

  it("keeps a run going when ECS does not answer, and takes a run with no end reported past its timeout as lost", async () => {
    const id = await instance();
    const holder: { postScript?: PostScriptRecord } = {};
    const script: PostScript = { content: "sleep 1" };
    const phase = () => holder.postScript?.phase;
    for (let i = 0; i < 200 && phase() !== "Running"; i++) {
      await runPostScript(ecs, region, id, script, holder, "lifeboat-test", "t");
      if (phase() !== "Running") await new Promise((r) => setTimeout(r, 50));
    }
    expect(holder.postScript?.phase).toBe("Running");
    // Nothing listens there: the call fails, and the run stays as it was, the error kept for the condition.
    const unreachable = new EcsDr(credentials, { [region]: { ecs: "http://127.0.0.1:9", vpc: "http://127.0.0.1:9" } });
    const step = await runPostScript(unreachable, region, id, script, holder, "lifeboat-test", "t");
    expect(step.state).toBe("running");
    expect(step.message).toContain("DescribeInvocationResults failed");
    expect(holder.postScript?.phase).toBe("Running");
    expect(holder.postScript?.errorCode).toBeTruthy();
    // Failing past the run's wait (its timeout as sent, 600 s, and ten minutes), it fails with the call's own code.
    const copy = { postScript: { ...holder.postScript } };
    const gaveUp = await runPostScript(unreachable, region, id, script, copy, "lifeboat-test", "t", new Date(Date.now() + 1_300_000));
    expect(gaveUp.state).toBe("failed");
    expect(copy.postScript.phase).toBe("Failed");
    expect(copy.postScript.timeoutSeconds).toBe(600);
    expect((await untilEnded(id, script, holder)).state).toBe("succeeded");
    expect(holder.postScript?.errorCode).toBeUndefined();
    // An invocation ECS has no record of, started a minute ago: running until its timeout (600 s) and ten minutes more, then lost.
    const lost: { postScript?: PostScriptRecord } = { postScript: { phase: "Running", instanceId: id, contentHash: scriptHash(script), attempt: 1, invokeId: "t-bp1neverlisted0000000", startTime: new Date(Date.now() - 60_000).toISOString() } };
    expect((await runPostScript(ecs, region, id, script, lost, "lifeboat-test", "t")).state).toBe("running");
    expect((await runPostScript(ecs, region, id, script, lost, "lifeboat-test", "t", new Date(Date.now() + 1_000_000))).state).toBe("running");
    const late = new Date(Date.now() + 1_200_000);
    expect(await runPostScript(ecs, region, id, script, lost, "lifeboat-test", "t", late)).toMatchObject({ state: "failed", reason: "PostScriptLost" });
  });

  it("lets a run end when the script changes meanwhile, then runs the changed one", async () => {
    const id = await instance();
    const holder: { postScript?: PostScriptRecord } = {};
    const first: PostScript = { content: "sleep 1; echo first" };
    while (holder.postScript?.invokeId === undefined) {
      await runPostScript(ecs, region, id, first, holder, "lifeboat-test", "t");
      await new Promise((r) => setTimeout(r, 50));
    }
    const changed: PostScript = { content: "echo second" };
    expect((await untilEnded(id, changed, holder)).state).toBe("succeeded");
    expect(holder.postScript).toMatchObject({ contentHash: scriptHash(changed), attempt: 2, output: "second\n" });
  });

  it("runs the script afresh on a new instance (a new recovery point replaced the old one)", async () => {
    const [a, b] = [await instance(), await instance()];
    const holder: { postScript?: PostScriptRecord } = {};
    const script: PostScript = { content: "echo hello" };
    expect((await untilEnded(a, script, holder)).state).toBe("succeeded");
    expect(postScriptDue(script, holder.postScript, b)).toBe(true);
    expect((await untilEnded(b, script, holder)).state).toBe("succeeded");
    expect(holder.postScript?.instanceId).toBe(b);
  });

  it("says what Cloud Assistant says of a type the instance cannot run, and of a script too long to send", async () => {
    const id = await instance();
    const windows: { postScript?: PostScriptRecord } = {};
    expect(await untilEnded(id, { type: "RunPowerShellScript", content: "Write-Output hi" }, windows)).toMatchObject({ state: "failed", reason: "PostScriptInvalid" });
    expect(windows.postScript).toMatchObject({ invocationStatus: "Invalid", errorCode: "CommandNotApplicable" });
    const long: { postScript?: PostScriptRecord } = {};
    // 7,000 three-byte characters: within maxLength's 18,432 characters, over 18,432 bytes (the API server's CEL rule
    // refuses it too; this is the operator's own check).
    const step = await untilEnded(id, { content: "あ".repeat(7000) }, long);
    expect(step).toMatchObject({ state: "failed", reason: "PostScriptTooLong" });
    expect(long.postScript).toMatchObject({ phase: "Failed", errorCode: "PostScriptTooLong" });
  });

  it("gives up on an agent that does not come online in ten minutes", async () => {
    // A stopped instance: its agent stays offline, however long the test takes.
    const id = await instance();
    const state = async () => (await ecs.instance(region, id))?.status;
    for (const [want, act] of [["Running", undefined], ["Stopped", () => sdk.stopInstance(new Ecs.StopInstanceRequest({ instanceId: id }))]] as const) {
      await act?.();
      const deadline = Date.now() + 15_000;
      while ((await state()) !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await state()).toBe(want);
    }
    const holder: { postScript?: PostScriptRecord } = {};
    const script: PostScript = { content: "true" };
    expect((await runPostScript(ecs, region, id, script, holder, "lifeboat-test", "t")).state).toBe("running");
    expect((await runPostScript(ecs, region, id, script, holder, "lifeboat-test", "t")).state).toBe("running");
    const since = Date.parse(holder.postScript?.waitingSince ?? "");
    const late = new Date(since + AGENT_WAIT_MS);
    const step = await runPostScript(ecs, region, id, script, holder, "lifeboat-test", "t", late);
    expect(step).toMatchObject({ state: "failed", reason: "CloudAssistantNotRunning" });
  });

  it("advancePostScript runs only what is due and tells how it ended in an event", async () => {
    const id = await instance();
    const events: string[] = [];
    const record = (type: string, reason: string) => { events.push(`${type} ${reason}`); return Promise.resolve(); };
    const fo: { postScript?: PostScriptRecord; vm?: { instanceId?: string } } = {};
    expect(await advancePostScript(ecs, region, fo, { content: "true" }, "n", "t", record)).toBeUndefined();
    expect(fo.postScript).toBeUndefined(); // no instance yet
    fo.vm = { instanceId: id };
    expect(await advancePostScript(ecs, region, fo, undefined, "n", "t", record)).toBeUndefined();
    let wait: number | undefined;
    const deadline = Date.now() + 15_000;
    do {
      wait = await advancePostScript(ecs, region, fo, { content: "exit 2" }, "n", "t", record);
      if (wait !== undefined) await new Promise((r) => setTimeout(r, 50));
    } while (wait !== undefined && Date.now() < deadline);
    expect(events).toEqual(["Warning PostScriptFailed"]);
    expect(await advancePostScript(ecs, region, fo, { content: "exit 2" }, "n", "t", record)).toBeUndefined();
    expect(events).toHaveLength(1);
  });
});

describe("post script bookkeeping", () => {
  it("keeps the end of a long output, cut at a character", () => {
    expect(outputTail("short")).toBe("short");
    const tail = outputTail(`${"x".repeat(5000)}${"é".repeat(3000)}`);
    expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(OUTPUT_KEPT + 3);
    expect(tail.startsWith("…é")).toBe(true);
  });

  it("hashes what decides a run: type, content, timeout, user and directory", () => {
    const base = scriptHash({ content: "echo" });
    expect(scriptHash({ content: "echo", type: "RunShellScript", timeoutSeconds: 600 })).toBe(base);
    for (const other of [{ content: "echo " }, { content: "echo", timeoutSeconds: 60 }, { content: "echo", username: "app" }, { content: "echo", workingDir: "/srv" }]) expect(scriptHash(other)).not.toBe(base);
  });

  it("reports PostScriptSucceeded for the latest move's script, and drops it when there is none", () => {
    const scripts = { recovery: { postScript: { content: "a" } }, failback: { postScript: { content: "b" } } };
    const conditions = (status: ProtectedServer["status"], spec: object = scripts): Condition[] => {
      const ps = { spec, status } as unknown as ProtectedServer;
      reportPostScript(ps, (c: ConditionInput) => { (ps.status ??= {}).conditions = [...(ps.status.conditions ?? []).filter((x) => x.type !== c.type), { ...c, lastTransitionTime: "" }]; });
      return ps.status?.conditions ?? [];
    };
    expect(conditions({ failover: { postScript: { phase: "Running", instanceId: "i-1", invokeId: "t-1" } } })[0]).toMatchObject({ status: "Unknown", reason: "Running" });
    expect(conditions({ failover: { postScript: { phase: "Succeeded", instanceId: "i-1" } } })[0]).toMatchObject({ status: "True", reason: "Succeeded" });
    expect(conditions({ failover: { postScript: { phase: "Failed", instanceId: "i-1", invocationStatus: "Timeout", errorCode: "ExecutionTimeout" } } })[0]).toMatchObject({ status: "False", reason: "PostScriptTimedOut" });
    // A failback's record (or its absence) replaces the failover's.
    expect(conditions({ failover: { postScript: { phase: "Failed" } }, failback: { postScript: { phase: "Waiting", instanceId: "i-2" } } })[0]).toMatchObject({ status: "Unknown", reason: "WaitingForAgent" });
    const stale = [{ type: "PostScriptSucceeded", status: "False" as const, reason: "PostScriptFailed", message: "", lastTransitionTime: "" }];
    expect(conditions({ failover: { postScript: { phase: "Failed" } }, failback: { step: "Done" }, conditions: stale }, { recovery: scripts.recovery })).toEqual([]);
    // An instance left stopped runs no script: no condition.
    expect(conditions({ failover: { postScript: { phase: "Failed" } }, conditions: stale }, { recovery: { ...scripts.recovery, powerOn: false } })).toEqual([]);
    // Taken out of the spec (to let a plan go on past a failed one): no condition, the record kept.
    expect(conditions({ failover: { postScript: { phase: "Failed" } }, conditions: stale }, {})).toEqual([]);
    expect(conditions({ failover: { postScript: { phase: "Running", instanceId: "i-1", errorCode: "Throttling.User" } } })[0]?.message).toContain("ECS's last answer was Throttling.User, asking again");
  });

  it("looks at a run every 5 s in its first minute, then every 30 s", () => {
    const now = Date.parse("2026-12-07T10:00:00Z");
    expect(postScriptPollMs(undefined, now)).toBe(5_000);
    expect(postScriptPollMs({ phase: "Running", startTime: "2026-12-07T09:59:30Z" }, now)).toBe(5_000);
    expect(postScriptPollMs({ phase: "Running", startTime: "2026-12-07T09:58:00Z" }, now)).toBe(30_000);
    expect(postScriptPollMs({ phase: "Waiting", waitingSince: "2026-12-07T09:50:00Z" }, now)).toBe(30_000);
  });

  it("names the scripts not run on an instance left stopped", () => {
    const ps = (powerOn: boolean) => ({ spec: { recovery: { powerOn, postScript: { content: "x" } }, failback: { postScript: { content: "y" } } } }) as unknown as ProtectedServer;
    expect(ignoredPostScripts(ps(true))).toEqual([]);
    expect(ignoredPostScripts(ps(false)).map((f) => f.split(" ")[0])).toEqual(["spec.recovery.postScript", "spec.failback.postScript"]);
  });
});
