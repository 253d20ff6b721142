import type { RecoveryDrill, RecoveryPlan } from "../api/generated/types.js";
import type { ReconcileContext, ReconcileResult } from "../runtime/controller.js";
import { controllerRef, isConflict, type WithKind } from "../runtime/kube.js";
import { isoSeconds } from "../util/time.js";
import { labelValue, shortHash } from "../workloads/worker-job.js";
import { drillCleaning, drillFailed } from "./drill-status.js";
import { problemCondition, resolveRef } from "./references.js";

type ServerDrill = NonNullable<NonNullable<RecoveryDrill["status"]>["servers"]>[number];

/** Label on the drills a RecoveryPlan drill makes: the name of the drill that made them. */
export const PLAN_DRILL_LABEL = "lifeboat.io/plan-drill";

/** How often a plan drill looks at its servers' drills while they come up or are cleaned (they are not watched for it). */
const POLL_MS = 5_000;

/** A server's drill made by a RecoveryPlan drill (its controller owner). */
export function isPlanDrillPart(drill: RecoveryDrill): boolean {
  return drill.metadata.ownerReferences?.some((o) => o.controller && o.kind === "RecoveryDrill") ?? false;
}

/** The drill of one server of a plan drill: recognisable, and within a name's 253 characters. */
export function serverDrillName(drill: RecoveryDrill, server: string): string {
  const name = `${drill.metadata.name ?? ""}-${server}`;
  return name.length <= 253 ? name : `${name.slice(0, 240).replace(/[-.]+$/, "")}-${shortHash(drill.metadata.uid ?? "", server)}`;
}

/** Every server of the plan, in its order, each with the drill it gets: fixed when the drill starts, as its spec is. */
export function serverDrills(drill: RecoveryDrill, plan: RecoveryPlan): ServerDrill[] {
  return plan.spec.groups.flatMap((g) => g.protectedServers.map((s) => ({ group: g.name, protectedServer: s, drill: serverDrillName(drill, s), phase: "Pending" as const })));
}

/** The spec of one server's drill: the plan drill's point and the settings it passes on; every other setting is the server's own. */
export function serverDrillSpec(drill: RecoveryDrill, server: string): RecoveryDrill["spec"] {
  const { recoveryPoint, powerOn, diskCategory, eip, testNetwork } = drill.spec;
  return {
    protectedServerRef: { name: server },
    ...(recoveryPoint !== undefined ? { recoveryPoint } : {}),
    ...(powerOn !== undefined ? { powerOn } : {}),
    ...(diskCategory !== undefined ? { diskCategory } : {}),
    ...(eip !== undefined ? { eip } : {}),
    ...(testNetwork !== undefined ? { testNetwork } : {}),
  };
}

/**
 * A RecoveryDrill of a whole RecoveryPlan (seed 003: a test failover of a
 * recovery plan): one RecoveryDrill per server, owned by this one, made a
 * group at a time in the plan's order, the next group once every drill of
 * this one is Ready, so the test copies come up as the application would in
 * a failover. The servers' drills do the work, each as a drill of its own
 * (points, test networks, clean-up); this one only orders them and sums them
 * up. The plan's pauses and scripts are not run: a script may act on
 * production (switch DNS), and a drill must not.
 */
export class PlanDrill {
  async reconcile(drill: WithKind<RecoveryDrill>, ctx: ReconcileContext, ensureOwner: (owner: WithKind<RecoveryPlan>) => Promise<void>): Promise<ReconcileResult | undefined> {
    const ns = drill.metadata.namespace ?? "";
    const status = (drill.status ??= {});
    if (status.phase === "Ready" || status.phase === "Failed") return undefined;
    status.phase ??= "Pending";
    status.startTime ??= isoSeconds(new Date());
    if (!status.servers) {
      const plan = await resolveRef<WithKind<RecoveryPlan>>(ctx.cache, "RecoveryPlan", ns, "spec.recoveryPlanRef", drill.spec.recoveryPlanRef?.name ?? "");
      if (!plan.ok) {
        ctx.setCondition(drill, problemCondition("Ready", plan.problem));
        return { requeueAfterMs: 30_000 };
      }
      await ensureOwner(plan.value);
      status.servers = serverDrills(drill, plan.value);
      ctx.setCondition(drill, { type: "Ready", status: "False", reason: "Creating", message: `drilling ${status.servers.length} server(s) of RecoveryPlan ${plan.value.metadata.name ?? ""}, group by group` });
      return { requeueAfterMs: 0 };
    }
    status.phase = "Creating";
    const groups = [...new Set(status.servers.map((s) => s.group ?? ""))];
    for (const group of groups) {
      status.currentGroup = group;
      /** Each of the group's drills not Ready yet, with what it says it waits for. */
      const waits: string[] = [];
      for (const s of status.servers.filter((x) => x.group === group)) {
        // From the cache: this runs every few seconds for every server so far. A drill just made and not in it yet
        // is made again, which the API server refuses as existing (ignored).
        const child = await ctx.cache.get<WithKind<RecoveryDrill>>("RecoveryDrill", ns, s.drill ?? "");
        if (!child) {
          await this.createServerDrill(drill, s, ctx);
          s.phase = "Pending";
          waits.push(`${s.protectedServer ?? ""} (Pending)`);
          continue;
        }
        if (!child.metadata.ownerReferences?.some((o) => o.controller && o.uid === drill.metadata.uid)) {
          return drillFailed(drill, ctx, "NameConflict", `a RecoveryDrill ${s.drill ?? ""} that this drill did not make already exists: delete or rename it, then make this drill again`);
        }
        s.phase = child.status?.phase ?? "Pending";
        const vm = child.status?.instanceId ?? child.status?.vmName;
        if (vm) s.vmName = vm;
        const ready = child.status?.conditions?.find((c) => c.type === "Ready");
        // The server went away under the drill: its drill would wait for it forever, and this one with it.
        if (ready?.reason === "ProtectedServerNotFound") return drillFailed(drill, ctx, "ServerDrillFailed", `the drill ${s.drill ?? ""} cannot start: ${ready.message}`);
        if (s.phase === "Failed") return drillFailed(drill, ctx, "ServerDrillFailed", `the drill ${s.drill ?? ""} of ${s.protectedServer ?? ""} (group ${group}) failed: ${ready?.message ?? "it failed"}`);
        if (s.phase !== "Ready") waits.push(`${s.protectedServer ?? ""} (${s.phase}${ready && ready.status !== "True" ? `: ${ready.reason}: ${ready.message}` : ""})`);
      }
      if (waits.length > 0) {
        ctx.setCondition(drill, { type: "Ready", status: "False", reason: "Creating", message: `group ${group}: waiting for the drills of ${waits.join(", ")}` });
        return { requeueAfterMs: POLL_MS };
      }
    }
    delete status.currentGroup;
    status.phase = "Ready";
    status.readyTime = isoSeconds(new Date());
    const vms = status.servers.map((s) => `${s.protectedServer ?? ""}: ${s.vmName ?? ""}`).join(", ");
    ctx.setCondition(drill, { type: "Ready", status: "True", reason: "Running", message: `test copies of ${status.servers.length} server(s) are up, in the plan's order, on test networks only (${vms}); delete this RecoveryDrill to clean them all up` });
    await ctx.events.record(drill, "Normal", "DrillReady", `test copies of ${status.servers.length} server(s) are up`);
    return undefined;
  }

  private async createServerDrill(drill: WithKind<RecoveryDrill>, s: ServerDrill, ctx: ReconcileContext): Promise<void> {
    const ns = drill.metadata.namespace ?? "";
    const body: WithKind<RecoveryDrill> = {
      apiVersion: drill.apiVersion,
      kind: "RecoveryDrill",
      metadata: { name: s.drill ?? "", namespace: ns, labels: { [PLAN_DRILL_LABEL]: labelValue(drill.metadata.name ?? "") }, ownerReferences: [controllerRef(drill)] },
      spec: serverDrillSpec(drill, s.protectedServer ?? ""),
    };
    try {
      await ctx.kube.create("RecoveryDrill", body);
      await ctx.events.record(drill, "Normal", "ServerDrillCreated", `drilling ${s.protectedServer ?? ""} (group ${s.group ?? ""}) as RecoveryDrill ${s.drill ?? ""}`);
    } catch (err) {
      if (!isConflict(err)) throw new Error(`Could not create RecoveryDrill ${ns}/${s.drill ?? ""} for ${s.protectedServer ?? ""}`, { cause: err });
    }
  }

  /**
   * Cleaning: every server's drill is deleted (each cleans what it made,
   * with its own finalizer), and this one goes only once none is left, so
   * "deleted" means "cleaned" for the plan drill as for one server's.
   */
  async finalize(drill: WithKind<RecoveryDrill>, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = drill.metadata.namespace ?? "";
    const status = (drill.status ??= {});
    status.phase = "Cleaning";
    const left: string[] = [];
    for (const s of status.servers ?? []) {
      const child = await ctx.kube.get<WithKind<RecoveryDrill>>("RecoveryDrill", ns, s.drill ?? "");
      if (!child) continue;
      left.push(s.drill ?? "");
      if (!child.metadata.deletionTimestamp) await ctx.kube.delete("RecoveryDrill", ns, s.drill ?? "");
    }
    if (left.length > 0) return drillCleaning(drill, ctx, `waiting for the drills of its servers to clean up: ${left.join(", ")}`, POLL_MS);
    await ctx.events.record(drill, "Normal", "DrillCleaned", `the drills of ${status.servers?.length ?? 0} server(s) are cleaned up`);
    return undefined;
  }
}
