import { ageColumn, conditions, localRef, observedGeneration, secretRef, type KindDefinition } from "./common.js";
import { array, boolean, enumeration, httpsEndpointRules, integer, object, string, withRules } from "./schema.js";

export const RESTORE_PHASES = ["Pending", "Running", "Succeeded", "Failed"] as const;

/** The temporary instance of strategy IntermediateInstance (RestoreJob cloudImage targets, and the SitePair image conversion of VMwareToCloud). */
export const intermediateInstanceSchema = object(
  {
    imageId: string("Image the temporary instance boots; it must run guestCommand (the default needs Docker: e.g. an Alibaba Cloud Linux 3 image with Docker installed).", { minLength: 1, maxLength: 128 }),
    instanceType: string("Type of the temporary instance, e.g. ecs.g7.large.", { minLength: 1, maxLength: 64 }),
    vSwitchId: string("vSwitch of the temporary instance (it must reach the OSS endpoint, see ossEndpoint).", { minLength: 1, maxLength: 64 }),
    securityGroupId: string("Security group of the temporary instance; it needs outbound HTTPS to OSS only.", { minLength: 1, maxLength: 64 }),
    zoneId: string("Zone of the temporary instance and its disks; default: the vSwitch's.", { maxLength: 64 }),
    diskCategory: enumeration("Category of the temporary cloud disks (the image's snapshots are taken from them).", ["cloud_essd", "cloud_ssd", "cloud_efficiency", "cloud_auto"], "cloud_essd"),
    guestCommand: string(
      "Shell command in the instance that runs Lifeboat's guest program with its spec on standard input; default: the worker image through docker run (privileged, for the block devices).",
      { minLength: 1, maxLength: 1024 },
    ),
    timeoutMinutes: integer("How long the instance may take to write the disks before the restore fails.", 5, 1440, { default: 240 }),
    ossEndpoint: string("OSS endpoint the instance downloads the staged disks from; default: the region's internal endpoint (https://oss-REGION-internal.aliyuncs.com), which an instance in the region reaches without a public address.", { pattern: "^https?://[^/]+/?$", maxLength: 512 }),
  },
  ["imageId", "instanceType", "vSwitchId", "securityGroupId"],
  { description: "The temporary instance of strategy IntermediateInstance: it is tagged lifeboat.io/restore and deleted with its disks when the restore ends." },
);

/**
 * RestoreJob: restore a recovery point (seed 000) to vSphere (a new VM, or in
 * place over the original only with an explicit confirmation), to an Alibaba
 * ECS image (ImportImage, or IntermediateInstance: a temporary instance writes
 * the disks, whose snapshots become the image, and is deleted), or to a disk image file.
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
                    strategy: enumeration("ImportImage uploads the disks to OSS as image files and has ECS import them (ECS checks the guest OS). IntermediateInstance has a temporary instance write them onto new cloud disks, snapshots those and makes the image from the snapshots (any guest; see intermediateInstance).", ["ImportImage", "IntermediateInstance"], "ImportImage"),
                    format: enumeration("Image file format for ImportImage: QCOW2 and VHD carry only the disks' data; RAW carries every byte. (IntermediateInstance always stages stream-optimized VMDK, which its guest reads.)", ["RAW", "VHD", "QCOW2"], "QCOW2"),
                    osType: enumeration("Guest OS family; default: from the VM's guest id.", ["linux", "windows"]),
                    platform: string("Distribution as ECS names it, e.g. Ubuntu, CentOS, Windows Server 2022; default: from the VM's guest id (Others Linux when it names none).", { maxLength: 64 }),
                    architecture: enumeration("CPU architecture; default: from the VM's guest id.", ["x86_64", "arm64"]),
                    bootMode: enumeration("Boot mode; default: from the VM's firmware (efi is UEFI).", ["BIOS", "UEFI"]),
                    ossBucket: string("OSS bucket in the image's region to stage the disks' image files in (both strategies); they are deleted once the image is made.", { minLength: 3, maxLength: 63 }),
                    ecsEndpoint: string("ECS endpoint URL, e.g. https://ecs-vpc.cn-shanghai.aliyuncs.com; default: the region's public endpoint.", { pattern: "^https?://[^/]+/?$", maxLength: 512 }),
                    ossEndpoint: string("OSS endpoint URL, e.g. https://oss-cn-shanghai-internal.aliyuncs.com; default: the region's public endpoint.", { pattern: "^https?://[^/]+/?$", maxLength: 512 }),
                    useHTTPS: boolean("Require HTTPS to ecsEndpoint, ossEndpoint and intermediateInstance.ossEndpoint (the AccessKey's requests and the disks' data); set false to allow http:// ones.", true),
                    intermediateInstance: intermediateInstanceSchema,
                    credentialsSecretRef: secretRef("the AccessKey pair for ECS and OSS", {
                      accessKeyIdKey: { default: "accessKeyId", description: "Key of the AccessKey id." },
                      accessKeySecretKey: { default: "accessKeySecret", description: "Key of the AccessKey secret." },
                    }),
                  },
                  ["region", "imageName", "ossBucket", "credentialsSecretRef"],
                ),
                { rule: "self.strategy != 'IntermediateInstance' || has(self.intermediateInstance)", message: "spec.target.cloudImage.intermediateInstance is required for strategy IntermediateInstance (the temporary instance's image, type, vSwitch and security group)" },
                { rule: "self.strategy == 'IntermediateInstance' || !has(self.intermediateInstance)", message: "spec.target.cloudImage.intermediateInstance is only for strategy IntermediateInstance: remove it or set the strategy" },
                ...httpsEndpointRules("spec.target.cloudImage", ["ecsEndpoint", "ossEndpoint", "intermediateInstance.ossEndpoint"]),
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
                        useHTTPS: boolean("Require HTTPS to the endpoint, as a BackupVault does; set false to allow an http:// endpoint.", true),
                        credentialsSecretRef: secretRef("the access key pair", {
                          accessKeyIdKey: { default: "accessKeyId", description: "Key of the access key id." },
                          secretAccessKeyKey: { default: "secretAccessKey", description: "Key of the secret access key." },
                        }),
                        caSecretRef: secretRef("a CA bundle to trust for the endpoint instead of the system CAs", { key: { default: "ca.crt", description: "Key of the PEM bundle." } }),
                      },
                      ["bucket", "credentialsSecretRef"],
                    ),
                    diskKeys: array("Only these disks (device keys); default all.", integer("Device key."), { maxItems: 256 }),
                  },
                  [],
                ),
                { rule: "has(self.persistentVolumeClaim) != has(self.s3)", message: "spec.target.imageFile: set exactly one of persistentVolumeClaim (with an optional path inside it) or s3" },
                {
                  rule: "!has(self.s3) || !self.s3.useHTTPS || !has(self.s3.endpoint) || self.s3.endpoint.startsWith('https://')",
                  message: "spec.target.imageFile.s3.endpoint must start with https:// while useHTTPS is true; set useHTTPS: false to allow http://",
                },
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
      done: string("bytesDone for people, e.g. \"4.2 GiB\" (binary units, rounded; programs read bytesDone)."),
      bytesTotal: integer("Bytes to restore.", 0),
      total: string("bytesTotal for people, e.g. \"40 GiB\"."),
      percent: integer("bytesDone / bytesTotal in percent.", 0, 100),
      throughputBytesPerSecond: integer("Throughput.", 0),
      throughput: string("throughputBytesPerSecond for people, e.g. \"120 MiB/s\"."),
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
    { name: "Done", type: "string", jsonPath: ".status.progress.done", description: "Bytes restored", priority: 1 },
    { name: "Total", type: "string", jsonPath: ".status.progress.total", description: "Bytes to restore", priority: 1 },
    { name: "Rate", type: "string", jsonPath: ".status.progress.throughput", description: "Throughput", priority: 1 },
    { name: "VM", type: "string", jsonPath: ".status.result.vmMoRef" },
    { name: "Image", type: "string", jsonPath: ".status.result.imageId", priority: 1 },
    ageColumn,
  ],
};
