// Generated from the schemas in operator/src/api by `npm run generate`. Do not edit.
import type { V1ObjectMeta } from "@kubernetes/client-node";

export interface BackupVaultSpec {
  /**
   * Where the repository is stored.
   */
  backend: {
    /**
     * A repository on a filesystem: a host path or a PersistentVolumeClaim.
     */
    filesystem?: {
      /**
       * Absolute path of the repository on the operator's and the workers' filesystems (storage mounted at the same path in both, e.g. by a node image); Lifeboat mounts nothing for it.
       */
      path?: string;
      /**
       * Reference to a PersistentVolumeClaim holding the repository at its root: workers mount it; the operator opens it at /var/lib/lifeboat/vaults/<namespace>/<claim name>, which the chart value vaultVolumes mounts in the same namespace.
       */
      persistentVolumeClaim?: {
        /**
         * Name of the PersistentVolumeClaim holding the repository at its root: workers mount it; the operator opens it at /var/lib/lifeboat/vaults/<namespace>/<claim name>, which the chart value vaultVolumes mounts in the same namespace.
         */
        name: string;
      };
    };
    /**
     * A repository in an S3-compatible bucket (AWS S3, Alibaba OSS, MinIO, Ceph RGW).
     */
    s3?: {
      /**
       * S3 endpoint, e.g. https://oss-cn-shanghai.aliyuncs.com or http://minio:9000; empty for AWS S3.
       */
      endpoint?: string;
      /**
       * Bucket name.
       */
      bucket: string;
      /**
       * Region of the bucket.
       */
      region?: string;
      /**
       * Key prefix under which the repository lives.
       */
      prefix?: string;
      /**
       * Address the bucket in the path (MinIO, Ceph RGW) rather than the host name.
       */
      forcePathStyle?: boolean;
      /**
       * Require HTTPS to the endpoint (seed 001: transferring over HTTPS costs some throughput).
       */
      useHTTPS?: boolean;
      /**
       * Storage class for new objects, e.g. STANDARD or STANDARD_IA (the seeds' ZRS/LRS choice is a bucket property).
       */
      storageClass?: string;
      /**
       * Secret holding the access key pair. Lifeboat watches it: a rotated value takes effect without a restart.
       */
      credentialsSecretRef: {
        /**
         * Name of the Secret in the same namespace.
         */
        name: string;
        /**
         * Key of the access key id.
         */
        accessKeyIdKey?: string;
        /**
         * Key of the secret access key.
         */
        secretAccessKeyKey?: string;
      };
      /**
       * Secret holding a CA bundle to trust for the endpoint. Lifeboat watches it: a rotated value takes effect without a restart.
       */
      caSecretRef?: {
        /**
         * Name of the Secret in the same namespace.
         */
        name: string;
        /**
         * Key of the PEM bundle.
         */
        key?: string;
      };
    };
  };
  /**
   * Encryption: every block is encrypted with AES-256-GCM under a data key wrapped by this key.
   */
  encryption: {
    /**
     * Secret holding the repository key that wraps the data key: text (workers receive it in an environment variable), 32 or more random characters, e.g. from `openssl rand -base64 32`. Lifeboat watches it: a rotated value takes effect without a restart.
     */
    keySecretRef: {
      /**
       * Name of the Secret in the same namespace.
       */
      name: string;
      /**
       * Key in the Secret.
       */
      key?: string;
    };
  };
  /**
   * Fixed block size for disk images; aligned blocks deduplicate best against VMware's 1 MiB-granular CBT.
   */
  blockSize?: "256Ki" | "512Ki" | "1Mi" | "2Mi" | "4Mi" | "8Mi";
  /**
   * zstd level; 1 is fastest, 3 shrinks a little more.
   */
  compressionLevel?: number;
  /**
   * The backup lock (seed 000): no recovery point is deleted before its retention ends, by any command; on S3 the objects carry Object Lock retention.
   */
  lock?: {
    /**
     * Lock recovery points until their retention ends.
     */
    enabled?: boolean;
    /**
     * Governance: a user with the bypass permission on the bucket may still delete. Compliance: nobody can, not even the bucket owner.
     */
    mode?: "Governance" | "Compliance";
    /**
     * Days each recovery point stays locked after it is written.
     */
    retentionDays?: number;
  };
  /**
   * Initialise the repository when the backend is empty.
   */
  initialize?: boolean;
  /**
   * Verification of the vault by a maintenance Job: on a schedule, on request, or both. status.lastCheck and the Verified condition say what it found.
   */
  check?: {
    /**
     * When to check, as a cron expression (5 fields), e.g. "0 3 * * 0" for Sundays at 03:00; without it, checks run only on request.
     */
    schedule?: string;
    /**
     * IANA time zone of the schedule, e.g. Asia/Tokyo.
     */
    timeZone?: string;
    /**
     * Also read and verify every pack's bytes (reads the whole vault); without it, the structure: every point's blocks are indexed, and every indexed block is in its pack's header.
     */
    readData?: boolean;
    /**
     * Any new value runs a check now (e.g. a timestamp).
     */
    request?: string;
    /**
     * Reference to a Gateway whose workers run the check (its placement and resources); the check is a maintenance Job, never run in the operator in the same namespace.
     */
    gatewayRef: {
      /**
       * Name of the Gateway whose workers run the check (its placement and resources); the check is a maintenance Job, never run in the operator in the same namespace.
       */
      name: string;
    };
  };
}

export interface BackupVaultStatus {
  /**
   * The .metadata.generation the controller last acted on.
   */
  observedGeneration?: number;
  /**
   * Observations of the object's state.
   */
  conditions?: {
    /**
     * Type of condition in CamelCase.
     */
    type: string;
    /**
     * Status of the condition.
     */
    status: "True" | "False" | "Unknown";
    /**
     * The .metadata.generation the condition was set from.
     */
    observedGeneration?: number;
    /**
     * When the condition last changed status.
     */
    lastTransitionTime: string;
    /**
     * One-word CamelCase reason for the last transition.
     */
    reason: string;
    /**
     * Human-readable message: what happened and what to do about it.
     */
    message: string;
  }[];
  /**
   * Unique id of the repository, from its config.
   */
  repositoryID?: string;
  /**
   * Repository format version.
   */
  formatVersion?: number;
  /**
   * Bytes stored in the backend after dedup and compression: packs, index, manifests and key slots.
   */
  storedBytes?: number;
  /**
   * storedBytes for people, e.g. "1.5 GiB" (binary units, rounded; programs read storedBytes).
   */
  stored?: string;
  /**
   * Bytes of all recovery points as restored: the sum of their disks' sizes, zeros included.
   */
  logicalBytes?: number;
  /**
   * logicalBytes for people, e.g. "400 GiB".
   */
  logical?: string;
  /**
   * Bytes of data the recovery points reference: their disks' non-zero blocks (zero blocks are holes, never stored), counted once per point.
   */
  allocatedBytes?: number;
  /**
   * allocatedBytes for people, e.g. "120 GiB".
   */
  allocated?: string;
  /**
   * allocatedBytes / storedBytes with two decimals, e.g. "4.21": bytes of VM data per byte of storage, from blocks shared between disks and points and from compression together; zeros count on neither side, so a sparse disk does not inflate it. "0.00" for an empty vault.
   */
  dedupRatio?: string;
  /**
   * Bytes of the blocks the vault holds before compression / after (as sealed blobs), two decimals, e.g. "1.80": compression's share of dedupRatio (dedupRatio / compressionRatio is roughly what shared blocks alone save). "0.00" for an empty vault.
   */
  compressionRatio?: string;
  /**
   * Recovery points in the repository.
   */
  recoveryPointCount?: number;
  /**
   * When recovery points were last synced from the repository.
   */
  lastSyncTime?: string;
  lastCheck?: {
    /**
     * The maintenance Job of the check.
     */
    job?: string;
    /**
     * What started it.
     */
    trigger?: "Schedule" | "Request";
    /**
     * Whether it read every pack's bytes.
     */
    readData?: boolean;
    /**
     * Running; Succeeded when it ran to the end (errors or not); Failed when it could not run.
     */
    phase?: "Running" | "Succeeded" | "Failed";
    /**
     * When it started.
     */
    startTime?: string;
    /**
     * When it ended.
     */
    completionTime?: string;
    /**
     * Errors found (damaged or missing objects).
     */
    errors?: number;
    /**
     * Warnings (unreferenced data prune will remove, and the like).
     */
    warnings?: number;
    /**
     * Recovery points checked.
     */
    points?: number;
    /**
     * Bytes of pack data read and verified (readData).
     */
    bytesVerified?: number;
    /**
     * What it found, with the first errors; the Job's log has them all.
     */
    message?: string;
  };
  /**
   * When the next scheduled check starts.
   */
  nextCheck?: string;
  /**
   * The spec.check.request value last acted on.
   */
  lastHandledCheckRequest?: string;
}

/** A deduplicating, compressing, encrypting backup repository on a filesystem or S3-compatible object storage. */
export interface BackupVault {
  apiVersion: "lifeboat.io/v1alpha1";
  kind: "BackupVault";
  metadata: V1ObjectMeta;
  spec: BackupVaultSpec;
  status?: BackupVaultStatus;
}

export interface GatewaySpec {
  /**
   * Reference to a BackupVault the workers write to in the same namespace.
   */
  vaultRef: {
    /**
     * Name of the BackupVault the workers write to in the same namespace.
     */
    name: string;
  };
  /**
   * Where the VMs run (seed 001): on-premises vSphere or Alibaba Cloud VMware Service.
   */
  platform?: "OnPremVSphere" | "ACVS";
  /**
   * How workers reach the vault: over the Internet or inside a VPC.
   */
  networkType?: "Internet" | "VPC";
  /**
   * Send data to the vault over HTTPS (seed 001: slower, but encrypted in transit as well as at rest).
   */
  useHTTPS?: boolean;
  /**
   * Secret holding the AccessKey pair the workers use for the vault instead of the vault's own credentials (a per-site RAM user, as seed 001 recommends). Lifeboat watches it: a rotated value takes effect without a restart.
   */
  credentialsSecretRef?: {
    /**
     * Name of the Secret in the same namespace.
     */
    name: string;
    /**
     * Key of the AccessKey id.
     */
    accessKeyIdKey?: string;
    /**
     * Key of the AccessKey secret.
     */
    accessKeySecretKey?: string;
  };
  /**
   * Most worker pods running at once (seed 001: maximum worker threads).
   */
  maxWorkers?: number;
  /**
   * Most CPU cores all workers together may request (seed 001: maximum CPU cores).
   */
  maxCpu?: number;
  /**
   * Bandwidth limits by time window (seed 001 flow control). Outside every window, uploads are unlimited. Times are in timeZone.
   *
   * @maxItems 32
   */
  flowControl?: {
    /**
     * Days the window applies to.
     *
     * @minItems 1
     * @maxItems 7
     */
    days: ("Mon" | "Tue" | "Wed" | "Thu" | "Fri" | "Sat" | "Sun")[];
    /**
     * Time of day, HH:MM (24-hour).
     */
    start: string;
    /**
     * Time of day, HH:MM (24-hour).
     */
    end: string;
    /**
     * Upload limit for all workers together, in bytes per second, e.g. 50Mi.
     */
    bandwidth: string;
  }[];
  /**
   * IANA time zone of the flow-control windows, e.g. Asia/Tokyo.
   */
  timeZone?: string;
  /**
   * Where and how the worker pods run.
   */
  workers?: {
    /**
     * Node labels a worker's node must have.
     */
    nodeSelector?: {
      [k: string]: string;
    };
    /**
     * Tolerations for the workers' pods.
     *
     * @maxItems 32
     */
    tolerations?: {
      /**
       * Taint key.
       */
      key?: string;
      /**
       * Operator.
       */
      operator?: "Exists" | "Equal";
      /**
       * Taint value.
       */
      value?: string;
      /**
       * Taint effect; empty matches all.
       */
      effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute" | "";
      /**
       * For NoExecute: how long the pod stays bound.
       */
      tolerationSeconds?: number;
    }[];
    /**
     * Compute resources of each worker pod.
     */
    resources?: {
      /**
       * Requested resources.
       */
      requests?: {
        /**
         * Quantity.
         */
        [k: string]: string;
      };
      /**
       * Resource limits.
       */
      limits?: {
        /**
         * Quantity.
         */
        [k: string]: string;
      };
    };
    /**
     * PriorityClass of the worker pods.
     */
    priorityClassName?: string;
    /**
     * ServiceAccount of the worker pods; default: the one the chart creates.
     */
    serviceAccountName?: string;
  };
}

export interface GatewayStatus {
  /**
   * The .metadata.generation the controller last acted on.
   */
  observedGeneration?: number;
  /**
   * Observations of the object's state.
   */
  conditions?: {
    /**
     * Type of condition in CamelCase.
     */
    type: string;
    /**
     * Status of the condition.
     */
    status: "True" | "False" | "Unknown";
    /**
     * The .metadata.generation the condition was set from.
     */
    observedGeneration?: number;
    /**
     * When the condition last changed status.
     */
    lastTransitionTime: string;
    /**
     * One-word CamelCase reason for the last transition.
     */
    reason: string;
    /**
     * Human-readable message: what happened and what to do about it.
     */
    message: string;
  }[];
  /**
   * Worker pods running now.
   */
  activeWorkers?: number;
  /**
   * Upload throughput of all workers, averaged over the last minute.
   */
  throughputBytesPerSecond?: number;
  /**
   * The flow-control limit in force now; absent when unlimited.
   */
  bandwidthLimitBytesPerSecond?: number;
  /**
   * resourceVersion of the credentials Secret when the gateway was last activated.
   */
  activatedSecretVersion?: string;
}

/** A site's fleet of dedup-upload workers, with its limits, flow control and credentials. */
export interface Gateway {
  apiVersion: "lifeboat.io/v1alpha1";
  kind: "Gateway";
  metadata: V1ObjectMeta;
  spec: GatewaySpec;
  status?: GatewayStatus;
}

export interface VCenterSpec {
  /**
   * Host name or IP address of vCenter, optionally with :port.
   */
  address: string;
  /**
   * Secret holding the vCenter user name and password. Lifeboat watches it: a rotated value takes effect without a restart.
   */
  credentialsSecretRef: {
    /**
     * Name of the Secret in the same namespace.
     */
    name: string;
    /**
     * Key of the user name, e.g. backup@vsphere.local.
     */
    usernameKey?: string;
    /**
     * Key of the password; any characters.
     */
    passwordKey?: string;
  };
  /**
   * How to trust vCenter's certificate; with none set, the system's CAs.
   */
  tls?: {
    /**
     * Secret holding the CA bundle that signed vCenter's certificate. Lifeboat watches it: a rotated value takes effect without a restart.
     */
    caSecretRef?: {
      /**
       * Name of the Secret in the same namespace.
       */
      name: string;
      /**
       * Key of the PEM bundle.
       */
      key?: string;
    };
    /**
     * SHA-256 fingerprint of vCenter's certificate, hex with or without colons.
     */
    thumbprint?: string;
    /**
     * Do not verify vCenter's certificate at all. Only for labs.
     */
    insecureSkipVerify?: boolean;
  };
  /**
   * Reference to a Gateway whose workers reach this vCenter in the same namespace.
   */
  gatewayRef: {
    /**
     * Name of the Gateway whose workers reach this vCenter in the same namespace.
     */
    name: string;
  };
  /**
   * Timeout of one vSphere API call.
   */
  requestTimeoutSeconds?: number;
}

export interface VCenterStatus {
  /**
   * The .metadata.generation the controller last acted on.
   */
  observedGeneration?: number;
  /**
   * Observations of the object's state.
   */
  conditions?: {
    /**
     * Type of condition in CamelCase.
     */
    type: string;
    /**
     * Status of the condition.
     */
    status: "True" | "False" | "Unknown";
    /**
     * The .metadata.generation the condition was set from.
     */
    observedGeneration?: number;
    /**
     * When the condition last changed status.
     */
    lastTransitionTime: string;
    /**
     * One-word CamelCase reason for the last transition.
     */
    reason: string;
    /**
     * Human-readable message: what happened and what to do about it.
     */
    message: string;
  }[];
  /**
   * vCenter's product version, e.g. 8.0.2.
   */
  version?: string;
  /**
   * vCenter's build number.
   */
  build?: string;
  /**
   * vSphere API version.
   */
  apiVersion?: string;
  /**
   * vCenter instance UUID; recovery points record it to tell vCenters apart.
   */
  instanceUuid?: string;
  /**
   * Inventory counts, kept current from vCenter's change feed.
   */
  inventory?: {
    /**
     * Datacenters.
     */
    datacenters?: number;
    /**
     * Clusters.
     */
    clusters?: number;
    /**
     * ESXi hosts.
     */
    hosts?: number;
    /**
     * Datastores.
     */
    datastores?: number;
    /**
     * Networks.
     */
    networks?: number;
    /**
     * Virtual machines (templates excluded).
     */
    virtualMachines?: number;
  };
  /**
   * When the inventory counts were last updated.
   */
  lastRefresh?: string;
}

/** A vCenter Server: how to reach it, its credentials and how to trust its certificate. */
export interface VCenter {
  apiVersion: "lifeboat.io/v1alpha1";
  kind: "VCenter";
  metadata: V1ObjectMeta;
  spec: VCenterSpec;
  status?: VCenterStatus;
}

export interface BackupPlanSpec {
  /**
   * Reference to a VCenter the VMs are in in the same namespace.
   */
  vCenterRef: {
    /**
     * Name of the VCenter the VMs are in in the same namespace.
     */
    name: string;
  };
  /**
   * Reference to a BackupVault to write to in the same namespace.
   */
  vaultRef: {
    /**
     * Name of the BackupVault to write to in the same namespace.
     */
    name: string;
  };
  /**
   * Reference to a Gateway whose workers run the backups in the same namespace.
   */
  gatewayRef: {
    /**
     * Name of the Gateway whose workers run the backups in the same namespace.
     */
    name: string;
  };
  /**
   * Which VMs the plan covers; a VM matching any selector is included.
   */
  vms: {
    /**
     * VM names.
     *
     * @maxItems 1000
     */
    names?: string[];
    /**
     * Inventory folder paths; every VM below them, e.g. /dc1/vm/prod.
     *
     * @maxItems 100
     */
    folders?: string[];
    /**
     * Glob patterns on VM names, e.g. web-*.
     *
     * @maxItems 100
     */
    namePatterns?: string[];
    /**
     * VM names to leave out even when selected above.
     *
     * @maxItems 1000
     */
    excludeNames?: string[];
  };
  /**
   * When runs start. Without a schedule the plan runs only on request (spec.runRequest).
   */
  schedule?: {
    /**
     * Standard 5-field cron expression, e.g. "0 2 * * *", or a macro such as @daily.
     */
    cron: string;
    /**
     * IANA time zone the cron expression is in, e.g. Asia/Tokyo.
     */
    timeZone?: string;
    /**
     * A run missed by more than this (operator down) is skipped, not started late.
     */
    startingDeadlineSeconds?: number;
  };
  /**
   * Which recovery points to keep (grandfather-father-son). Points under the vault's lock are never deleted before their lock ends.
   */
  retention: {
    /**
     * Keep the newest N recovery points per VM.
     */
    keepLast?: number;
    /**
     * Keep the newest point of each of the last N days.
     */
    daily?: number;
    /**
     * Keep the newest point of each of the last N weeks.
     */
    weekly?: number;
    /**
     * Keep the newest point of each of the last N months.
     */
    monthly?: number;
    /**
     * Keep the newest point of each of the last N years.
     */
    yearly?: number;
    /**
     * Delete points older than this, e.g. 720h or 90d; a point any rule above keeps is kept.
     */
    maxAge?: string;
  };
  /**
   * Quiesce the guest file system through VMware Tools for application-consistent points.
   */
  quiesce?: boolean;
  /**
   * Read only changed areas (VMware CBT); the first run reads only allocated areas.
   */
  changedBlockTracking?: boolean;
  /**
   * Start no scheduled runs; a run in progress finishes.
   */
  paused?: boolean;
  /**
   * When a run is due while the previous one still runs: Skip it, or Wait and start it after.
   */
  overlapPolicy?: "Skip" | "Wait";
  /**
   * Set to a new value (e.g. a timestamp) to start a run now.
   */
  runRequest?: string;
}

export interface BackupPlanStatus {
  /**
   * The .metadata.generation the controller last acted on.
   */
  observedGeneration?: number;
  /**
   * Observations of the object's state.
   */
  conditions?: {
    /**
     * Type of condition in CamelCase.
     */
    type: string;
    /**
     * Status of the condition.
     */
    status: "True" | "False" | "Unknown";
    /**
     * The .metadata.generation the condition was set from.
     */
    observedGeneration?: number;
    /**
     * When the condition last changed status.
     */
    lastTransitionTime: string;
    /**
     * One-word CamelCase reason for the last transition.
     */
    reason: string;
    /**
     * Human-readable message: what happened and what to do about it.
     */
    message: string;
  }[];
  lastRun?: {
    /**
     * Run id.
     */
    id?: string;
    /**
     * When it started.
     */
    startTime?: string;
    /**
     * What started it.
     */
    trigger?: "Schedule" | "Request";
    /**
     * When it finished.
     */
    completionTime?: string;
    /**
     * Succeeded, PartiallyFailed (some VMs failed) or Failed.
     */
    result?: "Succeeded" | "PartiallyFailed" | "Failed";
    /**
     * Summary.
     */
    message?: string;
  };
  /**
   * When the last Succeeded run (every selected VM backed up) finished.
   */
  lastSuccessfulTime?: string;
  /**
   * When the next scheduled run starts.
   */
  nextRun?: string;
  currentRun?: {
    /**
     * Run id.
     */
    id?: string;
    /**
     * When it started.
     */
    startTime?: string;
    /**
     * What started it.
     */
    trigger?: "Schedule" | "Request";
    /**
     * Per-VM progress.
     */
    vms?: {
      /**
       * VM name.
       */
      name: string;
      /**
       * The VM's managed object id when the run started.
       */
      moRef?: string;
      /**
       * The worker Job backing this VM up.
       */
      job?: string;
      /**
       * Where this VM's backup is.
       */
      phase: "Pending" | "Snapshotting" | "Transferring" | "Committing" | "Succeeded" | "Failed" | "Skipped";
      /**
       * Bytes of changed areas read so far.
       */
      bytesDone?: number;
      /**
       * Bytes of changed areas to read.
       */
      bytesTotal?: number;
      /**
       * New bytes written to the vault (after dedup and compression).
       */
      bytesUploaded?: number;
      /**
       * Read throughput.
       */
      throughputBytesPerSecond?: number;
      /**
       * Estimated seconds to finish.
       */
      etaSeconds?: number;
      /**
       * Worker attempts so far.
       */
      attempts?: number;
      /**
       * One-word reason when Failed or Skipped, while the worker waits for its vault (VaultUnavailable), or while its Job retries a failed attempt (the reason of that attempt, e.g. VCenterUnreachable).
       */
      reason?: string;
      /**
       * What went wrong and what to do about it; on a Succeeded VM, the disks its point was taken without (independent disks and physical-mode RDMs, which a VM snapshot does not capture).
       */
      message?: string;
      /**
       * RecoveryPoint written, when Succeeded.
       */
      recoveryPoint?: string;
    }[];
  };
  /**
   * Per-VM results of the last finished run.
   */
  lastResults?: {
    /**
     * VM name.
     */
    name: string;
    /**
     * The VM's managed object id when the run started.
     */
    moRef?: string;
    /**
     * The worker Job backing this VM up.
     */
    job?: string;
    /**
     * Where this VM's backup is.
     */
    phase: "Pending" | "Snapshotting" | "Transferring" | "Committing" | "Succeeded" | "Failed" | "Skipped";
    /**
     * Bytes of changed areas read so far.
     */
    bytesDone?: number;
    /**
     * Bytes of changed areas to read.
     */
    bytesTotal?: number;
    /**
     * New bytes written to the vault (after dedup and compression).
     */
    bytesUploaded?: number;
    /**
     * Read throughput.
     */
    throughputBytesPerSecond?: number;
    /**
     * Estimated seconds to finish.
     */
    etaSeconds?: number;
    /**
     * Worker attempts so far.
     */
    attempts?: number;
    /**
     * One-word reason when Failed or Skipped, while the worker waits for its vault (VaultUnavailable), or while its Job retries a failed attempt (the reason of that attempt, e.g. VCenterUnreachable).
     */
    reason?: string;
    /**
     * What went wrong and what to do about it; on a Succeeded VM, the disks its point was taken without (independent disks and physical-mode RDMs, which a VM snapshot does not capture).
     */
    message?: string;
    /**
     * RecoveryPoint written, when Succeeded.
     */
    recoveryPoint?: string;
  }[];
  /**
   * The spec.runRequest value last acted on.
   */
  lastHandledRunRequest?: string;
  retention?: {
    /**
     * The maintenance Job of this pass: it forgets the points the retention does not keep, then prunes, on the plan's Gateway.
     */
    job?: string;
    /**
     * The id of the run whose end started it.
     */
    run?: string;
    /**
     * Running, Succeeded or Failed.
     */
    phase?: "Running" | "Succeeded" | "Failed";
    /**
     * When it started.
     */
    startTime?: string;
    /**
     * When it ended.
     */
    completionTime?: string;
    /**
     * Points forgotten.
     */
    forgotten?: number;
    /**
     * Points the retention would drop that the vault lock keeps until their retain-until.
     */
    keptLocked?: number;
    /**
     * Bytes prune removed from the vault.
     */
    bytesFreed?: number;
    /**
     * Why it failed, or why prune was deferred (PruneDeferred).
     */
    reason?: string;
    /**
     * What it did, or why it failed.
     */
    message?: string;
  };
  /**
   * VMs the selection matches now.
   */
  selectedVMs?: number;
}

/** Which VMs to back up, on what schedule, into which vault, kept for how long. */
export interface BackupPlan {
  apiVersion: "lifeboat.io/v1alpha1";
  kind: "BackupPlan";
  metadata: V1ObjectMeta;
  spec: BackupPlanSpec;
  status?: BackupPlanStatus;
}

export interface RecoveryPointSpec {
  /**
   * Reference to a BackupVault holding the point (vSphere points) in the same namespace.
   */
  vaultRef?: {
    /**
     * Name of the BackupVault holding the point (vSphere points) in the same namespace.
     */
    name: string;
  };
  /**
   * A point of a cloud-to-cloud replication (CrossZone, CrossRegion): the ECS snapshots of the instance's disks, taken at one moment. The cloud is the source of truth; the ProtectedServer keeps these objects in step with it.
   */
  cloudSnapshots?: {
    /**
     * Cloud whose snapshots the point is.
     */
    provider?: "AlibabaECS";
    /**
     * Region the snapshots are in.
     */
    region: string;
    /**
     * The ECS instance the snapshots were taken of.
     */
    instanceId?: string;
    /**
     * One snapshot per disk of the instance; the system disk's device is /dev/xvda.
     *
     * @minItems 1
     * @maxItems 17
     */
    snapshots: {
      /**
       * Device of the disk on the instance, e.g. /dev/xvda.
       */
      device: string;
      /**
       * ECS snapshot id.
       */
      snapshotId: string;
      /**
       * The disk the snapshot was taken of.
       */
      sourceDiskId?: string;
      /**
       * Size of that disk.
       */
      sizeGiB?: number;
      /**
       * Category of that disk, e.g. cloud_essd.
       */
      category?: string;
    }[];
  };
  /**
   * Id of the point's manifest in the vault.
   */
  pointID: string;
  /**
   * Reference to a BackupPlan that made the point in the same namespace.
   */
  planRef?: {
    /**
     * Name of the BackupPlan that made the point in the same namespace.
     */
    name: string;
  };
  /**
   * Reference to a ProtectedServer whose replication made the point in the same namespace.
   */
  protectedServerRef?: {
    /**
     * Name of the ProtectedServer whose replication made the point in the same namespace.
     */
    name: string;
  };
  /**
   * For a replication point: Forward (protected to recovery site) or Reverse (back, after a failover).
   */
  replicationDirection?: "Forward" | "Reverse";
  vm: {
    /**
     * VM name at backup time (or the ECS instance name, up to 128 characters).
     */
    name: string;
    /**
     * The VM's instance UUID.
     */
    instanceUUID?: string;
    /**
     * The VM's managed object id, e.g. vm-42.
     */
    moRef?: string;
    /**
     * Instance UUID of the vCenter it was in.
     */
    vCenterInstanceUUID?: string;
    /**
     * Guest OS identifier.
     */
    guestOS?: string;
    /**
     * vCPUs.
     */
    numCPUs?: number;
    /**
     * Memory in MiB.
     */
    memoryMiB?: number;
  };
  /**
   * When the snapshot was taken.
   */
  time: string;
  /**
   * Crash: as after power loss. Application: guest quiesced through VMware Tools.
   */
  consistency: "Crash" | "Application";
  /**
   * The VM's disks in the point.
   *
   * @maxItems 256
   */
  disks?: {
    /**
     * Device key of the disk.
     */
    key: number;
    /**
     * Device label, e.g. Hard disk 1.
     */
    label?: string;
    /**
     * Disk capacity.
     */
    capacityBytes: number;
    /**
     * Backing file at backup time, e.g. [ds1] web/web.vmdk.
     */
    fileName?: string;
    /**
     * Controller device key.
     */
    controllerKey?: number;
    /**
     * Unit number on the controller.
     */
    unitNumber?: number;
  }[];
  /**
   * Disks of the VM that the point holds no data of: a VM snapshot does not capture independent disks or physical-mode RDMs, so backups and replication leave them out. A VM restored or failed over from the point has no such disk.
   *
   * @maxItems 256
   */
  excludedDisks?: {
    /**
     * Device key of the disk.
     */
    key: number;
    /**
     * Device label, e.g. Hard disk 1.
     */
    label?: string;
    /**
     * Disk capacity.
     */
    capacityBytes?: number;
    /**
     * Backing file at backup time, e.g. [ds1] web/web.vmdk.
     */
    fileName?: string;
    /**
     * IndependentDisk (disk mode independent_persistent or independent_nonpersistent) or PhysicalModeRDM (a raw device mapping in physical compatibility mode).
     */
    reason: "IndependentDisk" | "PhysicalModeRDM";
  }[];
  /**
   * Networks of the VM's NICs, for restore network mapping.
   *
   * @maxItems 64
   */
  networks?: string[];
  /**
   * Point this one was made incrementally from.
   */
  parentPointID?: string;
  /**
   * The vault's lock keeps the point until this time.
   */
  retainUntil?: string;
}

export interface RecoveryPointStatus {
  /**
   * The .metadata.generation the controller last acted on.
   */
  observedGeneration?: number;
  /**
   * Observations of the object's state.
   */
  conditions?: {
    /**
     * Type of condition in CamelCase.
     */
    type: string;
    /**
     * Status of the condition.
     */
    status: "True" | "False" | "Unknown";
    /**
     * The .metadata.generation the condition was set from.
     */
    observedGeneration?: number;
    /**
     * When the condition last changed status.
     */
    lastTransitionTime: string;
    /**
     * One-word CamelCase reason for the last transition.
     */
    reason: string;
    /**
     * Human-readable message: what happened and what to do about it.
     */
    message: string;
  }[];
  /**
   * Logical size of all disks: what a restore writes, zeros included.
   */
  sizeBytes?: number;
  /**
   * sizeBytes for people, e.g. "40 GiB" (binary units, rounded; programs read sizeBytes).
   */
  size?: string;
  /**
   * Bytes this point added to the vault: its new blocks, compressed and encrypted.
   */
  newBytes?: number;
  /**
   * newBytes for people, e.g. "120 MiB".
   */
  new?: string;
  /**
   * Bytes the backup read from the VM's disks (changed or allocated areas only).
   */
  readBytes?: number;
}

/** One restorable point of one VM, synced from a BackupVault. */
export interface RecoveryPoint {
  apiVersion: "lifeboat.io/v1alpha1";
  kind: "RecoveryPoint";
  metadata: V1ObjectMeta;
  spec: RecoveryPointSpec;
  status?: RecoveryPointStatus;
}

export interface RestoreJobSpec {
  /**
   * Reference to a RecoveryPoint to restore in the same namespace.
   */
  recoveryPointRef: {
    /**
     * Name of the RecoveryPoint to restore in the same namespace.
     */
    name: string;
  };
  /**
   * Reference to a Gateway whose workers run the restore in the same namespace.
   */
  gatewayRef: {
    /**
     * Name of the Gateway whose workers run the restore in the same namespace.
     */
    name: string;
  };
  /**
   * Where to restore to: exactly one of vSphere, cloudImage or imageFile.
   */
  target: {
    vSphere?: {
      /**
       * Reference to a VCenter to restore into (the original or another) in the same namespace.
       */
      vCenterRef: {
        /**
         * Name of the VCenter to restore into (the original or another) in the same namespace.
         */
        name: string;
      };
      /**
       * Datacenter name.
       */
      datacenter?: string;
      /**
       * Cluster to place the VM in.
       */
      cluster?: string;
      /**
       * ESXi host to place the VM on.
       */
      host?: string;
      /**
       * Resource pool path or name.
       */
      resourcePool?: string;
      /**
       * Datastore for the VM's files and disks.
       */
      datastore: string;
      /**
       * VM folder path, e.g. /dc1/vm/restored.
       */
      folder?: string;
      /**
       * Name of the new VM.
       */
      vmName?: string;
      /**
       * Map each source network to a target network; unmapped NICs keep their network name.
       *
       * @maxItems 64
       */
      networkMappings?: {
        /**
         * Network in the recovery point.
         */
        source: string;
        /**
         * Network in the target vCenter.
         */
        target: string;
      }[];
      /**
       * How new disks are provisioned.
       */
      diskProvisioning?: "Thin" | "Thick" | "EagerZeroedThick";
      /**
       * Power the VM on after the restore.
       */
      powerOn?: boolean;
      /**
       * Overwrite the original VM's disks (the VM is powered off first). Needs confirmInPlace.
       */
      inPlace?: boolean;
      /**
       * Confirms that the original VM's current disks are overwritten.
       */
      confirmInPlace?: boolean;
    };
    cloudImage?: {
      /**
       * Cloud.
       */
      provider?: "AlibabaECS";
      /**
       * Region, e.g. cn-shanghai.
       */
      region: string;
      /**
       * Name of the image (2-128 characters, starts with a letter).
       */
      imageName: string;
      /**
       * ImportImage uploads the disks to OSS as image files and has ECS import them (ECS checks the guest OS). IntermediateInstance has a temporary instance write them onto new cloud disks, snapshots those and makes the image from the snapshots (any guest; see intermediateInstance).
       */
      strategy?: "ImportImage" | "IntermediateInstance";
      /**
       * Image file format for ImportImage: QCOW2 and VHD carry only the disks' data; RAW carries every byte. (IntermediateInstance always stages stream-optimized VMDK, which its guest reads.)
       */
      format?: "RAW" | "VHD" | "QCOW2";
      /**
       * Guest OS family; default: from the VM's guest id.
       */
      osType?: "linux" | "windows";
      /**
       * Distribution as ECS names it, e.g. Ubuntu, CentOS, Windows Server 2022; default: from the VM's guest id (Others Linux when it names none).
       */
      platform?: string;
      /**
       * CPU architecture; default: from the VM's guest id.
       */
      architecture?: "x86_64" | "arm64";
      /**
       * Boot mode; default: from the VM's firmware (efi is UEFI).
       */
      bootMode?: "BIOS" | "UEFI";
      /**
       * OSS bucket in the image's region to stage the disks' image files in (both strategies); they are deleted once the image is made.
       */
      ossBucket: string;
      /**
       * ECS endpoint URL, e.g. https://ecs-vpc.cn-shanghai.aliyuncs.com; default: the region's public endpoint.
       */
      ecsEndpoint?: string;
      /**
       * OSS endpoint URL, e.g. https://oss-cn-shanghai-internal.aliyuncs.com; default: the region's public endpoint.
       */
      ossEndpoint?: string;
      /**
       * Require HTTPS to ecsEndpoint, ossEndpoint and intermediateInstance.ossEndpoint (the AccessKey's requests and the disks' data); set false to allow http:// ones.
       */
      useHTTPS?: boolean;
      /**
       * The temporary instance of strategy IntermediateInstance: it is tagged lifeboat.io/restore and deleted with its disks when the restore ends.
       */
      intermediateInstance?: {
        /**
         * Image the temporary instance boots; it must run guestCommand (the default needs Docker: e.g. an Alibaba Cloud Linux 3 image with Docker installed).
         */
        imageId: string;
        /**
         * Type of the temporary instance, e.g. ecs.g7.large.
         */
        instanceType: string;
        /**
         * vSwitch of the temporary instance (it must reach the OSS endpoint, see ossEndpoint).
         */
        vSwitchId: string;
        /**
         * Security group of the temporary instance; it needs outbound HTTPS to OSS only.
         */
        securityGroupId: string;
        /**
         * Zone of the temporary instance and its disks; default: the vSwitch's.
         */
        zoneId?: string;
        /**
         * Category of the temporary cloud disks (the image's snapshots are taken from them).
         */
        diskCategory?: "cloud_essd" | "cloud_ssd" | "cloud_efficiency" | "cloud_auto";
        /**
         * Shell command in the instance that runs Lifeboat's guest program with its spec on standard input; default: the worker image through docker run (privileged, for the block devices).
         */
        guestCommand?: string;
        /**
         * How long the instance may take to write the disks before the restore fails.
         */
        timeoutMinutes?: number;
        /**
         * OSS endpoint the instance downloads the staged disks from; default: the region's internal endpoint (https://oss-REGION-internal.aliyuncs.com), which an instance in the region reaches without a public address.
         */
        ossEndpoint?: string;
      };
      /**
       * Secret holding the AccessKey pair for ECS and OSS. Lifeboat watches it: a rotated value takes effect without a restart.
       */
      credentialsSecretRef: {
        /**
         * Name of the Secret in the same namespace.
         */
        name: string;
        /**
         * Key of the AccessKey id.
         */
        accessKeyIdKey?: string;
        /**
         * Key of the AccessKey secret.
         */
        accessKeySecretKey?: string;
      };
    };
    imageFile?: {
      /**
       * Disk image format: raw, qcow2 (v3, for KVM and OpenStack), vhd (dynamic) or vhd-fixed (Hyper-V and Azure), or vmdk (stream-optimized, for vSphere and OVF). All but raw and vhd-fixed store only the disk's data; raw files on a claim are sparse.
       */
      format?: "raw" | "qcow2" | "vhd" | "vhd-fixed" | "vmdk";
      /**
       * Reference to a PersistentVolumeClaim the restore worker mounts and writes the image files to in the same namespace.
       */
      persistentVolumeClaim?: {
        /**
         * Name of the PersistentVolumeClaim the restore worker mounts and writes the image files to in the same namespace.
         */
        name: string;
      };
      /**
       * Directory inside persistentVolumeClaim to write one file per disk into, relative to the claim's root (default: the root).
       */
      path?: string;
      s3?: {
        /**
         * S3 endpoint.
         */
        endpoint?: string;
        /**
         * Bucket.
         */
        bucket: string;
        /**
         * Key prefix for the files.
         */
        prefix?: string;
        /**
         * Region.
         */
        region?: string;
        /**
         * Path-style addressing.
         */
        forcePathStyle?: boolean;
        /**
         * Require HTTPS to the endpoint, as a BackupVault does; set false to allow an http:// endpoint.
         */
        useHTTPS?: boolean;
        /**
         * Secret holding the access key pair. Lifeboat watches it: a rotated value takes effect without a restart.
         */
        credentialsSecretRef: {
          /**
           * Name of the Secret in the same namespace.
           */
          name: string;
          /**
           * Key of the access key id.
           */
          accessKeyIdKey?: string;
          /**
           * Key of the secret access key.
           */
          secretAccessKeyKey?: string;
        };
        /**
         * Secret holding a CA bundle to trust for the endpoint instead of the system CAs. Lifeboat watches it: a rotated value takes effect without a restart.
         */
        caSecretRef?: {
          /**
           * Name of the Secret in the same namespace.
           */
          name: string;
          /**
           * Key of the PEM bundle.
           */
          key?: string;
        };
      };
      /**
       * Only these disks (device keys); default all.
       *
       * @maxItems 256
       */
      diskKeys?: number[];
    };
  };
}

export interface RestoreJobStatus {
  /**
   * The .metadata.generation the controller last acted on.
   */
  observedGeneration?: number;
  /**
   * Observations of the object's state.
   */
  conditions?: {
    /**
     * Type of condition in CamelCase.
     */
    type: string;
    /**
     * Status of the condition.
     */
    status: "True" | "False" | "Unknown";
    /**
     * The .metadata.generation the condition was set from.
     */
    observedGeneration?: number;
    /**
     * When the condition last changed status.
     */
    lastTransitionTime: string;
    /**
     * One-word CamelCase reason for the last transition.
     */
    reason: string;
    /**
     * Human-readable message: what happened and what to do about it.
     */
    message: string;
  }[];
  /**
   * Pending, Running, Succeeded or Failed.
   */
  phase?: "Pending" | "Running" | "Succeeded" | "Failed";
  /**
   * When the restore started.
   */
  startTime?: string;
  /**
   * When it finished.
   */
  completionTime?: string;
  progress?: {
    /**
     * Bytes restored.
     */
    bytesDone?: number;
    /**
     * bytesDone for people, e.g. "4.2 GiB" (binary units, rounded; programs read bytesDone).
     */
    done?: string;
    /**
     * Bytes to restore.
     */
    bytesTotal?: number;
    /**
     * bytesTotal for people, e.g. "40 GiB".
     */
    total?: string;
    /**
     * bytesDone / bytesTotal in percent.
     */
    percent?: number;
    /**
     * Throughput.
     */
    throughputBytesPerSecond?: number;
    /**
     * throughputBytesPerSecond for people, e.g. "120 MiB/s".
     */
    throughput?: string;
  };
  result?: {
    /**
     * Managed object id of the restored VM.
     */
    vmMoRef?: string;
    /**
     * Name of the restored VM.
     */
    vmName?: string;
    /**
     * Id of the created cloud image.
     */
    imageId?: string;
    /**
     * Files written.
     */
    paths?: string[];
  };
}

/** Restores one recovery point to vSphere, to a cloud image or to a disk image file. */
export interface RestoreJob {
  apiVersion: "lifeboat.io/v1alpha1";
  kind: "RestoreJob";
  metadata: V1ObjectMeta;
  spec: RestoreJobSpec;
  status?: RestoreJobStatus;
}

export interface SitePairSpec {
  /**
   * CrossZone or CrossRegion (cloud to cloud), VMwareToVMware, or VMwareToCloud.
   */
  type: "CrossZone" | "CrossRegion" | "VMwareToVMware" | "VMwareToCloud";
  /**
   * The protected site: a vCenter, or a cloud region and zone.
   */
  source: {
    /**
     * Reference to a VCenter of the protected site in the same namespace.
     */
    vCenterRef?: {
      /**
       * Name of the VCenter of the protected site in the same namespace.
       */
      name: string;
    };
    /**
     * Cloud region of the protected site, e.g. cn-hangzhou.
     */
    region?: string;
    /**
     * Zone of the protected site, e.g. cn-hangzhou-h.
     */
    zone?: string;
    /**
     * VPC of the protected site.
     */
    vpcId?: string;
    /**
     * vSphere datacenter of the protected site.
     */
    datacenter?: string;
    /**
     * vSphere datastore for the VMs Lifeboat creates at the protected site (drills and failover at the recovery site, failback to a new VM at the protected site).
     */
    datastore?: string;
    /**
     * ECS endpoint URL of the protected site's region, e.g. https://ecs-vpc.cn-shanghai.aliyuncs.com for a VPC endpoint; default: the region's public endpoint.
     */
    ecsEndpoint?: string;
    /**
     * VPC API endpoint URL of the protected site's region (vSwitches, elastic IPs), e.g. https://vpc-vpc.cn-shanghai.aliyuncs.com; default: the region's public endpoint.
     */
    vpcEndpoint?: string;
    /**
     * Cloud sites: require HTTPS to ecsEndpoint and vpcEndpoint (the AccessKey's signed requests), as when unset; set false to allow http:// ones.
     */
    useHTTPS?: boolean;
  };
  /**
   * The recovery site: a vCenter, or a cloud region and zone.
   */
  target: {
    /**
     * Reference to a VCenter of the recovery site in the same namespace.
     */
    vCenterRef?: {
      /**
       * Name of the VCenter of the recovery site in the same namespace.
       */
      name: string;
    };
    /**
     * Cloud region of the recovery site, e.g. cn-hangzhou.
     */
    region?: string;
    /**
     * Zone of the recovery site, e.g. cn-hangzhou-h.
     */
    zone?: string;
    /**
     * VPC of the recovery site.
     */
    vpcId?: string;
    /**
     * vSphere datacenter of the recovery site.
     */
    datacenter?: string;
    /**
     * vSphere datastore for the VMs Lifeboat creates at the recovery site (drills and failover at the recovery site, failback to a new VM at the protected site).
     */
    datastore?: string;
    /**
     * ECS endpoint URL of the recovery site's region, e.g. https://ecs-vpc.cn-shanghai.aliyuncs.com for a VPC endpoint; default: the region's public endpoint.
     */
    ecsEndpoint?: string;
    /**
     * VPC API endpoint URL of the recovery site's region (vSwitches, elastic IPs), e.g. https://vpc-vpc.cn-shanghai.aliyuncs.com; default: the region's public endpoint.
     */
    vpcEndpoint?: string;
    /**
     * Cloud sites: require HTTPS to ecsEndpoint and vpcEndpoint (the AccessKey's signed requests), as when unset; set false to allow http:// ones.
     */
    useHTTPS?: boolean;
  };
  /**
   * Reference to a BackupVault at the recovery site that holds replicated data and recovery points in the same namespace.
   */
  vaultRef?: {
    /**
     * Name of the BackupVault at the recovery site that holds replicated data and recovery points in the same namespace.
     */
    name: string;
  };
  /**
   * Reference to a Gateway whose workers run at the protected site: replication cycles, and the protected-site steps of reverse replication and failback in the same namespace.
   */
  gatewayRef?: {
    /**
     * Name of the Gateway whose workers run at the protected site: replication cycles, and the protected-site steps of reverse replication and failback in the same namespace.
     */
    name: string;
  };
  /**
   * Reference to a Gateway whose workers run at the recovery site: drill and failover VMs, reverse replication cycles. Default: spec.gatewayRef in the same namespace.
   */
  recoveryGatewayRef?: {
    /**
     * Name of the Gateway whose workers run at the recovery site: drill and failover VMs, reverse replication cycles. Default: spec.gatewayRef in the same namespace.
     */
    name: string;
  };
  /**
   * Reference to a BackupVault at the protected site that reverse replication writes to, so a server running at the recovery site after a failover is protected against losing that site too. Default: spec.vaultRef (reverse points then stay at the recovery site) in the same namespace.
   */
  reverseVaultRef?: {
    /**
     * Name of the BackupVault at the protected site that reverse replication writes to, so a server running at the recovery site after a failover is protected against losing that site too. Default: spec.vaultRef (reverse points then stay at the recovery site) in the same namespace.
     */
    name: string;
  };
  /**
   * Networks (port group names) of the protected site and where their NICs go at the recovery site.
   *
   * @maxItems 64
   */
  networkMappings?: {
    /**
     * Network at the protected site.
     */
    source: string;
    /**
     * Network at the recovery site for failover (seed 004: recovery network).
     */
    recovery: string;
    /**
     * Isolated network at the recovery site for drills; a drill is refused while a NIC's network has none.
     */
    test?: string;
  }[];
  /**
   * The replication network of a cloud site: a vSwitch of the site's zone and a security group of the same VPC.
   */
  replicationNetwork?: {
    /**
     * Cloud vSwitch.
     */
    vSwitchId?: string;
    /**
     * Cloud security group.
     */
    securityGroupId?: string;
  };
  /**
   * The recovery (CrossZone, CrossRegion: failover instances join it) network of a cloud site: a vSwitch of the site's zone and a security group of the same VPC.
   */
  recoveryNetwork?: {
    /**
     * Cloud vSwitch.
     */
    vSwitchId?: string;
    /**
     * Cloud security group.
     */
    securityGroupId?: string;
  };
  /**
   * The test (CrossZone, CrossRegion: drill instances join it and no other; a drill that names no test network of its own waits while it is unset) network of a cloud site: a vSwitch of the site's zone and a security group of the same VPC.
   */
  testNetwork?: {
    /**
     * Cloud vSwitch.
     */
    vSwitchId?: string;
    /**
     * Cloud security group.
     */
    securityGroupId?: string;
  };
  /**
   * The protected site's (CrossZone, CrossRegion: a failback to a new instance joins it; default the original instance's vSwitch and security group) network of a cloud site: a vSwitch of the site's zone and a security group of the same VPC.
   */
  sourceNetwork?: {
    /**
     * Cloud vSwitch.
     */
    vSwitchId?: string;
    /**
     * Cloud security group.
     */
    securityGroupId?: string;
  };
  /**
   * VMwareToCloud: how a vSphere point in the vault becomes an ECS image for a drill or failover instance (the RestoreJob cloudImage conversion, run by the recovery Gateway's workers), and where reverse replication's exports go.
   */
  imageConversion?: {
    /**
     * OSS bucket in the recovery region to stage the disks' image files in (and, for reverse replication, where ExportImage writes the recovered instance's disks; ECS needs the RAM role AliyunECSImageExportDefaultRole to write there); they are deleted once used.
     */
    ossBucket: string;
    /**
     * ImportImage: the disks go to OSS as image files and ECS imports them (ECS checks the guest OS). IntermediateInstance: a temporary instance writes them onto new cloud disks whose snapshots make the image (any guest).
     */
    strategy?: "ImportImage" | "IntermediateInstance";
    /**
     * Image file format for ImportImage.
     */
    format?: "RAW" | "VHD" | "QCOW2";
    /**
     * OSS endpoint URL; default: the region's public endpoint.
     */
    ossEndpoint?: string;
    /**
     * Require HTTPS to ossEndpoint and intermediateInstance.ossEndpoint (the disks' data); set false to allow http:// ones.
     */
    useHTTPS?: boolean;
    /**
     * The temporary instance of strategy IntermediateInstance: it is tagged lifeboat.io/restore and deleted with its disks when the restore ends.
     */
    intermediateInstance?: {
      /**
       * Image the temporary instance boots; it must run guestCommand (the default needs Docker: e.g. an Alibaba Cloud Linux 3 image with Docker installed).
       */
      imageId: string;
      /**
       * Type of the temporary instance, e.g. ecs.g7.large.
       */
      instanceType: string;
      /**
       * vSwitch of the temporary instance (it must reach the OSS endpoint, see ossEndpoint).
       */
      vSwitchId: string;
      /**
       * Security group of the temporary instance; it needs outbound HTTPS to OSS only.
       */
      securityGroupId: string;
      /**
       * Zone of the temporary instance and its disks; default: the vSwitch's.
       */
      zoneId?: string;
      /**
       * Category of the temporary cloud disks (the image's snapshots are taken from them).
       */
      diskCategory?: "cloud_essd" | "cloud_ssd" | "cloud_efficiency" | "cloud_auto";
      /**
       * Shell command in the instance that runs Lifeboat's guest program with its spec on standard input; default: the worker image through docker run (privileged, for the block devices).
       */
      guestCommand?: string;
      /**
       * How long the instance may take to write the disks before the restore fails.
       */
      timeoutMinutes?: number;
      /**
       * OSS endpoint the instance downloads the staged disks from; default: the region's internal endpoint (https://oss-REGION-internal.aliyuncs.com), which an instance in the region reaches without a public address.
       */
      ossEndpoint?: string;
    };
  };
  /**
   * Secret holding the cloud AccessKey pair for cloud sites. Lifeboat watches it: a rotated value takes effect without a restart.
   */
  credentialsSecretRef?: {
    /**
     * Name of the Secret in the same namespace.
     */
    name: string;
    /**
     * Key of the AccessKey id.
     */
    accessKeyIdKey?: string;
    /**
     * Key of the AccessKey secret.
     */
    accessKeySecretKey?: string;
  };
}

export interface SitePairStatus {
  /**
   * The .metadata.generation the controller last acted on.
   */
  observedGeneration?: number;
  /**
   * Observations of the object's state.
   */
  conditions?: {
    /**
     * Type of condition in CamelCase.
     */
    type: string;
    /**
     * Status of the condition.
     */
    status: "True" | "False" | "Unknown";
    /**
     * The .metadata.generation the condition was set from.
     */
    observedGeneration?: number;
    /**
     * When the condition last changed status.
     */
    lastTransitionTime: string;
    /**
     * One-word CamelCase reason for the last transition.
     */
    reason: string;
    /**
     * Human-readable message: what happened and what to do about it.
     */
    message: string;
  }[];
  /**
   * ProtectedServers using this pair.
   */
  protectedServers?: number;
}

/** A protected (source) site and the recovery (target) site it replicates to. */
export interface SitePair {
  apiVersion: "lifeboat.io/v1alpha1";
  kind: "SitePair";
  metadata: V1ObjectMeta;
  spec: SitePairSpec;
  status?: SitePairStatus;
}

/**
 * The replication settings of every ProtectedServer that names this policy in spec.replicationPolicyRef, as a ProtectedServer's spec.replication holds them.
 */
export interface ReplicationPolicySpec {
  /**
   * How often a crash-consistent point is made, in minutes (seed 003: 5): cycles start early enough that the newest point never gets older than this when they take time. RPOMet compares with rpoThresholdMinutes when it is set.
   */
  crashConsistentIntervalMinutes?: number;
  /**
   * Hours between application-consistent (quiesced through VMware Tools) points (seed 003: 1-12); unset for none.
   */
  appConsistentIntervalHours?: number;
  /**
   * RPO threshold (seed 003): when the newest point gets older than this, RPOMet turns False with a Warning event, and the RPO metrics' target is this. It does not change how often cycles run. Default: crashConsistentIntervalMinutes.
   */
  rpoThresholdMinutes?: number;
  /**
   * Which replication points are kept. Points in use by a drill or an uncommitted failover are kept whatever these say, and the vault's lock is never shortened.
   */
  retention?: {
    /**
     * Every cycle's point is kept this long.
     */
    keepAllForMinutes?: number;
    /**
     * After that, one point per this many hours is kept (seed 004: recovery point policy).
     */
    recoveryPointIntervalHours?: number;
    /**
     * How long those points are kept (seed 004: 24 points in 24 hours).
     */
    keepIntervalPointsForHours?: number;
    /**
     * Application-consistent points are kept this long (seed 003: up to 15 days).
     */
    keepAppConsistentForDays?: number;
  };
  /**
   * Resume replication on its own once an interruption's cause clears (seed 004).
   */
  autoResume?: boolean;
  /**
   * Business hours of the server's application (seed 003: a resync runs outside business hours by default), in either direction of replication. A cycle that finds CBT cannot be trusted (ChangeIdRejected, DiskResized, ChangeTrackingReset) during these hours stops before it reads, and replication waits for them to end (Replicating=False, reason ResyncHeld; the RPO grows meanwhile), since a resync reads every allocated area of the VM's disks from production storage. spec.resyncRequest resyncs at once. Unset: a resync runs in the cycle that finds it needed. vSphere sources only: an ECS instance has no change tracking to resync.
   */
  businessHours?: {
    /**
     * Days business hours start on.
     *
     * @minItems 1
     * @maxItems 7
     */
    days: ("Mon" | "Tue" | "Wed" | "Thu" | "Fri" | "Sat" | "Sun")[];
    /**
     * Time of day, HH:MM (24-hour).
     */
    start: string;
    /**
     * Time of day, HH:MM (24-hour).
     */
    end: string;
    /**
     * IANA time zone of start and end, e.g. Asia/Tokyo.
     */
    timeZone?: string;
  };
}

export interface ReplicationPolicyStatus {
  /**
   * The .metadata.generation the controller last acted on.
   */
  observedGeneration?: number;
  /**
   * Observations of the object's state.
   */
  conditions?: {
    /**
     * Type of condition in CamelCase.
     */
    type: string;
    /**
     * Status of the condition.
     */
    status: "True" | "False" | "Unknown";
    /**
     * The .metadata.generation the condition was set from.
     */
    observedGeneration?: number;
    /**
     * When the condition last changed status.
     */
    lastTransitionTime: string;
    /**
     * One-word CamelCase reason for the last transition.
     */
    reason: string;
    /**
     * Human-readable message: what happened and what to do about it.
     */
    message: string;
  }[];
  /**
   * ProtectedServers that name this policy.
   */
  protectedServers?: number;
}

/** Replication settings (schedule, RPO threshold, retention, auto-resume, business hours) shared by the ProtectedServers that name it in spec.replicationPolicyRef. */
export interface ReplicationPolicy {
  apiVersion: "lifeboat.io/v1alpha1";
  kind: "ReplicationPolicy";
  metadata: V1ObjectMeta;
  spec: ReplicationPolicySpec;
  status?: ReplicationPolicyStatus;
}

export interface ProtectedServerSpec {
  /**
   * Reference to a SitePair to replicate within in the same namespace.
   */
  sitePairRef: {
    /**
     * Name of the SitePair to replicate within in the same namespace.
     */
    name: string;
  };
  /**
   * The protected server.
   */
  source: {
    /**
     * VM name at the protected vSphere site.
     */
    vmName?: string;
    /**
     * ECS instance id at a protected cloud site (CrossZone, CrossRegion).
     */
    instanceId?: string;
  };
  /**
   * The ReplicationPolicy in this namespace whose settings this server replicates with, instead of spec.replication (seed 003: a replication policy shared by many servers). An edit of the policy applies to every server that names it; the policy cannot be deleted while one does.
   */
  replicationPolicyRef?: {
    /**
     * Name of the ReplicationPolicy in the same namespace.
     */
    name: string;
  };
  /**
   * Servers of this namespace with the same consistencyGroup replicate together (seed 003: multi-VM consistency): their cycles snapshot at shared ticks, every crash-consistent interval from the epoch (each application-consistent interval's first tick quiescing every guest, or a member's next tick when it missed that one), and an unplanned failover or a drill with "latest" or "latest-app-consistent" brings each member back to its point of the newest tick every member has. Members need the same site pair and intervals (one ReplicationPolicy); condition GroupConsistent says whether this server's cycles are the group's, and status.sharedPointTime how old the group's newest shared point is. While a member takes the ticks, its RPO target is at least its interval plus the time a cycle takes.
   */
  consistencyGroup?: string;
  /**
   * The server's own replication settings. Or name a ReplicationPolicy in spec.replicationPolicyRef instead, to share them with other servers.
   */
  replication?: {
    /**
     * How often a crash-consistent point is made, in minutes (seed 003: 5): cycles start early enough that the newest point never gets older than this when they take time. RPOMet compares with rpoThresholdMinutes when it is set.
     */
    crashConsistentIntervalMinutes?: number;
    /**
     * Hours between application-consistent (quiesced through VMware Tools) points (seed 003: 1-12); unset for none.
     */
    appConsistentIntervalHours?: number;
    /**
     * RPO threshold (seed 003): when the newest point gets older than this, RPOMet turns False with a Warning event, and the RPO metrics' target is this. It does not change how often cycles run. Default: crashConsistentIntervalMinutes.
     */
    rpoThresholdMinutes?: number;
    /**
     * Which replication points are kept. Points in use by a drill or an uncommitted failover are kept whatever these say, and the vault's lock is never shortened.
     */
    retention?: {
      /**
       * Every cycle's point is kept this long.
       */
      keepAllForMinutes?: number;
      /**
       * After that, one point per this many hours is kept (seed 004: recovery point policy).
       */
      recoveryPointIntervalHours?: number;
      /**
       * How long those points are kept (seed 004: 24 points in 24 hours).
       */
      keepIntervalPointsForHours?: number;
      /**
       * Application-consistent points are kept this long (seed 003: up to 15 days).
       */
      keepAppConsistentForDays?: number;
    };
    /**
     * Resume replication on its own once an interruption's cause clears (seed 004).
     */
    autoResume?: boolean;
    /**
     * Business hours of the server's application (seed 003: a resync runs outside business hours by default), in either direction of replication. A cycle that finds CBT cannot be trusted (ChangeIdRejected, DiskResized, ChangeTrackingReset) during these hours stops before it reads, and replication waits for them to end (Replicating=False, reason ResyncHeld; the RPO grows meanwhile), since a resync reads every allocated area of the VM's disks from production storage. spec.resyncRequest resyncs at once. Unset: a resync runs in the cycle that finds it needed. vSphere sources only: an ECS instance has no change tracking to resync.
     */
    businessHours?: {
      /**
       * Days business hours start on.
       *
       * @minItems 1
       * @maxItems 7
       */
      days: ("Mon" | "Tue" | "Wed" | "Thu" | "Fri" | "Sat" | "Sun")[];
      /**
       * Time of day, HH:MM (24-hour).
       */
      start: string;
      /**
       * Time of day, HH:MM (24-hour).
       */
      end: string;
      /**
       * IANA time zone of start and end, e.g. Asia/Tokyo.
       */
      timeZone?: string;
    };
  };
  /**
   * How the server is brought up at the recovery site in a failover. Its NICs go to the site pair's recovery networks (vSphere), or its recovery vSwitch and security group (cloud).
   */
  recovery?: {
    /**
     * Name of the recovered VM at the recovery site; default the source VM's name.
     */
    vmName?: string;
    /**
     * Datastore of the recovered VM; default the site pair's target datastore.
     */
    datastore?: string;
    /**
     * vCPUs of the recovered VM; default the source's. Cloud sites, with memoryGiB and no instanceType: the recovered instance gets an instance type of exactly this size in stock in the recovery zone, of the source instance's family where one is (seed 004: CPU and memory instead of the ECS specification).
     */
    cpu?: number;
    /**
     * Memory of the recovered VM in GiB; default the source's. Cloud sites: see cpu.
     */
    memoryGiB?: number;
    /**
     * How the recovered VM's disks are provisioned.
     */
    diskProvisioning?: "Thin" | "Thick" | "EagerZeroedThick";
    /**
     * Power the recovered VM on after a failover (and the protected-site VM after a failback).
     */
    powerOn?: boolean;
    /**
     * Cloud sites: ECS instance type of the recovered instance, e.g. ecs.g7.large (seed 004: use the ECS specification); default one chosen by cpu and memoryGiB, else the source instance's type (for a vSphere source, VMwareToCloud, one chosen by the VM's vCPUs and memory).
     */
    instanceType?: string;
    /**
     * Cloud sites: private IP of the recovered instance in the recovery vSwitch; default one ECS assigns (seed 004: IP address).
     */
    privateIpAddress?: string;
    /**
     * Cloud sites: category of the recovered instance's disks (seed 004: disk type); default the source disks' categories. VMwareToCloud: the system disk's (the data disks come with the converted image).
     */
    diskCategory?: "cloud_essd" | "cloud_ssd" | "cloud_efficiency";
    /**
     * Cloud sites: allocate an elastic IP and associate it with the recovered instance (seed 004: EIP); it is released with the instance.
     */
    eip?: boolean;
    /**
     * Cloud recovery sites (CrossZone, CrossRegion, VMwareToCloud): the vSwitch and security group the recovered instance joins instead of the site pair's recoveryNetwork (seed 004: recovery network), e.g. to keep an application's tiers on their own subnets. Never a test vSwitch (a SitePair's or RecoveryDrill's spec.testNetwork in the namespace). Condition RecoveryNetworksValid reports whether it is usable; a failover checks it again before it stops the protected server.
     */
    network?: {
      /**
       * Cloud vSwitch, in the zone the instance is made in.
       */
      vSwitchId: string;
      /**
       * Cloud security group, of the vSwitch's VPC.
       */
      securityGroupId: string;
    };
    /**
     * Cloud recovery sites (CrossZone, CrossRegion, VMwareToCloud): a script Cloud Assistant runs inside the recovered instance once a failover has it running (seed 004: switch-over script), e.g. to point the application at its new peers. status.failover.postScript and condition PostScriptSucceeded say how it went; a failed script leaves the instance running, and the script runs again on it once changed. Not run by drills (a RecoveryDrill has its own).
     */
    postScript?: {
      /**
       * Cloud Assistant's command type: RunShellScript (Linux), RunPowerShellScript or RunBatScript (Windows).
       */
      type?: "RunShellScript" | "RunPowerShellScript" | "RunBatScript";
      /**
       * The script. At most 18432 bytes of UTF-8 (Cloud Assistant takes 24 KB once Base64-encoded).
       */
      content: string;
      /**
       * How long the script may run before Cloud Assistant stops it (and it counts as failed).
       */
      timeoutSeconds?: number;
      /**
       * Linux (RunShellScript): the instance's user the script runs as; default root. Windows scripts run as System (another user needs a password Lifeboat does not hold).
       */
      username?: string;
      /**
       * Directory the script runs in; default the user's home (Linux) or the agent's directory (Windows).
       */
      workingDir?: string;
    };
  };
  /**
   * How a failback that makes a new VM or instance at the protected site makes it (seed 004's failback panel). A failback in place (reverseInPlace) keeps the original's size and addresses; the condition IgnoredFields names what is not acted on.
   */
  failback?: {
    /**
     * vCPUs of the VM a failback makes at the protected site; default the recovered VM's. Cloud sites, with memoryGiB and no instanceType: the failback instance gets an instance type of exactly this size in stock in the protected zone (seed 004's failback: CPU and memory).
     */
    cpu?: number;
    /**
     * Memory of the VM a failback makes, in GiB; default the recovered VM's. Cloud sites: see cpu.
     */
    memoryGiB?: number;
    /**
     * Cloud sites (CrossZone, CrossRegion): ECS instance type of the failback instance; default one chosen by cpu and memoryGiB, else the recovered instance's.
     */
    instanceType?: string;
    /**
     * Cloud sites (CrossZone, CrossRegion): private IP of the failback instance in its vSwitch (network, else the pair's sourceNetwork, else the original's), not the original instance's (it stays, stopped, with its address); default one ECS assigns (seed 004's failback: IP address).
     */
    privateIpAddress?: string;
    /**
     * Cloud sites (CrossZone, CrossRegion): the vSwitch and security group at the protected site that the failback instance joins (seed 004's failback: recovery network); default the site pair's sourceNetwork, else the original instance's.
     */
    network?: {
      /**
       * Cloud vSwitch, in the zone the instance is made in.
       */
      vSwitchId: string;
      /**
       * Cloud security group, of the vSwitch's VPC.
       */
      securityGroupId: string;
    };
    /**
     * Cloud sites (CrossZone, CrossRegion): a script Cloud Assistant runs inside the failback instance once it is running (seed 004's failback: post-recovery script). status.failback.postScript and condition PostScriptSucceeded say how it went.
     */
    postScript?: {
      /**
       * Cloud Assistant's command type: RunShellScript (Linux), RunPowerShellScript or RunBatScript (Windows).
       */
      type?: "RunShellScript" | "RunPowerShellScript" | "RunBatScript";
      /**
       * The script. At most 18432 bytes of UTF-8 (Cloud Assistant takes 24 KB once Base64-encoded).
       */
      content: string;
      /**
       * How long the script may run before Cloud Assistant stops it (and it counts as failed).
       */
      timeoutSeconds?: number;
      /**
       * Linux (RunShellScript): the instance's user the script runs as; default root. Windows scripts run as System (another user needs a password Lifeboat does not hold).
       */
      username?: string;
      /**
       * Directory the script runs in; default the user's home (Linux) or the agent's directory (Windows).
       */
      workingDir?: string;
    };
  };
  /**
   * Replicating; FailedOver (bring the server up at the recovery site); ReverseReplicating (after a committed failover, replicate it back); FailedBack (bring it up at the protected site again).
   */
  desiredState?: "Replicating" | "FailedOver" | "ReverseReplicating" | "FailedBack";
  /**
   * Point a failover uses: "latest" (the current time: a planned failover with a last cycle when the protected site answers, else the newest point; usable once per failover), "latest-app-consistent", or a RecoveryPoint name. Changing it before the failover is committed replaces the recovered VM (seed 004: change recovery point).
   */
  recoveryPoint?: string;
  /**
   * Make the failover final (seed 004: complete failover): releases the pinned points and fences the original server (powered off, NICs disconnected; never deleted).
   */
  commitFailover?: boolean;
  /**
   * Reverse replication and failback overwrite the original VM's disks (seed 004: in-place restore clears its data); otherwise a new VM is made at the protected site. Needs confirmReverseInPlace.
   */
  reverseInPlace?: boolean;
  /**
   * Confirms that failback overwrites the original server.
   */
  confirmReverseInPlace?: boolean;
  /**
   * A new value resumes a paused replication when autoResume is off, or retries a failed step now.
   */
  resumeRequest?: string;
  /**
   * A new value starts a checksum resync now (seed 003: resync manually), without waiting for the schedule: the next cycle reads every allocated area of the VM's disks instead of CBT's changes, and the vault stores only the blocks it lacks. For a VM at a vSphere site; cycles of an ECS instance read whole disks anyway.
   */
  resyncRequest?: string;
}

export interface ProtectedServerStatus {
  /**
   * The .metadata.generation the controller last acted on.
   */
  observedGeneration?: number;
  /**
   * Observations of the object's state.
   */
  conditions?: {
    /**
     * Type of condition in CamelCase.
     */
    type: string;
    /**
     * Status of the condition.
     */
    status: "True" | "False" | "Unknown";
    /**
     * The .metadata.generation the condition was set from.
     */
    observedGeneration?: number;
    /**
     * When the condition last changed status.
     */
    lastTransitionTime: string;
    /**
     * One-word CamelCase reason for the last transition.
     */
    reason: string;
    /**
     * Human-readable message: what happened and what to do about it.
     */
    message: string;
  }[];
  /**
   * Where the server is (a summary of the conditions).
   */
  stage?:
    | "Initializing"
    | "Initialized"
    | "FullReplication"
    | "RealTimeReplication"
    | "Paused"
    | "FailingOver"
    | "FailedOver"
    | "ReverseStarting"
    | "ReverseFullReplication"
    | "ReverseRealTimeReplication"
    | "FailingBack"
    | "FailedBack";
  /**
   * Which way replication runs now.
   */
  direction?: "Forward" | "Reverse";
  /**
   * The VM replicated now: the protected VM, or the recovered one while replicating in reverse.
   */
  source?: {
    /**
     * VM name (an ECS instance name at a cloud site: up to 128 characters).
     */
    name?: string;
    /**
     * Managed object id, e.g. vm-42.
     */
    moRef?: string;
    /**
     * vCenter instance UUID: survives a re-registration, which changes the MoRef.
     */
    instanceUUID?: string;
    /**
     * ECS instance id, at a cloud site.
     */
    instanceId?: string;
    /**
     * ECS region of the instance.
     */
    regionId?: string;
  };
  /**
   * The RPO target RPOMet compares the newest point's age with: rpoThresholdMinutes (else crashConsistentIntervalMinutes) of the server's replication settings (spec.replication or its ReplicationPolicy), in seconds; for a member of a consistency group, at least the interval plus the time a cycle takes (its points come at the group's ticks).
   */
  rpoTargetSeconds?: number;
  /**
   * spec.consistencyGroup: the newest tick every member has a point at, as of this server's last cycle: an unplanned failover or a drill with latest brings the group back to it.
   */
  sharedPointTime?: string;
  /**
   * Time of the newest recovery point.
   */
  lastRecoveryPointTime?: string;
  /**
   * Time of the newest application-consistent point.
   */
  lastAppConsistentPointTime?: string;
  /**
   * Recovery points of the current direction kept.
   */
  recoveryPointCount?: number;
  retention?: {
    /**
     * The maintenance Job of this pass: it forgets the points the retention does not keep, then prunes, on the Gateway of the vault's site.
     */
    job?: string;
    /**
     * The id of the cycle whose end started it.
     */
    run?: string;
    /**
     * Running, Succeeded or Failed.
     */
    phase?: "Running" | "Succeeded" | "Failed";
    /**
     * When it started.
     */
    startTime?: string;
    /**
     * When it ended.
     */
    completionTime?: string;
    /**
     * Points forgotten.
     */
    forgotten?: number;
    /**
     * Points the retention would drop that the vault lock keeps until their retain-until.
     */
    keptLocked?: number;
    /**
     * Bytes prune removed from the vault.
     */
    bytesFreed?: number;
    /**
     * Why it failed, or why prune was deferred (PruneDeferred).
     */
    reason?: string;
    /**
     * What it did, or why it failed.
     */
    message?: string;
  };
  /**
   * When the next cycle starts: early enough that the newest point never gets older than the target.
   */
  nextCycleTime?: string;
  /**
   * How long a cycle takes, learned from the recent ones.
   */
  learnedCycleSeconds?: number;
  currentCycle?: {
    /**
     * Cycle id: its start time, compact.
     */
    id?: string;
    /**
     * Worker Job of the cycle.
     */
    job?: string;
    /**
     * Forward (protected to recovery site) or Reverse (after a failover).
     */
    direction?: "Forward" | "Reverse";
    /**
     * Crash, or Application (quiesced).
     */
    consistency?: "Crash" | "Application";
    /**
     * When the cycle started.
     */
    startTime?: string;
    /**
     * When it ended.
     */
    completionTime?: string;
    /**
     * Start to commit.
     */
    durationSeconds?: number;
    /**
     * How it ended.
     */
    result?: "Succeeded" | "Failed";
    /**
     * Why it failed, one word; while it runs, why its newest failed attempt failed (its Job tries again).
     */
    reason?: string;
    /**
     * What happened.
     */
    message?: string;
    /**
     * Worker pods the cycle has run: more than 1 when its Job retried a failed attempt (a killed pod, a lost node).
     */
    attempts?: number;
    /**
     * Bytes of changed areas read so far.
     */
    bytesDone?: number;
    /**
     * Bytes of changed areas the cycle reads in all.
     */
    bytesTotal?: number;
    /**
     * Bytes the cycle read from the VM's disks.
     */
    bytesRead?: number;
    /**
     * Bytes the cycle sent to the other site's vault (new blocks, compressed and encrypted).
     */
    bytesTransferred?: number;
    /**
     * Read throughput.
     */
    throughputBytesPerSecond?: number;
    /**
     * Seconds left at the current throughput.
     */
    etaSeconds?: number;
    /**
     * Why this cycle reads every allocated area instead of CBT's changes (ChangeIdRejected, DiskResized, ChangeTrackingReset, or Requested by spec.resyncRequest).
     */
    resync?: string;
    /**
     * RecoveryPoint the cycle made.
     */
    recoveryPoint?: string;
    /**
     * Vault point id the cycle made.
     */
    pointID?: string;
  };
  lastCycle?: {
    /**
     * Cycle id: its start time, compact.
     */
    id?: string;
    /**
     * Worker Job of the cycle.
     */
    job?: string;
    /**
     * Forward (protected to recovery site) or Reverse (after a failover).
     */
    direction?: "Forward" | "Reverse";
    /**
     * Crash, or Application (quiesced).
     */
    consistency?: "Crash" | "Application";
    /**
     * When the cycle started.
     */
    startTime?: string;
    /**
     * When it ended.
     */
    completionTime?: string;
    /**
     * Start to commit.
     */
    durationSeconds?: number;
    /**
     * How it ended.
     */
    result?: "Succeeded" | "Failed";
    /**
     * Why it failed, one word; while it runs, why its newest failed attempt failed (its Job tries again).
     */
    reason?: string;
    /**
     * What happened.
     */
    message?: string;
    /**
     * Worker pods the cycle has run: more than 1 when its Job retried a failed attempt (a killed pod, a lost node).
     */
    attempts?: number;
    /**
     * Bytes of changed areas read so far.
     */
    bytesDone?: number;
    /**
     * Bytes of changed areas the cycle reads in all.
     */
    bytesTotal?: number;
    /**
     * Bytes the cycle read from the VM's disks.
     */
    bytesRead?: number;
    /**
     * Bytes the cycle sent to the other site's vault (new blocks, compressed and encrypted).
     */
    bytesTransferred?: number;
    /**
     * Read throughput.
     */
    throughputBytesPerSecond?: number;
    /**
     * Seconds left at the current throughput.
     */
    etaSeconds?: number;
    /**
     * Why this cycle reads every allocated area instead of CBT's changes (ChangeIdRejected, DiskResized, ChangeTrackingReset, or Requested by spec.resyncRequest).
     */
    resync?: string;
    /**
     * RecoveryPoint the cycle made.
     */
    recoveryPoint?: string;
    /**
     * Vault point id the cycle made.
     */
    pointID?: string;
  };
  /**
   * Cycles failed in a row since the last success; the next ones back off.
   */
  failedCycles?: number;
  /**
   * The spec.resumeRequest last acted on.
   */
  handledResumeRequest?: string;
  /**
   * The spec.resyncRequest last acted on: the cycle it started has resync Requested.
   */
  handledResyncRequest?: string;
  /**
   * The replication settings the server runs with: its spec.replication, or the spec of the ReplicationPolicy it names (fields left out take their defaults). While that policy does not exist, the server goes on with these (condition ReplicationPolicyApplied=False).
   */
  replicationSettings?: {
    /**
     * How often a crash-consistent point is made, in minutes (seed 003: 5): cycles start early enough that the newest point never gets older than this when they take time. RPOMet compares with rpoThresholdMinutes when it is set.
     */
    crashConsistentIntervalMinutes?: number;
    /**
     * Hours between application-consistent (quiesced through VMware Tools) points (seed 003: 1-12); unset for none.
     */
    appConsistentIntervalHours?: number;
    /**
     * RPO threshold (seed 003): when the newest point gets older than this, RPOMet turns False with a Warning event, and the RPO metrics' target is this. It does not change how often cycles run. Default: crashConsistentIntervalMinutes.
     */
    rpoThresholdMinutes?: number;
    /**
     * Which replication points are kept. Points in use by a drill or an uncommitted failover are kept whatever these say, and the vault's lock is never shortened.
     */
    retention?: {
      /**
       * Every cycle's point is kept this long.
       */
      keepAllForMinutes?: number;
      /**
       * After that, one point per this many hours is kept (seed 004: recovery point policy).
       */
      recoveryPointIntervalHours?: number;
      /**
       * How long those points are kept (seed 004: 24 points in 24 hours).
       */
      keepIntervalPointsForHours?: number;
      /**
       * Application-consistent points are kept this long (seed 003: up to 15 days).
       */
      keepAppConsistentForDays?: number;
    };
    /**
     * Resume replication on its own once an interruption's cause clears (seed 004).
     */
    autoResume?: boolean;
    /**
     * Business hours of the server's application (seed 003: a resync runs outside business hours by default), in either direction of replication. A cycle that finds CBT cannot be trusted (ChangeIdRejected, DiskResized, ChangeTrackingReset) during these hours stops before it reads, and replication waits for them to end (Replicating=False, reason ResyncHeld; the RPO grows meanwhile), since a resync reads every allocated area of the VM's disks from production storage. spec.resyncRequest resyncs at once. Unset: a resync runs in the cycle that finds it needed. vSphere sources only: an ECS instance has no change tracking to resync.
     */
    businessHours?: {
      /**
       * Days business hours start on.
       *
       * @minItems 1
       * @maxItems 7
       */
      days: ("Mon" | "Tue" | "Wed" | "Thu" | "Fri" | "Sat" | "Sun")[];
      /**
       * Time of day, HH:MM (24-hour).
       */
      start: string;
      /**
       * Time of day, HH:MM (24-hour).
       */
      end: string;
      /**
       * IANA time zone of start and end, e.g. Asia/Tokyo.
       */
      timeZone?: string;
    };
  };
  /**
   * The ReplicationPolicy whose settings are in status.replicationSettings, when they came from one.
   */
  replicationPolicy?: {
    /**
     * The ReplicationPolicy.
     */
    name: string;
    /**
     * Its metadata.generation whose settings are applied.
     */
    generation?: number;
  };
  /**
   * A checksum resync waiting for spec.replication.businessHours to end; the next cycle makes it, with this reason, and clears this.
   */
  heldResync?: {
    /**
     * Why CBT cannot be trusted: ChangeIdRejected, DiskResized or ChangeTrackingReset.
     */
    reason: string;
    /**
     * When a cycle found the resync needed during business hours and stopped before reading.
     */
    since?: string;
  };
  /**
   * Cloud sites: spec.source.instanceId when it was last acted on; a new value re-registers the server (e.g. after the instance was replaced).
   */
  registeredInstanceId?: string;
  /**
   * Vault point ids retention must keep: points in use by drills or an uncommitted failover. (A consistency group's member also keeps its points at the ticks other members' drills and uncommitted failovers took; they are not listed here.)
   *
   * @maxItems 256
   */
  pinnedPoints?: string[];
  failover?: {
    /**
     * When the failover was asked for.
     */
    requestTime?: string;
    /**
     * Failovers (and recovery point changes) so far; names the recovered VM's worker.
     */
    attempt?: number;
    /**
     * What the failover does now, or waits for.
     */
    step?: string;
    /**
     * The spec.recoveryPoint this failover was made for; a new value before commit replaces the recovered VM.
     */
    choice?: string;
    /**
     * Planned failover: the cycle of the running VM before its shutdown.
     */
    finalCycle?: string;
    /**
     * Planned failover: the cycle of the stopped VM, whose point the recovered VM is made from.
     */
    lastCycle?: string;
    /**
     * The failover stops (stopped) the protected VM, recorded before it does: cancelling powers it on again.
     */
    sourceStopped?: boolean;
    /**
     * How the protected VM was stopped for a planned failover.
     */
    sourceShutdown?: "guest" | "powerOff" | "alreadyOff";
    /**
     * Worker Job writing the recovered VM.
     */
    job?: string;
    /**
     * The restore id in the recovered VM's annotation: only a VM carrying it is ever deleted.
     */
    restoreId?: string;
    /**
     * The protected site answered: a last cycle after a guest shutdown made the point (no data loss).
     */
    planned?: boolean;
    /**
     * "latest" was used in this failover (allowed once).
     */
    latestUsed?: boolean;
    /**
     * RecoveryPoint the recovered VM was made from.
     */
    recoveryPoint?: string;
    /**
     * Vault point id it was made from.
     */
    pointID?: string;
    /**
     * Time of that point.
     */
    pointTime?: string;
    /**
     * spec.consistencyGroup: the group's tick the point was taken at, the newest every member has (the same for every member failed over from it).
     */
    groupTick?: string;
    /**
     * For an unplanned failover: the RPO at that moment, the data that may be lost.
     */
    dataAtRiskSeconds?: number;
    /**
     * The recovered VM.
     */
    vm?: {
      /**
       * VM name (an ECS instance name at a cloud site: up to 128 characters).
       */
      name?: string;
      /**
       * Managed object id, e.g. vm-42.
       */
      moRef?: string;
      /**
       * vCenter instance UUID: survives a re-registration, which changes the MoRef.
       */
      instanceUUID?: string;
      /**
       * ECS instance id, at a cloud site.
       */
      instanceId?: string;
      /**
       * ECS region of the instance.
       */
      regionId?: string;
    };
    /**
     * CBT changeId of each disk of a VM at a known content, so that the next cycle from it reads only what changed afterwards.
     *
     * @maxItems 64
     */
    baseline?: {
      /**
       * Device key of the disk.
       */
      diskKey: number;
      /**
       * CBT changeId.
       */
      changeId: string;
    }[];
    /**
     * When the recovered VM was powered on.
     */
    poweredOnTime?: string;
    /**
     * Request to powered on: the measured RTO.
     */
    rtoSeconds?: number;
    /**
     * The failover is committed.
     */
    committed?: boolean;
    /**
     * The original server is powered off with its NICs disconnected (vSphere), or stopped (ECS).
     */
    fenced?: boolean;
    /**
     * Cloud sites: the recovered instance's type (the one chosen by CPU and memory, once chosen).
     */
    instanceType?: string;
    /**
     * Cloud sites: the image made from the point's system disk snapshot for the recovered instance; deleted at commit or cancel.
     */
    imageId?: string;
    /**
     * Cloud sites: when the protected instance was asked to stop for a planned failover; a forced stop follows after 5 minutes, and the newest point is used after 10.
     */
    stopRequestTime?: string;
    /**
     * Cloud sites: the elastic IP allocated for the recovered instance.
     */
    eipAllocationId?: string;
    /**
     * Cloud sites: its address.
     */
    eipAddress?: string;
    /**
     * Cloud sites: the recovered instance's private IP.
     */
    privateIpAddress?: string;
    /**
     * The post script's run on the instance DR brought up.
     */
    postScript?: {
      /**
       * Waiting (for the instance's Cloud Assistant agent), Running, Succeeded or Failed.
       */
      phase?: "Waiting" | "Running" | "Succeeded" | "Failed";
      /**
       * The instance it runs on.
       */
      instanceId?: string;
      /**
       * Cloud Assistant's invocation id (DescribeInvocationResults).
       */
      invokeId?: string;
      /**
       * Hash of the script it ran: a script changed after a failure runs again, on the same instance.
       */
      contentHash?: string;
      /**
       * Runs of a script on this instance so far, this one included; each is its own RunCommand (ClientToken).
       */
      attempt?: number;
      /**
       * Cloud Assistant's status of the run (Success, Failed, Timeout, Aborted, ...).
       */
      invocationStatus?: string;
      /**
       * The script's exit code.
       */
      exitCode?: number;
      /**
       * Cloud Assistant's reason when the script did not run or finish (ClientNotRunning, ExecutionTimeout, ...); while it waits or runs, the last error of a call to ECS, which is asked again.
       */
      errorCode?: string;
      /**
       * The end of what the script printed (at most 4 KiB).
       */
      output?: string;
      /**
       * When it began to wait for the agent; after 10 minutes it fails (reason CloudAssistantNotRunning).
       */
      waitingSince?: string;
      /**
       * The run's timeout, as sent: a run with no end reported 10 minutes past it fails (reason PostScriptLost).
       */
      timeoutSeconds?: number;
      /**
       * When it was started.
       */
      startTime?: string;
      /**
       * When it ended.
       */
      finishTime?: string;
    };
  };
  reverse?: {
    /**
     * What reverse replication does now, or waits for.
     */
    step?: string;
    /**
     * Point in the protected site's vault that starts the reverse chain, equal to the failover point.
     */
    seedPointID?: string;
    /**
     * Bytes the seed fetched across sites: only blocks where the original VM differs from the failover point.
     */
    seedBytesTransferred?: number;
    /**
     * Bytes reverse replication sent across sites so far, seed included.
     */
    bytesTransferred?: number;
  };
  failback?: {
    /**
     * What the failback does now, or waits for.
     */
    step?: string;
    /**
     * The reverse cycle of the running recovered VM before its shutdown.
     */
    finalCycle?: string;
    /**
     * The reverse cycle of the stopped recovered VM: the failback point.
     */
    lastCycle?: string;
    /**
     * How the recovered VM was stopped.
     */
    shutdown?: "guest" | "powerOff" | "alreadyOff";
    /**
     * Worker Job writing the protected-site VM.
     */
    job?: string;
    /**
     * The restore id in the annotation of a new protected-site VM.
     */
    restoreId?: string;
    /**
     * When the failback was asked for.
     */
    requestTime?: string;
    /**
     * Reverse point the protected-site VM was brought to.
     */
    pointID?: string;
    /**
     * The VM at the protected site that runs the server again.
     */
    vm?: {
      /**
       * VM name (an ECS instance name at a cloud site: up to 128 characters).
       */
      name?: string;
      /**
       * Managed object id, e.g. vm-42.
       */
      moRef?: string;
      /**
       * vCenter instance UUID: survives a re-registration, which changes the MoRef.
       */
      instanceUUID?: string;
      /**
       * ECS instance id, at a cloud site.
       */
      instanceId?: string;
      /**
       * ECS region of the instance.
       */
      regionId?: string;
    };
    /**
     * CBT changeId of each disk of a VM at a known content, so that the next cycle from it reads only what changed afterwards.
     *
     * @maxItems 64
     */
    baseline?: {
      /**
       * Device key of the disk.
       */
      diskKey: number;
      /**
       * CBT changeId.
       */
      changeId: string;
    }[];
    /**
     * Point in the recovery site's vault that forward replication continues from, equal to the failback point.
     */
    forwardSeedPointID?: string;
    /**
     * When the protected-site VM was powered on.
     */
    poweredOnTime?: string;
    /**
     * Request to powered on.
     */
    rtoSeconds?: number;
    /**
     * Cloud sites: the failback instance's type (the one chosen by CPU and memory, once chosen).
     */
    instanceType?: string;
    /**
     * Cloud sites: the image made from the failback point's system disk snapshot; deleted once the instance runs.
     */
    imageId?: string;
    /**
     * Cloud sites: failback attempts so far; names what each makes.
     */
    attempt?: number;
    /**
     * Cloud sites: when the recovered instance was asked to stop; a forced stop follows after 5 minutes; after 10, a cloud pair uses the newest reverse point and a VMwareToCloud pair waits (condition InstanceDidNotStop: its failback never goes on without the instance's last writes).
     */
    stopRequestTime?: string;
    /**
     * The post script's run on the instance DR brought up.
     */
    postScript?: {
      /**
       * Waiting (for the instance's Cloud Assistant agent), Running, Succeeded or Failed.
       */
      phase?: "Waiting" | "Running" | "Succeeded" | "Failed";
      /**
       * The instance it runs on.
       */
      instanceId?: string;
      /**
       * Cloud Assistant's invocation id (DescribeInvocationResults).
       */
      invokeId?: string;
      /**
       * Hash of the script it ran: a script changed after a failure runs again, on the same instance.
       */
      contentHash?: string;
      /**
       * Runs of a script on this instance so far, this one included; each is its own RunCommand (ClientToken).
       */
      attempt?: number;
      /**
       * Cloud Assistant's status of the run (Success, Failed, Timeout, Aborted, ...).
       */
      invocationStatus?: string;
      /**
       * The script's exit code.
       */
      exitCode?: number;
      /**
       * Cloud Assistant's reason when the script did not run or finish (ClientNotRunning, ExecutionTimeout, ...); while it waits or runs, the last error of a call to ECS, which is asked again.
       */
      errorCode?: string;
      /**
       * The end of what the script printed (at most 4 KiB).
       */
      output?: string;
      /**
       * When it began to wait for the agent; after 10 minutes it fails (reason CloudAssistantNotRunning).
       */
      waitingSince?: string;
      /**
       * The run's timeout, as sent: a run with no end reported 10 minutes past it fails (reason PostScriptLost).
       */
      timeoutSeconds?: number;
      /**
       * When it was started.
       */
      startTime?: string;
      /**
       * When it ended.
       */
      finishTime?: string;
    };
  };
}

/** A server under continuous replication to its site pair's recovery site, with failover, reverse replication and failback. */
export interface ProtectedServer {
  apiVersion: "lifeboat.io/v1alpha1";
  kind: "ProtectedServer";
  metadata: V1ObjectMeta;
  spec: ProtectedServerSpec;
  status?: ProtectedServerStatus;
}

export interface RecoveryDrillSpec {
  /**
   * Reference to a ProtectedServer to drill (or recoveryPlanRef) in the same namespace.
   */
  protectedServerRef?: {
    /**
     * Name of the ProtectedServer to drill (or recoveryPlanRef) in the same namespace.
     */
    name: string;
  };
  /**
   * Reference to a RecoveryPlan to drill instead of one server (seed 003: a test failover of a recovery plan): each of its servers gets a RecoveryDrill of its own, owned by this one, made group by group in the plan's order, each group once the one before is up; deleting this drill cleans them all. The plan's pauses and scripts are not run in a drill in the same namespace.
   */
  recoveryPlanRef?: {
    /**
     * Name of the RecoveryPlan to drill instead of one server (seed 003: a test failover of a recovery plan): each of its servers gets a RecoveryDrill of its own, owned by this one, made group by group in the plan's order, each group once the one before is up; deleting this drill cleans them all. The plan's pauses and scripts are not run in a drill in the same namespace.
     */
    name: string;
  };
  /**
   * Point to bring up: "latest" (the newest when the drill starts), "latest-app-consistent", or a RecoveryPoint name of this server.
   */
  recoveryPoint?: string;
  /**
   * Name of the test VM; default <source VM>-drill-<drill name>, so it is recognisable.
   */
  vmName?: string;
  /**
   * Power the test VM on.
   */
  powerOn?: boolean;
  /**
   * vCPUs of the test VM; default the server's recovery settings, else the source's. Cloud sites, with memoryGiB and no instanceType: the test instance gets an instance type of exactly this size in stock in the recovery zone (seed 004: CPU and memory instead of the ECS specification).
   */
  cpu?: number;
  /**
   * Memory of the test VM in GiB; default the server's recovery settings, else the source's. Cloud sites: see cpu.
   */
  memoryGiB?: number;
  /**
   * Cloud sites: ECS instance type of the test instance; default one chosen by cpu and memoryGiB, else the server's spec.recovery (its instanceType, or its cpu and memoryGiB), else the source instance's type (for a vSphere source, one chosen by the VM's vCPUs and memory).
   */
  instanceType?: string;
  /**
   * Cloud sites: category of the test instance's disks (seed 004: disk type); default the server's spec.recovery.diskCategory, else each source disk's. VMwareToCloud: the system disk's (the data disks come with the converted image).
   */
  diskCategory?: "cloud_essd" | "cloud_ssd" | "cloud_efficiency";
  /**
   * Cloud sites: private IP of the test instance in the test vSwitch; default one ECS assigns.
   */
  privateIpAddress?: string;
  /**
   * Cloud sites: allocate an elastic IP for the test instance; released when the drill is cleaned.
   */
  eip?: boolean;
  /**
   * Cloud recovery sites: the isolated vSwitch and security group the test instance joins instead of the site pair's testNetwork (seed 004's drill panel: recovery network). Never a production recovery vSwitch (a SitePair's recoveryNetwork or a ProtectedServer's spec.recovery.network in the namespace): a drill that names one waits, with reason TestNetworkNotIsolated. A RecoveryPlan drill gives it to every server's drill, so its servers must then recover into one zone.
   */
  testNetwork?: {
    /**
     * Cloud vSwitch, in the zone the instance is made in.
     */
    vSwitchId: string;
    /**
     * Cloud security group, of the vSwitch's VPC.
     */
    securityGroupId: string;
  };
  /**
   * Cloud recovery sites: a script Cloud Assistant runs inside the test instance once it is running (seed 004's drill panel: switch-over script), e.g. to check the application; the drill is Ready once it succeeds, and Failed (the instance kept for a look until the drill is deleted) when it does not. The server's spec.recovery.postScript is not run in a drill: it may act on production.
   */
  postScript?: {
    /**
     * Cloud Assistant's command type: RunShellScript (Linux), RunPowerShellScript or RunBatScript (Windows).
     */
    type?: "RunShellScript" | "RunPowerShellScript" | "RunBatScript";
    /**
     * The script. At most 18432 bytes of UTF-8 (Cloud Assistant takes 24 KB once Base64-encoded).
     */
    content: string;
    /**
     * How long the script may run before Cloud Assistant stops it (and it counts as failed).
     */
    timeoutSeconds?: number;
    /**
     * Linux (RunShellScript): the instance's user the script runs as; default root. Windows scripts run as System (another user needs a password Lifeboat does not hold).
     */
    username?: string;
    /**
     * Directory the script runs in; default the user's home (Linux) or the agent's directory (Windows).
     */
    workingDir?: string;
  };
}

export interface RecoveryDrillStatus {
  /**
   * The .metadata.generation the controller last acted on.
   */
  observedGeneration?: number;
  /**
   * Observations of the object's state.
   */
  conditions?: {
    /**
     * Type of condition in CamelCase.
     */
    type: string;
    /**
     * Status of the condition.
     */
    status: "True" | "False" | "Unknown";
    /**
     * The .metadata.generation the condition was set from.
     */
    observedGeneration?: number;
    /**
     * When the condition last changed status.
     */
    lastTransitionTime: string;
    /**
     * One-word CamelCase reason for the last transition.
     */
    reason: string;
    /**
     * Human-readable message: what happened and what to do about it.
     */
    message: string;
  }[];
  /**
   * Where the drill is.
   */
  phase?: "Pending" | "Creating" | "Ready" | "Failed" | "Cleaning";
  /**
   * RecoveryPoint the test VM was made from.
   */
  recoveryPoint?: string;
  /**
   * Vault point id it was made from.
   */
  pointID?: string;
  /**
   * Time of that point.
   */
  pointTime?: string;
  /**
   * The server's spec.consistencyGroup: the group's tick the point was taken at (the drills of one plan drill take the same one).
   */
  groupTick?: string;
  /**
   * VCenter of the recovery site the test VM is in (cleaning needs it even when the server is gone).
   */
  vCenter?: string;
  /**
   * Worker Job that brings the test VM up.
   */
  job?: string;
  /**
   * Name of the test VM.
   */
  vmName?: string;
  /**
   * The test VM.
   */
  vmMoRef?: string;
  /**
   * Cloud sites: the test ECS instance.
   */
  instanceId?: string;
  /**
   * Cloud sites: the test instance's type (the one chosen by CPU and memory, once chosen).
   */
  instanceType?: string;
  /**
   * Cloud sites: the region the drill's resources are in (cleaning needs it even when the server is gone).
   */
  region?: string;
  /**
   * Cloud sites: the SitePair whose credentials cleaning uses.
   */
  sitePair?: string;
  /**
   * Secrets cleaning logs in with (the VCenter's, or the SitePair's), each held with the finalizer lifeboat.io/drill-<id> from before the drill makes anything until it is cleaned, so deleting everything at once (a namespace, a GitOps prune) cannot leave the drill unable to reach the site. A Secret the VCenter or SitePair stops using is let go once the new one is held.
   *
   * @maxItems 8
   */
  heldSecrets?: string[];
  /**
   * Cloud sites: the test instance's private IP.
   */
  privateIpAddress?: string;
  /**
   * Cloud sites: its elastic IP, when asked for.
   */
  eipAddress?: string;
  /**
   * Where each NIC of the test VM went.
   *
   * @maxItems 64
   */
  networks?: {
    /**
     * Network of the protected VM's NIC.
     */
    source?: string;
    /**
     * Test network it is connected to.
     */
    test?: string;
  }[];
  /**
   * Every object the drill created at the recovery site; cleaning deletes exactly these.
   *
   * @maxItems 64
   */
  createdObjects?: {
    /**
     * vSphere type, e.g. VirtualMachine; or the ECS resource type: Instance, Image, EipAddress.
     */
    kind?: string;
    /**
     * Managed object id (vSphere).
     */
    moRef?: string;
    /**
     * Resource id (ECS).
     */
    id?: string;
    /**
     * Name.
     */
    name?: string;
  }[];
  /**
   * When the drill started.
   */
  startTime?: string;
  /**
   * RecoveryPlan drills: the group being brought up.
   */
  currentGroup?: string;
  /**
   * RecoveryPlan drills: the drill of each server, in the plan's order, fixed when the drill starts.
   *
   * @maxItems 2000
   */
  servers?: {
    /**
     * The plan's group.
     */
    group?: string;
    /**
     * The server.
     */
    protectedServer?: string;
    /**
     * Its RecoveryDrill, owned by this one.
     */
    drill?: string;
    /**
     * Where that drill is.
     */
    phase?: "Pending" | "Creating" | "Ready" | "Failed" | "Cleaning";
    /**
     * Its test VM, or instance id at a cloud site.
     */
    vmName?: string;
  }[];
  /**
   * The post script's run on the instance DR brought up.
   */
  postScript?: {
    /**
     * Waiting (for the instance's Cloud Assistant agent), Running, Succeeded or Failed.
     */
    phase?: "Waiting" | "Running" | "Succeeded" | "Failed";
    /**
     * The instance it runs on.
     */
    instanceId?: string;
    /**
     * Cloud Assistant's invocation id (DescribeInvocationResults).
     */
    invokeId?: string;
    /**
     * Hash of the script it ran: a script changed after a failure runs again, on the same instance.
     */
    contentHash?: string;
    /**
     * Runs of a script on this instance so far, this one included; each is its own RunCommand (ClientToken).
     */
    attempt?: number;
    /**
     * Cloud Assistant's status of the run (Success, Failed, Timeout, Aborted, ...).
     */
    invocationStatus?: string;
    /**
     * The script's exit code.
     */
    exitCode?: number;
    /**
     * Cloud Assistant's reason when the script did not run or finish (ClientNotRunning, ExecutionTimeout, ...); while it waits or runs, the last error of a call to ECS, which is asked again.
     */
    errorCode?: string;
    /**
     * The end of what the script printed (at most 4 KiB).
     */
    output?: string;
    /**
     * When it began to wait for the agent; after 10 minutes it fails (reason CloudAssistantNotRunning).
     */
    waitingSince?: string;
    /**
     * The run's timeout, as sent: a run with no end reported 10 minutes past it fails (reason PostScriptLost).
     */
    timeoutSeconds?: number;
    /**
     * When it was started.
     */
    startTime?: string;
    /**
     * When it ended.
     */
    finishTime?: string;
  };
  /**
   * When the test VM was up (and its postScript had succeeded).
   */
  readyTime?: string;
}

/** A test copy of a protected server at the recovery site, on test networks only; deleting it cleans up exactly what it created. */
export interface RecoveryDrill {
  apiVersion: "lifeboat.io/v1alpha1";
  kind: "RecoveryDrill";
  metadata: V1ObjectMeta;
  spec: RecoveryDrillSpec;
  status?: RecoveryDrillStatus;
}

export interface RecoveryPlanSpec {
  /**
   * Groups of servers, in the order a failover or failback brings them up (seed 003: an application's dependencies, say the database before the application servers). Reverse replication and a return to Replicating move every group at once.
   *
   * @minItems 1
   * @maxItems 20
   */
  groups: {
    /**
     * Name of the group, unique in the plan.
     */
    name: string;
    /**
     * ProtectedServers of this group, brought up at the same time. A server belongs to one group of one plan.
     *
     * @minItems 1
     * @maxItems 100
     */
    protectedServers: string[];
    /**
     * Before a failover or failback brings this group up, wait for a new spec.resumeRequest (seed 003: a pause for a manual action).
     */
    pauseBefore?: boolean;
    /**
     * A Kubernetes Job run once the group's servers are up in a failover or failback (seed 003: scripts in a recovery plan), e.g. to repoint DNS or check the application. Its environment names the plan (LIFEBOAT_RECOVERY_PLAN), the group (LIFEBOAT_GROUP), the state reached (LIFEBOAT_STATE) and, as JSON in LIFEBOAT_SERVERS, each server and the VM or instance that now runs it. The plan goes on to the next group only once the Job succeeds; a failed one stops the plan until a new spec.resumeRequest runs it again.
     */
    script?: {
      /**
       * Container image of the script. It runs as a non-root user (the restricted Pod Security profile): the image's USER must be a numeric non-root id.
       */
      image: string;
      /**
       * Entrypoint, as a container's command; default the image's.
       *
       * @maxItems 64
       */
      command?: string[];
      /**
       * Arguments, as a container's args.
       *
       * @maxItems 64
       */
      args?: string[];
      /**
       * ServiceAccount the script runs as, with its API token (to call the Kubernetes API, say); default none: the namespace's default ServiceAccount without a token.
       */
      serviceAccountName?: string;
      /**
       * The script fails if it runs longer (the Job's activeDeadlineSeconds).
       */
      timeoutSeconds?: number;
    };
  }[];
  /**
   * Where the plan's servers should be: Replicating; FailedOver (group by group at the recovery site); ReverseReplicating (every server replicated back, after a committed failover); FailedBack (group by group at the protected site). The plan sets each server's spec.desiredState when its group's turn comes.
   */
  desiredState?: "Replicating" | "FailedOver" | "ReverseReplicating" | "FailedBack";
  /**
   * Commit the failover of every server (their spec.commitFailover), once all of them run at the recovery site.
   */
  commitFailover?: boolean;
  /**
   * The point each server's failover uses, set in its spec.recoveryPoint when its group fails over: "latest" (a planned failover when the protected site answers) or "latest-app-consistent". A server whose spec.recoveryPoint names a RecoveryPoint keeps it: set a named point on the server itself.
   */
  recoveryPoint?: "latest" | "latest-app-consistent";
  /**
   * A new value lets the plan go on past a group's pauseBefore, or runs a failed script again.
   */
  resumeRequest?: string;
}

export interface RecoveryPlanStatus {
  /**
   * The .metadata.generation the controller last acted on.
   */
  observedGeneration?: number;
  /**
   * Observations of the object's state.
   */
  conditions?: {
    /**
     * Type of condition in CamelCase.
     */
    type: string;
    /**
     * Status of the condition.
     */
    status: "True" | "False" | "Unknown";
    /**
     * The .metadata.generation the condition was set from.
     */
    observedGeneration?: number;
    /**
     * When the condition last changed status.
     */
    lastTransitionTime: string;
    /**
     * One-word CamelCase reason for the last transition.
     */
    reason: string;
    /**
     * Human-readable message: what happened and what to do about it.
     */
    message: string;
  }[];
  /**
   * The desiredState every server of the plan reached last.
   */
  state?: "Replicating" | "FailedOver" | "ReverseReplicating" | "FailedBack";
  /**
   * The desiredState the plan brings its servers to now, while it differs from state.
   */
  target?: "Replicating" | "FailedOver" | "ReverseReplicating" | "FailedBack";
  /**
   * Every server's failover is committed.
   */
  committed?: boolean;
  /**
   * The group the plan works on or waits at.
   */
  currentGroup?: string;
  /**
   * The spec.resumeRequest last acted on.
   */
  handledResumeRequest?: string;
  /**
   * When the plan began moving to target.
   */
  startTime?: string;
  /**
   * When every server reached it.
   */
  completionTime?: string;
  /**
   * startTime to completionTime: for a failover or failback, the plan's RTO (pauses included).
   */
  durationSeconds?: number;
  /**
   * Each group on the way to target.
   *
   * @maxItems 20
   */
  groups?: {
    /**
     * The group.
     */
    name?: string;
    /**
     * Where the group is.
     */
    phase?: "Pending" | "WaitingForApproval" | "InProgress" | "RunningScript" | "ScriptFailed" | "Done";
    /**
     * What it waits for, or why it stopped.
     */
    message?: string;
    /**
     * When its servers were told to move.
     */
    startTime?: string;
    /**
     * When its servers, and its script, were done.
     */
    doneTime?: string;
    /**
     * The Job of its script.
     */
    scriptJob?: string;
    /**
     * Times its script was run.
     */
    scriptAttempts?: number;
  }[];
}

/** ProtectedServers of one application in ordered groups: a failover, commit, reverse replication or failback of them all, group by group, with pauses for manual actions and scripts between groups. */
export interface RecoveryPlan {
  apiVersion: "lifeboat.io/v1alpha1";
  kind: "RecoveryPlan";
  metadata: V1ObjectMeta;
  spec: RecoveryPlanSpec;
  status?: RecoveryPlanStatus;
}
