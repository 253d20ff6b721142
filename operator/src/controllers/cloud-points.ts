/**
 * Recovery points of cloud-to-cloud replication: the ECS snapshots of a
 * protected instance's disks taken at one moment, found by their tags (the
 * cloud is the source of truth, as the vault is for vSphere points). Each
 * complete point is mirrored as a RecoveryPoint with spec.cloudSnapshots,
 * so `kubectl get rp` lists it and spec.recoveryPoint can name it.
 */
import type { ProtectedServer, RecoveryPoint } from "../api/generated/types.js";
import { POINT_CHOICES } from "../api/protected-server.js";
import { DR_TAG, type EcsDr, type SnapshotInfo } from "../cloud/alibaba/ecs-dr.js";
import type { ReconcileContext } from "../runtime/controller.js";
import { describe } from "../runtime/errors.js";
import { API_VERSION } from "../api/common.js";
import type { Kube, WithKind } from "../runtime/kube.js";
import { isoSeconds } from "../util/time.js";
import type { Direction } from "./dr-points.js";
import type { Checked } from "./references.js";
import { serverTagValue } from "./cloud-sites.js";

/** One disk's snapshot in a point. */
export interface CloudPointDisk {
  readonly device: string;
  readonly snapshotId: string;
  readonly sourceDiskId: string;
  readonly sizeGiB: number;
  readonly category: string;
}

/** A point: all disks' snapshots of one cycle, in the region that keeps the chain's points. */
export interface CloudPoint {
  /** The cycle id, e.g. 20261203t021500z: the time the snapshots were taken. */
  readonly id: string;
  readonly time: string;
  /** Cloud snapshots are crash-consistent: there is no agent in the guest to quiesce it. */
  readonly consistency: "crash";
  readonly direction: Direction;
  readonly region: string;
  readonly instanceId: string;
  /** The instance type of that instance when the point was taken. */
  readonly instanceType: string;
  /** Sorted by device: the system disk (/dev/xvda) first. */
  readonly disks: readonly CloudPointDisk[];
}

/** Labels on the RecoveryPoints mirrored from cloud points. */
export const CLOUD_POINT_LABELS = { server: "lifeboat.io/protected-server", direction: "lifeboat.io/replication-direction", source: "lifeboat.io/point-source" } as const;

/** A cycle id for a start time: compact, sortable, and a valid part of a Kubernetes name. */
export function cycleIdAt(time: Date): string {
  return isoSeconds(time).replace(/[-:]/g, "").toLowerCase();
}

/** The time a cycle id stands for. */
export function timeOfCycleId(id: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})t(\d{2})(\d{2})(\d{2})z$/.exec(id);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z` : new Date(0).toISOString();
}

/** The tags of a server's snapshots in one direction (add `point` for one cycle). */
export function chainTags(ps: ProtectedServer, direction: Direction): Record<string, string> {
  return { [DR_TAG.server]: serverTagValue(ps.metadata.namespace ?? "", ps.metadata.name ?? ""), [DR_TAG.direction]: direction };
}

/** Groups snapshots by point; a point is complete when its every disk's snapshot is accomplished. */
export function completePoints(snapshots: readonly SnapshotInfo[], direction: Direction, region: string): CloudPoint[] {
  const byPoint = new Map<string, SnapshotInfo[]>();
  for (const s of snapshots) {
    const id = s.tags[DR_TAG.point];
    if (!id || s.tags[DR_TAG.role] !== "point") continue;
    byPoint.set(id, [...(byPoint.get(id) ?? []), s]);
  }
  const points: CloudPoint[] = [];
  for (const [id, snaps] of byPoint) {
    const wanted = Number(snaps[0]?.tags[DR_TAG.disks] ?? 0);
    if (wanted === 0 || snaps.length !== wanted || snaps.some((s) => s.status !== "accomplished")) continue;
    // The system disk first (it becomes the image the instance boots), then the data disks by device.
    const isSystem = (s: SnapshotInfo) => (s.tags[DR_TAG.diskType] ?? s.sourceDiskType) === "system";
    const disks = [...snaps]
      .sort((a, b) => Number(isSystem(b)) - Number(isSystem(a)) || (a.tags[DR_TAG.device] ?? "").localeCompare(b.tags[DR_TAG.device] ?? ""))
      .map((s) => ({ device: s.tags[DR_TAG.device] ?? "", snapshotId: s.snapshotId, sourceDiskId: s.sourceDiskId, sizeGiB: s.sourceDiskSizeGiB, category: s.tags[DR_TAG.category] ?? "" }));
    points.push({ id, time: timeOfCycleId(id), consistency: "crash", direction, region, instanceId: snaps[0]?.tags[DR_TAG.instance] ?? "", instanceType: snaps[0]?.tags[DR_TAG.instanceType] ?? "", disks });
  }
  return points.sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
}

/** A server's complete points in one direction, oldest first. */
export async function listCloudPoints(ecs: EcsDr, ps: ProtectedServer, direction: Direction, region: string): Promise<CloudPoint[]> {
  const snaps = await ecs.snapshotsTagged(region, { ...chainTags(ps, direction), [DR_TAG.role]: "point" });
  return completePoints(snaps, direction, region);
}

function dnsLabel(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || "server";
}

/** The RecoveryPoint name of a cloud point: stable, so a deleted one comes back under the same name. */
export function cloudRecoveryPointName(ps: ProtectedServer, point: Pick<CloudPoint, "id" | "direction">): string {
  return `${dnsLabel(ps.metadata.name ?? "")}-${point.direction === "reverse" ? "reverse-" : ""}${point.id}`;
}

/** The RecoveryPoint a cloud point is mirrored as; owned by its server, so deleting the server removes the mirrors (the snapshots stay). */
export function recoveryPointForCloud(ps: WithKind<ProtectedServer>, point: CloudPoint, instanceName: string): RecoveryPoint {
  return {
    apiVersion: API_VERSION,
    kind: "RecoveryPoint",
    metadata: {
      name: cloudRecoveryPointName(ps, point),
      namespace: ps.metadata.namespace,
      labels: { [CLOUD_POINT_LABELS.server]: dnsLabel(ps.metadata.name ?? ""), [CLOUD_POINT_LABELS.direction]: point.direction, [CLOUD_POINT_LABELS.source]: "cloud-snapshots" },
      ownerReferences: [{ apiVersion: API_VERSION, kind: "ProtectedServer", name: ps.metadata.name ?? "", uid: ps.metadata.uid ?? "", controller: false, blockOwnerDeletion: false }],
    },
    spec: {
      pointID: point.id,
      protectedServerRef: { name: ps.metadata.name ?? "" },
      replicationDirection: point.direction === "reverse" ? "Reverse" : "Forward",
      cloudSnapshots: {
        provider: "AlibabaECS",
        region: point.region,
        instanceId: point.instanceId,
        snapshots: point.disks.map((d) => ({ device: d.device, snapshotId: d.snapshotId, sourceDiskId: d.sourceDiskId, sizeGiB: d.sizeGiB, ...(d.category ? { category: d.category } : {}) })),
      },
      vm: { name: instanceName || point.instanceId || "instance" },
      time: point.time,
      consistency: "Crash",
      disks: point.disks.map((d, i) => ({ key: i, label: d.device, capacityBytes: d.sizeGiB * 1024 ** 3 })),
    },
  };
}

/** Makes the RecoveryPoints of a chain match its complete points: missing ones created, gone ones removed. */
export async function syncCloudRecoveryPoints(ps: WithKind<ProtectedServer>, direction: Direction, points: readonly CloudPoint[], instanceName: string, ctx: ReconcileContext): Promise<void> {
  const ns = ps.metadata.namespace ?? "";
  const existing = (await ctx.kube.list<WithKind<RecoveryPoint>>("RecoveryPoint", ns)).filter(
    (rp) => rp.spec.protectedServerRef?.name === ps.metadata.name && rp.spec.cloudSnapshots && rp.metadata.labels?.[CLOUD_POINT_LABELS.direction] === direction,
  );
  const have = new Set(existing.map((rp) => rp.spec.pointID));
  const keep = new Set(points.map((p) => p.id));
  for (const point of points) {
    if (have.has(point.id)) continue;
    const rp = recoveryPointForCloud(ps, point, instanceName);
    try {
      await ctx.kube.create("RecoveryPoint", rp);
    } catch (err) {
      ctx.log.warn({ recoveryPoint: rp.metadata.name, err: describe(err) }, "Could not create recovery point");
    }
  }
  for (const rp of existing) {
    if (keep.has(rp.spec.pointID)) continue;
    await ctx.kube.delete("RecoveryPoint", ns, rp.metadata.name ?? "");
    ctx.log.info({ recoveryPoint: rp.metadata.name }, "Removed recovery point whose snapshots are gone");
  }
}

/**
 * Resolves "latest" or a RecoveryPoint name to one of the server's points in
 * `direction`. "latest-app-consistent" has no answer here: cloud snapshots
 * are crash-consistent.
 */
export async function chooseCloudPoint(kube: Kube, ps: ProtectedServer, choice: string, points: readonly CloudPoint[], field: string): Promise<Checked<CloudPoint>> {
  const name = ps.metadata.name ?? "";
  if (choice === POINT_CHOICES.latest) {
    const p = points.at(-1);
    return p ? { ok: true, value: p } : { ok: false, problem: { reason: "NoRecoveryPoint", message: `${field}: ${name} has no recovery point yet` } };
  }
  if (choice === POINT_CHOICES.latestAppConsistent) {
    return { ok: false, problem: { reason: "NoRecoveryPoint", message: `${field}: cloud snapshot points are crash-consistent (no agent quiesces the guest); use "latest" or a RecoveryPoint name` } };
  }
  const ns = ps.metadata.namespace ?? "";
  const rp = await kube.get<WithKind<RecoveryPoint>>("RecoveryPoint", ns, choice);
  if (!rp) return { ok: false, problem: { reason: "RecoveryPointNotFound", message: `${field}: RecoveryPoint ${ns}/${choice} does not exist` } };
  const point = rp.spec.cloudSnapshots && rp.spec.protectedServerRef?.name === name ? points.find((p) => p.id === rp.spec.pointID) : undefined;
  if (!point) return { ok: false, problem: { reason: "WrongRecoveryPoint", message: `${field}: RecoveryPoint ${choice} is not a kept ${points[0]?.direction ?? "forward"} point of ${name}'s cloud snapshots` } };
  return { ok: true, value: point };
}
