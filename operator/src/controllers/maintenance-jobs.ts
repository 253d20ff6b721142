/**
 * Vault maintenance as worker Jobs. Forgetting points and pruning need the
 * vault's exclusive lock and read every index; on a large vault that is
 * memory and time the operator must not spend (its crash would loop, and a
 * control plane holding a vault's lock stalls every backup). So the operator
 * only decides which points go and schedules a maintenance Job on a Gateway,
 * with the Gateway's resources and placement; it reads the result from the
 * pod's termination message. A pass takes none of the Gateway's worker
 * slots (gateway-capacity.ts): it is short, and must never hold back a
 * backup or a replication cycle. The Jobs stay as history (the newest few per
 * owner), their logs beside them.
 */
import type { BackupPlanStatus, BackupVault, Gateway } from "../api/generated/types.js";
import type { ReconcileContext } from "../runtime/controller.js";
import { controllerRef, isConflict, type Kube, type LifeboatObject, type WithKind } from "../runtime/kube.js";
import { isoSeconds } from "../util/time.js";
import { parseMaintenanceResult, type MaintenanceResult, type MaintenanceWorkerSpec } from "../worker/spec.js";
import { creationMs, labelValue, lastTerminationMessage, secretEnvFor, shortHash, vaultClaims, WORKER_LABELS, workerJob, workerVault } from "../workloads/worker-job.js";
import { requestVaultSync } from "./backup-runs.js";
import { deleteJob, jobOutcome } from "./dr-jobs.js";
import { jobFinished } from "./gateway-capacity.js";

/** The prune margin: packs younger than this are kept, as a backup still in flight may be about to reference them. */
export const PRUNE_MARGIN_MS = 60 * 60_000;
/** Retries of a killed maintenance pod: forgetting and pruning again is safe, and the retry frees its predecessor's lock. */
const MAINTENANCE_RETRIES = 2;
/** Finished maintenance Jobs kept per owner, newest first, as history. */
export const MAINTENANCE_HISTORY = 3;
/** How often a running retention pass is looked at, by a plan and a ProtectedServer alike: passes are short, and each look reads one Job and its pods. */
export const RETENTION_POLL_MS = 5_000;
/**
 * How long a pass may take, a pod stuck Pending included, before Kubernetes
 * stops it (DeadlineExceeded) and the owner's next pass can start: forgetting
 * and pruning take minutes; a check that reads every pack, hours.
 */
const PASS_DEADLINE_SECONDS = 6 * 3600;
const CHECK_DEADLINE_SECONDS = 48 * 3600;

/** The maintenance Job of one pass (a DNS label: at most 63 characters). */
export function maintenanceJobName(owner: LifeboatObject, pass: string): string {
  const name = (owner.metadata.name ?? "").slice(0, 30).replace(/[-.]+$/, "");
  return `${name}-maint-${shortHash(owner.metadata.namespace ?? "", owner.kind, owner.metadata.name ?? "", owner.metadata.uid ?? "", pass)}`;
}

/** One maintenance pass to schedule. */
export interface MaintenancePass {
  readonly owner: LifeboatObject;
  readonly name: string;
  readonly vault: BackupVault;
  readonly gateway: WithKind<Gateway>;
  readonly forget: readonly string[];
  readonly prune: boolean;
  readonly check?: { readonly readData: boolean } | undefined;
}

function ownerLabels(owner: LifeboatObject): Record<string, string> {
  return { [WORKER_LABELS.maintenanceKind]: owner.kind, [WORKER_LABELS.maintenanceFor]: labelValue(owner.metadata.name ?? "") };
}

/** Creates the pass's Job; one that already exists (a repeated reconcile) is left as it is. */
export async function startMaintenanceJob(kube: Kube, pass: MaintenancePass): Promise<void> {
  const ns = pass.owner.metadata.namespace ?? "";
  const spec: MaintenanceWorkerSpec = {
    mode: "maintenance",
    vault: workerVault(pass.vault),
    forget: [...pass.forget],
    ...(pass.prune ? { prune: { marginMs: PRUNE_MARGIN_MS } } : {}),
    ...(pass.check ? { check: pass.check } : {}),
  };
  const body = workerJob({
    name: pass.name,
    namespace: ns,
    labels: ownerLabels(pass.owner),
    owner: controllerRef(pass.owner),
    spec,
    secretEnv: secretEnvFor(pass.vault),
    claims: vaultClaims(pass.vault),
    gateway: pass.gateway,
    backoffLimit: MAINTENANCE_RETRIES,
    activeDeadlineSeconds: pass.check ? CHECK_DEADLINE_SECONDS : PASS_DEADLINE_SECONDS,
  });
  try {
    await kube.batch.createNamespacedJob({ namespace: ns, body });
  } catch (err) {
    if (!isConflict(err)) throw new Error(`Could not create maintenance Job ${ns}/${pass.name}`, { cause: err });
  }
}

/** Where a maintenance pass is. */
export type MaintenanceOutcome =
  | { readonly state: "Running" }
  | { readonly state: "Succeeded"; readonly result: MaintenanceResult; readonly finishedAt: Date }
  | { readonly state: "Failed"; readonly reason: string; readonly message: string; readonly finishedAt: Date };

/** Reads a pass's Job: running, its result, or why it failed (a Job deleted before it was read counts as failed). */
export async function readMaintenanceJob(kube: Kube, namespace: string, name: string): Promise<MaintenanceOutcome> {
  const outcome = await jobOutcome(kube, namespace, name, false);
  switch (outcome.state) {
    case "Running":
      return { state: "Running" };
    case "Missing":
      return { state: "Failed", reason: "JobGone", message: `maintenance Job ${name} was deleted before its result was read`, finishedAt: new Date() };
    case "Failed":
      return outcome;
    case "Succeeded": {
      const pods = await kube.core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` }).catch((err: unknown) => {
        throw new Error(`Could not list the pods of maintenance Job ${namespace}/${name}`, { cause: err });
      });
      const result = parseMaintenanceResult(lastTerminationMessage(pods.items));
      if (!result) return { state: "Failed", reason: "NoResult", message: `maintenance Job ${name} succeeded but left no result (its pod is gone); see the Job's log`, finishedAt: outcome.finishedAt };
      return { state: "Succeeded", result, finishedAt: outcome.finishedAt };
    }
  }
}

/** Removes the owner's finished maintenance Jobs beyond the newest MAINTENANCE_HISTORY; a running one is never removed. */
export async function pruneMaintenanceHistory(kube: Kube, owner: LifeboatObject): Promise<void> {
  const ns = owner.metadata.namespace ?? "";
  const selector = Object.entries(ownerLabels(owner)).map(([k, v]) => `${k}=${v}`).join(",");
  const jobs = await kube.batch.listNamespacedJob({ namespace: ns, labelSelector: selector }).catch((err: unknown) => {
    throw new Error(`Could not list the maintenance Jobs of ${owner.kind} ${ns}/${owner.metadata.name ?? ""}`, { cause: err });
  });
  const finished = jobs.items.filter(jobFinished).sort((a, b) => creationMs(b) - creationMs(a));
  for (const j of finished.slice(MAINTENANCE_HISTORY)) await deleteJob(kube, ns, j.metadata?.name ?? "");
}

/** A one-line summary of a pass's result, for events and status. */
export function describeMaintenance(r: MaintenanceResult): string {
  const parts = [`forgot ${r.forgotten} recovery point(s) the retention does not keep`];
  if (r.keptLocked > 0) parts.push(`${r.keptLocked} kept by the vault lock until their retain-until`);
  if (r.prune) parts.push(`prune freed ${r.prune.bytesFreed} bytes (${r.prune.packsDeleted} pack(s) deleted, ${r.prune.packsRepacked} repacked, ${r.prune.packsKeptYoung} kept as younger than the margin)`);
  if (r.pruneDeferred) parts.push(`prune deferred to a later pass: ${r.pruneDeferred}`);
  return parts.join("; ");
}

/** status.retention of a BackupPlan or a ProtectedServer (the same schema: api/common.ts retentionPass). */
export type RetentionPassStatus = NonNullable<BackupPlanStatus["retention"]>;

/** An object whose retention passes run as maintenance Jobs. */
export type RetentionOwner = LifeboatObject & { status?: { retention?: RetentionPassStatus } };

/**
 * Starts a retention pass of `owner` for one run or cycle: its maintenance
 * Job (named by the run, so a repeated reconcile finds the same Job) and
 * status.retention, which followRetentionPass then follows.
 */
export async function beginRetentionPass(owner: RetentionOwner, run: string, pass: Pick<MaintenancePass, "vault" | "gateway" | "forget" | "prune">, ctx: ReconcileContext): Promise<void> {
  const job = maintenanceJobName(owner, run);
  await startMaintenanceJob(ctx.kube, { ...pass, owner, name: job });
  (owner.status ??= {}).retention = { job, run, phase: "Running", startTime: isoSeconds(new Date()), message: `forgetting ${pass.forget.length} recovery point(s)${pass.prune ? ", then pruning" : ""}` };
  ctx.log.info({ job, forget: pass.forget.length, prune: pass.prune }, "Started a retention pass");
}

/**
 * Follows a running retention pass of `owner`; records its end in
 * status.retention and as an event, asks `vaults` (names in the owner's
 * namespace) to sync their RecoveryPoints, and trims the Job history.
 * Returns true while the pass runs. The operator may have restarted since
 * the pass began: the Job and its pod's termination message are the truth.
 */
export async function followRetentionPass(owner: RetentionOwner, vaults: readonly string[], ctx: ReconcileContext): Promise<boolean> {
  const pass = owner.status?.retention;
  if (pass?.phase !== "Running" || !pass.job) return false;
  const ns = owner.metadata.namespace ?? "";
  const outcome = await readMaintenanceJob(ctx.kube, ns, pass.job);
  if (outcome.state === "Running") return true;
  const ended: RetentionPassStatus = { ...pass, completionTime: isoSeconds(outcome.finishedAt), phase: outcome.state };
  if (outcome.state === "Succeeded") {
    const r = outcome.result;
    Object.assign(ended, { forgotten: r.forgotten, keptLocked: r.keptLocked, bytesFreed: r.prune?.bytesFreed ?? 0, message: describeMaintenance(r), ...(r.pruneDeferred ? { reason: "PruneDeferred" } : {}) });
    await ctx.events.record(owner, "Normal", "RetentionApplied", ended.message ?? "");
  } else {
    Object.assign(ended, { reason: outcome.reason, message: outcome.message });
    await ctx.events.record(owner, "Warning", "RetentionFailed", `retention pass ${pass.job} failed (${outcome.reason}): ${outcome.message}`);
  }
  (owner.status ??= {}).retention = ended;
  ctx.log.info({ job: pass.job, phase: ended.phase, message: ended.message }, "Retention pass ended");
  for (const name of new Set(vaults)) await requestVaultSync({ metadata: { namespace: ns, name } }, ctx);
  await pruneMaintenanceHistory(ctx.kube, owner);
  return false;
}
