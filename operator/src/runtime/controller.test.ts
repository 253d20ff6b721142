import { describe, expect, it, jest } from "@jest/globals";
import type * as k8s from "@kubernetes/client-node";
import { createLogger } from "../telemetry/logger.js";
import { OperatorMetrics } from "../telemetry/metrics.js";
import { conditionsChanged, Controller, DEFAULT_RESYNC_MS, meaningfulChange, referencedChange, type Reconciler } from "./controller.js";
import type { EventRecorder } from "./events.js";
import type { Informer, InformerEvent, InformerHandler } from "./informer.js";
import type { Kube, LifeboatObject } from "./kube.js";

function vault(o: { generation?: number; lastSyncTime?: string; ready?: string; message?: string; transition?: string } = {}): LifeboatObject {
  return {
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "BackupVault",
    metadata: { namespace: "ns", name: "primary", generation: o.generation ?? 1, resourceVersion: String(Math.random()) },
    spec: { backend: { filesystem: { path: "/vaults/primary" } }, encryption: { keySecretRef: { name: "vault-key" } } },
    status: {
      lastSyncTime: o.lastSyncTime ?? "2026-12-05T10:00:00Z",
      conditions: [{ type: "Ready", status: o.ready ?? "True", reason: "Available", message: o.message ?? "10 recovery points", lastTransitionTime: o.transition ?? "2026-12-05T09:00:00Z", observedGeneration: 1 }],
    },
  } as LifeboatObject;
}

describe("what an update of a referenced object means to those who refer to it", () => {
  it("is nothing when only status counters or times moved", () => {
    const before = vault();
    const after = vault({ lastSyncTime: "2026-12-05T10:01:00Z", transition: "2026-12-05T09:30:00Z" });
    expect(meaningfulChange(before, after)).toBe(false);
    expect(conditionsChanged(before, after)).toBe(false);
    expect(referencedChange(before, after)).toBe(false);
  });

  it("is something when a condition's status, reason or message changed, or the spec did", () => {
    expect(referencedChange(vault(), vault({ ready: "False" }))).toBe(true);
    expect(referencedChange(vault(), vault({ message: "11 recovery points" }))).toBe(true);
    expect(referencedChange(vault(), vault({ generation: 2 }))).toBe(true);
  });
});

/** An informer as a controller sees one: handlers to call, objects to list. */
class FakeInformer {
  private readonly handlers: InformerHandler<LifeboatObject>[] = [];
  on(handler: InformerHandler<LifeboatObject>): void {
    this.handlers.push(handler);
  }
  list(): LifeboatObject[] {
    return [];
  }
  get(_key: string): LifeboatObject | undefined {
    return undefined;
  }
  emit(event: InformerEvent, obj: LifeboatObject, old?: LifeboatObject): void {
    for (const h of this.handlers) h(event, obj, old);
  }
}

describe("Controller.watches", () => {
  const reconciler: Reconciler<LifeboatObject> = { kind: "BackupPlan", readyCondition: "Ready", reconcile: () => Promise.resolve(undefined) };

  async function depthAfter(events: (vaults: FakeInformer) => void, map: (o: k8s.KubernetesObject) => string[] = () => ["ns/plan-a", "ns/plan-b"]): Promise<number> {
    const metrics = new OperatorMetrics();
    const own = new FakeInformer();
    const vaults = new FakeInformer();
    const controller = new Controller({
      name: "backupplan",
      reconciler,
      informer: own as unknown as Informer<LifeboatObject>,
      // Not used: the controller is never started, only fed events.
      kube: undefined as unknown as Kube,
      events: undefined as unknown as EventRecorder,
      log: createLogger("silent"),
      metrics,
    });
    controller.watches(vaults as unknown as Informer<k8s.KubernetesObject>, map, referencedChange);
    events(vaults);
    const sample = (await metrics.queueDepth.get()).values.find((v) => v.labels.controller === "backupplan");
    return sample?.value ?? 0;
  }

  it("queues the mapped keys when a watched object is added, deleted, or changed in a way that matters", async () => {
    expect(await depthAfter((v) => { v.emit("add", vault()); })).toBe(2);
    expect(await depthAfter((v) => { v.emit("delete", vault()); })).toBe(2);
    expect(await depthAfter((v) => { v.emit("update", vault({ ready: "False" }), vault()); })).toBe(2);
  });

  it("queues what the old object mapped to as well as the new: a reference moved away concerns its former target", async () => {
    const named = (o: k8s.KubernetesObject) => [`ns/${o.metadata?.labels?.plan ?? ""}`];
    const labelled = (plan: string, generation: number) => ({ ...vault({ generation }), metadata: { ...vault().metadata, generation, labels: { plan } } }) as LifeboatObject;
    expect(await depthAfter((v) => { v.emit("update", labelled("plan-b", 2), labelled("plan-a", 1)); }, named)).toBe(2);
    expect(await depthAfter((v) => { v.emit("update", labelled("plan-a", 2), labelled("plan-a", 1)); }, named)).toBe(1);
  });

  it("queues nothing for an update that only moved status counters or times", async () => {
    expect(await depthAfter((v) => { v.emit("update", vault({ lastSyncTime: "2026-12-05T10:01:00Z" }), vault()); })).toBe(0);
  });
});

describe("ReconcileContext.listCached", () => {
  function point(namespace: string, name: string): LifeboatObject {
    return { apiVersion: "lifeboat.io/v1alpha1", kind: "RecoveryPoint", metadata: { namespace, name, generation: 1 }, spec: {} };
  }

  /** Runs one reconcile of ns/primary with `cache` as the operator's caches; resolves with what the reconciler read (or the error it got). */
  async function readThroughContext(cache: (kind: string) => Informer<LifeboatObject> | undefined): Promise<readonly LifeboatObject[] | Error> {
    let seen: readonly LifeboatObject[] | Error | undefined;
    const reconciler: Reconciler<LifeboatObject> = {
      kind: "BackupVault",
      readyCondition: "Ready",
      reconcile: (_obj, ctx) => {
        try {
          seen = ctx.listCached("RecoveryPoint", "ns");
        } catch (err) {
          seen = err as Error;
        }
        return Promise.resolve(undefined);
      },
    };
    const own = new FakeInformer();
    const kube = { get: () => Promise.resolve(vault()), replaceStatus: (o: LifeboatObject) => Promise.resolve(o) } as unknown as Kube;
    const controller = new Controller({ name: "backupvault", reconciler, informer: own as unknown as Informer<LifeboatObject>, kube, events: undefined as unknown as EventRecorder, log: createLogger("silent"), metrics: new OperatorMetrics(), cache, workers: 1 });
    controller.start();
    controller.enqueue("ns/primary");
    for (let i = 0; i < 100 && seen === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    await controller.stop();
    if (seen === undefined) throw new Error("the reconcile did not run");
    return seen;
  }

  it("answers the namespace's objects of the kind from the operator's cache", async () => {
    const points = Object.assign(new FakeInformer(), { hasSynced: true, list: () => [point("ns", "a"), point("other", "b"), point("ns", "c")] });
    const seen = await readThroughContext((kind) => (kind === "RecoveryPoint" ? (points as unknown as Informer<LifeboatObject>) : undefined));
    expect(seen).not.toBeInstanceOf(Error);
    expect((seen as LifeboatObject[]).map((o) => o.metadata.name)).toEqual(["a", "c"]);
  });

  it("refuses a kind the operator has no synced cache of rather than answering nothing", async () => {
    const unsynced = Object.assign(new FakeInformer(), { hasSynced: false });
    expect(await readThroughContext(() => undefined)).toBeInstanceOf(Error);
    expect(await readThroughContext(() => unsynced as unknown as Informer<LifeboatObject>)).toBeInstanceOf(Error);
  });
});

describe("resync", () => {
  it("reconciles every object again after about 10 hours, not every few minutes", async () => {
    jest.useFakeTimers();
    try {
      let reconciles = 0;
      const reconciler: Reconciler<LifeboatObject> = { kind: "BackupVault", readyCondition: "Ready", reconcile: () => { reconciles++; return Promise.resolve(undefined); } };
      const own = Object.assign(new FakeInformer(), { list: () => [vault()] });
      const kube = { get: () => Promise.resolve(vault()), replaceStatus: (o: LifeboatObject) => Promise.resolve(o) } as unknown as Kube;
      const controller = new Controller({ name: "backupvault", reconciler, informer: own as unknown as Informer<LifeboatObject>, kube, events: undefined as unknown as EventRecorder, log: createLogger("silent"), metrics: new OperatorMetrics(), workers: 1 });
      controller.start();
      await jest.advanceTimersByTimeAsync(1000);
      expect(reconciles).toBe(1);
      await jest.advanceTimersByTimeAsync(60 * 60_000);
      expect(reconciles).toBe(1);
      expect(DEFAULT_RESYNC_MS).toBe(10 * 3600_000);
      await jest.advanceTimersByTimeAsync(DEFAULT_RESYNC_MS * 1.1);
      expect(reconciles).toBe(2);
      await controller.stop();
    } finally {
      jest.useRealTimers();
    }
  });
});

describe("where a reconcile reads its own object", () => {
  it("starts from the cache only when it holds the version this controller last read or wrote, else GETs", async () => {
    const versioned = (rv: string, runs?: number): LifeboatObject => ({ ...vault(), metadata: { ...vault().metadata, resourceVersion: rv }, status: { observedGeneration: 1, ...(runs === undefined ? {} : { runs }) } });
    let onServer = versioned("1");
    let inCache = versioned("1");
    let gets = 0;
    let reconciles = 0;
    let writeStatus = false;
    let started: unknown;
    const reconciler: Reconciler<LifeboatObject> = {
      kind: "BackupVault",
      readyCondition: "Ready",
      reconcile: (obj) => {
        reconciles++;
        started = obj.status;
        if (writeStatus) (obj.status as { runs?: number }).runs = reconciles;
        return Promise.resolve(undefined);
      },
    };
    const own = Object.assign(new FakeInformer(), { get: (key: string) => (key === "ns/primary" ? inCache : undefined) });
    const kube = {
      get: () => { gets++; return Promise.resolve(structuredClone(onServer)); },
      replaceStatus: (o: LifeboatObject) => { onServer = versioned(String(Number(onServer.metadata.resourceVersion) + 1), (o.status as { runs?: number }).runs); return Promise.resolve(structuredClone(onServer)); },
    } as unknown as Kube;
    const controller = new Controller({ name: "backupvault", reconciler, informer: own as unknown as Informer<LifeboatObject>, kube, events: undefined as unknown as EventRecorder, log: createLogger("silent"), metrics: new OperatorMetrics(), workers: 1 });
    controller.start();
    const reconcile = async () => {
      const before = reconciles;
      controller.enqueue("ns/primary");
      for (let i = 0; i < 100 && reconciles === before; i++) await new Promise((r) => setTimeout(r, 10));
      if (reconciles === before) throw new Error("the reconcile did not run");
      await new Promise((r) => setTimeout(r, 10));
    };
    try {
      await reconcile();
      expect(gets).toBe(1); // nothing seen yet: read fresh
      await reconcile();
      expect(gets).toBe(1); // the cache holds what it read: no GET
      writeStatus = true;
      await reconcile();
      writeStatus = false;
      expect(onServer.metadata.resourceVersion).toBe("2");
      await reconcile();
      expect(gets).toBe(2); // the cache is behind its own write: read fresh, never start from the older status
      expect(started).toEqual({ observedGeneration: 1, runs: 3 });
      inCache = structuredClone(onServer);
      await reconcile();
      expect(gets).toBe(2); // the cache caught up
      inCache = versioned("7"); // someone else's write the controller has not seen
      await reconcile();
      expect(gets).toBe(3);
    } finally {
      await controller.stop();
    }
  });
});

describe("Controller.warmUp", () => {
  function controllerWith(warmUp: Reconciler<LifeboatObject>["warmUp"], objects: LifeboatObject[]) {
    const informer = { on: () => undefined, list: () => objects };
    return new Controller({
      name: "backupvault",
      reconciler: { kind: "BackupVault", readyCondition: "Ready", reconcile: () => Promise.resolve(undefined), warmUp },
      informer: informer as unknown as Informer<LifeboatObject>,
      kube: undefined as unknown as Kube,
      events: undefined as unknown as EventRecorder,
      log: createLogger("silent"),
      metrics: new OperatorMetrics(),
    });
  }

  it("hands the reconciler the cached objects that are not being deleted", async () => {
    const deleting = vault();
    deleting.metadata.name = "leaving";
    deleting.metadata.deletionTimestamp = new Date("2026-12-05T10:00:00Z");
    const seen: string[] = [];
    await controllerWith((objects) => {
      seen.push(...objects.map((o) => o.metadata.name ?? ""));
      return Promise.resolve();
    }, [vault(), deleting]).warmUp();
    expect(seen).toEqual(["primary"]);
  });

  it("never throws: what the warm-up could not do, the reconciles do", async () => {
    await expect(controllerWith(() => Promise.reject(new Error("vault unreachable")), [vault()]).warmUp()).resolves.toBeUndefined();
    await expect(controllerWith(undefined, [vault()]).warmUp()).resolves.toBeUndefined();
  });
});
