import { describe, expect, it } from "@jest/globals";
import type * as k8s from "@kubernetes/client-node";
import type { RecoveryDrill } from "../api/generated/types.js";
import type { ConditionInput } from "../runtime/conditions.js";
import type { ReconcileContext, ReconcileResult } from "../runtime/controller.js";
import type { Kube, LifeboatObject } from "../runtime/kube.js";
import { CREDENTIALS_GRACE_MS, credentialsGone, drillSecretFinalizer, holdForCleanup, isCleaned, markCleaned, recordHeldSecrets, releaseDrillSecrets } from "./drill-holds.js";
import { secretNames } from "./secret-holds.js";

const VCENTER = { apiVersion: "lifeboat.io/v1alpha1", kind: "VCenter", metadata: { namespace: "dr", name: "vc-recovery" }, spec: { credentialsSecretRef: { name: "vc" }, tls: { caSecretRef: { name: "vc-ca" } } } } as LifeboatObject;

function drill(status: RecoveryDrill["status"]): RecoveryDrill {
  return { apiVersion: "lifeboat.io/v1alpha1", kind: "RecoveryDrill", metadata: { namespace: "dr", name: "d1", uid: "0b9e" }, spec: { protectedServerRef: { name: "db" } }, status };
}

/**
 * The Secrets as the API server keeps them, behind the few calls holds make;
 * a patch carrying an old resourceVersion conflicts, as it would there.
 */
function cluster(secrets: Record<string, { finalizers?: string[]; deleting?: boolean }>) {
  const store = new Map<string, k8s.V1Secret>();
  let version = 1;
  for (const [name, s] of Object.entries(secrets)) {
    store.set(name, { metadata: { name, namespace: "dr", resourceVersion: String(version++), finalizers: s.finalizers ?? [], ...(s.deleting ? { deletionTimestamp: new Date() } : {}) } });
  }
  const patches: string[][] = [];
  const kube = {
    getSecret: (_ns: string, name: string) => Promise.resolve(store.get(name) ? structuredClone(store.get(name)) : undefined),
    core: {
      patchNamespacedSecret: ({ name, body }: { name: string; body: { metadata: { finalizers: string[]; resourceVersion: string } } }) => {
        const s = store.get(name);
        if (!s?.metadata) return Promise.reject(new Error("not found"));
        if (s.metadata.resourceVersion !== body.metadata.resourceVersion) return Promise.reject(new Error("409 Conflict"));
        s.metadata.finalizers = body.metadata.finalizers;
        s.metadata.resourceVersion = String(version++);
        patches.push(body.metadata.finalizers);
        return Promise.resolve(s);
      },
    },
  } as unknown as Kube;
  const events: string[] = [];
  const conditions: ConditionInput[] = [];
  const ctx = {
    kube,
    log: { warn: () => undefined },
    cache: { get: (kind: string, _ns: string, name: string) => Promise.resolve(kind === "VCenter" && name === "vc-recovery" ? VCENTER : undefined) },
    events: { record: (_o: unknown, type: string, reason: string) => Promise.resolve(void events.push(`${type} ${reason}`)) },
    setCondition: (obj: LifeboatObject, c: ConditionInput) => {
      conditions.push(c);
      const status = ((obj as { status?: { conditions?: ConditionInput[] } }).status ??= {});
      status.conditions = [...(status.conditions ?? []).filter((x) => x.type !== c.type), c];
    },
  } as unknown as ReconcileContext;
  return { ctx, store, patches, events };
}

const pending = (reason: string): ReconcileResult => ({ requeueAfterMs: reason.length });

describe("what a drill holds for its clean-up", () => {
  it("records the VCenter's Secrets first, then puts its own finalizer on each, once", async () => {
    const d = drill({ vCenter: "vc-recovery", phase: "Ready" });
    const { ctx, store, patches } = cluster({ vc: { finalizers: ["someone/else"] }, "vc-ca": {} });
    expect(await holdForCleanup(d, ctx, pending)).toEqual({ requeueAfterMs: 200 });
    expect(d.status?.heldSecrets).toEqual(["vc", "vc-ca"]);
    expect(patches).toEqual([]);
    expect(await holdForCleanup(d, ctx, pending)).toBeUndefined();
    expect(store.get("vc")?.metadata?.finalizers).toEqual(["someone/else", drillSecretFinalizer(d)]);
    expect(store.get("vc-ca")?.metadata?.finalizers).toEqual([drillSecretFinalizer(d)]);
    expect(await holdForCleanup(d, ctx, pending)).toBeUndefined();
    expect(patches).toHaveLength(2);
  });

  it("lets go of a Secret the VCenter no longer names once the new one is held", async () => {
    const d = drill({ vCenter: "vc-recovery", phase: "Ready", heldSecrets: ["vc-old", "vc", "vc-ca"] });
    const { ctx, store } = cluster({ "vc-old": { finalizers: [drillSecretFinalizer(drill({}))] }, vc: {}, "vc-ca": {} });
    expect(await holdForCleanup(d, ctx, pending)).toBeUndefined();
    expect(d.status?.heldSecrets).toEqual(["vc", "vc-ca"]);
    expect(store.get("vc-old")?.metadata?.finalizers).toEqual([]);
    expect(store.get("vc")?.metadata?.finalizers).toEqual([drillSecretFinalizer(d)]);
  });

  it("holds nothing before the drill knows its site", async () => {
    const { ctx, patches } = cluster({ vc: {} });
    const d = drill({});
    expect(await holdForCleanup(d, ctx, pending)).toBeUndefined();
    expect(d.status?.heldSecrets).toBeUndefined();
    expect(patches).toEqual([]);
  });

  it("makes a drill that made nothing yet wait while its Secret is being deleted; one that made something only warns", async () => {
    const waiting = drill({ vCenter: "vc-recovery", phase: "Pending", heldSecrets: ["vc", "vc-ca"] });
    const a = cluster({ vc: { deleting: true }, "vc-ca": {} });
    expect(await holdForCleanup(waiting, a.ctx, pending)).toEqual(pending("SecretDeleting"));
    const ready = drill({ vCenter: "vc-recovery", phase: "Ready", heldSecrets: ["vc", "vc-ca"] });
    const b = cluster({ vc: { deleting: true }, "vc-ca": {} });
    expect(await holdForCleanup(ready, b.ctx, pending)).toBeUndefined();
    expect(b.events).toEqual(["Warning SecretDeleting"]);
    expect(b.store.get("vc-ca")?.metadata?.finalizers).toEqual([drillSecretFinalizer(ready)]);
  });

  it("lets go of its own finalizer only, after it has said it is cleaned", async () => {
    const d = drill({ vCenter: "vc-recovery", heldSecrets: ["vc", "gone"] });
    const other = "lifeboat.io/drill-0123456789";
    const { ctx, store } = cluster({ vc: { finalizers: [other, drillSecretFinalizer(d)], deleting: true } });
    expect(isCleaned(d)).toBe(false);
    markCleaned(d, ctx);
    expect(isCleaned(d)).toBe(true);
    await releaseDrillSecrets(d, ctx);
    expect(store.get("vc")?.metadata?.finalizers).toEqual([other]);
  });

  it("records each name once", () => {
    const d = drill(undefined);
    expect(recordHeldSecrets(d, ["vc", "vc"])).toBe(true);
    expect(recordHeldSecrets(d, ["vc"])).toBe(false);
    expect(recordHeldSecrets(d, ["vc", "vc-ca"])).toBe(true);
    expect(d.status?.heldSecrets).toEqual(["vc", "vc-ca"]);
  });

  it("finds every Secret a spec names, at any depth", () => {
    expect(secretNames(VCENTER.spec)).toEqual(["vc", "vc-ca"]);
  });

  it("leaves what a drill made behind only when its Secret is gone, its VCenter is being deleted too, and the grace is over", async () => {
    const deletedAgo = (ms: number) => ({ ...drill({ vCenter: "vc-recovery" }), metadata: { namespace: "dr", name: "d1", uid: "0b9e", deletionTimestamp: new Date(Date.now() - ms) } });
    const deletingVc = { ...VCENTER, metadata: { ...VCENTER.metadata, deletionTimestamp: new Date() } } as LifeboatObject;
    const gone = { reason: "SecretNotFound", message: "spec.credentialsSecretRef: Secret dr/vc does not exist" };
    const { ctx, events } = cluster({});
    // A key the user can add, or a VCenter that stays: wait as usual.
    expect(await credentialsGone(deletedAgo(CREDENTIALS_GRACE_MS * 2), ctx, deletingVc, { reason: "SecretKeyMissing", message: "no key" }, "vm-1")).toBeUndefined();
    expect(await credentialsGone(deletedAgo(CREDENTIALS_GRACE_MS * 2), ctx, VCENTER, gone, "vm-1")).toBeUndefined();
    // Within the grace: look again, saying until when.
    const early = deletedAgo(60_000);
    const waiting = await credentialsGone(early, ctx, deletingVc, gone, "vm-1");
    expect(waiting?.result?.requeueAfterMs).toBeGreaterThan(0);
    expect(JSON.stringify(early.status?.conditions)).toContain("unless the Secret is back by");
    expect(events).toEqual([]);
    // After it: let go, saying what is left.
    expect(await credentialsGone(deletedAgo(CREDENTIALS_GRACE_MS + 1_000), ctx, deletingVc, gone, "vm-1")).toEqual({ result: undefined });
    expect(events).toEqual(["Warning CleanupSkipped"]);
  });
});
