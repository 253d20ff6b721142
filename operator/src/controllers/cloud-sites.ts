/**
 * The two sites of a cloud-to-cloud SitePair (CrossZone, CrossRegion; seed
 * 004), resolved for the DR steps: the regions and zones, the networks, and
 * an ECS client per region with the pair's AccessKey pair; and the check of
 * one network against the ECS API, which the pair's networks and those a
 * server or drill names (server-networks.ts) share.
 */
import type { SitePair } from "../api/generated/types.js";
import { EcsDr } from "../cloud/alibaba/ecs-dr.js";
import { readSecretKeys, type Checked, type Problem } from "./references.js";
import type { Kube } from "../runtime/kube.js";

export const CLOUD_PAIR_TYPES = ["CrossZone", "CrossRegion"] as const;

/** True for a pair whose both sites are ECS: replication through the cloud's own snapshots. */
export function isCloudPair(pair: SitePair): boolean {
  return (CLOUD_PAIR_TYPES as readonly string[]).includes(pair.spec.type);
}

export interface CloudNetwork {
  readonly vSwitchId: string;
  readonly securityGroupId: string;
}

export interface CloudSite {
  readonly region: string;
  readonly zone: string;
}

export interface CloudSites {
  readonly protectedSite: CloudSite;
  readonly recoverySite: CloudSite;
  readonly ecs: EcsDr;
  /** The pair's AccessKey pair (for OSS, which EcsDr does not call). */
  readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string };
  /** Where failover instances go (spec.recoveryNetwork). */
  readonly recoveryNetwork?: CloudNetwork | undefined;
  /** Where drill instances go unless a drill names its own test network (spec.testNetwork). */
  readonly testNetwork?: CloudNetwork | undefined;
  /** Where a failback instance goes (spec.sourceNetwork; default the original instance's network). */
  readonly sourceNetwork?: CloudNetwork | undefined;
}

function network(n: { vSwitchId?: string | undefined; securityGroupId?: string | undefined } | undefined): CloudNetwork | undefined {
  return n?.vSwitchId && n.securityGroupId ? { vSwitchId: n.vSwitchId, securityGroupId: n.securityGroupId } : undefined;
}

/** The regions and zones a cloud pair's spec names. */
export function sitesOf(pair: SitePair): { protectedSite: CloudSite; recoverySite: CloudSite } {
  const s = pair.spec;
  return { protectedSite: { region: s.source.region ?? "", zone: s.source.zone ?? "" }, recoverySite: { region: s.target.region ?? "", zone: s.target.zone ?? "" } };
}

/** The pair's sites and an ECS client; a problem when its credentials Secret is missing or incomplete. */
export async function cloudSites(kube: Kube, pair: SitePair): Promise<Checked<CloudSites>> {
  const s = pair.spec;
  const ns = pair.metadata.namespace ?? "";
  if (!s.credentialsSecretRef) return { ok: false, problem: { reason: "NoCredentials", message: "spec.credentialsSecretRef is required for a cloud site pair" } };
  const keys = await readSecretKeys(kube, ns, "SitePair spec.credentialsSecretRef", s.credentialsSecretRef, { accessKeyIdKey: "accessKeyId", accessKeySecretKey: "accessKeySecret" });
  if (!keys.ok) return keys;
  const { protectedSite, recoverySite } = sitesOf(pair);
  const credentials = { accessKeyId: keys.value.accessKeyIdKey?.toString("utf8") ?? "", accessKeySecret: keys.value.accessKeySecretKey?.toString("utf8") ?? "" };
  const ecs = new EcsDr(
    credentials,
    {
      [protectedSite.region]: { ecs: s.source.ecsEndpoint, vpc: s.source.vpcEndpoint },
      [recoverySite.region]: recoverySite.region === protectedSite.region
        ? { ecs: s.target.ecsEndpoint ?? s.source.ecsEndpoint, vpc: s.target.vpcEndpoint ?? s.source.vpcEndpoint }
        : { ecs: s.target.ecsEndpoint, vpc: s.target.vpcEndpoint },
    },
  );
  return { ok: true, value: { protectedSite, recoverySite, ecs, credentials, recoveryNetwork: network(s.recoveryNetwork), testNetwork: network(s.testNetwork), sourceNetwork: network(s.sourceNetwork) } };
}

/** The value of the server tag on everything a server's DR makes in the cloud. */
export function serverTagValue(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** A site as a network check needs it: where the vSwitch must be, and which side of the pair's spec says so. */
export interface NetworkSite extends CloudSite {
  /** The pair's spec.<side>.vpcId, when it names one. */
  readonly vpcId?: string | undefined;
  readonly side: "source" | "target";
  /** Set when the network is a server's or a drill's, so that messages name the pair whose zone it must be in. */
  readonly pairName?: string | undefined;
}

/**
 * One side of a pair as a network check needs it. `pairName` is given for a
 * network a server or a drill names, whose messages then say which pair's
 * zone it must be in.
 */
export function networkSite(pair: SitePair, side: "source" | "target", pairName?: string): NetworkSite {
  const s = pair.spec[side];
  return { region: s.region ?? "", zone: s.zone ?? "", vpcId: s.vpcId, side, pairName };
}

/**
 * The first problem with one network, as the ECS API answers: its vSwitch
 * must exist in the site's zone (and the pair's VPC, when it names one), its
 * security group in the vSwitch's VPC. `field` is the spec field that names
 * the network, for the message.
 */
export async function checkCloudNetwork(ecs: EcsDr, site: NetworkSite, field: string, net: { vSwitchId?: string | undefined; securityGroupId?: string | undefined }): Promise<Problem | undefined> {
  if (!net.vSwitchId || !net.securityGroupId) return { reason: "IncompleteNetwork", message: `${field}: set both vSwitchId and securityGroupId` };
  const pairField = (f: string) => `${site.pairName ? `SitePair ${site.pairName} ` : ""}spec.${site.side}.${f}`;
  const vsw = await ecs.vSwitch(site.region, net.vSwitchId);
  if (!vsw) return { reason: "VSwitchNotFound", message: `${field}.vSwitchId: vSwitch ${net.vSwitchId} does not exist in ${site.region}` };
  if (vsw.zoneId !== site.zone) return { reason: "VSwitchInOtherZone", message: `${field}.vSwitchId: vSwitch ${net.vSwitchId} is in zone ${vsw.zoneId}, not ${pairField("zone")} ${site.zone}` };
  if (site.vpcId && vsw.vpcId !== site.vpcId) return { reason: "VSwitchInOtherVpc", message: `${field}.vSwitchId: vSwitch ${net.vSwitchId} is in VPC ${vsw.vpcId}, not ${pairField("vpcId")} ${site.vpcId}` };
  const sg = await ecs.securityGroup(site.region, net.securityGroupId);
  if (!sg) return { reason: "SecurityGroupNotFound", message: `${field}.securityGroupId: security group ${net.securityGroupId} does not exist in ${site.region}` };
  if (sg.vpcId !== vsw.vpcId) return { reason: "SecurityGroupInOtherVpc", message: `${field}.securityGroupId: security group ${net.securityGroupId} is in VPC ${sg.vpcId}, but vSwitch ${net.vSwitchId} is in VPC ${vsw.vpcId}` };
  return undefined;
}
