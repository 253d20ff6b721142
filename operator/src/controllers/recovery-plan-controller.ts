import type * as k8s from "@kubernetes/client-node";
import { postScriptPending } from "./cloud-post-script.js";
import type { ProtectedServer, ProtectedServerSpec, RecoveryPlan } from "../api/generated/types.js";
import { GROUP, VERSION } from "../api/common.js";
import { NEXT_DESIRED_STATES, POINT_CHOICES } from "../api/protected-server.js";
import type { ConditionInput } from "../runtime/conditions.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import { describe } from "../runtime/errors.js";
import { controllerRef, isConflict, isNotFound, mergePatch, type Kube, type WithKind } from "../runtime/kube.js";
import { isoSeconds } from "../util/time.js";
import { labelValue, shortHash } from "../workloads/worker-job.js";
import { deleteJob } from "./dr-jobs.js";

type DesiredState = NonNullable<ProtectedServerSpec["desiredState"]>;
type PlanGroup = RecoveryPlan["spec"]["groups"][number];
type GroupStatus = NonNullable<NonNullable<RecoveryPlan["status"]>["groups"]>[number];
type Script = NonNullable<PlanGroup["script"]>;

/** Labels of a plan's script Jobs. */
export const PLAN_JOB_LABELS = { plan: "lifeboat.io/recovery-plan", group: "lifeboat.io/plan-group" } as const;

/** How often a plan looks again while something it cannot watch goes on (a script Job). */
const POLL_MS = 5_000;

/**
 * A failover and a failback bring groups up one after another: an
 * application's dependencies hold at either site. Reverse replication and a
 * return to Replicating move nothing a user reaches, so every group moves at
 * once, without pauses or scripts.
 */
export function isOrdered(state: DesiredState): boolean {
  return state === "FailedOver" || state === "FailedBack";
}

/** The stage in which a server has reached a desired state (ProtectedServer status.stage). */
const STAGE_REACHED: Record<DesiredState, string> = {
  Replicating: "RealTimeReplication",
  FailedOver: "FailedOver",
  ReverseReplicating: "ReverseRealTimeReplication",
  FailedBack: "FailedBack",
};

/**
 * The server is in `state`, as its controller last saw its current spec: a
 * status older than the spec (the plan has just patched it) says nothing yet.
 */
export function hasReached(ps: ProtectedServer, state: DesiredState): boolean {
  const current = (ps.status?.observedGeneration ?? 0) >= (ps.metadata.generation ?? 0);
  if ((state === "FailedOver" || state === "FailedBack") && postScriptPending(ps, state)) return false;
  return current && (ps.spec.desiredState ?? "Replicating") === state && ps.status?.stage === STAGE_REACHED[state];
}

/**
 * The change to a server's spec that moves it to `state` as the plan says,
 * or undefined when it has it. A failover from Replicating takes the plan's
 * recoveryPoint (unless the server names a RecoveryPoint of its own); a
 * commit is the plan's for every state but FailedOver, where it is made at
 * rest, once every server runs at the recovery site.
 */
export function serverPatch(plan: RecoveryPlan, state: DesiredState, ps: ProtectedServer): Partial<ProtectedServerSpec> | undefined {
  const patch: Partial<ProtectedServerSpec> = {};
  const current = ps.spec.desiredState ?? "Replicating";
  if (current !== state) patch.desiredState = state;
  const point = plan.spec.recoveryPoint ?? "latest";
  const own = ps.spec.recoveryPoint ?? "latest";
  // A RecoveryPoint the server names is the user's choice for that server; the plan sets only the keywords.
  const keyword = own === POINT_CHOICES.latest || own === POINT_CHOICES.latestAppConsistent;
  if (state === "FailedOver" && current === "Replicating" && keyword && own !== point) patch.recoveryPoint = point;
  const commit = plan.spec.commitFailover ?? false;
  if (state !== "FailedOver" && (ps.spec.commitFailover ?? false) !== commit) patch.commitFailover = commit;
  return Object.keys(patch).length > 0 ? patch : undefined;
}

/**
 * Why the server cannot be moved to `target` now, or undefined. The plan's
 * own rules only compare its old and new spec: a plan told FailedOver →
 * ReverseReplicating while a later group still replicates would otherwise
 * patch a server Replicating → ReverseReplicating, which the API server
 * refuses, and be stuck half way.
 */
export function transitionProblem(ps: ProtectedServer, target: DesiredState): string | undefined {
  const current = ps.spec.desiredState ?? "Replicating";
  if (current === target) return undefined;
  const name = ps.metadata.name ?? "";
  if (!NEXT_DESIRED_STATES[current].includes(target)) return `${name} is ${current}, and ${current}→${target} is not a step of the DR life cycle`;
  if (current === "FailedOver" && target === "Replicating" && ps.spec.commitFailover) return `${name}'s failover is committed: it goes back through ReverseReplicating and FailedBack`;
  return undefined;
}

/**
 * What makes the plan's spec unusable, beyond what the API server checks: a
 * server listed twice, or by an older plan too (two plans would order it
 * differently).
 */
export function specProblem(plan: RecoveryPlan, others: readonly RecoveryPlan[]): { reason: string; message: string } | undefined {
  const seen = new Map<string, string>();
  for (const g of plan.spec.groups) {
    for (const s of g.protectedServers) {
      const first = seen.get(s);
      if (first !== undefined) return { reason: "DuplicateServer", message: `ProtectedServer ${s} is in group ${first} and in group ${g.name}: a server belongs to one group` };
      seen.set(s, g.name);
    }
  }
  for (const other of others) {
    // The older plan keeps a server both list: a plan added later never stops one under way.
    if (other.metadata.name === plan.metadata.name || !isOlder(other, plan)) continue;
    const shared = other.spec.groups.flatMap((g) => g.protectedServers).filter((s) => seen.has(s));
    if (shared.length > 0) return { reason: "ServerInAnotherPlan", message: `RecoveryPlan ${other.metadata.name ?? ""} also lists ${shared.join(", ")}: a server belongs to one plan` };
  }
  return undefined;
}

/** `a` was created before `b` (by name when at the same second). */
function isOlder(a: RecoveryPlan, b: RecoveryPlan): boolean {
  const time = (p: RecoveryPlan) => new Date(p.metadata.creationTimestamp ?? 0).getTime();
  return time(a) < time(b) || (time(a) === time(b) && (a.metadata.name ?? "") < (b.metadata.name ?? ""));
}

/** The groups' status for a run toward a target: kept by name (a group edited into a running plan starts Pending), in spec order. */
export function groupStatuses(groups: readonly PlanGroup[], previous: readonly GroupStatus[] | undefined): GroupStatus[] {
  return groups.map((g) => previous?.find((p) => p.name === g.name) ?? { name: g.name, phase: "Pending" });
}

/** The Job of one attempt of a group's script in one run: a new run or attempt never finds an old Job's result. */
export function scriptJobName(plan: RecoveryPlan, group: string, state: DesiredState, attempt: number): string {
  const planName = (plan.metadata.name ?? "").slice(0, 24).replace(/[-.]+$/, "");
  return `${planName}-${group.slice(0, 16).replace(/-+$/, "")}-${shortHash(plan.metadata.uid ?? "", group, state, plan.status?.startTime ?? "", String(attempt))}`;
}

/** What a script is told of each server of its group: its name and the VM or instance that now runs it. */
export function scriptServers(servers: readonly ProtectedServer[], state: DesiredState): object[] {
  return servers.map((ps) => {
    const fo = ps.status?.failover;
    const vm = state === "FailedOver" ? fo?.vm : state === "FailedBack" ? ps.status?.failback?.vm : ps.status?.source;
    return {
      name: ps.metadata.name,
      vm: vm ?? null,
      ...(state === "FailedOver" && fo?.privateIpAddress ? { privateIpAddress: fo.privateIpAddress } : {}),
      ...(state === "FailedOver" && fo?.eipAddress ? { eipAddress: fo.eipAddress } : {}),
    };
  });
}

/**
 * A RecoveryPlan (seed 003: recovery plans): moves the ProtectedServers of
 * one application to the plan's desiredState, group by group for a failover
 * or failback, with a pause for a manual action before a group and a script
 * Job after one. It acts through the servers' own spec, so each server's
 * controller does the work and reports it as for a server moved by hand.
 *
 * Level-triggered on its own status: a run toward `status.target` goes on
 * from the group status records, so an operator restart resumes where it
 * was; at rest (`status.state` reached) it only reports, and moves no
 * server a user changed by hand (the plan says so instead).
 */
export class RecoveryPlanReconciler implements Reconciler<RecoveryPlan> {
  readonly kind = "RecoveryPlan";
  readonly readyCondition = "Ready";

  /** @param operatorNamespace where the operator runs: a plan there runs no script, since the operator's own ServiceAccount is there. */
  constructor(private readonly operatorNamespace: string) {}

  async reconcile(plan: WithKind<RecoveryPlan>, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = plan.metadata.namespace ?? "";
    const status = (plan.status ??= {});
    status.state ??= "Replicating";
    const problem = specProblem(plan, ctx.listCached<WithKind<RecoveryPlan>>("RecoveryPlan", ns));
    if (problem) {
      ctx.setCondition(plan, { type: "Ready", status: "False", ...problem });
      // Another plan changing is not watched: look again now and then.
      return problem.reason === "ServerInAnotherPlan" ? { requeueAfterMs: 60_000 } : undefined;
    }
    const byName = new Map(ctx.listCached<WithKind<ProtectedServer>>("ProtectedServer", ns).map((ps) => [ps.metadata.name ?? "", ps]));
    const missing = plan.spec.groups.flatMap((g) => g.protectedServers).filter((s) => !byName.has(s));
    if (missing.length > 0) {
      ctx.setCondition(plan, { type: "Ready", status: "False", reason: "ProtectedServerNotFound", message: `no ProtectedServer ${missing.join(", ")} in namespace ${ns}` });
      return undefined;
    }
    const serversOf = (g: PlanGroup) => g.protectedServers.map((s) => byName.get(s)).filter((ps): ps is WithKind<ProtectedServer> => ps !== undefined);

    const desired = plan.spec.desiredState ?? "Replicating";
    if (status.target !== undefined ? status.target !== desired : desired !== status.state) {
      // A failover is cancelled at once; any other new state waits for the move under way to end (its pauses and
      // scripts included), since a server still on its way cannot take the next step yet.
      const cancel = status.target === "FailedOver" && desired === "Replicating";
      if (status.target === undefined || cancel) {
        const blocked = plan.spec.groups.flatMap(serversOf).map((ps) => transitionProblem(ps, desired)).filter((p): p is string => p !== undefined);
        if (blocked.length === 0) {
          // Scripts of a run given up must not go on acting for it: every one still running is stopped, found by
          // label, so a Job whose name a lost status write never recorded is stopped too.
          await this.stopScripts(plan, ctx);
          return this.startRun(plan, desired, ctx);
        }
        if (status.target === undefined) {
          ctx.setCondition(plan, { type: "Ready", status: "False", reason: "TransitionNotAllowed", message: `cannot move every server to ${desired}: ${blocked.join("; ")}; move those servers to ${status.state} first, or set spec.desiredState to a state each can take` });
          return undefined;
        }
      }
    }
    if (status.target === undefined) return this.atRest(plan, serversOf, ctx);
    status.groups = groupStatuses(plan.spec.groups, status.groups);
    const target = status.target;
    if (isOrdered(target)) {
      for (const g of plan.spec.groups) {
        const gs = status.groups.find((s) => s.name === g.name);
        if (!gs || gs.phase === "Done") continue;
        status.currentGroup = g.name;
        return this.advanceGroup(plan, g, gs, serversOf(g), target, ctx);
      }
    } else {
      const waits: string[] = [];
      const refusals: string[] = [];
      for (const g of plan.spec.groups) {
        const gs = status.groups.find((s) => s.name === g.name);
        if (!gs || gs.phase === "Done") continue;
        // Every group moves at once: one refusing server does not hold the others back.
        const { refused, waiting } = await this.moveServers(plan, gs, serversOf(g), target, ctx);
        refusals.push(...refused);
        if (waiting) waits.push(waiting);
        else if (refused.length === 0) await this.markDone(plan, g, gs, ctx);
      }
      if (refusals.length > 0) {
        ctx.setCondition(plan, { type: "Ready", status: "False", reason: "ServerRefused", message: refusals.join("; ") });
        return { requeueAfterMs: 60_000 };
      }
      if (waits.length > 0) {
        ctx.setCondition(plan, { type: "Ready", status: "False", reason: "Progressing", message: `moving every group to ${target}; waiting for ${waits.join("; ")}` });
        return { requeueAfterMs: 30_000 };
      }
    }
    const done = new Date();
    status.state = target;
    delete status.target;
    delete status.currentGroup;
    status.completionTime = isoSeconds(done);
    status.durationSeconds = Math.max(0, Math.round((done.getTime() - new Date(status.startTime ?? done).getTime()) / 1000));
    await ctx.events.record(plan, "Normal", "Completed", `every server is ${target} (${status.durationSeconds} s)`);
    return this.atRest(plan, serversOf, ctx);
  }

  /** Starts a run toward `desired`; its records (its startTime names its script Jobs) are written before anything is done for it. */
  private async startRun(plan: WithKind<RecoveryPlan>, desired: DesiredState, ctx: ReconcileContext): Promise<ReconcileResult> {
    const status = (plan.status ??= {});
    status.target = desired;
    status.groups = groupStatuses(plan.spec.groups, undefined);
    status.startTime = isoSeconds(new Date());
    delete status.completionTime;
    delete status.durationSeconds;
    delete status.currentGroup;
    status.committed = false;
    await ctx.events.record(plan, "Normal", "Started", `moving ${plan.spec.groups.length} group(s) to ${desired}`);
    ctx.setCondition(plan, { type: "Ready", status: "False", reason: "Progressing", message: `moving every server to ${desired}` });
    return { requeueAfterMs: 0 };
  }

  /** Deletes the plan's script Jobs that have not finished. */
  private async stopScripts(plan: WithKind<RecoveryPlan>, ctx: ReconcileContext): Promise<void> {
    const ns = plan.metadata.namespace ?? "";
    const jobs = await ctx.kube.batch.listNamespacedJob({ namespace: ns, labelSelector: `${PLAN_JOB_LABELS.plan}=${labelValue(plan.metadata.name ?? "")}` });
    for (const job of jobs.items) {
      const finished = job.status?.conditions?.some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
      if (finished || !job.metadata?.name) continue;
      await deleteJob(ctx.kube, ns, job.metadata.name);
      await ctx.events.record(plan, "Normal", "ScriptStopped", `stopped Job ${job.metadata.name}: its run was replaced by a move to ${plan.spec.desiredState ?? "Replicating"}`);
    }
  }

  /** One group of a failover or failback: its pause, its servers, its script. */
  private async advanceGroup(plan: WithKind<RecoveryPlan>, g: PlanGroup, gs: GroupStatus, servers: WithKind<ProtectedServer>[], target: DesiredState, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const status = plan.status ?? {};
    const resume = plan.spec.resumeRequest;
    if (gs.phase === "Pending" && g.pauseBefore) {
      gs.phase = "WaitingForApproval";
      gs.message = `waiting for a new spec.resumeRequest to bring up group ${g.name}`;
      status.handledResumeRequest = resume;
      await ctx.events.record(plan, "Normal", "WaitingForApproval", `group ${g.name} waits for a manual action: give spec.resumeRequest a new value to bring it up`);
    }
    if (gs.phase === "WaitingForApproval") {
      if (resume === status.handledResumeRequest) {
        ctx.setCondition(plan, { type: "Ready", status: "False", reason: "WaitingForApproval", message: `${target}: group ${g.name} waits for a new spec.resumeRequest (pauseBefore)` });
        return undefined;
      }
      status.handledResumeRequest = resume;
      gs.phase = "Pending";
    }
    if (gs.phase === "Pending") {
      gs.phase = "InProgress";
      gs.startTime = isoSeconds(new Date());
      delete gs.message;
      await ctx.events.record(plan, "Normal", "GroupStarted", `group ${g.name}: ${g.protectedServers.join(", ")} to ${target}`);
    }
    if (gs.phase === "InProgress") {
      const { refused, waiting } = await this.moveServers(plan, gs, servers, target, ctx);
      if (refused.length > 0) {
        ctx.setCondition(plan, { type: "Ready", status: "False", reason: "ServerRefused", message: refused.join("; ") });
        return { requeueAfterMs: 60_000 };
      }
      if (waiting) {
        ctx.setCondition(plan, { type: "Ready", status: "False", reason: "Progressing", message: `${target}: group ${g.name} waits for ${waiting}` });
        return { requeueAfterMs: 30_000 };
      }
      if (g.script) {
        gs.phase = "RunningScript";
        gs.scriptAttempts = 1;
      }
    }
    // No script, or one taken out of the spec (after it failed, say): the group is done without it.
    if (!g.script) {
      await this.markDone(plan, g, gs, ctx);
      return { requeueAfterMs: 0 };
    }
    if (gs.phase === "ScriptFailed") {
      if (resume === status.handledResumeRequest) {
        ctx.setCondition(plan, scriptFailed(target, g, gs));
        return undefined;
      }
      status.handledResumeRequest = resume;
      gs.phase = "RunningScript";
      gs.scriptAttempts = (gs.scriptAttempts ?? 1) + 1;
    }
    return this.runScript(plan, g, g.script, gs, servers, target, ctx);
  }

  /**
   * Patches each server of the group that is not yet told to move. Returns
   * the refusals of the API server (every server of the group is tried) and
   * what the group still waits for ("" once every server has reached the
   * target).
   */
  private async moveServers(plan: WithKind<RecoveryPlan>, gs: GroupStatus, servers: WithKind<ProtectedServer>[], target: DesiredState, ctx: ReconcileContext): Promise<{ refused: string[]; waiting: string }> {
    gs.phase = "InProgress";
    gs.startTime ??= isoSeconds(new Date());
    const refused: string[] = [];
    for (const ps of servers) {
      const patch = serverPatch(plan, target, ps);
      if (!patch) continue;
      try {
        await this.patchServer(ps, patch, ctx);
        ctx.log.info({ recoveryPlan: plan.metadata.name, namespace: plan.metadata.namespace, protectedServer: ps.metadata.name, patch }, "Moved a ProtectedServer");
      } catch (err) {
        refused.push(`ProtectedServer ${ps.metadata.name ?? ""} refused ${JSON.stringify(patch)}: ${describe(err)}`);
      }
    }
    const notThere = servers.filter((ps) => !hasReached(ps, target));
    gs.message = refused.length > 0 ? refused.join("; ") : notThere.length > 0 ? `waiting for ${notThere.map((ps) => ps.metadata.name).join(", ")}` : undefined;
    if (!gs.message) delete gs.message;
    const waiting = notThere.map(whereIs).join(", ");
    return { refused, waiting };
  }

  private async markDone(plan: WithKind<RecoveryPlan>, g: PlanGroup, gs: GroupStatus, ctx: ReconcileContext): Promise<void> {
    gs.phase = "Done";
    gs.doneTime = isoSeconds(new Date());
    delete gs.message;
    await ctx.events.record(plan, "Normal", "GroupDone", `group ${g.name} is ${plan.status?.target ?? ""}`);
  }

  /** The group's script as a Job, one per attempt: created, waited for, its failure reported. */
  private async runScript(plan: WithKind<RecoveryPlan>, g: PlanGroup, script: Script, gs: GroupStatus, servers: WithKind<ProtectedServer>[], target: DesiredState, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = plan.metadata.namespace ?? "";
    if (ns === this.operatorNamespace) {
      gs.phase = "ScriptFailed";
      gs.message = `scripts do not run in ${ns}, the operator's own namespace (its ServiceAccount is there): put the plan in the namespace of its servers' application`;
      (plan.status ??= {}).handledResumeRequest = plan.spec.resumeRequest;
      ctx.setCondition(plan, { type: "Ready", status: "False", reason: "ScriptNotAllowed", message: `${target}: group ${g.name}: ${gs.message}` });
      return undefined;
    }
    const name = scriptJobName(plan, g.name, target, gs.scriptAttempts ?? 1);
    gs.scriptJob = name;
    const outcome = await scriptOutcome(ctx.kube, ns, name);
    switch (outcome.state) {
      case "Missing":
        await this.createScriptJob(plan, g, script, name, servers, target, ctx);
        gs.message = `running the script (Job ${name})`;
        ctx.setCondition(plan, { type: "Ready", status: "False", reason: "RunningScript", message: `${target}: running the script of group ${g.name} (Job ${name})` });
        return { requeueAfterMs: POLL_MS };
      case "Running":
        ctx.setCondition(plan, { type: "Ready", status: "False", reason: "RunningScript", message: `${target}: running the script of group ${g.name} (Job ${name})${outcome.note ? `: ${outcome.note}` : ""}` });
        return { requeueAfterMs: POLL_MS };
      case "Succeeded":
        await ctx.events.record(plan, "Normal", "ScriptSucceeded", `the script of group ${g.name} succeeded (Job ${name})`);
        await this.markDone(plan, g, gs, ctx);
        return { requeueAfterMs: 0 };
      case "Failed": {
        // A Job that cannot start would hold its pod until the deadline: it goes now (it has no log to keep); a rerun is a new Job.
        if (outcome.neverStarted) await deleteJob(ctx.kube, ns, name);
        gs.phase = "ScriptFailed";
        gs.message = `Job ${name}: ${outcome.message}`;
        (plan.status ??= {}).handledResumeRequest = plan.spec.resumeRequest;
        await ctx.events.record(plan, "Warning", "ScriptFailed", `the script of group ${g.name} failed: ${gs.message}; the plan stops until a new spec.resumeRequest`);
        ctx.setCondition(plan, scriptFailed(target, g, gs));
        return undefined;
      }
    }
  }

  private async createScriptJob(plan: WithKind<RecoveryPlan>, g: PlanGroup, script: Script, name: string, servers: WithKind<ProtectedServer>[], target: DesiredState, ctx: ReconcileContext): Promise<void> {
    const ns = plan.metadata.namespace ?? "";
    const labels = { [PLAN_JOB_LABELS.plan]: labelValue(plan.metadata.name ?? ""), [PLAN_JOB_LABELS.group]: labelValue(g.name) };
    const env: k8s.V1EnvVar[] = [
      { name: "LIFEBOAT_RECOVERY_PLAN", value: plan.metadata.name ?? "" },
      { name: "LIFEBOAT_GROUP", value: g.name },
      { name: "LIFEBOAT_STATE", value: target },
      { name: "LIFEBOAT_SERVERS", value: JSON.stringify(scriptServers(servers, target)) },
    ];
    const body: k8s.V1Job = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name, namespace: ns, labels, ownerReferences: [controllerRef(plan)] },
      spec: {
        backoffLimit: 0,
        activeDeadlineSeconds: script.timeoutSeconds ?? 600,
        template: {
          metadata: { labels },
          spec: {
            restartPolicy: "Never",
            // An API token only for a script given a ServiceAccount to use it with.
            ...(script.serviceAccountName ? { serviceAccountName: script.serviceAccountName } : { automountServiceAccountToken: false }),
            // The restricted Pod Security profile, so a script runs in a namespace that enforces it.
            securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
            containers: [{
              name: "script",
              image: script.image,
              ...(script.command ? { command: script.command } : {}),
              ...(script.args ? { args: script.args } : {}),
              env,
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
            }],
          },
        },
      },
    };
    try {
      await ctx.kube.batch.createNamespacedJob({ namespace: ns, body });
      await ctx.events.record(plan, "Normal", "ScriptStarted", `running the script of group ${g.name} (Job ${name})`);
    } catch (err) {
      if (!isConflict(err)) throw new Error(`Could not create the script Job ${ns}/${name} of RecoveryPlan ${plan.metadata.name ?? ""}`, { cause: err });
    }
  }

  private async patchServer(ps: WithKind<ProtectedServer>, spec: Partial<ProtectedServerSpec>, ctx: ReconcileContext): Promise<void> {
    await ctx.kube.custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: ps.metadata.namespace ?? "", plural: "protectedservers", name: ps.metadata.name ?? "", body: { spec } },
      mergePatch,
    );
  }

  /**
   * The plan's servers are where it last took them: Ready says whether they
   * still are. A failover's commit is made here, once every server runs at
   * the recovery site; a server a user moved by hand is reported, not moved
   * back.
   */
  private async atRest(plan: WithKind<RecoveryPlan>, serversOf: (g: PlanGroup) => WithKind<ProtectedServer>[], ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const status = plan.status ?? {};
    const state = status.state ?? "Replicating";
    const servers = plan.spec.groups.flatMap(serversOf);
    const diverged = servers.filter((ps) => (ps.spec.desiredState ?? "Replicating") !== state);
    if (diverged.length > 0) {
      ctx.setCondition(plan, { type: "Ready", status: "False", reason: "ServersDiverged", message: `the plan is ${state}, but ${diverged.map((ps) => `${ps.metadata.name ?? ""} is ${ps.spec.desiredState ?? "Replicating"}`).join(", ")} (changed on the server itself)` });
      return undefined;
    }
    if (state === "FailedOver" && plan.spec.commitFailover) {
      for (const ps of servers.filter((p) => !p.spec.commitFailover)) {
        try {
          await this.patchServer(ps, { commitFailover: true }, ctx);
        } catch (err) {
          ctx.setCondition(plan, { type: "Ready", status: "False", reason: "ServerRefused", message: `ProtectedServer ${ps.metadata.name ?? ""} refused commitFailover: ${describe(err)}` });
          return { requeueAfterMs: 60_000 };
        }
      }
      const pending = servers.filter((ps) => !ps.status?.failover?.committed);
      if (pending.length > 0) {
        ctx.setCondition(plan, { type: "Ready", status: "False", reason: "Committing", message: `committing the failover; waiting for ${pending.map((ps) => ps.metadata.name).join(", ")}` });
        return { requeueAfterMs: 30_000 };
      }
      if (!status.committed) await ctx.events.record(plan, "Normal", "Committed", "every server's failover is committed");
      status.committed = true;
    }
    const notThere = servers.filter((ps) => !hasReached(ps, state));
    if (notThere.length > 0) {
      ctx.setCondition(plan, { type: "Ready", status: "False", reason: "ServersNotReady", message: `${state}: ${notThere.map(whereIs).join(", ")}` });
      return undefined;
    }
    const reason = state === "FailedOver" && status.committed ? "FailoverCommitted" : state;
    ctx.setCondition(plan, { type: "Ready", status: "True", reason, message: `every server of the plan is ${state}${reason === "FailoverCommitted" ? ", committed" : ""}` });
    return undefined;
  }
}

type ScriptOutcome =
  | { readonly state: "Missing" | "Succeeded" }
  | { readonly state: "Running"; readonly note?: string | undefined }
  | { readonly state: "Failed"; readonly message: string; readonly neverStarted?: boolean };

/** Waiting reasons of a script's container that time does not cure: the Job is failed at once instead of at its deadline. */
const HOPELESS_WAITS = new Set(["CreateContainerConfigError", "InvalidImageName", "ErrImageNeverPull"]);

/** How long a script Job may have no pod before the plan says so (an admission policy or a quota refusing it). */
const NO_POD_NOTE_AFTER_MS = 60_000;

/**
 * A script Job's outcome. A failure says how the script ended (its exit
 * code, or the Job's deadline), since a user's script has no worker exit
 * codes; one that cannot start says why (a root image under the restricted
 * settings, a bad image name) at once, and one whose image is still being
 * pulled, or that has no pod yet, says so while it waits.
 */
async function scriptOutcome(kube: Kube, namespace: string, name: string): Promise<ScriptOutcome> {
  let job: k8s.V1Job;
  try {
    job = await kube.batch.readNamespacedJob({ name, namespace });
  } catch (err) {
    if (isNotFound(err)) return { state: "Missing" };
    throw new Error(`Could not read the script Job ${namespace}/${name}`, { cause: err });
  }
  const cond = (type: string) => job.status?.conditions?.find((c) => c.type === type && c.status === "True");
  if (cond("Complete")) return { state: "Succeeded" };
  const pods = await kube.core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` });
  const containers = pods.items.flatMap((p) => p.status?.containerStatuses ?? []);
  const failed = cond("Failed");
  if (!failed) {
    const waiting = containers.map((c) => c.state?.waiting).find((w) => w?.reason !== undefined && w.reason !== "ContainerCreating");
    const why = waiting ? `${waiting.reason ?? ""}: ${waiting.message ?? ""}` : undefined;
    if (waiting?.reason && HOPELESS_WAITS.has(waiting.reason)) return { state: "Failed", message: `the script cannot start (${why ?? ""})`, neverStarted: true };
    const created = new Date(job.metadata?.creationTimestamp ?? Date.now()).getTime();
    if (pods.items.length === 0 && Date.now() - created > NO_POD_NOTE_AFTER_MS) return { state: "Running", note: `no pod yet: see kubectl describe job ${name} (an admission policy or a quota may refuse it)` };
    return { state: "Running", note: why };
  }
  const ended = containers.map((c) => c.state?.terminated).find((t) => t !== undefined);
  const how = failed.reason === "DeadlineExceeded" || !ended ? `${failed.reason ?? "Failed"}: ${failed.message ?? "the Job failed"}` : `the script exited with code ${ended.exitCode}${ended.reason && ended.reason !== "Error" ? ` (${ended.reason})` : ""}`;
  return { state: "Failed", message: `${how}; see the Job's pod log` };
}

/** Where a server is on its way, for a message naming what the plan waits for. */
function whereIs(ps: ProtectedServer): string {
  const ready = ps.status?.conditions?.find((c) => c.type === "Ready")?.message ?? "not reconciled yet";
  const script = ps.status?.conditions?.find((c) => c.type === "PostScriptSucceeded" && c.status !== "True");
  return `${ps.metadata.name ?? ""} (${ps.status?.stage ?? "no status yet"}: ${ready}${script ? `; ${script.message}` : ""})`;
}

/** The plan stopped at a group whose script failed, until a new resumeRequest. */
function scriptFailed(target: DesiredState, g: PlanGroup, gs: GroupStatus): ConditionInput {
  return { type: "Ready", status: "False", reason: "ScriptFailed", message: `${target}: the script of group ${g.name} failed (${gs.message ?? ""}); fix it and give spec.resumeRequest a new value to run it again` };
}
