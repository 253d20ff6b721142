import type { Readable } from "node:stream";
import type { Logger } from "pino";
import { captureChangeIds, queryChangedAreas, setChangeTracking, type DiskArea } from "./cbt.js";
import type { VmDisk } from "./devices.js";
import { readDiskRange, uploadDisk, type DiskLocation } from "./disk-io.js";
import { ObjectNotFoundError } from "./errors.js";
import {
  decodeVm,
  fetchInventory,
  findVmsByInstanceUuid,
  summarize,
  VM_PROPERTIES,
  watchInventory,
  type Inventory,
  type InventoryChange,
  type InventorySummary,
  type InventoryWatch,
  type VirtualMachine,
} from "./inventory.js";
import { retrieve, retrieveOne, viewObjectSpec, withContainerView } from "./property-collector.js";
import { Session, type AboutInfo } from "./session.js";
import {
  createSnapshot,
  findOrphanedSnapshots,
  listSnapshots,
  removeOrphanedSnapshots,
  removeSnapshot,
  snapshotDisks,
  type CreateSnapshotOptions,
  type OrphanOptions,
  type SnapshotInfo,
} from "./snapshots.js";
import { SoapTransport, type TlsTrust } from "./soap.js";
import { cancelTask, waitForTask, type WaitOptions } from "./tasks.js";
import { reconfigureHardware, setNicsConnected, type HardwareChange } from "./vm-config.js";
import { createVm, destroyVm, powerOff, powerOn, shutdownGuest, type CreateVmSpec, type GuestShutdownOptions } from "./vm-create.js";
import { importVm, type ImportDiskSource, type ImportVmOptions } from "./vm-import.js";
import { moRefOf, textOf, type MoRef } from "./xml.js";

/**
 * The typed vSphere (vim25) client. Start with {@link connect}:
 *
 * ```ts
 * const client = await connect({ address: "vc.example.com", username, password, tls: { thumbprint } });
 * try {
 *   const summary = await client.summary();         // counts + vCenter version
 *   const watch = client.watchInventory(() => requeue()); // follow changes
 * } finally {
 *   await client.close();
 * }
 * ```
 *
 * Errors are typed (see ./errors.ts): AuthenticationFailedError,
 * UnreachableError, CertificateMismatchError, FaultError (with faultName),
 * TaskFailedError, TaskCancelledError, GuestShutdownTimeoutError;
 * `conditionReason(err)` gives the one-word condition reason. Messages
 * never contain the password.
 */

export interface ConnectOptions {
  /** "host", "host:port" or "https://host[:port]/sdk". */
  readonly address: string;
  readonly username: string;
  /** Any string; sent XML-escaped, never logged. */
  readonly password: string;
  /** Trust: `{ thumbprint }` (SHA-256), `{ caCert }` (PEM), or `{ insecureSkipVerify: true }` only when asked. */
  readonly tls: TlsTrust;
  /** Timeout of one request (default 60 s). */
  readonly timeoutMs?: number;
  /** Session keep-alive interval (default 10 min; 0 disables). */
  readonly keepAliveMs?: number;
  readonly logger?: Logger;
}

/** Logs in and returns a client; rejects with a typed error (bad password, unreachable, wrong certificate). */
export async function connect(options: ConnectOptions): Promise<VsphereClient> {
  const transport = new SoapTransport({
    address: options.address,
    tls: options.tls,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  const session = new Session(
    transport,
    { username: options.username, password: options.password },
    {
      ...(options.keepAliveMs !== undefined ? { keepAliveMs: options.keepAliveMs } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    },
  );
  try {
    await session.open();
  } catch (err) {
    transport.close();
    throw err;
  }
  return new VsphereClient(session);
}

export class VsphereClient {
  constructor(readonly session: Session) {}

  /** vCenter's product and version (ServiceContent.about). */
  get about(): AboutInfo {
    return this.session.serviceContent.about;
  }

  /** The server-side key of the current session; changes when the client logs in again. */
  get sessionKey(): string | undefined {
    return this.session.sessionKey;
  }

  /** The whole inventory, typed. */
  inventory(opts: { maxObjects?: number } = {}): Promise<Inventory> {
    return fetchInventory(this.session, opts);
  }

  /** Inventory counts and the vCenter version, for the VCenter resource's status. */
  async summary(): Promise<InventorySummary> {
    return summarize(await this.inventory(), this.about);
  }

  /**
   * Follows inventory changes (WaitForUpdatesEx) and calls `onChange` per
   * batch; the first call (and any after a re-login) has `resync: true`.
   */
  watchInventory(
    onChange: (change: InventoryChange) => void | Promise<void>,
    opts: { maxWaitSeconds?: number; retryMs?: number; onError?: (err: unknown) => void } = {},
  ): InventoryWatch {
    return watchInventory(this.session, onChange, opts);
  }

  /** One VM by reference; ObjectNotFoundError when it is gone. */
  async getVm(ref: MoRef): Promise<VirtualMachine> {
    return decodeVm(await retrieveOne(this.session, ref, VM_PROPERTIES));
  }

  /** VMs with this name (names are unique per folder, not per vCenter). */
  async findVmsByName(name: string): Promise<VirtualMachine[]> {
    const objects = await withContainerView(this.session, ["VirtualMachine"], (view) =>
      retrieve(this.session, { propSet: [{ type: "VirtualMachine", pathSet: ["name"] }], objectSet: [viewObjectSpec(view)] }),
    );
    const refs = objects.filter((o) => textOf(o.props.get("name")) === name).map((o) => o.obj);
    return Promise.all(refs.map((r) => this.getVm(r)));
  }

  /**
   * VMs by instance UUID (SearchIndex.FindAllByUuid): a VM registered again
   * gets a new MoRef but keeps its instance UUID, so DR finds it this way.
   */
  findVmsByInstanceUuid(instanceUuid: string): Promise<VirtualMachine[]> {
    return findVmsByInstanceUuid(this.session, instanceUuid);
  }

  /** The datacenter's inventory path ("DC0", "Folder/DC1") above any object, for datastore URLs. */
  async datacenterPath(ref: MoRef): Promise<string> {
    let cur: MoRef | undefined = ref;
    let dc: MoRef | undefined;
    for (let i = 0; cur && i < 64 && !dc; i++) {
      if (cur.type === "Datacenter") dc = cur;
      else cur = moRefOf((await retrieveOne(this.session, cur, ["parent"])).props.get("parent"));
    }
    if (!dc) throw new ObjectNotFoundError("ManagedObjectNotFound", `No datacenter above ${ref.type} ${ref.value}`);
    const names: string[] = [];
    const root = this.session.serviceContent.rootFolder;
    for (let at: MoRef | undefined = dc, i = 0; at && i < 64 && at.value !== root.value; i++) {
      const o = await retrieveOne(this.session, at, ["name", "parent"]);
      names.unshift(textOf(o.props.get("name")) ?? "");
      at = moRefOf(o.props.get("parent"));
    }
    return names.join("/");
  }

  /** Where a disk's data lives, for {@link readDisk} and {@link uploadDisk}. `owner` is the VM (or any object in its datacenter). */
  async diskLocation(owner: MoRef, disk: VmDisk): Promise<DiskLocation> {
    return { datacenterPath: await this.datacenterPath(owner), datastoreName: disk.datastoreName, path: disk.path };
  }

  /** Takes a snapshot (name must start with "lifeboat-"); memory off, quiesce on request. */
  createSnapshot(vm: MoRef, opts: CreateSnapshotOptions): Promise<MoRef> {
    return createSnapshot(this.session, vm, opts);
  }

  listSnapshots(vm: MoRef): Promise<SnapshotInfo[]> {
    return listSnapshots(this.session, vm);
  }

  /** The disks as the snapshot froze them, with their changeIds. */
  snapshotDisks(snapshot: MoRef): Promise<VmDisk[]> {
    return snapshotDisks(this.session, snapshot);
  }

  removeSnapshot(snapshot: MoRef, opts: WaitOptions = {}): Promise<void> {
    return removeSnapshot(this.session, snapshot, opts);
  }

  /** Lifeboat snapshots (prefix "lifeboat-") matching the options. */
  findOrphanedSnapshots(opts: OrphanOptions = {}): Promise<SnapshotInfo[]> {
    return findOrphanedSnapshots(this.session, opts);
  }

  /** Removes Lifeboat snapshots left behind by failed runs. */
  removeOrphanedSnapshots(opts: OrphanOptions = {}): Promise<{ removed: SnapshotInfo[]; failed: { snapshot: SnapshotInfo; error: unknown }[] }> {
    return removeOrphanedSnapshots(this.session, opts);
  }

  /** Turns Changed Block Tracking on or off (ReconfigVM_Task). */
  setChangeTracking(vm: MoRef, enabled: boolean, opts: WaitOptions = {}): Promise<void> {
    return setChangeTracking(this.session, vm, enabled, opts);
  }

  /**
   * The CBT changeId of each disk (device key → changeId) at its current
   * content, through a short-lived "lifeboat-baseline-" snapshot that is
   * always removed; turns change tracking on first when it is off. Right
   * after a restore wrote a VM's disks, so later replication from that VM
   * reads only what changed afterwards.
   */
  captureChangeIds(vm: MoRef, opts: WaitOptions = {}): Promise<Map<number, string>> {
    return captureChangeIds(this.session, vm, opts);
  }

  /**
   * Areas of a snapshot's disk changed since `changeId` ("*": all allocated
   * areas), over the whole disk, merged where adjacent.
   */
  queryChangedAreas(vm: MoRef, snapshot: MoRef, disk: Pick<VmDisk, "key" | "capacityBytes">, changeId: string): Promise<DiskArea[]> {
    return queryChangedAreas(this.session, vm, snapshot, disk.key, changeId, disk.capacityBytes);
  }

  /** Streams `length` bytes of a disk's data from `offset` (bounded memory). */
  readDisk(loc: DiskLocation, offset: number, length: number, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Readable> {
    return readDiskRange(this.session, loc, offset, length, opts);
  }

  /** Replaces a disk's data with `sizeBytes` bytes from `source` (restore). */
  uploadDisk(loc: DiskLocation, source: Readable | Buffer, sizeBytes: number, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    return uploadDisk(this.session, loc, source, sizeBytes, opts);
  }

  createVm(spec: CreateVmSpec, opts: WaitOptions = {}): Promise<MoRef> {
    return createVm(this.session, spec, opts);
  }

  /**
   * Creates a VM and fills its disks in one import (ImportVApp and an NFC
   * lease), sending each disk as a stream-optimized VMDK so that zeros never
   * cross the network; `disks[i]` opens the stream of `spec.disks[i]`.
   * Resolves with the VM once the lease completed; on failure or abort the
   * lease is aborted and vCenter removes the VM. See {@link importVm}.
   *
   * ```ts
   * const vm = await client.importVm(spec, spec.disks.map((_, i) => () => vmdkStreamOf(i)), {
   *   signal, onProgress: ({ bytesSent }) => report(bytesSent),
   * });
   * ```
   */
  importVm(spec: CreateVmSpec, disks: readonly ImportDiskSource[], opts: ImportVmOptions = {}): Promise<MoRef> {
    return importVm(this.session, spec, disks, opts);
  }

  powerOn(vm: MoRef, opts: WaitOptions = {}): Promise<void> {
    return powerOn(this.session, vm, opts);
  }

  powerOff(vm: MoRef, opts: WaitOptions = {}): Promise<void> {
    return powerOff(this.session, vm, opts);
  }

  /**
   * Clean guest OS shutdown, then waits until the VM is off: "guest", or
   * "alreadyOff" when it was off. GuestShutdownTimeoutError after
   * `timeoutMs` (default 5 min) or FaultError "ToolsUnavailable": the caller
   * may power off hard.
   */
  shutdownGuest(vm: MoRef, opts: GuestShutdownOptions = {}): Promise<"guest" | "alreadyOff"> {
    return shutdownGuest(this.session, vm, opts);
  }

  /**
   * Connects or disconnects every NIC, now and at power-on; a disconnected
   * NIC cannot be reconnected from the guest (fencing). Resolves with how
   * many NICs it edited.
   */
  setNicsConnected(vm: MoRef, connected: boolean, opts: WaitOptions = {}): Promise<number> {
    return setNicsConnected(this.session, vm, connected, opts);
  }

  /** Sets the number of CPUs and the memory size (a recovered VM gets what its spec asks for). */
  reconfigureHardware(vm: MoRef, change: HardwareChange, opts: WaitOptions = {}): Promise<void> {
    return reconfigureHardware(this.session, vm, change, opts);
  }

  destroyVm(vm: MoRef, opts: WaitOptions = {}): Promise<void> {
    return destroyVm(this.session, vm, opts);
  }

  /** Waits for any task (progress, cancellation via AbortSignal). */
  waitForTask(task: MoRef, what: string, opts: WaitOptions = {}): Promise<unknown> {
    return waitForTask(this.session, task, what, opts);
  }

  cancelTask(task: MoRef): Promise<void> {
    return cancelTask(this.session, task);
  }

  /** Ends another session by its key (SessionManager.TerminateSession). */
  terminateSession(sessionKey: string): Promise<void> {
    return this.session.terminateSession(sessionKey);
  }

  /** Logs out and closes connections. */
  close(): Promise<void> {
    return this.session.close();
  }
}

export { LIFEBOAT_SNAPSHOT_PREFIX } from "./snapshots.js";
export { normalizeThumbprint } from "./soap.js";
export * from "./errors.js";
export type { TlsTrust } from "./soap.js";
export type { AboutInfo } from "./session.js";
export type { MoRef } from "./xml.js";
export type { VmDisk, VmController, VmNic } from "./devices.js";
export { capturedDisksInVmOrder, disksInVmOrder, snapshotExclusion, splitBySnapshot, type SnapshotExclusion } from "./devices.js";
export type { DiskArea } from "./cbt.js";
export type { DiskLocation } from "./disk-io.js";
export type { CreateVmSpec, GuestShutdownOptions, NewDisk, NewNic, ControllerType } from "./vm-create.js";
export type { ImportDiskSource, ImportProgress, ImportVmOptions } from "./vm-import.js";
export type { HardwareChange } from "./vm-config.js";
export type { CreateSnapshotOptions, OrphanOptions, SnapshotInfo } from "./snapshots.js";
export type { WaitOptions } from "./tasks.js";
export type {
  Cluster,
  Datacenter,
  Datastore,
  Folder,
  Host,
  Inventory,
  InventoryChange,
  InventorySummary,
  InventoryWatch,
  Network,
  ResourcePool,
  VirtualMachine,
} from "./inventory.js";
export type { ObjectUpdate, PropertyChange } from "./property-collector.js";
