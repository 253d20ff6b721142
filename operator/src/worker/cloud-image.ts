/**
 * Restores a recovery point as an Alibaba ECS custom image (RestoreJob
 * spec.target.cloudImage, strategy ImportImage), the way Alibaba documents
 * importing a VM's disks:
 *
 * 1. each disk of the point is written as an image file (RAW, VHD or QCOW2,
 *    its virtual size rounded up to whole GiB as ECS wants) straight from the
 *    vault into the OSS bucket, one multipart upload per disk, no local copy;
 * 2. ImportImage with one DiskDeviceMapping per disk (the first disk is the
 *    system disk), the guest's OS type, platform, architecture and boot mode
 *    (from the point's guest id and firmware unless the spec says), tagged
 *    `lifeboat.io/restore=<restoreId>` and with the restore id as ClientToken;
 * 3. DescribeImages follows the image to Available (or CreateFailed), with
 *    its progress; DescribeImages lists only Available images unless asked,
 *    so every look names the states it wants;
 * 4. the staged objects are deleted, on success, on failure and on SIGTERM
 *    (a deleted RestoreJob); a failed or cancelled import's image is deleted
 *    too (an importing image cannot be: its task is cancelled first).
 *
 * A retried worker finds the image its first attempt started by the tag and
 * follows it instead of importing twice.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type OSS from "ali-oss";
import { guestFromVSphere, type EcsGuest } from "../cloud/alibaba/guest-os.js";
import { CloudApiError, EcsApi } from "../cloud/alibaba/ecs-api.js";
import { ossClient, uploadObject } from "../cloud/alibaba/oss-upload.js";
import { cleanUpRestore, describeImages, nothingLeft, RESTORE_TAG, stagingPrefix, type Leftovers } from "../cloud/alibaba/restore-cleanup.js";
import { Ecs } from "../cloud/alibaba/sdk.js";
import { imageFileName, type ImageFormat } from "../image/formats.js";
import { imageSizeBound } from "../image/writer.js";
import type { PointDisk } from "../vault/index.js";
import type { RunContext } from "./backup-vm.js";
import { describeChain, EXIT, WorkerError } from "./errors.js";
import { orderedDisks } from "./labels.js";
import type { DiskRestorer, Point } from "./restore-point.js";
import { SECRET_ENV, type CloudImageWorkerTarget } from "./spec.js";
import { defaultTrust } from "./trust.js";

export const GiB = 1024 ** 3;
/** How long the worker's clean-up may take; after SIGTERM, within the pod's grace period. */
const CLEANUP_MS = 3 * 60_000;
const CLEANUP_AFTER_SIGTERM_MS = 20_000;
/** ImportImage takes at most one system disk and 16 data disks. */
const MAX_DISKS = 17;

const FORMATS: Readonly<Record<CloudImageWorkerTarget["format"], ImageFormat>> = { RAW: "raw", VHD: "vhd", QCOW2: "qcow2" };

/** What the restore made. */
export interface CloudImageResult {
  readonly imageId: string;
}

/** The image attributes: the spec's overrides, else what the point says about the guest. */
export function imageGuest(point: Point, target: CloudImageWorkerTarget): EcsGuest {
  const guest = guestFromVSphere(point.header.labels.guestOS, point.header.labels.firmware);
  return {
    osType: target.osType ?? guest.osType,
    platform: target.platform ?? guest.platform,
    architecture: target.architecture ?? guest.architecture,
    bootMode: target.bootMode ?? guest.bootMode,
  };
}

/** The device name ECS gives an image's n-th disk: the system disk is /dev/xvda. */
export function deviceName(index: number): string {
  return `/dev/xvd${String.fromCharCode(97 + index)}`;
}

/** The ECS client (retries logged, aborted with the run) and the staging bucket's OSS clients of a restore: one for its calls, one for the presigned URLs of an IntermediateInstance's guest. */
export function cloudClients(target: CloudImageWorkerTarget, ctx: RunContext): { ecs: EcsApi; oss: OSS; presigner: OSS } {
  const accessKeyId = ctx.env[SECRET_ENV.cloudAccessKeyId] ?? "";
  const accessKeySecret = ctx.env[SECRET_ENV.cloudAccessKeySecret] ?? "";
  const ecs = new EcsApi(
    { regionId: target.regionId, accessKeyId, accessKeySecret, endpoint: target.ecsEndpoint, ca: defaultTrust(ctx.env) },
    { signal: ctx.signal, onRetry: (what, err, delayMs) => {
      ctx.logger.warn({ call: what, err: describeChain(err), delayMs }, "ECS call will be retried");
    } },
  );
  const connection = { regionId: target.regionId, bucket: target.ossBucket, accessKeyId, accessKeySecret, endpoint: target.ossEndpoint };
  // The temporary instance downloads inside the region: a V4 URL's signature does not cover the host, so any endpoint serves it.
  const guestEndpoint = target.intermediateInstance?.ossEndpoint ?? `https://oss-${target.regionId}-internal.aliyuncs.com`;
  return { ecs, oss: ossClient(connection), presigner: ossClient({ ...connection, endpoint: guestEndpoint }, true) };
}

/** The ECS and OSS clients of one restore, as `makeImage` hands them to a strategy. */
export type CloudClients = ReturnType<typeof cloudClients>;

/** How one strategy makes the image: what it can take, how it starts the image, and what to say if ECS fails it. */
export interface ImageStrategy {
  /** The most disks it takes, and what to say about more. */
  readonly maxDisks: number;
  readonly tooManyDisks: string;
  /** Stages the disks and starts the image; returns its id. */
  readonly start: (disks: readonly PointDisk[], clients: CloudClients) => Promise<string>;
  /** What to check when the image ends CreateFailed. */
  readonly failureHint: string;
  /** Names the strategy in a wrapped failure. */
  readonly how: string;
}

/**
 * The frame both strategies share: follow an image an earlier attempt of
 * this restore started (found by tag), or clean up what such an attempt left
 * and start one; follow it to Available; delete everything else it made;
 * on failure (SIGTERM included) delete everything it made.
 */
export async function makeImage(restore: DiskRestorer, point: Point, target: CloudImageWorkerTarget, ctx: RunContext, strategy: ImageStrategy): Promise<CloudImageResult> {
  const disks = orderedDisks(point.header);
  if (disks.length === 0) throw new WorkerError(EXIT.cloudImageFailed, `Point ${point.header.id} has no disks to make an image of`);
  if (disks.length > strategy.maxDisks) throw new WorkerError(EXIT.cloudImageFailed, `Point ${point.header.id} has ${disks.length} disks; ${strategy.tooManyDisks}: restore to image files instead`);
  const clients = cloudClients(target, ctx);
  const { ecs, oss } = clients;
  try {
    restore.setDisks(disks);
    let imageId: string;
    const earlier = (await describeImages(ecs, target.regionId, { restoreId: target.restoreId })).find((i) => i.status === "Creating" || i.status === "Waiting" || i.status === "Available");
    if (earlier) {
      ctx.logger.info({ imageId: earlier.imageId, status: earlier.status }, "Found the image an earlier attempt of this restore started; following it");
      imageId = earlier.imageId;
    } else {
      // What a failed earlier attempt left goes first (ECS refuses a second image of the same name).
      await cleanUp(ecs, oss, target, undefined, ctx);
      ctx.progress.phase("Transferring");
      imageId = await strategy.start(disks, clients);
    }
    ctx.progress.set({ imageId });
    ctx.progress.phase("Committing");
    await followImage(ecs, imageId, target, ctx, strategy.failureHint);
    await cleanUp(ecs, oss, target, imageId, ctx);
    return { imageId };
  } catch (err) {
    // Nothing half-made stays.
    await cleanUp(ecs, oss, target, undefined, ctx);
    throw err instanceof WorkerError ? err : new WorkerError(EXIT.cloudImageFailed, `Restoring point ${point.header.id} as ECS image ${target.imageName} in ${target.regionId} ${strategy.how} failed`, { cause: err });
  }
}

/** Restores the point as an ECS image through ImportImage; returns its id once Available. */
export function restoreToCloudImage(restore: DiskRestorer, point: Point, target: CloudImageWorkerTarget, ctx: RunContext): Promise<CloudImageResult> {
  return makeImage(restore, point, target, ctx, {
    maxDisks: MAX_DISKS,
    tooManyDisks: `an ECS image holds at most ${MAX_DISKS} (a system disk and 16 data disks)`,
    how: "through ImportImage",
    failureHint: "check that the files' format matches spec.target.cloudImage.format and that the guest is one ECS supports (see the ImportImage task in the console)",
    start: async (disks, { ecs, oss }) => {
      const objects = await stageDisks(restore, point, disks, target, oss, ctx, FORMATS[target.format]);
      const started = await importImage(ecs, point, disks, objects, target);
      ctx.logger.info({ imageId: started.imageId, taskId: started.taskId, image: target.imageName }, "ECS is importing the image");
      return started.imageId;
    },
  });
}

/**
 * Deletes what this restore made except `keep` (the finished image), under
 * its own time budget: it also runs after SIGTERM aborted the restore, inside
 * the pod's grace period. What it cannot delete the RestoreJob's clean-up
 * deletes when the RestoreJob goes.
 */
export async function cleanUp(ecs: EcsApi, oss: OSS, target: CloudImageWorkerTarget, keep: string | undefined, ctx: RunContext): Promise<void> {
  // After SIGTERM the pod has TERMINATION_GRACE_MS (25 s) left; otherwise a deleting instance may take a while.
  const budgetMs = ctx.signal.aborted ? CLEANUP_AFTER_SIGTERM_MS : CLEANUP_MS;
  const signal = AbortSignal.timeout(budgetMs);
  const api = new EcsApi(ecs.connection, { signal, waitIntervalMs: 2_000 });
  let left: Leftovers | undefined;
  let failure: unknown;
  while (!signal.aborted) {
    try {
      left = await cleanUpRestore(api, oss, target.regionId, target.restoreId, keep);
      failure = undefined;
      if (nothingLeft(left)) return;
    } catch (err) {
      failure = err;
    }
    await sleep(3_000, undefined, { signal }).catch(() => undefined);
  }
  if (failure !== undefined) ctx.logger.error({ restoreId: target.restoreId, err: describeChain(failure) }, "Could not clean up this restore's cloud resources; the RestoreJob's clean-up deletes what is tagged with its id when it is deleted");
  else ctx.logger.warn({ ...left }, "Some of this restore's cloud resources are still there; the RestoreJob's clean-up deletes them when it is deleted");
}

/** Uploads each disk as an image file of `format` into the bucket; returns the object keys in disk order. */
export async function stageDisks(restore: DiskRestorer, point: Point, disks: readonly PointDisk[], target: CloudImageWorkerTarget, oss: OSS, ctx: RunContext, format: ImageFormat): Promise<string[]> {
  const keys: string[] = [];
  for (const disk of disks) {
    const key = `${stagingPrefix(target.restoreId)}${imageFileName(point.header.labels.vm ?? "vm", disk.key, format)}`;
    const virtualSize = Math.ceil(disk.size / GiB) * GiB;
    ctx.logger.info({ disk: disk.key, to: `oss://${target.ossBucket}/${key}`, format, virtualSize }, "Staging the disk in OSS");
    await restore.toImage(disk, format, async (image, signal) => {
      try {
        await uploadObject(image.stream, { client: oss, key, maxSize: image.imageSize ?? imageSizeBound(virtualSize), signal });
      } catch (err) {
        throw new WorkerError(EXIT.cloudImageFailed, `Uploading disk ${disk.key} to oss://${target.ossBucket}/${key} failed`, { cause: err });
      }
    }, { virtualSize });
    keys.push(key);
  }
  return keys;
}

async function importImage(ecs: EcsApi, point: Point, disks: readonly PointDisk[], objects: readonly string[], target: CloudImageWorkerTarget): Promise<{ imageId: string; taskId?: string | undefined }> {
  const guest = imageGuest(point, target);
  const request = new Ecs.ImportImageRequest({
    regionId: target.regionId,
    imageName: target.imageName,
    description: `Restored by Lifeboat from recovery point ${point.header.id} of VM ${point.header.labels.vm ?? "?"}`,
    OSType: guest.osType,
    platform: guest.platform,
    architecture: guest.architecture,
    bootMode: guest.bootMode,
    clientToken: target.restoreId,
    tag: [new Ecs.ImportImageRequestTag({ key: RESTORE_TAG, value: target.restoreId })],
    diskDeviceMapping: disks.map((disk, i) => new Ecs.ImportImageRequestDiskDeviceMapping({
      device: deviceName(i),
      format: target.format,
      OSSBucket: target.ossBucket,
      OSSObject: objects[i],
      diskImageSize: Math.ceil(disk.size / GiB),
    })),
  });
  const out = await ecs.call(`ImportImage ${target.imageName}`, (runtime) => ecs.sdk.importImageWithOptions(request, runtime));
  const imageId = out.body?.imageId;
  if (!imageId) throw new CloudApiError("NoImageId", out.statusCode, `ImportImage ${target.imageName} answered without an ImageId (request ${out.body?.requestId ?? "?"})`);
  return { imageId, taskId: out.body?.taskId };
}

/** Polls the image until Available; CreateFailed or its disappearance fail the restore (`hint` says what to check). */
export async function followImage(ecs: EcsApi, imageId: string, target: CloudImageWorkerTarget, ctx: RunContext, hint: string): Promise<void> {
  const interval = target.pollIntervalMs ?? 5_000;
  let last = "";
  for (;;) {
    ctx.signal.throwIfAborted();
    const [image] = await describeImages(ecs, target.regionId, { imageId });
    if (!image) throw new WorkerError(EXIT.cloudImageFailed, `Image ${imageId} (${target.imageName}) disappeared while ECS imported it; was it deleted by hand?`);
    const seen = `${image.status} ${image.progress ?? ""}`;
    if (seen !== last) {
      ctx.logger.info({ imageId, status: image.status, progress: image.progress }, "Image progress");
      last = seen;
    }
    const percent = Number.parseInt(image.progress ?? "", 10);
    ctx.progress.set({ ...(Number.isFinite(percent) ? { message: `image ${imageId} ${image.status} ${percent}%` } : {}) });
    if (image.status === "Available") return;
    if (image.status === "CreateFailed" || image.status === "UnAvailable") {
      throw new WorkerError(EXIT.cloudImageFailed, `ECS could not ${target.strategy === "ImportImage" ? "import" : "make"} image ${imageId} (${target.imageName}): it is ${image.status}; ${hint}`);
    }
    await sleep(interval, undefined, { signal: ctx.signal });
  }
}
