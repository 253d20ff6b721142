/**
 * Choosing the parent of an incremental backup. The vault is the source of
 * truth (DESIGN §5: resume from what the vault says, never from memory): the
 * parent is the newest point of the same lineage that recorded a CBT
 * changeId for at least one of the disks. A lineage is a list of label
 * names whose values identify one chain: a BackupPlan's VM by default, a
 * protected server's replication in one direction for DR. Points of two
 * lineages in one vault never become each other's parents, because each
 * lineage has a label the other lacks (plan, protectedServer).
 */
import type { PointHeader } from "../vault/index.js";

/** Labels that identify "the same VM of the same plan" (BackupWorkerSpec.lineage's default). */
export const DEFAULT_LINEAGE: readonly string[] = ["namespace", "plan", "vm"];

/** True when the point belongs to the lineage that `labels` has values for; a lineage label `labels` lacks matches nothing. */
export function sameLineage(point: Pick<PointHeader, "labels">, labels: Readonly<Record<string, string>>, lineage: readonly string[] = DEFAULT_LINEAGE): boolean {
  return lineage.every((k) => labels[k] !== undefined && point.labels[k] === labels[k]);
}

/** The newest point of the lineage with a changeId on one of `diskKeys`, if any. */
export function selectParent(
  points: readonly PointHeader[],
  labels: Readonly<Record<string, string>>,
  diskKeys: readonly string[],
  lineage: readonly string[] = DEFAULT_LINEAGE,
): PointHeader | undefined {
  const candidates = points
    .filter((p) => sameLineage(p, labels, lineage))
    .filter((p) => p.disks.some((d) => diskKeys.includes(d.key) && !!d.changeId));
  return [...candidates].sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id)).at(-1);
}

/**
 * The changeId to ask CBT with for one disk: the parent's, or "*" (all
 * allocated areas) for a disk the parent lacks or recorded without one.
 * `usesParent` is false when the parent has this disk but no changeId: then
 * the parent's blocks for it cannot be trusted as "unchanged".
 */
export function baseChangeId(parent: PointHeader | undefined, diskKey: string): { changeId: string; usesParent: boolean } {
  const disk = parent?.disks.find((d) => d.key === diskKey);
  if (!parent || !disk) return { changeId: "*", usesParent: true };
  if (!disk.changeId) return { changeId: "*", usesParent: false };
  return { changeId: disk.changeId, usesParent: true };
}

/** The point this run already committed (a retried worker), if any. */
export function findRunPoint(points: readonly PointHeader[], labels: Readonly<Record<string, string>>, lineage: readonly string[] = DEFAULT_LINEAGE): PointHeader | undefined {
  return points.find((p) => p.labels.run === labels.run && sameLineage(p, labels, lineage));
}
