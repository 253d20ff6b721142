import * as k8s from "@kubernetes/client-node";
import { beforeEach, describe, expect, it } from "@jest/globals";
import type { ProtectedServer, RecoveryPlan } from "../api/generated/types.js";
import type { ConditionInput } from "../runtime/conditions.js";
import type { ReconcileContext } from "../runtime/controller.js";
import type { WithKind } from "../runtime/kube.js";
import { RecoveryPlanReconciler } from "./recovery-plan-controller.js";

/**
 * The plan's run against a cluster kept in memory: servers whose spec the
 * plan patches (a change bumps the generation, as on the API server), their
 * controller played by `settle`, and script Jobs the test completes or fails.
 */
class Cluster {
  readonly servers = new Map<string, WithKind<ProtectedServer>>();
  readonly jobs = new Map<string, k8s.V1Job>();
  readonly deletedJobs: string[] = [];
  readonly patches: { server: string; spec: object }[] = [];
  readonly events: string[] = [];

  constructor(readonly plan: WithKind<RecoveryPlan>) {
    for (const g of plan.spec.groups) {
      for (const name of g.protectedServers) {
        this.servers.set(name, { apiVersion: "lifeboat.io/v1alpha1", kind: "ProtectedServer", metadata: { name, namespace: "dr", generation: 1 }, spec: { sitePairRef: { name: "pair" }, source: { vmName: name } }, status: { observedGeneration: 1, stage: "RealTimeReplication" } });
      }
    }
  }

  server(name: string): WithKind<ProtectedServer> {
    const ps = this.servers.get(name);
    if (!ps) throw new Error(`no server ${name}`);
    return ps;
  }

  /** The server's controller has acted on its spec: it is in `stage`. */
  settle(name: string, stage: string): void {
    const ps = this.server(name);
    ps.status = { ...ps.status, observedGeneration: ps.metadata.generation ?? 1, stage: stage as never };
  }

  finishJob(name: string, type: "Complete" | "Failed"): void {
    const job = this.jobs.get(name);
    if (!job) throw new Error(`no Job ${name}`);
    job.status = { conditions: [{ type, status: "True" }] };
  }

  readyReason(): string | undefined {
    return this.plan.status?.conditions?.find((c) => c.type === "Ready")?.reason;
  }

  ctx(): ReconcileContext {
    const notFound = () => new k8s.ApiException(404, "not found", {}, {});
    return {
      log: { info: () => undefined },
      events: { record: (_o: unknown, _t: string, reason: string) => { this.events.push(reason); return Promise.resolve(); } },
      setCondition: (obj: { status?: { conditions?: ConditionInput[] } }, c: ConditionInput) => {
        const status = (obj.status ??= {});
        status.conditions = [...(status.conditions ?? []).filter((x) => x.type !== c.type), c];
      },
      listCached: (kind: string) => (kind === "RecoveryPlan" ? [this.plan] : [...this.servers.values()].map((ps) => structuredClone(ps))),
      kube: {
        custom: {
          patchNamespacedCustomObject: ({ name, body }: { name: string; body: { spec: object } }) => {
            const ps = this.servers.get(name);
            if (!ps) return Promise.reject(notFound());
            this.patches.push({ server: name, spec: body.spec });
            ps.spec = { ...ps.spec, ...body.spec };
            ps.metadata.generation = (ps.metadata.generation ?? 1) + 1;
            return Promise.resolve(ps);
          },
        },
        batch: {
          createNamespacedJob: ({ body }: { body: k8s.V1Job }) => { this.jobs.set(body.metadata?.name ?? "", structuredClone(body)); return Promise.resolve(body); },
          readNamespacedJob: ({ name }: { name: string }) => { const j = this.jobs.get(name); return j ? Promise.resolve(structuredClone(j)) : Promise.reject(notFound()); },
          listNamespacedJob: () => Promise.resolve({ items: [...this.jobs.values()] }),
          deleteNamespacedJob: ({ name }: { name: string }) => { this.deletedJobs.push(name); this.jobs.delete(name); return Promise.resolve({}); },
        },
        core: { listNamespacedPod: () => Promise.resolve({ items: [] }) },
      },
    } as unknown as ReconcileContext;
  }
}

function shop(): WithKind<RecoveryPlan> {
  return {
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "RecoveryPlan",
    metadata: { name: "shop", namespace: "dr", uid: "u-1", generation: 1 },
    spec: {
      groups: [
        { name: "database", protectedServers: ["db"], script: { image: "check:1" } },
        { name: "web", protectedServers: ["web"], pauseBefore: true },
      ],
      desiredState: "Replicating",
    },
  };
}

let c: Cluster;
let plans: RecoveryPlanReconciler;
const reconcile = () => plans.reconcile(c.plan, c.ctx());

/** Runs a failover up to the web group's pause: the database failed over, its script done. */
async function failOverTheDatabase(): Promise<void> {
  c.plan.spec.desiredState = "FailedOver";
  expect(await reconcile()).toEqual({ requeueAfterMs: 0 }); // the run's start is written before it acts
  expect(c.patches).toEqual([]);
  await reconcile();
  expect(c.patches).toEqual([{ server: "db", spec: { desiredState: "FailedOver" } }]);
  c.settle("db", "FailedOver");
  await reconcile();
  const job = c.plan.status?.groups?.[0]?.scriptJob ?? "";
  expect(c.jobs.has(job)).toBe(true);
  c.finishJob(job, "Complete");
  await reconcile();
  await reconcile();
  expect(c.readyReason()).toBe("WaitingForApproval");
}

beforeEach(() => {
  c = new Cluster(shop());
  plans = new RecoveryPlanReconciler("lifeboat-system");
});

describe("RecoveryPlanReconciler", () => {
  it("fails over group by group: the web server is not touched before the pause is passed", async () => {
    await failOverTheDatabase();
    expect(c.servers.get("web")?.spec.desiredState).toBeUndefined();
    c.plan.spec.resumeRequest = "go";
    await reconcile();
    expect(c.patches.at(-1)).toEqual({ server: "web", spec: { desiredState: "FailedOver" } });
    c.settle("web", "FailedOver");
    expect(await reconcile()).toEqual({ requeueAfterMs: 0 }); // the group is done
    await reconcile();
    expect(c.plan.status?.state).toBe("FailedOver");
    expect(c.plan.status?.target).toBeUndefined();
    expect(c.readyReason()).toBe("FailedOver");
  });

  it("a target some server cannot take yet waits for the move under way, then starts", async () => {
    await failOverTheDatabase();
    c.plan.spec = { ...c.plan.spec, desiredState: "ReverseReplicating", commitFailover: true };
    await reconcile();
    // The failover goes on (still at its pause); nobody is told ReverseReplicating yet.
    expect(c.plan.status?.target).toBe("FailedOver");
    expect(c.readyReason()).toBe("WaitingForApproval");
    expect(c.patches.map((p) => p.server)).toEqual(["db"]);
    c.plan.spec.resumeRequest = "go";
    await reconcile();
    c.settle("web", "FailedOver");
    await reconcile();
    await reconcile();
    expect(c.plan.status?.state).toBe("FailedOver");
    expect(await reconcile()).toEqual({ requeueAfterMs: 0 });
    expect(c.plan.status?.target).toBe("ReverseReplicating");
    await reconcile();
    // The failover was committed at its end (every server there), then reverse replication began.
    expect(c.patches.slice(-4)).toEqual([
      { server: "db", spec: { commitFailover: true } },
      { server: "web", spec: { commitFailover: true } },
      { server: "db", spec: { desiredState: "ReverseReplicating" } },
      { server: "web", spec: { desiredState: "ReverseReplicating" } },
    ]);
  });

  it("at rest, refuses a state a server moved by hand cannot take, and moves nothing", async () => {
    c.server("web").spec.desiredState = "FailedOver";
    c.plan.spec = { ...c.plan.spec, desiredState: "FailedOver" };
    c.plan.status = { state: "Replicating" };
    c.server("db").spec = { ...c.server("db").spec, desiredState: "FailedBack", commitFailover: true };
    await reconcile();
    expect(c.readyReason()).toBe("TransitionNotAllowed");
    expect(c.patches).toEqual([]);
  });

  it("cancelling stops the script still running for the failover", async () => {
    c.plan.spec.desiredState = "FailedOver";
    await reconcile();
    await reconcile();
    c.settle("db", "FailedOver");
    await reconcile();
    const job = c.plan.status?.groups?.[0]?.scriptJob ?? "";
    expect(c.readyReason()).toBe("RunningScript");
    c.plan.spec.desiredState = "Replicating";
    await reconcile();
    expect(c.deletedJobs).toEqual([job]);
    expect(c.plan.status?.target).toBe("Replicating");
    expect(c.events).toContain("ScriptStopped");
    await reconcile();
    expect(c.patches.at(-1)).toEqual({ server: "db", spec: { desiredState: "Replicating" } });
  });

  it("a failed script stops the plan; taking the script out and resuming finishes the group", async () => {
    c.plan.spec.desiredState = "FailedOver";
    await reconcile();
    await reconcile();
    c.settle("db", "FailedOver");
    await reconcile();
    c.finishJob(c.plan.status?.groups?.[0]?.scriptJob ?? "", "Failed");
    await reconcile();
    expect(c.readyReason()).toBe("ScriptFailed");
    await reconcile();
    expect(c.readyReason()).toBe("ScriptFailed");
    c.plan.spec.groups = [{ name: "database", protectedServers: ["db"] }, { name: "web", protectedServers: ["web"], pauseBefore: true }];
    c.plan.spec.resumeRequest = "without-script";
    await reconcile();
    expect(c.plan.status?.groups?.[0]?.phase).toBe("Done");
    await reconcile();
    expect(c.readyReason()).toBe("WaitingForApproval");
  });

  it("runs no script in the operator's own namespace", async () => {
    plans = new RecoveryPlanReconciler("dr");
    c.plan.spec.desiredState = "FailedOver";
    await reconcile();
    await reconcile();
    c.settle("db", "FailedOver");
    await reconcile();
    expect(c.readyReason()).toBe("ScriptNotAllowed");
    expect(c.jobs.size).toBe(0);
  });
});
