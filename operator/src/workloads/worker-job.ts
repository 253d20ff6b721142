import { createHash } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import type { BackupVault, Gateway, VCenter } from "../api/generated/types.js";
import { DEFAULT_WORKER_PORT, PORT_ENV, SECRET_ENV, SPEC_ENV, type WorkerSpec, type WorkerS3Location, type WorkerVault, type WorkerVCenter } from "../worker/spec.js";

/** Labels on every worker Job and pod. */
export const WORKER_LABELS = {
  component: "app.kubernetes.io/component",
  gateway: "lifeboat.io/gateway",
  plan: "lifeboat.io/plan",
  run: "lifeboat.io/run",
  vm: "lifeboat.io/vm-hash",
  restore: "lifeboat.io/restore-job",
} as const;

/** The image workers run: the operator's own (the chart passes it in LIFEBOAT_WORKER_IMAGE). */
export function workerImage(): string {
  return process.env.LIFEBOAT_WORKER_IMAGE ?? "ghcr.io/lifeboat-io/lifeboat:0.1.0";
}

/** A label value for a name: names may be up to 253 characters, label values 63. */
export function labelValue(name: string): string {
  return name.length <= 63 ? name : `${name.slice(0, 52).replace(/[-.]+$/, "")}-${shortHash(name)}`;
}

/** A short stable hash for names and label values. */
export function shortHash(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 10);
}

/** The vault's location for a worker (its secrets travel separately, by secretKeyRef). */
export function workerVault(vault: BackupVault): WorkerVault {
  const b = vault.spec.backend;
  if (b.filesystem?.path) return { filesystem: { path: b.filesystem.path } };
  const s3 = b.s3;
  if (!s3) throw new Error(`BackupVault ${vault.metadata.name ?? ""} has no usable backend`);
  return {
    s3: {
      ...workerS3Location(s3),
      ...(s3.useHTTPS !== undefined ? { useHTTPS: s3.useHTTPS } : {}),
      ...(s3.storageClass ? { storageClass: s3.storageClass } : {}),
    },
  };
}

/** A bucket location from a spec (a vault's backend, a restore's target) as a worker takes it: unset fields left out. */
export function workerS3Location(s3: { bucket: string; endpoint?: string; region?: string; prefix?: string; forcePathStyle?: boolean }): WorkerS3Location {
  return {
    bucket: s3.bucket,
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    ...(s3.region ? { region: s3.region } : {}),
    ...(s3.prefix ? { prefix: s3.prefix } : {}),
    ...(s3.forcePathStyle !== undefined ? { forcePathStyle: s3.forcePathStyle } : {}),
  };
}

/** How a worker reaches a vCenter. A CA from a Secret travels as an env var too. */
export function workerVCenter(vc: VCenter): WorkerVCenter {
  const tls = vc.spec.tls ?? {};
  return {
    address: vc.spec.address,
    tls: tls.thumbprint ? { thumbprint: tls.thumbprint } : tls.insecureSkipVerify ? { insecureSkipVerify: true } : tls.caSecretRef ? { caCertEnv: "LIFEBOAT_VCENTER_CA" } : {},
    timeoutMs: (vc.spec.requestTimeoutSeconds ?? 60) * 1000,
  };
}

function secretEnv(name: string, secret: string, key: string): k8s.V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

/** Env vars carrying the vault's and vCenter's secrets, from the Secrets the specs name. */
export function secretEnvFor(vault: BackupVault, vc?: VCenter): k8s.V1EnvVar[] {
  const env: k8s.V1EnvVar[] = [];
  const keyRef = vault.spec.encryption.keySecretRef;
  env.push(secretEnv(SECRET_ENV.vaultKey, keyRef.name, keyRef.key ?? "key"));
  const s3 = vault.spec.backend.s3;
  if (s3) {
    const c = s3.credentialsSecretRef;
    env.push(secretEnv(SECRET_ENV.vaultAccessKeyId, c.name, c.accessKeyIdKey ?? "accessKeyId"));
    env.push(secretEnv(SECRET_ENV.vaultSecretAccessKey, c.name, c.secretAccessKeyKey ?? "secretAccessKey"));
  }
  if (vc) {
    const c = vc.spec.credentialsSecretRef;
    env.push(secretEnv(SECRET_ENV.vcenterUsername, c.name, c.usernameKey ?? "username"));
    env.push(secretEnv(SECRET_ENV.vcenterPassword, c.name, c.passwordKey ?? "password"));
    const ca = vc.spec.tls?.caSecretRef;
    if (ca) env.push(secretEnv("LIFEBOAT_VCENTER_CA", ca.name, ca.key ?? "ca.crt"));
  }
  return env;
}

export interface WorkerJobOptions {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly owner: k8s.V1OwnerReference;
  readonly spec: WorkerSpec;
  readonly secretEnv: k8s.V1EnvVar[];
  readonly gateway: Gateway;
  /** Retries after a failed or killed pod. */
  readonly backoffLimit: number;
}

/**
 * A worker Job: one pod that runs the operator image's worker entrypoint
 * with its spec and secrets in env. It needs no API access, so it mounts no
 * service-account token. It runs where the Gateway places workers, with the
 * Gateway's resources; a killed pod is retried (backoffLimit) and the
 * worker resumes from what the vault holds.
 */
export function workerJob(o: WorkerJobOptions): k8s.V1Job {
  const placement = o.gateway.spec.workers ?? {};
  const labels = { ...o.labels, [WORKER_LABELS.component]: "worker", [WORKER_LABELS.gateway]: labelValue(o.gateway.metadata.name ?? "") };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: o.name, namespace: o.namespace, labels, ownerReferences: [o.owner] },
    spec: {
      backoffLimit: o.backoffLimit,
      podFailurePolicy: {
        // A wrong password or a missing VM does not get better by retrying.
        rules: [{ action: "FailJob", onExitCodes: { operator: "In", values: [10, 12, 13, 16, 17, 18] } }],
      },
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          ...(placement.serviceAccountName ? { serviceAccountName: placement.serviceAccountName } : {}),
          ...(placement.nodeSelector ? { nodeSelector: placement.nodeSelector } : {}),
          ...(placement.tolerations ? { tolerations: placement.tolerations } : {}),
          ...(placement.priorityClassName ? { priorityClassName: placement.priorityClassName } : {}),
          terminationGracePeriodSeconds: 60,
          containers: [
            {
              name: "worker",
              image: workerImage(),
              command: ["node", "/app/dist/operator/src/worker/main.js"],
              env: [
                { name: SPEC_ENV, value: JSON.stringify(o.spec) },
                { name: PORT_ENV, value: String(DEFAULT_WORKER_PORT) },
                { name: "NODE_NO_WARNINGS", value: "1" },
                { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                ...o.secretEnv,
              ],
              ports: [{ name: "progress", containerPort: DEFAULT_WORKER_PORT }],
              ...(placement.resources ? { resources: placement.resources } : {}),
              securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, runAsUser: 65532, capabilities: { drop: ["ALL"] } },
            },
          ],
        },
      },
    },
  };
}

/** The exit code of the newest of a worker Job's pods, once it has terminated: why the Job failed. */
export function lastExitCode(pods: readonly k8s.V1Pod[]): number | undefined {
  const newest = [...pods].sort((a, b) => String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp))).pop();
  return newest?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode;
}

/** CPU one worker requests, in cores (from the Gateway's worker resources; 1 when unset). */
export function workerCpu(gateway: Gateway): number {
  const cpu = gateway.spec.workers?.resources?.requests?.cpu;
  if (!cpu) return 1;
  return cpu.endsWith("m") ? Number(cpu.slice(0, -1)) / 1000 : Number(cpu);
}
