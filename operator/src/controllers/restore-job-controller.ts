import type * as k8s from "@kubernetes/client-node";
import type { BackupVault, Gateway, RecoveryPoint, RestoreJob, VCenter } from "../api/generated/types.js";
import { formatBytes, formatRate } from "../util/quantity.js";
import { isoSeconds } from "../util/time.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import type { OperatorMetrics } from "../telemetry/metrics.js";
import { controllerRef, isConflict, type WithKind } from "../runtime/kube.js";
import { reasonForExitCode, SECRET_ENV, terminationObject, type RestoreWorkerSpec } from "../worker/spec.js";
import { cloudSecretEnv, failedAttemptNote, lastExitCode, lastTerminationMessage, secretEnvFor, shortHash, vaultClaims, VCENTER_OUTAGE_WAIT_SECONDS, WORKER_LABELS, workerImage, workerJob, workerS3Location, workerVault, workerVCenter } from "../workloads/worker-job.js";
import { imageFileClaims, imageFileResultPaths, imageFileWorkerDir } from "./image-file-target.js";
import { PROGRESS_INTERVAL_MS } from "./backup-runs.js";
import type { GatewayCapacity } from "./gateway-capacity.js";
import { firstProblem, problemCondition, readSecretKeys, resolveRef, type Checked } from "./references.js";
import type { VCenterConnections } from "./vcenter-connections.js";
import { vcenterConnectOptions } from "./vcenter-controller.js";
import { fetchProgress, shownOutage, workerOutage } from "./worker-progress.js";
import { CloudApiError, EcsApi } from "../cloud/alibaba/ecs-api.js";
import { ossClient } from "../cloud/alibaba/oss-upload.js";
import { cleanUpRestore, nothingLeft, RESTORE_TAG } from "../cloud/alibaba/restore-cleanup.js";



/**
 * The command an IntermediateInstance restore's temporary instance runs:
 * Lifeboat's own image (the one its workers run), its guest program reading
 * the spec on standard input; privileged for the block devices. The
 * instance's image must have Docker.
 */
export function defaultGuestCommand(): string {
  return `docker run --rm -i --privileged --network host -v /dev:/dev --entrypoint node ${workerImage()} /app/dist/operator/src/worker/guest-main.js`;
}

/** Env carrying the credentials of an imageFile.s3 or cloudImage target, from the Secret it names. */
function imageSecretEnv(job: RestoreJob): k8s.V1EnvVar[] {
  const cloud = job.spec.target.cloudImage?.credentialsSecretRef;
  if (cloud) return cloudSecretEnv(cloud);
  const ref = job.spec.target.imageFile?.s3?.credentialsSecretRef;
  if (!ref) return [];
  const ca = job.spec.target.imageFile?.s3?.caSecretRef;
  return [
    { name: SECRET_ENV.imageAccessKeyId, valueFrom: { secretKeyRef: { name: ref.name, key: ref.accessKeyIdKey ?? "accessKeyId" } } },
    { name: SECRET_ENV.imageSecretAccessKey, valueFrom: { secretKeyRef: { name: ref.name, key: ref.secretAccessKeyKey ?? "secretAccessKey" } } },
    ...(ca ? [{ name: SECRET_ENV.imageCa, valueFrom: { secretKeyRef: { name: ca.name, key: ca.key ?? "ca.crt" } } }] : []),
  ];
}

/** The id a restore to a cloud image tags its images with and stages its files under: its worker Job's name, unique per RestoreJob. */
export function cloudRestoreId(job: RestoreJob): string {
  return restoreJobName(job);
}

/** The worker Job of a RestoreJob. */
export function restoreJobName(job: RestoreJob): string {
  return `restore-${(job.metadata.name ?? "").slice(0, 40).replace(/-+$/, "")}-${shortHash(job.metadata.uid ?? "")}`;
}

/** How long a deleted cloud RestoreJob keeps retrying its clean-up through transient errors before it lets go, with a Warning. */
const CLEANUP_GIVE_UP_MS = 15 * 60_000;

/** How often a restore waiting for a Gateway slot looks again (workers run for minutes). */
const SLOT_POLL_MS = 10_000;
/** A restore worker's pod is tried again this often after it fails (a vCenter restarting, a node lost). */
const RESTORE_RETRIES = 2;

/**
 * Restores a recovery point (seed 000) by running one restore worker: to a
 * new VM (or over the original, only with confirmInPlace, which the API
 * enforces) in the same or another VCenter, or to disk image files (raw,
 * qcow2, VHD, stream-optimized VMDK).
 * Before it starts, the point must be Available, the gateway Activated and
 * the target reachable; until then Succeeded is Unknown with the reason.
 * Progress comes from the worker; the result (the new VM's MoRef, or the
 * files written) is read back from vCenter or known by name.
 */
export class RestoreJobReconciler implements Reconciler<RestoreJob> {
  readonly kind = "RestoreJob";
  readonly readyCondition = "Succeeded";
  /** A restore to a cloud image cleans up what it left in the cloud when it is deleted. */
  readonly finalizer = "lifeboat.io/cloud-cleanup";

  needsFinalizer(job: RestoreJob): boolean {
    return job.spec.target.cloudImage !== undefined;
  }

  /**
   * Deleting a restore to a cloud image stops its worker, then deletes the
   * images, temporary instances, disks, snapshots and staged files tagged
   * with its id (an importing image after cancelling its import) and keeps
   * the finalizer until a listing finds none. A succeeded restore's image,
   * and the snapshots it is made of, are its result and stay; whatever else
   * its worker could not delete goes.
   */
  /** A deleted RestoreJob's worker goes with it: it is no one's stuck worker. */
  forgetMetrics(namespace: string, name: string, metrics: OperatorMetrics): void {
    metrics.forgetWorkersOf(namespace, `RestoreJob/${name}`);
  }

  async finalize(job: RestoreJob, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const cloud = job.spec.target.cloudImage;
    if (!cloud) return undefined;
    // A succeeded restore's image (and the snapshots it is made of) is its result and stays; anything else it left goes.
    const keepImageId = job.status?.phase === "Succeeded" ? job.status.result?.imageId : undefined;
    if (job.status?.phase === "Succeeded" && !keepImageId) return undefined;
    const ns = job.metadata.namespace ?? "";
    const selector = `${WORKER_LABELS.restore}=${shortHash(job.metadata.uid ?? "")}`;
    const workers = await ctx.kube.batch.listNamespacedJob({ namespace: ns, labelSelector: selector });
    // No worker ever started (refused, or still waiting for a slot): nothing was made in the cloud.
    if (workers.items.length === 0 && !job.status?.startTime) return undefined;
    for (const w of workers.items) {
      if (!w.metadata?.deletionTimestamp) await ctx.kube.batch.deleteNamespacedJob({ namespace: ns, name: w.metadata?.name ?? "", propagationPolicy: "Foreground" }).catch(() => undefined);
    }
    const pods = await ctx.kube.core.listNamespacedPod({ namespace: ns, labelSelector: `job-name=${restoreJobName(job)}` });
    if (workers.items.length > 0 || pods.items.length > 0) return { requeueAfterMs: 3_000 };
    const keys = await readSecretKeys(ctx.kube, ns, "spec.target.cloudImage.credentialsSecretRef", cloud.credentialsSecretRef, { accessKeyIdKey: "accessKeyId", accessKeySecretKey: "accessKeySecret" });
    if (!keys.ok) {
      await ctx.events.record(job, "Warning", "CleanupSkipped", `could not clean up images and files tagged ${RESTORE_TAG}=${cloudRestoreId(job)} in ${cloud.region}: ${keys.problem.message}; delete them by hand`);
      return undefined;
    }
    const credentials = { accessKeyId: keys.value.accessKeyIdKey?.toString() ?? "", accessKeySecret: keys.value.accessKeySecretKey?.toString() ?? "" };
    const ecs = new EcsApi({ regionId: cloud.region, endpoint: cloud.ecsEndpoint, ...credentials }, { retryForMs: 20_000, waitForMs: 20_000 });
    const oss = cloud.ossBucket ? ossClient({ regionId: cloud.region, bucket: cloud.ossBucket, endpoint: cloud.ossEndpoint, ...credentials }) : undefined;
    try {
      const left = await cleanUpRestore(ecs, oss, cloud.region, cloudRestoreId(job), keepImageId);
      if (nothingLeft(left)) {
        await ctx.events.record(job, "Normal", "CleanedUp", `deleted the images, instances, disks, snapshots and staged files tagged ${RESTORE_TAG}=${cloudRestoreId(job)}`);
        return undefined;
      }
      ctx.log.info({ ...left }, "Cloud clean-up not finished yet");
    } catch (err) {
      if (err instanceof CloudApiError && !/^(Throttling|ServiceUnavailable|Incorrect)/.test(err.code)) {
        await ctx.events.record(job, "Warning", "CleanupFailed", `${err.message}; delete what is tagged ${RESTORE_TAG}=${cloudRestoreId(job)} by hand`);
        return undefined;
      }
      // An endpoint that stays unreachable must not keep the RestoreJob forever.
      const deletingForMs = Date.now() - Date.parse(job.metadata.deletionTimestamp?.toString() ?? "");
      if (deletingForMs > CLEANUP_GIVE_UP_MS) {
        await ctx.events.record(job, "Warning", "CleanupFailed", `gave up cleaning up after ${Math.round(deletingForMs / 60_000)} minutes (${String(err)}); delete what is tagged ${RESTORE_TAG}=${cloudRestoreId(job)} in ${cloud.region} by hand`);
        return undefined;
      }
      ctx.log.warn({ err: String(err) }, "Cloud clean-up failed; will retry");
    }
    return { requeueAfterMs: 10_000 };
  }

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

    const rp = await resolveRef<WithKind<RecoveryPoint>>(ctx.cache, "RecoveryPoint", ns, "spec.recoveryPointRef", job.spec.recoveryPointRef.name, "Available");
    const gateway = await resolveRef<WithKind<Gateway>>(ctx.cache, "Gateway", ns, "spec.gatewayRef", job.spec.gatewayRef.name, "Activated");
    const checks: Checked<unknown>[] = [rp, gateway];
    const t = job.spec.target;
    let vc: Checked<WithKind<VCenter>> | undefined;
    if (t.vSphere) {
      vc = await resolveRef<WithKind<VCenter>>(ctx.cache, "VCenter", ns, "spec.target.vSphere.vCenterRef", t.vSphere.vCenterRef.name, "Connected");
      checks.push(vc);
    }
    if (t.cloudImage) {
      checks.push(await readSecretKeys(ctx.kube, ns, "spec.target.cloudImage.credentialsSecretRef", t.cloudImage.credentialsSecretRef, { accessKeyIdKey: "accessKeyId", accessKeySecretKey: "accessKeySecret" }));
    }
    if (t.imageFile?.s3) {
      checks.push(await readSecretKeys(ctx.kube, ns, "spec.target.imageFile.s3.credentialsSecretRef", t.imageFile.s3.credentialsSecretRef, { accessKeyIdKey: "accessKeyId", secretAccessKeyKey: "secretAccessKey" }));
      // The worker would wait for a missing CA Secret forever (secretKeyRef): say so here instead.
      if (t.imageFile.s3.caSecretRef) checks.push(await readSecretKeys(ctx.kube, ns, "spec.target.imageFile.s3.caSecretRef", t.imageFile.s3.caSecretRef, { key: "ca.crt" }));
    }
    const problem = firstProblem(checks);
    if (problem || !rp.ok || !gateway.ok) {
      ctx.setCondition(job, { ...problemCondition("Succeeded", problem ?? { reason: "Pending", message: "waiting for the references to resolve" }), status: "Unknown" });
      return { requeueAfterMs: 60_000 };
    }
    if (!rp.value.spec.vaultRef) {
      const server = rp.value.spec.protectedServerRef?.name ?? "its ProtectedServer";
      ctx.setCondition(job, { type: "Succeeded", status: "Unknown", reason: "CloudSnapshotPoint", message: `spec.recoveryPointRef: RecoveryPoint ${rp.value.metadata.name ?? ""} is a point of ECS snapshots (cloud-to-cloud replication), not a point in a vault: bring it up with a RecoveryDrill or a failover of ProtectedServer ${server}` });
      return undefined;
    }
    const vault = await resolveRef<WithKind<BackupVault>>(ctx.cache, "BackupVault", ns, "recoveryPoint.spec.vaultRef", rp.value.spec.vaultRef.name, "Ready");
    if (!vault.ok) {
      ctx.setCondition(job, { ...problemCondition("Succeeded", vault.problem), status: "Unknown" });
      return { requeueAfterMs: 60_000 };
    }

    const spec = this.workerSpec(job, rp.value, vault.value, vc?.ok ? vc.value : undefined);
    if (!spec) {
      status.phase = "Failed";
      ctx.setCondition(job, {
        type: "Succeeded",
        status: "False",
        reason: "UnsupportedTarget",
        message: "this version of Lifeboat restores to vSphere, to ECS images and to image files on a claim or in a bucket",
      });
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
            vcenter: workerVCenter(vc, { outageWaitSeconds: VCENTER_OUTAGE_WAIT_SECONDS }),
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
    const cloud = t.cloudImage;
    const strategy = cloud?.strategy ?? "ImportImage";
    if (cloud && (strategy === "ImportImage" || cloud.intermediateInstance)) {
      const ii = cloud.intermediateInstance;
      return {
        mode: "restore",
        pointId: rp.spec.pointID,
        vault: workerVault(vault),
        target: {
          cloudImage: {
            provider: "AlibabaECS",
            regionId: cloud.region,
            imageName: cloud.imageName,
            strategy,
            format: cloud.format ?? "QCOW2",
            ossBucket: cloud.ossBucket,
            restoreId: cloudRestoreId(job),
            ...(cloud.osType ? { osType: cloud.osType } : {}),
            ...(cloud.platform ? { platform: cloud.platform } : {}),
            ...(cloud.architecture ? { architecture: cloud.architecture } : {}),
            ...(cloud.bootMode ? { bootMode: cloud.bootMode } : {}),
            ...(cloud.ecsEndpoint ? { ecsEndpoint: cloud.ecsEndpoint } : {}),
            ...(cloud.ossEndpoint ? { ossEndpoint: cloud.ossEndpoint } : {}),
            ...(strategy === "IntermediateInstance" && ii
              ? {
                  intermediateInstance: {
                    imageId: ii.imageId,
                    instanceType: ii.instanceType,
                    vSwitchId: ii.vSwitchId,
                    securityGroupId: ii.securityGroupId,
                    ...(ii.zoneId ? { zoneId: ii.zoneId } : {}),
                    diskCategory: ii.diskCategory ?? "cloud_essd",
                    guestCommand: ii.guestCommand ?? defaultGuestCommand(),
                    guestTimeoutMs: (ii.timeoutMinutes ?? 240) * 60_000,
                    ...(ii.ossEndpoint ? { ossEndpoint: ii.ossEndpoint } : {}),
                  },
                }
              : {}),
          },
        },
      };
    }
    const file = t.imageFile;
    if (file && (file.persistentVolumeClaim || file.s3)) {
      const s3 = file.s3;
      return {
        mode: "restore",
        pointId: rp.spec.pointID,
        vault: workerVault(vault),
        target: {
          imageFile: {
            format: file.format ?? "raw",
            ...(file.persistentVolumeClaim ? { path: imageFileWorkerDir(file) } : {}),
            ...(s3
              ? {
                  s3: {
                    ...workerS3Location(s3),
                    ...(s3.useHTTPS !== undefined ? { useHTTPS: s3.useHTTPS } : {}),
                    ...(s3.caSecretRef ? { caCertEnv: SECRET_ENV.imageCa } : {}),
                  },
                }
              : {}),
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
      backoffLimit: RESTORE_RETRIES,
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
    if (complete || failed) ctx.metrics.forgetWorker(ns, worker.metadata?.name ?? "");
    if (complete) {
      status.phase = "Succeeded";
      status.completionTime = isoSeconds(new Date());
      status.progress = restoreProgress(total, total, status.progress?.throughputBytesPerSecond ?? 0);
      status.result = { ...status.result, ...(await this.result(job, rp, vc, pods.items, ctx)) };
      const made = status.result.vmMoRef ? `VM ${status.result.vmName ?? ""} (${status.result.vmMoRef})` : status.result.imageId ? `ECS image ${status.result.imageId} in ${job.spec.target.cloudImage?.region ?? ""}` : (status.result.paths ?? []).join(", ");
      ctx.setCondition(job, { type: "Succeeded", status: "True", reason: "Restored", message: `restored as ${made}` });
      await ctx.events.record(job, "Normal", "Restored", made);
      return undefined;
    }
    if (failed) {
      const code = lastExitCode(pods.items);
      const why = lastTerminationMessage(pods.items);
      status.phase = "Failed";
      status.completionTime = isoSeconds(new Date());
      ctx.setCondition(job, {
        type: "Succeeded",
        status: "False",
        reason: code === undefined ? "WorkerFailed" : reasonForExitCode(code),
        message: `the restore worker failed after ${pods.items.length} attempt(s)${code === undefined ? "" : ` (exit code ${code})`}${why ? `: ${why}` : "; see the worker pod's output"}`,
      });
      await ctx.events.record(job, "Warning", "Failed", `restore failed${code === undefined ? "" : ` with exit code ${code}`}`);
      return undefined;
    }
    // A failed attempt the Job retries: say why, rather than go on showing the dead pod's last progress.
    const retry = failedAttemptNote(pods.items, RESTORE_RETRIES + 1);
    if (retry && status.conditions?.find((c) => c.type === "Succeeded")?.message !== retry.message) {
      ctx.setCondition(job, { type: "Succeeded", status: "Unknown", reason: retry.reason, message: retry.message });
      await ctx.events.record(job, "Warning", retry.reason, retry.message);
    }
    const running = pods.items.find((p) => p.status?.phase === "Running" && p.status.podIP);
    const progress = running?.status?.podIP ? await fetchProgress(running.status.podIP) : undefined;
    ctx.metrics.noteWorker({ namespace: ns, worker: worker.metadata?.name ?? "", owner: `RestoreJob/${job.metadata.name ?? ""}` }, progress);
    if (progress?.imageId && status.result?.imageId !== progress.imageId) {
      // The image's id is known (and worth showing) long before it is Available.
      status.result = { ...status.result, imageId: progress.imageId };
      const fromSnapshots = job.spec.target.cloudImage?.strategy === "IntermediateInstance";
      ctx.setCondition(job, fromSnapshots
        ? { type: "Succeeded", status: "Unknown", reason: "MakingImage", message: `ECS is making image ${progress.imageId} from the temporary instance's disk snapshots` }
        : { type: "Succeeded", status: "Unknown", reason: "Importing", message: `ECS is importing image ${progress.imageId}` });
    }
    if (progress) {
      status.progress = restoreProgress(progress.bytesDone, progress.bytesTotal || total, progress.throughputBytesPerSecond);
      // The worker waits for minutes for a vault (or, at its login, a vCenter) that stopped answering: say so while it lasts, not only when it gives up.
      const shown = shownOutage(status.conditions?.find((c) => c.type === "Succeeded"));
      const outage = workerOutage(progress);
      if (outage) {
        if (shown !== outage.reason) await ctx.events.record(job, "Warning", outage.reason, outage.message);
        ctx.setCondition(job, { type: "Succeeded", status: "Unknown", reason: outage.reason, message: outage.message });
      } else if (shown) {
        ctx.setCondition(job, { type: "Succeeded", status: "Unknown", reason: "Running", message: `restore worker ${worker.metadata?.name ?? ""} ${shown === "VaultUnavailable" ? "reads the vault" : "reaches vCenter"} again` });
      }
    }
    return { requeueAfterMs: PROGRESS_INTERVAL_MS };
  }

  /** What a finished restore produced, read back from where it went. */
  private async result(job: RestoreJob, rp: RecoveryPoint | undefined, vc: WithKind<VCenter> | undefined, pods: readonly k8s.V1Pod[], ctx: ReconcileContext): Promise<NonNullable<NonNullable<RestoreJob["status"]>["result"]>> {
    const t = job.spec.target;
    if (t.cloudImage) {
      // The worker leaves its result as its termination message (worker/main.ts).
      const imageId = terminationObject<{ imageId: string }>(lastTerminationMessage(pods))?.imageId;
      return typeof imageId === "string" && imageId ? { imageId } : {};
    }
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

/**
 * A RestoreJob's status.progress: the byte counts programs read, and the same
 * human-readable for the -o wide columns, made in one place so they agree.
 */
export function restoreProgress(bytesDone: number, bytesTotal: number, throughputBytesPerSecond: number): NonNullable<NonNullable<RestoreJob["status"]>["progress"]> {
  const throughput = Math.round(throughputBytesPerSecond);
  return {
    bytesDone,
    done: formatBytes(bytesDone),
    bytesTotal,
    total: formatBytes(bytesTotal),
    percent: bytesTotal > 0 ? Math.min(100, Math.floor((bytesDone * 100) / bytesTotal)) : 0,
    throughputBytesPerSecond: throughput,
    throughput: formatRate(throughput),
  };
}
