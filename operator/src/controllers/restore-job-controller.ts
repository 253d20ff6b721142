import type { RestoreJob } from "../api/generated/types.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import { firstProblem, problemCondition, readSecretKeys, resolveRef, type Checked } from "./references.js";

/**
 * Checks what a RestoreJob needs before it can run: the recovery point is
 * Available, the gateway Activated, and the target's VCenter Connected or
 * cloud credentials present. Until then Succeeded is Unknown (Pending) with
 * the reason of the first thing missing; a restore that cannot start never
 * claims more than was checked.
 */
export class RestoreJobReconciler implements Reconciler<RestoreJob> {
  readonly kind = "RestoreJob";
  readonly readyCondition = "Succeeded";

  async reconcile(job: RestoreJob, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = job.metadata.namespace ?? "";
    const status = (job.status ??= {});
    if (status.phase === "Succeeded" || status.phase === "Failed") return undefined;
    status.phase ??= "Pending";

    const checks: Checked<unknown>[] = [
      await resolveRef(ctx.kube, "RecoveryPoint", ns, "spec.recoveryPointRef", job.spec.recoveryPointRef.name, "Available"),
      await resolveRef(ctx.kube, "Gateway", ns, "spec.gatewayRef", job.spec.gatewayRef.name, "Activated"),
    ];
    const t = job.spec.target;
    if (t.vSphere) checks.push(await resolveRef(ctx.kube, "VCenter", ns, "spec.target.vSphere.vCenterRef", t.vSphere.vCenterRef.name, "Connected"));
    if (t.cloudImage) {
      checks.push(await readSecretKeys(ctx.kube, ns, "spec.target.cloudImage.credentialsSecretRef", t.cloudImage.credentialsSecretRef, { accessKeyIdKey: "accessKeyId", accessKeySecretKey: "accessKeySecret" }));
    }
    if (t.imageFile?.s3) {
      checks.push(await readSecretKeys(ctx.kube, ns, "spec.target.imageFile.s3.credentialsSecretRef", t.imageFile.s3.credentialsSecretRef, { accessKeyIdKey: "accessKeyId", secretAccessKeyKey: "secretAccessKey" }));
    }
    const problem = firstProblem(checks);
    if (problem) {
      ctx.setCondition(job, { ...problemCondition("Succeeded", problem), status: "Unknown" });
      return { requeueAfterMs: 60_000 };
    }
    ctx.setCondition(job, {
      type: "Succeeded",
      status: "Unknown",
      reason: "Pending",
      message: "recovery point Available, gateway Activated and target reachable; this version of Lifeboat does not run restores yet",
    });
    return undefined;
  }
}
