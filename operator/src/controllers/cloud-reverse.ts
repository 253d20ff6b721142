/**
 * VMwareToCloud reverse replication (seed 004 step 5 with an ECS recovery
 * site): the recovered instance is replicated back into the protected site's
 * vault, so a failback can restore it to vSphere with the steps a vSphere
 * pair uses (failback.ts). A cycle is the ecsBackup worker
 * (worker/ecs-backup.ts): snapshots, an image, ExportImage to OSS, the RAW
 * files read into the vault. ECS exposes no changed-block API for a disk, so
 * every cycle reads whole disks; the vault stores only the blocks it lacks,
 * and what crosses to the protected site is those blocks, compressed.
 *
 * The worker runs on the recovery site's Gateway (workers near the bucket);
 * the point carries the forward point's disk keys and what it said about the
 * VM (guest, CPUs, memory, networks), which an ECS instance cannot tell.
 */
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
    const point = (await lineagePoints(ctx.kube, recovery.value.vault, ps, "forward")).find((p) => p.id === fo.pointID);
    if (!point) return { ok: false, problem: { reason: "PointNotFound", message: `the failover point ${fo.pointID} is not in the recovery site's vault: its disk layout is needed to read the instance back` } };
    // The conversion put the point's disks on the instance in this order (cloud-image.ts).
    source = {
      disks: orderedDisks(point).map((d, i) => ({ key: d.key, device: deviceName(i), sizeBytes: d.size })),
      labels: Object.fromEntries(Object.entries(point.labels).filter(([k]) => KEPT_LABELS.test(k))),
    };
    for (const k of sourceCache.keys()) if (k.startsWith(`${ps.metadata.uid ?? ""}/`)) sourceCache.delete(k);
    sourceCache.set(key, source);
  }
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
