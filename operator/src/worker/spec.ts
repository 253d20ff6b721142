/**
 * The contract between the controllers and the worker pods they schedule
 * (dedup-upload backups and restores). A worker gets everything it needs
 * from its environment and needs no Kubernetes API access at all:
 *
 * - LIFEBOAT_WORKER_SPEC: a WorkerSpec as JSON (nothing secret in it);
 * - secrets as env vars filled from Secrets by the pod spec (secretKeyRef):
 *   see SECRET_ENV below;
 * - it serves GET /progress (WorkerProgress as JSON), GET /metrics
 *   (Prometheus) and PUT /bandwidth (body: bytes per second, or "0" for
 *   unlimited) on POD_IP:LIFEBOAT_WORKER_PORT, so the controller can follow it
 *   and throttle it live (Gateway flow control) without the worker holding
 *   any credentials for the cluster;
 * - it exits with one of EXIT_CODES so the controller can report why a VM
 *   failed from the pod status alone.
 */

/** A bucket location on an S3-compatible store, without credentials. */
export interface WorkerS3Location {
  readonly endpoint?: string;
  readonly bucket: string;
  readonly region?: string;
  readonly prefix?: string;
  readonly forcePathStyle?: boolean;
}

/** Where the vault is, without its secrets (those come from SECRET_ENV). */
export interface WorkerVault {
  readonly filesystem?: { readonly path: string };
  readonly s3?: WorkerS3Location & {
    readonly useHTTPS?: boolean;
    readonly storageClass?: string;
  };
}

/** How to reach a vCenter, without its credentials. */
export interface WorkerVCenter {
  readonly address: string;
  readonly tls: { readonly thumbprint?: string; readonly insecureSkipVerify?: boolean; readonly caCertEnv?: string };
  readonly timeoutMs?: number;
}

/** Back up one VM into one recovery point. */
export interface BackupWorkerSpec {
  readonly mode: "backup";
  /** Run id; also in the point's labels, so a retried worker and the controller find the point. */
  readonly runId: string;
  readonly vm: { readonly name: string; readonly moRef?: string };
  readonly vcenter: WorkerVCenter;
  readonly vault: WorkerVault;
  readonly quiesce: boolean;
  readonly changedBlockTracking: boolean;
  /** Labels of the point: at least plan, namespace, vm, run. */
  readonly labels: Readonly<Record<string, string>>;
  /** Initial upload limit in bytes per second (0 or absent: unlimited); PUT /bandwidth changes it. */
  readonly bandwidthBytesPerSecond?: number;
  /** Worker threads for hashing, compression and encryption (default: one per core). */
  readonly threads?: number;
}

/** Restore one recovery point. */
export interface RestoreWorkerSpec {
  readonly mode: "restore";
  readonly pointId: string;
  readonly vault: WorkerVault;
  readonly target:
    | {
        readonly vSphere: {
          readonly vcenter: WorkerVCenter;
          readonly datacenter?: string;
          readonly cluster?: string;
          readonly host?: string;
          readonly resourcePool?: string;
          readonly datastore: string;
          readonly folder?: string;
          /** New VM name; absent with inPlace. */
          readonly vmName?: string;
          readonly inPlace: boolean;
          readonly networkMappings: readonly { readonly source: string; readonly target: string }[];
          readonly diskProvisioning: "Thin" | "Thick" | "EagerZeroedThick";
          readonly powerOn: boolean;
        };
      }
    | {
        readonly imageFile: {
          readonly format: "raw";
          /** A directory on the worker's filesystem; one file per disk. Exactly one of path and s3. */
          readonly path?: string;
          /** A bucket; one object per disk under prefix (credentials from SECRET_ENV.image*). */
          readonly s3?: WorkerS3Location;
          readonly diskKeys?: readonly number[];
        };
      };
}

export type WorkerSpec = BackupWorkerSpec | RestoreWorkerSpec;

/** Environment variables a worker reads secrets from (each filled by a secretKeyRef). */
export const SECRET_ENV = {
  vaultKey: "LIFEBOAT_VAULT_KEY",
  vaultAccessKeyId: "LIFEBOAT_VAULT_ACCESS_KEY_ID",
  vaultSecretAccessKey: "LIFEBOAT_VAULT_SECRET_ACCESS_KEY",
  vcenterUsername: "LIFEBOAT_VCENTER_USERNAME",
  vcenterPassword: "LIFEBOAT_VCENTER_PASSWORD",
  imageAccessKeyId: "LIFEBOAT_IMAGE_ACCESS_KEY_ID",
  imageSecretAccessKey: "LIFEBOAT_IMAGE_SECRET_ACCESS_KEY",
} as const;

export const SPEC_ENV = "LIFEBOAT_WORKER_SPEC";
export const PORT_ENV = "LIFEBOAT_WORKER_PORT";
export const DEFAULT_WORKER_PORT = 8090;

/** What GET /progress answers. */
export interface WorkerProgress {
  readonly phase: "Starting" | "Snapshotting" | "Transferring" | "Committing" | "CleaningUp" | "Succeeded" | "Failed";
  /** Bytes of changed (or allocated) areas read so far / to read. */
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** Bytes written to the vault (after dedup, compression, encryption). */
  readonly bytesUploaded: number;
  readonly throughputBytesPerSecond: number;
  readonly etaSeconds?: number;
  /** The point written, once committed (backup) or restored from (restore). */
  readonly pointId?: string;
  /** Restore: the VM created (MoRef) or files written. */
  readonly vmMoRef?: string;
  readonly paths?: readonly string[];
  readonly message?: string;
}

/**
 * Exit codes and the condition reasons they stand for. Anything else is a
 * plain failure ("WorkerFailed").
 */
export const EXIT_CODES: Readonly<Record<number, string>> = {
  0: "Succeeded",
  10: "AuthenticationFailed",
  11: "VCenterUnreachable",
  12: "CertificateMismatch",
  13: "VMNotFound",
  14: "SnapshotFailed",
  15: "VaultUnavailable",
  16: "WrongKey",
  17: "PointNotFound",
  18: "InvalidSpec",
  19: "RestoreTargetFailed",
};

/** The reason for an exit code. */
export function reasonForExitCode(code: number): string {
  return EXIT_CODES[code] ?? "WorkerFailed";
}
