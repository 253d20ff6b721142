/**
 * The per-Job control token of a worker (worker/spec.ts CONTROL_TOKEN_ENV).
 * The operator makes a random one when it creates a worker Job and keeps it
 * in a Secret owned by that Job, so that the token goes when the Job goes
 * (garbage collection) and an operator that restarts reads it back rather
 * than remembering it. The worker gets it by secretKeyRef, so it is never in
 * the Job's or pod's spec, and sends nothing that changes the worker without
 * it.
 */
import { randomBytes } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import { isConflict, isNotFound, type Kube } from "../runtime/kube.js";
import { CONTROL_TOKEN_ENV } from "../worker/spec.js";

/** The key of the token in its Secret. */
export const CONTROL_TOKEN_KEY = "token";

/** The Secret holding a worker Job's control token. */
export function controlTokenSecretName(jobName: string): string {
  return `${jobName}-control`;
}

/** The worker's env var with its token, from the Job's Secret (which may be created just after the Job: the kubelet waits for it). */
export function controlTokenEnv(jobName: string): k8s.V1EnvVar {
  return { name: CONTROL_TOKEN_ENV, valueFrom: { secretKeyRef: { name: controlTokenSecretName(jobName), key: CONTROL_TOKEN_KEY } } };
}

/** A new token: 256 random bits, URL-safe so it fits an Authorization header as is. */
export function newControlToken(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * The Secret of a Job's token, owned by the Job (which must have its uid, as
 * the API server returned it) so that it is deleted with it. Not a
 * controller reference, and no blockOwnerDeletion: the Job does not wait for
 * it, and the operator needs no rights on the Job's finalizers.
 */
export function controlTokenSecret(job: k8s.V1Job, token: string): k8s.V1Secret {
  const name = job.metadata?.name ?? "";
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name: controlTokenSecretName(name),
      namespace: job.metadata?.namespace ?? "",
      labels: { "app.kubernetes.io/managed-by": "lifeboat", "app.kubernetes.io/component": "worker-control-token" },
      ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name, uid: job.metadata?.uid ?? "" }],
    },
    stringData: { [CONTROL_TOKEN_KEY]: token },
  };
}

/**
 * Makes the Secret of a Job's token unless it is there already (a second
 * attempt after the operator stopped between creating the Job and its
 * Secret, or a token made by an earlier process: that one stays).
 */
export async function ensureControlTokenSecret(kube: Kube, job: k8s.V1Job): Promise<void> {
  if (!job.metadata?.uid) throw new Error(`Worker Job ${job.metadata?.name ?? ""} has no uid yet; its token Secret needs one to be owned by it`);
  try {
    await kube.core.createNamespacedSecret({ namespace: job.metadata.namespace ?? "", body: controlTokenSecret(job, newControlToken()) });
  } catch (err) {
    if (!isConflict(err)) throw new Error(`Could not create the control token Secret of worker Job ${job.metadata.name ?? ""}`, { cause: err });
  }
}

/** Reads a worker Job's token back from its Secret; undefined when it is not (yet) there. */
export async function readControlToken(kube: Kube, namespace: string, jobName: string): Promise<string | undefined> {
  try {
    const secret = await kube.core.readNamespacedSecret({ namespace, name: controlTokenSecretName(jobName) });
    const data = secret.data?.[CONTROL_TOKEN_KEY];
    return data ? Buffer.from(data, "base64").toString("utf8") : undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw new Error(`Could not read the control token Secret of worker Job ${namespace}/${jobName}`, { cause: err });
  }
}
