/**
 * The two sites of a cloud-to-cloud SitePair (CrossZone, CrossRegion; seed
 * 004), resolved for the DR steps: the regions and zones, the networks, and
 * an ECS client per region with the pair's AccessKey pair.
 */
import type { ProtectedServer, RecoveryDrill, SitePair } from "../api/generated/types.js";
import { EcsDr } from "../cloud/alibaba/ecs-dr.js";
import { problemCondition, readSecretKeys, type Checked, type Problem } from "./references.js";
import type { Condition, ConditionInput } from "../runtime/conditions.js";
import { describe } from "../runtime/errors.js";
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

/** A site as a network check needs it: where the vSwitch must be, and which side of the pair's spec says so. */
export interface NetworkSite extends CloudSite {
  /** The pair's spec.<side>.vpcId, when it names one. */
  readonly vpcId?: string | undefined;
  readonly side: "source" | "target";
  /** Set when the network is a server's or a drill's, so that messages name the pair whose zone it must be in. */
  readonly pairName?: string | undefined;
}

/** One side of a pair as a network check needs it. */
export function networkSite(pair: SitePair, side: "source" | "target", named = false): NetworkSite {
  const s = pair.spec[side];
  return { region: s.region ?? "", zone: s.zone ?? "", vpcId: s.vpcId, side, pairName: named ? pair.metadata.name : undefined };
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

/** True for the pair types whose failback makes an ECS instance, and so read spec.failback.network. */
function failsBackToCloud(pair: SitePair): boolean {
  return isCloudPair(pair);
}

/**
 * The network a server's recovered instance joins: its own
 * (spec.recovery.network), else its pair's recoveryNetwork. Its own is
 * checked with the ECS API when `verify` (before anything is made), and is
 * never the pair's test vSwitch: drills would then share the production
 * network.
 */
export async function recoveryNetworkOf(ps: ProtectedServer, pair: SitePair, sites: Pick<CloudSites, "ecs" | "recoveryNetwork">, verify = true): Promise<Checked<CloudNetwork>> {
  const own = ps.spec.recovery?.network;
  if (!own) {
    return sites.recoveryNetwork
      ? { ok: true, value: sites.recoveryNetwork }
      : { ok: false, problem: { reason: "NoRecoveryNetwork", message: `SitePair ${pair.metadata.name ?? ""} has no spec.recoveryNetwork (vSwitchId and securityGroupId) and the server no spec.recovery.network: the recovered instance needs one` } };
  }
  if (own.vSwitchId === pair.spec.testNetwork?.vSwitchId) {
    return { ok: false, problem: { reason: "TestNetworkNotIsolated", message: `spec.recovery.network.vSwitchId: ${own.vSwitchId} is SitePair ${pair.metadata.name ?? ""}'s test vSwitch (spec.testNetwork): drill instances join it, so a recovered instance must not` } };
  }
  const problem = verify ? await checkCloudNetwork(sites.ecs, networkSite(pair, "target", true), "spec.recovery.network", own) : undefined;
  return problem ? { ok: false, problem } : { ok: true, value: own };
}

/**
 * The network a failback instance of a cloud pair joins, when one is named:
 * the server's own (spec.failback.network, checked when `verify`), else the
 * pair's sourceNetwork; undefined when neither is (the caller falls back to
 * the original instance's).
 */
export async function failbackNetworkOf(ps: ProtectedServer, pair: SitePair, sites: Pick<CloudSites, "ecs" | "sourceNetwork">, verify = true): Promise<Checked<CloudNetwork | undefined>> {
  const own = ps.spec.failback?.network;
  if (!own) return { ok: true, value: sites.sourceNetwork };
  const problem = verify ? await checkCloudNetwork(sites.ecs, networkSite(pair, "source", true), "spec.failback.network", own) : undefined;
  return problem ? { ok: false, problem } : { ok: true, value: own };
}

/** The first problem with the networks a server chose over its pair's (spec.recovery.network; spec.failback.network for a cloud pair). */
export async function checkServerNetworks(ps: ProtectedServer, pair: SitePair, ecs: EcsDr): Promise<Problem | undefined> {
  if (ps.spec.recovery?.network) {
    const recovery = await recoveryNetworkOf(ps, pair, { ecs });
    if (!recovery.ok) return recovery.problem;
  }
  if (ps.spec.failback?.network && failsBackToCloud(pair)) {
    const failback = await failbackNetworkOf(ps, pair, { ecs });
    if (!failback.ok) return failback.problem;
  }
  return undefined;
}

/** The condition that says what the ECS API says of a server's own networks. */
export const RECOVERY_NETWORKS_CONDITION = "RecoveryNetworksValid";

/**
 * Reports checkServerNetworks as the condition RecoveryNetworksValid, so a
 * wrong vSwitch shows while the server replicates, not in the disaster. It
 * is present only when the server chooses a network of its own; a spec
 * found valid is not asked about again until it changes (a failover checks
 * its network again before it makes anything), one found wrong at every
 * pass, so a vSwitch made afterwards is seen.
 */
export async function reportServerNetworks(ps: ProtectedServer, pair: SitePair, ecsOf: () => Promise<Checked<EcsDr>>, set: (condition: ConditionInput) => void): Promise<void> {
  const conditions: Condition[] | undefined = ps.status?.conditions;
  const own = ps.spec.recovery?.network ?? (failsBackToCloud(pair) ? ps.spec.failback?.network : undefined);
  if (!own) {
    if (ps.status && conditions?.some((c) => c.type === RECOVERY_NETWORKS_CONDITION)) ps.status.conditions = conditions.filter((c) => c.type !== RECOVERY_NETWORKS_CONDITION);
    return;
  }
  const last = conditions?.find((c) => c.type === RECOVERY_NETWORKS_CONDITION);
  if (last?.status === "True" && last.observedGeneration === ps.metadata.generation) return;
  let problem: Problem | undefined;
  try {
    const ecs = await ecsOf();
    if (!ecs.ok) {
      set({ type: RECOVERY_NETWORKS_CONDITION, status: "Unknown", reason: ecs.problem.reason, message: `cannot ask the ECS API about the server's networks: ${ecs.problem.message}` });
      return;
    }
    problem = await checkServerNetworks(ps, pair, ecs.value);
  } catch (err) {
    // Replication does not wait for this check: the ECS API is asked again at the next pass.
    set({ type: RECOVERY_NETWORKS_CONDITION, status: "Unknown", reason: "CloudUnreachable", message: `could not check the server's networks through the ECS API: ${describe(err)}` });
    return;
  }
  set(problem ? problemCondition(RECOVERY_NETWORKS_CONDITION, problem) : { type: RECOVERY_NETWORKS_CONDITION, status: "True", reason: "Checked", message: "each network the server names is in its site's zone, with its security group in the vSwitch's VPC" });
}

/**
 * The test network a drill's instance joins: the drill's own, else the
 * pair's; a problem when there is none (fail closed) or when it is a
 * recovery vSwitch (the pair's, or the server's own), or, for the drill's
 * own, what the ECS API says of it (when `verify`: before anything is made).
 */
export async function drillNetwork(drill: RecoveryDrill, ps: ProtectedServer, pair: SitePair, sites: CloudSites, verify: boolean): Promise<Checked<CloudNetwork>> {
  const own = drill.spec.testNetwork;
  const network = own ?? sites.testNetwork;
  if (!network) return { ok: false, problem: { reason: "NoTestNetwork", message: `SitePair ${pair.metadata.name ?? ""} has no spec.testNetwork and the drill no spec.testNetwork: a drill instance joins a test vSwitch and no other, so the drill waits for one` } };
  const field = own ? "spec.testNetwork.vSwitchId" : `SitePair ${pair.metadata.name ?? ""} spec.testNetwork.vSwitchId`;
  const recovery = [
    [pair.spec.recoveryNetwork?.vSwitchId, `SitePair ${pair.metadata.name ?? ""}'s recovery vSwitch`],
    [ps.spec.recovery?.network?.vSwitchId, `ProtectedServer ${ps.metadata.name ?? ""}'s recovery vSwitch (its spec.recovery.network)`],
  ].find(([id]) => id === network.vSwitchId);
  if (recovery) return { ok: false, problem: { reason: "TestNetworkNotIsolated", message: `${field}: ${network.vSwitchId} is ${recovery[1]}: a drill instance must never join the production recovery network` } };
  if (own && verify) {
    const problem = await checkCloudNetwork(sites.ecs, networkSite(pair, "target", true), "spec.testNetwork", own);
    if (problem) return { ok: false, problem };
  }
  return { ok: true, value: network };
}
