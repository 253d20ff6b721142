import type { SitePair, VCenter } from "../api/generated/types.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import { reportIgnoredFields } from "../runtime/conditions.js";
import { describe } from "../runtime/errors.js";
import type { WithKind } from "../runtime/kube.js";
import type { Inventory } from "../vsphere/index.js";
import { vsphereClient } from "./dr-vsphere.js";
import { holdWhileInUse, IN_USE_FINALIZER } from "./in-use-protection.js";
import { firstProblem, problemCondition, resolveRef, type Checked, type Problem } from "./references.js";
import type { EcsDr } from "../cloud/alibaba/ecs-dr.js";
import { checkCloudNetwork, cloudSites, isCloudPair, networkSite, sitesOf } from "./cloud-sites.js";
import type { VCenterConnections } from "./vcenter-connections.js";

/** How long a checked inventory stays good: names at a site rarely change, and reading an inventory is not free. */
const INVENTORY_CHECK_MS = 2 * 60_000;

/**
 * Checks a SitePair (seed 004 step 1): both sites' vaults Ready, Gateways
 * Activated and vCenters Connected, and that the names it gives exist where
 * it says: each site's datacenter and datastore, and every network of its
 * network mappings (source networks at the protected site, recovery and test
 * networks at the recovery site). A mistyped test network would otherwise
 * only show when a drill is refused. Cloud site pairs are not supported yet,
 * and say so instead of pretending to be Ready.
 */
export class SitePairReconciler implements Reconciler<SitePair> {
  readonly kind = "SitePair";
  readonly readyCondition = "Ready";
  readonly finalizer = IN_USE_FINALIZER;
  private readonly checked = new Map<string, { at: number; problem: Problem | undefined }>();

  constructor(private readonly connections: VCenterConnections) {}

  async reconcile(pair: SitePair, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = pair.metadata.namespace ?? "";
    const s = pair.spec;
    // Counted in the cache: this runs every INVENTORY_CHECK_MS, and listing every server of the namespace each time moves them all.
    const users = ctx.listCached("ProtectedServer", ns).filter((p) => (p.spec as { sitePairRef: { name: string } }).sitePairRef.name === pair.metadata.name);
    (pair.status ??= {}).protectedServers = users.length;
    if (isCloudPair(pair)) return this.reconcileCloud(pair, ctx);
    if (s.type === "VMwareToCloud") return this.reconcileToCloud(pair, ctx);
    const source = await resolveRef<WithKind<VCenter>>(ctx.cache, "VCenter", ns, "spec.source.vCenterRef", s.source.vCenterRef?.name ?? "", "Connected");
    const target = await resolveRef<WithKind<VCenter>>(ctx.cache, "VCenter", ns, "spec.target.vCenterRef", s.target.vCenterRef?.name ?? "", "Connected");
    const checks: Checked<unknown>[] = [
      await resolveRef(ctx.cache, "BackupVault", ns, "spec.vaultRef", s.vaultRef?.name ?? "", "Ready"),
      ...(s.reverseVaultRef ? [await resolveRef(ctx.cache, "BackupVault", ns, "spec.reverseVaultRef", s.reverseVaultRef.name, "Ready")] : []),
      await resolveRef(ctx.cache, "Gateway", ns, "spec.gatewayRef", s.gatewayRef?.name ?? "", "Activated"),
      ...(s.recoveryGatewayRef ? [await resolveRef(ctx.cache, "Gateway", ns, "spec.recoveryGatewayRef", s.recoveryGatewayRef.name, "Activated")] : []),
      source,
      target,
    ];
    const problem = firstProblem(checks);
    if (problem || !source.ok || !target.ok) {
      ctx.setCondition(pair, problemCondition("Ready", problem ?? { reason: "NotReady", message: "the sites are not usable" }));
      return undefined;
    }
    const names = await this.checkNames(pair, source.value, target.value, ctx);
    if (names) {
      ctx.setCondition(pair, problemCondition("Ready", names));
      return { requeueAfterMs: INVENTORY_CHECK_MS };
    }
    const mapped = (s.networkMappings ?? []).length;
    ctx.setCondition(pair, {
      type: "Ready",
      status: "True",
      reason: "SitesConnected",
      message: `vaults Ready, Gateways Activated, both vCenters Connected; ${mapped} network mapping(s) checked at both sites${s.reverseVaultRef ? "" : "; reverse replication keeps its points in the recovery site's vault (set spec.reverseVaultRef for one at the protected site)"}`,
    });
    return { requeueAfterMs: INVENTORY_CHECK_MS };
  }

  /**
   * A cloud pair (CrossZone, CrossRegion) is Ready when its AccessKey pair
   * answers in both regions, both zones exist, and its networks are where
   * they must be: the recovery and test vSwitches in the recovery zone, the
   * source vSwitch in the protected zone, each security group in its
   * vSwitch's VPC (and the site's vpcId when given), and the test vSwitch
   * not the recovery one (a drill must never reach production).
   */
  private async reconcileCloud(pair: SitePair, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const s = pair.spec;
    const sites = await cloudSites(ctx.kube, pair);
    if (!sites.ok) {
      ctx.setCondition(pair, problemCondition("Ready", sites.problem));
      return undefined;
    }
    const key = `${pair.metadata.uid ?? ""}/${pair.metadata.generation ?? 0}`;
    const cached = this.checked.get(key);
    let problem = cached && Date.now() - cached.at < INVENTORY_CHECK_MS ? cached.problem : undefined;
    if (!cached || Date.now() - cached.at >= INVENTORY_CHECK_MS) {
      try {
        problem = await checkCloudSites(pair, sites.value.ecs);
      } catch (err) {
        problem = { reason: "CloudUnreachable", message: `could not check the sites through the ECS API: ${describe(err)}` };
      }
      for (const k of this.checked.keys()) if (k.startsWith(`${pair.metadata.uid ?? ""}/`)) this.checked.delete(k);
      this.checked.set(key, { at: Date.now(), problem });
    }
    const ignored = [
      ...(s.replicationNetwork ? ["spec.replicationNetwork (ECS snapshots and CopySnapshot use no vSwitch of yours)"] : []),
      ...(["vaultRef", "reverseVaultRef", "gatewayRef", "recoveryGatewayRef"] as const).filter((f) => s[f]).map((f) => `spec.${f} (no vault or worker takes part: ECS replicates)`),
      ...(s.networkMappings?.length ? ["spec.networkMappings (instances join spec.recoveryNetwork or spec.testNetwork)"] : []),
    ];
    reportIgnoredFields(pair, ignored, "NotUsedByCloudSnapshots", (c) => { ctx.setCondition(pair, c); });
    ctx.setCondition(pair, problem
      ? problemCondition("Ready", problem)
      : { type: "Ready", status: "True", reason: "SitesChecked", message: `${s.type}: ${s.source.region ?? ""}/${s.source.zone ?? ""} to ${s.target.region ?? ""}/${s.target.zone ?? ""}; zones, vSwitches and security groups checked${s.testNetwork ? "" : "; drills wait for a spec.testNetwork of their own or of this pair"}` });
    return { requeueAfterMs: INVENTORY_CHECK_MS };
  }

  /**
   * A VMwareToCloud pair is Ready when its vault is Ready, its Gateways
   * Activated, the protected vCenter Connected with the datacenter and
   * datastore it names, and the cloud side checks as a cloud pair's
   * recovery side does (credentials, zone, recovery and test networks).
   */
  private async reconcileToCloud(pair: SitePair, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = pair.metadata.namespace ?? "";
    const s = pair.spec;
    const source = await resolveRef<WithKind<VCenter>>(ctx.cache, "VCenter", ns, "spec.source.vCenterRef", s.source.vCenterRef?.name ?? "", "Connected");
    const checks: Checked<unknown>[] = [
      await resolveRef(ctx.cache, "BackupVault", ns, "spec.vaultRef", s.vaultRef?.name ?? "", "Ready"),
      await resolveRef(ctx.cache, "Gateway", ns, "spec.gatewayRef", s.gatewayRef?.name ?? "", "Activated"),
      ...(s.recoveryGatewayRef ? [await resolveRef(ctx.cache, "Gateway", ns, "spec.recoveryGatewayRef", s.recoveryGatewayRef.name, "Activated")] : []),
      ...(s.reverseVaultRef ? [await resolveRef(ctx.cache, "BackupVault", ns, "spec.reverseVaultRef", s.reverseVaultRef.name, "Ready")] : []),
      source,
    ];
    const sites = await cloudSites(ctx.kube, pair);
    const problem = firstProblem(checks) ?? (sites.ok ? undefined : sites.problem);
    if (problem || !source.ok || !sites.ok) {
      ctx.setCondition(pair, problemCondition("Ready", problem ?? { reason: "NotReady", message: "the sites are not usable" }));
      return undefined;
    }
    const key = `${pair.metadata.uid ?? ""}/${pair.metadata.generation ?? 0}/${source.value.metadata.resourceVersion ?? ""}`;
    const cached = this.checked.get(key);
    let found = cached && Date.now() - cached.at < INVENTORY_CHECK_MS ? cached.problem : undefined;
    if (!cached || Date.now() - cached.at >= INVENTORY_CHECK_MS) {
      try {
        const inventory = await (await vsphereClient(ctx.kube, this.connections, source.value)).inventory();
        found = siteNames({ ...pair, spec: { ...pair.spec, networkMappings: [] } }, "source", inventory) ?? (await checkCloudSites(pair, sites.value.ecs, ["target"]));
      } catch (err) {
        found = { reason: "SitesUnreachable", message: `could not check the sites: ${describe(err)}` };
      }
      for (const k of this.checked.keys()) if (k.startsWith(`${pair.metadata.uid ?? ""}/`)) this.checked.delete(k);
      this.checked.set(key, { at: Date.now(), problem: found });
    }
    const ignored = [...(s.networkMappings?.length ? ["spec.networkMappings (the instance joins spec.recoveryNetwork or spec.testNetwork)"] : []), ...(s.replicationNetwork ? ["spec.replicationNetwork"] : [])];
    reportIgnoredFields(pair, ignored, "NotUsedByVMwareToCloud", (c) => { ctx.setCondition(pair, c); });
    ctx.setCondition(pair, found
      ? problemCondition("Ready", found)
      : { type: "Ready", status: "True", reason: "SitesChecked", message: `vault Ready, Gateways Activated, vCenter Connected; ${s.target.region ?? ""}/${s.target.zone ?? ""} and its networks checked${s.testNetwork ? "" : "; drills wait for a spec.testNetwork of their own or of this pair"}${s.reverseVaultRef ? "" : "; reverse replication keeps its points in the recovery site's vault (set spec.reverseVaultRef for one at the protected site)"}` });
    return { requeueAfterMs: INVENTORY_CHECK_MS };
  }

  /** The first name the spec gives that does not exist at its site (checked at most every two minutes per spec generation). */
  private async checkNames(pair: SitePair, source: WithKind<VCenter>, target: WithKind<VCenter>, ctx: ReconcileContext): Promise<Problem | undefined> {
    const key = `${pair.metadata.uid ?? ""}/${pair.metadata.generation ?? 0}/${source.metadata.resourceVersion ?? ""}/${target.metadata.resourceVersion ?? ""}`;
    const cached = this.checked.get(key);
    if (cached && Date.now() - cached.at < INVENTORY_CHECK_MS) return cached.problem;
    let problem: Problem | undefined;
    try {
      const [src, tgt] = await Promise.all([source, target].map(async (vc) => (await vsphereClient(ctx.kube, this.connections, vc)).inventory()));
      problem = siteNames(pair, "source", src as Inventory) ?? siteNames(pair, "target", tgt as Inventory);
    } catch (err) {
      problem = { reason: "InventoryUnavailable", message: `could not read the sites' inventories to check the names: ${describe(err)}` };
    }
    for (const k of this.checked.keys()) if (k.startsWith(`${pair.metadata.uid ?? ""}/`)) this.checked.delete(k);
    this.checked.set(key, { at: Date.now(), problem });
    return problem;
  }

  /**
   * Held while a drill that made cloud resources through this pair still
   * cleans up (deleting the drills, their server and the pair together must
   * not leave the drill without credentials: cleanupReferences), and while
   * anything uses it.
   */
  finalize(pair: SitePair, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    return holdWhileInUse(pair, ctx, "Ready");
  }
}

/** The first problem with a cloud pair's zones and networks, as the ECS API answers. */
export async function checkCloudSites(pair: SitePair, ecs: EcsDr, sides: readonly ("source" | "target")[] = ["source", "target"]): Promise<Problem | undefined> {
  const s = pair.spec;
  const sites = sitesOf(pair);
  for (const side of sides) {
    const site = side === "source" ? sites.protectedSite : sites.recoverySite;
    const zones = await ecs.zones(site.region);
    if (!zones.includes(site.zone)) return { reason: "ZoneNotFound", message: `spec.${side}.zone: zone "${site.zone}" is not in region ${site.region}; there are: ${zones.join(", ")}` };
  }
  if (!s.recoveryNetwork?.vSwitchId || !s.recoveryNetwork.securityGroupId) return { reason: "NoRecoveryNetwork", message: "spec.recoveryNetwork.vSwitchId and securityGroupId are required: a failover starts the recovered instance there" };
  if (s.testNetwork?.vSwitchId && s.testNetwork.vSwitchId === s.recoveryNetwork.vSwitchId) {
    return { reason: "TestNetworkNotIsolated", message: "spec.testNetwork.vSwitchId must differ from spec.recoveryNetwork.vSwitchId: a drill instance must never join the production recovery network" };
  }
  const networks: [string, { vSwitchId?: string | undefined; securityGroupId?: string | undefined } | undefined, "source" | "target"][] = [
    ["recoveryNetwork", s.recoveryNetwork, "target"],
    ["testNetwork", s.testNetwork, "target"],
    ["sourceNetwork", s.sourceNetwork, "source"],
  ];
  for (const [field, net, side] of networks) {
    if (!net || !sides.includes(side)) continue;
    const problem = await checkCloudNetwork(ecs, networkSite(pair, side), `spec.${field}`, net);
    if (problem) return problem;
  }
  return undefined;
}

/** The first name of one site that its inventory lacks. */
export function siteNames(pair: SitePair, side: "source" | "target", inv: Inventory): Problem | undefined {
  const site = pair.spec[side];
  const where = side === "source" ? "the protected site" : "the recovery site";
  const dc = site.datacenter ? inv.datacenters.find((d) => d.name === site.datacenter || d.path === site.datacenter) : undefined;
  if (site.datacenter && !dc) return { reason: "DatacenterNotFound", message: `spec.${side}.datacenter: datacenter "${site.datacenter}" does not exist at ${where}; there are: ${inv.datacenters.map((d) => d.path).join(", ")}` };
  const inDc = <T extends { datacenter?: { value: string } | undefined }>(items: readonly T[]): T[] => (dc ? items.filter((i) => i.datacenter?.value === dc.ref.value) : [...items]);
  if (site.datastore && !inDc(inv.datastores).some((d) => d.name === site.datastore)) {
    return { reason: "DatastoreNotFound", message: `spec.${side}.datastore: datastore "${site.datastore}" does not exist at ${where}${dc ? ` in datacenter ${dc.path}` : ""}` };
  }
  const networks = new Set(inDc(inv.networks).map((n) => n.name));
  for (const [i, m] of (pair.spec.networkMappings ?? []).entries()) {
    const wanted: [string, string | undefined][] = side === "source" ? [["source", m.source]] : [["recovery", m.recovery], ["test", m.test]];
    for (const [field, name] of wanted) {
      if (name !== undefined && !networks.has(name)) {
        return { reason: "NetworkNotFound", message: `spec.networkMappings[${i}].${field}: network "${name}" does not exist at ${where}${dc ? ` in datacenter ${dc.path}` : ""}; there are: ${[...networks].sort().join(", ")}` };
      }
    }
  }
  return undefined;
}
