/**
 * VMwareToCloud: a vSphere point in the recovery vault becomes an ECS image
 * through a RestoreJob with a cloudImage target, owned by the drill or the
 * protected server that needs it. The RestoreJob is the one conversion path
 * of the product (its worker stages the disks in OSS and imports them, or
 * writes them through a temporary instance), with its progress, Gateway
 * slots and clean-up on failure; DR only reads its result. A succeeded
 * RestoreJob keeps its image (it is a restore's result), so DR deletes the
 * image, and everything else tagged with the restore's id, itself when the
 * drill is cleaned or the failover no longer needs it.
 */
import type { RestoreJob, SitePair } from "../api/generated/types.js";
import { API_VERSION } from "../api/common.js";
import { EcsApi } from "../cloud/alibaba/ecs-api.js";
import { ossClient } from "../cloud/alibaba/oss-upload.js";
import { cleanUpRestore, nothingLeft } from "../cloud/alibaba/restore-cleanup.js";
import type { ReconcileContext } from "../runtime/controller.js";
import { controllerRef, type LifeboatObject, type WithKind } from "../runtime/kube.js";
import { cloudRestoreId } from "./restore-job-controller.js";
import { readSecretKeys } from "./references.js";

export type Conversion =
  | { readonly state: "running"; readonly message: string; readonly restoreId?: string | undefined }
  | { readonly state: "done"; readonly imageId: string; readonly restoreId: string }
  | { readonly state: "failed"; readonly reason: string; readonly message: string; readonly restoreId?: string | undefined };

/** An ECS image name (2-128 characters, starting with a letter) for a conversion. */
function imageName(name: string): string {
  return `lifeboat-${name}`.slice(0, 128);
}

/**
 * Makes (once) and follows the RestoreJob `name` that converts RecoveryPoint
 * `recoveryPoint` into an image in the pair's recovery region, run by
 * Gateway `gateway`.
 */
export async function convertPoint(ctx: ReconcileContext, owner: LifeboatObject, name: string, pair: SitePair, recoveryPoint: string, gateway: string, labels: Record<string, string>): Promise<Conversion> {
  const ns = owner.metadata.namespace ?? "";
  let job = await ctx.kube.get<WithKind<RestoreJob>>("RestoreJob", ns, name);
  if (!job) {
    const conv = pair.spec.imageConversion;
    const creds = pair.spec.credentialsSecretRef;
    if (!conv || !creds) return { state: "failed", reason: "NoImageConversion", message: `SitePair ${pair.metadata.name ?? ""} has no spec.imageConversion or credentialsSecretRef` };
    const body: RestoreJob = {
      apiVersion: API_VERSION,
      kind: "RestoreJob",
      metadata: { name, namespace: ns, labels, ownerReferences: [controllerRef(owner)] },
      spec: {
        recoveryPointRef: { name: recoveryPoint },
        gatewayRef: { name: gateway },
        target: {
          cloudImage: {
            provider: "AlibabaECS",
            region: pair.spec.target.region ?? "",
            imageName: imageName(name),
            strategy: conv.strategy ?? "ImportImage",
            ...(conv.strategy === "IntermediateInstance" ? {} : { format: conv.format ?? "QCOW2" }),
            ossBucket: conv.ossBucket,
            ...(pair.spec.target.ecsEndpoint ? { ecsEndpoint: pair.spec.target.ecsEndpoint } : {}),
            ...(conv.ossEndpoint ? { ossEndpoint: conv.ossEndpoint } : {}),
            ...(conv.intermediateInstance ? { intermediateInstance: conv.intermediateInstance } : {}),
            // The endpoints come from the pair, whose own rules held them to https:// unless it allowed plain HTTP;
            // the RestoreJob's one switch allows what the pair allowed for either.
            useHTTPS: pair.spec.target.useHTTPS !== false && conv.useHTTPS !== false,
            credentialsSecretRef: creds,
          },
        },
      },
    };
    await ctx.kube.create("RestoreJob", body);
    ctx.log.info({ restoreJob: name, recoveryPoint }, "Started converting the point into an ECS image");
    job = await ctx.kube.get<WithKind<RestoreJob>>("RestoreJob", ns, name);
    if (!job) return { state: "running", message: `RestoreJob ${name} is being created` };
  }
  const restoreId = cloudRestoreId(job);
  const succeeded = job.status?.conditions?.find((c) => c.type === "Succeeded");
  if (job.status?.phase === "Succeeded" && job.status.result?.imageId) return { state: "done", imageId: job.status.result.imageId, restoreId };
  if (job.status?.phase === "Failed") return { state: "failed", reason: succeeded?.reason ?? "ConversionFailed", message: `RestoreJob ${name}: ${succeeded?.message ?? "failed"}`, restoreId };
  return { state: "running", message: `RestoreJob ${name} converts ${recoveryPoint} into an ECS image${succeeded ? `: ${succeeded.message}` : ""}`, restoreId };
}

/**
 * Deletes a conversion: the RestoreJob (its finalizer cleans what a failed
 * one left) and everything tagged with its restore id, the image included.
 * Returns what is still there, or undefined once nothing is.
 */
export async function discardConversion(ctx: ReconcileContext, namespace: string, name: string, restoreId: string | undefined, pair: SitePair): Promise<string | undefined> {
  const job = await ctx.kube.get<WithKind<RestoreJob>>("RestoreJob", namespace, name);
  if (job) {
    if (!job.metadata.deletionTimestamp) await ctx.kube.delete("RestoreJob", namespace, name);
    return `RestoreJob ${name} is being deleted`;
  }
  if (!restoreId) return undefined;
  const conv = pair.spec.imageConversion;
  const creds = pair.spec.credentialsSecretRef;
  if (!conv || !creds) return undefined;
  const keys = await readSecretKeys(ctx.kube, namespace, "SitePair spec.credentialsSecretRef", creds, { accessKeyIdKey: "accessKeyId", accessKeySecretKey: "accessKeySecret" });
  if (!keys.ok) return `cannot delete the image of ${restoreId}: ${keys.problem.message}`;
  const credentials = { accessKeyId: keys.value.accessKeyIdKey?.toString("utf8") ?? "", accessKeySecret: keys.value.accessKeySecretKey?.toString("utf8") ?? "" };
  const region = pair.spec.target.region ?? "";
  const ecs = new EcsApi({ regionId: region, endpoint: pair.spec.target.ecsEndpoint, ...credentials }, { retryForMs: 20_000, waitForMs: 0 });
  const oss = ossClient({ regionId: region, bucket: conv.ossBucket, endpoint: conv.ossEndpoint, ...credentials });
  const left = await cleanUpRestore(ecs, oss, region, restoreId);
  return nothingLeft(left) ? undefined : `still tagged ${restoreId}: ${JSON.stringify(left)}`;
}
