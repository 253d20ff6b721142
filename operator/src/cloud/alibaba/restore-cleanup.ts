/**
 * Clean-up of what a restore to an ECS image left in the cloud, found by the
 * restore's tag (images, and for IntermediateInstance the temporary
 * instance, its disks and their snapshots) and key prefix (staged OSS
 * objects and unfinished multipart uploads), never by name: a user's own
 * resources are never touched. The worker runs it when an import fails or is cancelled;
 * the RestoreJob controller runs it when a RestoreJob that did not succeed
 * is deleted (the worker may have been killed before it could), and repeats
 * until a listing finds nothing left.
 */
import type OSS from "ali-oss";
import { CloudApiError, type EcsApi } from "./ecs-api.js";
import { Ecs } from "./sdk.js";

/** The tag on everything a restore creates in the cloud; its value is the restore id. */
export const RESTORE_TAG = "lifeboat.io/restore";
/** Every state an image can be in: DescribeImages shows only Available ones unless Status names them. */
const ALL_IMAGE_STATES = "Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated";

/** The key prefix of a restore's staged files in the bucket. */
export function stagingPrefix(restoreId: string): string {
  return `lifeboat/${restoreId}/`;
}

/** An image a restore made, as DescribeImages reports it. */
export interface TaggedImage {
  readonly imageId: string;
  readonly status: string;
  readonly progress: string | undefined;
  /** The snapshots the image is made of (CreateImage): ECS keeps them while the image exists. */
  readonly snapshotIds: readonly string[];
  /** Made by ImportImage (from OSS objects), whose task can be cancelled. */
  readonly imported: boolean;
}

/**
 * The images of this account with `imageId`, or tagged with a restore's id,
 * in every state (DescribeImages lists only Available ones unless told).
 */
export async function describeImages(ecs: EcsApi, regionId: string, by: { readonly imageId: string } | { readonly restoreId: string }): Promise<TaggedImage[]> {
  const filter = "imageId" in by ? { imageId: by.imageId } : { tag: [new Ecs.DescribeImagesRequestTag({ key: RESTORE_TAG, value: by.restoreId })], pageSize: 100 };
  const request = new Ecs.DescribeImagesRequest({ regionId, imageOwnerAlias: "self", status: ALL_IMAGE_STATES, ...filter });
  const what = "imageId" in by ? `DescribeImages ${by.imageId}` : `DescribeImages tagged ${RESTORE_TAG}=${by.restoreId}`;
  const out = await ecs.call(what, (runtime) => ecs.sdk.describeImagesWithOptions(request, runtime));
  const images = (out.body?.images?.image ?? []).filter((i) => !("imageId" in by) || i.imageId === by.imageId);
  return images.flatMap((i) => {
    if (!i.imageId) return [];
    const mappings = i.diskDeviceMappings?.diskDeviceMapping ?? [];
    const snapshotIds = mappings.flatMap((m) => (m.snapshotId ? [m.snapshotId] : []));
    return [{ imageId: i.imageId, status: i.status ?? "", progress: i.progress, snapshotIds, imported: mappings.some((m) => Boolean(m.importOSSObject)) }];
  });
}

/** What a clean-up pass found still there (empty when everything is gone). */
export interface Leftovers {
  readonly images: readonly string[];
  readonly instances: readonly string[];
  readonly disks: readonly string[];
  readonly snapshots: readonly string[];
  readonly objects: readonly string[];
}

/** True when a clean-up pass found nothing left. */
export function nothingLeft(left: Leftovers): boolean {
  return left.images.length + left.instances.length + left.disks.length + left.snapshots.length + left.objects.length === 0;
}

const tagOf = (restoreId: string) => ({ key: RESTORE_TAG, value: restoreId });

/** The restore's temporary instances (IntermediateInstance). */
async function taggedInstances(ecs: EcsApi, regionId: string, restoreId: string): Promise<string[]> {
  const request = new Ecs.DescribeInstancesRequest({ regionId, tag: [new Ecs.DescribeInstancesRequestTag(tagOf(restoreId))], pageSize: 100 });
  const out = await ecs.call(`DescribeInstances tagged ${RESTORE_TAG}=${restoreId}`, (runtime) => ecs.sdk.describeInstancesWithOptions(request, runtime));
  return (out.body?.instances?.instance ?? []).flatMap((i) => (i.instanceId ? [i.instanceId] : []));
}

/** The restore's cloud disks with their status. */
async function taggedDisks(ecs: EcsApi, regionId: string, restoreId: string): Promise<{ diskId: string; status: string }[]> {
  const request = new Ecs.DescribeDisksRequest({ regionId, tag: [new Ecs.DescribeDisksRequestTag(tagOf(restoreId))], pageSize: 100 });
  const out = await ecs.call(`DescribeDisks tagged ${RESTORE_TAG}=${restoreId}`, (runtime) => ecs.sdk.describeDisksWithOptions(request, runtime));
  return (out.body?.disks?.disk ?? []).flatMap((d) => (d.diskId ? [{ diskId: d.diskId, status: d.status ?? "" }] : []));
}

/** The restore's snapshots. */
async function taggedSnapshots(ecs: EcsApi, regionId: string, restoreId: string): Promise<string[]> {
  const request = new Ecs.DescribeSnapshotsRequest({ regionId, tag: [new Ecs.DescribeSnapshotsRequestTag(tagOf(restoreId))], pageSize: 100 });
  const out = await ecs.call(`DescribeSnapshots tagged ${RESTORE_TAG}=${restoreId}`, (runtime) => ecs.sdk.describeSnapshotsWithOptions(request, runtime));
  return (out.body?.snapshots?.snapshot ?? []).flatMap((s) => (s.snapshotId ? [s.snapshotId] : []));
}

/** A delete whose object is already gone has done its job. */
function alreadyGone(err: unknown): boolean {
  return err instanceof CloudApiError && /\.NotFound$/.test(err.code);
}

/**
 * Deletes what the restore made except `keepImageId` (the finished image)
 * and the snapshots it is made of (ECS refuses to delete those while the
 * image exists: they are its storage), cheapest to leave behind last:
 * temporary instances (with their disks), other disks, staged objects and
 * uploads, the other images (an importing one after cancelling its import
 * task, since ECS refuses to delete it before; one that CreateImage is still
 * making is left for the next pass), and the snapshots no remaining image
 * uses. Each step runs even when an earlier one failed; the first failure is
 * thrown after all of them, so one refusal does not leave everything else.
 * Returns what a listing finds left.
 */
export async function cleanUpRestore(ecs: EcsApi, oss: OSS | undefined, regionId: string, restoreId: string, keepImageId?: string): Promise<Leftovers> {
  const failures: unknown[] = [];
  const attempt = async (step: () => Promise<void>): Promise<void> => {
    try {
      await step();
    } catch (err) {
      if (!alreadyGone(err)) failures.push(err);
    }
  };
  for (const instanceId of await taggedInstances(ecs, regionId, restoreId)) {
    await attempt(async () => {
      const request = new Ecs.DeleteInstanceRequest({ instanceId, force: true });
      await ecs.call(`DeleteInstance ${instanceId}`, (runtime) => ecs.sdk.deleteInstanceWithOptions(request, runtime));
    });
  }
  for (const disk of await taggedDisks(ecs, regionId, restoreId)) {
    if (disk.status !== "Available") continue;
    await attempt(async () => {
      const request = new Ecs.DeleteDiskRequest({ diskId: disk.diskId });
      await ecs.call(`DeleteDisk ${disk.diskId}`, (runtime) => ecs.sdk.deleteDiskWithOptions(request, runtime));
    });
  }
  if (oss) await attempt(() => deleteStaged(oss, restoreId));
  for (const image of await describeImages(ecs, regionId, { restoreId })) {
    if (image.imageId === keepImageId) continue;
    // CreateImage's images cannot be deleted while ECS makes them, nor cancelled: the next pass takes them.
    if ((image.status === "Creating" || image.status === "Waiting") && !image.imported) continue;
    await attempt(async () => {
      if (image.status === "Creating" || image.status === "Waiting") await cancelImport(ecs, regionId, image.imageId);
      const request = new Ecs.DeleteImageRequest({ regionId, imageId: image.imageId, force: true });
      await ecs.call(`DeleteImage ${image.imageId}`, (runtime) => ecs.sdk.deleteImageWithOptions(request, runtime));
    });
  }
  const images = await describeImages(ecs, regionId, { restoreId });
  const inUse = new Set(images.flatMap((i) => i.snapshotIds));
  for (const snapshotId of await taggedSnapshots(ecs, regionId, restoreId)) {
    if (inUse.has(snapshotId)) continue;
    await attempt(async () => {
      const request = new Ecs.DeleteSnapshotRequest({ snapshotId });
      await ecs.call(`DeleteSnapshot ${snapshotId}`, (runtime) => ecs.sdk.deleteSnapshotWithOptions(request, runtime));
    });
  }
  const kept = new Set(images.find((i) => i.imageId === keepImageId)?.snapshotIds ?? []);
  const left: Leftovers = {
    // The snapshot step deletes no image: the listing it started from is still current.
    images: images.map((i) => i.imageId).filter((id) => id !== keepImageId),
    instances: await taggedInstances(ecs, regionId, restoreId),
    disks: (await taggedDisks(ecs, regionId, restoreId)).map((d) => d.diskId),
    snapshots: (await taggedSnapshots(ecs, regionId, restoreId)).filter((id) => !kept.has(id)),
    objects: oss ? await stagedObjects(oss, restoreId) : [],
  };
  if (failures.length > 0) throw failures[0];
  return left;
}

/** Cancels the running ImportImage task of an image, if ECS still runs one. */
async function cancelImport(ecs: EcsApi, regionId: string, imageId: string): Promise<void> {
  const list = new Ecs.DescribeTasksRequest({ regionId, taskAction: "ImportImage", resourceIds: [imageId], pageSize: 100 });
  const out = await ecs.call(`DescribeTasks ImportImage of ${imageId}`, (runtime) => ecs.sdk.describeTasksWithOptions(list, runtime));
  for (const task of out.body?.taskSet?.task ?? []) {
    if (!task.taskId || (task.taskStatus !== "Waiting" && task.taskStatus !== "Processing")) continue;
    const cancel = new Ecs.CancelTaskRequest({ regionId, taskId: task.taskId });
    await ecs.call(`CancelTask ${task.taskId}`, (runtime) => ecs.sdk.cancelTaskWithOptions(cancel, runtime));
  }
}

async function stagedObjects(oss: OSS, restoreId: string): Promise<string[]> {
  const listed = await oss.listV2({ prefix: stagingPrefix(restoreId), "max-keys": "1000" });
  return listed.objects.map((o) => o.name);
}

/** Deletes the staged objects and aborts unfinished multipart uploads under the restore's prefix. */
export async function deleteStaged(oss: OSS, restoreId: string): Promise<void> {
  for (const key of await stagedObjects(oss, restoreId)) await oss.delete(key);
  const uploads = await oss.listUploads({ prefix: stagingPrefix(restoreId), "max-uploads": 1000 });
  for (const upload of uploads.uploads) await oss.abortMultipartUpload(upload.name, upload.uploadId);
}
