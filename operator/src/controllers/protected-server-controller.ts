import type * as k8s from "@kubernetes/client-node";
import type { ProtectedServer, RecoveryDrill, SitePair } from "../api/generated/types.js";
import { POINT_CHOICES } from "../api/protected-server.js";
import { removeCondition, reportIgnoredFields, type ConditionInput } from "../runtime/conditions.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import { describe } from "../runtime/errors.js";
import type { WithKind } from "../runtime/kube.js";
import { isoSeconds } from "../util/time.js";
import { resolveSites, siteClient, siteProblem, usable, type DrContext } from "./dr-context.js";
import { lineagePoints } from "./dr-points.js";
import { deleteJob, DR_JOB_LABELS } from "./dr-jobs.js";
import { destroyCreatedVm, findKnownVm, identityOf } from "./dr-vsphere.js";
import { labelValue } from "../workloads/worker-job.js";
import { Failback } from "./failback.js";
import { CloudProtection } from "./cloud-protection.js";
import { cloudSites, isCloudPair } from "./cloud-sites.js";
import { namespaceNetworkRoles, ServerNetworkChecks } from "./server-networks.js";
import { isTimeZone } from "./weekly-window.js";
import { Failover, toEcs } from "./failover.js";
import { discardEcsAttempt, ecsPostScript } from "./cloud-vault-recovery.js";
import { ignoredSizing } from "./cloud-recovery.js";
import { deleteReverseExports } from "./cloud-reverse.js";
import type { GatewayCapacity } from "./gateway-capacity.js";
import { problemCondition, resolveRef } from "./references.js";
import { followRetentionPass, RETENTION_POLL_MS } from "./maintenance-jobs.js";
import { forgetCycleCounters, ReplicationCycles, startCycleCounters, type ReplicationLine } from "./replication-cycles.js";
import { ReverseReplication, switchDirection } from "./reverse-replication.js";
import type { VCenterConnections } from "./vcenter-connections.js";
import { VmArrivals } from "./vm-arrivals.js";
import { applyReplicationSettings, replicationField } from "./replication-settings.js";
import { groupChanged, peerKeys, reportGroup } from "./consistency-groups.js";
import { ignoredPostScripts, reportPostScript } from "./cloud-post-script.js";
import { leadSeconds } from "./replication-schedule.js";

type Status = NonNullable<ProtectedServer["status"]>;

/** How often a server waits to look for its VM again: quickly while something is wrong with the site, slowly when vCenter's change feed will say (VmArrivals). */
const SOURCE_RETRY_MS = 15_000;
const VM_ARRIVAL_REFRESH_MS = 5 * 60_000;

/**
 * The age RPOMet allows the newest point, in seconds: the RPO threshold, else
 * the crash-consistent interval. A consistency group's member that takes its
 * group's ticks (`groupTicks`) snapshots an interval apart and cannot start
 * early to keep its newest point younger than one interval: its target is
 * at least the interval plus the time a cycle takes (as the schedule's lead
 * counts it), or RPOMet would turn False at every tick.
 */
export function rpoTargetSeconds(ps: ProtectedServer, groupTicks = false): number {
  const replication = ps.spec.replication;
  const interval = (replication?.crashConsistentIntervalMinutes ?? 5) * 60;
  const target = replication?.rpoThresholdMinutes !== undefined ? replication.rpoThresholdMinutes * 60 : interval;
  return groupTicks ? Math.max(target, interval + leadSeconds(ps.status?.learnedCycleSeconds ?? 0)) : target;
}

function rpoMet(ps: ProtectedServer): { readonly status: string; readonly message?: string | undefined } | undefined {
  return ps.status?.conditions?.find((c) => c.type === "RPOMet");
}

/**
 * A ProtectedServer (seeds 003 and 004): near-continuous replication of one
 * vSphere VM into its site pair's recovery-site vault, driven toward the
 * desired state: Replicating (agentless CBT cycles scheduled to an RPO),
 * FailedOver (planned or unplanned, point change before commit, commit
 * fences the original), ReverseReplicating (seeded without a full resync),
 * FailedBack (a planned failover back, then forward again without a full
 * resync). Stages summarise; conditions say what is true now. Drills are
 * RecoveryDrill objects and run beside replication.
 */
export class ProtectedServerReconciler implements Reconciler<ProtectedServer> {
  readonly kind = "ProtectedServer";
  readonly readyCondition = "Ready";
  /** The other members of a server's consistency group report and schedule by what it is. */
  readonly peers = { keysOf: peerKeys, changed: groupChanged };
  /** Held until the server's metrics and its place in its Gateway's queue are gone. */
  readonly finalizer = "lifeboat.io/replication";
  private readonly cycles: ReplicationCycles;
  private readonly failover: Failover;
  private readonly reverse: ReverseReplication;
  private readonly failback: Failback;
  private readonly networks = new ServerNetworkChecks();
  private readonly cloud = new CloudProtection(this.networks);
  private readonly arrivals: VmArrivals;

  constructor(private readonly connections: VCenterConnections, private readonly capacity: GatewayCapacity) {
    this.cycles = new ReplicationCycles(capacity);
    this.failover = new Failover(this.cycles);
    this.reverse = new ReverseReplication(this.cycles);
    this.failback = new Failback(this.cycles);
    this.arrivals = new VmArrivals(connections, "protectedserver");
  }

  async reconcile(ps: WithKind<ProtectedServer>, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = ps.metadata.namespace ?? "";
    const status = (ps.status ??= {});
    // A server whose policy is missing goes on with the settings it recorded. One with nothing recorded (new, or last
    // reconciled by a Lifeboat before status.replicationSettings) waits while Replicating; a failover, reverse replication
    // or failback is not held back by a missing policy and goes on with the default settings.
    const settingsProblem = await applyReplicationSettings(ps, ctx);
    if (settingsProblem && (ps.spec.desiredState ?? "Replicating") === "Replicating") return this.notStarted(ps, ctx, settingsProblem.reason, settingsProblem.message);
    status.rpoTargetSeconds = rpoTargetSeconds(ps);
    const pair = await resolveRef<WithKind<SitePair>>(ctx.cache, "SitePair", ns, "spec.sitePairRef", ps.spec.sitePairRef.name);
    if (!pair.ok) return this.notStarted(ps, ctx, pair.problem.reason, pair.problem.message);
    if (reportGroup(ps, ctx.listCached<ProtectedServer>("ProtectedServer", ns), isCloudPair(pair.value), (c) => { ctx.setCondition(ps, c); })) status.rpoTargetSeconds = rpoTargetSeconds(ps, true);
    if (isCloudPair(pair.value)) return this.reconcileCloud(ps, pair.value, ctx);
    if (!ps.spec.source.vmName) return this.notStarted(ps, ctx, "SourceMismatch", `spec.source.vmName is required: SitePair ${pair.value.metadata.name ?? ""} has a vSphere source site`);
    reportIgnoredFields(ps, ignoredForVSphereSource(ps, pair.value), pair.value.spec.type === "VMwareToCloud" ? "NotUsedByVMwareToCloud" : "NotUsedByVSphereSites", (c) => { ctx.setCondition(ps, c); });
    if (pair.value.spec.type === "VMwareToCloud") {
      const ecsOf = async () => {
        const cloud = await cloudSites(ctx.kube, pair.value);
        return cloud.ok ? { ok: true as const, value: cloud.value.ecs } : cloud;
      };
      await this.networks.report(ps, pair.value, () => namespaceNetworkRoles(ctx, ns), ecsOf, (c) => { ctx.setCondition(ps, c); });
    }

    const sites = await resolveSites(ctx.cache, ns, pair.value);
    const drillPins = this.drillPins(ps, ctx);
    const dr: DrContext = { ps, pair: pair.value, ...sites, ctx, connections: this.connections, pins: withFailoverPin(drillPins, status) };
    let requeue: number;
    let rpoMissedIn: number | undefined;
    try {
      switch (ps.spec.desiredState ?? "Replicating") {
        case "FailedOver":
          this.stopped(ps, ctx, "FailedOver", "replication is stopped: the server is failing over to the recovery site");
          requeue = await this.failover.advance(dr, forwardLine(dr));
          break;
        case "ReverseReplicating":
        case "FailedBack":
          if ((ps.spec.desiredState ?? "Replicating") === "ReverseReplicating") {
            const failingOver = await this.finishFailover(dr);
            if (failingOver !== undefined) {
              requeue = failingOver;
              break;
            }
            // An ECS instance runs on while it replicates back: its switch-over script goes on (or runs again once changed).
            const script = toEcs(dr) && status.failover ? await ecsPostScript(dr, status.failover) : undefined;
            requeue = Math.min(await this.reverse.advance(dr), script ?? Infinity);
            break;
          }
          this.stopped(ps, ctx, "FailingBack", "replication is stopped: the server is failing back to the protected site");
          // A failback needs the reverse chain: when FailedBack came before it was seeded, it is seeded first.
          requeue = (await this.finishFailover(dr)) ?? (status.reverse?.seedPointID ? await this.failback.advance(dr) : await this.reverse.advance(dr));
          break;
        default:
          requeue = await this.replicate(dr);
      }
      // A retention pass (a maintenance Job a cycle's end started) is followed whatever the server does now;
      // its end has the pair's vaults (a pass forgets in one of them) mirror their points again.
      const vaults = [pair.value.spec.vaultRef?.name, pair.value.spec.reverseVaultRef?.name].filter((v): v is string => !!v);
      if (await followRetentionPass(ps, vaults, ctx)) requeue = Math.min(requeue, RETENTION_POLL_MS);
    } finally {
      // Published after the steps: a commit in this reconcile has released the failover's pin.
      status.pinnedPoints = [...withFailoverPin(drillPins, status)].sort();
      rpoMissedIn = await this.reportAndAnnounce(ps, ctx);
    }
    return { requeueAfterMs: rpoMissedIn !== undefined ? Math.min(requeue, rpoMissedIn) : requeue };
  }

  /** A server of a cloud pair (CrossZone, CrossRegion): replication through ECS snapshots. */
  private async reconcileCloud(ps: WithKind<ProtectedServer>, pair: WithKind<SitePair>, ctx: ReconcileContext): Promise<ReconcileResult> {
    const status = (ps.status ??= {});
    if (!ps.spec.source.instanceId) return this.notStarted(ps, ctx, "SourceMismatch", `spec.source.instanceId is required: SitePair ${pair.metadata.name ?? ""} has an ECS protected site`);
    const sites = await cloudSites(ctx.kube, pair);
    if (!sites.ok) return this.notStarted(ps, ctx, sites.problem.reason, sites.problem.message);
    const drillPins = this.drillPins(ps, ctx);
    let requeue: number;
    let rpoMissedIn: number | undefined;
    try {
      requeue = await this.cloud.advance({ ps, pair, sites: sites.value, ctx, pins: withFailoverPin(drillPins, status) });
    } finally {
      status.pinnedPoints = [...withFailoverPin(drillPins, status)].sort();
      rpoMissedIn = await this.reportAndAnnounce(ps, ctx);
    }
    return { requeueAfterMs: rpoMissedIn !== undefined ? Math.min(requeue, rpoMissedIn) : requeue };
  }

  /**
   * A deleted server stops replicating: its cycle Jobs go with it (they are
   * owned), its drills are cleaned (owned too; a server drill a RecoveryPlan
   * drill made goes with that drill, which fails), its points stay in the vault,
   * and a VM it failed over to stays running (it may be production now).
   */
  finalize(ps: WithKind<ProtectedServer>, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = ps.metadata.namespace ?? "";
    const name = ps.metadata.name ?? "";
    ctx.metrics.setNewestPoint(ns, name, undefined);
    ctx.metrics.protectedServerRpoTarget.remove({ namespace: ns, protected_server: name });
    forgetCycleCounters(ctx.metrics, ns, name);
    this.arrivals.forget(`${ns}/${name}`);
    ctx.metrics.forgetWorkersOf(ns, `ProtectedServer/${name}`);
    this.capacity.forget(`${ns}/${name}`);
    this.cycles.forget(`${ns}/${name}`);
    ctx.log.info("Stopped replicating: the server's points stay in the vault");
    return Promise.resolve(undefined);
  }

  /**
   * Reverse replication and failback start from a failover that is done,
   * committed and whose original is fenced; until then (the user may set
   * ReverseReplicating and commitFailover in one step) the failover goes on.
   * Returns when to look again while it does, undefined once it is finished.
   */
  private async finishFailover(dr: DrContext): Promise<number | undefined> {
    const fo = dr.ps.status?.failover;
    if (fo?.step === "Done" && fo.committed && fo.fenced) return undefined;
    this.stopped(dr.ps, dr.ctx, "FailoverNotDone", `reverse replication waits for the failover to be done, committed and the original fenced (now: ${fo?.step ?? "not started"}${fo?.committed ? ", committed" : ""}${fo?.fenced ? ", fenced" : ""})`);
    return this.failover.advance(dr, forwardLine(dr));
  }

  /** Forward replication, after undoing an uncommitted failover or finishing a failback. */
  private async replicate(dr: DrContext): Promise<number> {
    const { ps, ctx } = dr;
    const status = (ps.status ??= {});
    if (status.failback && status.failback.step !== "Done") {
      // Back to Replicating while a failback runs: it finishes first, or forward cycles would read the original it overwrites.
      this.stopped(ps, ctx, "FailingBack", `forward replication resumes once the failback is done (now: ${status.failback.step ?? ""})`);
      return this.failback.advance(dr);
    }
    if (status.failback?.step === "Done") {
      const resumed = await this.resumeAfterFailback(dr);
      if (!resumed) return 15_000;
    } else if (status.failover && !status.failover.committed) {
      if (!(await this.failover.cancel(dr))) return 5_000;
    }
    switchDirection(status, "Forward");
    const problem = siteProblem(dr.protectedSite, ["vcenter", "gateway"]) ?? siteProblem(dr.recoverySite, ["vault"]);
    if (problem && !status.currentCycle) {
      ctx.setCondition(ps, { type: "Replicating", status: "False", reason: problem.reason, message: `replication waits: ${problem.message}` });
      return 15_000;
    }
    if (!status.currentCycle) {
      const retryMs = await this.findSource(dr);
      if (retryMs !== undefined) return retryMs;
    }
    const line = forwardLine(dr);
    if (!line) return 15_000;
    return this.cycles.run(ps, line, ctx, dr.pins);
  }

  /**
   * Finds the protected VM (again, by instance UUID, after a re-registration)
   * and, before the chain's first point, turns CBT on (seed 004: the
   * Initializing stage). Once the chain has points, CBT found off is the
   * worker's to turn on: it then knows the parent's changeIds belong to an
   * earlier tracking session and resyncs (or holds the resync for business
   * hours, leaving tracking off so that every later cycle finds the same
   * need). Returns when to look again while the VM is not found: a VM that
   * is not there is waited for through vCenter's change feed.
   */
  private async findSource(dr: DrContext): Promise<number | undefined> {
    const { ps, ctx } = dr;
    const status = (ps.status ??= {});
    const key = `${ps.metadata.namespace ?? ""}/${ps.metadata.name ?? ""}`;
    try {
      const client = await siteClient(dr, dr.protectedSite);
      const vm = await findKnownVm(client, status.source ?? { name: ps.spec.source.vmName });
      if (!vm) {
        ctx.setCondition(ps, { type: "Replicating", status: "False", reason: "VMNotFound", message: status.source?.instanceUUID ? `VM ${status.source.name ?? ""} (instance UUID ${status.source.instanceUUID}) is not at the protected site any more` : `no VM named "${ps.spec.source.vmName ?? ""}" at the protected site` });
        const vc = dr.protectedSite.vcenter;
        const listening = vc.ok && this.arrivals.wait(`${vc.value.metadata.namespace ?? ""}/${vc.value.metadata.name ?? ""}`, key, () => { ctx.enqueue(ps); });
        return listening ? VM_ARRIVAL_REFRESH_MS : SOURCE_RETRY_MS;
      }
      this.arrivals.forget(key);
      if (status.source?.moRef && status.source.moRef !== vm.ref.value) {
        await ctx.events.record(ps, "Normal", "ReRegistered", `VM ${vm.name} has a new MoRef ${vm.ref.value} (was ${status.source.moRef}); found again by its instance UUID`);
      }
      status.source = identityOf(vm);
      if (!vm.changeTrackingEnabled && !status.lastRecoveryPointTime) {
        await client.setChangeTracking(vm.ref, true);
        ctx.log.info({ vm: vm.name }, "Enabled changed block tracking on the protected VM");
      }
      return undefined;
    } catch (err) {
      ctx.setCondition(ps, { type: "Replicating", status: "False", reason: "VCenterUnreachable", message: `could not look the VM up at the protected site: ${describe(err)}` });
      return SOURCE_RETRY_MS;
    }
  }

  /**
   * Back to Replicating after a failback: the VM at the protected site is the
   * protected VM now, forward replication continues from the forward seed
   * (no full resync), and the fenced recovered VM is deleted: its content is
   * in both vaults.
   */
  private async resumeAfterFailback(dr: DrContext): Promise<boolean> {
    const { ps, ctx } = dr;
    const status = (ps.status ??= {});
    const fb = status.failback ?? {};
    const fo = status.failover;
    if (fo && toEcs(dr)) {
      // The stopped recovered instance, its elastic IP (by tag), what its conversion left and any export a last cycle left go: its content is in both vaults.
      const left = (await discardEcsAttempt(dr, fo)) ?? (await deleteReverseExports(dr));
      if (left) {
        ctx.setCondition(ps, { type: "Replicating", status: "False", reason: "CleaningUp", message: `deleting the recovered instance after the failback: ${left}` });
        return false;
      }
      removeCondition(status, "ResyncRequired");
    } else if (fo?.vm?.moRef && fo.restoreId) {
      try {
        if (!(await destroyCreatedVm(await siteClient(dr, dr.recoverySite), fo.vm.moRef, fo.restoreId))) return false;
      } catch (err) {
        ctx.setCondition(ps, { type: "Replicating", status: "False", reason: "CleanupFailed", message: `could not delete the recovered VM ${fo.vm.moRef} after the failback: ${describe(err)}` });
        return false;
      }
    }
    if (fb.vm) status.source = { ...fb.vm };
    switchDirection(status, "Forward");
    // The forward seed is the chain's newest point: the RPO counts from it.
    const vault = dr.recoverySite.vault;
    if (vault.ok) {
      const seed = (await lineagePoints(ctx.kube, vault.value, ps, "forward")).find((p) => p.id === fb.forwardSeedPointID);
      if (seed) status.lastRecoveryPointTime = isoSeconds(seed.time);
    }
    // The round's restore and seed Jobs are done with; the next round makes its own.
    const jobs = await ctx.kube.batch.listNamespacedJob({ namespace: ps.metadata.namespace ?? "", labelSelector: `${DR_JOB_LABELS.protectedServer}=${labelValue(ps.metadata.name ?? "")},${DR_JOB_LABELS.kind} in (restore,seed)` });
    for (const j of jobs.items) await deleteJob(ctx.kube, ps.metadata.namespace ?? "", j.metadata?.name ?? "");
    await ctx.events.record(ps, "Normal", "ReplicationResumed", `replicating ${fb.vm?.name ?? ""} to the recovery site again, from the failback point (no full resync); the recovered VM ${fo?.vm?.name ?? ""} is deleted`);
    delete status.failover;
    delete status.reverse;
    delete status.failback;
    delete status.lastCycle;
    return true;
  }

  /** A drill choosing its point (status.pointID) pins that point here: status.pinnedPoints says so at once. */
  userChanged(kind: string, old: k8s.KubernetesObject, obj: k8s.KubernetesObject): boolean {
    return kind === "RecoveryDrill" && (old as RecoveryDrill).status?.pointID !== (obj as RecoveryDrill).status?.pointID;
  }

  /**
   * The points this server's drills use: retention keeps them whatever its
   * rules say. Read from the operator's cache: this runs in every reconcile
   * of every server, and listing the namespace's drills from the API server
   * each time was the one LIST of a server at rest. A drill that chose its
   * point a moment ago may not be in the cache yet, as it may not have been
   * in a list made a moment before; a drill whose point is gone says so
   * (PointNotFound).
   */
  private drillPins(ps: ProtectedServer, ctx: ReconcileContext): Set<string> {
    const pins = new Set<string>();
    const drills = ctx.listCached<WithKind<RecoveryDrill>>("RecoveryDrill", ps.metadata.namespace ?? "");
    for (const d of drills) if (d.spec.protectedServerRef?.name === ps.metadata.name && d.status?.pointID) pins.add(d.status.pointID);
    return pins;
  }

  private notStarted(ps: ProtectedServer, ctx: ReconcileContext, reason: string, message: string): ReconcileResult {
    (ps.status ??= {}).stage = "Initializing";
    ctx.setCondition(ps, problemCondition("Ready", { reason, message }));
    return { requeueAfterMs: 60_000 };
  }

  private stopped(ps: ProtectedServer, ctx: ReconcileContext, reason: string, message: string): void {
    ctx.setCondition(ps, { type: "Replicating", status: "False", reason, message });
  }

  /**
   * report(), and an event when RPOMet turns False (seed 003: exceeding the
   * RPO threshold raises an event) or True again: a condition alone is seen
   * only by whoever looks. Alertmanager can mail on LifeboatRPOBreached; the
   * event is for `kubectl describe` and event exporters. A lost status
   * write repeats the event on the next pass, which the recorder folds into
   * the same Event (same message, a higher count).
   */
  private async reportAndAnnounce(ps: WithKind<ProtectedServer>, ctx: ReconcileContext): Promise<number | undefined> {
    const before = rpoMet(ps)?.status;
    const missedIn = this.report(ps, ctx);
    reportPostScript(ps, (c) => { ctx.setCondition(ps, c); });
    const now = rpoMet(ps);
    if (now?.status === "False" && before !== "False") await ctx.events.record(ps, "Warning", "RPOThresholdExceeded", now.message ?? "");
    if (now?.status === "True" && before === "False") await ctx.events.record(ps, "Normal", "RPOWithinThreshold", now.message ?? "");
    return missedIn;
  }

  /**
   * Stage, RPO, and the conditions that follow from status; the RPO metric.
   * Status holds nothing that ages by itself: the RPO is the age of
   * lastRecoveryPointTime, and the messages name that time, so a server
   * between cycles writes nothing. Returns the milliseconds until the newest
   * point grows older than the target (RPOMet must turn False then, with no
   * change to wake the server), or undefined when no such moment is ahead.
   */
  private report(ps: WithKind<ProtectedServer>, ctx: ReconcileContext): number | undefined {
    const status = (ps.status ??= {});
    const desired = ps.spec.desiredState ?? "Replicating";
    const ns = ps.metadata.namespace ?? "";
    const name = ps.metadata.name ?? "";
    const replicating = desired === "Replicating" || (desired === "ReverseReplicating" && !!status.reverse?.seedPointID);
    const newest = status.lastRecoveryPointTime ? new Date(status.lastRecoveryPointTime) : undefined;
    const target = status.rpoTargetSeconds ?? 300;
    const rpoMs = replicating && newest ? Math.max(0, Date.now() - newest.getTime()) : undefined;
    ctx.metrics.setNewestPoint(ns, name, rpoMs !== undefined ? newest : undefined);
    ctx.metrics.protectedServerRpoTarget.set({ namespace: ns, protected_server: name }, target);
    startCycleCounters(ctx.metrics, ns, name);
    const reverse = status.direction === "Reverse" ? "reverse " : "";
    if (replicating) {
      ctx.setCondition(ps, newest
        ? { type: "InitialSyncComplete", status: "True", reason: "Complete", message: `the ${reverse}chain's first full point is committed; cycles read only changes` }
        : { type: "InitialSyncComplete", status: "False", reason: status.currentCycle ? "FullReplication" : "NotStarted", message: `the ${reverse}chain's first point ${status.currentCycle ? "is being made" : "is not made yet"}` });
      const at = status.lastRecoveryPointTime ?? "";
      ctx.setCondition(ps, rpoMs === undefined
        ? { type: "RPOMet", status: "Unknown", reason: "InitialSync", message: "no recovery point yet: the RPO is measured from the first full cycle on" }
        : rpoMs <= target * 1000
          ? { type: "RPOMet", status: "True", reason: "WithinTarget", message: `the newest point (${at}) is within the ${target} s target` }
          : { type: "RPOMet", status: "False", reason: "TargetMissed", message: `the newest point (${at}) is older than the ${target} s target${status.learnedCycleSeconds && status.learnedCycleSeconds > target ? ` (a cycle takes ${status.learnedCycleSeconds} s)` : ""}` });
    } else {
      ctx.setCondition(ps, { type: "RPOMet", status: "Unknown", reason: "NotReplicating", message: `replication is stopped while ${desired}` });
    }
    // Conditions of a failover or failback that is over (cancelled, or a round trip completed) no longer hold.
    const over = new Set([...(status.failover ? [] : ["FailedOver", "SourceFenced"]), ...(status.failback ? [] : ["FailedBack"])]);
    if (status.conditions?.some((c) => over.has(c.type))) status.conditions = status.conditions.filter((c) => !over.has(c.type));
    if (!status.conditions?.some((c) => c.type === "ResyncRequired")) ctx.setCondition(ps, { type: "ResyncRequired", status: "False", reason: "ChangeTrackingTrusted", message: "cycles read only what CBT reports changed" });

    const replicatingCond = status.conditions?.find((c) => c.type === "Replicating");
    const pausedBy = replicating && replicatingCond?.status === "False" ? replicatingCond : undefined;
    const paused = pausedBy !== undefined;
    const fo = status.failover;
    const fb = status.failback;
    let stage: Status["stage"];
    let ready: { ok: boolean; reason: string; message: string };
    switch (desired) {
      case "FailedOver":
        stage = fo?.step === "Done" ? "FailedOver" : "FailingOver";
        if (fo?.step === "Done") ctx.setCondition(ps, failedOverCondition(ps, fo));
        ready = fo?.step === "Done" ? { ok: true, reason: fo.committed ? "FailoverCommitted" : "FailedOver", message: "the server runs at the recovery site" } : { ok: false, reason: "FailingOver", message: `failover step ${fo?.step ?? "starting"}` };
        break;
      case "ReverseReplicating":
        stage = !status.reverse?.seedPointID ? "ReverseStarting" : paused ? "Paused" : newest ? "ReverseRealTimeReplication" : "ReverseFullReplication";
        ready = stage === "ReverseRealTimeReplication" ? { ok: true, reason: "ReverseReplicating", message: "the recovered server is replicated back to the protected site" } : { ok: false, reason: stage, message: replicatingCond?.message ?? stage };
        break;
      case "FailedBack":
        stage = fb?.step === "Done" ? "FailedBack" : "FailingBack";
        if (fb?.step === "Done") ctx.setCondition(ps, { type: "FailedBack", status: "True", reason: "FailedBack", message: `running at the protected site again as ${fb.vm?.name ?? ""} (${fb.vm?.moRef ?? fb.vm?.instanceId ?? ""}); set desiredState to Replicating to protect it again` });
        ready = fb?.step === "Done" ? { ok: true, reason: "FailedBack", message: "the server runs at the protected site again" } : { ok: false, reason: "FailingBack", message: `failback step ${fb?.step ?? "starting"}` };
        break;
      default:
        stage = paused ? (newest ? "Paused" : "Initializing") : newest ? "RealTimeReplication" : status.currentCycle ? "FullReplication" : status.source?.moRef || status.source?.instanceId ? "Initialized" : "Initializing";
        ready = stage === "RealTimeReplication" ? { ok: true, reason: "Replicating", message: `replicating ${status.source?.name ?? ""}; the newest point is from ${status.lastRecoveryPointTime ?? ""}` } : { ok: false, reason: pausedBy?.reason ?? stage, message: replicatingCond?.message ?? stage };
    }
    status.stage = stage;
    ctx.setCondition(ps, { type: "Ready", status: ready.ok ? "True" : "False", reason: ready.reason, message: ready.message });
    return rpoMs !== undefined && rpoMs <= target * 1000 ? target * 1000 - rpoMs + 1000 : undefined;
  }
}

/** The drills' pins and, until it is committed, the failover's point. */
function withFailoverPin(drillPins: ReadonlySet<string>, status: Status): Set<string> {
  const pins = new Set(drillPins);
  const fo = status.failover;
  if (fo?.pointID && !fo.committed) pins.add(fo.pointID);
  return pins;
}

/** FailedOver once the recovered VM runs: committed or not, and whether a new spec.recoveryPoint is refused. */
function failedOverCondition(ps: ProtectedServer, fo: NonNullable<Status["failover"]>): ConditionInput {
  const running = `running at the recovery site as ${fo.vm?.name ?? ""} (${fo.vm?.moRef ?? fo.vm?.instanceId ?? ""}) from ${fo.recoveryPoint ?? ""}`;
  if (fo.committed) return { type: "FailedOver", status: "True", reason: "Committed", message: `${running}; committed` };
  if ((ps.spec.recoveryPoint ?? POINT_CHOICES.latest) === POINT_CHOICES.latest && fo.choice !== POINT_CHOICES.latest && fo.latestUsed) {
    return { type: "FailedOver", status: "True", reason: "LatestUsed", message: `${running}; "latest" can be used once per failover (seed 004) and was: name a RecoveryPoint in spec.recoveryPoint to change the point` };
  }
  return { type: "FailedOver", status: "True", reason: "Uncommitted", message: `${running}; commit with spec.commitFailover, or change spec.recoveryPoint` };
}

/** The forward replication line: the protected VM into the recovery site's vault, by the protected site's workers. */
export function forwardLine(dr: DrContext): ReplicationLine | undefined {
  const site = usable(dr.protectedSite, ["vcenter", "gateway"]);
  const vault = dr.recoverySite.vault;
  const source = dr.ps.status?.source;
  if (!site.ok || !vault.ok) return undefined;
  return { direction: "forward", vm: { ...(source ?? {}), name: source?.name ?? dr.ps.spec.source.vmName ?? "" }, vcenter: site.value.vcenter, gateway: site.value.gateway, vault: vault.value, sitePair: dr.pair.metadata.name ?? "" };
}

/**
 * The fields a server with a vSphere source sets that its pair type does not
 * act on: cloud-only fields toward a vSphere recovery site, vSphere-only ones
 * toward ECS, cloud failback fields (a failback to vSphere makes a VM), and a
 * failback's size when it overwrites the original in place.
 */
export function ignoredForVSphereSource(ps: ProtectedServer, pair: SitePair): string[] {
  const recovery = ps.spec.recovery ?? {};
  const failback = ps.spec.failback ?? {};
  const out: string[] = [];
  if (pair.spec.type === "VMwareToCloud") {
    if (recovery.datastore !== undefined) out.push("spec.recovery.datastore (the recovery site is ECS: the instance's disks are cloud disks)");
    out.push(...ignoredSizing("spec.recovery", recovery));
    out.push(...ignoredPostScripts(ps).filter((f) => f.startsWith("spec.recovery.")));
  } else {
    const cloudOnly = (["instanceType", "privateIpAddress", "diskCategory", "eip"] as const).filter((f) => recovery[f] !== undefined && recovery[f] !== false);
    out.push(...cloudOnly.map((f) => `spec.recovery.${f} (cloud sites only: the recovery site is vSphere)`));
    if (recovery.network) out.push("spec.recovery.network (cloud sites only: at a vSphere site each NIC goes where the site pair's spec.networkMappings say)");
    if (recovery.postScript) out.push("spec.recovery.postScript (cloud sites only: Cloud Assistant runs it in an ECS instance; Lifeboat has no vSphere guest-operations client)");
  }
  if (failback.postScript) out.push("spec.failback.postScript (cloud sites only: a failback to vSphere makes a VM, and Lifeboat has no vSphere guest-operations client)");
  out.push(...(["instanceType", "privateIpAddress", "network"] as const).filter((f) => failback[f] !== undefined).map((f) => `spec.failback.${f} (cloud sites only: a failback to vSphere makes a VM${f === "network" ? " whose NICs follow the site pair's spec.networkMappings" : ""})`));
  if (ps.spec.reverseInPlace) out.push(...(["cpu", "memoryGiB"] as const).filter((f) => failback[f] !== undefined).map((f) => `spec.failback.${f} (reverseInPlace: the original VM keeps its own)`));
  const hours = ps.spec.replication?.businessHours;
  if (hours && !isTimeZone(hours.timeZone ?? "UTC")) out.push(`${replicationField(ps, "businessHours")} (timeZone "${hours.timeZone ?? ""}" is not an IANA time zone such as Asia/Tokyo or UTC: resyncs run when found needed)`);
  return out;
}
