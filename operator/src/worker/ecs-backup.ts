/**
 * Backs up an Alibaba ECS instance into one recovery point (spec mode
 * ecsBackup), through the only door ECS opens on a disk's bytes from outside
 * the instance:
 *
 * 1. CreateSnapshot of every disk, tagged with the run, ClientToken per disk
 *    (crash-consistent: the snapshots are requested together);
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
 * run tag and the image's tasks, and goes on from there.
 */
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type OSS from "ali-oss";
import { clientToken, DR_TAG, EcsDr, type DiskInfo, type Tags } from "../cloud/alibaba/ecs-dr.js";
import { ossClient } from "../cloud/alibaba/oss-upload.js";
import { createHash } from "node:crypto";
import { QCOW2_MAGIC, readQcow2Guest, readQcow2Map, type Qcow2Map, type ReadAt } from "../image/qcow2-map.js";
import { BackupSession, openVault, type PointHeader, type Vault } from "../vault/index.js";
import type { DiskSource, Extent } from "../vault/disk-io.js";
import type { RunContext } from "./backup-vm.js";
import { progressSink } from "./backup-vm.js";
import { vaultSpecFrom } from "./config.js";
import { describeChain, EXIT, WorkerError } from "./errors.js";
import { DEFAULT_LINEAGE, findRunPoint } from "./parent.js";
import { streamInto } from "./snapshot-source.js";
import { SECRET_ENV, type EcsBackupWorkerSpec } from "./spec.js";

/**
 * The OSS prefixes of a server's exports and of one run's: ExportImage takes
 * a prefix of 1 to 30 letters and digits, so they are hashes (`lbx`, 10
 * characters of the server, 16 of the run).
 */
const hash = (...parts: string[]): string => createHash("sha256").update(parts.join("\0")).digest("hex");

export function exportPrefixes(labels: Readonly<Record<string, string>>, runId: string): { server: string; run: string } {
  const server = `lbx${hash(labels.namespace ?? "", labels.protectedServer ?? labels.vm ?? "").slice(0, 10)}`;
  return { server, run: `${server}${hash(runId).slice(0, 16)}` };
}

/** The exported file of a device: ECS names the system disk's file with `system`, a data disk's with `data` and its mount point. */
export function exportedFileOf(names: readonly string[], device: string): string | undefined {
  const short = device.replace(/^\/dev\//, "");
  if (short === "xvda") return names.find((n) => /system/i.test(n.split("/").pop() ?? ""));
  return names.find((n) => {
    const base = n.split("/").pop() ?? "";
    return /data/i.test(base) && new RegExp(`(^|[^a-z])${short}([^a-z]|$)`).test(base);
  });
}

const READ_ATTEMPTS = 3;
const CLEANUP_MS = 3 * 60_000;

interface Cloud {
  readonly ecs: EcsDr;
  readonly oss: OSS;
  readonly region: string;
  readonly bucket: string;
  /** On everything any export run of this server makes. */
  readonly serverTags: Tags;
  /** On everything this run makes. */
  readonly tags: Tags;
  /** This server's folder, and this run's in it. */
  readonly serverPrefix: string;
  readonly prefix: string;
}

/** Runs the backup; resolves with the committed (or already existing) point. */
export async function backupEcsInstance(spec: EcsBackupWorkerSpec, ctx: RunContext): Promise<PointHeader> {
  const { logger } = ctx;
  const region = spec.instance.regionId;
  const credentials = { accessKeyId: ctx.env[SECRET_ENV.cloudAccessKeyId] ?? "", accessKeySecret: ctx.env[SECRET_ENV.cloudAccessKeySecret] ?? "" };
  const serverTags = { [DR_TAG.server]: `${spec.labels.namespace ?? ""}/${spec.labels.protectedServer ?? spec.labels.vm ?? ""}`, [DR_TAG.role]: "export" };
  const prefixes = exportPrefixes(spec.labels, spec.runId);
  const cloud: Cloud = {
    ecs: new EcsDr(credentials, { [region]: { ecs: spec.ecsEndpoint } }),
    oss: ossClient({ regionId: region, bucket: spec.ossBucket, ...credentials, endpoint: spec.ossEndpoint }),
    region,
    bucket: spec.ossBucket,
    serverTags,
    tags: { ...serverTags, [DR_TAG.point]: spec.runId },
    serverPrefix: prefixes.server,
    prefix: prefixes.run,
  };
  const vault = await openVault(vaultSpecFrom(spec.vault, ctx.env, spec.threads));
  try {
    const done = findRunPoint(await vault.listPoints(), spec.labels, spec.lineage ?? DEFAULT_LINEAGE);
    if (done) {
      logger.info({ pointId: done.id, run: spec.runId }, "Found the recovery point of this run already committed; not backing up again");
      ctx.progress.set({ pointId: done.id });
      return done;
    }
    // What an earlier run that failed left (a retry of this run goes on with its own).
    await cleanUp(cloud, ctx, spec.runId);
    const files = await exportDisks(spec, ctx, cloud);
    return await readIntoVault(spec, ctx, cloud, vault, files);
  } catch (err) {
    throw err instanceof WorkerError ? err : new WorkerError(EXIT.cloudExportFailed, `Backing up ECS instance ${spec.instance.instanceId} in ${region} failed`, { cause: err });
  } finally {
    await cleanUp(cloud, ctx).catch((err: unknown) => { logger.warn({ err: describeChain(err) }, "Could not delete everything the export made; the server's next export run deletes it"); });
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
  const existing = new Map((await ecs.snapshotsTagged(region, tags)).map((s) => [s.tags[DR_TAG.device] ?? "", s.snapshotId]));
  const snapshots = new Map<string, string>();
  for (const d of chosen) {
    const id = existing.get(d.device) ?? (await ecs.createSnapshot(region, d.diskId, `lifeboat-export-${spec.runId}-${d.device.replace(/^\/dev\//, "")}`, { ...tags, [DR_TAG.device]: d.device }, clientToken(spec.runId, d.diskId)));
    snapshots.set(d.device, id);
  }
  logger.info({ instance: spec.instance.instanceId, snapshots: Object.fromEntries(snapshots) }, "Snapshotted the instance's disks");
  for (;;) {
    const states = await ecs.snapshotsById(region, [...snapshots.values()]);
    const failed = states.find((s) => s.status === "failed");
    if (failed) throw new WorkerError(EXIT.cloudExportFailed, `Snapshot ${failed.snapshotId} of instance ${spec.instance.instanceId} failed`);
    if (states.length === snapshots.size && states.every((s) => s.status === "accomplished")) break;
    await poll();
  }

  const image = (await ecs.imagesTagged(region, tags))[0]?.imageId ?? (await ecs.createImageOfDisks(region, {
    name: `lifeboat-export-${spec.runId}`,
    description: `Lifeboat: the disks of instance ${spec.instance.instanceId}, to export to OSS (run ${spec.runId})`,
    disks: chosen.map((d) => ({ snapshotId: snapshots.get(d.device) ?? "", sizeGiB: d.sizeGiB, device: d.device, type: d.device === "/dev/xvda" ? "system" : "data" })),
    tags,
    token: clientToken(spec.runId, "image"),
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
type Opened =
  | { readonly format: "qcow2"; readonly name: string; readonly size: number; readonly map: Qcow2Map }
  | { readonly format: "raw"; readonly name: string; readonly size: number };

/** Opens an exported file: QCOW2 (its map read) or RAW, told by its first bytes; `wanted` is the disk's size in the forward point. */
async function openExported(oss: OSS, name: string, wanted: number, ctx: RunContext): Promise<Opened> {
  const head = await oss.head(name);
  const objectSize = Number((head.res.headers as Record<string, string>)["content-length"] ?? 0);
  const readAt: ReadAt = async (offset, length) => {
    const buf = Buffer.alloc(Math.max(0, Math.min(length, objectSize - offset)));
    if (buf.length > 0) await readRange(oss, name, offset, buf, ctx);
    return buf;
  };
  const magic = await readAt(0, 4);
  if (magic.equals(QCOW2_MAGIC)) {
    const map = await readQcow2Map(readAt);
    // The ECS disk is whole GiB: the point keeps the vSphere size unless data lies beyond it.
    const beyond = map.extents.some((e) => e.guestOffset + e.length > wanted);
    return { format: "qcow2", name, size: beyond || map.virtualSize < wanted ? map.virtualSize : wanted, map };
  }
  return { format: "raw", name, size: await keptSize(oss, name, wanted, objectSize, ctx) };
}

/** Reads the exported files into one point. */
async function readIntoVault(spec: EcsBackupWorkerSpec, ctx: RunContext, cloud: Cloud, vault: Vault, files: Map<string, { name: string; disk: DiskInfo }>): Promise<PointHeader> {
  const { logger } = ctx;
  const opened = new Map<string, Opened>();
  for (const d of spec.disks) {
    const file = files.get(d.device);
    if (file) opened.set(d.device, await openExported(cloud.oss, file.name, d.sizeBytes, ctx));
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
  try {
    for (const d of spec.disks) {
      const o = opened.get(d.device);
      if (!o) continue;
      const onRead = (n: number): void => { ctx.metrics.bytesRead.inc({ vm: vmName, disk: d.key }, n); };
      await session.backupDisk({ key: d.key, source: exportedSource(cloud.oss, o, ctx, onRead), changedExtents: extentsOf(o) });
      logger.info({ disk: d.key, device: d.device, object: o.name, format: o.format }, "Backed up the disk");
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
 * The size the point keeps of a disk exported as RAW: the size it had in
 * vSphere when the ECS disk only rounds it up to whole GiB and the rounding
 * holds zeros, else the ECS disk's whole size (the server grew its disk in
 * the cloud).
 */
async function keptSize(oss: OSS, name: string, wanted: number, objectSize: number, ctx: RunContext): Promise<number> {
  if (objectSize <= wanted) return objectSize;
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  for (let at = wanted; at < objectSize; at += chunk.length) {
    const view = chunk.subarray(0, Math.min(chunk.length, objectSize - at));
    await readRange(oss, name, at, view, ctx);
    if (view.some((b) => b !== 0)) {
      ctx.logger.warn({ object: name, wanted, objectSize }, "The cloud disk holds data past the original disk's size; keeping the cloud disk's whole size");
      return objectSize;
    }
  }
  return wanted;
}

async function readRange(oss: OSS, name: string, offset: number, view: Buffer, ctx: RunContext): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    ctx.signal.throwIfAborted();
    try {
      const out = await oss.getStream(name, { headers: { Range: `bytes=${offset}-${offset + view.length - 1}` } });
      await streamInto(out.stream as Readable, view);
      return;
    } catch (err) {
      if (attempt >= READ_ATTEMPTS || ctx.signal.aborted) throw new Error(`Reading ${view.length} bytes at offset ${offset} of oss object ${name} failed`, { cause: err });
    }
  }
}

/** A DiskSource over an exported file, after the bandwidth limit: ranged GETs of what the vault asks for (of a QCOW2 file, only its stored runs). */
function exportedSource(oss: OSS, file: Opened, ctx: RunContext, onRead: (bytes: number) => void): DiskSource {
  const readAt: ReadAt = async (offset, length) => {
    const buf = Buffer.alloc(length);
    await readRange(oss, file.name, offset, buf, ctx);
    return buf;
  };
  return {
    size: file.size,
    async readInto(buffer, offset) {
      const length = Math.min(buffer.length, file.size - offset);
      if (length <= 0) return;
      await ctx.bandwidth.take(length, ctx.signal);
      const view = buffer.subarray(0, length);
      if (file.format === "qcow2") await readQcow2Guest(file.map, readAt, view, offset);
      else await readRange(oss, file.name, offset, view, ctx);
      onRead(length);
    },
    close: () => Promise.resolve(),
  };
}

/**
 * Deletes the exported files, images and snapshots of this server's export
 * runs (also after SIGTERM, within the grace period); `except` keeps one
 * run's, which a retried worker goes on with.
 */
async function cleanUp(cloud: Cloud, ctx: RunContext, except?: string): Promise<void> {
  const deadline = AbortSignal.timeout(CLEANUP_MS);
  const { ecs, region } = cloud;
  const keep = (tags: Tags): boolean => except !== undefined && tags[DR_TAG.point] === except;
  const listed = await cloud.oss.listV2({ prefix: cloud.serverPrefix, "max-keys": "1000" });
  const kept = except === undefined ? undefined : cloud.prefix;
  for (const o of listed.objects) if (kept === undefined || !o.name.startsWith(kept)) await cloud.oss.delete(o.name);
  for (const image of await ecs.imagesTagged(region, cloud.serverTags)) {
    if (keep(image.tags)) continue;
    // An image being exported cannot be deleted yet: wait for the task to end.
    while (!deadline.aborted && (await ecs.exportTasks(region, image.imageId)).some((t) => t.status === "Processing")) await sleep(2000);
    await ecs.deleteImage(region, image.imageId);
  }
  for (const s of await ecs.snapshotsTagged(region, cloud.serverTags)) if (!keep(s.tags)) await ecs.deleteSnapshot(region, s.snapshotId);
  if (except === undefined) ctx.logger.info({ prefix: cloud.prefix }, "Deleted the export's files, image and snapshots");
}
