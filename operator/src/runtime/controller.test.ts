import { describe, expect, it } from "@jest/globals";
import type * as k8s from "@kubernetes/client-node";
import { createLogger } from "../telemetry/logger.js";
import { OperatorMetrics } from "../telemetry/metrics.js";
import { conditionsChanged, Controller, meaningfulChange, referencedChange, type Reconciler } from "./controller.js";
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
  emit(event: InformerEvent, obj: LifeboatObject, old?: LifeboatObject): void {
    for (const h of this.handlers) h(event, obj, old);
  }
}

describe("Controller.watches", () => {
  const reconciler: Reconciler<LifeboatObject> = { kind: "BackupPlan", readyCondition: "Ready", reconcile: () => Promise.resolve(undefined) };

  async function depthAfter(events: (vaults: FakeInformer) => void): Promise<number> {
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
    controller.watches(vaults as unknown as Informer<k8s.KubernetesObject>, () => ["ns/plan-a", "ns/plan-b"], referencedChange);
    events(vaults);
    const sample = (await metrics.queueDepth.get()).values.find((v) => v.labels.controller === "backupplan");
    return sample?.value ?? 0;
  }

  it("queues the mapped keys when a watched object is added, deleted, or changed in a way that matters", async () => {
    expect(await depthAfter((v) => { v.emit("add", vault()); })).toBe(2);
    expect(await depthAfter((v) => { v.emit("delete", vault()); })).toBe(2);
    expect(await depthAfter((v) => { v.emit("update", vault({ ready: "False" }), vault()); })).toBe(2);
  });

  it("queues nothing for an update that only moved status counters or times", async () => {
    expect(await depthAfter((v) => { v.emit("update", vault({ lastSyncTime: "2026-12-05T10:01:00Z" }), vault()); })).toBe(0);
  });
});
