import type * as k8s from "@kubernetes/client-node";
import type { BackupVault, Gateway, RecoveryPoint, RestoreJob, VCenter } from "../api/generated/types.js";
import { isoSeconds } from "../util/time.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import { controllerRef, isConflict, type WithKind } from "../runtime/kube.js";
import { reasonForExitCode, SECRET_ENV, type RestoreWorkerSpec } from "../worker/spec.js";
import { lastExitCode, secretEnvFor, shortHash, vaultClaims, WORKER_LABELS, workerJob, workerS3Location, workerVault, workerVCenter } from "../workloads/worker-job.js";
import { imageFileClaims, imageFileResultPaths, imageFileWorkerDir } from "./image-file-target.js";
import { PROGRESS_INTERVAL_MS } from "./backup-runs.js";
import type { GatewayCapacity } from "./gateway-capacity.js";
import { firstProblem, problemCondition, readSecretKeys, resolveRef, type Checked } from "./references.js";
import type { VCenterConnections } from "./vcenter-connections.js";
import { vcenterConnectOptions } from "./vcenter-controller.js";
import { fetchProgress } from "./worker-progress.js";



/** Env carrying the credentials of an imageFile.s3 target, from the Secret it names. */
function imageSecretEnv(job: RestoreJob): k8s.V1EnvVar[] {
  const ref = job.spec.target.imageFile?.s3?.credentialsSecretRef;
  if (!ref) return [];
  return [
    { name: SECRET_ENV.imageAccessKeyId, valueFrom: { secretKeyRef: { name: ref.name, key: ref.accessKeyIdKey ?? "accessKeyId" } } },
    { name: SECRET_ENV.imageSecretAccessKey, valueFrom: { secretKeyRef: { name: ref.name, key: ref.secretAccessKeyKey ?? "secretAccessKey" } } },
  ];
}

/** The worker Job of a RestoreJob. */
export function restoreJobName(job: RestoreJob): string {
  return `restore-${(job.metadata.name ?? "").slice(0, 40).replace(/-+$/, "")}-${shortHash(job.metadata.uid ?? "")}`;
}

/** How often a restore waiting for a Gateway slot looks again (workers run for minutes). */
const SLOT_POLL_MS = 10_000;

/**
 * Restores a recovery point (seed 000) by running one restore worker: to a
 * new VM (or over the original, only with confirmInPlace, which the API
 * enforces) in the same or another VCenter, or to raw disk image files.
 * Before it starts, the point must be Available, the gateway Activated and
 * the target reachable; until then Succeeded is Unknown with the reason.
 * Progress comes from the worker; the result (the new VM's MoRef, or the
 * files written) is read back from vCenter or known by name.
 */
export class RestoreJobReconciler implements Reconciler<RestoreJob> {
  readonly kind = "RestoreJob";
  readonly readyCondition = "Succeeded";

  constructor(
    private readonly vcenters: VCenterConnections,
    private readonly capacity: GatewayCapacity,
  ) {}

  async reconcile(job: WithKind<RestoreJob>, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = job.metadata.namespace ?? "";
    const status = (job.status ??= {});
    if (status.phase === "Succeeded" || status.phase === "Failed") return undefined;
    status.phase ??= "Pending";

    // Once its worker exists, a restore is followed to the end whatever happens to the references meanwhile.
    const name = restoreJobName(job);
    const workers = await ctx.kube.batch.listNamespacedJob({ namespace: ns, labelSelector: `${WORKER_LABELS.restore}=${shortHash(job.metadata.uid ?? "")}` });
    const existing = workers.items.find((j) => j.metadata?.name === name);
    if (existing) {
      const point = await ctx.kube.get<WithKind<RecoveryPoint>>("RecoveryPoint", ns, job.spec.recoveryPointRef.name);
      const target = job.spec.target.vSphere ? await ctx.kube.get<WithKind<VCenter>>("VCenter", ns, job.spec.target.vSphere.vCenterRef.name) : undefined;
      return this.observe(job, existing, point, target, ctx);
    }

    const rp = await resolveRef<WithKind<RecoveryPoint>>(ctx.kube, "RecoveryPoint", ns, "spec.recoveryPointRef", job.spec.recoveryPointRef.name, "Available");
    const gateway = await resolveRef<WithKind<Gateway>>(ctx.kube, "Gateway", ns, "spec.gatewayRef", job.spec.gatewayRef.name, "Activated");
    const checks: Checked<unknown>[] = [rp, gateway];
    const t = job.spec.target;
    let vc: Checked<WithKind<VCenter>> | undefined;
    if (t.vSphere) {
      vc = await resolveRef<WithKind<VCenter>>(ctx.kube, "VCenter", ns, "spec.target.vSphere.vCenterRef", t.vSphere.vCenterRef.name, "Connected");
      checks.push(vc);
    }
    if (t.cloudImage) {
      checks.push(await readSecretKeys(ctx.kube, ns, "spec.target.cloudImage.credentialsSecretRef", t.cloudImage.credentialsSecretRef, { accessKeyIdKey: "accessKeyId", accessKeySecretKey: "accessKeySecret" }));
    }
    if (t.imageFile?.s3) {
      checks.push(await readSecretKeys(ctx.kube, ns, "spec.target.imageFile.s3.credentialsSecretRef", t.imageFile.s3.credentialsSecretRef, { accessKeyIdKey: "accessKeyId", secretAccessKeyKey: "secretAccessKey" }));
    }
    const problem = firstProblem(checks);
    if (problem || !rp.ok || !gateway.ok) {
      ctx.setCondition(job, { ...problemCondition("Succeeded", problem ?? { reason: "Pending", message: "waiting for the references to resolve" }), status: "Unknown" });
      return { requeueAfterMs: 60_000 };
    }
    const vault = await resolveRef<WithKind<BackupVault>>(ctx.kube, "BackupVault", ns, "recoveryPoint.spec.vaultRef", rp.value.spec.vaultRef.name, "Ready");
    if (!vault.ok) {
      ctx.setCondition(job, { ...problemCondition("Succeeded", vault.problem), status: "Unknown" });
      return { requeueAfterMs: 60_000 };
    }

    const spec = this.workerSpec(job, rp.value, vault.value, vc?.ok ? vc.value : undefined);
    if (!spec) {
      status.phase = "Failed";
      ctx.setCondition(job, { type: "Succeeded", status: "False", reason: "UnsupportedTarget", message: "this version of Lifeboat restores to vSphere and to raw image files (on a claim or in a bucket); cloud images and qcow2/vhd files are not supported yet" });
      return undefined;
    }

    // A restore takes one of the Gateway's worker slots, as a backup worker does.
    const noSlot = await this.capacity.withSlots(ctx.kube, ns, gateway.value, async (slots) => {
      if (slots.active >= slots.limit) return { busy: `${slots.active} of its ${slots.limit}` };
      await this.createWorker(job, name, spec, vault.value, gateway.value, vc?.ok ? vc.value : undefined, ctx);
      return undefined;
    });
    if (noSlot) {
      ctx.setCondition(job, { type: "Succeeded", status: "Unknown", reason: "WaitingForGateway", message: `Gateway ${job.spec.gatewayRef.name} runs ${noSlot.busy} workers; the restore starts when one finishes` });
      return { requeueAfterMs: SLOT_POLL_MS };
    }
    status.phase = "Running";
    status.startTime = isoSeconds(new Date());
    ctx.setCondition(job, { type: "Succeeded", status: "Unknown", reason: "Running", message: `restore worker ${name} started` });
    await ctx.events.record(job, "Normal", "Started", `restoring ${rp.value.metadata.name ?? ""} with worker ${name}`);
    return { requeueAfterMs: PROGRESS_INTERVAL_MS };
  }

  private workerSpec(job: RestoreJob, rp: RecoveryPoint, vault: BackupVault, vc: VCenter | undefined): RestoreWorkerSpec | undefined {
    const t = job.spec.target;
    if (t.vSphere && vc) {
      const v = t.vSphere;
      return {
        mode: "restore",
        pointId: rp.spec.pointID,
        vault: workerVault(vault),
        target: {
          vSphere: {
            vcenter: workerVCenter(vc),
            datastore: v.datastore,
            inPlace: v.inPlace ?? false,
            networkMappings: v.networkMappings ?? [],
            diskProvisioning: v.diskProvisioning ?? "Thin",
            powerOn: v.powerOn ?? false,
            ...(v.datacenter ? { datacenter: v.datacenter } : {}),
            ...(v.cluster ? { cluster: v.cluster } : {}),
            ...(v.host ? { host: v.host } : {}),
            ...(v.resourcePool ? { resourcePool: v.resourcePool } : {}),
            ...(v.folder ? { folder: v.folder } : {}),
            ...(v.vmName ? { vmName: v.vmName } : {}),
          },
        },
      };
    }
    const file = t.imageFile;
    if (file && (file.format ?? "raw") === "raw" && (file.persistentVolumeClaim || file.s3)) {
      const s3 = file.s3;
      return {
        mode: "restore",
        pointId: rp.spec.pointID,
        vault: workerVault(vault),
        target: {
          imageFile: {
            format: "raw",
            ...(file.persistentVolumeClaim ? { path: imageFileWorkerDir(file) } : {}),
            ...(s3 ? { s3: workerS3Location(s3) } : {}),
            ...(file.diskKeys ? { diskKeys: file.diskKeys } : {}),
          },
        },
      };
    }
    return undefined;
  }

  private async createWorker(job: WithKind<RestoreJob>, name: string, spec: RestoreWorkerSpec, vault: BackupVault, gateway: WithKind<Gateway>, vc: VCenter | undefined, ctx: ReconcileContext): Promise<void> {
    const body = workerJob({
      name,
      namespace: job.metadata.namespace ?? "",
      labels: { [WORKER_LABELS.restore]: shortHash(job.metadata.uid ?? "") },
      owner: controllerRef(job),
      spec,
      secretEnv: [...secretEnvFor(vault, vc), ...imageSecretEnv(job)],
      claims: [...vaultClaims(vault), ...imageFileClaims(job.spec.target.imageFile)],
      gateway,
      backoffLimit: 2,
    });
    try {
      await ctx.kube.batch.createNamespacedJob({ namespace: job.metadata.namespace ?? "", body });
    } catch (err) {
      if (!isConflict(err)) throw new Error(`Could not create restore worker ${name}`, { cause: err });
    }
  }

  private async observe(job: WithKind<RestoreJob>, worker: k8s.V1Job, rp: RecoveryPoint | undefined, vc: WithKind<VCenter> | undefined, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const status = (job.status ??= {});
    const ns = job.metadata.namespace ?? "";
    const total = (rp?.spec.disks ?? []).reduce((n, d) => n + d.capacityBytes, 0);
    const complete = worker.status?.conditions?.find((c) => c.type === "Complete" && c.status === "True");
    const failed = worker.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True");
    const pods = await ctx.kube.core.listNamespacedPod({ namespace: ns, labelSelector: `job-name=${worker.metadata?.name ?? ""}` });
    if (complete) {
      status.phase = "Succeeded";
      status.completionTime = isoSeconds(new Date());
      status.progress = { bytesDone: total, bytesTotal: total, percent: 100, throughputBytesPerSecond: status.progress?.throughputBytesPerSecond ?? 0 };
      status.result = await this.result(job, rp, vc, ctx);
      ctx.setCondition(job, { type: "Succeeded", status: "True", reason: "Restored", message: status.result.vmMoRef ? `restored as VM ${status.result.vmName ?? ""} (${status.result.vmMoRef})` : `restored to ${(status.result.paths ?? []).join(", ")}` });
      await ctx.events.record(job, "Normal", "Restored", status.result.vmMoRef ? `VM ${status.result.vmMoRef}` : "image files written");
      return undefined;
    }
    if (failed) {
      const code = lastExitCode(pods.items);
      status.phase = "Failed";
      status.completionTime = isoSeconds(new Date());
      ctx.setCondition(job, {
        type: "Succeeded",
        status: "False",
        reason: code === undefined ? "WorkerFailed" : reasonForExitCode(code),
        message: `the restore worker failed after ${pods.items.length} attempt(s)${code === undefined ? "" : ` (exit code ${code})`}; see the worker pod's output`,
      });
      await ctx.events.record(job, "Warning", "Failed", `restore failed${code === undefined ? "" : ` with exit code ${code}`}`);
      return undefined;
    }
    const running = pods.items.find((p) => p.status?.phase === "Running" && p.status.podIP);
    const progress = running?.status?.podIP ? await fetchProgress(running.status.podIP) : undefined;
    if (progress) {
      const bytesTotal = progress.bytesTotal || total;
      status.progress = {
        bytesDone: progress.bytesDone,
        bytesTotal,
        percent: bytesTotal > 0 ? Math.min(100, Math.floor((progress.bytesDone * 100) / bytesTotal)) : 0,
        throughputBytesPerSecond: Math.round(progress.throughputBytesPerSecond),
      };
    }
    return { requeueAfterMs: PROGRESS_INTERVAL_MS };
  }

  /** What a finished restore produced, read back from where it went. */
  private async result(job: RestoreJob, rp: RecoveryPoint | undefined, vc: WithKind<VCenter> | undefined, ctx: ReconcileContext): Promise<NonNullable<NonNullable<RestoreJob["status"]>["result"]>> {
    const t = job.spec.target;
    if (!rp) return t.vSphere?.vmName ? { vmName: t.vSphere.vmName } : {};
    if (t.imageFile) return { paths: imageFileResultPaths(t.imageFile, rp) };
    const vmName = t.vSphere?.inPlace ? rp.spec.vm.name : (t.vSphere?.vmName ?? "");
    if (!vc) return { vmName };
    const options = await vcenterConnectOptions(ctx.kube, vc);
    if (!options.ok) return { vmName };
    const conn = await this.vcenters.get(`${vc.metadata.namespace ?? ""}/${vc.metadata.name ?? ""}`, options.value);
    const vms = await conn.client.findVmsByName(vmName);
    const vm = t.vSphere?.inPlace && rp.spec.vm.moRef ? vms.find((v) => v.ref.value === rp.spec.vm.moRef) ?? vms[0] : vms[0];
    return { vmName, ...(vm ? { vmMoRef: vm.ref.value } : {}) };
  }
}
