import { bool, child, children, moRef, num, text, xsiType, type MoRef } from "./xml.js";

/**
 * Decoding of a VM's (or a snapshot's) virtual hardware: the disks a backup
 * reads, the controllers and NICs a restore recreates.
 */

/** One virtual disk. */
export interface VmDisk {
  /** Device key, stable for the life of the disk; QueryChangedDiskAreas takes it. */
  readonly key: number;
  readonly label: string;
  readonly capacityBytes: number;
  /** Datastore path of the disk descriptor, e.g. "[ds1] vm/vm.vmdk". */
  readonly fileName: string;
  readonly datastore?: MoRef;
  /** Datastore name parsed from fileName. */
  readonly datastoreName: string;
  /** Path inside the datastore, parsed from fileName. */
  readonly path: string;
  /** CBT changeId of this disk state; absent while change tracking is off. */
  readonly changeId?: string;
  readonly thinProvisioned?: boolean;
  readonly diskMode?: string;
  readonly uuid?: string;
  readonly controllerKey?: number;
  readonly unitNumber?: number;
  /** Backing kind, e.g. VirtualDiskFlatVer2BackingInfo. */
  readonly backingType?: string;
  /** Raw device mappings: physicalMode or virtualMode. */
  readonly compatibilityMode?: string;
}

/**
 * Why a VM snapshot leaves a disk out: an independent disk (diskMode
 * independent_persistent or independent_nonpersistent) is not affected by
 * snapshots, and a raw device mapping in physical compatibility mode passes
 * SCSI commands to the LUN, which vSphere cannot snapshot. A snapshot's
 * "copy" of such a disk is the live disk, still being written, so reading it
 * would store a torn image beside consistent ones; backups and replication
 * leave these disks out and say so instead (seed 002: RDM is outside what
 * VADP can back up).
 */
export type SnapshotExclusion = "IndependentDisk" | "PhysicalModeRDM";

/** The reason a snapshot does not capture the disk, or undefined when it does. */
export function snapshotExclusion(disk: Pick<VmDisk, "diskMode" | "backingType" | "compatibilityMode">): SnapshotExclusion | undefined {
  if (disk.backingType === "VirtualDiskRawDiskMappingVer1BackingInfo" && disk.compatibilityMode === "physicalMode") return "PhysicalModeRDM";
  if (disk.diskMode?.startsWith("independent")) return "IndependentDisk";
  return undefined;
}

export interface VmController {
  readonly key: number;
  /** e.g. ParaVirtualSCSIController, VirtualLsiLogicController, VirtualNVMEController, VirtualIDEController */
  readonly type: string;
  readonly busNumber: number;
}

export interface VmNic {
  readonly key: number;
  /** e.g. VirtualVmxnet3, VirtualE1000e */
  readonly type: string;
  readonly macAddress?: string;
  /** Standard port group: its Network object. */
  readonly network?: MoRef;
  /** Standard port group name. */
  readonly networkName?: string;
  /** Distributed port group key. */
  readonly portgroupKey?: string;
  readonly switchUuid?: string;
  /** Connected now (connectable.connected); always false while the VM is off. */
  readonly connected?: boolean;
  /** Connects when the VM powers on (connectable.startConnected); false on a fenced VM. */
  readonly startConnected?: boolean;
  /** The guest may connect or disconnect it (connectable.allowGuestControl). */
  readonly allowGuestControl?: boolean;
}

export interface VmHardware {
  readonly disks: VmDisk[];
  readonly controllers: VmController[];
  readonly nics: VmNic[];
}

/**
 * A VM's disks in their order on the VM (controller, unit, then key): how
 * restores and DR pair one VM's disks with another's, or with a point's,
 * when their device keys differ.
 */
export function disksInVmOrder<D extends Pick<VmDisk, "key" | "controllerKey" | "unitNumber">>(disks: readonly D[]): D[] {
  return [...disks].sort((a, b) => (a.controllerKey ?? 0) - (b.controllerKey ?? 0) || (a.unitNumber ?? 0) - (b.unitNumber ?? 0) || a.key - b.key);
}

type ClassifiedDisk = Pick<VmDisk, "key" | "controllerKey" | "unitNumber" | "diskMode" | "backingType" | "compatibilityMode">;

/**
 * A VM's disks in their order on the VM, split into those a snapshot
 * captures (what a point of the VM holds, and what is paired with a point's
 * disks) and those it leaves out, with why.
 */
export function splitBySnapshot<D extends ClassifiedDisk>(disks: readonly D[]): { captured: D[]; excluded: { disk: D; reason: SnapshotExclusion }[] } {
  const captured: D[] = [];
  const excluded: { disk: D; reason: SnapshotExclusion }[] = [];
  for (const disk of disksInVmOrder(disks)) {
    const reason = snapshotExclusion(disk);
    if (reason) excluded.push({ disk, reason });
    else captured.push(disk);
  }
  return { captured, excluded };
}

/** The disks a snapshot captures, in their order on the VM (splitBySnapshot). */
export function capturedDisksInVmOrder<D extends ClassifiedDisk>(disks: readonly D[]): D[] {
  return splitBySnapshot(disks).captured;
}

/** Splits "[ds1] dir/file.vmdk" into its datastore and path. */
export function parseDatastorePath(fileName: string): { datastore: string; path: string } {
  const m = /^\[([^\]]*)\]\s*(.*)$/.exec(fileName);
  return m ? { datastore: m[1] ?? "", path: m[2] ?? "" } : { datastore: "", path: fileName };
}

/** Decodes an ArrayOfVirtualDevice property value. */
export function decodeHardware(devices: unknown): VmHardware {
  const disks: VmDisk[] = [];
  const controllers: VmController[] = [];
  const nics: VmNic[] = [];
  for (const d of children(devices, "VirtualDevice")) {
    const type = xsiType(d) ?? "";
    const key = num(d, "key") ?? 0;
    const backing = child(d, "backing");
    if (type === "VirtualDisk") {
      const fileName = text(backing, "fileName") ?? "";
      const parsed = parseDatastorePath(fileName);
      const capacityBytes = num(d, "capacityInBytes") ?? (num(d, "capacityInKB") ?? 0) * 1024;
      const datastore = moRef(backing, "datastore");
      const changeId = text(backing, "changeId");
      const thin = bool(backing, "thinProvisioned");
      const diskMode = text(backing, "diskMode");
      const uuid = text(backing, "uuid");
      const controllerKey = num(d, "controllerKey");
      const unitNumber = num(d, "unitNumber");
      const backingType = xsiType(backing);
      const compatibilityMode = text(backing, "compatibilityMode");
      disks.push({
        key,
        label: text(child(d, "deviceInfo"), "label") ?? `disk ${key}`,
        capacityBytes,
        fileName,
        datastoreName: parsed.datastore,
        path: parsed.path,
        ...(datastore ? { datastore } : {}),
        ...(changeId ? { changeId } : {}),
        ...(thin !== undefined ? { thinProvisioned: thin } : {}),
        ...(diskMode ? { diskMode } : {}),
        ...(uuid ? { uuid } : {}),
        ...(controllerKey !== undefined ? { controllerKey } : {}),
        ...(unitNumber !== undefined ? { unitNumber } : {}),
        ...(backingType ? { backingType } : {}),
        ...(compatibilityMode ? { compatibilityMode } : {}),
      });
    } else if (child(d, "busNumber") !== undefined && /Controller$/.test(type)) {
      controllers.push({ key, type, busNumber: num(d, "busNumber") ?? 0 });
    } else if (isNic(d)) {
      const port = child(backing, "port");
      const connectable = child(d, "connectable");
      const connected = bool(connectable, "connected");
      const startConnected = bool(connectable, "startConnected");
      const allowGuestControl = bool(connectable, "allowGuestControl");
      const network = moRef(backing, "network");
      const networkName = text(backing, "deviceName");
      const portgroupKey = text(port, "portgroupKey");
      const switchUuid = text(port, "switchUuid");
      const macAddress = text(d, "macAddress");
      nics.push({
        key,
        type,
        ...(macAddress ? { macAddress } : {}),
        ...(network ? { network } : {}),
        ...(networkName ? { networkName } : {}),
        ...(portgroupKey ? { portgroupKey } : {}),
        ...(switchUuid ? { switchUuid } : {}),
        ...(connected !== undefined ? { connected } : {}),
        ...(startConnected !== undefined ? { startConnected } : {}),
        ...(allowGuestControl !== undefined ? { allowGuestControl } : {}),
      });
    }
  }
  return { disks, controllers, nics };
}

/** A virtual NIC (any VirtualEthernetCard subtype): the devices with a MAC address. */
export function isNic(device: unknown): boolean {
  return child(device, "addressType") !== undefined || child(device, "macAddress") !== undefined;
}
