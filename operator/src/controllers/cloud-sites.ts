/**
 * The two sites of a cloud-to-cloud SitePair (CrossZone, CrossRegion; seed
 * 004), resolved for the DR steps: the regions and zones, the networks, and
 * an ECS client per region with the pair's AccessKey pair.
 */
import type { SitePair } from "../api/generated/types.js";
import { EcsDr } from "../cloud/alibaba/ecs-dr.js";
import type { Kube } from "../runtime/kube.js";
import { readSecretKeys, type Checked } from "./references.js";

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
  /** Where drill instances go, and nowhere else (spec.testNetwork). */
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
