import { describe, expect, it } from "@jest/globals";
import type { ProtectedServer, ReplicationPolicy } from "../api/generated/types.js";
import { protectedServer } from "../api/protected-server.js";
import type { ConditionInput } from "../runtime/conditions.js";
import type { ReconcileContext } from "../runtime/controller.js";
import type { LifeboatObject } from "../runtime/kube.js";
import { rpoTargetSeconds } from "./protected-server-controller.js";
import { ReplicationPolicyReconciler } from "./replication-policy-controller.js";
import { applyReplicationSettings, REPLICATION_POLICY_CONDITION, replicationField } from "./replication-settings.js";

const gold: ReplicationPolicy & LifeboatObject = {
  apiVersion: "lifeboat.io/v1alpha1",
  kind: "ReplicationPolicy",
  metadata: { namespace: "dr", name: "gold" },
  spec: { crashConsistentIntervalMinutes: 10, rpoThresholdMinutes: 30, retention: { keepAllForMinutes: 120 } },
};

function server(name: string, spec: Partial<ProtectedServer["spec"]>): ProtectedServer & LifeboatObject {
  return { apiVersion: "lifeboat.io/v1alpha1", kind: "ProtectedServer", metadata: { namespace: "dr", name }, spec: { sitePairRef: { name: "pair" }, source: { vmName: name }, ...spec } };
}

/** What the policy code reads (the cache, the namespace's lists) and reports through (conditions). */
function context(objects: LifeboatObject[]): { ctx: ReconcileContext; conditions: ConditionInput[] } {
  const conditions: ConditionInput[] = [];
  const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const ctx = {
    cache: { get: (kind: string, _ns: string, name: string) => Promise.resolve(structuredClone(ofKind(kind).find((o) => o.metadata.name === name))) },
    kube: { list: (kind: string) => Promise.resolve(ofKind(kind)) },
    listCached: ofKind,
    setCondition: (_obj: LifeboatObject, c: ConditionInput) => conditions.push(c),
  } as unknown as ReconcileContext;
  return { ctx, conditions };
}

describe("a server's replication settings from its ReplicationPolicy", () => {
  it("are recorded in a status field without defaults or rules, so that a copy reads back as it was written", () => {
    const recorded = JSON.stringify(protectedServer.status.properties?.replicationSettings);
    expect(recorded).toContain("crashConsistentIntervalMinutes");
    expect(recorded).not.toContain('"default"');
    expect(recorded).not.toContain("x-kubernetes-validations");
    expect(JSON.stringify(protectedServer.spec.properties?.replication)).toContain('"default"');
  });

  it("replaces spec.replication in the reconcile's copy, so every stage reads the policy's settings, and records them", async () => {
    const ps = server("db", { replicationPolicyRef: { name: "gold" } });
    expect(rpoTargetSeconds(ps)).toBe(300);
    const { ctx, conditions } = context([{ ...gold, metadata: { ...gold.metadata, generation: 3 } }]);
    expect(await applyReplicationSettings(ps, ctx)).toBeUndefined();
    expect(ps.spec.replication).toEqual(gold.spec);
    expect(ps.status?.replicationSettings).toEqual(gold.spec);
    expect(ps.status?.replicationPolicy).toEqual({ name: "gold", generation: 3 });
    expect(conditions).toEqual([{ type: REPLICATION_POLICY_CONDITION, status: "True", reason: "Applied", message: "the settings of ReplicationPolicy gold (generation 3)" }]);
    expect(rpoTargetSeconds(ps)).toBe(1800);
    expect(replicationField(ps, "businessHours")).toBe("spec.businessHours of ReplicationPolicy gold");
  });

  it("records a server's own settings, and drops what a policy it named before left", async () => {
    const ps = server("web", { replication: { crashConsistentIntervalMinutes: 15 } });
    ps.status = { replicationPolicy: { name: "gold" }, conditions: [{ type: REPLICATION_POLICY_CONDITION, status: "True", reason: "Applied", message: "", lastTransitionTime: "2026-12-07T00:00:00Z" }] };
    expect(await applyReplicationSettings(ps, context([gold]).ctx)).toBeUndefined();
    expect(ps.spec.replication).toEqual({ crashConsistentIntervalMinutes: 15 });
    expect(ps.status.replicationSettings).toEqual({ crashConsistentIntervalMinutes: 15 });
    expect(ps.status.replicationPolicy).toBeUndefined();
    expect(ps.status.conditions).toEqual([]);
    expect(replicationField(ps, "businessHours")).toBe("spec.replication.businessHours");
  });

  it("keeps a server whose policy is missing on the settings it recorded, whatever its state, and says so", async () => {
    const ps = server("db", { replicationPolicyRef: { name: "glod" }, desiredState: "ReverseReplicating", commitFailover: true });
    ps.status = { replicationSettings: gold.spec, replicationPolicy: { name: "gold", generation: 3 } };
    const { ctx, conditions } = context([gold]);
    expect(await applyReplicationSettings(ps, ctx)).toBeUndefined();
    expect(ps.spec.replication).toEqual(gold.spec);
    expect(rpoTargetSeconds(ps)).toBe(1800);
    expect(conditions[0]).toMatchObject({ type: REPLICATION_POLICY_CONDITION, status: "False", reason: "ReplicationPolicyNotFound" });
    expect(conditions[0]?.message).toBe("spec.replicationPolicyRef: ReplicationPolicy dr/glod does not exist; create it, or set spec.replication instead. Meanwhile the server goes on with the settings it last applied, ReplicationPolicy gold's (status.replicationSettings)");
  });

  it("names the missing policy as the problem when there are no settings to go on with", async () => {
    const ps = server("db", { replicationPolicyRef: { name: "silver" } });
    const problem = await applyReplicationSettings(ps, context([gold]).ctx);
    expect(problem?.reason).toBe("ReplicationPolicyNotFound");
    expect(problem?.message).toBe("spec.replicationPolicyRef: ReplicationPolicy dr/silver does not exist; create it, or set spec.replication instead");
    expect(ps.spec.replication).toBeUndefined();
  });

  it("still applies a policy whose deletion waits for its servers", async () => {
    const deleting = { ...gold, metadata: { ...gold.metadata, deletionTimestamp: new Date(), finalizers: ["lifeboat.io/in-use-protection"] } };
    const ps = server("db", { replicationPolicyRef: { name: "gold" } });
    expect(await applyReplicationSettings(ps, context([deleting]).ctx)).toBeUndefined();
    expect(ps.spec.replication?.crashConsistentIntervalMinutes).toBe(10);
  });
});

describe("ReplicationPolicyReconciler", () => {
  const users = [server("db", { replicationPolicyRef: { name: "gold" } }), server("app", { replicationPolicyRef: { name: "gold" } }), server("web", { replication: {} })];

  it("counts the servers that name it, with a condition that does not change with the count", async () => {
    const policy = structuredClone(gold);
    const one = context(users.slice(0, 1));
    await new ReplicationPolicyReconciler().reconcile(policy, one.ctx);
    expect(policy.status?.protectedServers).toBe(1);
    const all = context(users);
    await new ReplicationPolicyReconciler().reconcile(policy, all.ctx);
    expect(policy.status?.protectedServers).toBe(2);
    expect(all.conditions).toEqual(one.conditions);
    expect(all.conditions[0]).toMatchObject({ type: "Ready", status: "True", reason: "Valid" });
  });

  it("says which time zone is not one, since the API server cannot", async () => {
    const policy = { ...structuredClone(gold), spec: { ...gold.spec, businessHours: { days: ["Mon" as const], start: "09:00", end: "18:00", timeZone: "Asia/Tokio" } } };
    const { ctx, conditions } = context([]);
    await new ReplicationPolicyReconciler().reconcile(policy, ctx);
    expect(conditions[0]).toMatchObject({ status: "False", reason: "InvalidTimeZone" });
    expect(conditions[0]?.message).toContain('"Asia/Tokio"');
  });

  it("is kept while a server names it", async () => {
    const { ctx, conditions } = context(users);
    const deleting = structuredClone(gold);
    expect(await new ReplicationPolicyReconciler().finalize(deleting, ctx)).toEqual({ requeueAfterMs: 30_000 });
    expect(deleting.status?.protectedServers).toBe(2);
    expect(conditions[0]).toMatchObject({ status: "False", reason: "InUse" });
    expect(conditions[0]?.message).toBe("deletion waits until nothing uses this ReplicationPolicy: still used by ProtectedServer/db, ProtectedServer/app");
    expect(await new ReplicationPolicyReconciler().finalize(structuredClone(gold), context([users[2] as LifeboatObject]).ctx)).toBeUndefined();
  });
});
