// Recovery plans (seed 003), against real components: two replicating
// servers of one application in two groups. A drill of the plan brings up
// test copies in the plan's order and cleans them all up when deleted. A
// failover of the plan brings the database up first and runs its group's
// script (a real Job on the test bed's node), then waits for a manual action
// before the web server; the web group's script fails, is fixed and run
// again; a commit of the plan commits and fences both; reverse replication,
// a failback in the same order and a return to Replicating follow. The API
// server refuses what the plan's rules forbid, and the operator what it
// cannot check there. Both servers take their settings from one
// ReplicationPolicy: an edit of it reaches both, a server naming a missing
// one says so, and the policy is kept while a server names it. For the
// drill, both are one consistency group: their points share ticks, and the
// plan's drill brings both up from one.
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { apply, condition, getObject, nextSucceededCycle, patchSpec, psStatus, startSites, vmByName, type DrSites, type PsStatus } from "../support/dr.js";
import { operatorPods, waitForCondition } from "../support/lifeboat.js";
import { eventually } from "../support/testbed.js";

jest.setTimeout(900_000);

interface DrillObject {
  metadata: { uid: string; ownerReferences?: { uid: string; controller?: boolean }[] };
  spec: { protectedServerRef?: { name: string } };
  status?: { phase?: string; vmName?: string; groupTick?: string; startTime?: string; readyTime?: string; servers?: { group: string; protectedServer: string; drill: string; phase: string }[] };
}

interface PointObject {
  metadata: { labels: Record<string, string | undefined> };
  spec: { time: string; protectedServerRef?: { name: string } };
}

interface PlanStatus {
  state?: string;
  target?: string;
  committed?: boolean;
  currentGroup?: string;
  durationSeconds?: number;
  groups?: { name: string; phase: string; scriptJob?: string; scriptAttempts?: number; startTime?: string; doneTime?: string }[];
}

let s: DrSites;
let image: string;

/** A script that fails unless the plan told it about exactly `server`, running as a VM after a failover or failback. */
function checkServers(group: string, server: string): string[] {
  const code = [
    "const servers = JSON.parse(process.env.LIFEBOAT_SERVERS);",
    `if (process.env.LIFEBOAT_GROUP !== ${JSON.stringify(group)} || !["FailedOver", "FailedBack"].includes(process.env.LIFEBOAT_STATE)) process.exit(2);`,
    `if (servers.length !== 1 || servers[0].name !== ${JSON.stringify(server)} || !servers[0].vm || !servers[0].vm.moRef) process.exit(3);`,
    "console.log('checked', JSON.stringify(servers));",
  ].join(" ");
  return ["node", "-e", code];
}

function groups(webScript: string[]): object[] {
  return [
    { name: "database", protectedServers: ["db"], script: { image, command: checkServers("database", "db"), timeoutSeconds: 120 } },
    { name: "web", protectedServers: ["web"], pauseBefore: true, script: { image, command: webScript, timeoutSeconds: 120 } },
  ];
}

async function planStatus(name = "shop"): Promise<PlanStatus> {
  return (await getObject<{ status?: PlanStatus }>(s, "RecoveryPlan", name)).status ?? {};
}

function waitStage(name: string, stage: string, timeoutMs = 600_000): Promise<PsStatus> {
  return eventually(`${name} in stage ${stage}`, async () => {
    const st = await psStatus(s, name);
    return st.stage === stage ? st : undefined;
  }, timeoutMs);
}

async function gone(kind: string, name: string): Promise<boolean> {
  return getObject(s, kind, name).then(() => false, (err: unknown) => {
    if ((err as { code?: number }).code === 404) return true;
    throw err;
  });
}

async function jobSucceeded(name: string | undefined): Promise<boolean> {
  const job = await s.batch.readNamespacedJob({ namespace: s.ns, name: name ?? "" });
  return job.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True") ?? false;
}

beforeAll(async () => {
  s = await startSites({ vms: 2, prefix: "drplan" });
  const [dbVm = "", webVm = ""] = s.vms;
  await apply(s, "ReplicationPolicy", "app-tier", { crashConsistentIntervalMinutes: 1 });
  await apply(s, "ProtectedServer", "db", { sitePairRef: { name: "pair" }, source: { vmName: dbVm }, replicationPolicyRef: { name: "app-tier" } });
  await apply(s, "ProtectedServer", "web", { sitePairRef: { name: "pair" }, source: { vmName: webVm }, replicationPolicyRef: { name: "app-tier" } });
  image = (await operatorPods()).at(-1)?.spec?.containers[0]?.image ?? "";
  expect(image).not.toBe("");
  await waitStage("db", "RealTimeReplication", 300_000);
  await waitStage("web", "RealTimeReplication", 300_000);
});

afterAll(async () => {
  await (s as DrSites | undefined)?.stop();
});

describe("RecoveryPlan: a failover of an application, group by group", () => {
  it("replicates both servers with one ReplicationPolicy, whose edit reaches both; a server naming a missing one waits until it comes", async () => {
    await waitForCondition("ReplicationPolicy", s.ns, "app-tier", "Ready", "True", "Valid");
    expect((await getObject<{ status?: { protectedServers?: number } }>(s, "ReplicationPolicy", "app-tier")).status?.protectedServers).toBe(2);
    for (const name of ["db", "web"]) {
      const st = await psStatus(s, name);
      expect([st.rpoTargetSeconds, st.replicationSettings?.crashConsistentIntervalMinutes, st.replicationPolicy?.name]).toEqual([60, 1, "app-tier"]);
    }

    await patchSpec(s, "ReplicationPolicy", "app-tier", { rpoThresholdMinutes: 3 });
    for (const name of ["db", "web"]) {
      await eventually(`${name}'s RPO target from the edited policy`, async () => ((await psStatus(s, name)).rpoTargetSeconds === 180 ? true : undefined), 60_000);
    }

    // Applied before its policy, as GitOps may: it waits, naming what to create, and starts once it exists.
    await apply(s, "ProtectedServer", "orphan", { sitePairRef: { name: "pair" }, source: { vmName: "no-such-vm" }, replicationPolicyRef: { name: "gold" } });
    const waiting = await waitForCondition("ProtectedServer", s.ns, "orphan", "Ready", "False", "ReplicationPolicyNotFound");
    expect(waiting.message).toBe(`spec.replicationPolicyRef: ReplicationPolicy ${s.ns}/gold does not exist; create it, or set spec.replication instead`);
    await apply(s, "ReplicationPolicy", "gold", { crashConsistentIntervalMinutes: 10 });
    await waitForCondition("ProtectedServer", s.ns, "orphan", "ReplicationPolicyApplied", "True", "Applied");
    expect((await psStatus(s, "orphan")).rpoTargetSeconds).toBe(600);
    expect(condition(await psStatus(s, "orphan"), "Ready")?.reason).not.toBe("ReplicationPolicyNotFound");
    await s.custom.deleteNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: s.ns, plural: "protectedservers", name: "orphan" });
    await s.custom.deleteNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: s.ns, plural: "replicationpolicies", name: "gold" });
    await eventually("the server and its policy gone", async () => ((await gone("ProtectedServer", "orphan")) && (await gone("ReplicationPolicy", "gold")) ? true : undefined), 120_000);
  });

  it("is refused by the API server for a change its rules forbid, and by the operator for a server in two groups", async () => {
    await apply(s, "RecoveryPlan", "twice", { groups: [{ name: "a", protectedServers: ["db"] }, { name: "b", protectedServers: ["db"] }] });
    const dup = await waitForCondition("RecoveryPlan", s.ns, "twice", "Ready", "False", "DuplicateServer");
    expect(dup.message).toContain("ProtectedServer db is in group a and in group b");
    await expect(patchSpec(s, "RecoveryPlan", "twice", { desiredState: "FailedBack" })).rejects.toThrow(/allowed changes are Replicating→FailedOver/);
    await s.custom.deleteNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: s.ns, plural: "recoveryplans", name: "twice" });

    await apply(s, "RecoveryPlan", "shop", { groups: groups(["node", "-e", "process.exit(7)"]) });
    const ready = await waitForCondition("RecoveryPlan", s.ns, "shop", "Ready", "True", "Replicating", 120_000);
    expect(ready.message).toBe("every server of the plan is Replicating");

    await expect(apply(s, "RecoveryDrill", "both", { protectedServerRef: { name: "db" }, recoveryPlanRef: { name: "shop" } })).rejects.toThrow(/set exactly one of protectedServerRef/);
    await expect(apply(s, "RecoveryDrill", "sized", { recoveryPlanRef: { name: "shop" }, cpu: 2 })).rejects.toThrow(/describe one server's test VM/);
  });

  it("drills the whole plan: a drill per server, the database's up before the web server's is made; deleting it cleans them all", async () => {
    // One consistency group (seed 003: multi-VM consistency): both servers' cycles snapshot at the group's ticks.
    for (const name of ["db", "web"]) await patchSpec(s, "ProtectedServer", name, { consistencyGroup: "shop" });
    for (const name of ["db", "web"]) {
      // A member names the members it saw at its last reconcile: both, once each has looked again.
      await eventually(`${name} in group shop with db and web`, async () => {
        const grouped = condition(await psStatus(s, name), "GroupConsistent");
        return grouped?.status === "True" && grouped.reason === "SharedTicks" && grouped.message.includes("consistency group shop (db, web): every 1 min from the epoch") ? true : undefined;
      }, 120_000);
    }
    const shared = await eventually("a tick of group shop that both servers have a RecoveryPoint at", async () => {
      const list = (await s.custom.listNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: s.ns, plural: "recoverypoints", labelSelector: "lifeboat.io/consistency-group=shop" })) as { items: PointObject[] };
      const byTick = new Map<string, PointObject[]>();
      for (const rp of list.items) byTick.set(rp.metadata.labels["lifeboat.io/group-tick"] ?? "", [...(byTick.get(rp.metadata.labels["lifeboat.io/group-tick"] ?? "") ?? []), rp]);
      return [...byTick.entries()].find(([, rps]) => ["db", "web"].every((n) => rps.some((rp) => rp.spec.protectedServerRef?.name === n)));
    }, 300_000);
    // Ticks are whole minutes from the epoch here, and no worker snapshots before its tick.
    const [tickLabel, points] = shared;
    expect(tickLabel).toMatch(/^\d{8}t\d{4}00z$/);
    const tick = Date.parse(tickLabel.replace(/^(\d{4})(\d{2})(\d{2})t(\d{2})(\d{2})(\d{2})z$/, "$1-$2-$3T$4:$5:$6Z"));
    for (const rp of points) expect(Date.parse(rp.spec.time) - tick).toBeGreaterThanOrEqual(0);
    // A snapshot taken more than 30 s after its tick is taken outside the group.
    for (const rp of points) expect(Date.parse(rp.spec.time) - tick).toBeLessThanOrEqual(30_000);

    await apply(s, "RecoveryDrill", "shop-test", { recoveryPlanRef: { name: "shop" } });
    const ready = await waitForCondition("RecoveryDrill", s.ns, "shop-test", "Ready", "True", "Running", 600_000);
    expect(ready.message).toContain("test copies of 2 server(s) are up");
    const parent = await getObject<DrillObject>(s, "RecoveryDrill", "shop-test");
    expect(parent.status?.servers?.map((x) => [x.group, x.protectedServer, x.drill, x.phase])).toEqual([
      ["database", "db", "shop-test-db", "Ready"],
      ["web", "web", "shop-test-web", "Ready"],
    ]);
    const db = await getObject<DrillObject>(s, "RecoveryDrill", "shop-test-db");
    const web = await getObject<DrillObject>(s, "RecoveryDrill", "shop-test-web");
    expect(db.spec.protectedServerRef?.name).toBe("db");
    expect(web.spec.protectedServerRef?.name).toBe("web");
    expect(db.metadata.ownerReferences?.find((o) => o.controller)?.uid).toBe(parent.metadata.uid);
    // The plan's order: the web server's drill was made once the database's test VM was up.
    expect(Date.parse(web.status?.startTime ?? "")).toBeGreaterThanOrEqual(Date.parse(db.status?.readyTime ?? ""));
    // Both test copies are of one tick, although the web server's drill was made later, after newer ticks.
    expect(db.status?.groupTick).toMatch(/^\d{8}T\d{6}Z$/);
    expect(web.status?.groupTick).toBe(db.status?.groupTick);
    const testVms = [db.status?.vmName ?? "", web.status?.vmName ?? ""];
    for (const name of testVms) expect((await vmByName(s.recoveryClient, name)).map((v) => v.powerState)).toEqual(["poweredOn"]);
    // Replication went on: a drill never moves a server.
    for (const name of ["db", "web"]) expect((await psStatus(s, name)).stage).toBe("RealTimeReplication");

    await s.custom.deleteNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: s.ns, plural: "recoverydrills", name: "shop-test" });
    // Deleted means cleaned: the plan's drill never goes before its servers' drills (recorded here, since a throw
    // inside eventually is only a retry).
    let parentWentFirst = false;
    await eventually("the plan's drill and its servers' drills to be gone", async () => {
      // The parent first: once it is gone, its servers' drills must be gone already.
      const parent = await gone("RecoveryDrill", "shop-test");
      const children = [await gone("RecoveryDrill", "shop-test-db"), await gone("RecoveryDrill", "shop-test-web")];
      if (parent && children.includes(false)) parentWentFirst = true;
      return parent && !children.includes(false) ? true : undefined;
    }, 300_000);
    expect(parentWentFirst).toBe(false);
    for (const name of testVms) expect(await vmByName(s.recoveryClient, name)).toHaveLength(0);
    for (const name of ["db", "web"]) await patchSpec(s, "ProtectedServer", name, { consistencyGroup: null });
    for (const name of ["db", "web"]) await eventually(`${name} out of the group`, async () => (condition(await psStatus(s, name), "GroupConsistent") ? undefined : true), 60_000);
  });

  it("fails over the database first and runs its script, then waits for a manual action before the web server", async () => {
    await patchSpec(s, "RecoveryPlan", "shop", { desiredState: "FailedOver" });
    const waiting = await waitForCondition("RecoveryPlan", s.ns, "shop", "Ready", "False", "WaitingForApproval", 600_000);
    expect(waiting.message).toContain("group web waits for a new spec.resumeRequest");
    const st = await planStatus();
    expect(st.target).toBe("FailedOver");
    expect(st.state).toBe("Replicating");
    expect(st.currentGroup).toBe("web");
    const [database, web] = st.groups ?? [];
    expect(database?.phase).toBe("Done");
    expect(web?.phase).toBe("WaitingForApproval");
    // The database runs at the recovery site, and its script saw it there.
    const db = await psStatus(s, "db");
    expect(db.stage).toBe("FailedOver");
    expect(await jobSucceeded(database?.scriptJob)).toBe(true);
    const [recovered] = await vmByName(s.recoveryClient, db.failover?.vm?.name ?? "");
    expect(recovered?.powerState).toBe("poweredOn");
    // The web server was not touched: still replicating, its VM where it was.
    const webPs = await getObject<{ spec: { desiredState?: string }; status: PsStatus }>(s, "ProtectedServer", "web");
    expect(webPs.spec.desiredState).toBe("Replicating");
    expect(webPs.status.failover).toBeUndefined();
  });

  it("brings the web server up on a new resumeRequest; its failed script stops the plan until it is fixed and run again", async () => {
    await patchSpec(s, "RecoveryPlan", "shop", { resumeRequest: "dns-switched" });
    const failed = await waitForCondition("RecoveryPlan", s.ns, "shop", "Ready", "False", "ScriptFailed", 600_000);
    expect(failed.message).toContain("the script of group web failed");
    expect((await psStatus(s, "web")).stage).toBe("FailedOver");
    const before = (await planStatus()).groups?.[1];
    expect(before?.scriptAttempts).toBe(1);
    // The same resumeRequest does not run it again: the plan stays stopped.
    await patchSpec(s, "RecoveryPlan", "shop", { groups: groups(checkServers("web", "web")) });
    const seen = await eventually("the operator to act on the fixed script", async () => {
      const plan = await getObject<{ metadata: { generation: number }; status?: PlanStatus & { observedGeneration?: number } }>(s, "RecoveryPlan", "shop");
      return (plan.status?.observedGeneration ?? 0) >= plan.metadata.generation ? plan.status : undefined;
    }, 60_000);
    expect(seen.groups?.[1]?.phase).toBe("ScriptFailed");

    await patchSpec(s, "RecoveryPlan", "shop", { resumeRequest: "script-fixed" });
    await waitForCondition("RecoveryPlan", s.ns, "shop", "Ready", "True", "FailedOver", 300_000);
    const st = await planStatus();
    expect(st.state).toBe("FailedOver");
    expect(st.target).toBeUndefined();
    expect(st.durationSeconds).toBeGreaterThan(0);
    const web = st.groups?.[1];
    expect(web?.scriptAttempts).toBe(2);
    expect(web?.scriptJob).not.toBe(before?.scriptJob);
    expect(await jobSucceeded(web?.scriptJob)).toBe(true);
    // Group order held: the web server's failover was asked for after the database's group, script included, was done.
    const webFailover = (await psStatus(s, "web")).failover;
    expect(Date.parse(webFailover?.requestTime ?? "")).toBeGreaterThanOrEqual(Date.parse(st.groups?.[0]?.doneTime ?? ""));
  });

  it("commits every server's failover: each original is fenced", async () => {
    await patchSpec(s, "RecoveryPlan", "shop", { commitFailover: true });
    await waitForCondition("RecoveryPlan", s.ns, "shop", "Ready", "True", "FailoverCommitted", 300_000);
    expect((await planStatus()).committed).toBe(true);
    for (const [name, vm] of [["db", s.vms[0]], ["web", s.vms[1]]] as const) {
      await waitForCondition("ProtectedServer", s.ns, name, "SourceFenced", "True", "Fenced", 120_000);
      const [original] = await vmByName(s.protectedClient, vm ?? "");
      expect(original?.powerState).toBe("poweredOff");
    }
    const events = await s.core.listNamespacedEvent({ namespace: s.ns, fieldSelector: "involvedObject.kind=RecoveryPlan,involvedObject.name=shop" });
    const reasons = events.items.map((e: k8s.CoreV1Event) => e.reason);
    for (const r of ["Started", "GroupStarted", "ScriptSucceeded", "WaitingForApproval", "ScriptFailed", "Completed", "Committed"]) expect(reasons).toContain(r);
  });

  it("replicates every server back at once, fails back in the plan's order, and protects them again", async () => {
    for (const name of ["db", "web"]) await patchSpec(s, "ProtectedServer", name, { reverseInPlace: true, confirmReverseInPlace: true });
    await patchSpec(s, "RecoveryPlan", "shop", { desiredState: "ReverseReplicating" });
    await waitForCondition("RecoveryPlan", s.ns, "shop", "Ready", "True", "ReverseReplicating", 600_000);
    expect((await planStatus()).groups?.map((g) => g.phase)).toEqual(["Done", "Done"]);

    await patchSpec(s, "RecoveryPlan", "shop", { desiredState: "FailedBack" });
    await waitForCondition("RecoveryPlan", s.ns, "shop", "Ready", "False", "WaitingForApproval", 600_000);
    expect((await psStatus(s, "db")).stage).toBe("FailedBack");
    expect((await psStatus(s, "web")).stage).toBe("ReverseRealTimeReplication");
    const [dbOriginal] = await vmByName(s.protectedClient, s.vms[0] ?? "");
    expect(dbOriginal?.powerState).toBe("poweredOn");
    await patchSpec(s, "RecoveryPlan", "shop", { resumeRequest: "failback-web" });
    await waitForCondition("RecoveryPlan", s.ns, "shop", "Ready", "True", "FailedBack", 600_000);
    const st = await planStatus();
    for (const g of st.groups ?? []) {
      expect(g.scriptAttempts).toBe(1);
      expect(await jobSucceeded(g.scriptJob)).toBe(true);
    }

    await patchSpec(s, "RecoveryPlan", "shop", { desiredState: "Replicating", commitFailover: false });
    await waitForCondition("RecoveryPlan", s.ns, "shop", "Ready", "True", "Replicating", 600_000);
    for (const name of ["db", "web"]) {
      const ps = await getObject<{ spec: { desiredState?: string; commitFailover?: boolean }; status: PsStatus }>(s, "ProtectedServer", name);
      expect([ps.spec.desiredState, ps.spec.commitFailover, ps.status.stage, ps.status.direction]).toEqual(["Replicating", false, "RealTimeReplication", "Forward"]);
    }
  });

  it("counts a server out of its ReplicationPolicy at once, and keeps the policy while a server names it, replicating with it meanwhile", async () => {
    // The policy is not requeued by itself (no deletion pending): only the server's old reference reconciles it.
    await patchSpec(s, "ProtectedServer", "web", { replicationPolicyRef: null, replication: { crashConsistentIntervalMinutes: 1 } });
    await eventually("the policy counting db alone", async () => {
      const policy = await getObject<{ status?: { protectedServers?: number } }>(s, "ReplicationPolicy", "app-tier");
      return policy.status?.protectedServers === 1 ? true : undefined;
    }, 10_000);

    const before = (await psStatus(s, "db")).lastCycle?.id;
    await s.custom.deleteNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: s.ns, plural: "replicationpolicies", name: "app-tier" });
    const held = await waitForCondition("ReplicationPolicy", s.ns, "app-tier", "Ready", "False", "InUse");
    expect(held.message).toBe("deletion waits until nothing uses this ReplicationPolicy: still used by ProtectedServer/db");
    await nextSucceededCycle(s, "db", before);
    expect((await psStatus(s, "db")).rpoTargetSeconds).toBe(180);

    await patchSpec(s, "ProtectedServer", "db", { replicationPolicyRef: null, replication: { crashConsistentIntervalMinutes: 1 } });
    await eventually("the policy deleted once no server names it", async () => ((await gone("ReplicationPolicy", "app-tier")) ? true : undefined), 120_000);
    await eventually("db on its own settings", async () => {
      const st = await psStatus(s, "db");
      return st.rpoTargetSeconds === 60 && st.replicationPolicy === undefined && condition(st, "ReplicationPolicyApplied") === undefined ? true : undefined;
    }, 60_000);
  });
});
