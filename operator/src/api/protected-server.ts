import { ageColumn, chosenCloudNetwork, conditions, localRef, observedGeneration, postScript, postScriptStatus, retentionPass, type KindDefinition } from "./common.js";
import { replicationSettings } from "./replication-policy.js";
import { array, boolean, described, enumeration, integer, object, observed, string, withRules, type CelRule, type Schema } from "./schema.js";

/**
 * What the user can ask of a protected server. Drills are not a state: a
 * drill runs beside replication and several can run at once, so each is a
 * RecoveryDrill object (see recovery-drill.ts).
 */
export const DESIRED_STATES = ["Replicating", "FailedOver", "ReverseReplicating", "FailedBack"] as const;

/**
 * Where a protected server is, as seeds 003 and 004 name the stages: a
 * summary for printer columns. What is true now is in the conditions.
 */
export const REPLICATION_STAGES = [
  "Initializing",
  "Initialized",
  "FullReplication",
  "RealTimeReplication",
  "Paused",
  "FailingOver",
  "FailedOver",
  "ReverseStarting",
  "ReverseFullReplication",
  "ReverseRealTimeReplication",
  "FailingBack",
  "FailedBack",
] as const;

/**
 * The steps of the DR life cycle: the states a server's desiredState may
 * change to from each. The API server's rule below and a RecoveryPlan's
 * check of its servers (which the plan's own rules cannot see) both read it.
 */
export const NEXT_DESIRED_STATES: Readonly<Record<(typeof DESIRED_STATES)[number], readonly (typeof DESIRED_STATES)[number][]>> = {
  Replicating: ["FailedOver"],
  FailedOver: ["ReverseReplicating", "Replicating"],
  ReverseReplicating: ["FailedBack"],
  FailedBack: ["Replicating"],
};

const steps = Object.entries(NEXT_DESIRED_STATES);

/**
 * How desiredState and commitFailover may change: the DR life cycle's order.
 * A RecoveryPlan follows the same rules, since it moves its servers along it.
 */
export const DESIRED_STATE_RULES: CelRule[] = [
  {
    rule: ["self.desiredState == oldSelf.desiredState", ...steps.map(([from, to]) =>
      `(oldSelf.desiredState == '${from}' && self.desiredState ${to.length === 1 ? `== '${to.join("")}'` : `in [${to.map((t) => `'${t}'`).join(", ")}]`})`)].join(" || "),
    message: `spec.desiredState: allowed changes are ${steps.map(([from, to]) => `${from}→${to.join("|")}`).join(", ")}`,
  },
  { rule: "!self.commitFailover || self.desiredState != 'Replicating'", message: "spec.commitFailover must be false while desiredState is Replicating: set it to true only to commit a failover" },
  { rule: "self.desiredState == 'Replicating' || self.desiredState == 'FailedOver' || self.commitFailover", message: "spec.commitFailover must be true for ReverseReplicating and FailedBack: commit the failover first" },
  { rule: "!(oldSelf.commitFailover && self.desiredState == 'FailedOver') || self.commitFailover", message: "spec.commitFailover cannot be undone: a committed failover is final" },
  { rule: "!(oldSelf.desiredState == 'FailedOver' && oldSelf.commitFailover && self.desiredState == 'Replicating')", message: "spec.desiredState: a committed failover goes back through ReverseReplicating and FailedBack, not straight to Replicating" },
];

/** How a recovery point is chosen: a RecoveryPoint's name, or one of these words. */
export const POINT_CHOICES = { latest: "latest", latestAppConsistent: "latest-app-consistent" } as const;

const vmRef = object(
  {
    name: string("VM name (an ECS instance name at a cloud site: up to 128 characters).", { maxLength: 128 }),
    moRef: string("Managed object id, e.g. vm-42.", { maxLength: 64 }),
    instanceUUID: string("vCenter instance UUID: survives a re-registration, which changes the MoRef.", { maxLength: 64 }),
    instanceId: string("ECS instance id, at a cloud site.", { maxLength: 64 }),
    regionId: string("ECS region of the instance.", { maxLength: 64 }),
  },
  [],
  { description: "A VM as Lifeboat found it." },
);

const changeIds = array(
  "CBT changeId of each disk of a VM at a known content, so that the next cycle from it reads only what changed afterwards.",
  object({ diskKey: integer("Device key of the disk."), changeId: string("CBT changeId.", { maxLength: 256 }) }, ["diskKey", "changeId"]),
  { maxItems: 64 },
);

/** A replication cycle as status reports it (the current one, or the last one). */
const cycle: Schema = object({
  id: string("Cycle id: its start time, compact."),
  job: string("Worker Job of the cycle."),
  direction: enumeration("Forward (protected to recovery site) or Reverse (after a failover).", ["Forward", "Reverse"]),
  consistency: enumeration("Crash, or Application (quiesced).", ["Crash", "Application"]),
  startTime: string("When the cycle started.", { format: "date-time" }),
  completionTime: string("When it ended.", { format: "date-time" }),
  durationSeconds: integer("Start to commit.", 0),
  result: enumeration("How it ended.", ["Succeeded", "Failed"]),
  reason: string("Why it failed, one word; while it runs, why its newest failed attempt failed (its Job tries again)."),
  message: string("What happened."),
  attempts: integer("Worker pods the cycle has run: more than 1 when its Job retried a failed attempt (a killed pod, a lost node).", 1),
  bytesDone: integer("Bytes of changed areas read so far.", 0),
  bytesTotal: integer("Bytes of changed areas the cycle reads in all.", 0),
  bytesRead: integer("Bytes the cycle read from the VM's disks.", 0),
  bytesTransferred: integer("Bytes the cycle sent to the other site's vault (new blocks, compressed and encrypted).", 0),
  throughputBytesPerSecond: integer("Read throughput.", 0),
  etaSeconds: integer("Seconds left at the current throughput.", 0),
  resync: string("Why this cycle reads every allocated area instead of CBT's changes (ChangeIdRejected, DiskResized, ChangeTrackingReset, or Requested by spec.resyncRequest)."),
  recoveryPoint: string("RecoveryPoint the cycle made."),
  pointID: string("Vault point id the cycle made."),
});

/**
 * ProtectedServer: one server under near-continuous replication to its site
 * pair's recovery site (seed 004 steps 2-5; seed 003). The user declares the
 * desired state; the controller drives the stages: cycles to an RPO,
 * failover (planned when the source answers), commit, reverse replication
 * seeded without a full resync, failback.
 */
export const protectedServer: KindDefinition = {
  kind: "ProtectedServer",
  plural: "protectedservers",
  singular: "protectedserver",
  shortNames: ["ps"],
  description: "A server under continuous replication to its site pair's recovery site, with failover, reverse replication and failback.",
  spec: withRules(
    object(
      {
        sitePairRef: localRef("SitePair to replicate within"),
        source: withRules(
          object(
            {
              vmName: string("VM name at the protected vSphere site.", { minLength: 1, maxLength: 80 }),
              instanceId: string("ECS instance id at a protected cloud site (CrossZone, CrossRegion).", { maxLength: 64 }),
            },
            [],
            { description: "The protected server." },
          ),
          { rule: "has(self.vmName) != has(self.instanceId)", message: "spec.source: set exactly one of vmName or instanceId" },
        ),
        replicationPolicyRef: described(
          "The ReplicationPolicy in this namespace whose settings this server replicates with, instead of spec.replication (seed 003: a replication policy shared by many servers). An edit of the policy applies to every server that names it; the policy cannot be deleted while one does.",
          localRef("ReplicationPolicy"),
        ),
        consistencyGroup: string(
          "Servers of this namespace with the same consistencyGroup replicate together (seed 003: multi-VM consistency): their cycles snapshot at shared ticks, every crash-consistent interval from the epoch (each application-consistent interval's first tick quiescing every guest, or a member's next tick when it missed that one), and an unplanned failover or a drill with \"latest\" or \"latest-app-consistent\" brings each member back to its point of the newest tick every member has. Members need the same site pair and intervals (one ReplicationPolicy); condition GroupConsistent says whether this server's cycles are the group's, and status.sharedPointTime how old the group's newest shared point is. While a member takes the ticks, its RPO target is at least its interval plus the time a cycle takes.",
          { minLength: 1, maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" },
        ),
        replication: replicationSettings("spec.replication", "The server's own replication settings. Or name a ReplicationPolicy in spec.replicationPolicyRef instead, to share them with other servers."),
        recovery: object(
          {
            vmName: string("Name of the recovered VM at the recovery site; default the source VM's name.", { minLength: 1, maxLength: 80 }),
            datastore: string("Datastore of the recovered VM; default the site pair's target datastore.", { minLength: 1, maxLength: 80 }),
            cpu: integer("vCPUs of the recovered VM; default the source's. Cloud sites, with memoryGiB and no instanceType: the recovered instance gets an instance type of exactly this size in stock in the recovery zone, of the source instance's family where one is (seed 004: CPU and memory instead of the ECS specification).", 1, 768),
            memoryGiB: integer("Memory of the recovered VM in GiB; default the source's. Cloud sites: see cpu.", 1, 12288),
            diskProvisioning: enumeration("How the recovered VM's disks are provisioned.", ["Thin", "Thick", "EagerZeroedThick"], "Thin"),
            powerOn: boolean("Power the recovered VM on after a failover (and the protected-site VM after a failback).", true),
            instanceType: string("Cloud sites: ECS instance type of the recovered instance, e.g. ecs.g7.large (seed 004: use the ECS specification); default one chosen by cpu and memoryGiB, else the source instance's type (for a vSphere source, VMwareToCloud, one chosen by the VM's vCPUs and memory).", { minLength: 1, maxLength: 64 }),
            privateIpAddress: string("Cloud sites: private IP of the recovered instance in the recovery vSwitch; default one ECS assigns (seed 004: IP address).", { pattern: "^[0-9]{1,3}(\\.[0-9]{1,3}){3}$", maxLength: 15 }),
            diskCategory: enumeration("Cloud sites: category of the recovered instance's disks (seed 004: disk type); default the source disks' categories. VMwareToCloud: the system disk's (the data disks come with the converted image).", ["cloud_essd", "cloud_ssd", "cloud_efficiency"]),
            eip: boolean("Cloud sites: allocate an elastic IP and associate it with the recovered instance (seed 004: EIP); it is released with the instance.", false),
            network: chosenCloudNetwork(
              "Cloud recovery sites (CrossZone, CrossRegion, VMwareToCloud): the vSwitch and security group the recovered instance joins instead of the site pair's recoveryNetwork (seed 004: recovery network), e.g. to keep an application's tiers on their own subnets. Never a test vSwitch (a SitePair's or RecoveryDrill's spec.testNetwork in the namespace). Condition RecoveryNetworksValid reports whether it is usable; a failover checks it again before it stops the protected server.",
            ),
            postScript: postScript(
              "Cloud recovery sites (CrossZone, CrossRegion, VMwareToCloud): a script Cloud Assistant runs inside the recovered instance once a failover has it running (seed 004: switch-over script), e.g. to point the application at its new peers. status.failover.postScript and condition PostScriptSucceeded say how it went; a failed script leaves the instance running, and the script runs again on it once changed. Not run by drills (a RecoveryDrill has its own).",
            ),
          },
          [],
          { description: "How the server is brought up at the recovery site in a failover. Its NICs go to the site pair's recovery networks (vSphere), or its recovery vSwitch and security group (cloud)." },
        ),
        failback: object(
          {
            cpu: integer("vCPUs of the VM a failback makes at the protected site; default the recovered VM's. Cloud sites, with memoryGiB and no instanceType: the failback instance gets an instance type of exactly this size in stock in the protected zone (seed 004's failback: CPU and memory).", 1, 768),
            memoryGiB: integer("Memory of the VM a failback makes, in GiB; default the recovered VM's. Cloud sites: see cpu.", 1, 12288),
            instanceType: string("Cloud sites (CrossZone, CrossRegion): ECS instance type of the failback instance; default one chosen by cpu and memoryGiB, else the recovered instance's.", { minLength: 1, maxLength: 64 }),
            privateIpAddress: string("Cloud sites (CrossZone, CrossRegion): private IP of the failback instance in its vSwitch (network, else the pair's sourceNetwork, else the original's), not the original instance's (it stays, stopped, with its address); default one ECS assigns (seed 004's failback: IP address).", { pattern: "^[0-9]{1,3}(\\.[0-9]{1,3}){3}$", maxLength: 15 }),
            network: chosenCloudNetwork(
              "Cloud sites (CrossZone, CrossRegion): the vSwitch and security group at the protected site that the failback instance joins (seed 004's failback: recovery network); default the site pair's sourceNetwork, else the original instance's.",
            ),
            postScript: postScript(
              "Cloud sites (CrossZone, CrossRegion): a script Cloud Assistant runs inside the failback instance once it is running (seed 004's failback: post-recovery script). status.failback.postScript and condition PostScriptSucceeded say how it went.",
            ),
          },
          [],
          { description: "How a failback that makes a new VM or instance at the protected site makes it (seed 004's failback panel). A failback in place (reverseInPlace) keeps the original's size and addresses; the condition IgnoredFields names what is not acted on." },
        ),
        desiredState: enumeration(
          "Replicating; FailedOver (bring the server up at the recovery site); ReverseReplicating (after a committed failover, replicate it back); FailedBack (bring it up at the protected site again).",
          DESIRED_STATES,
          "Replicating",
        ),
        recoveryPoint: string(
          "Point a failover uses: \"latest\" (the current time: a planned failover with a last cycle when the protected site answers, else the newest point; usable once per failover), \"latest-app-consistent\", or a RecoveryPoint name. Changing it before the failover is committed replaces the recovered VM (seed 004: change recovery point).",
          { default: "latest", minLength: 1, maxLength: 253 },
        ),
        commitFailover: boolean("Make the failover final (seed 004: complete failover): releases the pinned points and fences the original server (powered off, NICs disconnected; never deleted).", false),
        reverseInPlace: boolean("Reverse replication and failback overwrite the original VM's disks (seed 004: in-place restore clears its data); otherwise a new VM is made at the protected site. Needs confirmReverseInPlace.", false),
        confirmReverseInPlace: boolean("Confirms that failback overwrites the original server.", false),
        resumeRequest: string("A new value resumes a paused replication when autoResume is off, or retries a failed step now.", { maxLength: 253 }),
        resyncRequest: string(
          "A new value starts a checksum resync now (seed 003: resync manually), without waiting for the schedule: the next cycle reads every allocated area of the VM's disks instead of CBT's changes, and the vault stores only the blocks it lacks. For a VM at a vSphere site; cycles of an ECS instance read whole disks anyway.",
          { maxLength: 253 },
        ),
      },
      ["sitePairRef", "source"],
    ),
    { rule: "!(has(self.replication) && has(self.replicationPolicyRef))", message: "spec: set spec.replication or spec.replicationPolicyRef, not both (a server's replication settings come from one place)" },
    { rule: "!self.reverseInPlace || self.confirmReverseInPlace", message: "spec.confirmReverseInPlace must be true when spec.reverseInPlace is true" },
    ...DESIRED_STATE_RULES,
    { rule: "!(oldSelf.commitFailover && self.commitFailover) || self.recoveryPoint == oldSelf.recoveryPoint", message: "spec.recoveryPoint cannot change once the failover is committed" },
  ),
  status: object({
    observedGeneration,
    conditions,
    stage: enumeration("Where the server is (a summary of the conditions).", REPLICATION_STAGES),
    direction: enumeration("Which way replication runs now.", ["Forward", "Reverse"]),
    source: described("The VM replicated now: the protected VM, or the recovered one while replicating in reverse.", vmRef),
    rpoTargetSeconds: integer("The RPO target RPOMet compares the newest point's age with: rpoThresholdMinutes (else crashConsistentIntervalMinutes) of the server's replication settings (spec.replication or its ReplicationPolicy), in seconds; for a member of a consistency group, at least the interval plus the time a cycle takes (its points come at the group's ticks).", 0),
    sharedPointTime: string("spec.consistencyGroup: the newest tick every member has a point at, as of this server's last cycle: an unplanned failover or a drill with latest brings the group back to it.", { format: "date-time" }),
    lastRecoveryPointTime: string("Time of the newest recovery point.", { format: "date-time" }),
    lastAppConsistentPointTime: string("Time of the newest application-consistent point.", { format: "date-time" }),
    recoveryPointCount: integer("Recovery points of the current direction kept.", 0),
    retention: retentionPass("the cycle whose end started it", "the Gateway of the vault's site"),
    nextCycleTime: string("When the next cycle starts: early enough that the newest point never gets older than the target.", { format: "date-time" }),
    learnedCycleSeconds: integer("How long a cycle takes, learned from the recent ones.", 0),
    currentCycle: cycle,
    lastCycle: cycle,
    failedCycles: integer("Cycles failed in a row since the last success; the next ones back off.", 0),
    handledResumeRequest: string("The spec.resumeRequest last acted on."),
    handledResyncRequest: string("The spec.resyncRequest last acted on: the cycle it started has resync Requested."),
    replicationSettings: observed(
      replicationSettings(
        "status.replicationSettings",
        "The replication settings the server runs with: its spec.replication, or the spec of the ReplicationPolicy it names (fields left out take their defaults). While that policy does not exist, the server goes on with these (condition ReplicationPolicyApplied=False).",
      ),
    ),
    replicationPolicy: object(
      {
        name: string("The ReplicationPolicy."),
        generation: integer("Its metadata.generation whose settings are applied.", 0),
      },
      ["name"],
      { description: "The ReplicationPolicy whose settings are in status.replicationSettings, when they came from one." },
    ),
    heldResync: object({
      reason: string("Why CBT cannot be trusted: ChangeIdRejected, DiskResized or ChangeTrackingReset."),
      since: string("When a cycle found the resync needed during business hours and stopped before reading.", { format: "date-time" }),
    }, ["reason"], { description: "A checksum resync waiting for spec.replication.businessHours to end; the next cycle makes it, with this reason, and clears this." }),
    registeredInstanceId: string("Cloud sites: spec.source.instanceId when it was last acted on; a new value re-registers the server (e.g. after the instance was replaced)."),
    pinnedPoints: array("Vault point ids retention must keep: points in use by drills or an uncommitted failover. (A consistency group's member also keeps its points at the ticks other members' drills and uncommitted failovers took; they are not listed here.)", string("Point id."), { maxItems: 256 }),
    failover: object({
      requestTime: string("When the failover was asked for.", { format: "date-time" }),
      attempt: integer("Failovers (and recovery point changes) so far; names the recovered VM's worker.", 0),
      step: string("What the failover does now, or waits for."),
      choice: string("The spec.recoveryPoint this failover was made for; a new value before commit replaces the recovered VM."),
      finalCycle: string("Planned failover: the cycle of the running VM before its shutdown."),
      lastCycle: string("Planned failover: the cycle of the stopped VM, whose point the recovered VM is made from."),
      sourceStopped: boolean("The failover stops (stopped) the protected VM, recorded before it does: cancelling powers it on again."),
      sourceShutdown: enumeration("How the protected VM was stopped for a planned failover.", ["guest", "powerOff", "alreadyOff"]),
      job: string("Worker Job writing the recovered VM."),
      restoreId: string("The restore id in the recovered VM's annotation: only a VM carrying it is ever deleted."),
      planned: boolean("The protected site answered: a last cycle after a guest shutdown made the point (no data loss)."),
      latestUsed: boolean("\"latest\" was used in this failover (allowed once)."),
      recoveryPoint: string("RecoveryPoint the recovered VM was made from."),
      pointID: string("Vault point id it was made from."),
      pointTime: string("Time of that point.", { format: "date-time" }),
      groupTick: string("spec.consistencyGroup: the group's tick the point was taken at, the newest every member has (the same for every member failed over from it)."),
      dataAtRiskSeconds: integer("For an unplanned failover: the RPO at that moment, the data that may be lost.", 0),
      vm: described("The recovered VM.", vmRef),
      baseline: changeIds,
      poweredOnTime: string("When the recovered VM was powered on.", { format: "date-time" }),
      rtoSeconds: integer("Request to powered on: the measured RTO.", 0),
      committed: boolean("The failover is committed."),
      fenced: boolean("The original server is powered off with its NICs disconnected (vSphere), or stopped (ECS)."),
      instanceType: string("Cloud sites: the recovered instance's type (the one chosen by CPU and memory, once chosen)."),
      imageId: string("Cloud sites: the image made from the point's system disk snapshot for the recovered instance; deleted at commit or cancel."),
      stopRequestTime: string("Cloud sites: when the protected instance was asked to stop for a planned failover; a forced stop follows after 5 minutes, and the newest point is used after 10.", { format: "date-time" }),
      eipAllocationId: string("Cloud sites: the elastic IP allocated for the recovered instance."),
      eipAddress: string("Cloud sites: its address."),
      privateIpAddress: string("Cloud sites: the recovered instance's private IP."),
      postScript: postScriptStatus,
    }),
    reverse: object({
      step: string("What reverse replication does now, or waits for."),
      seedPointID: string("Point in the protected site's vault that starts the reverse chain, equal to the failover point."),
      seedBytesTransferred: integer("Bytes the seed fetched across sites: only blocks where the original VM differs from the failover point.", 0),
      bytesTransferred: integer("Bytes reverse replication sent across sites so far, seed included.", 0),
    }),
    failback: object({
      step: string("What the failback does now, or waits for."),
      finalCycle: string("The reverse cycle of the running recovered VM before its shutdown."),
      lastCycle: string("The reverse cycle of the stopped recovered VM: the failback point."),
      shutdown: enumeration("How the recovered VM was stopped.", ["guest", "powerOff", "alreadyOff"]),
      job: string("Worker Job writing the protected-site VM."),
      restoreId: string("The restore id in the annotation of a new protected-site VM."),
      requestTime: string("When the failback was asked for.", { format: "date-time" }),
      pointID: string("Reverse point the protected-site VM was brought to."),
      vm: described("The VM at the protected site that runs the server again.", vmRef),
      baseline: changeIds,
      forwardSeedPointID: string("Point in the recovery site's vault that forward replication continues from, equal to the failback point."),
      poweredOnTime: string("When the protected-site VM was powered on.", { format: "date-time" }),
      rtoSeconds: integer("Request to powered on.", 0),
      instanceType: string("Cloud sites: the failback instance's type (the one chosen by CPU and memory, once chosen)."),
      imageId: string("Cloud sites: the image made from the failback point's system disk snapshot; deleted once the instance runs."),
      attempt: integer("Cloud sites: failback attempts so far; names what each makes.", 0),
      stopRequestTime: string("Cloud sites: when the recovered instance was asked to stop; a forced stop follows after 5 minutes; after 10, a cloud pair uses the newest reverse point and a VMwareToCloud pair waits (condition InstanceDidNotStop: its failback never goes on without the instance's last writes).", { format: "date-time" }),
      postScript: postScriptStatus,
    }),
  }),
  printerColumns: [
    { name: "Source", type: "string", jsonPath: ".spec.source.vmName" },
    { name: "Instance", type: "string", jsonPath: ".spec.source.instanceId", description: "Protected ECS instance (cloud sites)" },
    { name: "Desired", type: "string", jsonPath: ".spec.desiredState" },
    { name: "Stage", type: "string", jsonPath: ".status.stage" },
    { name: "RPO", type: "date", jsonPath: ".status.lastRecoveryPointTime", description: "Age of the newest recovery point: the data a failover now would lose (kubectl shows the time since it)" },
    { name: "Target", type: "integer", jsonPath: ".status.rpoTargetSeconds", priority: 1 },
    { name: "Policy", type: "string", jsonPath: ".spec.replicationPolicyRef.name", description: "The ReplicationPolicy the server replicates with", priority: 1 },
    { name: "Group", type: "string", jsonPath: ".spec.consistencyGroup", description: "The consistency group whose points the server shares", priority: 1 },
    { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: "Reason", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
    ageColumn,
  ],
};

