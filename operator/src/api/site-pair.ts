import { ageColumn, conditionColumn, conditions, localRef, observedGeneration, reasonColumn, secretRef, type KindDefinition } from "./common.js";
import { array, boolean, enumeration, httpsEndpointRules, object, string, withRules } from "./schema.js";
import { intermediateInstanceSchema } from "./restore-job.js";

export const SITE_PAIR_TYPES = ["CrossZone", "CrossRegion", "VMwareToVMware", "VMwareToCloud"] as const;

const site = (which: string, field: string) =>
  withRules(object(
    {
      vCenterRef: localRef(`VCenter of the ${which} site`),
      region: string(`Cloud region of the ${which} site, e.g. cn-hangzhou.`, { maxLength: 64 }),
      zone: string(`Zone of the ${which} site, e.g. cn-hangzhou-h.`, { maxLength: 64 }),
      vpcId: string(`VPC of the ${which} site.`, { maxLength: 64 }),
      datacenter: string(`vSphere datacenter of the ${which} site.`, { maxLength: 80 }),
      datastore: string(`vSphere datastore for the VMs Lifeboat creates at the ${which} site (drills and failover at the recovery site, failback to a new VM at the protected site).`, { maxLength: 80 }),
      ecsEndpoint: string(`ECS endpoint URL of the ${which} site's region, e.g. https://ecs-vpc.cn-shanghai.aliyuncs.com for a VPC endpoint; default: the region's public endpoint.`, { pattern: "^https?://[^/]+/?$", maxLength: 512 }),
      vpcEndpoint: string(`VPC API endpoint URL of the ${which} site's region (vSwitches, elastic IPs), e.g. https://vpc-vpc.cn-shanghai.aliyuncs.com; default: the region's public endpoint.`, { pattern: "^https?://[^/]+/?$", maxLength: 512 }),
      useHTTPS: boolean("Cloud sites: require HTTPS to ecsEndpoint and vpcEndpoint (the AccessKey's signed requests), as when unset; set false to allow http:// ones."),
    },
    [],
    { description: `The ${which} site: a vCenter, or a cloud region and zone.` },
  ), ...httpsEndpointRules(`spec.${field}`, ["ecsEndpoint", "vpcEndpoint"]));

const cloudNetwork = (what: string) =>
  object(
    {
      vSwitchId: string("Cloud vSwitch.", { maxLength: 64 }),
      securityGroupId: string("Cloud security group.", { maxLength: 64 }),
    },
    [],
    { description: `The ${what} network of a cloud site: a vSwitch of the site's zone and a security group of the same VPC.` },
  );

/**
 * Where each network of the protected site goes at the recovery site. A
 * failover connects a NIC to its recovery network; a drill only ever to its
 * test network, and a drill whose VM has a NIC without one is refused (fail
 * closed: a test copy must never reach the production network).
 */
const networkMappings = array(
  "Networks (port group names) of the protected site and where their NICs go at the recovery site.",
  object(
    {
      source: string("Network at the protected site.", { minLength: 1, maxLength: 256 }),
      recovery: string("Network at the recovery site for failover (seed 004: recovery network).", { minLength: 1, maxLength: 256 }),
      test: string("Isolated network at the recovery site for drills; a drill is refused while a NIC's network has none.", { minLength: 1, maxLength: 256 }),
    },
    ["source", "recovery"],
  ),
  { maxItems: 64, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["source"] },
);

/**
 * SitePair: a protected site and its recovery site (seed 004 step 1; seed 003's
 * configuration/process server pairing in Kubernetes terms).
 */
export const sitePair: KindDefinition = {
  kind: "SitePair",
  plural: "sitepairs",
  singular: "sitepair",
  shortNames: ["sp"],
  description: "A protected (source) site and the recovery (target) site it replicates to.",
  spec: withRules(
    object(
      {
        type: enumeration("CrossZone or CrossRegion (cloud to cloud), VMwareToVMware, or VMwareToCloud.", SITE_PAIR_TYPES),
        source: site("protected", "source"),
        target: site("recovery", "target"),
        vaultRef: localRef("BackupVault at the recovery site that holds replicated data and recovery points"),
        gatewayRef: localRef("Gateway whose workers run at the protected site: replication cycles, and the protected-site steps of reverse replication and failback"),
        recoveryGatewayRef: localRef("Gateway whose workers run at the recovery site: drill and failover VMs, reverse replication cycles. Default: spec.gatewayRef"),
        reverseVaultRef: localRef("BackupVault at the protected site that reverse replication writes to, so a server running at the recovery site after a failover is protected against losing that site too. Default: spec.vaultRef (reverse points then stay at the recovery site)"),
        networkMappings,
        replicationNetwork: cloudNetwork("replication"),
        recoveryNetwork: cloudNetwork("recovery (CrossZone, CrossRegion: failover instances join it)"),
        testNetwork: cloudNetwork("test (CrossZone, CrossRegion: drill instances join it and no other; a drill that names no test network of its own waits while it is unset)"),
        sourceNetwork: cloudNetwork("protected site's (CrossZone, CrossRegion: a failback to a new instance joins it; default the original instance's vSwitch and security group)"),
        imageConversion: withRules(
          object(
            {
              ossBucket: string("OSS bucket in the recovery region to stage the disks' image files in (and, for reverse replication, where ExportImage writes the recovered instance's disks; ECS needs the RAM role AliyunECSImageExportDefaultRole to write there); they are deleted once used.", { minLength: 3, maxLength: 63 }),
              strategy: enumeration("ImportImage: the disks go to OSS as image files and ECS imports them (ECS checks the guest OS). IntermediateInstance: a temporary instance writes them onto new cloud disks whose snapshots make the image (any guest).", ["ImportImage", "IntermediateInstance"], "ImportImage"),
              format: enumeration("Image file format for ImportImage.", ["RAW", "VHD", "QCOW2"], "QCOW2"),
              ossEndpoint: string("OSS endpoint URL; default: the region's public endpoint.", { pattern: "^https?://[^/]+/?$", maxLength: 512 }),
              useHTTPS: boolean("Require HTTPS to ossEndpoint and intermediateInstance.ossEndpoint (the disks' data); set false to allow http:// ones.", true),
              intermediateInstance: intermediateInstanceSchema,
            },
            ["ossBucket"],
            { description: "VMwareToCloud: how a vSphere point in the vault becomes an ECS image for a drill or failover instance (the RestoreJob cloudImage conversion, run by the recovery Gateway's workers), and where reverse replication's exports go." },
          ),
          { rule: "self.strategy != 'IntermediateInstance' || has(self.intermediateInstance)", message: "spec.imageConversion.intermediateInstance is required for strategy IntermediateInstance" },
          ...httpsEndpointRules("spec.imageConversion", ["ossEndpoint", "intermediateInstance.ossEndpoint"]),
        ),
        credentialsSecretRef: secretRef("the cloud AccessKey pair for cloud sites", {
          accessKeyIdKey: { default: "accessKeyId", description: "Key of the AccessKey id." },
          accessKeySecretKey: { default: "accessKeySecret", description: "Key of the AccessKey secret." },
        }),
      },
      ["type", "source", "target"],
    ),
    { rule: "!(self.type in ['VMwareToVMware', 'VMwareToCloud']) || (has(self.vaultRef) && has(self.gatewayRef))", message: "spec.vaultRef and spec.gatewayRef are required when the protected site is vSphere (VMwareToVMware, VMwareToCloud)" },
    { rule: "!(self.type in ['VMwareToVMware', 'VMwareToCloud']) || has(self.source.vCenterRef)", message: "spec.source.vCenterRef is required when type is VMwareToVMware or VMwareToCloud" },
    { rule: "self.type != 'VMwareToVMware' || has(self.target.vCenterRef)", message: "spec.target.vCenterRef is required when type is VMwareToVMware" },
    { rule: "self.type != 'VMwareToVMware' || has(self.target.datastore)", message: "spec.target.datastore is required when type is VMwareToVMware: drill and failover VMs are created there" },
    { rule: "self.type != 'VMwareToVMware' || !has(self.source.vCenterRef) || !has(self.target.vCenterRef) || self.source.vCenterRef.name != self.target.vCenterRef.name || (has(self.source.datacenter) && has(self.target.datacenter) && self.source.datacenter != self.target.datacenter)", message: "spec.target must be another vCenter, or another datacenter of the same vCenter, than spec.source" },
    { rule: "!(self.type in ['VMwareToCloud', 'CrossZone', 'CrossRegion']) || (has(self.target.region) && has(self.target.zone))", message: "spec.target.region and spec.target.zone are required when the target is a cloud site" },
    { rule: "self.type != 'VMwareToCloud' || has(self.imageConversion)", message: "spec.imageConversion is required when type is VMwareToCloud: drills and failover convert a vault point into an ECS image" },
    { rule: "!(self.type in ['VMwareToCloud', 'CrossZone', 'CrossRegion']) || has(self.credentialsSecretRef)", message: "spec.credentialsSecretRef is required when the target is a cloud site" },
    { rule: "!(self.type in ['CrossZone', 'CrossRegion']) || (has(self.source.region) && has(self.source.zone))", message: "spec.source.region and spec.source.zone are required for CrossZone and CrossRegion" },
    { rule: "self.type != 'CrossZone' || !has(self.source.region) || !has(self.target.region) || (self.source.region == self.target.region && self.source.zone != self.target.zone)", message: "CrossZone: spec.source and spec.target must be different zones of the same region" },
    { rule: "self.type != 'CrossRegion' || !has(self.source.region) || !has(self.target.region) || self.source.region != self.target.region", message: "CrossRegion: spec.source.region and spec.target.region must differ" },
    { rule: "self.type == oldSelf.type", message: "spec.type is immutable" },
    {
      rule:
        "self.type == 'VMwareToVMware' || (" +
        ["source", "target"].flatMap((side) => ["region", "zone"].map((f) => `(has(self.${side}.${f}) ? self.${side}.${f} : '') == (has(oldSelf.${side}.${f}) ? oldSelf.${side}.${f} : '')`)).join(" && ") +
        ")",
      message: "spec.source and spec.target region and zone are immutable for cloud site pairs: what DR made is found where it was made",
    },
  ),
  status: object({
    observedGeneration,
    conditions,
    protectedServers: { type: "integer", description: "ProtectedServers using this pair.", minimum: 0 },
  }),
  printerColumns: [
    { name: "Type", type: "string", jsonPath: ".spec.type" },
    { name: "Source", type: "string", jsonPath: ".spec.source.vCenterRef.name" },
    { name: "Target", type: "string", jsonPath: ".spec.target.vCenterRef.name" },
    { name: "Source Zone", type: "string", jsonPath: ".spec.source.zone", priority: 1 },
    { name: "Target Zone", type: "string", jsonPath: ".spec.target.zone", priority: 1 },
    conditionColumn("Ready"),
    reasonColumn("Ready"),
    ageColumn,
  ],
};
