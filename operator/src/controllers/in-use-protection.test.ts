import { describe, expect, it } from "@jest/globals";
import type { ConditionInput } from "../runtime/conditions.js";
import type { ReconcileContext } from "../runtime/controller.js";
import type { Kube, LifeboatObject } from "../runtime/kube.js";
import { DRILL_FINALIZER } from "./drill-status.js";
import { holdWhileInUse } from "./in-use-protection.js";

const DELETING = "2026-12-06T12:00:00Z";

function object(kind: string, name: string, fields: { spec?: object; status?: object; finalizers?: string[]; deleting?: boolean } = {}): LifeboatObject {
  return {
    apiVersion: "lifeboat.io/v1alpha1",
    kind,
    metadata: { namespace: "dr", name, finalizers: fields.finalizers, ...(fields.deleting ? { deletionTimestamp: DELETING as unknown as Date } : {}) },
    spec: fields.spec ?? {},
    status: fields.status,
  };
}

/** What holdWhileInUse reads and reports through: the objects of each kind, and the condition it sets. */
function context(objects: LifeboatObject[]): { ctx: ReconcileContext; conditions: ConditionInput[] } {
  const conditions: ConditionInput[] = [];
  const kube = { list: (kind: string) => Promise.resolve(objects.filter((o) => o.kind === kind)) } as unknown as Kube;
  const ctx = { kube, setCondition: (_obj: LifeboatObject, c: ConditionInput) => conditions.push(c) } as unknown as ReconcileContext;
  return { ctx, conditions };
}

const vcenter = object("VCenter", "vc-recovery", { deleting: true });

describe("holdWhileInUse with a drill's clean-up", () => {
  it("holds a VCenter while a drill being deleted still has to delete its test VM through it", async () => {
    const drill = object("RecoveryDrill", "d1", { status: { vCenter: "vc-recovery" }, finalizers: [DRILL_FINALIZER], deleting: true });
    const { ctx, conditions } = context([drill]);
    expect(await holdWhileInUse(vcenter, ctx, "Connected")).toEqual({ requeueAfterMs: 30_000 });
    expect(conditions[0]?.reason).toBe("InUse");
    expect(conditions[0]?.message).toContain("RecoveryDrill/d1 (cleaning up what it made)");
  });

  it("holds a SitePair for a cloud drill that made something through it", async () => {
    const pair = object("SitePair", "pair", { deleting: true });
    const drill = object("RecoveryDrill", "d1", { status: { sitePair: "pair", region: "cn-hangzhou" }, finalizers: [DRILL_FINALIZER] });
    const { ctx } = context([drill]);
    expect(await holdWhileInUse(pair, ctx, "Ready")).toEqual({ requeueAfterMs: 30_000 });
  });

  it("lets go once the drill's finalizer is gone, or when the drill made nothing there", async () => {
    const cleaned = object("RecoveryDrill", "d1", { status: { vCenter: "vc-recovery" }, finalizers: [], deleting: true });
    const elsewhere = object("RecoveryDrill", "d2", { status: { vCenter: "vc-other" }, finalizers: [DRILL_FINALIZER] });
    const pending = object("RecoveryDrill", "d3", { status: {}, finalizers: [DRILL_FINALIZER] });
    expect(await holdWhileInUse(vcenter, context([cleaned, elsewhere, pending]).ctx, "Connected")).toBeUndefined();
  });

  it("still lets a user named in spec go while that user is being deleted", async () => {
    const plan = object("BackupPlan", "nightly", { spec: { vCenterRef: { name: "vc-recovery" }, vaultRef: { name: "v" }, gatewayRef: { name: "g" } }, finalizers: ["x"], deleting: true });
    expect(await holdWhileInUse(vcenter, context([plan]).ctx, "Connected")).toBeUndefined();
  });
});
