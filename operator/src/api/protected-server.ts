import { ageColumn, conditions, localRef, observedGeneration, type KindDefinition } from "./common.js";
import { boolean, enumeration, integer, object, string, withRules } from "./schema.js";

export const DESIRED_STATES = ["Replicating", "Drill", "FailedOver", "ReverseReplicating", "FailedBack"] as const;

/** Replication stages, as seeds 003 and 004 name them. */
export const REPLICATION_STAGES = [
  "Initializing",
  "Initialized",
  "Starting",
  "FullReplication",
  "RealTimeReplication",
  "Drilling",
  "FailingOver",
  "FailedOver",
  "ReverseStarting",
  "ReverseFullReplication",
  "ReverseRealTimeReplication",
  "FailingBack",
  "FailedBack",
  "Paused",
  "Error",
] as const;

const recoverySettings = object(
  {
    vSwitchId: string("Recovery network vSwitch (cloud target).", { maxLength: 64 }),
    vSphereNetwork: string("Recovery network (vSphere target).", { maxLength: 256 }),
    ipAddress: string("Fixed private IP for the recovered server; default from the network.", { format: "ipv4" }),
    instanceType: string("Instance type of the recovered server, e.g. ecs.g7.xlarge (seed 004: ECS spec).", { maxLength: 64 }),
    cpu: integer("vCPUs, when no instanceType is given.", 1, 768),
    memoryGiB: integer("Memory in GiB, when no instanceType is given.", 1, 12288),
    diskType: enumeration("Disk type of the recovered server.", ["CloudEfficiency", "CloudSSD", "CloudESSD", "Thin", "Thick"]),
    assignPublicIP: boolean("Attach an elastic IP (seed 004: EIP).", false),
    postScriptConfigMapRef: object(
      { name: string("ConfigMap name.", { minLength: 1 }), key: string("Key holding the script.", { default: "script" }) },
      ["name"],
      { description: "Script run in the recovered server after a drill, failover or failback (seed 004: post-switch script)." },
    ),
  },
  [],
  { description: "How the server is brought up at the recovery site in a drill, failover or failback." },
);

/**
 * ProtectedServer: one server under continuous replication (seed 004 steps
 * 2-5; seed 003). The user declares the desired state; the controller drives
 * the stages. "latest" (the current time point) can be used once per failover,
 * as seed 004 says.
 */
export const protectedServer: KindDefinition = {
  kind: "ProtectedServer",
  plural: "protectedservers",
  singular: "protectedserver",
  shortNames: ["ps"],
  description: "A server under continuous replication to its site pair's recovery site, with drills, failover and failback.",
  spec: withRules(
    object(
      {
        sitePairRef: localRef("SitePair to replicate within"),
        source: withRules(
          object(
            {
              vmName: string("VM name at the protected vSphere site.", { maxLength: 80 }),
              instanceId: string("ECS instance id at the protected cloud site.", { maxLength: 64 }),
            },
            [],
            { description: "The protected server." },
          ),
          { rule: "has(self.vmName) != has(self.instanceId)", message: "spec.source: set exactly one of vmName or instanceId" },
        ),
        replication: withRules(
          object(
            {
              recoveryPointIntervalHours: integer("Hours between recovery points kept for recovery (seed 004: recovery point policy).", 1, 24, { default: 1 }),
              crashConsistentIntervalMinutes: integer("Minutes between crash-consistent points (seed 003: default 5).", 1, 60, { default: 5 }),
              appConsistentIntervalHours: integer("Hours between application-consistent points (seed 003: 1-12); unset for none.", 1, 12),
              retainRecoveryPoints: integer("Newest points kept (seed 004: 24).", 1, 512, { default: 24 }),
              retainHours: integer("Hours points are kept (seed 004: 24).", 1, 720, { default: 24 }),
              diskType: enumeration("Disk type of the replica disks (seed 004: Ultra disk, ESSD, SSD).", ["CloudEfficiency", "CloudSSD", "CloudESSD", "Thin", "Thick"], "CloudESSD"),
              vSwitchId: string("Replication network vSwitch; default the site pair's.", { maxLength: 64 }),
              autoResume: boolean("Resume replication on its own after an interruption (seed 004).", true),
            },
            [],
          ),
          { rule: "!has(self.appConsistentIntervalHours) || self.appConsistentIntervalHours * 60 > self.crashConsistentIntervalMinutes", message: "spec.replication.appConsistentIntervalHours must be longer than crashConsistentIntervalMinutes" },
        ),
        recovery: recoverySettings,
        desiredState: enumeration("Replicating; Drill (start a test copy, replication goes on); FailedOver; ReverseReplicating (from the recovery site back); FailedBack.", DESIRED_STATES, "Replicating"),
        recoveryPoint: string("RecoveryPoint name to recover from, or \"latest\" for the current time point (usable once per failover).", { default: "latest", maxLength: 253 }),
        reverseInPlace: boolean("In reverse replication, overwrite the original server's disks (seed 004: in-place restore clears its data). Needs confirmReverseInPlace.", false),
        confirmReverseInPlace: boolean("Confirms that reverse replication overwrites the original server.", false),
      },
      ["sitePairRef", "source"],
    ),
    { rule: "!self.reverseInPlace || self.confirmReverseInPlace", message: "spec.confirmReverseInPlace must be true when spec.reverseInPlace is true" },
    {
      rule:
        "self.desiredState == oldSelf.desiredState || " +
        "(oldSelf.desiredState == 'Replicating' && self.desiredState in ['Drill', 'FailedOver']) || " +
        "(oldSelf.desiredState == 'Drill' && self.desiredState in ['Replicating', 'FailedOver']) || " +
        "(oldSelf.desiredState == 'FailedOver' && self.desiredState in ['ReverseReplicating', 'Replicating']) || " +
        "(oldSelf.desiredState == 'ReverseReplicating' && self.desiredState == 'FailedBack') || " +
        "(oldSelf.desiredState == 'FailedBack' && self.desiredState == 'Replicating')",
      message: "spec.desiredState: allowed changes are Replicating→Drill|FailedOver, Drill→Replicating|FailedOver, FailedOver→ReverseReplicating|Replicating, ReverseReplicating→FailedBack, FailedBack→Replicating",
    },
  ),
  status: object({
    observedGeneration,
    conditions,
    stage: enumeration("Where replication is.", REPLICATION_STAGES),
    rpoSeconds: integer("Age of the newest recovery point: the data a failover now would lose.", 0),
    lastRecoveryPointTime: string("Time of the newest recovery point.", { format: "date-time" }),
    recoveryPointCount: integer("Recovery points kept.", 0),
    progress: object({ bytesDone: integer("Bytes replicated.", 0), bytesTotal: integer("Bytes to replicate.", 0) }),
    drill: object({
      startTime: string("When the drill started.", { format: "date-time" }),
      recoveryPoint: string("Point used."),
      instance: string("The test copy (VM MoRef or instance id)."),
      result: string("Result."),
    }),
    failover: object({
      time: string("When it failed over.", { format: "date-time" }),
      recoveryPoint: string("Point used."),
      latestUsed: boolean("Whether \"latest\" was used in this failover (allowed once)."),
      instance: string("The recovered server."),
    }),
  }),
  printerColumns: [
    { name: "Source", type: "string", jsonPath: ".spec.source.vmName" },
    { name: "Desired", type: "string", jsonPath: ".spec.desiredState" },
    { name: "Stage", type: "string", jsonPath: ".status.stage" },
    { name: "RPO", type: "integer", jsonPath: ".status.rpoSeconds", description: "Seconds of data at risk" },
    { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    ageColumn,
  ],
};
