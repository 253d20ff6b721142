import type { MoRef, VsphereClient } from "../../operator/src/vsphere/index.js";

/** Where the suites create VMs in vcsim's inventory, and the two kinds of network a NIC can join. */
export interface VcsimPlacement {
  /** The first datacenter's VM folder. */
  readonly folder: MoRef;
  /** The cluster's root resource pool. */
  readonly resourcePool: MoRef;
  readonly datastoreName: string;
  /** A standard port group. */
  readonly network: { readonly ref: MoRef; readonly name: string };
  /** A distributed port group. */
  readonly portgroup: { readonly ref: MoRef; readonly portgroupKey: string; readonly switchUuid: string };
}

/** Reads the placement from the inventory; throws when vcsim's inventory lacks a part. */
export async function vcsimPlacement(client: VsphereClient): Promise<VcsimPlacement> {
  const inv = await client.inventory();
  const dc = inv.datacenters[0];
  const cluster = inv.clusters.find((c) => c.isCluster);
  const ds = inv.datastores[0];
  const pg = inv.networks.find((n) => n.type === "DistributedVirtualPortgroup" && n.portgroupKey && n.switchUuid);
  const net = inv.networks.find((n) => n.type === "Network");
  if (!dc?.vmFolder || !cluster?.resourcePool || !ds || !pg?.portgroupKey || !pg.switchUuid || !net) throw new Error("inventory incomplete");
  return {
    folder: dc.vmFolder,
    resourcePool: cluster.resourcePool,
    datastoreName: ds.name,
    network: { ref: net.ref, name: net.name },
    portgroup: { ref: pg.ref, portgroupKey: pg.portgroupKey, switchUuid: pg.switchUuid },
  };
}
