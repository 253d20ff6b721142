/**
 * VMwareToCloud reverse replication (seed 004 step 5 with an ECS recovery
 * site): the recovered instance is replicated back into the protected site's
 * vault, so a failback can restore it to vSphere with the steps a vSphere
 * pair uses (failback.ts). A cycle is the ecsBackup worker
 * (worker/ecs-backup.ts): snapshots, an image, ExportImage to OSS, the files
 * (QCOW2 where the region honours ImageFormat, else RAW) read into the vault. ECS exposes no changed-block API for a disk, so
 * every cycle reads whole disks; the vault stores only the blocks it lacks,
 * and what crosses to the protected site is those blocks, compressed.
 *
 * The worker runs on the recovery site's Gateway (workers near the bucket);
 * the point carries the forward point's disk keys and what it said about the
 * VM (guest, CPUs, memory, networks), which an ECS instance cannot tell.
 * ExportImage's documented limits (at most 4 data disks of at most 500 GiB,
 * no Windows) are checked before the first cycle, so a server that cannot
 * come back this way says so instead of failing every cycle.
 */
import { deleteExports, exportPrefixes, exportTags } from "../cloud/alibaba/export-cleanup.js";
import { ossClient } from "../cloud/alibaba/oss-upload.js";
import { cloudSites } from "./cloud-sites.js";
import { usable, type DrContext } from "./dr-context.js";
import type { EcsCycleSource } from "./dr-jobs.js";
import { lineagePoints } from "./dr-points.js";
import type { Checked } from "./references.js";
import type { ReplicationLine } from "./replication-cycles.js";
import { orderedDisks } from "../worker/labels.js";
import { deviceName } from "../worker/cloud-image.js";

/** Labels of the forward point a failback restore needs to rebuild the VM (the rest are the cycle's own). */
const KEPT_LABELS = /^(guestOS|numCPUs|memoryMiB|firmware|networks|disk\.[^.]+\.(label|file|controllerKey|unitNumber))$/;

/** The disks and VM labels of a failover point, by server and point: read from the vault once, not at every reconcile. */
const sourceCache = new Map<string, Pick<EcsCycleSource, "disks" | "labels">>();

const GiB = 1024 ** 3;

/** Why ExportImage cannot export the instance (its documented limits), if it cannot. */
export function exportLimit(source: Pick<EcsCycleSource, "disks" | "labels">): string | undefined {
  if (/windows/i.test(source.labels.guestOS ?? "")) return `ExportImage does not export Windows images (guest ${source.labels.guestOS ?? ""})`;
  const data = source.disks.length - 1;
  if (data > 4) return `ExportImage exports at most 4 data disks; the server has ${data}`;
  const big = source.disks.find((d) => d.device !== "/dev/xvda" && d.sizeBytes > 500 * GiB);
  if (big) return `ExportImage exports data disks of at most 500 GiB; disk ${big.key} has ${Math.ceil(big.sizeBytes / GiB)} GiB`;
  return undefined;
}

/**
 * Deletes every export of a server that is left (a last cycle that failed
 * or was killed); returns what is still there, undefined once nothing is.
 */
export async function deleteReverseExports(dr: DrContext): Promise<string | undefined> {
  const { ps, pair, ctx } = dr;
  const conversion = pair.spec.imageConversion;
  if (!conversion) return undefined;
  const sites = await cloudSites(ctx.kube, pair);
  if (!sites.ok) return sites.problem.message;
  const region = sites.value.recoverySite.region;
  const oss = ossClient({ regionId: region, bucket: conversion.ossBucket, ...sites.value.credentials, endpoint: conversion.ossEndpoint });
  const ns = ps.metadata.namespace ?? "";
  const name = ps.metadata.name ?? "";
  const left = await deleteExports({ ecs: sites.value.ecs, oss, region }, { tags: exportTags(ns, name), prefix: exportPrefixes(ns, name, "").server });
  return left.length > 0 ? `deleting reverse replication's exports: ${left.join(", ")}` : undefined;
}

/** The reverse line of a VMwareToCloud server: its recovered instance into the protected site's vault. */
export async function cloudReverseLine(dr: DrContext): Promise<Checked<ReplicationLine>> {
  const { ps, pair, ctx } = dr;
  const fo = ps.status?.failover;
  const instanceId = fo?.vm?.instanceId;
  if (!instanceId || !fo.pointID) return { ok: false, problem: { reason: "FailoverNotDone", message: "reverse replication starts from a committed failover whose instance is up" } };
  const recovery = usable(dr.recoverySite, ["gateway", "vault"]);
  if (!recovery.ok) return recovery;
  const vault = dr.protectedSite.vault;
  if (!vault.ok) return vault;
  const s = pair.spec;
  const conversion = s.imageConversion;
  if (!conversion || !s.credentialsSecretRef) return { ok: false, problem: { reason: "NoImageConversion", message: `SitePair ${pair.metadata.name ?? ""} needs spec.imageConversion (its bucket) and spec.credentialsSecretRef` } };
  const sites = await cloudSites(ctx.kube, pair);
  if (!sites.ok) return sites;
  const key = `${ps.metadata.uid ?? ""}/${fo.pointID}`;
  let source = sourceCache.get(key);
  if (!source) {
    // The failover point, or (once retention has let it go after the commit) the newest reverse point, which has its layout.
    const point =
      (await lineagePoints(ctx.kube, recovery.value.vault, ps, "forward")).find((p) => p.id === fo.pointID) ??
      (await lineagePoints(ctx.kube, vault.value, ps, "reverse")).at(-1);
    if (!point) return { ok: false, problem: { reason: "PointNotFound", message: `the failover point ${fo.pointID} is not in the recovery site's vault and there is no reverse point yet: the disk layout of the VM is needed to read the instance back` } };
    // The conversion put the point's disks on the instance in this order (cloud-image.ts).
    source = {
      disks: orderedDisks(point).map((d, i) => ({ key: d.key, device: deviceName(i), sizeBytes: d.size })),
      labels: Object.fromEntries(Object.entries(point.labels).filter(([k]) => KEPT_LABELS.test(k))),
    };
    for (const k of sourceCache.keys()) if (k.startsWith(`${ps.metadata.uid ?? ""}/`)) sourceCache.delete(k);
    sourceCache.set(key, source);
  }
  const limit = exportLimit(source);
  if (limit) return { ok: false, problem: { reason: "ReverseNotPossible", message: `${limit}; the server can come back to vSphere only by a restore of a vault point (RestoreJob)` } };
  const ecs: EcsCycleSource = {
    regionId: sites.value.recoverySite.region,
    instanceId,
    ossBucket: conversion.ossBucket,
    ecsEndpoint: s.target.ecsEndpoint,
    ossEndpoint: conversion.ossEndpoint,
    credentialsSecretRef: s.credentialsSecretRef,
    ...source,
  };
  return {
    ok: true,
    value: { direction: "reverse", vm: { name: fo.vm?.name ?? instanceId }, ecs, gateway: recovery.value.gateway, vault: vault.value, sitePair: pair.metadata.name ?? "" },
  };
}
