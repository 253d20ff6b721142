import { createHash } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import type { BackupVault, Gateway, VCenter } from "../api/generated/types.js";
import {
  DEFAULT_WORKER_PORT,
  PORT_ENV,
  SECRET_ENV,
  SOURCE_VAULT_SECRETS,
  SPEC_ENV,
  VAULT_SECRETS,
  type VaultSecrets,
  type WorkerSpec,
  type WorkerS3Location,
  type WorkerVault,
  type WorkerVCenter,
  reasonForExitCode,
} from "../worker/spec.js";
import { JOB_UID_ENV } from "../vault/repo-lock.js";
import { WORKER_NODE_OPTIONS } from "../worker/node-options.js";
import { extraCAEnv } from "./extra-ca.js";
import { controlTokenEnv } from "./worker-token.js";
import { WORKER_MOUNT_PATHS, workerVolumes, type ClaimMount } from "./worker-volumes.js";

/** Labels on every worker Job and pod. */
export const WORKER_LABELS = {
  component: "app.kubernetes.io/component",
  gateway: "lifeboat.io/gateway",
  plan: "lifeboat.io/plan",
  run: "lifeboat.io/run",
  vm: "lifeboat.io/vm-hash",
  restore: "lifeboat.io/restore-job",
  /** Maintenance Jobs (controllers/maintenance-jobs.ts): the kind and name of the object whose retention they apply. */
  maintenanceKind: "lifeboat.io/maintenance-for-kind",
  maintenanceFor: "lifeboat.io/maintenance-for",
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

/** Which of a worker's vaults: the one it works on, or a seed's source. Each has its own mount path and secret variables. */
export type VaultRole = "vault" | "sourceVault";

const ROLE_SECRETS: Record<VaultRole, VaultSecrets> = { vault: VAULT_SECRETS, sourceVault: SOURCE_VAULT_SECRETS };

/**
 * The vault's location for a worker (its secrets travel separately, by
 * secretKeyRef). A vault on a claim is the path where the worker Job mounts
 * the claim (vaultClaims).
 */
export function workerVault(vault: BackupVault, role: VaultRole = "vault"): WorkerVault {
  const b = vault.spec.backend;
  if (b.filesystem?.persistentVolumeClaim) return { filesystem: { path: WORKER_MOUNT_PATHS[role] } };
  if (b.filesystem?.path) return { filesystem: { path: b.filesystem.path } };
  const s3 = b.s3;
  if (!s3) throw new Error(`BackupVault ${vault.metadata.name ?? ""} has no usable backend`);
  return {
    s3: {
      ...workerS3Location(s3),
      ...(s3.useHTTPS !== undefined ? { useHTTPS: s3.useHTTPS } : {}),
      ...(s3.storageClass ? { storageClass: s3.storageClass } : {}),
      ...(s3.caSecretRef ? { caCertEnv: ROLE_SECRETS[role].ca } : {}),
    },
  };
}

/** The claim a worker mounts for a vault, at the path workerVault gave it; none for a path or a bucket. */
export function vaultClaims(vault: BackupVault, role: VaultRole = "vault"): ClaimMount[] {
  const claim = vault.spec.backend.filesystem?.persistentVolumeClaim;
  return claim ? [{ claimName: claim.name, mountPath: WORKER_MOUNT_PATHS[role] }] : [];
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

/** How a worker reaches a vCenter. A CA from a Secret travels as an env var too; no spec.tls is the default trust, as in the operator. */
export function workerVCenter(vc: VCenter, options: { readonly outageWaitSeconds?: number } = {}): WorkerVCenter {
  const tls = vc.spec.tls ?? {};
  return {
    address: vc.spec.address,
    tls: tls.thumbprint ? { thumbprint: tls.thumbprint } : tls.insecureSkipVerify ? { insecureSkipVerify: true } : tls.caSecretRef ? { caCertEnv: SECRET_ENV.vcenterCa } : {},
    timeoutMs: (vc.spec.requestTimeoutSeconds ?? 60) * 1000,
    ...(options.outageWaitSeconds ? { outageWaitSeconds: options.outageWaitSeconds } : {}),
  };
}

/**
 * How long a backup or restore worker waits for a vCenter that does not
 * answer its login before the attempt fails (worker/vcenter-outage.ts):
 * long enough for a vCenter restart. DR workers do not wait.
 */
export const VCENTER_OUTAGE_WAIT_SECONDS = 300;

function secretEnv(name: string, secret: string, key: string): k8s.V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

/** Env vars carrying a vault's secrets (key, S3 credentials, the S3 endpoint's CA), under the role's variable names. */
export function vaultSecretEnv(vault: BackupVault, role: VaultRole = "vault"): k8s.V1EnvVar[] {
  const names = ROLE_SECRETS[role];
  const keyRef = vault.spec.encryption.keySecretRef;
  const env = [secretEnv(names.key, keyRef.name, keyRef.key ?? "key")];
  const s3 = vault.spec.backend.s3;
  if (s3) {
    const c = s3.credentialsSecretRef;
    env.push(secretEnv(names.accessKeyId, c.name, c.accessKeyIdKey ?? "accessKeyId"));
    env.push(secretEnv(names.secretAccessKey, c.name, c.secretAccessKeyKey ?? "secretAccessKey"));
    if (s3.caSecretRef) env.push(secretEnv(names.ca, s3.caSecretRef.name, s3.caSecretRef.key ?? "ca.crt"));
  }
  return env;
}

/** Env vars carrying the vault's and vCenter's secrets, from the Secrets the specs name. */
/** Env carrying a cloud AccessKey pair (ECS and OSS) from the Secret a credentialsSecretRef names. */
export function cloudSecretEnv(ref: { readonly name: string; readonly accessKeyIdKey?: string | undefined; readonly accessKeySecretKey?: string | undefined }): k8s.V1EnvVar[] {
  return [
    secretEnv(SECRET_ENV.cloudAccessKeyId, ref.name, ref.accessKeyIdKey ?? "accessKeyId"),
    secretEnv(SECRET_ENV.cloudAccessKeySecret, ref.name, ref.accessKeySecretKey ?? "accessKeySecret"),
  ];
}

export function secretEnvFor(vault: BackupVault, vc?: VCenter): k8s.V1EnvVar[] {
  const env = vaultSecretEnv(vault);
  if (vc) {
    const c = vc.spec.credentialsSecretRef;
    env.push(secretEnv(SECRET_ENV.vcenterUsername, c.name, c.usernameKey ?? "username"));
    env.push(secretEnv(SECRET_ENV.vcenterPassword, c.name, c.passwordKey ?? "password"));
    const ca = vc.spec.tls?.caSecretRef;
    if (ca) env.push(secretEnv(SECRET_ENV.vcenterCa, ca.name, ca.key ?? "ca.crt"));
  }
  return env;
}

/** The user and group of the image (distroless "nonroot"), as in the operator's chart. */
const NON_ROOT_ID = 65532;

/** A worker pod's securityContext: the chart's podSecurityContext, plus fsGroup for claims (changed only when the root's group differs, so a large vault is not walked at every start). */
export const WORKER_POD_SECURITY: k8s.V1PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: NON_ROOT_ID,
  runAsGroup: NON_ROOT_ID,
  fsGroup: NON_ROOT_ID,
  fsGroupChangePolicy: "OnRootMismatch",
  seccompProfile: { type: "RuntimeDefault" },
};

/** A worker container's securityContext: the chart's securityContext for the operator. */
export const WORKER_CONTAINER_SECURITY: k8s.V1SecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
};

export interface WorkerJobOptions {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly owner: k8s.V1OwnerReference;
  readonly spec: WorkerSpec;
  readonly secretEnv: k8s.V1EnvVar[];
  /** Claims the worker mounts (vaultClaims, an imageFile claim): required, so that no caller forgets a claim-backed vault. */
  readonly claims: readonly ClaimMount[];
  readonly gateway: Gateway;
  /** Retries after a failed or killed pod. */
  readonly backoffLimit: number;
  /** How long the Job may run, pending pods included, before Kubernetes stops it (DeadlineExceeded); unbounded when unset. */
  readonly activeDeadlineSeconds?: number;
  /**
   * Whether the operator will steer this worker (PUT /bandwidth): then the
   * worker reads its control token from the Secret ensureControlTokenSecret
   * makes after the Job. Without, the worker refuses every change.
   */
  readonly controlToken?: boolean;
}

/**
 * A worker Job: one pod that runs the operator image's worker entrypoint
 * with its spec and secrets in env. It needs no API access, so it mounts no
 * service-account token. It runs where the Gateway places workers, with the
 * Gateway's resources; a killed pod is retried (backoffLimit) and the
 * worker resumes from what the vault holds. It runs as the operator does:
 * non-root, no privilege escalation, no capabilities, a read-only root
 * filesystem; fsGroup makes claims writable where the storage supports it.
 */
export function workerJob(o: WorkerJobOptions): k8s.V1Job {
  const { volumes, volumeMounts } = workerVolumes(o.claims);
  const placement = o.gateway.spec.workers ?? {};
  const labels = { ...o.labels, [WORKER_LABELS.component]: "worker", [WORKER_LABELS.gateway]: labelValue(o.gateway.metadata.name ?? "") };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: o.name, namespace: o.namespace, labels, ownerReferences: [o.owner] },
    spec: {
      backoffLimit: o.backoffLimit,
      ...(o.activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds: o.activeDeadlineSeconds } : {}),
      podFailurePolicy: {
        // A wrong password, a missing VM, a full vault or a VM with only disks a snapshot leaves out does not get better by retrying at once;
        // a resync held for business hours (24-26) is the controller's to make later.
        rules: [{ action: "FailJob", onExitCodes: { operator: "In", values: [10, 12, 13, 16, 17, 18, 20, 22, 23, 24, 25, 26] } }],
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
          securityContext: WORKER_POD_SECURITY,
          volumes,
          containers: [
            {
              name: "worker",
              image: workerImage(),
              command: ["node", ...WORKER_NODE_OPTIONS, "/app/dist/operator/src/worker/main.js"],
              env: [
                { name: SPEC_ENV, value: JSON.stringify(o.spec) },
                { name: PORT_ENV, value: String(DEFAULT_WORKER_PORT) },
                { name: "NODE_NO_WARNINGS", value: "1" },
                { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                // The Job's uid (the label its controller puts on every pod): a retried pod frees its dead predecessor's vault locks.
                { name: JOB_UID_ENV, valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/controller-uid']" } } },
                ...extraCAEnv(),
                ...o.secretEnv,
                ...(o.controlToken ? [controlTokenEnv(o.name)] : []),
              ],
              volumeMounts,
              ports: [{ name: "progress", containerPort: DEFAULT_WORKER_PORT }],
              ...(placement.resources ? { resources: placement.resources } : {}),
              securityContext: WORKER_CONTAINER_SECURITY,
            },
          ],
        },
      },
    },
  };
}

/** The exit code of the newest of a worker Job's pods, once it has terminated: why the Job failed. */
export function lastExitCode(pods: readonly k8s.V1Pod[]): number | undefined {
  return newestTermination(pods)?.exitCode;
}

/**
 * The termination message of the newest worker pod: on failure the worker's
 * "Reason: message" line, on success its result as JSON (worker/main.ts).
 */
export function lastTerminationMessage(pods: readonly k8s.V1Pod[]): string | undefined {
  return newestTermination(pods)?.message?.trim() || undefined;
}

/** What a status says about a worker's trouble: a reason (one word) and a message. */
export interface StatusNote {
  readonly reason: string;
  readonly message: string;
}

/**
 * Why the newest of a worker Job's pods failed, while the Job still retries:
 * the reason its exit code stands for, and a message that counts the
 * attempts and quotes the worker's own "Reason: message" line. Undefined
 * while the newest pod has not failed. Exported for unit tests.
 */
export function failedAttemptNote(pods: readonly k8s.V1Pod[], maxAttempts: number): StatusNote | undefined {
  const code = lastExitCode(pods);
  if (code === undefined || code === 0) return undefined;
  // By the container's exit, not the pod's phase: the pod may still read Running when its container's end is reported.
  const failed = pods.filter((p) => (p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode ?? 0) !== 0).length;
  const why = lastTerminationMessage(pods)?.slice(0, 512);
  return {
    reason: reasonForExitCode(code),
    message: `attempt ${failed} of ${maxAttempts} failed ${why ? `(${why})` : `with exit code ${code}`}${RETRY_SUFFIX}`,
  };
}

const RETRY_SUFFIX = "; the worker Job tries again";

/** True for a message failedAttemptNote made. */
export function isFailedAttemptMessage(message: string | undefined): boolean {
  return message !== undefined && message.startsWith("attempt ") && message.endsWith(RETRY_SUFFIX);
}

function newestTermination(pods: readonly k8s.V1Pod[]): k8s.V1ContainerStateTerminated | undefined {
  const newest = [...pods].sort((a, b) => creationMs(a) - creationMs(b)).pop();
  return newest?.status?.containerStatuses?.[0]?.state?.terminated;
}

/**
 * When an object was created, in ms since the epoch: the client parses
 * creationTimestamp into a Date (whose string form does not sort by time),
 * a raw object holds the wire's string.
 */
export function creationMs(o: { metadata?: { creationTimestamp?: Date | string } }): number {
  return new Date(o.metadata?.creationTimestamp ?? 0).getTime();
}

/** CPU one worker requests, in cores (from the Gateway's worker resources; 1 when unset). */
export function workerCpu(gateway: Gateway): number {
  const cpu = gateway.spec.workers?.resources?.requests?.cpu;
  if (!cpu) return 1;
  return cpu.endsWith("m") ? Number(cpu.slice(0, -1)) / 1000 : Number(cpu);
}
