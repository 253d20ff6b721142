/**
 * Restores a recovery point as an Alibaba ECS custom image through a
 * temporary instance (RestoreJob spec.target.cloudImage, strategy
 * IntermediateInstance; seed 000): for guests ECS's import does not take, and
 * without ECS's import checks.
 *
 * 1. each disk of the point is staged in OSS as a stream-optimized VMDK
 *    (compressed, zeros left out), straight from the vault;
 * 2. RunInstances starts a temporary instance, tagged
 *    `lifeboat.io/restore=<restoreId>`, with one new data disk per VM disk
 *    (its size rounded up to whole GiB, at least 20 GiB, ECS's smallest data
 *    disk) and user data that runs Lifeboat's guest program (guest-write.ts)
 *    with presigned URLs: a GET per staged disk and a PUT for the result. The
 *    instance gets no AccessKey and no vault key;
 * 3. the guest lays each image onto its disk and PUTs its result, which this
 *    worker polls for (with the instance's state: an instance that stops or
 *    vanishes without a result fails the restore);
 * 4. the instance is stopped, each disk snapshotted (followed to
 *    accomplished), and CreateImage makes the image from the snapshots with
 *    the guest's platform, architecture and boot mode; the first disk is the
 *    system disk;
 * 5. the instance (its disks go with it) and the staged files are deleted.
 *    The snapshots stay: they are the image's storage, and ECS refuses to
 *    delete them while the image exists. On failure or SIGTERM everything
 *    tagged goes, the image and its snapshots included.
 *
 * A retried worker follows an image its first attempt started; anything else
 * an attempt left is deleted and the restore starts over.
 */
import { createHash, randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import Ecs from "@alicloud/ecs20140526";
import type OSS from "ali-oss";
import { CloudApiError, type EcsApi } from "../cloud/alibaba/ecs-api.js";
import { RESTORE_TAG, stagingPrefix } from "../cloud/alibaba/restore-cleanup.js";
import type { PointDisk } from "../vault/index.js";
import type { RunContext } from "./backup-vm.js";
import { deviceName, GiB, imageGuest, makeImage, stageDisks, type CloudImageResult } from "./cloud-image.js";
import { EXIT, WorkerError } from "./errors.js";
import type { GuestResult, GuestWriteSpec } from "./guest-write.js";
import type { DiskRestorer, Point } from "./restore-point.js";
import type { CloudImageWorkerTarget, IntermediateInstanceWorkerSpec } from "./spec.js";

/** RunInstances takes at most 16 data disks. */
const MAX_DISKS = 16;
/** The smallest data disk ECS makes in the categories the API offers. */
const MIN_DISK_GIB = 20;
/** ECS takes at most 32 KiB of user data (base64). */
const MAX_USER_DATA = 32 * 1024;
/** A presigned URL lives at most 7 days. */
const MAX_URL_SECONDS = 7 * 24 * 3600;
/** How long an instance may take to reach Running or Stopped. */
const INSTANCE_STATE_TIMEOUT_MS = 10 * 60_000;
/** How long a just-created instance may be missing from DescribeInstances. */
const LISTING_GRACE_MS = 60_000;

/** The size in GiB of the cloud disk (and the image's disk) for a VM disk. */
export function cloudDiskGiB(sizeBytes: number): number {
  return Math.max(MIN_DISK_GIB, Math.ceil(sizeBytes / GiB));
}

/**
 * One attempt of the restore (a worker pod): its ClientTokens and its guest's
 * result key. A retried worker deletes what an earlier attempt left and
 * starts over with new tokens (ECS answers IdempotentParameterMismatch to an
 * old token with new parameters) and a result key no earlier guest knows.
 */
interface Attempt {
  readonly restoreId: string;
  readonly nonce: string;
}

/** A ClientToken (at most 64 ASCII characters) naming one creation of this attempt, so a retried call makes nothing twice. */
function clientToken(attempt: Attempt, what: string): string {
  return createHash("sha256").update(`${attempt.restoreId}/${attempt.nonce}/${what}`).digest("hex").slice(0, 40);
}

/** The key of this attempt's guest result in the staging bucket. */
function resultKey(attempt: Attempt): string {
  return `${stagingPrefix(attempt.restoreId)}guest-result-${attempt.nonce}.json`;
}

/** The device the n-th VM disk has on the temporary instance: data disks from /dev/xvdb (xvda is its own system disk). */
function instanceDevice(index: number): string {
  return deviceName(index + 1);
}

/**
 * The instance's user data: a shell script that feeds the spec to the guest
 * command. It holds presigned URLs to this restore's staged files and no
 * credentials; whoever may read the instance's user data (ecs:DescribeUserData)
 * could fetch the staged disks until the URLs expire.
 */
export function guestUserData(command: string, spec: GuestWriteSpec): string {
  // The guest program reports its own failures (exit 1); a command that could not run it (no Docker, no
  // image: exit 125-127, ...) is reported here, so the restore fails at once instead of at its timeout.
  const failed: GuestResult = { restoreId: spec.restoreId, attempt: spec.attempt, ok: false, disks: [], error: "guestCommand failed with exit code CODE before the guest program reported (see the console output of the instance)" };
  const [before, after] = JSON.stringify(failed).split("CODE");
  const script = [
    "#!/bin/sh",
    `# Lifeboat restore ${spec.restoreId}: writes the staged disks onto this instance's data disks and reports.`,
    "# No credentials here: presigned URLs to this restore's staged files only.",
    `${command} <<'LIFEBOAT_GUEST_SPEC'`,
    JSON.stringify(spec),
    "LIFEBOAT_GUEST_SPEC",
    "code=$?",
    'if [ "$code" -ne 0 ] && [ "$code" -ne 1 ]; then',
    `  curl -fsS --retry 5 -X PUT -H 'Content-Type: application/json' --data '${before ?? ""}'"$code"'${after ?? ""}' '${spec.resultUrl}'`,
    "fi",
    "",
  ].join("\n");
  return Buffer.from(script).toString("base64");
}

/** Restores the point as an ECS image through a temporary instance; returns the image id once Available. */
export function restoreThroughInstance(restore: DiskRestorer, point: Point, target: CloudImageWorkerTarget, ctx: RunContext): Promise<CloudImageResult> {
  const instance = target.intermediateInstance;
  if (!instance) return Promise.reject(new WorkerError(EXIT.invalidSpec, "Strategy IntermediateInstance needs spec.target.cloudImage.intermediateInstance"));
  return makeImage(restore, point, target, ctx, {
    maxDisks: MAX_DISKS,
    tooManyDisks: `a temporary instance takes at most ${MAX_DISKS} data disks`,
    how: "through a temporary instance",
    failureHint: "ECS could not make it from the temporary disks' snapshots, which the restore deletes with everything else it made; try again, or use strategy ImportImage",
    start: async (disks, { ecs, oss, presigner }) => {
      const attempt: Attempt = { restoreId: target.restoreId, nonce: randomBytes(4).toString("hex") };
      const objects = await stageDisks(restore, point, disks, target, oss, ctx, "vmdk");
      const instanceId = await launchInstance(ecs, presigner, attempt, disks, objects, target, instance, ctx);
      await awaitGuest(ecs, oss, attempt, instanceId, disks, target, instance, ctx);
      ctx.progress.phase("Committing");
      const snapshots = await snapshotDisks(ecs, attempt, instanceId, disks, target, instance, ctx);
      // The image needs the snapshots only: the instance and its disks go now rather than bill while ECS makes it.
      await deleteInstance(ecs, instanceId);
      const imageId = await createImage(ecs, attempt, point, disks, snapshots, target);
      ctx.logger.info({ imageId, snapshots, image: target.imageName }, "ECS is making the image from the disks' snapshots");
      return imageId;
    },
  });
}

/** Starts the temporary instance with one data disk per VM disk and the guest in its user data; returns its id once Running with its disks. */
async function launchInstance(ecs: EcsApi, presigner: OSS, attempt: Attempt, disks: readonly PointDisk[], objects: readonly string[], target: CloudImageWorkerTarget, instance: IntermediateInstanceWorkerSpec, ctx: RunContext): Promise<string> {
  const expires = Math.min(MAX_URL_SECONDS, Math.ceil(instance.guestTimeoutMs / 1000) + 3600);
  const spec: GuestWriteSpec = {
    restoreId: target.restoreId,
    attempt: attempt.nonce,
    disks: await Promise.all(disks.map(async (disk, i) => ({
      key: disk.key,
      device: instanceDevice(i),
      sizeBytes: disk.size,
      url: await presigner.signatureUrlV4("GET", expires, undefined, objects[i] ?? ""),
    }))),
    resultUrl: await presigner.signatureUrlV4("PUT", expires, { headers: { "Content-Type": "application/json" } }, resultKey(attempt)),
  };
  const userData = guestUserData(instance.guestCommand, spec);
  if (userData.length > MAX_USER_DATA) throw new WorkerError(EXIT.cloudImageFailed, `The temporary instance's user data would be ${userData.length} bytes, over ECS's ${MAX_USER_DATA}; shorten spec.target.cloudImage.intermediateInstance.guestCommand`);
  const request = new Ecs.RunInstancesRequest({
    regionId: target.regionId,
    imageId: instance.imageId,
    instanceType: instance.instanceType,
    vSwitchId: instance.vSwitchId,
    securityGroupId: instance.securityGroupId,
    ...(instance.zoneId ? { zoneId: instance.zoneId } : {}),
    instanceName: `lifeboat-${target.restoreId}`.slice(0, 128),
    description: `Temporary instance of Lifeboat restore ${target.restoreId}: writes the point's disks for image ${target.imageName}; deleted when the restore ends`,
    amount: 1,
    userData,
    clientToken: clientToken(attempt, "RunInstances"),
    tag: [new Ecs.RunInstancesRequestTag({ key: RESTORE_TAG, value: target.restoreId })],
    dataDisk: disks.map((disk) => new Ecs.RunInstancesRequestDataDisk({ size: cloudDiskGiB(disk.size), category: instance.diskCategory, deleteWithInstance: true })),
  });
  const out = await ecs.call(`RunInstances for restore ${target.restoreId}`, (runtime) => ecs.sdk.runInstancesWithOptions(request, runtime));
  const instanceId = out.body?.instanceIdSets?.instanceIdSet?.[0];
  if (!instanceId) throw new CloudApiError("NoInstanceId", out.statusCode, `RunInstances answered without an instance id (request ${out.body?.requestId ?? "?"})`);
  ctx.logger.info({ instanceId, disks: disks.map((d, i) => ({ key: d.key, device: instanceDevice(i), sizeGiB: cloudDiskGiB(d.size) })) }, "Started the temporary instance");
  ctx.progress.set({ message: `temporary instance ${instanceId} starting` });
  await waitForInstance(ecs, instanceId, target, ctx, "Running");
  // Its data disks must be where the guest was told they are.
  const attached = await instanceDisks(ecs, target.regionId, instanceId);
  for (const [i, disk] of disks.entries()) {
    const device = instanceDevice(i);
    const found = attached.find((d) => d.device === device);
    if (!found || (found.size ?? 0) < cloudDiskGiB(disk.size)) throw new WorkerError(EXIT.cloudImageFailed, `Temporary instance ${instanceId} has no ${cloudDiskGiB(disk.size)} GiB disk at ${device} for disk ${disk.key} (it has ${attached.map((d) => `${d.device} ${d.size} GiB`).join(", ")})`);
  }
  return instanceId;
}

/** The instance's status, or undefined when it is gone. */
async function instanceStatus(ecs: EcsApi, regionId: string, instanceId: string): Promise<string | undefined> {
  const request = new Ecs.DescribeInstancesRequest({ regionId, instanceIds: JSON.stringify([instanceId]) });
  const out = await ecs.call(`DescribeInstances ${instanceId}`, (runtime) => ecs.sdk.describeInstancesWithOptions(request, runtime));
  return out.body?.instances?.instance?.find((i) => i.instanceId === instanceId)?.status;
}

async function waitForInstance(ecs: EcsApi, instanceId: string, target: CloudImageWorkerTarget, ctx: RunContext, wanted: "Running" | "Stopped"): Promise<void> {
  const started = Date.now();
  for (;;) {
    const status = await instanceStatus(ecs, target.regionId, instanceId);
    if (status === wanted) return;
    // A new instance may take a moment to be listed (ECS's lists are eventually consistent).
    if (status === undefined && Date.now() - started > LISTING_GRACE_MS) throw new WorkerError(EXIT.cloudImageFailed, `Temporary instance ${instanceId} disappeared; was it deleted by hand?`);
    if (Date.now() - started > INSTANCE_STATE_TIMEOUT_MS) throw new WorkerError(EXIT.cloudImageFailed, `Temporary instance ${instanceId} is still ${status ?? "not listed"} after ${INSTANCE_STATE_TIMEOUT_MS / 60_000} minutes, not ${wanted}`);
    await sleep(target.pollIntervalMs ?? 5_000, undefined, { signal: ctx.signal });
  }
}

async function instanceDisks(ecs: EcsApi, regionId: string, instanceId: string): Promise<{ diskId: string; device: string; size: number | undefined }[]> {
  const request = new Ecs.DescribeDisksRequest({ regionId, instanceId, diskType: "data", pageSize: 100 });
  const out = await ecs.call(`DescribeDisks of ${instanceId}`, (runtime) => ecs.sdk.describeDisksWithOptions(request, runtime));
  return (out.body?.disks?.disk ?? []).flatMap((d) => (d.diskId && d.device ? [{ diskId: d.diskId, device: d.device, size: d.size }] : []));
}

/** This attempt's guest result, or undefined while it has not reported. */
async function guestResult(oss: OSS, attempt: Attempt): Promise<GuestResult | undefined> {
  let text: string;
  try {
    text = ((await oss.get(resultKey(attempt))).content as Buffer).toString("utf8");
  } catch (err) {
    if ((err as { code?: string }).code === "NoSuchKey" || (err as { status?: number }).status === 404) return undefined;
    throw err;
  }
  const parsed = JSON.parse(text) as Partial<GuestResult> | null;
  if (!parsed || typeof parsed.ok !== "boolean" || parsed.restoreId !== attempt.restoreId || parsed.attempt !== attempt.nonce || !Array.isArray(parsed.disks)) {
    throw new WorkerError(EXIT.cloudImageFailed, `The guest's report ${resultKey(attempt)} is not this attempt's result: ${text.slice(0, 200)}`);
  }
  return parsed as GuestResult;
}

/** Waits for the guest's report; fails on its failure, on a stopped or vanished instance, or after the timeout. */
async function awaitGuest(ecs: EcsApi, oss: OSS, attempt: Attempt, instanceId: string, disks: readonly PointDisk[], target: CloudImageWorkerTarget, instance: IntermediateInstanceWorkerSpec, ctx: RunContext): Promise<void> {
  const deadline = Date.now() + instance.guestTimeoutMs;
  ctx.progress.set({ message: `temporary instance ${instanceId} is writing ${disks.length} disk(s)` });
  for (;;) {
    const result = await guestResult(oss, attempt);
    if (result) {
      if (!result.ok) throw new WorkerError(EXIT.cloudImageFailed, `The temporary instance ${instanceId} could not write the disks: ${result.error ?? "no reason given"}`);
      const missing = disks.filter((d) => !result.disks.some((r) => r.key === d.key));
      if (missing.length > 0) throw new WorkerError(EXIT.cloudImageFailed, `The temporary instance ${instanceId} reported success without disks ${missing.map((d) => d.key).join(", ")}`);
      ctx.logger.info({ instanceId, disks: result.disks }, "The temporary instance wrote the disks");
      return;
    }
    const status = await instanceStatus(ecs, target.regionId, instanceId);
    if (status !== "Running") {
      throw new WorkerError(EXIT.cloudImageFailed, `Temporary instance ${instanceId} is ${status ?? "gone"} and its guest never reported: check its console output (GetInstanceConsoleOutput) and that its image runs spec.target.cloudImage.intermediateInstance.guestCommand`);
    }
    if (Date.now() > deadline) {
      throw new WorkerError(EXIT.cloudImageFailed, `Temporary instance ${instanceId} did not report within ${Math.round(instance.guestTimeoutMs / 60_000)} minutes: check that it reaches OSS (vSwitch, security group) and its console output; or raise timeoutMinutes`);
    }
    await sleep(target.pollIntervalMs ?? 5_000, undefined, { signal: ctx.signal });
  }
}

/** Stops the instance, snapshots each data disk and follows the snapshots to accomplished; returns their ids in disk order. */
async function snapshotDisks(ecs: EcsApi, attempt: Attempt, instanceId: string, disks: readonly PointDisk[], target: CloudImageWorkerTarget, instance: IntermediateInstanceWorkerSpec, ctx: RunContext): Promise<string[]> {
  const stop = new Ecs.StopInstanceRequest({ instanceId });
  await ecs.call(`StopInstance ${instanceId}`, (runtime) => ecs.sdk.stopInstanceWithOptions(stop, runtime));
  await waitForInstance(ecs, instanceId, target, ctx, "Stopped");
  const attached = await instanceDisks(ecs, target.regionId, instanceId);
  const snapshotIds: string[] = [];
  for (const [i, disk] of disks.entries()) {
    const device = instanceDevice(i);
    const cloudDisk = attached.find((d) => d.device === device);
    if (!cloudDisk) throw new WorkerError(EXIT.cloudImageFailed, `Temporary instance ${instanceId} lost its disk at ${device}`);
    const request = new Ecs.CreateSnapshotRequest({
      diskId: cloudDisk.diskId,
      snapshotName: `lifeboat-${target.restoreId}-${i + 1}`.slice(0, 128),
      description: `Disk ${disk.key} of image ${target.imageName}, written by Lifeboat restore ${target.restoreId}`,
      clientToken: clientToken(attempt, `CreateSnapshot ${device}`),
      tag: [new Ecs.CreateSnapshotRequestTag({ key: RESTORE_TAG, value: target.restoreId })],
    });
    const out = await ecs.call(`CreateSnapshot of ${cloudDisk.diskId}`, (runtime) => ecs.sdk.createSnapshotWithOptions(request, runtime));
    const snapshotId = out.body?.snapshotId;
    if (!snapshotId) throw new CloudApiError("NoSnapshotId", out.statusCode, `CreateSnapshot of ${cloudDisk.diskId} answered without a snapshot id`);
    snapshotIds.push(snapshotId);
  }
  let last = "";
  const deadline = Date.now() + instance.guestTimeoutMs;
  for (;;) {
    if (Date.now() > deadline) throw new WorkerError(EXIT.cloudImageFailed, `The snapshots of the temporary instance's disks did not finish within ${Math.round(instance.guestTimeoutMs / 60_000)} minutes`);
    const request = new Ecs.DescribeSnapshotsRequest({ regionId: target.regionId, snapshotIds: JSON.stringify(snapshotIds), pageSize: 100 });
    const out = await ecs.call("DescribeSnapshots of the restore", (runtime) => ecs.sdk.describeSnapshotsWithOptions(request, runtime));
    const found = out.body?.snapshots?.snapshot ?? [];
    const failed = found.find((s) => s.status === "failed");
    if (failed) throw new WorkerError(EXIT.cloudImageFailed, `Snapshot ${failed.snapshotId ?? "?"} of the temporary instance's disk failed`);
    if (found.length === snapshotIds.length && found.every((s) => s.status === "accomplished")) return snapshotIds;
    const seen = found.map((s) => `${s.snapshotId ?? "?"} ${s.progress ?? "?"}`).join(", ");
    if (seen !== last) {
      ctx.logger.info({ snapshots: seen }, "Snapshot progress");
      ctx.progress.set({ message: `snapshots ${seen}` });
      last = seen;
    }
    await sleep(target.pollIntervalMs ?? 5_000, undefined, { signal: ctx.signal });
  }
}

/** Deletes the temporary instance and its disks (they are deleted with it). */
async function deleteInstance(ecs: EcsApi, instanceId: string): Promise<void> {
  const request = new Ecs.DeleteInstanceRequest({ instanceId, force: true });
  await ecs.call(`DeleteInstance ${instanceId}`, (runtime) => ecs.sdk.deleteInstanceWithOptions(request, runtime));
}

async function createImage(ecs: EcsApi, attempt: Attempt, point: Point, disks: readonly PointDisk[], snapshotIds: readonly string[], target: CloudImageWorkerTarget): Promise<string> {
  const guest = imageGuest(point, target);
  const request = new Ecs.CreateImageRequest({
    regionId: target.regionId,
    imageName: target.imageName,
    description: `Restored by Lifeboat from recovery point ${point.header.id} of VM ${point.header.labels.vm ?? "?"}`,
    platform: guest.platform,
    architecture: guest.architecture,
    bootMode: guest.bootMode,
    clientToken: clientToken(attempt, "CreateImage"),
    tag: [new Ecs.CreateImageRequestTag({ key: RESTORE_TAG, value: target.restoreId })],
    diskDeviceMapping: disks.map((disk, i) => new Ecs.CreateImageRequestDiskDeviceMapping({
      snapshotId: snapshotIds[i],
      device: deviceName(i),
      diskType: i === 0 ? "system" : "data",
      size: cloudDiskGiB(disk.size),
    })),
  });
  const out = await ecs.call(`CreateImage ${target.imageName}`, (runtime) => ecs.sdk.createImageWithOptions(request, runtime));
  const imageId = out.body?.imageId;
  if (!imageId) throw new CloudApiError("NoImageId", out.statusCode, `CreateImage ${target.imageName} answered without an ImageId (request ${out.body?.requestId ?? "?"})`);
  return imageId;
}
