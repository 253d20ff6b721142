/**
 * Backs up an Alibaba ECS instance into one recovery point (spec mode
 * ecsBackup), through the only door ECS opens on a disk's bytes from outside
 * the instance:
 *
 * 1. CreateSnapshot of every disk, tagged with the run (each disk is
 *    crash-consistent on its own; the disks are snapshotted one after the
 *    other, not as one group);
 * 2. CreateImage of the snapshots (system disk /dev/xvda, data disks at their
 *    devices), tagged and with a ClientToken;
 * 3. ExportImage into the bucket under a prefix of the server and run (ECS
 *    takes 1-30 letters and digits): one file per disk, named with
 *    `system`, or `data` and the device; QCOW2 is asked for, and the regions
 *    that do not honour ImageFormat write RAW, so each file's format is read
 *    from its first bytes;
 * 4. each file read by ranged GETs into the vault, which stores only the
 *    blocks it lacks: of a QCOW2 file only its allocated clusters (its L1
 *    and L2 tables say which), of a RAW file every byte (ECS has no
 *    changed-block API: every run reads whole disks);
 * 5. the files, the image and the snapshots deleted: on success, on failure
 *    and on SIGTERM.
 *
 * A retried worker finds its run's point, snapshots, image and export by the
 * run tag and the image's tasks, and goes on from there (after a kill; a
 * failed worker has deleted them, and its retry starts over: ClientTokens
 * carry a per-process nonce, so a retry never gets a deleted resource's id
 * back).
 */
import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type OSS from "ali-oss";
import { clientToken, DR_TAG, EcsDr, type DiskInfo, type Tags } from "../cloud/alibaba/ecs-dr.js";
import { deleteExports, exportPrefixes, exportTags, type ExportPlace } from "../cloud/alibaba/export-cleanup.js";
import { ossClient } from "../cloud/alibaba/oss-upload.js";
import { QCOW2_MAGIC, readQcow2Guest, readQcow2Map, type Qcow2Map, type ReadAt } from "../image/qcow2-map.js";
import { BackupSession, openVault, type PointHeader, type Vault } from "../vault/index.js";
import type { DiskSource, Extent } from "../vault/disk-io.js";
import type { RunContext } from "./backup-vm.js";
import { commitAfter, progressSink } from "./backup-vm.js";
import { vaultSpecFrom } from "./config.js";
import { describeChain, EXIT, WorkerError } from "./errors.js";
import { DEFAULT_LINEAGE, findRunPoint } from "./parent.js";
import { readWithAttempts } from "./snapshot-source.js";
import { SECRET_ENV, type EcsBackupWorkerSpec } from "./spec.js";

/** The exported file of a device: ECS names the system disk's file with `system`, a data disk's with `data` and its mount point. */
export function exportedFileOf(names: readonly string[], device: string): string | undefined {
  const short = device.replace(/^\/dev\//, "");
  if (short === "xvda") return names.find((n) => /system/i.test(n.split("/").pop() ?? ""));
  return names.find((n) => {
    const base = n.split("/").pop() ?? "";
    return /data/i.test(base) && new RegExp(`(^|[^a-z])${short}([^a-z]|$)`).test(base);
  });
}

const GiB = 1024 ** 3;
const READ_ATTEMPTS = 3;
const CLEANUP_MS = 3 * 60_000;

interface Cloud extends ExportPlace {
  readonly bucket: string;
  /** On everything any export run of this server makes. */
  readonly serverTags: Tags;
  /** On everything this run makes. */
  readonly tags: Tags;
  /** This server's OSS prefix, and this run's (which starts with it). */
  readonly serverPrefix: string;
  readonly prefix: string;
  /** Makes this process's ClientTokens its own: a retried worker must not get the ids of what a failed one deleted. */
  readonly nonce: string;
}

/** Runs the backup; resolves with the committed (or already existing) point. */
export async function backupEcsInstance(spec: EcsBackupWorkerSpec, ctx: RunContext): Promise<PointHeader> {
  const { logger } = ctx;
  const region = spec.instance.regionId;
  const credentials = { accessKeyId: ctx.env[SECRET_ENV.cloudAccessKeyId] ?? "", accessKeySecret: ctx.env[SECRET_ENV.cloudAccessKeySecret] ?? "" };
  const namespace = spec.labels.namespace ?? "";
  const server = spec.labels.protectedServer ?? spec.labels.vm ?? "";
  const prefixes = exportPrefixes(namespace, server, spec.runId);
  const cloud: Cloud = {
    ecs: new EcsDr(credentials, { [region]: { ecs: spec.ecsEndpoint } }),
    oss: ossClient({ regionId: region, bucket: spec.ossBucket, ...credentials, endpoint: spec.ossEndpoint }),
    region,
    bucket: spec.ossBucket,
    serverTags: exportTags(namespace, server),
    tags: exportTags(namespace, server, spec.runId),
    serverPrefix: prefixes.server,
    prefix: prefixes.run,
    nonce: randomUUID(),
  };
  const vault = await openVault(vaultSpecFrom(spec.vault, ctx.env, { threads: spec.threads, retry: ctx.vaultRetry, bootThreads: true }));
  try {
    const done = findRunPoint(await vault.listPoints(), spec.labels, spec.lineage ?? DEFAULT_LINEAGE);
    if (done) {
      logger.info({ pointId: done.id, run: spec.runId }, "Found the recovery point of this run already committed; not backing up again");
      ctx.progress.set({ pointId: done.id });
      return done;
    }
    // What an earlier run that failed or was killed left (a retry of this run goes on with its own).
    await deleteExports(cloud, { tags: cloud.serverTags, prefix: cloud.serverPrefix, keep: { runId: spec.runId, prefix: cloud.prefix } }).catch((err: unknown) => {
      logger.warn({ err: describeChain(err) }, "Could not delete what earlier export runs left; going on (the next run tries again)");
    });
    const files = await exportDisks(spec, ctx, cloud);
    return await readIntoVault(spec, ctx, cloud, vault, files);
  } catch (err) {
    throw err instanceof WorkerError ? err : new WorkerError(EXIT.cloudExportFailed, `Backing up ECS instance ${spec.instance.instanceId} in ${region} failed`, { cause: err });
  } finally {
    await deleteExports(cloud, { tags: cloud.tags, prefix: cloud.prefix, waitFor: AbortSignal.timeout(CLEANUP_MS) })
      .then(() => { logger.info({ prefix: cloud.prefix }, "Deleted the export's files, image and snapshots"); })
      .catch((err: unknown) => { logger.warn({ err: describeChain(err) }, "Could not delete everything the export made; the server's next export run, or the end of reverse replication, deletes it"); });
    await vault.close().catch(() => undefined);
  }
}

/** Snapshots, image, export: the exported file of each spec disk, with the ECS disk's size. */
async function exportDisks(spec: EcsBackupWorkerSpec, ctx: RunContext, cloud: Cloud): Promise<Map<string, { name: string; disk: DiskInfo }>> {
  const { ecs, region, tags, prefix } = cloud;
  const { logger } = ctx;
  const poll = (): Promise<void> => sleep(spec.pollIntervalMs ?? 5000, undefined, { signal: ctx.signal });
  ctx.progress.phase("Snapshotting");
  const disks = await ecs.instanceDisks(region, spec.instance.instanceId);
  const byDevice = new Map(disks.map((d) => [d.device, d]));
  for (const d of spec.disks) {
    if (!byDevice.has(d.device)) throw new WorkerError(EXIT.cloudExportFailed, `Instance ${spec.instance.instanceId} has no disk at ${d.device} (it has ${disks.map((x) => x.device).join(", ") || "none"})`);
  }
  const chosen = spec.disks.map((d) => byDevice.get(d.device) as DiskInfo);
  for (const d of spec.disks) {
    const disk = byDevice.get(d.device) as DiskInfo;
    if (disk.sizeGiB * GiB < d.sizeBytes) throw new WorkerError(EXIT.cloudExportFailed, `Disk ${disk.diskId} at ${d.device} of instance ${spec.instance.instanceId} has ${disk.sizeGiB} GiB, less than the ${d.sizeBytes} bytes of the disk it stands for (key ${d.key}): it is not that disk`);
  }
  const extra = disks.filter((x) => !spec.disks.some((d) => d.device === x.device));
  if (extra.length > 0) logger.warn({ disks: extra.map((x) => `${x.diskId} at ${x.device}`) }, "The instance has disks the server did not have in vSphere; they are not replicated back (a failback would not bring them)");
  const existing = new Map((await ecs.snapshotsTagged(region, tags)).map((s) => [s.tags[DR_TAG.device] ?? "", s.snapshotId]));
  const snapshots = new Map<string, string>();
  for (const d of chosen) {
    const id = existing.get(d.device) ?? (await ecs.createSnapshot(region, d.diskId, `lifeboat-export-${spec.runId}-${d.device.replace(/^\/dev\//, "")}`, { ...tags, [DR_TAG.device]: d.device }, clientToken(spec.runId, d.diskId, cloud.nonce)));
    snapshots.set(d.device, id);
  }
  logger.info({ instance: spec.instance.instanceId, snapshots: Object.fromEntries(snapshots) }, "Snapshotted the instance's disks");
  for (;;) {
    const states = await ecs.snapshotsById(region, [...snapshots.values()]);
    const failed = states.find((s) => s.status === "failed");
    if (failed) throw new WorkerError(EXIT.cloudExportFailed, `Snapshot ${failed.snapshotId} of instance ${spec.instance.instanceId} failed`);
    const gone = [...snapshots.values()].filter((id) => !states.some((s) => s.snapshotId === id));
    if (gone.length > 0) throw new WorkerError(EXIT.cloudExportFailed, `Snapshots ${gone.join(", ")} of instance ${spec.instance.instanceId} are gone`);
    if (states.length === snapshots.size && states.every((s) => s.status === "accomplished")) break;
    await poll();
  }

  const image = (await ecs.imagesTagged(region, tags))[0]?.imageId ?? (await ecs.createImageOfDisks(region, {
    name: `lifeboat-export-${spec.runId}`,
    description: `Lifeboat: the disks of instance ${spec.instance.instanceId}, to export to OSS (run ${spec.runId})`,
    disks: chosen.map((d) => ({ snapshotId: snapshots.get(d.device) ?? "", sizeGiB: d.sizeGiB, device: d.device, type: d.device === "/dev/xvda" ? "system" : "data" })),
    tags,
    token: clientToken(spec.runId, "image", cloud.nonce),
  }));
  for (;;) {
    const info = await ecs.image(region, image);
    if (info?.status === "Available") break;
    if (!info || info.status === "CreateFailed") throw new WorkerError(EXIT.cloudExportFailed, `Image ${image} of the snapshots ${info ? "failed (CreateFailed)" : "is gone"}`);
    await poll();
  }

  ctx.progress.phase("Transferring");
  const tasks = await ecs.exportTasks(region, image);
  const task = tasks.find((t) => t.status === "Processing" || t.status === "Finished")?.taskId ?? (await ecs.exportImage(region, image, cloud.bucket, prefix, "qcow2"));
  logger.info({ image, task, bucket: cloud.bucket, prefix }, "Exporting the image to OSS");
  for (;;) {
    const status = (await ecs.exportTasks(region, image)).find((t) => t.taskId === task)?.status;
    if (status === "Finished") break;
    if (status !== "Processing") throw new WorkerError(EXIT.cloudExportFailed, `ExportImage of ${image} ended ${status ?? "without a trace"}: ${await ecs.taskError(region, task).catch(() => "no reason given")}`);
    await poll();
  }
  const listed = await cloud.oss.listV2({ prefix, "max-keys": "1000" });
  const names = listed.objects.map((o) => o.name);
  const files = new Map<string, { name: string; disk: DiskInfo }>();
  for (const d of chosen) {
    const name = exportedFileOf(names, d.device);
    if (!name) throw new WorkerError(EXIT.cloudExportFailed, `The export of image ${image} has no file for ${d.device} (it wrote ${names.join(", ") || "nothing"})`);
    files.set(d.device, { name, disk: d });
  }
  return files;
}

/** An exported file as the worker reads it. */
type Opened = { readonly name: string; readonly size: number; readonly readAt: ReadAt } & ({ readonly format: "qcow2"; readonly map: Qcow2Map } | { readonly format: "raw" });

/**
 * Opens an exported file: QCOW2 (its map read) when it starts with QCOW2's
 * magic and its virtual size is the ECS disk's, else RAW (a RAW disk may
 * start with anything). `wanted` is the disk's size in the forward point.
 */
async function openExported(oss: OSS, name: string, disk: DiskInfo, wanted: number, ctx: RunContext): Promise<Opened> {
  const head = await oss.head(name);
  const objectSize = Number((head.res.headers as Record<string, string>)["content-length"] ?? 0);
  const readAt: ReadAt = async (offset, length) => {
    const buf = Buffer.alloc(Math.max(0, Math.min(length, objectSize - offset)));
    if (buf.length > 0) await readRange(oss, name, offset, buf, ctx);
    return buf;
  };
  const diskBytes = disk.sizeGiB * GiB;
  if ((await readAt(0, 4)).equals(QCOW2_MAGIC)) {
    const map = await readQcow2Map(readAt).catch(() => undefined);
    if (map?.virtualSize === diskBytes) {
      const beyond = map.extents.some((e) => e.guestOffset + e.length > wanted);
      return { format: "qcow2", name, size: beyond || !onlyRounding(wanted, diskBytes) ? diskBytes : wanted, map, readAt };
    }
  }
  if (objectSize !== diskBytes) throw new WorkerError(EXIT.cloudExportFailed, `Exported file ${name} has ${objectSize} bytes; disk ${disk.diskId} has ${diskBytes}`);
  return { format: "raw", name, size: onlyRounding(wanted, diskBytes) && (await zeroTail(oss, name, wanted, objectSize, ctx)) ? wanted : diskBytes, readAt };
}

/**
 * Whether an ECS disk is larger than the vSphere disk only by ECS's rounding
 * to whole GiB. Only then may the point keep the vSphere size (when the
 * rounding holds no data): a disk grown beyond that (ECS's minimum system
 * disk size, a resize) keeps its ECS size, since a partition table or
 * volume manager may claim the space even where it still reads as zeros.
 */
function onlyRounding(wanted: number, diskBytes: number): boolean {
  return diskBytes >= wanted && diskBytes - wanted < GiB;
}

/** Reads the exported files into one point. */
async function readIntoVault(spec: EcsBackupWorkerSpec, ctx: RunContext, cloud: Cloud, vault: Vault, files: Map<string, { name: string; disk: DiskInfo }>): Promise<PointHeader> {
  const { logger } = ctx;
  const opened = new Map<string, Opened>();
  for (const d of spec.disks) {
    const file = files.get(d.device);
    if (file) opened.set(d.device, await openExported(cloud.oss, file.name, file.disk, d.sizeBytes, ctx));
  }
  const extentsOf = (o: Opened): Extent[] | undefined =>
    o.format === "qcow2" ? o.map.extents.filter((e) => e.guestOffset < o.size).map((e) => ({ offset: e.guestOffset, length: Math.min(e.length, o.size - e.guestOffset) })) : undefined;
  const planned = [...opened.values()].reduce((sum, o) => sum + (extentsOf(o)?.reduce((a, e) => a + e.length, 0) ?? o.size), 0);
  const vmName = spec.labels.vm ?? spec.instance.instanceId;
  const session = await BackupSession.begin(vault, {
    labels: { ...spec.labels, ecsInstanceId: spec.instance.instanceId },
    consistency: "crash",
    time: new Date(),
    plannedBytes: planned,
    progressIntervalMs: 250,
    onProgress: progressSink(ctx, vmName),
  });
  ctx.progress.phase("Transferring", { bytesTotal: planned });
  logger.info({ pointId: session.id, plannedBytes: planned, formats: Object.fromEntries([...opened].map(([dev, o]) => [dev, o.format])) }, "Reading the exported disks into the vault");
  return commitAfter(session, ctx, async () => {
    for (const d of spec.disks) {
      const o = opened.get(d.device);
      if (!o) continue;
      const onRead = (n: number): void => { ctx.metrics.bytesRead.inc({ vm: vmName, disk: d.key }, n); };
      await session.backupDisk({ key: d.key, source: exportedSource(o, ctx, onRead), changedExtents: extentsOf(o) });
      logger.info({ disk: d.key, device: d.device, object: o.name, format: o.format }, "Backed up the disk");
    }
  });
}

/** Whether a RAW export reads as zeros from `from` to its end. */
async function zeroTail(oss: OSS, name: string, from: number, objectSize: number, ctx: RunContext): Promise<boolean> {
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  for (let at = from; at < objectSize; at += chunk.length) {
    const view = chunk.subarray(0, Math.min(chunk.length, objectSize - at));
    await readRange(oss, name, at, view, ctx);
    if (view.some((b) => b !== 0)) return false;
  }
  return true;
}

function readRange(oss: OSS, name: string, offset: number, view: Buffer, ctx: RunContext): Promise<void> {
  const open = async (): Promise<Readable> => (await oss.getStream(name, { headers: { Range: `bytes=${offset}-${offset + view.length - 1}` } })).stream as Readable;
  return readWithAttempts(open, view, READ_ATTEMPTS, ctx.signal, `${view.length} bytes at offset ${offset} of oss object ${name}`);
}

/** A DiskSource over an exported file, after the bandwidth limit: ranged GETs of what the vault asks for (of a QCOW2 file, only its stored runs). */
function exportedSource(file: Opened, ctx: RunContext, onRead: (bytes: number) => void): DiskSource {
  return {
    size: file.size,
    async readInto(buffer, offset) {
      const length = Math.min(buffer.length, file.size - offset);
      if (length <= 0) return;
      await ctx.bandwidth.take(length, ctx.signal);
      const view = buffer.subarray(0, length);
      if (file.format === "qcow2") await readQcow2Guest(file.map, file.readAt, view, offset);
      else (await file.readAt(offset, length)).copy(view);
      onRead(length);
    },
    close: () => Promise.resolve(),
  };
}
