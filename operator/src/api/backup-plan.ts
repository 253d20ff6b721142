import { ageColumn, conditions, localRef, observedGeneration, retentionPass, type KindDefinition } from "./common.js";
import { array, boolean, enumeration, integer, object, string, withRules } from "./schema.js";

/** Per-VM phases of a run, in the order a worker goes through them (Forklift-style pipeline). */
export const VM_RUN_PHASES = ["Pending", "Snapshotting", "Transferring", "Committing", "Succeeded", "Failed", "Skipped"] as const;

const vmRunStatus = object(
  {
    name: string("VM name."),
    moRef: string("The VM's managed object id when the run started."),
    job: string("The worker Job backing this VM up."),
    phase: enumeration("Where this VM's backup is.", VM_RUN_PHASES),
    bytesDone: integer("Bytes of changed areas read so far.", 0),
    bytesTotal: integer("Bytes of changed areas to read.", 0),
    bytesUploaded: integer("New bytes written to the vault (after dedup and compression).", 0),
    throughputBytesPerSecond: integer("Read throughput.", 0),
    etaSeconds: integer("Estimated seconds to finish.", 0),
    attempts: integer("Worker attempts so far.", 0),
    reason: string("One-word reason when Failed or Skipped, while the worker waits for its vault (VaultUnavailable), or while its Job retries a failed attempt (the reason of that attempt, e.g. VCenterUnreachable)."),
    message: string("What went wrong and what to do about it; on a Succeeded VM, the disks its point was taken without (independent disks and physical-mode RDMs, which a VM snapshot does not capture)."),
    recoveryPoint: string("RecoveryPoint written, when Succeeded."),
  },
  ["name", "phase"],
);

/**
 * BackupPlan: what to back up, when, and how long to keep it (seed 000).
 * Runs are declarative: the schedule starts them, and setting
 * spec.runRequest to a new value asks for one now (GitOps-friendly, like
 * Forklift's declarative cutover).
 */
export const backupPlan: KindDefinition = {
  kind: "BackupPlan",
  plural: "backupplans",
  singular: "backupplan",
  shortNames: ["bp"],
  description: "Which VMs to back up, on what schedule, into which vault, kept for how long.",
  spec: object(
    {
      vCenterRef: localRef("VCenter the VMs are in"),
      vaultRef: localRef("BackupVault to write to"),
      gatewayRef: localRef("Gateway whose workers run the backups"),
      vms: withRules(
        object(
          {
            names: array("VM names.", string("VM name.", { minLength: 1, maxLength: 80 }), { maxItems: 1000, "x-kubernetes-list-type": "set" }),
            folders: array("Inventory folder paths; every VM below them, e.g. /dc1/vm/prod.", string("Folder path.", { pattern: "^/", maxLength: 1024 }), { maxItems: 100 }),
            namePatterns: array("Glob patterns on VM names, e.g. web-*.", string("Glob.", { minLength: 1, maxLength: 256 }), { maxItems: 100 }),
            excludeNames: array("VM names to leave out even when selected above.", string("VM name.", { maxLength: 80 }), { maxItems: 1000 }),
          },
          [],
          { description: "Which VMs the plan covers; a VM matching any selector is included." },
        ),
        {
          rule: "(has(self.names) && size(self.names) > 0) || (has(self.folders) && size(self.folders) > 0) || (has(self.namePatterns) && size(self.namePatterns) > 0)",
          message: "spec.vms: select at least one VM with names, folders or namePatterns",
        },
      ),
      schedule: object(
        {
          cron: string("Standard 5-field cron expression, e.g. \"0 2 * * *\", or a macro such as @daily.", {
            minLength: 1,
            maxLength: 128,
            pattern: "^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\\S+\\s+){4}\\S+)$",
          }),
          timeZone: string("IANA time zone the cron expression is in, e.g. Asia/Tokyo.", { default: "UTC", maxLength: 64 }),
          startingDeadlineSeconds: integer("A run missed by more than this (operator down) is skipped, not started late.", 0, 86400, { default: 3600 }),
        },
        ["cron"],
        { description: "When runs start. Without a schedule the plan runs only on request (spec.runRequest)." },
      ),
      retention: withRules(
        object(
          {
            keepLast: integer("Keep the newest N recovery points per VM.", 1, 10000),
            daily: integer("Keep the newest point of each of the last N days.", 1, 10000),
            weekly: integer("Keep the newest point of each of the last N weeks.", 1, 10000),
            monthly: integer("Keep the newest point of each of the last N months.", 1, 10000),
            yearly: integer("Keep the newest point of each of the last N years.", 1, 1000),
            maxAge: string("Delete points older than this, e.g. 720h or 90d; a point any rule above keeps is kept.", { pattern: "^[0-9]+(h|d|w)$" }),
          },
          [],
          { description: "Which recovery points to keep (grandfather-father-son). Points under the vault's lock are never deleted before their lock ends." },
        ),
        {
          rule: "has(self.keepLast) || has(self.daily) || has(self.weekly) || has(self.monthly) || has(self.yearly) || has(self.maxAge)",
          message: "spec.retention: set at least one of keepLast, daily, weekly, monthly, yearly or maxAge",
        },
      ),
      quiesce: boolean("Quiesce the guest file system through VMware Tools for application-consistent points.", false),
      changedBlockTracking: boolean("Read only changed areas (VMware CBT); the first run reads only allocated areas.", true),
      paused: boolean("Start no scheduled runs; a run in progress finishes.", false),
      overlapPolicy: enumeration("When a run is due while the previous one still runs: Skip it, or Wait and start it after.", ["Skip", "Wait"], "Skip"),
      runRequest: string("Set to a new value (e.g. a timestamp) to start a run now.", { maxLength: 128 }),
    },
    ["vCenterRef", "vaultRef", "gatewayRef", "vms", "retention"],
  ),
  status: object({
    observedGeneration,
    conditions,
    lastRun: object({
      id: string("Run id."),
      startTime: string("When it started.", { format: "date-time" }),
      trigger: enumeration("What started it.", ["Schedule", "Request"]),
      completionTime: string("When it finished.", { format: "date-time" }),
      result: enumeration("Succeeded, PartiallyFailed (some VMs failed) or Failed.", ["Succeeded", "PartiallyFailed", "Failed"]),
      message: string("Summary."),
    }),
    lastSuccessfulTime: string("When the last Succeeded run (every selected VM backed up) finished.", { format: "date-time" }),
    nextRun: string("When the next scheduled run starts.", { format: "date-time" }),
    currentRun: object({
      id: string("Run id."),
      startTime: string("When it started.", { format: "date-time" }),
      trigger: enumeration("What started it.", ["Schedule", "Request"]),
      vms: array("Per-VM progress.", vmRunStatus, { "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] }),
    }),
    lastResults: array("Per-VM results of the last finished run.", vmRunStatus, { "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] }),
    lastHandledRunRequest: string("The spec.runRequest value last acted on."),
    retention: retentionPass("the run whose end started it", "the plan's Gateway"),
    selectedVMs: integer("VMs the selection matches now.", 0),
  }),
  printerColumns: [
    { name: "Schedule", type: "string", jsonPath: ".spec.schedule.cron" },
    { name: "Last Run", type: "date", jsonPath: ".status.lastRun.startTime" },
    { name: "Last Result", type: "string", jsonPath: ".status.lastRun.result" },
    { name: "Next Run", type: "string", jsonPath: ".status.nextRun" },
    { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: "Paused", type: "boolean", jsonPath: ".spec.paused", priority: 1 },
    ageColumn,
  ],
};
