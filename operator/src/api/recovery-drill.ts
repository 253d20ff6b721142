import { ageColumn, chosenCloudNetwork, conditionColumn, conditions, localRef, observedGeneration, postScript, postScriptStatus, reasonColumn, type KindDefinition } from "./common.js";
import { array, boolean, enumeration, integer, object, string, withRules } from "./schema.js";

export const DRILL_PHASES = ["Pending", "Creating", "Ready", "Failed", "Cleaning"] as const;

/**
 * RecoveryDrill: a test copy of a protected server at the recovery site
 * (seed 004: disaster recovery drill; seed 003: test failover), made from a
 * recovery point while replication goes on. Its NICs go only to the site
 * pair's test networks. Deleting the object cleans the drill: exactly the
 * objects it created are deleted, and the object goes away only once a
 * lookup finds none of them.
 *
 * A kind of its own rather than a desired state of the ProtectedServer: a
 * drill is a bounded thing with its own life cycle (create, verify, clean),
 * several drills of one server may coexist (seed 004's clean drill of one
 * point while another is checked), it never changes what replication does,
 * and `kubectl delete` is the natural "clear the drill environment". It is
 * owned by its ProtectedServer, so deleting the server cleans its drills.
 * A drill of a RecoveryPlan is the same object one level up, owned by the
 * plan: it makes one drill per server, in the plan's order, each owned by it
 * alone, and deleting it cleans them all.
 */
export const recoveryDrill: KindDefinition = {
  kind: "RecoveryDrill",
  plural: "recoverydrills",
  singular: "recoverydrill",
  shortNames: ["drill"],
  description: "A test copy of a protected server at the recovery site, on test networks only; deleting it cleans up exactly what it created.",
  spec: withRules(
    object(
      {
        protectedServerRef: localRef("ProtectedServer to drill (or recoveryPlanRef)"),
        recoveryPlanRef: localRef(
          "RecoveryPlan to drill instead of one server (seed 003: a test failover of a recovery plan): each of its servers gets a RecoveryDrill of its own, owned by this one, made group by group in the plan's order, each group once the one before is up; deleting this drill cleans them all. The plan's pauses and scripts are not run in a drill",
        ),
        recoveryPoint: string("Point to bring up: \"latest\" (the newest when the drill starts), \"latest-app-consistent\", or a RecoveryPoint name of this server.", { default: "latest", minLength: 1, maxLength: 253 }),
        vmName: string("Name of the test VM; default <source VM>-drill-<drill name>, so it is recognisable.", { minLength: 1, maxLength: 80 }),
        powerOn: boolean("Power the test VM on.", true),
        cpu: integer("vCPUs of the test VM; default the server's recovery settings, else the source's. Cloud sites, with memoryGiB and no instanceType: the test instance gets an instance type of exactly this size in stock in the recovery zone (seed 004: CPU and memory instead of the ECS specification).", 1, 768),
        memoryGiB: integer("Memory of the test VM in GiB; default the server's recovery settings, else the source's. Cloud sites: see cpu.", 1, 12288),
        instanceType: string("Cloud sites: ECS instance type of the test instance; default one chosen by cpu and memoryGiB, else the server's spec.recovery (its instanceType, or its cpu and memoryGiB), else the source instance's type (for a vSphere source, one chosen by the VM's vCPUs and memory).", { minLength: 1, maxLength: 64 }),
        diskCategory: enumeration("Cloud sites: category of the test instance's disks (seed 004: disk type); default the server's spec.recovery.diskCategory, else each source disk's. VMwareToCloud: the system disk's (the data disks come with the converted image).", ["cloud_essd", "cloud_ssd", "cloud_efficiency"]),
        privateIpAddress: string("Cloud sites: private IP of the test instance in the test vSwitch; default one ECS assigns.", { pattern: "^[0-9]{1,3}(\\.[0-9]{1,3}){3}$", maxLength: 15 }),
        eip: boolean("Cloud sites: allocate an elastic IP for the test instance; released when the drill is cleaned.", false),
        testNetwork: chosenCloudNetwork(
          "Cloud recovery sites: the isolated vSwitch and security group the test instance joins instead of the site pair's testNetwork (seed 004's drill panel: recovery network). Never a production recovery vSwitch (a SitePair's recoveryNetwork or a ProtectedServer's spec.recovery.network in the namespace): a drill that names one waits, with reason TestNetworkNotIsolated. A RecoveryPlan drill gives it to every server's drill, so its servers must then recover into one zone.",
        ),
        postScript: postScript(
          "Cloud recovery sites: a script Cloud Assistant runs inside the test instance once it is running (seed 004's drill panel: switch-over script), e.g. to check the application; the drill is Ready once it succeeds, and Failed (the instance kept for a look until the drill is deleted) when it does not. The server's spec.recovery.postScript is not run in a drill: it may act on production.",
        ),
      },
    ),
    { rule: "self == oldSelf", message: "spec is immutable: delete the drill and create another" },
    { rule: "has(self.protectedServerRef) != has(self.recoveryPlanRef)", message: "spec: set exactly one of protectedServerRef (drill one server) and recoveryPlanRef (drill every server of a RecoveryPlan)" },
    {
      rule: "!has(self.recoveryPlanRef) || self.recoveryPoint in ['latest', 'latest-app-consistent']",
      message: "spec.recoveryPoint: a RecoveryPlan drill takes \"latest\" or \"latest-app-consistent\" (a RecoveryPoint name is one server's)",
    },
    {
      rule: "!has(self.recoveryPlanRef) || !(has(self.vmName) || has(self.cpu) || has(self.memoryGiB) || has(self.instanceType) || has(self.privateIpAddress) || has(self.postScript))",
      message: "spec.vmName, cpu, memoryGiB, instanceType, privateIpAddress and postScript describe one server's test VM: a RecoveryPlan drill gives each server its own recovery settings",
    },
  ),
  status: object({
    observedGeneration,
    conditions,
    phase: enumeration("Where the drill is.", DRILL_PHASES),
    recoveryPoint: string("RecoveryPoint the test VM was made from."),
    pointID: string("Vault point id it was made from."),
    pointTime: string("Time of that point.", { format: "date-time" }),
    groupTick: string("The server's spec.consistencyGroup: the group's tick the point was taken at (the drills of one plan drill take the same one)."),
    vCenter: string("VCenter of the recovery site the test VM is in (cleaning needs it even when the server is gone)."),
    job: string("Worker Job that brings the test VM up."),
    vmName: string("Name of the test VM."),
    vmMoRef: string("The test VM."),
    instanceId: string("Cloud sites: the test ECS instance."),
    instanceType: string("Cloud sites: the test instance's type (the one chosen by CPU and memory, once chosen)."),
    region: string("Cloud sites: the region the drill's resources are in (cleaning needs it even when the server is gone)."),
    sitePair: string("Cloud sites: the SitePair whose credentials cleaning uses."),
    heldSecrets: array(
      "Secrets cleaning logs in with (the VCenter's, or the SitePair's), each held with the finalizer lifeboat.io/drill-<id> from before the drill makes anything until it is cleaned, so deleting everything at once (a namespace, a GitOps prune) cannot leave the drill unable to reach the site. A Secret the VCenter or SitePair stops using is let go once the new one is held.",
      string("Secret name."),
      { maxItems: 8, "x-kubernetes-list-type": "set" },
    ),
    privateIpAddress: string("Cloud sites: the test instance's private IP."),
    eipAddress: string("Cloud sites: its elastic IP, when asked for."),
    networks: array(
      "Where each NIC of the test VM went.",
      object({ source: string("Network of the protected VM's NIC."), test: string("Test network it is connected to.") }),
      { maxItems: 64 },
    ),
    createdObjects: array(
      "Every object the drill created at the recovery site; cleaning deletes exactly these.",
      object({ kind: string("vSphere type, e.g. VirtualMachine; or the ECS resource type: Instance, Image, EipAddress."), moRef: string("Managed object id (vSphere)."), id: string("Resource id (ECS)."), name: string("Name.") }),
      { maxItems: 64 },
    ),
    startTime: string("When the drill started.", { format: "date-time" }),
    currentGroup: string("RecoveryPlan drills: the group being brought up."),
    servers: array(
      "RecoveryPlan drills: the drill of each server, in the plan's order, fixed when the drill starts.",
      object({
        group: string("The plan's group."),
        protectedServer: string("The server."),
        drill: string("Its RecoveryDrill, owned by this one."),
        phase: enumeration("Where that drill is.", DRILL_PHASES),
        vmName: string("Its test VM, or instance id at a cloud site."),
      }),
      { maxItems: 2000 },
    ),
    postScript: postScriptStatus,
    readyTime: string("When the test VM was up (and its postScript had succeeded).", { format: "date-time" }),
  }),
  printerColumns: [
    { name: "Server", type: "string", jsonPath: ".spec.protectedServerRef.name" },
    { name: "Plan", type: "string", jsonPath: ".spec.recoveryPlanRef.name" },
    { name: "Phase", type: "string", jsonPath: ".status.phase" },
    { name: "Point", type: "string", jsonPath: ".status.pointTime" },
    { name: "VM", type: "string", jsonPath: ".status.vmName" },
    conditionColumn("Ready"),
    reasonColumn("Ready"),
    ageColumn,
  ],
};
