/**
 * What reverse replication from ECS makes on its way out of the cloud, found
 * again and deleted: the snapshots and the image of an export run (tagged
 * with the server, role `export` and the run) and the files ExportImage
 * wrote (under the server's OSS prefix). The worker deletes its own run's at
 * its end and any other run's it finds at its start; the controller deletes
 * all of a server's once reverse replication is over (after a failback), so
 * a killed or failed last cycle leaves nothing behind.
 */
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type OSS from "ali-oss";
import { DR_TAG, type EcsDr, type Tags } from "./ecs-dr.js";

const hash = (...parts: string[]): string => createHash("sha256").update(parts.join("\0")).digest("hex");

/**
 * The OSS prefixes of a server's exports and of one run's: ExportImage takes
 * a prefix of 1 to 30 letters and digits, so they are hashes (`lbx`, 10
 * characters of the server, 16 of the run).
 */
export function exportPrefixes(namespace: string, server: string, runId: string): { server: string; run: string } {
  const serverPrefix = `lbx${hash(namespace, server).slice(0, 10)}`;
  return { server: serverPrefix, run: `${serverPrefix}${hash(runId).slice(0, 16)}` };
}

/** The tags on a server's export snapshots and images; with a run, on that run's only. */
export function exportTags(namespace: string, server: string, runId?: string): Tags {
  return { [DR_TAG.server]: `${namespace}/${server}`, [DR_TAG.role]: "export", ...(runId ? { [DR_TAG.point]: runId } : {}) };
}

/** Where exports are: the region's ECS and the bucket. */
export interface ExportPlace {
  readonly ecs: EcsDr;
  readonly oss: OSS;
  readonly region: string;
}

/** Which exports to delete: those with `tags` under `prefix`, except one run's (`keep`). */
export interface ExportSelection {
  readonly tags: Tags;
  readonly prefix: string;
  readonly keep?: { readonly runId: string; readonly prefix: string } | undefined;
  /** Wait (up to this signal) for an export still running on an image, which ECS will not delete meanwhile; otherwise it is left for later. */
  readonly waitFor?: AbortSignal | undefined;
}

/** Deletes the selected exports; returns what is left (an image still being exported, when not waited for). */
export async function deleteExports(place: ExportPlace, sel: ExportSelection): Promise<string[]> {
  const { ecs, oss, region } = place;
  const kept = (tags: Tags): boolean => sel.keep !== undefined && tags[DR_TAG.point] === sel.keep.runId;
  const left: string[] = [];
  for (const image of await ecs.imagesTagged(region, sel.tags)) {
    if (kept(image.tags)) continue;
    const exporting = async (): Promise<boolean> => (await ecs.exportTasks(region, image.imageId)).some((t) => t.status === "Processing");
    while (sel.waitFor && !sel.waitFor.aborted && (await exporting())) await sleep(2000);
    if (!sel.waitFor && (await exporting())) {
      left.push(`image ${image.imageId} (still exporting)`);
      continue;
    }
    await ecs.deleteImage(region, image.imageId);
  }
  // Files after images: an export that was still running has written its files by now.
  const listed = await oss.listV2({ prefix: sel.prefix, "max-keys": "1000" });
  for (const o of listed.objects) if (!sel.keep || !o.name.startsWith(sel.keep.prefix)) await oss.delete(o.name);
  // ECS keeps the snapshots of an image that is still there.
  if (left.length > 0) return [...left, "its snapshots"];
  for (const s of await ecs.snapshotsTagged(region, sel.tags)) if (!kept(s.tags)) await ecs.deleteSnapshot(region, s.snapshotId);
  return left;
}
