import { ageColumn, conditionColumn, conditions, localRef, observedGeneration, reasonColumn, secretRef, type KindDefinition } from "./common.js";
import { boolean, enumeration, integer, object, string, withRules } from "./schema.js";

/**
 * BackupVault: where backup data lives (seeds 000, 001 "vault settings"). The
 * vault is the source of truth for recovery points; its lock is the "backup
 * lock" of seed 000: no one deletes locked data before its retention ends.
 */
export const backupVault: KindDefinition = {
  kind: "BackupVault",
  plural: "backupvaults",
  singular: "backupvault",
  shortNames: ["bv", "vault"],
  description: "A deduplicating, compressing, encrypting backup repository on a filesystem or S3-compatible object storage.",
  spec: object(
    {
      backend: withRules(
        object(
          {
            filesystem: withRules(
              object(
                {
                  path: string("Absolute path of the repository on the operator's and the workers' filesystems (storage mounted at the same path in both, e.g. by a node image); Lifeboat mounts nothing for it.", { pattern: "^/", maxLength: 4096 }),
                  persistentVolumeClaim: localRef(
                    "PersistentVolumeClaim holding the repository at its root: workers mount it; the operator opens it at /var/lib/lifeboat/vaults/<namespace>/<claim name>, which the chart value vaultVolumes mounts",
                  ),
                },
                [],
                { description: "A repository on a filesystem: a host path or a PersistentVolumeClaim." },
              ),
              { rule: "has(self.path) != has(self.persistentVolumeClaim)", message: "spec.backend.filesystem: set exactly one of path or persistentVolumeClaim" },
            ),
            s3: object(
              {
                endpoint: string("S3 endpoint, e.g. https://oss-cn-shanghai.aliyuncs.com or http://minio:9000; empty for AWS S3.", {
                  pattern: "^https?://[^\\s/]+(/.*)?$",
                  maxLength: 2048,
                }),
                bucket: string("Bucket name.", { minLength: 3, maxLength: 63, pattern: "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$" }),
                region: string("Region of the bucket.", { default: "us-east-1", minLength: 1, maxLength: 64 }),
                prefix: string("Key prefix under which the repository lives.", { maxLength: 512, pattern: "^[^/].*$|^$" }),
                forcePathStyle: boolean("Address the bucket in the path (MinIO, Ceph RGW) rather than the host name.", true),
                useHTTPS: boolean("Require HTTPS to the endpoint (seed 001: transferring over HTTPS costs some throughput).", true),
                storageClass: string("Storage class for new objects, e.g. STANDARD or STANDARD_IA (the seeds' ZRS/LRS choice is a bucket property).", { maxLength: 64 }),
                credentialsSecretRef: secretRef("the access key pair", {
                  accessKeyIdKey: { default: "accessKeyId", description: "Key of the access key id." },
                  secretAccessKeyKey: { default: "secretAccessKey", description: "Key of the secret access key." },
                }),
                caSecretRef: secretRef("a CA bundle to trust for the endpoint", { key: { default: "ca.crt", description: "Key of the PEM bundle." } }),
              },
              ["bucket", "credentialsSecretRef"],
              { description: "A repository in an S3-compatible bucket (AWS S3, Alibaba OSS, MinIO, Ceph RGW)." },
            ),
          },
          [],
          { description: "Where the repository is stored." },
        ),
        { rule: "has(self.filesystem) != has(self.s3)", message: "spec.backend: set exactly one of filesystem or s3" },
        { rule: "!has(self.s3) || !self.s3.useHTTPS || !has(self.s3.endpoint) || self.s3.endpoint.startsWith('https://')", message: "spec.backend.s3.endpoint must start with https:// while useHTTPS is true; set useHTTPS: false to allow http://" },
      ),
      encryption: object(
        {
          keySecretRef: secretRef("the repository key that wraps the data key: text (workers receive it in an environment variable), 32 or more random characters, e.g. from `openssl rand -base64 32`", {
            key: { default: "key", description: "Key in the Secret." },
          }),
        },
        ["keySecretRef"],
        { description: "Encryption: every block is encrypted with AES-256-GCM under a data key wrapped by this key." },
      ),
      blockSize: withRules(
        enumeration("Fixed block size for disk images; aligned blocks deduplicate best against VMware's 1 MiB-granular CBT.", ["256Ki", "512Ki", "1Mi", "2Mi", "4Mi", "8Mi"], "1Mi"),
        { rule: "self == oldSelf", message: "spec.blockSize is immutable: it is fixed when the repository is initialised" },
      ),
      compressionLevel: integer("zstd level; 1 is fastest, 3 shrinks a little more.", 1, 3, { default: 1 }),
      lock: withRules(
        object(
          {
            enabled: boolean("Lock recovery points until their retention ends.", false),
            mode: enumeration("Governance: a user with the bypass permission on the bucket may still delete. Compliance: nobody can, not even the bucket owner.", ["Governance", "Compliance"], "Governance"),
            retentionDays: integer("Days each recovery point stays locked after it is written.", 1, 36500),
          },
          [],
          { description: "The backup lock (seed 000): no recovery point is deleted before its retention ends, by any command; on S3 the objects carry Object Lock retention." },
        ),
        { rule: "!self.enabled || has(self.retentionDays)", message: "spec.lock.retentionDays is required when spec.lock.enabled is true" },
        {
          rule: "!(oldSelf.enabled && oldSelf.mode == 'Compliance') || (self.enabled && self.mode == 'Compliance' && self.retentionDays >= oldSelf.retentionDays)",
          message: "spec.lock: a Compliance lock cannot be disabled, weakened to Governance or shortened",
        },
      ),
      initialize: boolean("Initialise the repository when the backend is empty.", true),
      check: object(
        {
          schedule: string('When to check, as a cron expression (5 fields), e.g. "0 3 * * 0" for Sundays at 03:00; without it, checks run only on request.', { minLength: 9, maxLength: 128 }),
          timeZone: string("IANA time zone of the schedule, e.g. Asia/Tokyo.", { default: "UTC", minLength: 1, maxLength: 64 }),
          readData: boolean("Also read and verify every pack's bytes (reads the whole vault); without it, the structure: every point's blocks are indexed, and every indexed block is in its pack's header.", false),
          request: string("Any new value runs a check now (e.g. a timestamp).", { minLength: 1, maxLength: 63 }),
          gatewayRef: localRef("Gateway whose workers run the check (its placement and resources); the check is a maintenance Job, never run in the operator"),
        },
        ["gatewayRef"],
        { description: "Verification of the vault by a maintenance Job: on a schedule, on request, or both. status.lastCheck and the Verified condition say what it found." },
      ),
    },
    ["backend", "encryption"],
  ),
  status: object({
    observedGeneration,
    conditions,
    repositoryID: string("Unique id of the repository, from its config."),
    formatVersion: integer("Repository format version."),
    storedBytes: integer("Bytes stored in the backend after dedup and compression: packs, index, manifests and key slots.", 0),
    stored: string("storedBytes for people, e.g. \"1.5 GiB\" (binary units, rounded; programs read storedBytes)."),
    logicalBytes: integer("Bytes of all recovery points as restored: the sum of their disks' sizes, zeros included.", 0),
    logical: string("logicalBytes for people, e.g. \"400 GiB\"."),
    allocatedBytes: integer("Bytes of data the recovery points reference: their disks' non-zero blocks (zero blocks are holes, never stored), counted once per point.", 0),
    allocated: string("allocatedBytes for people, e.g. \"120 GiB\"."),
    dedupRatio: string(
      "allocatedBytes / storedBytes with two decimals, e.g. \"4.21\": bytes of VM data per byte of storage, from blocks shared between disks and points and from compression together; zeros count on neither side, so a sparse disk does not inflate it. \"0.00\" for an empty vault.",
    ),
    compressionRatio: string(
      "Bytes of the blocks the vault holds before compression / after (as sealed blobs), two decimals, e.g. \"1.80\": compression's share of dedupRatio (dedupRatio / compressionRatio is roughly what shared blocks alone save). \"0.00\" for an empty vault.",
    ),
    recoveryPointCount: integer("Recovery points in the repository.", 0),
    lastSyncTime: string("When recovery points were last synced from the repository.", { format: "date-time" }),
    lastCheck: object({
      job: string("The maintenance Job of the check."),
      trigger: enumeration("What started it.", ["Schedule", "Request"]),
      readData: boolean("Whether it read every pack's bytes."),
      phase: enumeration("Running; Succeeded when it ran to the end (errors or not); Failed when it could not run.", ["Running", "Succeeded", "Failed"]),
      startTime: string("When it started.", { format: "date-time" }),
      completionTime: string("When it ended.", { format: "date-time" }),
      errors: integer("Errors found (damaged or missing objects).", 0),
      warnings: integer("Warnings (unreferenced data prune will remove, and the like).", 0),
      points: integer("Recovery points checked.", 0),
      bytesVerified: integer("Bytes of pack data read and verified (readData).", 0),
      message: string("What it found, with the first errors; the Job's log has them all."),
    }),
    nextCheck: string("When the next scheduled check starts.", { format: "date-time" }),
    lastHandledCheckRequest: string("The spec.check.request value last acted on."),
  }),
  printerColumns: [
    { name: "Backend", type: "string", jsonPath: ".spec.backend.s3.bucket", description: "S3 bucket (empty for a filesystem vault)" },
    conditionColumn("Ready"),
    reasonColumn("Ready"),
    { name: "Points", type: "integer", jsonPath: ".status.recoveryPointCount" },
    { name: "Stored", type: "string", jsonPath: ".status.stored", description: "Bytes in the backend, after dedup and compression" },
    { name: "Data", type: "string", jsonPath: ".status.allocated", description: "Non-zero bytes the recovery points reference", priority: 1 },
    { name: "Dedup", type: "string", jsonPath: ".status.dedupRatio", description: "Data per stored byte (dedup and compression, zeros excluded)" },
    { name: "Compression", type: "string", jsonPath: ".status.compressionRatio", description: "Compression's share of the dedup ratio", priority: 1 },
    { name: "Stored Bytes", type: "integer", jsonPath: ".status.storedBytes", format: "int64", priority: 1 },
    { name: "Verified", type: "string", jsonPath: '.status.conditions[?(@.type=="Verified")].status', priority: 1 },
    ageColumn,
  ],
};
