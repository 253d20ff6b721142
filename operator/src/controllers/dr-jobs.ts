/**
 * The worker Jobs of disaster recovery: replication cycles (the backup
 * worker with a replication lineage), seeds (a point built at the other site
 * from what a local VM already holds) and restores (drill, failover and
 * failback VMs). Names are deterministic, so a reconcile repeated after an
 * operator restart finds the Job it made instead of making a second one.
 */
import { GROUP_LABELS, tickLabel } from "./consistency-groups.js";
import type * as k8s from "@kubernetes/client-node";
import type { BackupVault, Gateway, ProtectedServer, VCenter } from "../api/generated/types.js";
import { controllerRef, isConflict, isNotFound, type Kube, type LifeboatObject, type WithKind } from "../runtime/kube.js";
import { reasonForExitCode, type BackupWorkerSpec, type EcsBackupWorkerSpec, type RestoreWorkerSpec, type SeedWorkerSpec, type WorkerProgress, type WorkerSpec } from "../worker/spec.js";
import { cloudSecretEnv, failedAttemptNote, labelValue, lastExitCode, lastTerminationMessage, secretEnvFor, shortHash, vaultClaims, vaultSecretEnv, workerJob, workerVault, workerVCenter, type StatusNote } from "../workloads/worker-job.js";
import type { ClaimMount } from "../workloads/worker-volumes.js";
import { REPLICATION_LINEAGE, lineageLabels, type Direction } from "./dr-points.js";
import { fetchProgress } from "./worker-progress.js";

/** Labels on DR worker Jobs, to find them again. */
export const DR_JOB_LABELS = {
  protectedServer: "lifeboat.io/protected-server",
  drill: "lifeboat.io/drill",
  kind: "lifeboat.io/dr-job",
} as const;

/** Retries of a DR worker after a killed pod; it resumes from what the vault and vCenter hold. */
const DR_WORKER_RETRIES = 3;

/** The Job of one step of a server's DR work (a cycle, a seed, a restore); at most 63 characters. */
export function drJobName(owner: { metadata: { name?: string; namespace?: string; uid?: string } }, step: string): string {
  const name = (owner.metadata.name ?? "").slice(0, 30).replace(/[-.]+$/, "");
  return `${name}-${step.slice(0, 20)}-${shortHash(owner.metadata.namespace ?? "", owner.metadata.name ?? "", owner.metadata.uid ?? "", step)}`;
}

/** What every DR Job needs besides its spec. */
interface DrJob {
  readonly owner: LifeboatObject;
  readonly name: string;
  readonly kind: "cycle" | "seed" | "restore";
  readonly gateway: WithKind<Gateway>;
  readonly labels: Record<string, string>;
  readonly spec: WorkerSpec;
  readonly secretEnv: k8s.V1EnvVar[];
  readonly claims: readonly ClaimMount[];
}

/** Creates a DR worker Job; one that already exists (a repeated reconcile) is left as it is. */
async function createDrJob(kube: Kube, job: DrJob): Promise<void> {
  const ns = job.owner.metadata.namespace ?? "";
  const body = workerJob({
    name: job.name,
    namespace: ns,
    labels: { ...job.labels, [DR_JOB_LABELS.kind]: job.kind },
    owner: controllerRef(job.owner),
    spec: job.spec,
    secretEnv: job.secretEnv,
    claims: job.claims,
    gateway: job.gateway,
    backoffLimit: DR_WORKER_RETRIES,
  });
  try {
    await kube.batch.createNamespacedJob({ namespace: ns, body });
  } catch (err) {
    if (!isConflict(err)) throw new Error(`Could not create worker Job ${job.name}`, { cause: err });
  }
}

function serverLabels(ps: ProtectedServer): Record<string, string> {
  return { [DR_JOB_LABELS.protectedServer]: labelValue(ps.metadata.name ?? "") };
}

/** One replication cycle: snapshot the VM, read what CBT says changed since the chain's newest point, commit a point. */
export interface CycleJob {
  readonly ps: WithKind<ProtectedServer>;
  readonly name: string;
  readonly cycleId: string;
  readonly direction: Direction;
  readonly vm: { readonly name: string; readonly moRef?: string | undefined };
  /** Where the VM is: a vCenter, or (a VMwareToCloud reverse cycle) an ECS instance. */
  readonly vcenter?: VCenter | undefined;
  readonly ecs?: EcsCycleSource | undefined;
  readonly vault: BackupVault;
  readonly gateway: WithKind<Gateway>;
  readonly quiesce: boolean;
  /** Why the cycle resyncs (reads every allocated area, no parent) when asked from outside the worker: RESYNC.requested. vSphere sources only. */
  readonly resync?: string | undefined;
  /** Leave a resync the worker finds needed for later (business hours): it stops before reading, with the reason's exit code. */
  readonly holdResync?: boolean | undefined;
  readonly sitePair: string;
  /** More labels on the Job, to find it again. */
  readonly extraLabels?: Record<string, string>;
  /** The worker's share of the Gateway's flow-control bandwidth (0: unlimited). */
  readonly bandwidthBytesPerSecond: number;
  /** A consistency group's cycle: its group and tick, labelled on the point, the snapshot taken at the tick (vSphere sources only). */
  readonly groupTick?: { readonly group: string; readonly tick: Date } | undefined;
}

/**
 * A cycle of an ECS instance (VMwareToCloud reverse replication): what the
 * ecsBackup worker needs to read it into a point a vSphere restore can use.
 */
export interface EcsCycleSource {
  readonly regionId: string;
  readonly instanceId: string;
  readonly ossBucket: string;
  readonly ecsEndpoint?: string | undefined;
  readonly ossEndpoint?: string | undefined;
  readonly credentialsSecretRef: { readonly name: string; readonly accessKeyIdKey?: string | undefined; readonly accessKeySecretKey?: string | undefined };
  /** The point's disks: the forward point's keys, each on the device the conversion put it. */
  readonly disks: readonly { readonly key: string; readonly device: string; readonly sizeBytes: number }[];
  /** What the forward point said about the VM (guest, CPUs, memory, networks, disk labels), so a failback can rebuild it. */
  readonly labels: Readonly<Record<string, string>>;
}

export async function createCycleJob(kube: Kube, c: CycleJob): Promise<void> {
  if (c.ecs) return createEcsCycleJob(kube, c, c.ecs);
  if (!c.vcenter) throw new Error(`cycle ${c.cycleId} of ${c.ps.metadata.name ?? ""} names neither a vCenter nor an ECS instance`);
  const spec: BackupWorkerSpec = {
    mode: "backup",
    runId: c.cycleId,
    vm: { name: c.vm.name, ...(c.vm.moRef ? { moRef: c.vm.moRef } : {}) },
    vcenter: workerVCenter(c.vcenter),
    vault: workerVault(c.vault),
    quiesce: c.quiesce,
    ...(c.resync ? { resync: c.resync } : {}),
    ...(c.holdResync ? { holdResync: true } : {}),
    changedBlockTracking: true,
    lineage: [...REPLICATION_LINEAGE],
    labels: {
      ...lineageLabels(c.ps, c.direction),
      vm: c.vm.name,
      run: c.cycleId,
      sitePair: c.sitePair,
      vcenter: c.vcenter.metadata.name ?? "",
      ...(c.groupTick ? { [GROUP_LABELS.group]: c.groupTick.group, [GROUP_LABELS.tick]: tickLabel(c.groupTick.tick) } : {}),
    },
    ...(c.groupTick ? { snapshotAt: c.groupTick.tick.toISOString() } : {}),
    ...(c.bandwidthBytesPerSecond > 0 ? { bandwidthBytesPerSecond: c.bandwidthBytesPerSecond } : {}),
  };
  await createDrJob(kube, { owner: c.ps, name: c.name, kind: "cycle", gateway: c.gateway, labels: { ...serverLabels(c.ps), ...c.extraLabels }, spec, secretEnv: secretEnvFor(c.vault, c.vcenter), claims: vaultClaims(c.vault) });
}

async function createEcsCycleJob(kube: Kube, c: CycleJob, ecs: EcsCycleSource): Promise<void> {
  const spec: EcsBackupWorkerSpec = {
    mode: "ecsBackup",
    runId: c.cycleId,
    instance: { regionId: ecs.regionId, instanceId: ecs.instanceId },
    ossBucket: ecs.ossBucket,
    ...(ecs.ecsEndpoint ? { ecsEndpoint: ecs.ecsEndpoint } : {}),
    ...(ecs.ossEndpoint ? { ossEndpoint: ecs.ossEndpoint } : {}),
    disks: ecs.disks,
    vault: workerVault(c.vault),
    lineage: [...REPLICATION_LINEAGE],
    labels: { ...ecs.labels, ...lineageLabels(c.ps, c.direction), vm: c.vm.name, run: c.cycleId, sitePair: c.sitePair },
    ...(c.bandwidthBytesPerSecond > 0 ? { bandwidthBytesPerSecond: c.bandwidthBytesPerSecond } : {}),
  };
  const secretEnv = [...secretEnvFor(c.vault), ...cloudSecretEnv(ecs.credentialsSecretRef)];
  await createDrJob(kube, { owner: c.ps, name: c.name, kind: "cycle", gateway: c.gateway, labels: { ...serverLabels(c.ps), ...c.extraLabels }, spec, secretEnv, claims: vaultClaims(c.vault) });
}

/** A seed: a point in `vault` equal to `sourcePointId` of `sourceVault`, reading locally what `local`'s disks already hold. */
export interface SeedJob {
  readonly ps: WithKind<ProtectedServer>;
  readonly name: string;
  readonly runId: string;
  readonly direction: Direction;
  readonly vault: BackupVault;
  readonly sourceVault: BackupVault;
  readonly sourcePointId: string;
  readonly local?: { readonly vcenter: VCenter; readonly vm: { readonly name: string; readonly moRef?: string | undefined } } | undefined;
  readonly disks: SeedWorkerSpec["disks"];
  readonly vmName: string;
  /** Labels describing the chain VM (disks, hardware, networks), as a cycle of it would write them. */
  readonly extraLabels: Readonly<Record<string, string>>;
  readonly gateway: WithKind<Gateway>;
  readonly sitePair: string;
}

export async function createSeedJob(kube: Kube, s: SeedJob): Promise<void> {
  const spec: SeedWorkerSpec = {
    mode: "seed",
    runId: s.runId,
    vault: workerVault(s.vault),
    source: { vault: workerVault(s.sourceVault, "sourceVault"), pointId: s.sourcePointId },
    ...(s.local ? { local: { vcenter: workerVCenter(s.local.vcenter), vm: { name: s.local.vm.name, ...(s.local.vm.moRef ? { moRef: s.local.vm.moRef } : {}) } } } : {}),
    disks: s.disks,
    labels: { ...s.extraLabels, ...lineageLabels(s.ps, s.direction), vm: s.vmName, run: s.runId, sitePair: s.sitePair },
  };
  const secretEnv = [...secretEnvFor(s.vault, s.local?.vcenter), ...vaultSecretEnv(s.sourceVault, "sourceVault")];
  const claims = [...vaultClaims(s.vault), ...vaultClaims(s.sourceVault, "sourceVault")];
  await createDrJob(kube, { owner: s.ps, name: s.name, kind: "seed", gateway: s.gateway, labels: serverLabels(s.ps), spec, secretEnv, claims });
}

/** A restore of a point to a vSphere VM (new, or in place): drill, failover and failback VMs. */
export interface RestoreJob {
  readonly owner: LifeboatObject;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly pointId: string;
  readonly vault: BackupVault;
  readonly vcenter: VCenter;
  readonly gateway: WithKind<Gateway>;
  readonly target: Omit<Extract<RestoreWorkerSpec["target"], { vSphere: unknown }>["vSphere"], "vcenter">;
}

export async function createRestoreJob(kube: Kube, r: RestoreJob): Promise<void> {
  const spec: RestoreWorkerSpec = { mode: "restore", pointId: r.pointId, vault: workerVault(r.vault), target: { vSphere: { ...r.target, vcenter: workerVCenter(r.vcenter) } } };
  await createDrJob(kube, { owner: r.owner, name: r.name, kind: "restore", gateway: r.gateway, labels: r.labels, spec, secretEnv: secretEnvFor(r.vault, r.vcenter), claims: vaultClaims(r.vault) });
}

/** A restore of a point into one of a server's VMs (failover, failback): owned by the server, at one site. */
export function createServerRestoreJob(
  kube: Kube,
  ps: WithKind<ProtectedServer>,
  name: string,
  pointId: string,
  site: { readonly vault: BackupVault; readonly vcenter: VCenter; readonly gateway: WithKind<Gateway> },
  target: RestoreJob["target"],
): Promise<void> {
  return createRestoreJob(kube, { owner: ps, name, labels: serverLabels(ps), pointId, vault: site.vault, vcenter: site.vcenter, gateway: site.gateway, target });
}

/**
 * Where a worker Job is. `attempts` counts its pods (more than one: the Job
 * retried a failed attempt); while it runs, `retry` says why the newest
 * failed attempt failed, so a status need not go on showing a dead pod's
 * last progress.
 */
export type JobOutcome =
  | { readonly state: "Missing" }
  | { readonly state: "Running"; readonly attempts: number; readonly retry?: StatusNote | undefined; readonly progress?: WorkerProgress | undefined }
  | { readonly state: "Succeeded"; readonly attempts: number; readonly finishedAt: Date }
  | { readonly state: "Failed"; readonly attempts: number; readonly reason: string; readonly message: string; readonly finishedAt: Date; readonly exitCode?: number | undefined };

/** Reads a worker Job's outcome: its conditions, its pods and the exit code of the last one, and, while it runs, the worker's /progress. */
export async function jobOutcome(kube: Kube, namespace: string, name: string, withProgress = true): Promise<JobOutcome> {
  let job: k8s.V1Job;
  try {
    job = await kube.batch.readNamespacedJob({ name, namespace });
  } catch (err) {
    if (isNotFound(err)) return { state: "Missing" };
    throw new Error(`Could not read worker Job ${namespace}/${name}`, { cause: err });
  }
  const cond = (type: string) => job.status?.conditions?.find((c) => c.type === type && c.status === "True");
  const pods = await kube.core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` });
  const attempts = pods.items.length;
  const complete = cond("Complete");
  if (complete) return { state: "Succeeded", attempts, finishedAt: new Date(complete.lastTransitionTime ?? Date.now()) };
  const failed = cond("Failed");
  if (failed) {
    const code = lastExitCode(pods.items);
    const finishedAt = new Date(failed.lastTransitionTime ?? Date.now());
    // Past its activeDeadlineSeconds the Job stops its pod: the exit code is the stop's, the deadline is the reason.
    if (code === undefined || failed.reason === "DeadlineExceeded") {
      return { state: "Failed", attempts, reason: failed.reason ?? "WorkerFailed", message: failed.message ?? "the worker Job failed", finishedAt };
    }
    // The worker's own "Reason: message" line says what to fix; the exit code alone only classifies.
    const why = lastTerminationMessage(pods.items)?.slice(0, 512);
    return {
      state: "Failed",
      attempts,
      reason: reasonForExitCode(code),
      message: `the worker exited with code ${code} (${reasonForExitCode(code)}) after ${attempts} attempt(s)${why ? `: ${why}` : "; see its pod's log"}`,
      finishedAt,
      exitCode: code,
    };
  }
  // The Job's own limit: maintenance Jobs, read here too, retry fewer times than DR workers.
  const retry = failedAttemptNote(pods.items, (job.spec?.backoffLimit ?? DR_WORKER_RETRIES) + 1);
  if (!withProgress) return { state: "Running", attempts, retry };
  const running = pods.items.find((p) => p.status?.phase === "Running" && p.status.podIP);
  return { state: "Running", attempts, retry, progress: running?.status?.podIP ? await fetchProgress(running.status.podIP) : undefined };
}

/** Deletes a worker Job and its pods (background); gone already is fine. */
export async function deleteJob(kube: Kube, namespace: string, name: string): Promise<void> {
  try {
    await kube.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: "Background" });
  } catch (err) {
    if (!isNotFound(err)) throw new Error(`Could not delete worker Job ${namespace}/${name}`, { cause: err });
  }
}
