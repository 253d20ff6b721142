/**
 * Where a VM's NICs go when DR brings it up at the other site, from the site
 * pair's network mappings. Every NIC must have a mapping: a drill's copy must
 * never reach the production network, and a failover onto an unintended
 * network is as dangerous, so an unmapped NIC refuses the step (fail closed)
 * with a message that names it.
 */
import type { SitePair } from "../api/generated/types.js";

/** Which side of the mappings a step uses. */
export type MappingUse = "recovery" | "test" | "back";

export interface NetworkPlan {
  /** For the restore worker: network in the point → network at the target. */
  readonly mappings: { source: string; target: string }[];
  /** NICs (1-based, in NIC order) whose network has no mapping for this use. */
  readonly unmapped: { nic: number; network: string }[];
}

/**
 * Maps the networks of a point's NICs. "recovery" and "test" map protected-
 * site networks to the recovery site (failover, drill); "back" maps
 * recovery-site networks to the protected site (failback of a reverse point).
 */
export function planNetworks(pair: SitePair, networks: readonly string[], use: MappingUse): NetworkPlan {
  const table = new Map<string, string>();
  for (const m of pair.spec.networkMappings ?? []) {
    if (use === "back") table.set(m.recovery, m.source);
    else if (use === "recovery") table.set(m.source, m.recovery);
    else if (m.test) table.set(m.source, m.test);
  }
  const mappings: { source: string; target: string }[] = [];
  const unmapped: { nic: number; network: string }[] = [];
  networks.forEach((network, i) => {
    const target = table.get(network);
    if (target === undefined) unmapped.push({ nic: i + 1, network });
    else if (!mappings.some((m) => m.source === network)) mappings.push({ source: network, target });
  });
  return { mappings, unmapped };
}

/** The message for NICs a step cannot map. */
export function unmappedMessage(pair: SitePair, unmapped: NetworkPlan["unmapped"], use: MappingUse): string {
  const nics = unmapped.map((u) => `NIC ${u.nic} (network "${u.network}")`).join(", ");
  const field = use === "test" ? "test network (spec.networkMappings[].test)" : use === "recovery" ? "recovery network (spec.networkMappings[].recovery)" : "mapping back to the protected site (a spec.networkMappings[] entry whose recovery network it is)";
  const why = use === "test" ? "the drill is refused so that the test copy can never reach a production network" : "the step is refused rather than connecting the VM to an unintended network";
  return `${nics} has no ${field} in SitePair ${pair.metadata.name ?? ""}: add one; ${why}`;
}
