import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { ensureComponent } from "../testbed/components.js";
import { repoRoot } from "../testbed/paths.js";
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

/**
 * Installs Lifeboat with `helm upgrade --install` from charts/lifeboat, the
 * way a user does. The operator then runs as pods on the local node under the
 * chart's ServiceAccount and RBAC only; its image maps to this checkout's
 * dist/ (e2e/testbed/images.ts).
 */
export async function installLifeboat(values: Record<string, string | number | boolean> = {}): Promise<void> {
  await kubectl(["create", "namespace", OPERATOR_NAMESPACE]);
  const sets = Object.entries({ "metrics.bindPodIP": true, logLevel: "debug", ...values }).flatMap(([k, v]) => ["--set", `${k}=${String(v)}`]);
  const r = await helm(["upgrade", "--install", "lifeboat", "charts/lifeboat", "-n", OPERATOR_NAMESPACE, "--wait", "--timeout", "3m", ...sets]);
  if (r.code !== 0) throw new Error(`helm install failed: ${r.stderr}`);
}

/** The operator's pods, newest last. */
export async function operatorPods(): Promise<k8s.V1Pod[]> {
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const pods = await core.listNamespacedPod({ namespace: OPERATOR_NAMESPACE, labelSelector: "app.kubernetes.io/component=operator" });
  return pods.items.filter((p) => !p.metadata?.deletionTimestamp).sort((a, b) => String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)));
}

/** What a pod's operator process wrote, from the local node's log file. */
export async function podLog(pod: k8s.V1Pod, container = "operator"): Promise<string> {
  const dir = join(testbed().podsDir, `${pod.metadata?.namespace ?? ""}_${pod.metadata?.name ?? ""}_${pod.metadata?.uid ?? ""}`);
  return readFile(join(dir, `${container}.log`), "utf8").catch(() => "");
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

/** A lifeboat.io object's condition of a type, read fresh. */
export async function condition(kind: string, namespace: string, name: string, type: string): Promise<{ status: string; reason: string; message: string } | undefined> {
  const custom = adminConfig().makeApiClient(k8s.CustomObjectsApi);
  const plural = `${kind.toLowerCase()}s`;
  const obj = (await custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace, plural, name })) as {
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
