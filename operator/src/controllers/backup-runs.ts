import type * as k8s from "@kubernetes/client-node";
import type { BackupPlan, BackupPlanStatus, BackupVault, Gateway, VCenter } from "../api/generated/types.js";
import { isoSeconds } from "../util/time.js";
import type { ReconcileContext } from "../runtime/controller.js";
import { describe } from "../runtime/errors.js";
import { controllerRef, isNotFound, mergePatch, type WithKind } from "../runtime/kube.js";
import { openVault, type PointHeader } from "../vault/index.js";
import { describeExcludedDisks, excludedDisksOf } from "../worker/labels.js";
import { parseBackupResult, reasonForExitCode, type BackupWorkerSpec, type WorkerProgress } from "../worker/spec.js";
import { failedAttemptNote, labelValue, lastExitCode, lastTerminationMessage, secretEnvFor, shortHash, vaultClaims, VCENTER_OUTAGE_WAIT_SECONDS, WORKER_LABELS, workerJob, workerVault, workerVCenter } from "../workloads/worker-job.js";
import { ensureControlTokenSecret, readControlToken } from "../workloads/worker-token.js";
import { recoveryPointName } from "./backup-vault-controller.js";
import { flowControlState } from "./flow-control.js";
import type { GatewayCapacity } from "./gateway-capacity.js";
import { startRetentionPass } from "./plan-retention.js";
import { vaultSpecOf } from "./vault-access.js";
import { fetchProgress, setBandwidth, shownOutage, workerOutage } from "./worker-progress.js";

type Run = NonNullable<BackupPlanStatus["currentRun"]>;
type VmRun = NonNullable<Run["vms"]>[number];

/** The objects a run needs, already checked by the plan's reconciler. */
export interface RunContext {
  readonly plan: WithKind<BackupPlan>;
  readonly vault: WithKind<BackupVault>;
  readonly vcenter: WithKind<VCenter>;
  readonly gateway: WithKind<Gateway>;
  /**
   * Whether the references are ready (vCenter Connected, vault Ready, Gateway
   * Activated). When not, the run's running workers are still followed (they
   * ride out a short vault or vCenter outage on their own), but no new worker
   * starts and the run is not finished (retention needs the vault).
   */
  readonly refsReady: boolean;
}

const TERMINAL = new Set(["Succeeded", "Failed", "Skipped"]);
/** Retries of a VM's worker after a failed or killed pod (exit codes that retrying cannot fix fail at once). */
const WORKER_RETRIES = 3;
/** How often progress is read while a run goes: a modest rate, as the API conventions ask of status writes. */
export const PROGRESS_INTERVAL_MS = 3000;


/** A run id from its start time: sortable and readable, e.g. 20261129t020000z. */
export function runIdFor(start: Date): string {
  return isoSeconds(start).replace(/[-:]/g, "").toLowerCase();
}

/** The Job that backs up one VM in one run (a DNS label: at most 63 characters). */
export function jobNameFor(namespace: string, plan: string, runId: string, moRef: string): string {
  return `${plan.slice(0, 30).replace(/-+$/, "")}-${runId.slice(0, 15)}-${shortHash(namespace, plan, runId, moRef)}`;
}

/**
 * Runs of a BackupPlan, level-triggered: the run's state is in the plan's
 * status (currentRun) and in its worker Jobs (deterministic names, labelled
 * with plan and run), so an operator restart picks up where the cluster is.
 * Starting a run only records it; the next reconcile creates the Jobs, so a
 * lost status write can never start a run twice.
 */
export class BackupRuns {
  /** Last bandwidth each worker was told, so it is only sent when it changes. */
  private readonly toldBandwidth = new Map<string, number>();
  /** Control tokens read back from the Jobs' Secrets, by Job uid (a cache: the Secret is the truth, so a restart loses nothing). */
  private readonly tokens = new Map<string, string>();

  constructor(private readonly capacity: GatewayCapacity) {}

  /** Records a new run over the selected VMs. */
  start(plan: BackupPlan, trigger: "Schedule" | "Request", vms: readonly { name: string; moRef: string }[], now: Date = new Date()): void {
    const status = (plan.status ??= {});
    const id = runIdFor(now);
    status.currentRun = {
      id,
      startTime: isoSeconds(now),
      trigger,
      vms: vms.map((vm) => ({ name: vm.name, moRef: vm.moRef, job: jobNameFor(plan.metadata.namespace ?? "", plan.metadata.name ?? "", id, vm.moRef), phase: "Pending", attempts: 0 })),
    };
    status.selectedVMs = vms.length;
  }

  /**
   * Moves the current run forward: creates worker Jobs within the Gateway's
   * limits, reads progress from running workers, records results, and
   * finishes the run (and starts its retention pass) when every VM is done.
   * Returns true while the run goes on.
   */
  async advance(rc: RunContext, ctx: ReconcileContext): Promise<boolean> {
    const { plan, gateway } = rc;
    const run = plan.status?.currentRun;
    if (!run?.id) return false;
    const ns = plan.metadata.namespace ?? "";
    const jobs = await ctx.kube.batch.listNamespacedJob({ namespace: ns, labelSelector: `${WORKER_LABELS.plan}=${labelValue(plan.metadata.name ?? "")},${WORKER_LABELS.run}=${run.id}` });
    const jobByName = new Map(jobs.items.map((j) => [j.metadata?.name ?? "", j]));
    const pods = await ctx.kube.core.listNamespacedPod({ namespace: ns, labelSelector: `${WORKER_LABELS.plan}=${labelValue(plan.metadata.name ?? "")},${WORKER_LABELS.run}=${run.id}` });

    // Capacity: every active worker of this Gateway counts, whatever plan or restore it serves.
    // Only counting and creating hold the Gateway's lock; following the workers (vault reads,
    // worker HTTP calls) happens after, so a slow vault never stalls the Gateway's other users.
    const flow = flowControlState(gateway.spec.flowControl ?? [], gateway.spec.timeZone ?? "UTC");
    const share = (active: number): number => (flow.limit === undefined ? 0 : flow.limit / Math.max(1, active));
    const waiting = rc.refsReady ? (run.vms ?? []).filter((vm) => !TERMINAL.has(vm.phase) && !jobByName.has(vm.job ?? "")) : [];
    const active = await this.capacity.withSlots(ctx.kube, ns, gateway, async (slots) => {
      for (const vm of waiting) {
        if (slots.active >= slots.limit) break;
        await this.createJob(rc, run, vm, share(slots.active + 1), ctx);
        slots.active++;
      }
      return slots.active;
    });
    for (const vm of run.vms ?? []) {
      const job = jobByName.get(vm.job ?? "");
      if (job && !TERMINAL.has(vm.phase)) await this.observe(rc, vm, job, pods.items, share(active), ctx);
    }

    if ((run.vms ?? []).every((vm) => TERMINAL.has(vm.phase))) {
      if (!rc.refsReady) return true;
      await this.finish(rc, run, ctx);
      return false;
    }
    return true;
  }

  private async createJob(rc: RunContext, run: Run, vm: VmRun, bandwidth: number, ctx: ReconcileContext): Promise<void> {
    const { plan, vault, vcenter, gateway } = rc;
    const ns = plan.metadata.namespace ?? "";
    const spec: BackupWorkerSpec = {
      mode: "backup",
      runId: run.id ?? "",
      vm: { name: vm.name, ...(vm.moRef ? { moRef: vm.moRef } : {}) },
      vcenter: workerVCenter(vcenter, { outageWaitSeconds: VCENTER_OUTAGE_WAIT_SECONDS }),
      vault: workerVault(vault),
      quiesce: plan.spec.quiesce ?? false,
      changedBlockTracking: plan.spec.changedBlockTracking ?? true,
      labels: { namespace: ns, plan: plan.metadata.name ?? "", vm: vm.name, run: run.id ?? "", vcenter: vcenter.metadata.name ?? "" },
      ...(bandwidth > 0 ? { bandwidthBytesPerSecond: Math.floor(bandwidth) } : {}),
    };
    const job = workerJob({
      name: vm.job ?? "",
      namespace: ns,
      labels: { [WORKER_LABELS.plan]: labelValue(plan.metadata.name ?? ""), [WORKER_LABELS.run]: run.id ?? "", [WORKER_LABELS.vm]: shortHash(vm.moRef ?? vm.name) },
      owner: controllerRef(plan),
      spec,
      secretEnv: secretEnvFor(vault, vcenter),
      claims: vaultClaims(vault),
      gateway,
      backoffLimit: WORKER_RETRIES,
      controlToken: true,
    });
    let created: k8s.V1Job;
    try {
      created = await ctx.kube.batch.createNamespacedJob({ namespace: ns, body: job });
      ctx.log.info({ vm: vm.name, job: vm.job }, "Started backup worker");
    } catch (err) {
      if (!(err instanceof Error && "code" in err && (err as { code: number }).code === 409)) throw new Error(`Could not create worker Job ${vm.job ?? ""}`, { cause: err });
      created = await ctx.kube.batch.readNamespacedJob({ namespace: ns, name: vm.job ?? "" });
    }
    // After the Job, so that the Secret can be owned by it; its pod waits for the Secret.
    // A failure here is logged and mended by observe (controlToken), as after a crash between the two.
    try {
      await ensureControlTokenSecret(ctx.kube, created);
    } catch (err) {
      ctx.log.error({ vm: vm.name, job: vm.job, err: describe(err) }, "Could not create the worker Job's control token Secret; its pod waits for it");
    }
    vm.phase = "Snapshotting";
  }

  /** Updates one VM's entry from its Job, its pods and the worker's own progress report. */
  private async observe(rc: RunContext, vm: VmRun, job: k8s.V1Job, pods: readonly k8s.V1Pod[], bandwidth: number, ctx: ReconcileContext): Promise<void> {
    const mine = pods.filter((p) => p.metadata?.labels?.["job-name"] === job.metadata?.name);
    vm.attempts = mine.length;
    const complete = job.status?.conditions?.find((c) => c.type === "Complete" && c.status === "True");
    const failed = job.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True");
    const worker = { namespace: rc.plan.metadata.namespace ?? "", worker: job.metadata?.name ?? "", owner: `BackupPlan/${rc.plan.metadata.name ?? ""}` };
    if (complete || failed) {
      ctx.metrics.forgetWorker(worker.namespace, worker.worker);
      this.tokens.delete(job.metadata?.uid ?? "");
    }
    if (complete) {
      const point = await this.findPoint(rc, vm, ctx);
      vm.phase = point ? "Succeeded" : "Failed";
      if (point) {
        vm.recoveryPoint = recoveryPointName(point);
        // The worker's own final figures: a backup over within one poll was never seen running.
        const result = parseBackupResult(lastTerminationMessage(mine));
        if (result?.pointId === point.id) {
          vm.bytesTotal = result.bytesTotal;
          vm.bytesDone = result.bytesDone;
        } else {
          vm.bytesDone = vm.bytesTotal ?? vm.bytesDone;
        }
        delete vm.reason;
        delete vm.message;
        delete vm.etaSeconds;
        const excluded = excludedDisksOf(point.labels);
        if (excluded.length > 0) {
          vm.message = `backed up without ${describeExcludedDisks(excluded)}: a VM snapshot does not capture such disks, so point ${vm.recoveryPoint} holds no data of them`;
          await ctx.events.record(rc.plan, "Warning", "DisksExcluded", `VM ${vm.name}: ${vm.message}`);
        }
      } else {
        vm.reason = "PointNotFound";
        vm.message = "the worker finished but the vault holds no point for this run";
      }
      return;
    }
    if (failed) {
      const code = lastExitCode(mine);
      vm.phase = "Failed";
      vm.reason = code === undefined ? failed.reason ?? "WorkerFailed" : reasonForExitCode(code);
      // The worker's own "Reason: message" line says what to fix (a full vault, a wrong key); the exit code alone only classifies.
      const why = lastTerminationMessage(mine)?.slice(0, 512);
      vm.message = code === undefined ? failed.message ?? "the worker Job failed" : `the worker exited with code ${code} after ${mine.length} attempt(s)${why ? `: ${why}` : "; see the worker pod's output"}`;
      return;
    }
    await this.noteFailedAttempt(rc, vm, mine, ctx);
    // Read (or, if it went missing, made) before the pod can start: the pod waits for this Secret.
    const token = await this.controlToken(job, ctx);
    const running = mine.find((p) => p.status?.phase === "Running" && p.status.podIP);
    const progress = running?.status?.podIP ? await fetchProgress(running.status.podIP) : undefined;
    ctx.metrics.noteWorker(worker, progress);
    if (!running?.status?.podIP || !progress) return;
    vm.phase = workerPhase[progress.phase];
    vm.bytesDone = progress.bytesDone;
    vm.bytesTotal = progress.bytesTotal;
    vm.bytesUploaded = progress.bytesUploaded;
    vm.throughputBytesPerSecond = Math.round(progress.throughputBytesPerSecond);
    if (progress.etaSeconds !== undefined) vm.etaSeconds = Math.round(progress.etaSeconds);
    await this.noteOutage(rc, vm, progress, ctx);
    const labels = { namespace: rc.plan.metadata.namespace ?? "", plan: rc.plan.metadata.name ?? "", vm: vm.name };
    ctx.metrics.noteBackupProgress(labels, progress);
    const jobName = job.metadata?.name ?? "";
    if (this.toldBandwidth.get(jobName) === bandwidth || token === undefined) return;
    if (await setBandwidth(running.status.podIP, bandwidth, token)) {
      this.toldBandwidth.set(jobName, bandwidth);
      ctx.log.debug({ vm: vm.name, bandwidth }, "Set worker bandwidth");
    }
  }

  /**
   * Says in the VM's entry why the newest attempt failed while its Job
   * retries it (vCenter restarting, a node lost), with one Warning event per
   * failed attempt: otherwise the entry would go on showing a dead pod's last
   * progress. The note stays while the next attempt runs, and goes when the
   * run succeeds.
   */
  private async noteFailedAttempt(rc: RunContext, vm: VmRun, mine: readonly k8s.V1Pod[], ctx: ReconcileContext): Promise<void> {
    const note = failedAttemptNote(mine, WORKER_RETRIES + 1);
    if (!note || vm.message === note.message) return;
    vm.reason = note.reason;
    vm.message = note.message;
    await ctx.events.record(rc.plan, "Warning", note.reason, `VM ${vm.name}: ${note.message}`);
  }

  /**
   * Shows an outage the worker rides out in its VM's entry while it lasts
   * (the vault, or vCenter at its login: the worker retries for minutes
   * before it gives up), with one Warning event when it starts; clears it
   * once the worker gets answers again.
   */
  private async noteOutage(rc: RunContext, vm: VmRun, progress: WorkerProgress, ctx: ReconcileContext): Promise<void> {
    const outage = workerOutage(progress);
    if (outage) {
      const starting = shownOutage(vm) !== outage.reason;
      vm.reason = outage.reason;
      vm.message = outage.message;
      if (starting) await ctx.events.record(rc.plan, "Warning", outage.reason, `VM ${vm.name}: ${outage.message}`);
    } else if (shownOutage(vm)) {
      delete vm.reason;
      delete vm.message;
    }
  }

  /**
   * A worker Job's control token: from memory, else from its Secret (after an
   * operator restart too), else a new one in a new Secret when it is missing
   * (the operator stopped, or was refused, between creating the Job and the
   * Secret; the pod cannot have started without it). Undefined, logged, when
   * the Secret can be neither read nor made: the worker is then not steered.
   */
  private async controlToken(job: k8s.V1Job, ctx: ReconcileContext): Promise<string | undefined> {
    const uid = job.metadata?.uid ?? "";
    const known = this.tokens.get(uid);
    if (known !== undefined) return known;
    const ns = job.metadata?.namespace ?? "";
    const name = job.metadata?.name ?? "";
    let token: string | undefined;
    try {
      token = await readControlToken(ctx.kube, ns, name);
      if (token === undefined) {
        await ensureControlTokenSecret(ctx.kube, job);
        ctx.log.info({ job: name }, "Created the missing control token Secret of a worker Job");
        token = await readControlToken(ctx.kube, ns, name);
      }
    } catch (err) {
      ctx.log.error({ job: name, err: describe(err) }, "Could not read or create the worker Job's control token Secret");
      return undefined;
    }
    if (token !== undefined && uid) this.tokens.set(uid, token);
    return token;
  }

  private async findPoint(rc: RunContext, vm: VmRun, ctx: ReconcileContext): Promise<PointHeader | undefined> {
    const spec = await vaultSpecOf(ctx.kube, rc.vault);
    // A vault that cannot be read now is retried, never taken for a missing point.
    if (!spec.ok) throw new Error(`Could not open vault ${rc.vault.metadata.name ?? ""} to find the point: ${spec.problem.message}`);
    const vault = await openVault(spec.value);
    try {
      const points = await vault.listPoints();
      const run = rc.plan.status?.currentRun?.id;
      return points.find((p) => p.labels.run === run && p.labels.vm === vm.name && p.labels.plan === rc.plan.metadata.name);
    } finally {
      await vault.close();
    }
  }

  /** Records the run's result, starts its retention pass (plan-retention.ts), asks the vault to sync, and removes earlier runs' Jobs. */
  private async finish(rc: RunContext, run: Run, ctx: ReconcileContext): Promise<void> {
    const { plan } = rc;
    const status = (plan.status ??= {});
    const vms = run.vms ?? [];
    const ok = vms.filter((v) => v.phase === "Succeeded").length;
    const result = vms.length > 0 && ok === vms.length ? "Succeeded" : ok > 0 ? "PartiallyFailed" : "Failed";
    const failedNames = vms.filter((v) => v.phase === "Failed").map((v) => `${v.name} (${v.reason ?? "Failed"})`);
    status.lastRun = {
      id: run.id,
      startTime: run.startTime,
      ...(run.trigger ? { trigger: run.trigger } : {}),
      completionTime: isoSeconds(new Date()),
      result,
      message: vms.length === 0 ? "the selection matched no VM" : `${ok} of ${vms.length} VMs backed up${failedNames.length ? `; failed: ${failedNames.join(", ")}` : ""}`,
    };
    if (result === "Succeeded") status.lastSuccessfulTime = status.lastRun.completionTime;
    status.lastResults = vms;
    delete status.currentRun;
    await ctx.events.record(plan, result === "Succeeded" ? "Normal" : "Warning", `Run${result}`, status.lastRun.message ?? "");
    // Counted once the finished run is recorded: a conflicting status write repeats this reconcile.
    ctx.afterStatusWrite(() => {
      ctx.metrics.backupRuns.inc({ namespace: plan.metadata.namespace ?? "", plan: plan.metadata.name ?? "", result });
    });
    for (const vm of vms) {
      const labels = { namespace: plan.metadata.namespace ?? "", plan: plan.metadata.name ?? "", vm: vm.name };
      if (vm.job) ctx.metrics.forgetWorker(labels.namespace, vm.job);
      ctx.metrics.forgetBackupProgress(labels);
    }
    try {
      await startRetentionPass(rc, run.id ?? "", ctx);
    } catch (err) {
      await ctx.events.record(plan, "Warning", "RetentionFailed", `could not start the retention pass: ${describe(err)}`);
    }
    await requestVaultSync(rc.vault, ctx);
    const old = await ctx.kube.batch.listNamespacedJob({ namespace: plan.metadata.namespace ?? "", labelSelector: `${WORKER_LABELS.plan}=${labelValue(plan.metadata.name ?? "")},${WORKER_LABELS.run}!=${run.id ?? ""}` });
    for (const j of old.items) {
      try {
        await ctx.kube.batch.deleteNamespacedJob({ name: j.metadata?.name ?? "", namespace: j.metadata?.namespace ?? "", propagationPolicy: "Background" });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
}

/** A worker's own phase as the plan's per-VM phase (the Job's completion decides Succeeded/Failed). */
const workerPhase: Record<WorkerProgress["phase"], VmRun["phase"]> = {
  Starting: "Snapshotting",
  Snapshotting: "Snapshotting",
  Transferring: "Transferring",
  Committing: "Committing",
  CleaningUp: "Committing",
  Succeeded: "Committing",
  Failed: "Committing",
};

/** Touches an annotation on the vault so its controller syncs RecoveryPoints now rather than at its next poll. */
export async function requestVaultSync(vault: { readonly metadata: { readonly namespace?: string | undefined; readonly name?: string | undefined } }, ctx: ReconcileContext): Promise<void> {
  try {
    await ctx.kube.custom.patchNamespacedCustomObject(
      {
        group: "lifeboat.io",
        version: "v1alpha1",
        namespace: vault.metadata.namespace ?? "",
        plural: "backupvaults",
        name: vault.metadata.name ?? "",
        body: { metadata: { annotations: { "lifeboat.io/sync-requested": new Date().toISOString() } } },
      },
      mergePatch,
    );
  } catch (err) {
    ctx.log.warn({ err: describe(err) }, "Could not ask the vault to sync");
  }
}
