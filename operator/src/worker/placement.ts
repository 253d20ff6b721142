/**
 * Where a restored VM goes: the datacenter, datastore, folder, resource pool,
 * host and networks named by a RestoreJob's vSphere target, resolved by name
 * in the inventory. Every miss names the field to fix.
 */
import type { CreateVmSpec, Inventory, MoRef, NewNic } from "../vsphere/index.js";
import { EXIT, WorkerError } from "./errors.js";
import type { RestoreWorkerSpec } from "./spec.js";

type VSphereTarget = Extract<RestoreWorkerSpec["target"], { vSphere: unknown }>["vSphere"];

export interface Placement {
  readonly datacenter: MoRef;
  readonly datacenterName: string;
  readonly datastoreName: string;
  readonly folder: MoRef;
  readonly resourcePool: MoRef;
  readonly host?: MoRef | undefined;
}

function fail(message: string): never {
  throw new WorkerError(EXIT.restoreTargetFailed, message);
}

const same = (a: MoRef | undefined, b: MoRef | undefined): boolean => !!a && !!b && a.type === b.type && a.value === b.value;

/** Resolves the target's names to objects. */
export function resolvePlacement(inv: Inventory, target: VSphereTarget): Placement {
  let dcs = inv.datacenters;
  if (target.datacenter) {
    dcs = dcs.filter((d) => d.name === target.datacenter || d.path === target.datacenter);
    if (dcs.length === 0) fail(`Datacenter "${target.datacenter}" (spec.target.vSphere.datacenter) does not exist; there are: ${inv.datacenters.map((d) => d.path).join(", ")}`);
  } else {
    const withDs = new Set(inv.datastores.filter((d) => d.name === target.datastore).map((d) => d.datacenter?.value));
    dcs = dcs.filter((d) => withDs.has(d.ref.value));
  }
  if (dcs.length !== 1) fail(dcs.length === 0 ? `Datastore "${target.datastore}" is in no datacenter` : `Datastore "${target.datastore}" exists in ${dcs.length} datacenters; set spec.target.vSphere.datacenter`);
  const dc = dcs[0] as Inventory["datacenters"][number];
  const inDc = <T extends { datacenter?: MoRef | undefined }>(items: readonly T[]): T[] => items.filter((i) => same(i.datacenter, dc.ref));

  const ds = inDc(inv.datastores).find((d) => d.name === target.datastore);
  if (!ds) fail(`Datastore "${target.datastore}" (spec.target.vSphere.datastore) does not exist in datacenter ${dc.path}`);

  let host: MoRef | undefined;
  let computeResource: MoRef | undefined;
  if (target.host) {
    const h = inDc(inv.hosts).find((x) => x.name === target.host);
    if (!h) fail(`Host "${target.host}" (spec.target.vSphere.host) does not exist in datacenter ${dc.path}`);
    host = h.ref;
    computeResource = h.computeResource;
  }
  if (target.cluster) {
    const c = inDc(inv.clusters).find((x) => x.name === target.cluster);
    if (!c) fail(`Cluster "${target.cluster}" (spec.target.vSphere.cluster) does not exist in datacenter ${dc.path}`);
    if (computeResource && !same(computeResource, c.ref)) fail(`Host "${target.host ?? ""}" is not in cluster "${target.cluster}"`);
    computeResource = c.ref;
  }

  let pool: MoRef | undefined;
  if (target.resourcePool) {
    const pools = inDc(inv.resourcePools).filter((p) => p.name === target.resourcePool && (!computeResource || same(p.owner, computeResource)));
    if (pools.length !== 1) {
      fail(pools.length === 0
        ? `Resource pool "${target.resourcePool}" (spec.target.vSphere.resourcePool) does not exist${computeResource ? " in the chosen cluster or host" : ""} in datacenter ${dc.path}`
        : `${pools.length} resource pools are named "${target.resourcePool}"; set spec.target.vSphere.cluster or host too`);
    }
    pool = (pools[0] as Inventory["resourcePools"][number]).ref;
  } else {
    const crs = inDc(inv.clusters);
    const cr = computeResource ? crs.find((c) => same(c.ref, computeResource)) : (crs.find((c) => c.isCluster) ?? crs[0]);
    if (!cr?.resourcePool) fail(`Found no resource pool to place the VM in datacenter ${dc.path}; set spec.target.vSphere.cluster, host or resourcePool`);
    pool = cr.resourcePool;
  }

  let folder = dc.vmFolder;
  if (target.folder) {
    const f = inDc(inv.folders).filter((x) => x.name === target.folder && x.childType.includes("VirtualMachine"));
    if (f.length !== 1) fail(f.length === 0 ? `VM folder "${target.folder}" (spec.target.vSphere.folder) does not exist in datacenter ${dc.path}` : `${f.length} VM folders are named "${target.folder}"`);
    folder = (f[0] as Inventory["folders"][number]).ref;
  }
  if (!folder) fail(`Datacenter ${dc.path} has no VM folder`);
  return { datacenter: dc.ref, datacenterName: dc.path, datastoreName: ds.name, folder, resourcePool: pool, ...(host ? { host } : {}) };
}

/**
 * The NICs of the restored VM: each source network name (label `networks`)
 * mapped through spec.networkMappings, or kept when the target has a network
 * of that name. With `requireNetworkMapping` an unmapped NIC fails instead:
 * a drill must never land on a production network of the same name.
 */
export function resolveNics(
  inv: Inventory,
  datacenter: MoRef,
  sourceNetworks: readonly string[],
  mappings: VSphereTarget["networkMappings"],
  requireNetworkMapping = false,
): NewNic[] {
  const networks = inv.networks.filter((n) => same(n.datacenter, datacenter));
  return sourceNetworks.map((source, i): NewNic => {
    const mapped = mappings.find((m) => m.source === source)?.target;
    if (mapped === undefined && requireNetworkMapping) {
      fail(`NIC ${i + 1} is on network "${source}", which spec.target.vSphere.networkMappings does not map; requireNetworkMapping forbids keeping it, so add a mapping for "${source}"`);
    }
    const name = mapped ?? source;
    const n = networks.find((x) => x.name === name);
    if (!n) {
      fail(`Network "${name}"${name !== source ? ` (mapped from "${source}")` : ""} does not exist in the target datacenter; add a networkMapping for "${source}"`);
    }
    if (n.type === "DistributedVirtualPortgroup" && n.portgroupKey && n.switchUuid) {
      return { portgroup: { ref: n.ref, portgroupKey: n.portgroupKey, switchUuid: n.switchUuid } };
    }
    return { network: { ref: n.ref, name: n.name } };
  });
}

export type { CreateVmSpec, VSphereTarget };
