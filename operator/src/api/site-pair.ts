import { ageColumn, conditionColumn, conditions, localRef, observedGeneration, reasonColumn, secretRef, type KindDefinition } from "./common.js";
import { enumeration, object, string, withRules } from "./schema.js";

export const SITE_PAIR_TYPES = ["CrossZone", "CrossRegion", "VMwareToVMware", "VMwareToCloud"] as const;

const site = (which: string) =>
  object(
    {
      vCenterRef: localRef(`VCenter of the ${which} site`),
      region: string(`Cloud region of the ${which} site, e.g. cn-hangzhou.`, { maxLength: 64 }),
      zone: string(`Zone of the ${which} site, e.g. cn-hangzhou-h.`, { maxLength: 64 }),
      vpcId: string(`VPC of the ${which} site.`, { maxLength: 64 }),
      datacenter: string(`vSphere datacenter of the ${which} site.`, { maxLength: 80 }),
      datastore: string(`vSphere datastore replicas are written to at the ${which} site.`, { maxLength: 80 }),
    },
    [],
    { description: `The ${which} site: a vCenter, or a cloud region and zone.` },
  );

const network = (what: string) =>
  object(
    {
      vSwitchId: string("Cloud vSwitch.", { maxLength: 64 }),
      securityGroupId: string("Cloud security group.", { maxLength: 64 }),
      vSphereNetwork: string("vSphere network (port group) name.", { maxLength: 256 }),
    },
    [],
    { description: `The ${what} network. By default the first usable vSwitch of the target VPC (seed 004).` },
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
        source: site("protected"),
        target: site("recovery"),
        vaultRef: localRef("BackupVault at the recovery site that holds replicated data and recovery points"),
        gatewayRef: localRef("Gateway whose workers replicate from the source site"),
        replicationNetwork: network("replication"),
        recoveryNetwork: network("recovery"),
        credentialsSecretRef: secretRef("the cloud AccessKey pair for cloud sites", {
          accessKeyIdKey: { default: "accessKeyId", description: "Key of the AccessKey id." },
          accessKeySecretKey: { default: "accessKeySecret", description: "Key of the AccessKey secret." },
        }),
      },
      ["type", "source", "target", "vaultRef", "gatewayRef"],
    ),
    { rule: "!(self.type in ['VMwareToVMware', 'VMwareToCloud']) || has(self.source.vCenterRef)", message: "spec.source.vCenterRef is required when type is VMwareToVMware or VMwareToCloud" },
    { rule: "self.type != 'VMwareToVMware' || has(self.target.vCenterRef)", message: "spec.target.vCenterRef is required when type is VMwareToVMware" },
    { rule: "self.type != 'VMwareToVMware' || !has(self.source.vCenterRef) || !has(self.target.vCenterRef) || self.source.vCenterRef.name != self.target.vCenterRef.name || (has(self.source.datacenter) && has(self.target.datacenter) && self.source.datacenter != self.target.datacenter)", message: "spec.target must be another vCenter, or another datacenter of the same vCenter, than spec.source" },
    { rule: "!(self.type in ['VMwareToCloud', 'CrossZone', 'CrossRegion']) || (has(self.target.region) && has(self.target.zone))", message: "spec.target.region and spec.target.zone are required when the target is a cloud site" },
    { rule: "!(self.type in ['VMwareToCloud', 'CrossZone', 'CrossRegion']) || has(self.credentialsSecretRef)", message: "spec.credentialsSecretRef is required when the target is a cloud site" },
    { rule: "!(self.type in ['CrossZone', 'CrossRegion']) || (has(self.source.region) && has(self.source.zone))", message: "spec.source.region and spec.source.zone are required for CrossZone and CrossRegion" },
    { rule: "self.type != 'CrossZone' || !has(self.source.region) || !has(self.target.region) || (self.source.region == self.target.region && self.source.zone != self.target.zone)", message: "CrossZone: spec.source and spec.target must be different zones of the same region" },
    { rule: "self.type != 'CrossRegion' || !has(self.source.region) || !has(self.target.region) || self.source.region != self.target.region", message: "CrossRegion: spec.source.region and spec.target.region must differ" },
    { rule: "self.type == oldSelf.type", message: "spec.type is immutable" },
  ),
  status: object({
    observedGeneration,
    conditions,
    protectedServers: { type: "integer", description: "ProtectedServers using this pair.", minimum: 0 },
  }),
  printerColumns: [
    { name: "Type", type: "string", jsonPath: ".spec.type" },
    { name: "Source", type: "string", jsonPath: ".spec.source.vCenterRef.name" },
    { name: "Target", type: "string", jsonPath: ".spec.target.zone" },
    conditionColumn("Ready"),
    reasonColumn("Ready"),
    ageColumn,
  ],
};
