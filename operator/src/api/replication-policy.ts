import { ageColumn, clockTime, conditionColumn, conditions, observedGeneration, reasonColumn, WEEKDAYS, type KindDefinition } from "./common.js";
import { array, boolean, enumeration, integer, object, string, withRules, type Schema } from "./schema.js";

/**
 * A server's replication settings: its schedule, RPO threshold, which points
 * are kept, whether it resumes by itself and its business hours. The same
 * schema is a ProtectedServer's spec.replication and a ReplicationPolicy's
 * spec, so a setting means one thing wherever it is written; `path` is where
 * it sits, for the messages of its rules.
 */
export function replicationSettings(path: string, description: string): Schema {
  return withRules(
    object(
      {
        crashConsistentIntervalMinutes: integer("How often a crash-consistent point is made, in minutes (seed 003: 5): cycles start early enough that the newest point never gets older than this when they take time. RPOMet compares with rpoThresholdMinutes when it is set.", 1, 60, { default: 5 }),
        appConsistentIntervalHours: integer("Hours between application-consistent (quiesced through VMware Tools) points (seed 003: 1-12); unset for none.", 1, 12),
        rpoThresholdMinutes: integer(
          "RPO threshold (seed 003): when the newest point gets older than this, RPOMet turns False with a Warning event, and the RPO metrics' target is this. It does not change how often cycles run. Default: crashConsistentIntervalMinutes.",
          1,
          1440,
        ),
        retention: object(
          {
            keepAllForMinutes: integer("Every cycle's point is kept this long.", 0, 1440, { default: 60 }),
            recoveryPointIntervalHours: integer("After that, one point per this many hours is kept (seed 004: recovery point policy).", 1, 24, { default: 1 }),
            keepIntervalPointsForHours: integer("How long those points are kept (seed 004: 24 points in 24 hours).", 1, 720, { default: 24 }),
            keepAppConsistentForDays: integer("Application-consistent points are kept this long (seed 003: up to 15 days).", 0, 90, { default: 7 }),
          },
          [],
          { description: "Which replication points are kept. Points in use by a drill or an uncommitted failover are kept whatever these say, and the vault's lock is never shortened." },
        ),
        autoResume: boolean("Resume replication on its own once an interruption's cause clears (seed 004).", true),
        businessHours: withRules(
          object(
            {
              days: array("Days business hours start on.", enumeration("Day.", WEEKDAYS), { minItems: 1, maxItems: 7, "x-kubernetes-list-type": "set" }),
              start: clockTime,
              end: clockTime,
              timeZone: string("IANA time zone of start and end, e.g. Asia/Tokyo.", { default: "UTC", maxLength: 64 }),
            },
            ["days", "start", "end"],
            {
              description:
                "Business hours of the server's application (seed 003: a resync runs outside business hours by default), in either direction of replication. A cycle that finds CBT cannot be trusted (ChangeIdRejected, DiskResized, ChangeTrackingReset) during these hours stops before it reads, and replication waits for them to end (Replicating=False, reason ResyncHeld; the RPO grows meanwhile), since a resync reads every allocated area of the VM's disks from production storage. spec.resyncRequest resyncs at once. Unset: a resync runs in the cycle that finds it needed. vSphere sources only: an ECS instance has no change tracking to resync.",
            },
          ),
          { rule: "self.start != self.end", message: `${path}.businessHours.end must differ from start; hours that end before they start run past midnight` },
        ),
      },
      [],
      { description },
    ),
    { rule: "!has(self.appConsistentIntervalHours) || self.appConsistentIntervalHours * 60 > self.crashConsistentIntervalMinutes", message: `${path}.appConsistentIntervalHours must be longer than crashConsistentIntervalMinutes` },
    {
      rule: "!has(self.appConsistentIntervalHours) || !has(self.retention) || self.retention.keepAppConsistentForDays * 24 >= self.appConsistentIntervalHours",
      message: `${path}.retention.keepAppConsistentForDays must cover appConsistentIntervalHours (seed 003: the application-consistent frequency must be shorter than its retention): otherwise the newest application-consistent point is forgotten before the next one comes`,
    },
    { rule: "!has(self.rpoThresholdMinutes) || self.rpoThresholdMinutes >= self.crashConsistentIntervalMinutes", message: `${path}.rpoThresholdMinutes must be at least crashConsistentIntervalMinutes: a tighter threshold than the schedule would always be missed` },
  );
}

/**
 * ReplicationPolicy (seed 003: replication policies, made at any time and
 * applied when replication is enabled): the replication settings of many
 * ProtectedServers in one object, which they name with
 * spec.replicationPolicyRef. An edit applies to all of them at their next
 * reconcile, so a tier's RPO or retention is changed once, not server by
 * server. It holds no state: the servers keep their own schedules, points and
 * status.
 */
export const replicationPolicy: KindDefinition = {
  kind: "ReplicationPolicy",
  plural: "replicationpolicies",
  singular: "replicationpolicy",
  shortNames: ["rpol"],
  description: "Replication settings (schedule, RPO threshold, retention, auto-resume, business hours) shared by the ProtectedServers that name it in spec.replicationPolicyRef.",
  spec: replicationSettings("spec", "The replication settings of every ProtectedServer that names this policy in spec.replicationPolicyRef, as a ProtectedServer's spec.replication holds them."),
  status: object({
    observedGeneration,
    conditions,
    protectedServers: integer("ProtectedServers that name this policy.", 0),
  }),
  printerColumns: [
    { name: "Interval", type: "integer", jsonPath: ".spec.crashConsistentIntervalMinutes", description: "Minutes between crash-consistent points" },
    { name: "RPO", type: "integer", jsonPath: ".spec.rpoThresholdMinutes", description: "RPO threshold in minutes (default the interval)" },
    { name: "Servers", type: "integer", jsonPath: ".status.protectedServers" },
    conditionColumn("Ready"),
    reasonColumn("Ready"),
    ageColumn,
  ],
};
