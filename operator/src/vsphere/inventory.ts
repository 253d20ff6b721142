import { decodeHardware, type VmController, type VmDisk, type VmNic } from "./devices.js";
import { VsphereError } from "./errors.js";
import {
  PropertyWatch,
  retrieve,
  viewObjectSpec,
  withContainerView,
  createContainerView,
  destroyView,
  type FilterSpec,
  type ObjectContent,
  type ObjectUpdate,
  type PropertySpec,
} from "./property-collector.js";
import type { AboutInfo, Session } from "./session.js";
import { children, el, moRefEl, moRefOf, moRefs, textOf, type MoRef } from "./xml.js";

/**
 * The vSphere inventory as a reconciler and a restore need it, read in one
 * property-collector pass over a ContainerView of the whole tree.
 */

export interface Datacenter {
  readonly ref: MoRef;
  readonly name: string;
  /** Inventory path below the root folder (folders and name), e.g. "DC0" or "Europe/DC1"; datastore URLs take it as dcPath. */
  readonly path: string;
  readonly vmFolder?: MoRef;
  readonly hostFolder?: MoRef;
  readonly datastoreFolder?: MoRef;
  readonly networkFolder?: MoRef;
}

export interface Cluster {
  readonly ref: MoRef;
  readonly name: string;
  /** false for the ComputeResource that wraps a standalone host. */
  readonly isCluster: boolean;
  readonly datacenter?: MoRef;
  readonly hosts: MoRef[];
  readonly resourcePool?: MoRef;
}

export interface Host {
  readonly ref: MoRef;
  readonly name: string;
  readonly datacenter?: MoRef;
  /** The ClusterComputeResource, or the ComputeResource of a standalone host. */
  readonly computeResource?: MoRef;
  readonly connectionState?: string;
  readonly powerState?: string;
  readonly inMaintenanceMode?: boolean;
}

export interface Datastore {
  readonly ref: MoRef;
  readonly name: string;
  readonly datacenter?: MoRef;
  /** The datacenter's inventory path, for datastore file URLs (dcPath). */
  readonly datacenterPath?: string;
  readonly type?: string;
  readonly capacityBytes?: number;
  readonly freeBytes?: number;
  readonly url?: string;
  readonly accessible?: boolean;
}

export interface Network {
  readonly ref: MoRef;
  readonly name: string;
  /** Network, DistributedVirtualPortgroup or OpaqueNetwork */
  readonly type: string;
  readonly datacenter?: MoRef;
  /** Distributed port groups: their key and their switch's UUID (what a NIC backing needs). */
  readonly portgroupKey?: string;
  readonly switchUuid?: string;
}

export interface Folder {
  readonly ref: MoRef;
  readonly name: string;
  readonly parent?: MoRef;
  /** What the folder may hold, e.g. ["Folder", "VirtualMachine", "VirtualApp"]. */
  readonly childType: string[];
  readonly datacenter?: MoRef;
}

export interface ResourcePool {
  readonly ref: MoRef;
  readonly name: string;
  readonly parent?: MoRef;
  /** The cluster or compute resource it belongs to. */
  readonly owner?: MoRef;
  readonly datacenter?: MoRef;
}

export interface VirtualMachine {
  readonly ref: MoRef;
  readonly name: string;
  readonly datacenter?: MoRef;
  readonly folder?: MoRef;
  readonly resourcePool?: MoRef;
  readonly host?: MoRef;
  /** poweredOn, poweredOff, suspended */
  readonly powerState: string;
  /** vCenter's stable identity of the VM (config.instanceUuid). */
  readonly instanceUuid?: string;
  /** BIOS UUID (config.uuid). */
  readonly biosUuid?: string;
  /** The VM's notes (config.annotation); disaster recovery marks the VMs it creates with it. */
  readonly annotation?: string;
  readonly changeTrackingEnabled: boolean;
  readonly template: boolean;
  readonly guestId?: string;
  readonly numCpu?: number;
  readonly memoryMB?: number;
  readonly firmware?: string;
  readonly disks: VmDisk[];
  readonly controllers: VmController[];
  readonly nics: VmNic[];
  readonly datastores: MoRef[];
  readonly networks: MoRef[];
}

export interface Inventory {
  readonly datacenters: Datacenter[];
  readonly clusters: Cluster[];
  readonly hosts: Host[];
  readonly datastores: Datastore[];
  readonly networks: Network[];
  readonly folders: Folder[];
  readonly resourcePools: ResourcePool[];
  readonly vms: VirtualMachine[];
}

export interface InventorySummary {
  readonly version: string;
  readonly build: string;
  readonly apiVersion: string;
  readonly fullName: string;
  readonly instanceUuid: string;
  readonly datacenters: number;
  /** Real clusters (not the compute resources of standalone hosts). */
  readonly clusters: number;
  readonly hosts: number;
  readonly datastores: number;
  readonly networks: number;
  readonly resourcePools: number;
  readonly vms: number;
}

export const VM_PROPERTIES = [
  "name",
  "parent",
  "resourcePool",
  "runtime.host",
  "runtime.powerState",
  "config.instanceUuid",
  "config.uuid",
  "config.annotation",
  "config.changeTrackingEnabled",
  "config.template",
  "config.guestId",
  "config.firmware",
  "config.hardware.numCPU",
  "config.hardware.memoryMB",
  "config.hardware.device",
  "datastore",
  "network",
] as const;

const inventoryPropSet: PropertySpec[] = [
  { type: "Datacenter", pathSet: ["name", "parent", "vmFolder", "hostFolder", "datastoreFolder", "networkFolder"] },
  { type: "Folder", pathSet: ["name", "parent", "childType"] },
  { type: "ClusterComputeResource", pathSet: ["name", "parent", "host", "resourcePool"] },
  { type: "ComputeResource", pathSet: ["name", "parent", "host", "resourcePool"] },
  { type: "HostSystem", pathSet: ["name", "parent", "runtime.connectionState", "runtime.powerState", "runtime.inMaintenanceMode"] },
  { type: "Datastore", pathSet: ["name", "parent", "summary.type", "summary.capacity", "summary.freeSpace", "summary.url", "summary.accessible"] },
  { type: "Network", pathSet: ["name", "parent"] },
  { type: "OpaqueNetwork", pathSet: ["name", "parent"] },
  { type: "DistributedVirtualPortgroup", pathSet: ["name", "parent", "key", "config.distributedVirtualSwitch"] },
  // Real vCenter names its switches VmwareDistributedVirtualSwitch; vcsim uses the base type.
  { type: "VmwareDistributedVirtualSwitch", pathSet: ["uuid"] },
  { type: "DistributedVirtualSwitch", pathSet: ["uuid"] },
  { type: "ResourcePool", pathSet: ["name", "parent", "owner"] },
  { type: "VirtualMachine", pathSet: [...VM_PROPERTIES] },
];

export const INVENTORY_TYPES: readonly string[] = inventoryPropSet.map((p) => p.type);

function propText(o: ObjectContent, name: string): string | undefined {
  return textOf(o.props.get(name));
}

function propRef(o: ObjectContent, name: string): MoRef | undefined {
  return moRefOf(o.props.get(name));
}

function propNum(o: ObjectContent, name: string): number | undefined {
  const t = propText(o, name);
  return t === undefined || t === "" ? undefined : Number(t);
}

function propBool(o: ObjectContent, name: string): boolean | undefined {
  const t = propText(o, name);
  return t === undefined || t === "" ? undefined : t === "true";
}

/** Values of an ArrayOfManagedObjectReference property. */
function propRefs(o: ObjectContent, name: string): MoRef[] {
  return moRefs(o.props.get(name), "ManagedObjectReference");
}

function propStrings(o: ObjectContent, name: string): string[] {
  return children(o.props.get(name), "string").map((s) => textOf(s) ?? "");
}

/** Decodes one VirtualMachine's properties (see VM_PROPERTIES). */
export function decodeVm(o: ObjectContent, datacenter?: MoRef): VirtualMachine {
  const hw = decodeHardware(o.props.get("config.hardware.device"));
  return {
    ref: o.obj,
    name: propText(o, "name") ?? o.obj.value,
    datacenter,
    folder: propRef(o, "parent"),
    resourcePool: propRef(o, "resourcePool"),
    host: propRef(o, "runtime.host"),
    powerState: propText(o, "runtime.powerState") ?? "unknown",
    instanceUuid: propText(o, "config.instanceUuid"),
    biosUuid: propText(o, "config.uuid"),
    annotation: propText(o, "config.annotation"),
    changeTrackingEnabled: propBool(o, "config.changeTrackingEnabled") ?? false,
    template: propBool(o, "config.template") ?? false,
    guestId: propText(o, "config.guestId"),
    numCpu: propNum(o, "config.hardware.numCPU"),
    memoryMB: propNum(o, "config.hardware.memoryMB"),
    firmware: propText(o, "config.firmware"),
    disks: hw.disks,
    controllers: hw.controllers,
    nics: hw.nics,
    datastores: propRefs(o, "datastore"),
    networks: propRefs(o, "network"),
  };
}

/**
 * The VMs whose instance UUID (config.instanceUuid) is `instanceUuid`
 * (SearchIndex.FindAllByUuid). A VM that is removed from the inventory and
 * registered again gets a new MoRef but keeps its instance UUID; disaster
 * recovery finds the VMs it knows this way. Empty when there is none.
 */
export async function findVmsByInstanceUuid(session: Session, instanceUuid: string): Promise<VirtualMachine[]> {
  const searchIndex = session.serviceContent.searchIndex;
  if (!searchIndex) throw new VsphereError(`vCenter ${session.transport.endpoint.host} has no SearchIndex to find VMs by instance UUID`);
  const res = await session.call(
    "FindAllByUuid",
    moRefEl("_this", searchIndex) + el("uuid", instanceUuid) + el("vmSearch", true) + el("instanceUuid", true),
  );
  const refs = moRefs(res, "returnval");
  if (refs.length === 0) return [];
  const objects = await retrieve(session, { propSet: [{ type: "VirtualMachine", pathSet: VM_PROPERTIES }], objectSet: refs.map((obj) => ({ obj })) });
  return objects.map((o) => decodeVm(o));
}

/** Builds the typed inventory from the raw objects of one retrieval. Exported for unit tests. */
export function buildInventory(objects: readonly ObjectContent[], rootFolder: MoRef): Inventory {
  // Dedupe: a server that matches subtypes may return an object under two types.
  const byKey = new Map<string, ObjectContent>();
  for (const o of objects) {
    const key = `${o.obj.type}:${o.obj.value}`;
    const prev = byKey.get(key);
    byKey.set(key, prev ? { obj: o.obj, props: new Map([...prev.props, ...o.props]), missing: [...prev.missing, ...o.missing] } : o);
  }
  const all = [...byKey.values()];
  const parents = new Map<string, { parent?: MoRef; name: string; type: string }>();
  for (const o of all) {
    const parent = propRef(o, "parent");
    parents.set(`${o.obj.type}:${o.obj.value}`, { ...(parent ? { parent } : {}), name: propText(o, "name") ?? "", type: o.obj.type });
  }
  const datacenterOf = (ref: MoRef | undefined): MoRef | undefined => {
    let cur = ref;
    for (let i = 0; cur && i < 64; i++) {
      if (cur.type === "Datacenter") return cur;
      cur = parents.get(`${cur.type}:${cur.value}`)?.parent;
    }
    return undefined;
  };
  const pathOf = (dc: MoRef): string => {
    const names: string[] = [];
    let cur: MoRef | undefined = dc;
    for (let i = 0; cur && i < 64 && !(cur.type === rootFolder.type && cur.value === rootFolder.value); i++) {
      const p = parents.get(`${cur.type}:${cur.value}`);
      if (!p) break;
      names.unshift(p.name);
      cur = p.parent;
    }
    return names.join("/");
  };
  const dcField = (ref: MoRef) => {
    const dc = datacenterOf(ref);
    return dc ? { datacenter: dc } : {};
  };
  const of = (type: string) => all.filter((o) => o.obj.type === type);
  const switchUuids = new Map(
    [...of("VmwareDistributedVirtualSwitch"), ...of("DistributedVirtualSwitch")].map((o) => [o.obj.value, propText(o, "uuid")]),
  );

  const datacenters = of("Datacenter").map((o): Datacenter => {
    const f = (n: string) => {
      const r = propRef(o, n);
      return r ? { [n]: r } : {};
    };
    return { ref: o.obj, name: propText(o, "name") ?? "", path: pathOf(o.obj), ...f("vmFolder"), ...f("hostFolder"), ...f("datastoreFolder"), ...f("networkFolder") };
  });
  const dcPaths = new Map(datacenters.map((d) => [d.ref.value, d.path]));

  const clusters = [...of("ClusterComputeResource"), ...of("ComputeResource")].map((o): Cluster => {
    const rp = propRef(o, "resourcePool");
    return { ref: o.obj, name: propText(o, "name") ?? "", isCluster: o.obj.type === "ClusterComputeResource", ...dcField(o.obj), hosts: propRefs(o, "host"), ...(rp ? { resourcePool: rp } : {}) };
  });

  const hosts = of("HostSystem").map((o): Host => {
    const parent = propRef(o, "parent");
    const cs = propText(o, "runtime.connectionState");
    const ps = propText(o, "runtime.powerState");
    const mm = propBool(o, "runtime.inMaintenanceMode");
    return {
      ref: o.obj,
      name: propText(o, "name") ?? "",
      ...dcField(o.obj),
      ...(parent ? { computeResource: parent } : {}),
      ...(cs ? { connectionState: cs } : {}),
      ...(ps ? { powerState: ps } : {}),
      ...(mm !== undefined ? { inMaintenanceMode: mm } : {}),
    };
  });

  const datastores = of("Datastore").map((o): Datastore => {
    const dc = datacenterOf(o.obj);
    const dcPath = dc ? dcPaths.get(dc.value) : undefined;
    const type = propText(o, "summary.type");
    const cap = propNum(o, "summary.capacity");
    const free = propNum(o, "summary.freeSpace");
    const url = propText(o, "summary.url");
    const acc = propBool(o, "summary.accessible");
    return {
      ref: o.obj,
      name: propText(o, "name") ?? "",
      ...(dc ? { datacenter: dc } : {}),
      ...(dcPath !== undefined ? { datacenterPath: dcPath } : {}),
      ...(type ? { type } : {}),
      ...(cap !== undefined ? { capacityBytes: cap } : {}),
      ...(free !== undefined ? { freeBytes: free } : {}),
      ...(url ? { url } : {}),
      ...(acc !== undefined ? { accessible: acc } : {}),
    };
  });

  const networks = [...of("Network"), ...of("DistributedVirtualPortgroup"), ...of("OpaqueNetwork")].map((o): Network => {
    const key = propText(o, "key");
    const dvs = propRef(o, "config.distributedVirtualSwitch");
    const switchUuid = dvs ? switchUuids.get(dvs.value) : undefined;
    return {
      ref: o.obj,
      name: propText(o, "name") ?? "",
      type: o.obj.type,
      ...dcField(o.obj),
      ...(key ? { portgroupKey: key } : {}),
      ...(switchUuid ? { switchUuid } : {}),
    };
  });

  const folders = of("Folder").map((o): Folder => {
    const parent = propRef(o, "parent");
    return { ref: o.obj, name: propText(o, "name") ?? "", ...(parent ? { parent } : {}), childType: propStrings(o, "childType"), ...dcField(o.obj) };
  });

  const resourcePools = of("ResourcePool").map((o): ResourcePool => {
    const parent = propRef(o, "parent");
    const owner = propRef(o, "owner");
    return { ref: o.obj, name: propText(o, "name") ?? "", ...(parent ? { parent } : {}), ...(owner ? { owner } : {}), ...dcField(o.obj) };
  });

  const vms = of("VirtualMachine").map((o) => decodeVm(o, datacenterOf(o.obj)));

  return { datacenters, clusters, hosts, datastores, networks, folders, resourcePools, vms };
}

/** Reads the whole inventory (one ContainerView, paged RetrievePropertiesEx). */
export async function fetchInventory(session: Session, opts: { maxObjects?: number } = {}): Promise<Inventory> {
  const objects = await withContainerView(session, INVENTORY_TYPES, (view) =>
    retrieve(session, { propSet: inventoryPropSet, objectSet: [viewObjectSpec(view)] }, { maxObjects: opts.maxObjects ?? 500 }),
  );
  return buildInventory(objects, session.serviceContent.rootFolder);
}

/** Counts and version, as the VCenter resource's status shows them. */
export function summarize(inventory: Inventory, about: AboutInfo): InventorySummary {
  return {
    version: about.version,
    build: about.build,
    apiVersion: about.apiVersion,
    fullName: about.fullName,
    instanceUuid: about.instanceUuid,
    datacenters: inventory.datacenters.length,
    clusters: inventory.clusters.filter((c) => c.isCluster).length,
    hosts: inventory.hosts.length,
    datastores: inventory.datastores.length,
    networks: inventory.networks.length,
    resourcePools: inventory.resourcePools.length,
    vms: inventory.vms.filter((v) => !v.template).length,
  };
}

/** What {@link watchInventory} reports: the changed objects, or a full resync after the session was re-established. */
export interface InventoryChange {
  /** true when the watch restarted (first report, or after a re-login): treat everything as changed. */
  readonly resync: boolean;
  readonly updates: readonly ObjectUpdate[];
}

export interface InventoryWatch {
  /** Stops following changes; resolves once the server-side collector and view are gone. */
  stop(): Promise<void>;
  /** Resolves when the watch ends (after stop, or with the error that ended it). */
  readonly done: Promise<void>;
}

/**
 * Follows inventory changes with WaitForUpdatesEx and calls `onChange` for
 * each batch. Views and collectors belong to a session, so after a re-login
 * the watch builds them again and reports a resync. Errors other than a lost
 * session are retried after `retryMs`; `onError` hears about them.
 */
export function watchInventory(
  session: Session,
  onChange: (change: InventoryChange) => void | Promise<void>,
  opts: { maxWaitSeconds?: number; retryMs?: number; onError?: (err: unknown) => void; propSet?: PropertySpec[] } = {},
): InventoryWatch {
  const controller = new AbortController();
  const stopped = () => controller.signal.aborted;
  let current: { watch: PropertyWatch; view: MoRef; generation: number } | undefined;
  const maxWait = opts.maxWaitSeconds ?? 30;
  const spec = (view: MoRef): FilterSpec => ({ propSet: opts.propSet ?? inventoryPropSet, objectSet: [viewObjectSpec(view)] });

  const teardown = async () => {
    const c = current;
    current = undefined;
    if (c) {
      await c.watch.destroy();
      await destroyView(session, c.view).catch(() => undefined);
    }
  };

  const loop = async () => {
    while (!controller.signal.aborted) {
      try {
        if (!current || current.generation !== session.generation) {
          await teardown();
          const generation = session.generation;
          const view = await createContainerView(session, session.serviceContent.rootFolder, (opts.propSet ?? inventoryPropSet).map((p) => p.type));
          const watch = await PropertyWatch.start(session, spec(view));
          current = { watch, view, generation };
          const initial = await watch.next(0, controller.signal);
          if (stopped()) break;
          await onChange({ resync: true, updates: initial });
          continue;
        }
        const updates = await current.watch.next(maxWait, controller.signal);
        if (stopped()) break;
        if (updates.length > 0) await onChange({ resync: false, updates });
      } catch (err) {
        if (stopped()) break;
        opts.onError?.(err);
        // A lost session shows up as a generation change after the session re-logs in.
        current = current && current.generation === session.generation ? current : undefined;
        await new Promise((r) => setTimeout(r, opts.retryMs ?? 5_000));
      }
    }
    await teardown();
  };

  const done = loop();
  return {
    done,
    async stop() {
      controller.abort();
      await done;
    },
  };
}

