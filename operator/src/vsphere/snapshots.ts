import { decodeHardware, type VmDisk } from "./devices.js";
import { retrieve, retrieveOne, viewObjectSpec, withContainerView } from "./property-collector.js";
import type { Session } from "./session.js";
import { resultRef, taskRef, waitForTask, type WaitOptions } from "./tasks.js";
import { children, el, moRef, moRefEl, num, sameRef, text, type MoRef } from "./xml.js";

/**
 * VM snapshots. A backup takes one, reads its frozen disks and removes it,
 * always; snapshots Lifeboat creates carry a recognisable name prefix so that
 * a later run can find and remove any that a crash left behind (orphaned
 * snapshots grow their delta disks until the datastore fills).
 */

/** Name prefix of every snapshot Lifeboat creates. */
export const LIFEBOAT_SNAPSHOT_PREFIX = "lifeboat-";

export interface SnapshotInfo {
  readonly ref: MoRef;
  readonly vm: MoRef;
  readonly name: string;
  readonly description: string;
  readonly id: number;
  readonly createTime: Date;
  /** poweredOn (memory included) or poweredOff */
  readonly state: string;
  readonly quiesced: boolean;
  readonly parent?: MoRef;
}

export interface CreateSnapshotOptions extends WaitOptions {
  /** Must start with the Lifeboat prefix unless `allowForeignName` (so the orphan finder sees it). */
  readonly name: string;
  readonly description?: string;
  /** Ask VMware Tools to quiesce the guest file systems (application-consistent). */
  readonly quiesce?: boolean;
  /** Include memory; backups never do (default false). */
  readonly memory?: boolean;
  readonly allowForeignName?: boolean;
}

/** Takes a snapshot and resolves with its reference once the task finished. */
export async function createSnapshot(session: Session, vm: MoRef, opts: CreateSnapshotOptions): Promise<MoRef> {
  if (!opts.allowForeignName && !opts.name.startsWith(LIFEBOAT_SNAPSHOT_PREFIX)) {
    throw new Error(`Snapshot name "${opts.name}" must start with "${LIFEBOAT_SNAPSHOT_PREFIX}" so that leftovers can be found`);
  }
  const res = await session.call(
    "CreateSnapshot_Task",
    moRefEl("_this", vm) + el("name", opts.name) + el("description", opts.description ?? "") +
      el("memory", opts.memory ?? false) + el("quiesce", opts.quiesce ?? false),
  );
  const result = await waitForTask(session, taskRef(res, "CreateSnapshot_Task"), `Snapshot "${opts.name}" of ${vm.value}`, opts);
  return resultRef(result, "CreateSnapshot_Task");
}

/** Flattens a VirtualMachineSnapshotTree list. Exported for unit tests. */
export function decodeSnapshotTree(trees: readonly unknown[], parent?: MoRef): SnapshotInfo[] {
  const out: SnapshotInfo[] = [];
  for (const t of trees) {
    const ref = moRef(t, "snapshot");
    const vm = moRef(t, "vm");
    if (!ref || !vm) continue;
    out.push({
      ref,
      vm,
      name: text(t, "name") ?? "",
      description: text(t, "description") ?? "",
      id: num(t, "id") ?? 0,
      createTime: new Date(text(t, "createTime") ?? 0),
      state: text(t, "state") ?? "",
      quiesced: text(t, "quiesced") === "true",
      ...(parent ? { parent } : {}),
    });
    out.push(...decodeSnapshotTree(children(t, "childSnapshotList"), ref));
  }
  return out;
}

/** All snapshots of one VM, parents before children. */
export async function listSnapshots(session: Session, vm: MoRef): Promise<SnapshotInfo[]> {
  const o = await retrieveOne(session, vm, ["snapshot"]);
  return decodeSnapshotTree(children(o.props.get("snapshot"), "rootSnapshotList"));
}

/** The disks as the snapshot froze them (file names of the frozen state, changeIds). */
export async function snapshotDisks(session: Session, snapshot: MoRef): Promise<VmDisk[]> {
  const o = await retrieveOne(session, snapshot, ["config.hardware.device"]);
  return decodeHardware(o.props.get("config.hardware.device")).disks;
}

/** Removes one snapshot (its children stay; the disks are consolidated). */
export async function removeSnapshot(session: Session, snapshot: MoRef, opts: WaitOptions = {}): Promise<void> {
  const res = await session.call(
    "RemoveSnapshot_Task",
    moRefEl("_this", snapshot) + el("removeChildren", false) + el("consolidate", true),
  );
  await waitForTask(session, taskRef(res, "RemoveSnapshot_Task"), `Removing snapshot ${snapshot.value}`, opts);
}

export interface OrphanOptions {
  /** Only snapshots whose name starts with this (default "lifeboat-"). */
  readonly prefix?: string;
  /** Only these VMs (default: every VM). */
  readonly vms?: readonly MoRef[];
  /** Keep snapshots created after this time (a run still in progress). */
  readonly olderThan?: Date;
  /** Keep these snapshots (in use by a running backup). */
  readonly keep?: readonly MoRef[];
}

/** Lists Lifeboat snapshots that match the options, across the inventory. */
export async function findOrphanedSnapshots(session: Session, opts: OrphanOptions = {}): Promise<SnapshotInfo[]> {
  const prefix = opts.prefix ?? LIFEBOAT_SNAPSHOT_PREFIX;
  const propSet = [{ type: "VirtualMachine", pathSet: ["snapshot"] }];
  const objects = opts.vms
    ? await retrieve(session, { propSet, objectSet: opts.vms.map((obj) => ({ obj })) })
    : await withContainerView(session, ["VirtualMachine"], (view) => retrieve(session, { propSet, objectSet: [viewObjectSpec(view)] }));
  return objects
    .flatMap((o) => decodeSnapshotTree(children(o.props.get("snapshot"), "rootSnapshotList")))
    .filter((s) => s.name.startsWith(prefix))
    .filter((s) => !opts.olderThan || s.createTime < opts.olderThan)
    .filter((s) => !(opts.keep ?? []).some((k) => sameRef(k, s.ref)));
}

/**
 * Finds and removes Lifeboat snapshots left behind (children first, so each
 * removal consolidates into a parent that still exists). Resolves with what
 * was removed; a failure to remove one does not stop the others and is
 * reported in `failed`.
 */
export async function removeOrphanedSnapshots(
  session: Session,
  opts: OrphanOptions = {},
): Promise<{ removed: SnapshotInfo[]; failed: { snapshot: SnapshotInfo; error: unknown }[] }> {
  const orphans = await findOrphanedSnapshots(session, opts);
  const removed: SnapshotInfo[] = [];
  const failed: { snapshot: SnapshotInfo; error: unknown }[] = [];
  for (const s of [...orphans].reverse()) {
    try {
      await removeSnapshot(session, s.ref);
      removed.push(s);
    } catch (error) {
      failed.push({ snapshot: s, error });
    }
  }
  return { removed, failed };
}

/** The current snapshot of a VM, if any. */
export async function currentSnapshot(session: Session, vm: MoRef): Promise<MoRef | undefined> {
  const o = await retrieveOne(session, vm, ["snapshot"]);
  return moRef(o.props.get("snapshot"), "currentSnapshot");
}
