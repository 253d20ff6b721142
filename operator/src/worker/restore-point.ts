/**
 * Restores one recovery point: to raw image files (in a directory or as
 * objects in an S3 bucket), to a new VM, or over the
 * disks of the original VM (in place). Every block is verified by the vault
 * engine (authenticated decryption, then its keyed hash) before it is
 * written; disks stream, so memory stays bounded whatever their size.
 */
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { imageFileName, type ImageFormat } from "../image/formats.js";
import { createImageStream, imageSizeBound, type ImageStream } from "../image/writer.js";
import { isVaultError, openDiskTarget, openVault, restoreDisk, type PointDisk, type RestoreProgress, type RunEncoding, type Vault } from "../vault/index.js";
import { HOLE, blockAt } from "../vault/manifest.js";
import type { BlockIndex } from "../vault/block-index.js";
import { capturedDisksInVmOrder, type CreateVmSpec, type Inventory, type MoRef, type VirtualMachine, type VmDisk, type VsphereClient } from "../vsphere/index.js";
import type { RunContext } from "./backup-vm.js";
import { vaultSpecFrom } from "./config.js";
import { EXIT, InvalidSpecError, WorkerError } from "./errors.js";
import { networksOf, numberLabel, orderedDisks } from "./labels.js";
import { resolveNics, resolvePlacement, type VSphereTarget } from "./placement.js";
import { carriesRestoreId, restoreAnnotation } from "./restore-identity.js";
import type { RestoreWorkerSpec } from "./spec.js";
import { SequentialTarget } from "./stream-target.js";
import { connectWaiting } from "./vcenter-outage.js";
import { findVm } from "./vm-lookup.js";

/** What a restore produced. */
export interface RestoreResult {
  readonly pointId: string;
  readonly paths?: string[];
  readonly vmMoRef?: string;
  /** A cloud image's id. */
  readonly imageId?: string;
}

/** A point read for restore: header and block lists. */
export type Point = Awaited<ReturnType<Vault["readPoint"]>>;


/** The point `pointId` names ("latest" or an id prefix too); WorkerError(PointNotFound) when the vault has no such point. */
export async function readRequestedPoint(vault: Vault, pointId: string): Promise<Point> {
  try {
    return await vault.readPoint(await vault.resolvePoint(pointId));
  } catch (err) {
    if (isVaultError(err, "NotFound") || isVaultError(err, "InvalidArgument")) {
      throw new WorkerError(EXIT.pointNotFound, `Recovery point ${pointId} is not in the vault at ${vault.backend.location}`, { cause: err });
    }
    throw err;
  }
}

/** Runs the restore. */
export async function restorePoint(spec: RestoreWorkerSpec, ctx: RunContext): Promise<RestoreResult> {
  const vault = await openVault(vaultSpecFrom(spec.vault, ctx.env, { retry: ctx.vaultRetry, bootThreads: true }));
  try {
    const point = await readRequestedPoint(vault, spec.pointId);
    ctx.progress.set({ pointId: point.header.id });
    ctx.logger.info({ pointId: point.header.id, vm: point.header.labels.vm, disks: point.header.disks.length }, "Read the recovery point");
    const { index } = await vault.loadIndex();
    const restore = new DiskRestorer(vault, point, index, ctx);
    if ("imageFile" in spec.target) {
      const paths = await restoreToFiles(restore, point, spec.target.imageFile, ctx);
      return { pointId: point.header.id, paths };
    }
    if ("cloudImage" in spec.target) {
      const cloud = spec.target.cloudImage;
      // Loaded for this target only: the Alibaba Cloud SDKs take seconds to load, and every other restore would pay for them.
      const { imageId } = cloud.strategy === "IntermediateInstance"
        ? await (await import("./cloud-image-instance.js")).restoreThroughInstance(restore, point, cloud, ctx)
        : await (await import("./cloud-image.js")).restoreToCloudImage(restore, point, cloud, ctx);
      return { pointId: point.header.id, imageId };
    }
    const vmMoRef = await restoreToVSphere(restore, point, spec.target.vSphere, ctx);
    return { pointId: point.header.id, vmMoRef };
  } finally {
    await vault.close().catch(() => undefined);
  }
}

/** Restores disks one after the other and keeps the progress over all of them. */
export class DiskRestorer {
  private finishedBytes = 0;
  private totalBytes = 0;
  /** Bytes sent to the target so far (an import's compressed VMDKs), when the target counts them. */
  bytesSent = 0;

  constructor(
    private readonly vault: Vault,
    private readonly point: Point,
    private readonly index: BlockIndex,
    private readonly ctx: RunContext,
  ) {}

  /** The disks this restore writes, for the progress total. */
  setDisks(disks: readonly PointDisk[]): void {
    this.totalBytes = disks.reduce((s, d) => s + d.size, 0);
    this.ctx.progress.set({ bytesTotal: this.totalBytes });
  }

  private onProgress = (p: RestoreProgress): void => {
    this.report(p.bytesDone);
  };

  /** Reports `bytesOfDisk` done of the disk being restored. */
  private report(bytesOfDisk: number): void {
    this.ctx.progress.bytes({ bytesDone: this.finishedBytes + bytesOfDisk, bytesTotal: this.totalBytes, bytesUploaded: this.bytesSent });
  }

  /** Records the bytes the target has taken in all (shown as bytesUploaded: what crossed the network). */
  sent(bytes: number): void {
    this.bytesSent = bytes;
  }

  /** Restores one disk to a file. */
  async toFile(disk: PointDisk, path: string): Promise<void> {
    const target = await openDiskTarget(path, disk.size);
    try {
      await restoreDisk(this.vault, this.point.header.id, disk.key, target, { index: this.index, onProgress: this.onProgress });
    } finally {
      await target.close();
    }
    this.done(disk);
  }

  /**
   * Restores one disk as a stream to `upload`, which must consume all of it.
   * The progress follows the vault's reads, unless `uploadProgress` is set:
   * then the upload reports its acknowledged bytes through the `uploaded`
   * callback it gets (an S3 part counts once the bucket has it).
   */
  async toStream(
    disk: PointDisk,
    upload: (stream: SequentialTarget, signal: AbortSignal, uploaded: (bytes: number) => void) => Promise<void>,
    options: { uploadProgress?: boolean; mode?: "bytes" | "pieces"; encoding?: RunEncoding | undefined } = {},
  ): Promise<void> {
    const target = new SequentialTarget({
      size: disk.size,
      blockSize: this.point.header.blockSize,
      isHole: this.isHole(disk),
      bandwidth: this.ctx.bandwidth,
      signal: this.ctx.signal,
      mode: options.mode ?? "bytes",
      encoding: options.encoding,
    });
    // Either side failing stops the other: a broken vault read aborts the upload, a refused upload stops the reads.
    const stop = new AbortController();
    const signal = AbortSignal.any([this.ctx.signal, stop.signal]);
    let uploadedBytes = 0;
    const uploaded = (bytes: number): void => {
      uploadedBytes += bytes;
      this.report(uploadedBytes);
    };
    const uploading = upload(target, signal, uploaded).catch((err: unknown) => {
      target.fail(err);
      throw err;
    });
    const onProgress = options.uploadProgress ? undefined : this.onProgress;
    const restoring = restoreDisk(this.vault, this.point.header.id, disk.key, target, { index: this.index, onProgress })
      .then(() => target.close())
      .catch((err: unknown) => {
        target.fail(err);
        stop.abort(err);
        throw err;
      });
    const [u, r] = await Promise.allSettled([uploading, restoring]);
    // The upload's error when the vault only stopped because the upload did (its error is caused by it)...
    if (u.status === "rejected" && r.status === "rejected" && causedBy(r.reason, u.reason)) throw u.reason;
    // ...else the vault's error when both failed (the upload saw only a broken stream).
    if (r.status === "rejected") throw r.reason;
    if (u.status === "rejected") throw u.reason;
    this.done(disk);
  }

  /**
   * Restores one disk as an image file of `format` (not raw to a file: that
   * is toFile, sparse and in place): the writer gets the disk's data pieces,
   * holes left out, and `write` consumes the image's bytes.
   */
  async toImage(
    disk: PointDisk,
    format: ImageFormat,
    write: (image: ImageStream, signal: AbortSignal) => Promise<void>,
    options: { virtualSize?: number } = {},
  ): Promise<void> {
    const isHole = this.isHole(disk);
    const image = createImageStream(format, {
      size: disk.size,
      blockSize: this.point.header.blockSize,
      allocated: (b: number) => !isHole(b),
      ...(options.virtualSize !== undefined ? { virtualSize: options.virtualSize } : {}),
    });
    await this.toStream(
      disk,
      async (t, signal) => {
        // The pieces flow into the writer; `write` drains its output. Either failing stops both.
        const feeding = pipeline(t.stream, image.stream, { end: true }).catch((err: unknown) => {
          image.stream.destroy(err instanceof Error ? err : new Error(String(err)));
          throw err;
        });
        const writing = write(image, signal);
        await Promise.all([feeding, writing]);
      },
      // The progress follows the vault's reads: an image's bytes are not the disk's.
      // A VMDK's grains are encoded by the vault's threads as they decode the blocks.
      { mode: "pieces", encoding: format === "vmdk" ? "vmdkGrains" : undefined },
    );
  }

  private isHole(disk: PointDisk): (block: number) => boolean {
    const ids = this.point.blockLists.get(disk.key) as Buffer;
    return (b) => blockAt(ids, b).equals(HOLE);
  }

  private done(disk: PointDisk): void {
    this.finishedBytes += disk.size;
    const labels = { vm: this.point.header.labels.vm ?? "", disk: disk.key };
    this.ctx.metrics.bytesRestored.inc(labels, disk.size);
    this.ctx.progress.bytes({ bytesDone: this.finishedBytes, bytesTotal: this.totalBytes, bytesUploaded: this.bytesSent });
    this.ctx.logger.info({ disk: disk.key, bytes: disk.size }, "Restored the disk");
  }
}

/** True if `cause` is `err` or in its cause chain. */
function causedBy(err: unknown, cause: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 12 && current !== undefined; depth++) {
    if (current === cause) return true;
    current = current instanceof Error ? current.cause : undefined;
  }
  return false;
}

async function restoreToFiles(
  restore: DiskRestorer,
  point: Point,
  target: ImageTarget,
  ctx: RunContext,
): Promise<string[]> {
  const keys = target.diskKeys?.map(String);
  const missing = (keys ?? []).filter((k) => !point.header.disks.some((d) => d.key === k));
  if (missing.length > 0) throw new InvalidSpecError(`spec.target.imageFile.diskKeys names disks the point does not have: ${missing.join(", ")} (it has ${point.header.disks.map((d) => d.key).join(", ")})`);
  const disks = orderedDisks(point.header).filter((d) => !keys || keys.includes(d.key));
  restore.setDisks(disks);
  if (target.s3) return restoreToBucket(restore, point, disks, target, target.s3, ctx);
  // config.ts guarantees exactly one of path and s3.
  const dir = target.path as string;
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new WorkerError(EXIT.restoreTargetFailed, `Could not create the directory ${dir}`, { cause: err });
  }
  ctx.progress.phase("Transferring");
  const paths: string[] = [];
  for (const disk of disks) {
    const path = join(dir, imageFileName(point.header.labels.vm ?? "vm", disk.key, target.format));
    if (target.format === "raw") await restore.toFile(disk, path);
    else await restore.toImage(disk, target.format, (image) => writeImageFile(image, path));
    paths.push(path);
    ctx.progress.set({ paths: [...paths] });
  }
  return paths;
}

type ImageTarget = Extract<RestoreWorkerSpec["target"], { imageFile: unknown }>["imageFile"];

/** Writes an image's bytes to a new file at `path` (replacing one an earlier attempt left), synced before it counts as written. */
async function writeImageFile(image: ImageStream, path: string): Promise<void> {
  try {
    await pipeline(image.stream, createWriteStream(path, { flags: "w", flush: true }));
  } catch (err) {
    throw new WorkerError(EXIT.restoreTargetFailed, `Writing the image file ${path} failed`, { cause: err });
  }
}

/**
 * Uploads each disk, in disk order, as one raw object to the bucket; returns
 * their s3://bucket/key URLs. The progress counts bytes the bucket has
 * acknowledged, so it does not run ahead of what a reader could download.
 */
async function restoreToBucket(restore: DiskRestorer, point: Point, disks: readonly PointDisk[], target: ImageTarget, bucket: NonNullable<ImageTarget["s3"]>, ctx: RunContext): Promise<string[]> {
  // The AWS SDK loads here, not with the worker: most restores never need it, and it adds about 0.1 s to every worker's start.
  let s3: typeof import("./s3-image.js");
  try {
    s3 = await import("./s3-image.js");
  } catch (err) {
    throw new WorkerError(EXIT.restoreTargetFailed, `Could not load the S3 client (the AWS SDK) for the image bucket ${bucket.bucket}`, { cause: err });
  }
  const { imageClient, imageObjectKey, uploadImage } = s3;
  const client = imageClient(bucket, ctx.env);
  try {
    ctx.progress.phase("Transferring");
    const urls: string[] = [];
    for (const disk of disks) {
      const key = imageObjectKey(bucket.prefix, imageFileName(point.header.labels.vm ?? "vm", disk.key, target.format));
      const url = `s3://${bucket.bucket}/${key}`;
      ctx.logger.info({ disk: disk.key, to: url, endpoint: bucket.endpoint, bytes: disk.size, format: target.format }, "Restoring the disk to the bucket");
      const failed = (err: unknown): WorkerError => new WorkerError(EXIT.restoreTargetFailed, `Uploading disk ${disk.key} to ${url}${bucket.endpoint ? ` at ${bucket.endpoint}` : ""} failed`, { cause: err });
      if (target.format === "raw") {
        await restore.toStream(disk, async (t, signal, uploaded) => {
          await uploadImage(t.stream, { client, bucket: bucket.bucket, key, size: disk.size, signal, onUploaded: uploaded }).catch((err: unknown) => { throw failed(err); });
        }, { uploadProgress: true });
      } else {
        await restore.toImage(disk, target.format, async (image, signal) => {
          // A compressed image's length is known only at its end; a bound on it sizes the parts.
          const size = image.imageSize === undefined ? { maxSize: imageSizeBound(disk.size) } : { size: image.imageSize };
          await uploadImage(image.stream, { client, bucket: bucket.bucket, key, ...size, signal, onUploaded: () => undefined }).catch((err: unknown) => { throw failed(err); });
        });
      }
      urls.push(url);
      ctx.progress.set({ paths: [...urls] });
    }
    return urls;
  } finally {
    client.destroy();
  }
}

async function restoreToVSphere(restore: DiskRestorer, point: Point, target: VSphereTarget, ctx: RunContext): Promise<string> {
  const client = await connectWaiting(target.vcenter, ctx);
  try {
    const disks = orderedDisks(point.header);
    restore.setDisks(disks);
    if (target.inPlace) return await restoreInPlace(client, restore, point, disks, target, ctx);
    return await restoreToNewVm(client, restore, point, disks, target, ctx);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Uploads each point disk to the VM disk paired with it. */
async function uploadDisks(client: VsphereClient, vm: MoRef, restore: DiskRestorer, pairs: readonly { disk: PointDisk; vmDisk: VmDisk }[], ctx: RunContext): Promise<void> {
  ctx.progress.phase("Transferring");
  for (const { disk, vmDisk } of pairs) {
    const location = await client.diskLocation(vm, vmDisk);
    ctx.logger.info({ disk: disk.key, to: vmDisk.fileName, bytes: disk.size }, "Restoring the disk");
    await restore.toStream(disk, async (t, signal) => {
      try {
        await client.uploadDisk(location, t.stream, disk.size, { signal });
      } catch (err) {
        throw new WorkerError(EXIT.restoreTargetFailed, `Uploading disk ${disk.key} to ${vmDisk.fileName} failed`, { cause: err });
      }
    });
  }
}

/**
 * Makes room for the new VM: a VM of that name in the target folder is
 * refused, unless it carries this restore's id, i.e. an earlier attempt of
 * this very restore created it and was killed before it finished: that one
 * is destroyed, so the retry starts over.
 */
async function clearEarlierAttempt(client: VsphereClient, inv: Inventory, folder: MoRef, target: VSphereTarget, ctx: RunContext): Promise<void> {
  const name = target.vmName as string;
  const taken = inv.vms.filter((v) => v.name === name && v.folder?.value === folder.value);
  for (const vm of taken) {
    if (!target.restoreId || !carriesRestoreId(vm.annotation, target.restoreId)) {
      throw new WorkerError(EXIT.restoreTargetFailed, `A VM named "${name}" (${vm.ref.value}) already exists in the target folder${target.restoreId ? ` and was not created by restore ${target.restoreId}` : ""}; choose another spec.target.vSphere.vmName or delete it`);
    }
    ctx.logger.warn({ vm: name, moRef: vm.ref.value, restoreId: target.restoreId }, "Found the VM an earlier attempt of this restore left; destroying it to start over");
    if (vm.powerState !== "poweredOff") await client.powerOff(vm.ref);
    try {
      await client.destroyVm(vm.ref);
    } catch (err) {
      throw new WorkerError(EXIT.restoreTargetFailed, `Could not destroy VM "${name}" (${vm.ref.value}) left by an earlier attempt of restore ${target.restoreId}`, { cause: err });
    }
    ctx.logger.info({ vm: name, moRef: vm.ref.value }, "Destroyed the VM an earlier attempt left");
  }
}

async function restoreToNewVm(client: VsphereClient, restore: DiskRestorer, point: Point, disks: PointDisk[], target: VSphereTarget, ctx: RunContext): Promise<string> {
  const name = target.vmName as string;
  const labels = point.header.labels;
  const inv = await client.inventory();
  const placement = resolvePlacement(inv, target);
  const nics = resolveNics(inv, placement.datacenter, networksOf(labels), target.networkMappings, target.requireNetworkMapping ?? false);
  for (const d of disks) {
    if (d.size % 1024 !== 0) throw new WorkerError(EXIT.restoreTargetFailed, `Disk ${d.key} has ${d.size} bytes, not a whole number of KiB; restore it to an image file instead`);
  }
  await clearEarlierAttempt(client, inv, placement.folder, target, ctx);
  const firmware = labels.firmware === "efi" || labels.firmware === "bios" ? labels.firmware : undefined;
  const numCpu = target.numCpu ?? numberLabel(labels, "numCPUs");
  const memoryMB = target.memoryMB ?? numberLabel(labels, "memoryMiB");
  const annotation = restoreAnnotation(target.annotation, target.restoreId);
  const spec: CreateVmSpec = {
    name,
    folder: placement.folder,
    resourcePool: placement.resourcePool,
    ...(placement.host ? { host: placement.host } : {}),
    datastoreName: placement.datastoreName,
    ...(labels.guestOS ? { guestId: labels.guestOS } : {}),
    ...(annotation ? { annotation } : {}),
    ...(numCpu ? { numCpu } : {}),
    ...(memoryMB ? { memoryMB } : {}),
    ...(firmware ? { firmware } : {}),
    disks: disks.map((d) => ({ capacityBytes: d.size, thin: target.diskProvisioning === "Thin" })),
    nics,
  };
  ctx.progress.phase("Transferring");
  ctx.logger.info({ vm: name, restoreId: target.restoreId, disks: disks.map((d) => ({ key: d.key, bytes: d.size })) }, "Importing the VM with its disks as stream-optimized VMDKs");
  // Each disk's VMDK is written from the vault as the lease takes it; a vault failure ends the stream, which aborts the import.
  const restoring: Promise<void>[] = [];
  const streams: Readable[] = [];
  const sources = disks.map((disk) => () => new Promise<Readable>((resolve, reject) => {
    const done = restore.toImage(disk, "vmdk", async (image) => {
      streams.push(image.stream);
      resolve(image.stream);
      await finished(image.stream);
    });
    done.catch(reject);
    restoring.push(done);
  }));
  let vmRef: MoRef;
  try {
    vmRef = await client.importVm(spec, sources, {
      signal: ctx.signal,
      logger: ctx.logger,
      onProgress: (p) => {
        restore.sent(p.bytesSent);
      },
    });
    await Promise.all(restoring);
  } catch (err) {
    // A stream the failed import no longer reads ends here, so its vault reads stop too.
    for (const stream of streams) stream.destroy(err instanceof Error ? err : new Error(String(err)));
    // The vault's error, when it is why the upload stopped.
    const vault = (await Promise.allSettled(restoring)).find((r): r is PromiseRejectedResult => r.status === "rejected" && !causedBy(r.reason, err));
    const cause: unknown = vault ? vault.reason : err;
    throw cause instanceof WorkerError ? cause : new WorkerError(EXIT.restoreTargetFailed, `Importing VM "${name}" on datastore ${placement.datastoreName} failed`, { cause });
  }
  ctx.progress.set({ vmMoRef: vmRef.value });
  ctx.logger.info({ vm: name, moRef: vmRef.value, restoreId: target.restoreId, bytesSent: restore.bytesSent, diskBytes: disks.reduce((n, d) => n + d.size, 0) }, "Imported the VM");
  if (target.powerOn) {
    ctx.progress.phase("CleaningUp");
    try {
      await client.powerOn(vmRef);
    } catch (err) {
      throw new WorkerError(EXIT.restoreTargetFailed, `VM "${name}" (${vmRef.value}) was restored but did not power on`, { cause: err });
    }
    ctx.logger.info({ vm: name }, "Powered the VM on");
  }
  return vmRef.value;
}

/**
 * Pairs each point disk with a disk of the VM: by key on the VM the point was
 * taken of, by order (controller, unit) on another VM (spec targetVm: a
 * failback into the original VM from a point of the recovered one, whose
 * device keys differ). Capacities must match either way. A disk a snapshot
 * leaves out (independent, physical-mode RDM) is in no point, so it is never
 * paired and never written.
 */
function pairDisks(vm: VirtualMachine, disks: readonly PointDisk[], byOrder: boolean): { disk: PointDisk; vmDisk: VmDisk }[] {
  const ordered = capturedDisksInVmOrder(vm.disks);
  if (byOrder && ordered.length !== disks.length) {
    throw new WorkerError(EXIT.restoreTargetFailed, `VM "${vm.name}" has ${ordered.length} disks a snapshot captures but the point has ${disks.length}; restore to a new VM instead`);
  }
  return disks.map((disk, i) => {
    const vmDisk = byOrder ? ordered[i] : vm.disks.find((d) => String(d.key) === disk.key);
    if (!vmDisk) throw new WorkerError(EXIT.restoreTargetFailed, `VM "${vm.name}" has no disk ${disk.key} any more; restore to a new VM instead`);
    if (vmDisk.capacityBytes !== disk.size) {
      throw new WorkerError(EXIT.restoreTargetFailed, `Disk ${vmDisk.key} of VM "${vm.name}" has ${vmDisk.capacityBytes} bytes but the point's disk ${disk.key} has ${disk.size}; restore to a new VM instead`);
    }
    return { disk, vmDisk };
  });
}

async function restoreInPlace(client: VsphereClient, restore: DiskRestorer, point: Point, disks: PointDisk[], target: VSphereTarget, ctx: RunContext): Promise<string> {
  const labels = point.header.labels;
  const other = target.targetVm;
  const vm = await findVm(client, other ?? { name: labels.vm ?? "", moRef: labels.vmMoRef });
  if (!other && labels.vmInstanceUUID && vm.instanceUuid && labels.vmInstanceUUID !== vm.instanceUuid) {
    throw new WorkerError(EXIT.restoreTargetFailed, `VM ${vm.ref.value} is not the VM the point was taken of (instance UUID ${vm.instanceUuid}, point has ${labels.vmInstanceUUID}); restore to a new VM instead`);
  }
  await client.removeOrphanedSnapshots({ vms: [vm.ref] });
  const snapshots = await client.listSnapshots(vm.ref);
  if (snapshots.length > 0) {
    throw new WorkerError(EXIT.restoreTargetFailed, `VM "${vm.name}" has ${snapshots.length} snapshot(s) (${snapshots.map((s) => s.name).join(", ")}); delete them before restoring in place`);
  }
  const pairs = pairDisks(vm, disks, other !== undefined);
  ctx.progress.set({ vmMoRef: vm.ref.value });
  if (other) ctx.logger.info({ vm: vm.name, moRef: vm.ref.value, pairs: pairs.map((p) => `${p.disk.key}->${p.vmDisk.key}`) }, "Restoring in place into another VM than the point's, disks paired in order");
  if (vm.powerState !== "poweredOff") {
    await client.powerOff(vm.ref);
    ctx.logger.info({ vm: vm.name }, "Powered the VM off for the in-place restore");
  }
  await uploadDisks(client, vm.ref, restore, pairs, ctx);
  if (target.powerOn) {
    await client.powerOn(vm.ref);
    ctx.logger.info({ vm: vm.name }, "Powered the VM on");
  }
  return vm.ref.value;
}
