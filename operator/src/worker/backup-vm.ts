/**
 * Backs up one VM into one recovery point (DESIGN §4): snapshot, ask CBT
 * what to read, read it by range through the datastore interface, let the
 * vault dedupe, compress, encrypt and commit, then remove the snapshot,
 * always. Level-triggered: a retried worker first looks in the vault for the
 * point of its run, and removes the snapshots an earlier attempt left.
 */
import type { Logger } from "pino";
import { BackupSession, openVault, type BackupProgress, type DiskBackup, type PointHeader, type Vault } from "../vault/index.js";
import { blocksOfExtents, type Extent } from "../vault/disk-io.js";
import { connect, FaultError, LIFEBOAT_SNAPSHOT_PREFIX, type MoRef, type VirtualMachine, type VmDisk, type VsphereClient } from "../vsphere/index.js";
import { connectOptionsFrom, vaultSpecFrom } from "./config.js";
import { describeChain, EXIT, WorkerError } from "./errors.js";
import { buildPointLabels } from "./labels.js";
import type { WorkerMetrics } from "./metrics.js";
import { baseChangeId, findRunPoint, selectParent } from "./parent.js";
import type { ProgressTracker } from "./progress.js";
import { snapshotSource } from "./snapshot-source.js";
import type { BackupWorkerSpec } from "./spec.js";
import type { TokenBucket } from "./token-bucket.js";
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
}

/** The snapshot a run creates: the prefix makes leftovers findable, the run id makes it ours. */
export function snapshotName(runId: string): string {
  return `${LIFEBOAT_SNAPSHOT_PREFIX}${runId}`;
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
  const vault = await openVault(vaultSpecFrom(spec.vault, ctx.env, spec.threads));
  let client: VsphereClient | undefined;
  try {
    const points = await vault.listPoints();
    const done = findRunPoint(points, spec.labels);
    if (done) {
      logger.info({ pointId: done.id, run: spec.runId }, "Found the recovery point of this run already committed; not backing up again");
      progress.set({ pointId: done.id });
      await removeLeftoversBestEffort(spec, ctx);
      return done;
    }

    client = await connect({ ...connectOptionsFrom(spec.vcenter, ctx.env), logger });
    const vm = await findVm(client, spec.vm);
    logger.info({ vm: vm.name, moRef: vm.ref.value, disks: vm.disks.length }, "Found the VM");
    await removeLeftovers(client, vm.ref, logger);
    const cbt = await ensureChangeTracking(client, vm, spec.changedBlockTracking, logger);

    progress.phase("Snapshotting");
    const time = new Date();
    let snapshot: MoRef;
    try {
      snapshot = await client.createSnapshot(vm.ref, {
        name: snapshotName(spec.runId),
        description: `Lifeboat backup run ${spec.runId}; removed when the backup ends`,
        quiesce: spec.quiesce,
        signal: ctx.signal,
      });
    } catch (err) {
      throw new WorkerError(EXIT.snapshotFailed, `Could not snapshot VM "${vm.name}" (${vm.ref.value})${spec.quiesce ? " with quiescing (are VMware Tools running?)" : ""}`, { cause: err });
    }
    logger.info({ snapshot: snapshot.value, quiesce: spec.quiesce }, "Created the snapshot");

    let result: PointHeader | undefined;
    let failure: Error | undefined;
    try {
      result = await backupSnapshot(spec, ctx, { vault, client, vm, snapshot, time, cbt, points });
    } catch (err) {
      failure = err instanceof Error ? err : new Error(describeChain(err));
    }
    progress.phase("CleaningUp");
    try {
      await client.removeSnapshot(snapshot);
      logger.info({ snapshot: snapshot.value }, "Removed the snapshot");
    } catch (err) {
      logger.error({ snapshot: snapshot.value, err: describeChain(err) }, "Could not remove the snapshot; the next run removes it");
      if (failure === undefined) {
        failure = new WorkerError(EXIT.snapshotFailed, `Recovery point ${result?.id ?? "?"} is committed, but snapshot ${snapshot.value} could not be removed; a retry removes it`, { cause: err });
      }
    }
    if (failure !== undefined) throw failure;
    return result as PointHeader;
  } finally {
    await client?.close().catch(() => undefined);
    await vault.close().catch(() => undefined);
  }
}

/** Removes snapshots earlier attempts left on the VM (a killed worker never removed its own). */
async function removeLeftovers(client: VsphereClient, vm: MoRef, logger: Logger): Promise<void> {
  const { removed, failed } = await client.removeOrphanedSnapshots({ vms: [vm] });
  for (const s of removed) logger.info({ snapshot: s.ref.value, name: s.name, created: s.createTime.toISOString() }, "Removed a snapshot left behind by an earlier run");
  for (const f of failed) logger.warn({ snapshot: f.snapshot.ref.value, name: f.snapshot.name, err: describeChain(f.error) }, "Could not remove a snapshot left behind by an earlier run");
}

/** On the idempotent path: the committed run may have died before removing its snapshot. */
async function removeLeftoversBestEffort(spec: BackupWorkerSpec, ctx: RunContext): Promise<void> {
  let client: VsphereClient | undefined;
  try {
    client = await connect(connectOptionsFrom(spec.vcenter, ctx.env));
    const vm = await findVm(client, spec.vm);
    await removeLeftovers(client, vm.ref, ctx.logger);
  } catch (err) {
    ctx.logger.warn({ err: describeChain(err) }, "Could not look for snapshots left behind; the next run looks again");
  } finally {
    await client?.close().catch(() => undefined);
  }
}

/** Turns CBT on when asked and off; returns whether it is on. */
async function ensureChangeTracking(client: VsphereClient, vm: VirtualMachine, wanted: boolean, logger: Logger): Promise<boolean> {
  if (!wanted || vm.changeTrackingEnabled) return vm.changeTrackingEnabled;
  try {
    await client.setChangeTracking(vm.ref, true);
    logger.info({ vm: vm.name }, "Enabled changed block tracking; this backup reads the allocated areas, the next ones only the changes");
    return true;
  } catch (err) {
    logger.warn({ vm: vm.name, err: describeChain(err) }, "Could not enable changed block tracking; backing up whole disks");
    return false;
  }
}

interface SnapshotRun {
  readonly vault: Vault;
  readonly client: VsphereClient;
  readonly vm: VirtualMachine;
  readonly snapshot: MoRef;
  readonly time: Date;
  readonly cbt: boolean;
  readonly points: readonly PointHeader[];
}

async function backupSnapshot(spec: BackupWorkerSpec, ctx: RunContext, run: SnapshotRun): Promise<PointHeader> {
  const { client, vm, snapshot, vault } = run;
  const { logger } = ctx;
  const disks = await client.snapshotDisks(snapshot);
  if (disks.length === 0) throw new Error(`VM "${vm.name}" has no virtual disks to back up`);
  const labels = buildPointLabels(spec.labels, vm, disks, await nicNetworkNames(client, vm));
  const parent = run.cbt ? selectParent(run.points, spec.labels, disks.map((d) => String(d.key))) : undefined;
  const { plans, parentUsable } = await planDisks(client, vm.ref, snapshot, disks, parent, logger);
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
  try {
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
    ctx.progress.phase("Committing");
    const header = await session.commit();
    logger.info({ pointId: header.id, storedBytes: header.storedBytes }, "Committed the recovery point");
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
): Promise<{ plans: DiskPlan[]; parentUsable: boolean }> {
  const toExtents = (areas: { start: number; length: number }[]): Extent[] => areas.map((a) => ({ offset: a.start, length: a.length }));
  let parentUsable = parent !== undefined;
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
  return { plans, parentUsable };
}

/** Feeds the vault's progress into /progress and the per-disk counters. */
function progressSink(ctx: RunContext, vmName: string): (p: BackupProgress) => void {
  let last = { bytesNew: 0, bytesReused: 0, bytesFromParent: 0, bytesStored: 0 };
  return (p) => {
    const labels = { vm: vmName, disk: p.disk };
    ctx.metrics.bytesNew.inc(labels, p.bytesNew - last.bytesNew);
    ctx.metrics.bytesReused.inc(labels, p.bytesReused - last.bytesReused);
    ctx.metrics.bytesFromParent.inc(labels, p.bytesFromParent - last.bytesFromParent);
    ctx.metrics.bytesUploaded.inc(labels, p.bytesStored - last.bytesStored);
    last = { bytesNew: p.bytesNew, bytesReused: p.bytesReused, bytesFromParent: p.bytesFromParent, bytesStored: p.bytesStored };
    ctx.progress.bytes({ bytesDone: p.bytesRead, bytesTotal: p.bytesToRead, bytesUploaded: p.bytesStored });
  };
}
