import { ageColumn, conditions, localRef, observedGeneration, secretRef, type KindDefinition } from "./common.js";
import { array, boolean, enumeration, integer, object, string, withRules } from "./schema.js";

export const RESTORE_PHASES = ["Pending", "Running", "Succeeded", "Failed"] as const;

/**
 * RestoreJob: restore a recovery point (seed 000) to vSphere (a new VM, or in
 * place over the original only with an explicit confirmation), to an Alibaba
 * ECS image (ImportImage, or IntermediateInstance: a temporary instance builds
 * the image and is released), or to a disk image file.
 */
export const restoreJob: KindDefinition = {
  kind: "RestoreJob",
  plural: "restorejobs",
  singular: "restorejob",
  shortNames: ["rj", "restore"],
  description: "Restores one recovery point to vSphere, to a cloud image or to a disk image file.",
  spec: withRules(
    object(
      {
        recoveryPointRef: localRef("RecoveryPoint to restore"),
        gatewayRef: localRef("Gateway whose workers run the restore"),
        target: withRules(
          object(
            {
              vSphere: withRules(
                object(
                  {
                    vCenterRef: localRef("VCenter to restore into (the original or another)"),
                    datacenter: string("Datacenter name.", { minLength: 1, maxLength: 80 }),
                    cluster: string("Cluster to place the VM in.", { maxLength: 80 }),
                    host: string("ESXi host to place the VM on.", { maxLength: 255 }),
                    resourcePool: string("Resource pool path or name.", { maxLength: 1024 }),
                    datastore: string("Datastore for the VM's files and disks.", { minLength: 1, maxLength: 80 }),
                    folder: string("VM folder path, e.g. /dc1/vm/restored.", { maxLength: 1024 }),
                    vmName: string("Name of the new VM.", { minLength: 1, maxLength: 80 }),
                    networkMappings: array(
                      "Map each source network to a target network; unmapped NICs keep their network name.",
                      object({ source: string("Network in the recovery point.", { minLength: 1 }), target: string("Network in the target vCenter.", { minLength: 1 }) }, ["source", "target"]),
                      { maxItems: 64 },
                    ),
                    diskProvisioning: enumeration("How new disks are provisioned.", ["Thin", "Thick", "EagerZeroedThick"], "Thin"),
                    powerOn: boolean("Power the VM on after the restore.", false),
                    inPlace: boolean("Overwrite the original VM's disks (the VM is powered off first). Needs confirmInPlace.", false),
                    confirmInPlace: boolean("Confirms that the original VM's current disks are overwritten.", false),
                  },
                  ["vCenterRef", "datastore"],
                ),
                { rule: "!self.inPlace || self.confirmInPlace", message: "spec.target.vSphere.confirmInPlace must be true to restore in place over the original VM" },
                { rule: "self.inPlace || has(self.vmName)", message: "spec.target.vSphere.vmName is required unless inPlace is true" },
                { rule: "!(self.inPlace && has(self.vmName))", message: "spec.target.vSphere.vmName must be empty when inPlace is true (the original VM keeps its name)" },
              ),
              cloudImage: withRules(
                object(
                  {
                    provider: enumeration("Cloud.", ["AlibabaECS"], "AlibabaECS"),
                    region: string("Region, e.g. cn-shanghai.", { minLength: 1, maxLength: 64 }),
                    imageName: string("Name of the image (2-128 characters, starts with a letter).", { pattern: "^[A-Za-z\\p{L}][A-Za-z0-9\\p{L}._:-]{1,127}$" }),
                    strategy: enumeration("ImportImage uploads the disks to OSS as image files and imports them. IntermediateInstance (writing them to a temporary instance's disks) is not supported yet: the RestoreJob fails with UnsupportedTarget.", ["ImportImage", "IntermediateInstance"], "ImportImage"),
                    format: enumeration("Image file format for ImportImage: QCOW2 and VHD carry only the disks' data; RAW carries every byte.", ["RAW", "VHD", "QCOW2"], "QCOW2"),
                    osType: enumeration("Guest OS family; default: from the VM's guest id.", ["linux", "windows"]),
                    platform: string("Distribution as ECS names it, e.g. Ubuntu, CentOS, Windows Server 2022; default: from the VM's guest id (Others Linux when it names none).", { maxLength: 64 }),
                    architecture: enumeration("CPU architecture; default: from the VM's guest id.", ["x86_64", "arm64"]),
                    bootMode: enumeration("Boot mode; default: from the VM's firmware (efi is UEFI).", ["BIOS", "UEFI"]),
                    ossBucket: string("OSS bucket in the image's region to stage the image files in (ImportImage); they are deleted once the image is made.", { maxLength: 63 }),
                    ecsEndpoint: string("ECS endpoint URL, e.g. https://ecs-vpc.cn-shanghai.aliyuncs.com; default: the region's public endpoint.", { pattern: "^https?://[^/]+/?$", maxLength: 512 }),
                    ossEndpoint: string("OSS endpoint URL, e.g. https://oss-cn-shanghai-internal.aliyuncs.com; default: the region's public endpoint.", { pattern: "^https?://[^/]+/?$", maxLength: 512 }),
                    vSwitchId: string("vSwitch of the temporary instance (IntermediateInstance).", { maxLength: 64 }),
                    instanceType: string("Type of the temporary instance, e.g. ecs.g7.large (IntermediateInstance).", { maxLength: 64 }),
                    credentialsSecretRef: secretRef("the AccessKey pair for ECS and OSS", {
                      accessKeyIdKey: { default: "accessKeyId", description: "Key of the AccessKey id." },
                      accessKeySecretKey: { default: "accessKeySecret", description: "Key of the AccessKey secret." },
                    }),
                  },
                  ["region", "imageName", "credentialsSecretRef"],
                ),
                { rule: "self.strategy != 'ImportImage' || has(self.ossBucket)", message: "spec.target.cloudImage.ossBucket is required for strategy ImportImage" },
                { rule: "self.strategy != 'IntermediateInstance' || has(self.vSwitchId)", message: "spec.target.cloudImage.vSwitchId is required for strategy IntermediateInstance" },
              ),
              imageFile: withRules(
                object(
                  {
                    format: enumeration(
                      "Disk image format: raw, qcow2 (v3, for KVM and OpenStack), vhd (dynamic) or vhd-fixed (Hyper-V and Azure), or vmdk (stream-optimized, for vSphere and OVF). All but raw and vhd-fixed store only the disk's data; raw files on a claim are sparse.",
                      ["raw", "qcow2", "vhd", "vhd-fixed", "vmdk"],
                      "raw",
                    ),
                    persistentVolumeClaim: localRef("PersistentVolumeClaim the restore worker mounts and writes the image files to"),
                    path: string("Directory inside persistentVolumeClaim to write one file per disk into, relative to the claim's root (default: the root).", { minLength: 1, maxLength: 4096 }),
                    s3: object(
                      {
                        endpoint: string("S3 endpoint.", { pattern: "^https?://", maxLength: 2048 }),
                        bucket: string("Bucket.", { minLength: 3, maxLength: 63 }),
                        prefix: string("Key prefix for the files.", { maxLength: 512 }),
                        region: string("Region.", { default: "us-east-1" }),
                        forcePathStyle: boolean("Path-style addressing.", true),
                        credentialsSecretRef: secretRef("the access key pair", {
                          accessKeyIdKey: { default: "accessKeyId", description: "Key of the access key id." },
                          secretAccessKeyKey: { default: "secretAccessKey", description: "Key of the secret access key." },
                        }),
                      },
                      ["bucket", "credentialsSecretRef"],
                    ),
                    diskKeys: array("Only these disks (device keys); default all.", integer("Device key."), { maxItems: 256 }),
                  },
                  [],
                ),
                { rule: "has(self.persistentVolumeClaim) != has(self.s3)", message: "spec.target.imageFile: set exactly one of persistentVolumeClaim (with an optional path inside it) or s3" },
                // A worker's own filesystem is discarded with its pod: files there would be lost.
                {
                  rule: "!has(self.path) || has(self.persistentVolumeClaim)",
                  message: "spec.target.imageFile.path is a directory inside a claim: set spec.target.imageFile.persistentVolumeClaim (a worker's own filesystem is discarded when its pod ends)",
                },
                { rule: "!has(self.path) || !self.path.startsWith('/')", message: "spec.target.imageFile.path is relative to the claim's root: remove the leading /" },
                { rule: "!has(self.path) || !self.path.matches('(^|/)[.][.](/|$)')", message: "spec.target.imageFile.path must stay inside the claim: remove the .. segments" },
              ),
            },
            [],
            { description: "Where to restore to: exactly one of vSphere, cloudImage or imageFile." },
          ),
          {
            rule: "(has(self.vSphere) ? 1 : 0) + (has(self.cloudImage) ? 1 : 0) + (has(self.imageFile) ? 1 : 0) == 1",
            message: "spec.target: set exactly one of vSphere, cloudImage or imageFile",
          },
        ),
      },
      ["recoveryPointRef", "gatewayRef", "target"],
    ),
    { rule: "self == oldSelf", message: "spec is immutable: create a new RestoreJob to restore differently" },
  ),
  status: object({
    observedGeneration,
    conditions,
    phase: enumeration("Pending, Running, Succeeded or Failed.", RESTORE_PHASES),
    startTime: string("When the restore started.", { format: "date-time" }),
    completionTime: string("When it finished.", { format: "date-time" }),
    progress: object({
      bytesDone: integer("Bytes restored.", 0),
      bytesTotal: integer("Bytes to restore.", 0),
      percent: integer("bytesDone / bytesTotal in percent.", 0, 100),
      throughputBytesPerSecond: integer("Throughput.", 0),
    }),
    result: object({
      vmMoRef: string("Managed object id of the restored VM."),
      vmName: string("Name of the restored VM."),
      imageId: string("Id of the created cloud image."),
      paths: array("Files written.", string("Path or s3:// URL.")),
    }),
  }),
  printerColumns: [
    { name: "Recovery Point", type: "string", jsonPath: ".spec.recoveryPointRef.name" },
    { name: "Phase", type: "string", jsonPath: ".status.phase" },
    { name: "Progress", type: "integer", jsonPath: ".status.progress.percent", description: "Percent done" },
    { name: "VM", type: "string", jsonPath: ".status.result.vmMoRef" },
    { name: "Image", type: "string", jsonPath: ".status.result.imageId", priority: 1 },
    ageColumn,
  ],
};
