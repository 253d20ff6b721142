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
       * Absolute path of the repository on the worker's filesystem.
       */
      path?: string;
      /**
       * Reference to a PersistentVolumeClaim mounted by the workers in the same namespace.
       */
      persistentVolumeClaim?: {
        /**
         * Name of the PersistentVolumeClaim mounted by the workers in the same namespace.
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
   * Bytes stored in the backend after dedup and compression.
   */
  storedBytes?: number;
  /**
   * Bytes of all recovery points as restored.
   */
  logicalBytes?: number;
  /**
   * logicalBytes / storedBytes, e.g. "4.21".
   */
  dedupRatio?: string;
  /**
   * Recovery points in the repository.
   */
  recoveryPointCount?: number;
  /**
   * When recovery points were last synced from the repository.
   */
  lastSyncTime?: string;
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
       * One-word reason when Failed or Skipped.
       */
      reason?: string;
      /**
       * What went wrong and what to do about it.
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
     * One-word reason when Failed or Skipped.
     */
    reason?: string;
    /**
     * What went wrong and what to do about it.
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
   * Reference to a BackupVault holding the point in the same namespace.
   */
  vaultRef: {
    /**
     * Name of the BackupVault holding the point in the same namespace.
     */
    name: string;
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
  vm: {
    /**
     * VM name at backup time.
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
   * Logical size of all disks.
   */
  sizeBytes?: number;
  /**
   * Bytes this point added to the vault.
   */
  newBytes?: number;
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
       * ImportImage uploads the disk to OSS and imports it; IntermediateInstance writes it to a temporary instance's disk, snapshots it and releases the instance.
       */
      strategy?: "ImportImage" | "IntermediateInstance";
      /**
       * Image format for ImportImage.
       */
      format?: "RAW" | "VHD" | "QCOW2";
      /**
       * Guest OS family.
       */
      osType?: "linux" | "windows";
      /**
       * Distribution, e.g. Ubuntu, CentOS, Windows Server 2022.
       */
      platform?: string;
      /**
       * CPU architecture.
       */
      architecture?: "x86_64" | "arm64";
      /**
       * OSS bucket to stage the disk in (ImportImage).
       */
      ossBucket?: string;
      /**
       * vSwitch of the temporary instance (IntermediateInstance).
       */
      vSwitchId?: string;
      /**
       * Type of the temporary instance, e.g. ecs.g7.large.
       */
      instanceType?: string;
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
       * Disk image format.
       */
      format?: "raw" | "qcow2" | "vhd";
      /**
       * Directory on the worker's filesystem to write one file per disk into.
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
     * Bytes to restore.
     */
    bytesTotal?: number;
    /**
     * bytesDone / bytesTotal in percent.
     */
    percent?: number;
    /**
     * Throughput.
     */
    throughputBytesPerSecond?: number;
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
     * vSphere datastore replicas are written to at the protected site.
     */
    datastore?: string;
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
     * vSphere datastore replicas are written to at the recovery site.
     */
    datastore?: string;
  };
  /**
   * Reference to a BackupVault at the recovery site that holds replicated data and recovery points in the same namespace.
   */
  vaultRef: {
    /**
     * Name of the BackupVault at the recovery site that holds replicated data and recovery points in the same namespace.
     */
    name: string;
  };
  /**
   * Reference to a Gateway whose workers replicate from the source site in the same namespace.
   */
  gatewayRef: {
    /**
     * Name of the Gateway whose workers replicate from the source site in the same namespace.
     */
    name: string;
  };
  /**
   * The replication network. By default the first usable vSwitch of the target VPC (seed 004).
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
    /**
     * vSphere network (port group) name.
     */
    vSphereNetwork?: string;
  };
  /**
   * The recovery network. By default the first usable vSwitch of the target VPC (seed 004).
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
    /**
     * vSphere network (port group) name.
     */
    vSphereNetwork?: string;
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
     * ECS instance id at the protected cloud site.
     */
    instanceId?: string;
  };
  replication?: {
    /**
     * Hours between recovery points kept for recovery (seed 004: recovery point policy).
     */
    recoveryPointIntervalHours?: number;
    /**
     * Minutes between crash-consistent points (seed 003: default 5).
     */
    crashConsistentIntervalMinutes?: number;
    /**
     * Hours between application-consistent points (seed 003: 1-12); unset for none.
     */
    appConsistentIntervalHours?: number;
    /**
     * Newest points kept (seed 004: 24).
     */
    retainRecoveryPoints?: number;
    /**
     * Hours points are kept (seed 004: 24).
     */
    retainHours?: number;
    /**
     * Disk type of the replica disks (seed 004: Ultra disk, ESSD, SSD).
     */
    diskType?: "CloudEfficiency" | "CloudSSD" | "CloudESSD" | "Thin" | "Thick";
    /**
     * Replication network vSwitch; default the site pair's.
     */
    vSwitchId?: string;
    /**
     * Resume replication on its own after an interruption (seed 004).
     */
    autoResume?: boolean;
  };
  /**
   * How the server is brought up at the recovery site in a drill, failover or failback.
   */
  recovery?: {
    /**
     * Recovery network vSwitch (cloud target).
     */
    vSwitchId?: string;
    /**
     * Recovery network (vSphere target).
     */
    vSphereNetwork?: string;
    /**
     * Fixed private IP for the recovered server; default from the network.
     */
    ipAddress?: string;
    /**
     * Instance type of the recovered server, e.g. ecs.g7.xlarge (seed 004: ECS spec).
     */
    instanceType?: string;
    /**
     * vCPUs, when no instanceType is given.
     */
    cpu?: number;
    /**
     * Memory in GiB, when no instanceType is given.
     */
    memoryGiB?: number;
    /**
     * Disk type of the recovered server.
     */
    diskType?: "CloudEfficiency" | "CloudSSD" | "CloudESSD" | "Thin" | "Thick";
    /**
     * Attach an elastic IP (seed 004: EIP).
     */
    assignPublicIP?: boolean;
    /**
     * Script run in the recovered server after a drill, failover or failback (seed 004: post-switch script).
     */
    postScriptConfigMapRef?: {
      /**
       * ConfigMap name.
       */
      name: string;
      /**
       * Key holding the script.
       */
      key?: string;
    };
  };
  /**
   * Replicating; Drill (start a test copy, replication goes on); FailedOver; ReverseReplicating (from the recovery site back); FailedBack.
   */
  desiredState?: "Replicating" | "Drill" | "FailedOver" | "ReverseReplicating" | "FailedBack";
  /**
   * RecoveryPoint name to recover from, or "latest" for the current time point (usable once per failover).
   */
  recoveryPoint?: string;
  /**
   * In reverse replication, overwrite the original server's disks (seed 004: in-place restore clears its data). Needs confirmReverseInPlace.
   */
  reverseInPlace?: boolean;
  /**
   * Confirms that reverse replication overwrites the original server.
   */
  confirmReverseInPlace?: boolean;
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
   * Where replication is.
   */
  stage?:
    | "Initializing"
    | "Initialized"
    | "Starting"
    | "FullReplication"
    | "RealTimeReplication"
    | "Drilling"
    | "FailingOver"
    | "FailedOver"
    | "ReverseStarting"
    | "ReverseFullReplication"
    | "ReverseRealTimeReplication"
    | "FailingBack"
    | "FailedBack"
    | "Paused"
    | "Error";
  /**
   * Age of the newest recovery point: the data a failover now would lose.
   */
  rpoSeconds?: number;
  /**
   * Time of the newest recovery point.
   */
  lastRecoveryPointTime?: string;
  /**
   * Recovery points kept.
   */
  recoveryPointCount?: number;
  progress?: {
    /**
     * Bytes replicated.
     */
    bytesDone?: number;
    /**
     * Bytes to replicate.
     */
    bytesTotal?: number;
  };
  drill?: {
    /**
     * When the drill started.
     */
    startTime?: string;
    /**
     * Point used.
     */
    recoveryPoint?: string;
    /**
     * The test copy (VM MoRef or instance id).
     */
    instance?: string;
    /**
     * Result.
     */
    result?: string;
  };
  failover?: {
    /**
     * When it failed over.
     */
    time?: string;
    /**
     * Point used.
     */
    recoveryPoint?: string;
    /**
     * Whether "latest" was used in this failover (allowed once).
     */
    latestUsed?: boolean;
    /**
     * The recovered server.
     */
    instance?: string;
  };
}

/** A server under continuous replication to its site pair's recovery site, with drills, failover and failback. */
export interface ProtectedServer {
  apiVersion: "lifeboat.io/v1alpha1";
  kind: "ProtectedServer";
  metadata: V1ObjectMeta;
  spec: ProtectedServerSpec;
  status?: ProtectedServerStatus;
}
