/**
 * Backs up one VM into one recovery point (DESIGN §4): snapshot, ask CBT
 * what to read, read it by range through the datastore interface, let the
 * vault dedupe, compress, encrypt and commit, then remove the snapshot,
 * always. Level-triggered: a retried worker first looks in the vault for the
 * point of its run, and removes the snapshots an earlier attempt left.
 *
 * The same worker runs BackupPlan backups and DR replication cycles; they
 * differ only in the labels that make a chain (spec.lineage). When CBT
 * cannot be trusted against the parent, the cycle resyncs (resync.ts).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { BackupSession, openVault, type BackupProgress, type DiskBackup, type PointHeader, type Vault } from "../vault/index.js";
import { blocksOfExtents, type Extent } from "../vault/disk-io.js";
import { FaultError, splitBySnapshot, type MoRef, type SnapshotExclusion, type VirtualMachine, type VmDisk, type VsphereClient } from "../vsphere/index.js";
import { vaultSpecFrom } from "./config.js";
import { describeChain, EXIT, WorkerError } from "./errors.js";
import { buildPointLabels, describeExcludedDisks, labelsForSnapshotTime } from "./labels.js";
import type { WorkerMetrics } from "./metrics.js";
import { baseChangeId, DEFAULT_LINEAGE, findRunPoint, selectParent } from "./parent.js";
import type { ProgressTracker } from "./progress.js";
import type { RetryOptions } from "../vault/backends/retry.js";
import { HELD_RESYNC_EXIT, RESYNC, resyncBeforeQuery } from "./resync.js";
import { removeLeftovers, removeLeftoversBestEffort, withRunSnapshot } from "./run-snapshot.js";
import { snapshotSource } from "./snapshot-source.js";
import type { BackupWorkerSpec } from "./spec.js";
import type { TokenBucket } from "./token-bucket.js";
import { connectWaiting } from "./vcenter-outage.js";
import { findVm, nicNetworkNames } from "./vm-lookup.js";

/** What a backup run needs besides its spec. */
export interface RunContext {
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly progress: ProgressTracker;
  readonly metrics: WorkerMetrics;
  readonly bandwidth: TokenBucket;
  /** Aborted on SIGTERM. */
  readonly signal: AbortSignal;
  /** How vault requests are retried (vault-outage.ts): an object store that stops answering for a while does not fail the run. */
  readonly vaultRetry?: RetryOptions | undefined;
}

/** What to read of one disk. */
interface DiskPlan {
  readonly disk: VmDisk;
  /** Areas to read; undefined: the whole disk (no CBT). */
  extents: Extent[] | undefined;
  /** The changeId the extents are relative to ("*": allocated areas). */
  base: string;
}

/** Runs the backup; resolves with the committed (or already existing) point. */
export async function backupVm(spec: BackupWorkerSpec, ctx: RunContext): Promise<PointHeader> {
  const { logger, progress } = ctx;
  const vault = await openVault(vaultSpecFrom(spec.vault, ctx.env, { threads: spec.threads, retry: ctx.vaultRetry, bootThreads: true }));
  let client: VsphereClient | undefined;
  try {
    const points = await vault.listPoints();
    const done = findRunPoint(points, spec.labels, lineageOf(spec));
    if (done) {
      logger.info({ pointId: done.id, run: spec.runId }, "Found the recovery point of this run already committed; not backing up again");
      progress.set({ pointId: done.id });
      await removeLeftoversBestEffort(spec.vcenter, spec.vm, ctx);
      return done;
    }

    client = await connectWaiting(spec.vcenter, ctx);
    const vm = await findVm(client, spec.vm);
    logger.info({ vm: vm.name, moRef: vm.ref.value, disks: vm.disks.length }, "Found the VM");
    // A VM with nothing a snapshot captures is refused before a snapshot (possibly quiesced) is taken for nothing.
    const { disks: captured } = splitSnapshotDisks(vm, vm.disks);
    const stuck = await removeLeftovers(client, vm.ref, logger);
    if (spec.holdResync) {
      // A run that may hold ends without a next cycle until business hours end: a snapshot it cannot remove fails it, so the Job retries.
      if (stuck > 0) throw new WorkerError(EXIT.snapshotFailed, `${stuck} snapshot(s) an earlier run left on VM "${vm.name}" could not be removed; the run is retried so that none stays while a resync is held`);
      holdBeforeSnapshot(spec, vm, captured, points);
    }
    const tracking = await ensureChangeTracking(client, vm, spec.changedBlockTracking, logger);
    await waitForSnapshotTime(spec, ctx);
    const time = new Date();
    const labels = labelsForSnapshotTime(spec.labels, spec.snapshotAt, time);
    if (labels !== spec.labels) logger.warn({ snapshotAt: spec.snapshotAt, time: time.toISOString() }, "The snapshot comes too long after its consistency group's tick; the point is taken outside the group");
    const c = client;
    const run = { ...spec, labels };
    return await withRunSnapshot(c, vm, { runId: spec.runId, quiesce: spec.quiesce, purpose: "backup" }, ctx, (snapshot) =>
      backupSnapshot(run, ctx, { vault, client: c, vm, snapshot, time, tracking, points }));
  } finally {
    await client?.close().catch(() => undefined);
    await vault.close().catch(() => undefined);
  }
}

/**
 * Waits for spec.snapshotAt (a consistency group's tick), with the VM found
 * and CBT on already, so that the group's snapshots are taken together;
 * SIGTERM ends the wait.
 */
async function waitForSnapshotTime(spec: BackupWorkerSpec, ctx: RunContext): Promise<void> {
  const wait = spec.snapshotAt ? Date.parse(spec.snapshotAt) - Date.now() : 0;
  if (wait <= 0) return;
  ctx.logger.info({ snapshotAt: spec.snapshotAt, waitMs: wait }, "Waiting for the consistency group's tick to take the snapshot");
  await sleep(wait, undefined, { signal: ctx.signal });
}

/** The lineage labels of the spec (DEFAULT_LINEAGE when it names none). */
function lineageOf(spec: BackupWorkerSpec): readonly string[] {
  return spec.lineage ?? DEFAULT_LINEAGE;
}

/** Whether CBT is on for this run, and whether this run had to turn it on. */
interface Tracking {
  readonly enabled: boolean;
  readonly enabledNow: boolean;
}

/** Turns CBT on when asked and off. */
async function ensureChangeTracking(client: VsphereClient, vm: VirtualMachine, wanted: boolean, logger: Logger): Promise<Tracking> {
  if (!wanted || vm.changeTrackingEnabled) return { enabled: vm.changeTrackingEnabled, enabledNow: false };
  try {
    await client.setChangeTracking(vm.ref, true);
    logger.info({ vm: vm.name }, "Enabled changed block tracking; this backup reads the allocated areas, the next ones only the changes");
    return { enabled: true, enabledNow: true };
  } catch (err) {
    logger.warn({ vm: vm.name, err: describeChain(err) }, "Could not enable changed block tracking; backing up whole disks");
    return { enabled: false, enabledNow: false };
  }
}

interface SnapshotRun {
  readonly vault: Vault;
  readonly client: VsphereClient;
  readonly vm: VirtualMachine;
  readonly snapshot: MoRef;
  readonly time: Date;
  readonly tracking: Tracking;
  readonly points: readonly PointHeader[];
}

async function backupSnapshot(spec: BackupWorkerSpec, ctx: RunContext, run: SnapshotRun): Promise<PointHeader> {
  const { client, vm, snapshot, vault } = run;
  const { logger } = ctx;
  const { disks, excluded } = splitSnapshotDisks(vm, await client.snapshotDisks(snapshot));
  if (excluded.length > 0) logger.warn({ vm: vm.name, excluded: excluded.map((e) => ({ disk: e.disk.key, file: e.disk.fileName, reason: e.reason })) }, "Leaving out the disks a snapshot does not capture");
  const labels = buildPointLabels(spec.labels, vm, disks, await nicNetworkNames(client, vm), excluded);
  const lineageParent = run.tracking.enabled ? selectParent(run.points, spec.labels, disks.map((d) => String(d.key)), lineageOf(spec)) : undefined;
  let resync = resyncBeforeQuery({ requested: spec.resync, parent: lineageParent, trackingEnabledNow: run.tracking.enabledNow, disks });
  if (resync) holdOrReportResync(spec, ctx, vm, resync, lineageParent);
  const parent = resync ? undefined : lineageParent;
  const { plans, parentUsable, changeIdRejected } = await planDisks(client, vm.ref, snapshot, disks, parent, logger);
  if (changeIdRejected) {
    resync = RESYNC.changeIdRejected;
    holdOrReportResync(spec, ctx, vm, resync, parent);
  }
  if (resync) labels.resync = resync;
  const vmName = spec.labels.vm ?? vm.name;
  for (const p of plans) {
    const bytes = p.extents ? p.extents.reduce((s, e) => s + e.length, 0) : p.disk.capacityBytes;
    ctx.metrics.changedAreasBytes.set({ vm: vmName, disk: String(p.disk.key) }, bytes);
    logger.info({ disk: p.disk.key, base: p.base === "*" ? "*" : "parent", areas: p.extents?.length ?? "whole disk", bytes }, "Planned the disk's reads");
  }
  const bs = vault.config.blockSize;
  const plannedBytes = plans.reduce(
    (sum, p) => sum + (p.extents ? blocksOfExtents(p.extents, bs, p.disk.capacityBytes).reduce((s, b) => s + Math.min(bs, p.disk.capacityBytes - b * bs), 0) : p.disk.capacityBytes),
    0,
  );

  const usedParent = parentUsable ? parent : undefined;
  const session = await BackupSession.begin(vault, {
    parent: usedParent?.id,
    labels,
    consistency: spec.quiesce ? "app" : "crash",
    time: run.time,
    plannedBytes,
    progressIntervalMs: 250,
    onProgress: progressSink(ctx, vmName),
  });
  logger.info({ pointId: session.id, parent: usedParent?.id, plannedBytes }, "Started the backup");
  ctx.progress.phase("Transferring", { bytesTotal: plannedBytes });
  return commitAfter(session, ctx, async () => {
    for (const p of plans) {
      const key = String(p.disk.key);
      const location = await client.diskLocation(vm.ref, p.disk);
      const backupDisk: DiskBackup = {
        key,
        source: snapshotSource({
          client,
          location,
          size: p.disk.capacityBytes,
          bandwidth: ctx.bandwidth,
          signal: ctx.signal,
          onRead: (n) => { ctx.metrics.bytesRead.inc({ vm: vmName, disk: key }, n); },
        }),
        changedExtents: p.extents,
        changeId: p.disk.changeId,
      };
      await session.backupDisk(backupDisk);
      logger.info({ disk: key }, "Backed up the disk");
    }
  });
}

/**
 * Splits a snapshot's disks into those it froze and those it left out
 * (devices.ts, snapshotExclusion), each in their order on the VM: the point
 * holds the first and names the others. A VM with no disk of the first kind cannot be backed up at all.
 */
export function splitSnapshotDisks(vm: Pick<VirtualMachine, "name">, all: readonly VmDisk[]): { disks: VmDisk[]; excluded: { disk: VmDisk; reason: SnapshotExclusion }[] } {
  const { captured: disks, excluded } = splitBySnapshot(all);
  if (all.length === 0) throw new Error(`VM "${vm.name}" has no virtual disks to back up`);
  if (disks.length === 0) {
    const named = describeExcludedDisks(excluded.map(({ disk, reason }) => ({ key: String(disk.key), reason, label: disk.label, fileName: disk.fileName })));
    throw new WorkerError(EXIT.noSnapshotDisks, `VM "${vm.name}" has no disk a snapshot captures: ${named}, and a VM snapshot does not capture such disks. Make them dependent disks (disk mode persistent; an RDM in virtual compatibility mode) to protect them with Lifeboat, or back them up from inside the guest`);
  }
  return { disks, excluded };
}

/**
 * Backs up a session's disks, then commits its point; on any failure the
 * session is aborted, so a failed run leaves no point and no lock behind.
 */
export async function commitAfter(session: BackupSession, ctx: RunContext, backupDisks: () => Promise<void>): Promise<PointHeader> {
  try {
    await backupDisks();
    ctx.progress.phase("Committing");
    const header = await session.commit();
    ctx.logger.info({ pointId: header.id, storedBytes: header.storedBytes }, "Committed the recovery point");
    ctx.progress.set({ pointId: header.id });
    return header;
  } catch (err) {
    await session.abort().catch(() => undefined);
    throw err;
  }
}

/**
 * Asks CBT what to read of each disk. The parent is used only when every
 * disk it also has can be read incrementally against it (the vault takes
 * unread blocks of a disk from the parent); otherwise every disk is read
 * from its allocated areas ("*") and the point has no parent.
 */
async function planDisks(
  client: VsphereClient,
  vm: MoRef,
  snapshot: MoRef,
  disks: readonly VmDisk[],
  parent: PointHeader | undefined,
  logger: Logger,
): Promise<{ plans: DiskPlan[]; parentUsable: boolean; changeIdRejected: boolean }> {
  const toExtents = (areas: { start: number; length: number }[]): Extent[] => areas.map((a) => ({ offset: a.start, length: a.length }));
  let parentUsable = parent !== undefined;
  let changeIdRejected = false;
  const plans: DiskPlan[] = [];
  for (const disk of disks) {
    if (!disk.changeId) {
      plans.push({ disk, extents: undefined, base: "" });
      continue;
    }
    const { changeId, usesParent } = baseChangeId(parent, String(disk.key));
    if (!usesParent) parentUsable = false;
    const base = parentUsable ? changeId : "*";
    try {
      plans.push({ disk, extents: toExtents(await client.queryChangedAreas(vm, snapshot, disk, base)), base });
    } catch (err) {
      if (!(err instanceof FaultError) || base === "*") throw new Error(`Could not query the changed areas of disk ${disk.key}`, { cause: err });
      logger.warn({ disk: disk.key, err: describeChain(err) }, "CBT refused the parent's changeId (change tracking was reset); reading the allocated areas");
      parentUsable = false;
      changeIdRejected = true;
      plans.push({ disk, extents: toExtents(await client.queryChangedAreas(vm, snapshot, disk, "*")), base: "*" });
    }
  }
  if (!parentUsable) {
    for (const p of plans) {
      if (p.base !== "" && p.base !== "*") {
        p.extents = toExtents(await client.queryChangedAreas(vm, snapshot, p.disk, "*"));
        p.base = "*";
      }
    }
  }
  return { plans, parentUsable, changeIdRejected };
}

/** The error that ends a run holding its resync (spec.holdResync), with the reason's exit code. */
function heldResync(vm: VirtualMachine, reason: string): WorkerError {
  return new WorkerError(HELD_RESYNC_EXIT[reason] ?? EXIT.failed, `a checksum resync of VM "${vm.name}" is needed (${reason}) and held: spec.holdResync asks not to read every allocated area now`);
}

/**
 * With spec.holdResync, the resyncs a run can tell before it touches the VM
 * are held before change tracking is turned on and before a snapshot (maybe
 * quiesced) is taken: tracking found off (ChangeTrackingReset) or a disk
 * resized since the parent (DiskResized). So the VM is left as it was, and
 * every later run finds the same need again by itself, whether or not the
 * controller's record of the hold (status.heldResync) survives.
 */
function holdBeforeSnapshot(spec: BackupWorkerSpec, vm: VirtualMachine, disks: readonly VmDisk[], points: readonly PointHeader[]): void {
  // Without CBT a run reads whole disks and takes no parent: there is nothing to resync.
  if (spec.resync || !spec.changedBlockTracking) return;
  const parent = selectParent(points, spec.labels, disks.map((d) => String(d.key)), lineageOf(spec));
  const reason = resyncBeforeQuery({ parent, trackingEnabledNow: !vm.changeTrackingEnabled, disks });
  if (reason) throw heldResync(vm, reason);
}

/**
 * A resync the run found needed is made now and reported, unless
 * spec.holdResync asks to leave it for later and nobody asked for it: then
 * the run stops before reading any disk data (the snapshot is removed on the
 * way out). Only ChangeIdRejected gets this far held (holdBeforeSnapshot
 * holds the others first), and it stays rejected for every later run.
 */
function holdOrReportResync(spec: BackupWorkerSpec, ctx: RunContext, vm: VirtualMachine, reason: string, parent: PointHeader | undefined): void {
  if (spec.holdResync && reason !== spec.resync && HELD_RESYNC_EXIT[reason] !== undefined) throw heldResync(vm, reason);
  reportResync(ctx, vm, reason, parent);
}

/** Says why this cycle resyncs: in the log, and in /progress at once so the controller can show ResyncRequired while it runs. */
function reportResync(ctx: RunContext, vm: VirtualMachine, reason: string, parent: PointHeader | undefined): void {
  ctx.progress.set({ resync: reason });
  ctx.logger.warn({ vm: vm.name, resync: reason, parent: parent?.id }, "Resyncing: reading every allocated area without a parent; the vault stores only the blocks it lacks");
}

/**
 * Feeds the vault's progress into /progress and the per-disk counters.
 * `done` maps the vault's counters to /progress's bytesDone and bytesTotal
 * (default: bytes read of bytes to read).
 */
export function progressSink(
  ctx: RunContext,
  vmName: string,
  done: (p: BackupProgress) => { bytesDone: number; bytesTotal: number } = (p) => ({ bytesDone: p.bytesRead, bytesTotal: p.bytesToRead }),
): (p: BackupProgress) => void {
  let last = { bytesNew: 0, bytesReused: 0, bytesFromParent: 0, bytesStored: 0 };
  return (p) => {
    const labels = { vm: vmName, disk: p.disk };
    ctx.metrics.bytesNew.inc(labels, p.bytesNew - last.bytesNew);
    ctx.metrics.bytesReused.inc(labels, p.bytesReused - last.bytesReused);
    ctx.metrics.bytesFromParent.inc(labels, p.bytesFromParent - last.bytesFromParent);
    ctx.metrics.bytesUploaded.inc(labels, p.bytesStored - last.bytesStored);
    last = { bytesNew: p.bytesNew, bytesReused: p.bytesReused, bytesFromParent: p.bytesFromParent, bytesStored: p.bytesStored };
    ctx.progress.bytes({ ...done(p), bytesUploaded: p.bytesStored });
  };
}
