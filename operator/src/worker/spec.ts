/**
 * The contract between the controllers and the worker pods they schedule
 * (dedup-upload backups, restores and DR seeds). A worker gets everything it needs
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
import type { ImageFormat } from "../image/formats.js";

/** A bucket location on an S3-compatible store, without credentials. */
export interface WorkerS3Location {
  readonly endpoint?: string;
  readonly bucket: string;
  readonly region?: string;
  readonly prefix?: string;
  readonly forcePathStyle?: boolean;
}

/**
 * Where the vault is, without its secrets (those come from SECRET_ENV). A
 * vault on a PersistentVolumeClaim is a filesystem path here: the worker Job
 * mounts the claim there.
 */
export interface WorkerVault {
  readonly filesystem?: { readonly path: string };
  readonly s3?: WorkerS3Location & {
    readonly useHTTPS?: boolean;
    readonly storageClass?: string;
    /** Environment variable holding the PEM bundle to trust for the endpoint (the BackupVault's caSecretRef); absent: the default trust (see EXTRA_CA_ENV). */
    readonly caCertEnv?: string;
  };
}

/**
 * How to reach a vCenter, without its credentials. At most one way of trust;
 * none (an empty tls) means the default trust: Node's CA list plus
 * EXTRA_CA_ENV, as the operator itself does.
 */
export interface WorkerVCenter {
  readonly address: string;
  readonly tls: { readonly thumbprint?: string; readonly insecureSkipVerify?: boolean; readonly caCertEnv?: string };
  readonly timeoutMs?: number;
  /** How long the worker waits for this vCenter when it does not answer the login (a restart), retrying, before the attempt fails (vcenter-outage.ts); unset: it fails at once. */
  readonly outageWaitSeconds?: number;
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
  /** Labels of the point: at least namespace, the lineage labels, vm, run. */
  readonly labels: Readonly<Record<string, string>>;
  /** Labels whose values identify the chain this point continues: its parent is the newest point of the vault with the same values that recorded changeIds. Default ["namespace", "plan", "vm"] (a BackupPlan's VM); replication uses ["namespace", "protectedServer", "direction"]. */
  readonly lineage?: readonly string[];
  /** ISO time the snapshot is taken at, not before (a consistency group's tick, so that its members' snapshots are a moment apart): the worker gets ready (vCenter, the VM, CBT) and waits for it. A time passed already: at once. */
  readonly snapshotAt?: string;
  /** Read every allocated area ("*") and take no parent: a checksum resync after CBT can no longer be trusted. The vault still stores only the blocks it lacks. The value is the reason (e.g. "ChangeIdRejected"), recorded in the point's label `resync`. */
  readonly resync?: string;
  /** Initial upload limit in bytes per second (0 or absent: unlimited); PUT /bandwidth changes it. */
  readonly bandwidthBytesPerSecond?: number;
  /** Worker threads for hashing, compression and encryption (default: one per core). */
  readonly threads?: number;
  /**
   * A resync this run finds needed itself (CBT cannot be trusted) is not
   * made now: the run stops before reading, with the held reason's exit code
   * (EXIT.resyncHeld*), so that a replication cycle during business hours
   * leaves production storage alone. A resync asked for in `resync` is made.
   */
  readonly holdResync?: boolean;
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
          /** Written into the new VM's annotation so DR can find exactly what it created; includes restoreId (the worker appends it when it does not). */
          readonly annotation?: string;
          /** Identity of this restore; a retried worker that finds a VM of the target name whose annotation carries this id destroys it and starts over (a killed worker left it half-written), and fails if the name is taken by any other VM. Same characters as a run id. */
          readonly restoreId?: string;
          /** Fail closed: a NIC whose network has no mapping fails the restore instead of keeping its network name (drills must never land on a production network). */
          readonly requireNetworkMapping?: boolean;
          /** CPUs and memory of the new VM; default: the point's (labels numCPUs, memoryMiB). */
          readonly numCpu?: number;
          readonly memoryMB?: number;
          /** In place into a VM that is not the one the point was taken of (failback into the original VM from a point of the recovered one): found by MoRef; disks paired in controller/unit order; the instance-UUID check is skipped; capacities must still match. Needs inPlace. */
          readonly targetVm?: { readonly moRef: string; readonly name: string };
        };
      }
    | {
        readonly imageFile: {
          /** The image format; raw files in a directory are written in place and sparse, every other format (and any bucket) as a stream. */
          readonly format: ImageFormat;
          /** A directory on the worker's filesystem; one file per disk. Exactly one of path and s3. */
          readonly path?: string;
          /** A bucket; one object per disk under prefix (credentials from SECRET_ENV.image*). */
          readonly s3?: WorkerS3Location & {
            /** Refuse an http:// endpoint (the RestoreJob's useHTTPS, true by default there). */
            readonly useHTTPS?: boolean;
            /** Environment variable holding the PEM bundle to trust for the endpoint (SECRET_ENV.imageCa, from the RestoreJob's caSecretRef); absent: the default trust. */
            readonly caCertEnv?: string;
          };
          readonly diskKeys?: readonly number[];
        };
      }
    | { readonly cloudImage: CloudImageWorkerTarget };
}

/**
 * A restore to an Alibaba ECS custom image (RestoreJob spec.target.cloudImage).
 * The AccessKey pair comes from SECRET_ENV.cloudAccessKeyId/cloudAccessKeySecret.
 */
export interface CloudImageWorkerTarget {
  readonly provider: "AlibabaECS";
  readonly regionId: string;
  readonly imageName: string;
  /** ImportImage: stage image files in OSS and import them. IntermediateInstance: a temporary instance writes them onto cloud disks, whose snapshots become the image. */
  readonly strategy: "ImportImage" | "IntermediateInstance";
  /** The staged files' format for ImportImage (IntermediateInstance stages stream-optimized VMDK, which its guest reads). */
  readonly format: "RAW" | "VHD" | "QCOW2";
  /** Where the disks are staged, for both strategies. */
  readonly ossBucket: string;
  /** The temporary instance (strategy IntermediateInstance). */
  readonly intermediateInstance?: IntermediateInstanceWorkerSpec;
  /** Overrides of what the point says about the guest (guest id and firmware labels). */
  readonly osType?: "linux" | "windows";
  readonly platform?: string;
  readonly architecture?: "x86_64" | "arm64";
  readonly bootMode?: "BIOS" | "UEFI";
  /** Endpoint URLs (VPC endpoints; a test peer); default: the region's public endpoints. */
  readonly ecsEndpoint?: string;
  readonly ossEndpoint?: string;
  /** Identity of this restore: the tag value on everything it creates (lifeboat.io/restore), the staging key prefix and the ClientToken, so a retried worker finds its own work. */
  readonly restoreId: string;
  /** How often to look at the import, the guest or the snapshots (default 5000 ms). */
  readonly pollIntervalMs?: number;
}

/** The temporary instance of an IntermediateInstance restore (RestoreJob spec.target.cloudImage.intermediateInstance). */
export interface IntermediateInstanceWorkerSpec {
  /** The image it boots; it must run guestCommand. */
  readonly imageId: string;
  readonly instanceType: string;
  readonly vSwitchId: string;
  readonly securityGroupId: string;
  readonly zoneId?: string;
  readonly diskCategory: string;
  /** Shell command that runs `guest-main.js` with the GuestWriteSpec on stdin. */
  readonly guestCommand: string;
  /** How long the guest may take to write the disks and report. */
  readonly guestTimeoutMs: number;
  /** The OSS endpoint URL of the presigned URLs the guest uses (default: the region's internal endpoint). */
  readonly ossEndpoint?: string;
}

/**
 * Builds one point in `vault` whose disks hold exactly the content of point `source.pointId` of `source.vault`.
 * Blocks a local VM already holds (same keyed hash under the SOURCE vault's key) are read locally; only the
 * others are fetched from the source vault. When `source.vault` is the same repository as `vault` (same
 * repository id), the point reuses the block ids and reads nothing. Both vaults must have the same block size.
 */
export interface SeedWorkerSpec {
  readonly mode: "seed";
  readonly runId: string;
  /** The destination; secrets SECRET_ENV.vaultKey (and vaultAccessKeyId, vaultSecretAccessKey for S3). */
  readonly vault: WorkerVault;
  /** The point to copy; secrets SECRET_ENV.sourceVaultKey (and sourceVaultAccessKeyId, sourceVaultSecretAccessKey for S3). */
  readonly source: { readonly vault: WorkerVault; readonly pointId: string };
  /** A VM at the destination's site whose disks mostly hold the content (read through a snapshot that is always removed). Absent, or not found: every non-zero block is fetched (the log and /progress say so). */
  readonly local?: { readonly vcenter: WorkerVCenter; readonly vm: { readonly name: string; readonly moRef?: string } };
  /** The point's disks: its key, the source point's disk whose content it gets, the local VM's disk (device key) to compare with, and the CBT changeId to record so a later cycle can continue from this point. */
  readonly disks: readonly { readonly key: string; readonly sourceDiskKey: string; readonly localDiskKey?: number; readonly changeId?: string }[];
  /** Point labels (lineage labels, vm, run ...); `run` = runId. The worker adds `seedOf=<source point id>`, `transferredBytes` (bytes of encrypted blobs fetched from the source vault) and `localBytes` (bytes taken from the local VM). */
  readonly labels: Readonly<Record<string, string>>;
  /** Initial limit, in bytes per second, on fetching from the source vault (the link between sites; 0 or absent: unlimited); PUT /bandwidth changes it. */
  readonly bandwidthBytesPerSecond?: number;
  /** Worker threads for hashing, compression and encryption (default: one per core). */
  readonly threads?: number;
}

/**
 * Back up an Alibaba ECS instance into one recovery point, the way ECS lets
 * a disk's bytes leave the cloud: snapshot every disk, make a
 * custom image of the snapshots, export it to OSS (ExportImage: QCOW2 where
 * the region honours ImageFormat, else RAW) and read the files into the vault. VMwareToCloud reverse replication uses
 * it: the point is in the protected site's vault, a failback restores it to
 * vSphere. ECS has no changed-block API, so every cycle reads whole disks;
 * the vault still stores only the blocks it lacks.
 * The AccessKey pair comes from SECRET_ENV.cloudAccessKeyId/cloudAccessKeySecret.
 */
export interface EcsBackupWorkerSpec {
  readonly mode: "ecsBackup";
  /** Run id; the point's `run` label, the tag value on the snapshots and image, the OSS prefix. */
  readonly runId: string;
  readonly instance: { readonly regionId: string; readonly instanceId: string };
  /** The bucket ExportImage writes to (in the instance's region; ECS must be allowed to write to it). */
  readonly ossBucket: string;
  /** Endpoint URLs (VPC endpoints; a test peer); default: the region's public endpoints. */
  readonly ecsEndpoint?: string;
  readonly ossEndpoint?: string;
  /** The point's disks: its key, the instance's device it is read from (/dev/xvda is the system disk), and its size (the ECS disk may be larger: whole GiB; a non-zero tail keeps the ECS size). */
  readonly disks: readonly { readonly key: string; readonly device: string; readonly sizeBytes: number }[];
  readonly vault: WorkerVault;
  /** Labels of the point: at least namespace and the lineage labels. */
  readonly labels: Readonly<Record<string, string>>;
  readonly lineage?: readonly string[];
  /** Initial limit, in bytes per second, on reading the exported files (0 or absent: unlimited); PUT /bandwidth changes it. */
  readonly bandwidthBytesPerSecond?: number;
  readonly threads?: number;
  /** How often to look at snapshots, the image and the export (default 5000 ms). */
  readonly pollIntervalMs?: number;
}

/**
 * Maintenance of one vault, run as a Job on a Gateway rather than inside the
 * operator (whose memory limit a large vault's prune would exceed, and which
 * should never hold a vault's exclusive lock): forget the points a retention
 * decision named, then prune what no point references. The operator decides
 * which points go (from the point list and its pins) and reads the
 * MaintenanceResult this worker leaves as its termination message.
 */
export interface MaintenanceWorkerSpec {
  readonly mode: "maintenance";
  readonly vault: WorkerVault;
  /** Points to forget. One already gone is skipped; one under the vault lock is kept and counted (never an error). */
  readonly forget: readonly string[];
  /** Prune after forgetting: with the margin that protects packs of writers still in flight. */
  readonly prune?: { readonly marginMs: number };
  /** Check the vault last: its structure, and with readData every pack's bytes. */
  readonly check?: { readonly readData: boolean };
  /** How long prune (or a check, while prune holds the vault) keeps trying while the vault is held (RepositoryBusy) before it gives up for this pass (default 2 minutes). */
  readonly busyWaitMs?: number;
}

export type WorkerSpec = BackupWorkerSpec | RestoreWorkerSpec | SeedWorkerSpec | EcsBackupWorkerSpec | MaintenanceWorkerSpec;

/** Environment variables a worker reads secrets from (each filled by a secretKeyRef). */
export const SECRET_ENV = {
  vaultKey: "LIFEBOAT_VAULT_KEY",
  vaultAccessKeyId: "LIFEBOAT_VAULT_ACCESS_KEY_ID",
  vaultSecretAccessKey: "LIFEBOAT_VAULT_SECRET_ACCESS_KEY",
  /** Seed: the source vault's key and S3 credentials. */
  sourceVaultKey: "LIFEBOAT_SOURCE_VAULT_KEY",
  sourceVaultAccessKeyId: "LIFEBOAT_SOURCE_VAULT_ACCESS_KEY_ID",
  sourceVaultSecretAccessKey: "LIFEBOAT_SOURCE_VAULT_SECRET_ACCESS_KEY",
  vcenterUsername: "LIFEBOAT_VCENTER_USERNAME",
  vcenterPassword: "LIFEBOAT_VCENTER_PASSWORD",
  /** PEM bundles from caSecretRefs (not secret, but they come from Secrets): the VCenter's, the vault's S3 endpoint's, a seed's source vault's. */
  vcenterCa: "LIFEBOAT_VCENTER_CA",
  vaultCa: "LIFEBOAT_VAULT_CA",
  sourceVaultCa: "LIFEBOAT_SOURCE_VAULT_CA",
  imageAccessKeyId: "LIFEBOAT_IMAGE_ACCESS_KEY_ID",
  imageSecretAccessKey: "LIFEBOAT_IMAGE_SECRET_ACCESS_KEY",
  /** The image bucket endpoint's CA bundle (RestoreJob spec.target.imageFile.s3.caSecretRef). */
  imageCa: "LIFEBOAT_IMAGE_CA",
  /** A cloud image's AccessKey pair (ECS and OSS). */
  cloudAccessKeyId: "LIFEBOAT_CLOUD_ACCESS_KEY_ID",
  cloudAccessKeySecret: "LIFEBOAT_CLOUD_ACCESS_KEY_SECRET",
} as const;

/** Where a vault's secrets come from: the vault's own or a seed's source vault's. */
export interface VaultSecrets {
  readonly key: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The S3 endpoint's CA bundle, when the BackupVault names one. */
  readonly ca: string;
}

export const VAULT_SECRETS: VaultSecrets = { key: SECRET_ENV.vaultKey, accessKeyId: SECRET_ENV.vaultAccessKeyId, secretAccessKey: SECRET_ENV.vaultSecretAccessKey, ca: SECRET_ENV.vaultCa };
export const SOURCE_VAULT_SECRETS: VaultSecrets = {
  key: SECRET_ENV.sourceVaultKey,
  accessKeyId: SECRET_ENV.sourceVaultAccessKeyId,
  secretAccessKey: SECRET_ENV.sourceVaultSecretAccessKey,
  ca: SECRET_ENV.sourceVaultCa,
};

/**
 * Optional, not secret: PEM certificates a worker trusts in addition to
 * Node's bundled CA list wherever a spec names no CA of its own (vCenter
 * without spec.tls, S3 endpoints without caSecretRef). The operator fills it
 * from the file its NODE_EXTRA_CA_CERTS names, so workers trust what the
 * operator trusts.
 */
export const EXTRA_CA_ENV = "LIFEBOAT_EXTRA_CA_CERTS";

export const SPEC_ENV = "LIFEBOAT_WORKER_SPEC";
export const PORT_ENV = "LIFEBOAT_WORKER_PORT";
/**
 * The worker's control token: a per-Job random secret the operator puts in a
 * Secret owned by the Job. Requests that change the worker (PUT /bandwidth)
 * must carry it as `Authorization: Bearer <token>`; a worker without one
 * refuses them all, so that no other pod can lift a limit.
 */
export const CONTROL_TOKEN_ENV = "LIFEBOAT_WORKER_CONTROL_TOKEN";
export const DEFAULT_WORKER_PORT = 8090;

/**
 * What a backup worker leaves as its termination message when it succeeds:
 * the point and its final figures, which the controller records for a VM
 * even when the worker ended between two of its progress polls.
 */
export interface BackupResult {
  readonly pointId: string;
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

/** The JSON object a worker left as its termination message, or undefined for anything else (a failure line, an older worker). */
export function terminationObject<T>(message: string | undefined): Partial<Record<keyof T, unknown>> | undefined {
  if (!message?.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(message);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A BackupResult from a termination message, or undefined when it is not one (an older worker, a failure line). */
export function parseBackupResult(message: string | undefined): BackupResult | undefined {
  const r = terminationObject<BackupResult>(message);
  return typeof r?.pointId === "string" && Number.isSafeInteger(r.bytesDone) && Number.isSafeInteger(r.bytesTotal)
    ? { pointId: r.pointId, bytesDone: r.bytesDone as number, bytesTotal: r.bytesTotal as number }
    : undefined;
}

/** What a maintenance worker leaves as its termination message when it succeeds (well under the 4 KiB a message may hold). */
export interface MaintenanceResult {
  readonly forgotten: number;
  /** Named points the vault lock keeps until their retain-until. */
  readonly keptLocked: number;
  /** Named points already gone (forgotten by an earlier attempt). */
  readonly alreadyGone: number;
  readonly prune?: {
    readonly packsDeleted: number;
    readonly packsRepacked: number;
    readonly bytesFreed: number;
    readonly packsKeptYoung: number;
    readonly packsKeptLocked: number;
  };
  /** Why prune did not run this time (backups held the vault past busyWaitMs); the space is reclaimed by a later pass. */
  readonly pruneDeferred?: string;
  /** What the check found: counts, and the first errors (the whole list is in the pod's log). */
  readonly check?: {
    readonly ok: boolean;
    readonly errorCount: number;
    readonly warningCount: number;
    readonly errors: readonly string[];
    readonly points: number;
    readonly packs: number;
    readonly bytesVerified: number;
  };
}

/** A MaintenanceResult from a termination message, or undefined when it is not one (a failure line). */
export function parseMaintenanceResult(message: string | undefined): MaintenanceResult | undefined {
  const r = terminationObject<MaintenanceResult>(message);
  return r && Number.isSafeInteger(r.forgotten) && Number.isSafeInteger(r.keptLocked) && Number.isSafeInteger(r.alreadyGone) ? (r as MaintenanceResult) : undefined;
}

/** What GET /progress answers. */
export interface WorkerProgress {
  readonly phase: "Starting" | "Snapshotting" | "Transferring" | "Committing" | "CleaningUp" | "Succeeded" | "Failed";
  /** Bytes of changed (or allocated) areas read so far / to read; a seed counts the source disks' sizes. */
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
  /** Restore to a cloud image: the image, once the cloud named it (before it is Available). */
  readonly imageId?: string;
  readonly message?: string;
  /** Backup: why this cycle reads every allocated area without a parent (ChangeIdRejected, DiskResized, ChangeTrackingReset, or spec.resync), set as soon as it is decided. */
  readonly resync?: string;
  /** Seed: bytes of encrypted blobs fetched from the source vault, and bytes of content taken from the local VM. */
  readonly bytesFetched?: number;
  readonly bytesLocal?: number;
  /** Set while the worker's vault requests fail and are retried (vault-outage.ts); gone once one succeeds again. */
  readonly vaultOutage?: { readonly since: string; readonly message: string };
  /** Set while the worker waits for a vCenter that does not answer its login (vcenter-outage.ts); gone once it logs in. */
  readonly vcenterOutage?: { readonly since: string; readonly message: string };
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
  20: "CloudImageFailed",
  21: "CloudExportFailed",
  22: "VaultFull",
  23: "NoSnapshotDisks",
  24: "ResyncHeld",
  25: "ResyncHeld",
  26: "ResyncHeld",
};

/** The reason for an exit code. */
export function reasonForExitCode(code: number): string {
  return EXIT_CODES[code] ?? "WorkerFailed";
}
