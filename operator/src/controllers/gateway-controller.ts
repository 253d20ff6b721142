import type * as k8s from "@kubernetes/client-node";
import type { BackupVault, Gateway } from "../api/generated/types.js";
import { removeCondition, type ConditionInput } from "../runtime/conditions.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import { labelValue } from "../workloads/worker-job.js";
import { flowControlState } from "./flow-control.js";
import { holdWhileInUse, IN_USE_FINALIZER } from "./in-use-protection.js";
import { problemCondition, readSecretKeys, resolveRef } from "./references.js";

/** Label every worker pod carries with the name of its Gateway. */
export const GATEWAY_LABEL = "lifeboat.io/gateway";

/** The keys of the Gateways (of `gateways`) whose worker `pod` is: same namespace, and its label is the Gateway's name as a label value. */
export function gatewaysOfPod(pod: k8s.KubernetesObject, gateways: readonly Gateway[]): string[] {
  const value = pod.metadata?.labels?.[GATEWAY_LABEL];
  if (value === undefined) return [];
  return gateways
    .filter((g) => g.metadata.namespace === pod.metadata?.namespace && labelValue(g.metadata.name ?? "") === value)
    .map((g) => `${g.metadata.namespace ?? ""}/${g.metadata.name ?? ""}`);
}

/** The condition that says whether spec.useHTTPS holds for the vault's S3 endpoint. */
export const HTTPS_TO_VAULT = "HTTPSToVault";

/**
 * Whether the Gateway's workers reach its vault over HTTPS, as spec.useHTTPS
 * (true by default) asks. The transport is the vault's to choose (its
 * endpoint and its own useHTTPS, which the API server holds together), so a
 * Gateway asking for HTTPS in front of an http:// vault is reported, False
 * with reason PlainHTTP, rather than silently accepted. Undefined when there
 * is nothing to say: useHTTPS off, or a vault that is not a bucket.
 */
export function httpsToVaultCondition(gw: Gateway, vault: BackupVault): ConditionInput | undefined {
  const s3 = vault.spec.backend.s3;
  if (gw.spec.useHTTPS === false || !s3) return undefined;
  const name = vault.metadata.name ?? "";
  if (s3.endpoint?.startsWith("http://")) {
    return {
      type: HTTPS_TO_VAULT,
      status: "False",
      reason: "PlainHTTP",
      message: `spec.useHTTPS is true but BackupVault ${name}'s endpoint ${s3.endpoint} is plain HTTP (its useHTTPS is false): workers send the vault's encrypted data unencrypted in transit; give the vault an https:// endpoint, or set this Gateway's useHTTPS: false to accept it`,
    };
  }
  return { type: HTTPS_TO_VAULT, status: "True", reason: "HTTPS", message: `workers reach BackupVault ${name}'s bucket over verified HTTPS` };
}

/**
 * Activates a Gateway (seed 001 step 5, declaratively): Activated is True
 * only when its vault is Ready and its credentials Secret holds both keys.
 * The Secret is watched, so a rotated or deleted key pair re-activates or
 * deactivates the gateway within seconds, with an Event. Also reports the
 * flow-control limit in force and wakes up when the next window opens or
 * closes, and counts its running workers, woken by their pods.
 */
export class GatewayReconciler implements Reconciler<Gateway> {
  readonly kind = "Gateway";
  /** Its worker pods (backups, restores, replication cycles): status.activeWorkers follows them as they start and end. */
  readonly pods = {
    labelSelector: GATEWAY_LABEL,
    keysOf: (pod: k8s.KubernetesObject, gateways: readonly Gateway[]): string[] => gatewaysOfPod(pod, gateways),
  };
  readonly readyCondition = "Activated";
  readonly finalizer = IN_USE_FINALIZER;

  async reconcile(gw: Gateway, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = gw.metadata.namespace ?? "";
    const status = (gw.status ??= {});
    const wasActivated = status.conditions?.find((c) => c.type === "Activated")?.status === "True";

    const flow = flowControlState(gw.spec.flowControl ?? [], gw.spec.timeZone ?? "UTC");
    if (flow.limit === undefined) delete status.bandwidthLimitBytesPerSecond;
    else status.bandwidthLimitBytesPerSecond = Math.floor(flow.limit);
    const requeue = flow.nextChange ? { requeueAfterMs: Math.max(1000, flow.nextChange.getTime() - Date.now() + 1000) } : undefined;

    const pods = await ctx.kube.core.listNamespacedPod({ namespace: ns, labelSelector: `${GATEWAY_LABEL}=${labelValue(gw.metadata.name ?? "")}` });
    status.activeWorkers = pods.items.filter((p) => p.status?.phase === "Running").length;

    const vault = await resolveRef<BackupVault>(ctx.cache, "BackupVault", ns, "spec.vaultRef", gw.spec.vaultRef.name, "Ready");
    if (!vault.ok) {
      ctx.setCondition(gw, problemCondition("Activated", vault.problem));
      return requeue;
    }
    const https = httpsToVaultCondition(gw, vault.value);
    if (https) {
      if (https.status === "False" && status.conditions?.find((c) => c.type === HTTPS_TO_VAULT)?.status !== "False") await ctx.events.record(gw, "Warning", https.reason, https.message);
      ctx.setCondition(gw, https);
    } else {
      removeCondition(status, HTTPS_TO_VAULT);
    }
    let secretVersion: string | undefined;
    if (gw.spec.credentialsSecretRef) {
      const creds = await readSecretKeys(ctx.kube, ns, "spec.credentialsSecretRef", gw.spec.credentialsSecretRef, {
        accessKeyIdKey: "accessKeyId",
        accessKeySecretKey: "accessKeySecret",
      });
      if (!creds.ok) {
        ctx.setCondition(gw, problemCondition("Activated", creds.problem));
        if (wasActivated) await ctx.events.record(gw, "Warning", "Deactivated", creds.problem.message);
        return requeue;
      }
      secretVersion = (await ctx.kube.getSecret(ns, gw.spec.credentialsSecretRef.name))?.metadata?.resourceVersion;
    }
    const rotated = wasActivated && secretVersion !== undefined && status.activatedSecretVersion !== undefined && status.activatedSecretVersion !== secretVersion;
    if (secretVersion) status.activatedSecretVersion = secretVersion;
    else delete status.activatedSecretVersion;
    ctx.setCondition(gw, {
      type: "Activated",
      status: "True",
      reason: "Activated",
      message: gw.spec.credentialsSecretRef
        ? `vault ${gw.spec.vaultRef.name} is Ready and Secret ${gw.spec.credentialsSecretRef.name} holds the AccessKey pair`
        : `vault ${gw.spec.vaultRef.name} is Ready; workers use the vault's own credentials`,
    });
    if (rotated) await ctx.events.record(gw, "Normal", "Reactivated", `credentials Secret ${gw.spec.credentialsSecretRef?.name ?? ""} changed; workers started from now on use the new key pair`);
    else if (!wasActivated) await ctx.events.record(gw, "Normal", "Activated", "gateway activated");
    return requeue;
  }

  finalize(gw: Gateway, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    return holdWhileInUse(gw, ctx, "Activated");
  }
}
