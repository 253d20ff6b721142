import { execFile } from "node:child_process";
import { chmod, mkdir } from "node:fs/promises";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { ensureComponent } from "../testbed/components.js";
import { repoRoot } from "../testbed/paths.js";
import { kinds } from "../../operator/src/api/kinds.js";
import { adminConfig, eventually, kubectl, testbed } from "./testbed.js";

/** Runs the test bed's helm against the test bed; resolves with exit code and output. */
export async function helm(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = join(await ensureComponent("helm"), "helm");
  return new Promise((resolve) => {
    execFile(bin, ["--kubeconfig", testbed().kubeconfig, ...args], { cwd: repoRoot }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

export const OPERATOR_NAMESPACE = "lifeboat-system";

/** The chart's `vaultVolumes` entry: how the operator mounts a claim-backed vault of a namespace. */
export interface VaultVolume {
  readonly namespace: string;
  readonly claimName: string;
  readonly volume: Record<string, unknown>;
}

/**
 * Installs Lifeboat with `helm upgrade --install` from charts/lifeboat, the
 * way a user does. The operator then runs as pods on the test bed's node,
 * from the image built from the Dockerfile, under the chart's ServiceAccount,
 * RBAC, securityContext and limits; it mounts the claim-backed vaults given.
 */
export async function installLifeboat(values: Record<string, string | number | boolean> = {}, vaultVolumes: readonly VaultVolume[] = []): Promise<void> {
  await kubectl(["create", "namespace", OPERATOR_NAMESPACE]);
  const sets = Object.entries({ "metrics.bindPodIP": true, logLevel: "debug", ...values }).flatMap(([k, v]) => ["--set", `${k}=${String(v)}`]);
  if (vaultVolumes.length > 0) sets.push("--set-json", `vaultVolumes=${JSON.stringify(vaultVolumes)}`);
  const r = await helm(["upgrade", "--install", "lifeboat", "charts/lifeboat", "-n", OPERATOR_NAMESPACE, "--wait", "--timeout", "3m", ...sets]);
  if (r.code !== 0) throw new Error(`helm install failed: ${r.stderr}`);
}

/** The operator's pods, newest last. */
export async function operatorPods(): Promise<k8s.V1Pod[]> {
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const pods = await core.listNamespacedPod({ namespace: OPERATOR_NAMESPACE, labelSelector: "app.kubernetes.io/component=operator" });
  return pods.items.filter((p) => !p.metadata?.deletionTimestamp).sort((a, b) => String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)));
}

/**
 * What a pod's container wrote, through the API server and the kubelet (as
 * `kubectl logs` reads it); with `previous`, what the container's last
 * terminated instance wrote. Empty when there is nothing yet (the API server
 * answers 400 for a container still waiting or without a previous
 * instance); any other failure throws, so a check on logs never passes
 * because they could not be read.
 */
export async function podLog(pod: k8s.V1Pod, container = "operator", previous = false): Promise<string> {
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  try {
    return await core.readNamespacedPodLog({ name: pod.metadata?.name ?? "", namespace: pod.metadata?.namespace ?? "", container, previous });
  } catch (err) {
    if (err instanceof k8s.ApiException && err.code === 400) return "";
    throw new Error(`Could not read the log of ${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""} ${container}`, { cause: err });
  }
}

/** Every log line the operator's current pods wrote, in their containers' current and previous instances. */
export async function operatorLogs(): Promise<{ pod: string; log: string }[]> {
  const out: { pod: string; log: string }[] = [];
  for (const pod of await operatorPods()) {
    const name = pod.metadata?.name ?? "";
    out.push({ pod: name, log: await podLog(pod) });
    if ((pod.status?.containerStatuses?.[0]?.restartCount ?? 0) > 0) out.push({ pod: `${name} (previous)`, log: await podLog(pod, "operator", true) });
  }
  return out;
}

/** The holder of the operator's leader Lease. */
export async function leaseHolder(): Promise<string | undefined> {
  const api = adminConfig().makeApiClient(k8s.CoordinationV1Api);
  try {
    return (await api.readNamespacedLease({ namespace: OPERATOR_NAMESPACE, name: "lifeboat-operator" })).spec?.holderIdentity ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * The operator pod that holds the leader Lease, and the identity it holds
 * it under, once one of the running pods does. After a helm upgrade rolls the
 * pods, or after they are deleted, the Lease may still name a replaced pod
 * until that pod releases it or it expires; what the operator guarantees is
 * that one of the live pods then takes it.
 */
export function leaderPod(timeoutMs = 60_000): Promise<{ pod: k8s.V1Pod; holder: string }> {
  return eventually("one of the running operator pods to hold the lease", async () => {
    const holder = await leaseHolder();
    if (!holder) return undefined;
    const pod = (await operatorPods()).find((p) => holder.startsWith(`${p.metadata?.name ?? ""}_`));
    return pod ? { pod, holder } : undefined;
  }, timeoutMs);
}

/** The resource name of a lifeboat.io kind (ReplicationPolicy: replicationpolicies). */
export function pluralOf(kind: string): string {
  const plural = kinds.find((k) => k.kind === kind)?.plural;
  if (!plural) throw new Error(`${kind} is not a lifeboat.io kind`);
  return plural;
}

/** A lifeboat.io object's condition of a type, read fresh. */
export async function condition(kind: string, namespace: string, name: string, type: string): Promise<{ status: string; reason: string; message: string } | undefined> {
  const custom = adminConfig().makeApiClient(k8s.CustomObjectsApi);
  const obj = (await custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace, plural: pluralOf(kind), name })) as {
    status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
  };
  return obj.status?.conditions?.find((c) => c.type === type);
}

/** Waits until a condition has the given status (and reason, when given); returns it. */
export function waitForCondition(kind: string, namespace: string, name: string, type: string, status: string, reason?: string, timeoutMs = 60_000) {
  return eventually(
    `${kind} ${namespace}/${name} ${type}=${status}${reason ? ` (${reason})` : ""}`,
    async () => {
      const c = await condition(kind, namespace, name, type);
      return c && c.status === status && (reason === undefined || c.reason === reason) ? c : undefined;
    },
    timeoutMs,
  );
}

/**
 * A ReadWriteMany claim on a directory of this machine, as an admin of a
 * one-node cluster makes one: a hostPath PersistentVolume reserved for the
 * claim, and the claim. The directory is made writable for the non-root user
 * Lifeboat's pods run as (hostPath volumes ignore fsGroup).
 */
export async function hostPathClaim(namespace: string, claimName: string, hostDir: string, capacity = "10Gi"): Promise<void> {
  await mkdir(hostDir, { recursive: true });
  await chmod(hostDir, 0o777);
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const pvName = `${namespace}-${claimName}`;
  await core.createPersistentVolume({
    body: {
      metadata: { name: pvName },
      spec: {
        capacity: { storage: capacity },
        accessModes: ["ReadWriteMany"],
        persistentVolumeReclaimPolicy: "Retain",
        storageClassName: "",
        hostPath: { path: hostDir, type: "Directory" },
        claimRef: { namespace, name: claimName },
      },
    },
  });
  await core.createNamespacedPersistentVolumeClaim({
    namespace,
    body: { metadata: { name: claimName }, spec: { accessModes: ["ReadWriteMany"], storageClassName: "", volumeName: pvName, resources: { requests: { storage: capacity } } } },
  });
  await eventually(`claim ${namespace}/${claimName} to bind`, async () => {
    const c = await core.readNamespacedPersistentVolumeClaim({ namespace, name: claimName });
    return c.status?.phase === "Bound" ? true : undefined;
  });
}

/**
 * A filesystem vault on a claim: the directory of this machine as a claim in
 * `namespace` (the BackupVault names it; workers mount it) and the chart's
 * entry that mounts the same storage into the operator, through a claim of
 * its own in the operator's namespace (as with a shared NFS export) or, for
 * brevity, the hostPath itself.
 */
export async function vaultClaim(namespace: string, claimName: string, hostDir: string, operatorMount: "claim" | "hostPath" = "hostPath"): Promise<VaultVolume> {
  await hostPathClaim(namespace, claimName, hostDir);
  if (operatorMount === "hostPath") return { namespace, claimName, volume: { hostPath: { path: hostDir, type: "Directory" } } };
  await kubectl(["create", "namespace", OPERATOR_NAMESPACE]);
  const operatorClaim = `${namespace}-${claimName}`;
  await hostPathClaim(OPERATOR_NAMESPACE, operatorClaim, hostDir);
  return { namespace, claimName, volume: { persistentVolumeClaim: { claimName: operatorClaim } } };
}
