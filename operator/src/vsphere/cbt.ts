import { snapshotExclusion, type VmDisk } from "./devices.js";
import { VsphereError } from "./errors.js";
import { retrieveOne } from "./property-collector.js";
import type { Session } from "./session.js";
import { createSnapshot, LIFEBOAT_SNAPSHOT_PREFIX, removeSnapshot, snapshotDisks } from "./snapshots.js";
import type { WaitOptions } from "./tasks.js";
import { reconfigureVm } from "./vm-config.js";
import { child, children, el, moRefEl, num, textOf, type MoRef } from "./xml.js";

/**
 * Changed Block Tracking: with CBT on, each disk state has a changeId, and
 * QueryChangedDiskAreas(snapshot, disk, changeId) lists the areas written
 * since the state that changeId names, so an incremental backup reads only
 * those. The changeId "*" lists the allocated areas, for a first backup.
 */

/** A byte range of a disk. */
export interface DiskArea {
  readonly start: number;
  readonly length: number;
}

/** Turns change tracking on (or off) with ReconfigVM_Task. The changeIds appear on the disk backings. */
export async function setChangeTracking(session: Session, vm: MoRef, enabled: boolean, opts: WaitOptions = {}): Promise<void> {
  const what = `${enabled ? "Enabling" : "Disabling"} change tracking on ${vm.value}`;
  await reconfigureVm(session, vm, el("changeTrackingEnabled", enabled), what, opts);
}

/**
 * Device key → changeId of a snapshot's disks; every disk a snapshot captures
 * must have one. Independent disks and physical-mode RDMs are left out: CBT
 * does not track them, and no point holds them (devices.ts, snapshotExclusion).
 */
function changeIdsOf(vm: MoRef, disks: readonly VmDisk[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const disk of disks) {
    if (snapshotExclusion(disk)) continue;
    if (!disk.changeId) throw new VsphereError(`Disk ${disk.key} of ${vm.value} has no changeId although change tracking is on`);
    out.set(disk.key, disk.changeId);
  }
  return out;
}

/**
 * The changeId of each disk at its current content, as device key →
 * changeId. After a restore wrote a VM's disks (a DR failover), replication
 * from that VM must start from what it holds now: a later
 * QueryChangedDiskAreas since these changeIds reports only what changed
 * afterwards, not the restored data. Turns change tracking on when it is off,
 * takes a snapshot (named "lifeboat-baseline-<time>", so orphan cleanup finds
 * it should removal fail), reads its disks' changeIds and removes it, also
 * when reading fails and without the caller's signal (a removal must not be
 * cancelled). `opts` applies to enabling tracking and to the snapshot.
 */
export async function captureChangeIds(session: Session, vm: MoRef, opts: WaitOptions = {}): Promise<Map<number, string>> {
  const config = await retrieveOne(session, vm, ["config.changeTrackingEnabled"]);
  if (textOf(config.props.get("config.changeTrackingEnabled")) !== "true") await setChangeTracking(session, vm, true, opts);
  const name = `${LIFEBOAT_SNAPSHOT_PREFIX}baseline-${new Date().toISOString()}`;
  const snapshot = await createSnapshot(session, vm, { ...opts, name, description: "Lifeboat: changeIds of the current disk content" });
  let changeIds: Map<number, string>;
  try {
    changeIds = changeIdsOf(vm, await snapshotDisks(session, snapshot));
  } catch (err) {
    // The first error is the one to report; orphan cleanup removes the snapshot if this removal fails too.
    await removeSnapshot(session, snapshot).catch(() => undefined);
    throw err;
  }
  try {
    await removeSnapshot(session, snapshot);
  } catch (err) {
    throw new VsphereError(`Captured the changeIds of ${vm.value} but could not remove snapshot "${name}" (${snapshot.value}); orphan cleanup removes it`, { cause: err });
  }
  return changeIds;
}

/** Decodes one DiskChangeInfo page. Exported for unit tests. */
export function decodeDiskChangeInfo(info: unknown): { startOffset: number; length: number; areas: DiskArea[] } {
  const areas = children(info, "changedArea").map((a) => ({ start: num(a, "start") ?? 0, length: num(a, "length") ?? 0 }));
  return { startOffset: num(info, "startOffset") ?? 0, length: num(info, "length") ?? 0, areas };
}

/** Appends an area, merging it with the previous one when they touch. */
function pushArea(out: DiskArea[], area: DiskArea): void {
  if (area.length <= 0) return;
  const last = out[out.length - 1];
  if (last && last.start + last.length === area.start) {
    out[out.length - 1] = { start: last.start, length: last.length + area.length };
  } else {
    out.push(area);
  }
}

/**
 * Lists the changed (or, with changeId "*", allocated) areas of one disk of a
 * snapshot, across the whole disk: each answer covers part of the disk
 * (startOffset + length), so the query repeats from where the last answer
 * ended until the capacity is covered. Adjacent areas are merged.
 */
export async function queryChangedAreas(
  session: Session,
  vm: MoRef,
  snapshot: MoRef,
  deviceKey: number,
  changeId: string,
  capacityBytes: number,
): Promise<DiskArea[]> {
  const out: DiskArea[] = [];
  let offset = 0;
  while (offset < capacityBytes) {
    const res = await session.call(
      "QueryChangedDiskAreas",
      moRefEl("_this", vm) + moRefEl("snapshot", snapshot) + el("deviceKey", deviceKey) + el("startOffset", offset) + el("changeId", changeId),
    );
    const page = decodeDiskChangeInfo(child(res, "returnval"));
    for (const a of page.areas) pushArea(out, a);
    const next = page.startOffset + page.length;
    if (next <= offset) {
      throw new VsphereError(`QueryChangedDiskAreas on disk ${deviceKey} of ${vm.value} made no progress at offset ${offset}`);
    }
    offset = next;
  }
  return out;
}
