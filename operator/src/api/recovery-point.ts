import { ageColumn, conditionColumn, conditions, localRef, observedGeneration, type KindDefinition } from "./common.js";
import { array, enumeration, integer, object, string, withRules } from "./schema.js";

/** What names one of the VM's disks in a point, whether the point holds its data or not. */
function vmDiskFields() {
  return {
    key: integer("Device key of the disk."),
    label: string("Device label, e.g. Hard disk 1.", { maxLength: 128 }),
    capacityBytes: integer("Disk capacity.", 0),
    fileName: string("Backing file at backup time, e.g. [ds1] web/web.vmdk.", { maxLength: 1024 }),
  };
}

/**
 * RecoveryPoint: one restorable point of one VM. The vault is the source of
 * truth (like Velero's backup sync): these objects are written by the
 * controller from the vault's manifests, so a deleted one comes back and a
 * fresh cluster pointed at the same vault sees every point.
 */
export const recoveryPoint: KindDefinition = {
  kind: "RecoveryPoint",
  plural: "recoverypoints",
  singular: "recoverypoint",
  shortNames: ["rp"],
  description: "One restorable point of one VM, synced from a BackupVault.",
  spec: withRules(
    object(
      {
        vaultRef: localRef("BackupVault holding the point (vSphere points)"),
        cloudSnapshots: object(
          {
            provider: enumeration("Cloud whose snapshots the point is.", ["AlibabaECS"], "AlibabaECS"),
            region: string("Region the snapshots are in.", { minLength: 1, maxLength: 64 }),
            instanceId: string("The ECS instance the snapshots were taken of.", { maxLength: 64 }),
            snapshots: array(
              "One snapshot per disk of the instance; the system disk's device is /dev/xvda.",
              object(
                {
                  device: string("Device of the disk on the instance, e.g. /dev/xvda.", { minLength: 1, maxLength: 64 }),
                  snapshotId: string("ECS snapshot id.", { minLength: 1, maxLength: 64 }),
                  sourceDiskId: string("The disk the snapshot was taken of.", { maxLength: 64 }),
                  sizeGiB: integer("Size of that disk.", 0),
                  category: string("Category of that disk, e.g. cloud_essd.", { maxLength: 64 }),
                },
                ["device", "snapshotId"],
              ),
              { minItems: 1, maxItems: 17 },
            ),
          },
          ["region", "snapshots"],
          { description: "A point of a cloud-to-cloud replication (CrossZone, CrossRegion): the ECS snapshots of the instance's disks, taken at one moment. The cloud is the source of truth; the ProtectedServer keeps these objects in step with it." },
        ),
        pointID: string("Id of the point's manifest in the vault.", { minLength: 1, maxLength: 128 }),
        planRef: localRef("BackupPlan that made the point"),
        protectedServerRef: localRef("ProtectedServer whose replication made the point"),
        replicationDirection: enumeration("For a replication point: Forward (protected to recovery site) or Reverse (back, after a failover).", ["Forward", "Reverse"]),
        vm: object(
          {
            name: string("VM name at backup time (or the ECS instance name, up to 128 characters).", { minLength: 1, maxLength: 128 }),
            instanceUUID: string("The VM's instance UUID.", { maxLength: 64 }),
            moRef: string("The VM's managed object id, e.g. vm-42.", { maxLength: 64 }),
            vCenterInstanceUUID: string("Instance UUID of the vCenter it was in.", { maxLength: 64 }),
            guestOS: string("Guest OS identifier.", { maxLength: 128 }),
            numCPUs: integer("vCPUs.", 0),
            memoryMiB: integer("Memory in MiB.", 0),
          },
          ["name"],
        ),
        time: string("When the snapshot was taken.", { format: "date-time" }),
        consistency: enumeration("Crash: as after power loss. Application: guest quiesced through VMware Tools.", ["Crash", "Application"]),
        disks: array(
          "The VM's disks in the point.",
          object(
            {
              ...vmDiskFields(),
              controllerKey: integer("Controller device key."),
              unitNumber: integer("Unit number on the controller."),
            },
            ["key", "capacityBytes"],
          ),
          { maxItems: 256 },
        ),
        excludedDisks: array(
          "Disks of the VM that the point holds no data of: a VM snapshot does not capture independent disks or physical-mode RDMs, so backups and replication leave them out. A VM restored or failed over from the point has no such disk.",
          object(
            {
              ...vmDiskFields(),
              reason: enumeration("IndependentDisk (disk mode independent_persistent or independent_nonpersistent) or PhysicalModeRDM (a raw device mapping in physical compatibility mode).", ["IndependentDisk", "PhysicalModeRDM"]),
            },
            ["key", "reason"],
          ),
          { maxItems: 256 },
        ),
        networks: array("Networks of the VM's NICs, for restore network mapping.", string("Network name.", { maxLength: 256 }), { maxItems: 64 }),
        parentPointID: string("Point this one was made incrementally from.", { maxLength: 128 }),
        retainUntil: string("The vault's lock keeps the point until this time.", { format: "date-time" }),
      },
      ["pointID", "vm", "time", "consistency"],
    ),
    { rule: "has(self.vaultRef) != has(self.cloudSnapshots)", message: "spec: set exactly one of vaultRef (a point in a vault) or cloudSnapshots (a point of ECS snapshots)" },
    { rule: "self.pointID == oldSelf.pointID && has(self.vaultRef) == has(oldSelf.vaultRef) && (!has(self.vaultRef) || self.vaultRef == oldSelf.vaultRef)", message: "spec.pointID and spec.vaultRef are immutable: a RecoveryPoint mirrors one point in one vault" },
    { rule: "has(self.cloudSnapshots) == has(oldSelf.cloudSnapshots) && (!has(self.cloudSnapshots) || self.cloudSnapshots == oldSelf.cloudSnapshots)", message: "spec.cloudSnapshots is immutable: a RecoveryPoint mirrors one set of snapshots" },
  ),
  status: object({
    observedGeneration,
    conditions,
    sizeBytes: integer("Logical size of all disks: what a restore writes, zeros included.", 0),
    size: string("sizeBytes for people, e.g. \"40 GiB\" (binary units, rounded; programs read sizeBytes)."),
    newBytes: integer("Bytes this point added to the vault: its new blocks, compressed and encrypted.", 0),
    new: string("newBytes for people, e.g. \"120 MiB\"."),
    readBytes: integer("Bytes the backup read from the VM's disks (changed or allocated areas only).", 0),
  }),
  printerColumns: [
    { name: "VM", type: "string", jsonPath: ".spec.vm.name" },
    { name: "Time", type: "date", jsonPath: ".spec.time" },
    { name: "Consistency", type: "string", jsonPath: ".spec.consistency" },
    { name: "Size", type: "string", jsonPath: ".status.size", description: "Size of all disks" },
    { name: "New", type: "string", jsonPath: ".status.new", description: "Bytes the point added to the vault", priority: 1 },
    { name: "Locked Until", type: "string", jsonPath: ".spec.retainUntil" },
    conditionColumn("Available"),
    { name: "Size Bytes", type: "integer", jsonPath: ".status.sizeBytes", format: "int64", priority: 1 },
    ageColumn,
  ],
};
