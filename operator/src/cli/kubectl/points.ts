/**
 * `kubectl lifeboat points [VM]`: the recovery points a restore can use,
 * newest first and filtered by VM or plan, which `kubectl get rp` cannot
 * do by VM name.
 */
import type { RecoveryPoint } from "../../api/generated/types.js";
import type { LifeboatApi } from "./cluster.js";
import { formatAge, formatSize, formatTable } from "./format.js";
import type { Io, PointsRequest } from "./program.js";

/** The points that match, newest first (by point time, then name, so the order is stable). */
export function selectPoints(points: readonly RecoveryPoint[], req: PointsRequest): RecoveryPoint[] {
  return points
    .filter((p) => (req.vm === undefined || p.spec.vm.name === req.vm) && (req.plan === undefined || p.spec.planRef?.name === req.plan))
    .sort((a, b) => b.spec.time.localeCompare(a.spec.time) || (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));
}

/** The table `points` prints. */
export function pointsTable(points: readonly RecoveryPoint[], now: Date): string {
  const rows = points.map((p) => {
    const available = p.status?.conditions?.find((c) => c.type === "Available");
    const source = p.spec.planRef ? `plan/${p.spec.planRef.name}` : p.spec.protectedServerRef ? `server/${p.spec.protectedServerRef.name}` : "-";
    return [
      p.metadata.name ?? "",
      p.spec.vm.name,
      p.spec.time,
      formatAge(p.spec.time, now),
      p.spec.consistency,
      formatSize(p.status?.sizeBytes),
      formatSize(p.status?.newBytes),
      source,
      p.spec.retainUntil ?? "-",
      available?.status ?? "Unknown",
    ];
  });
  return formatTable(["Name", "VM", "Time", "Age", "Consistency", "Size", "New", "Source", "Locked Until", "Available"], rows);
}

export async function points(api: LifeboatApi, req: PointsRequest, io: Io): Promise<number> {
  const found = selectPoints(await api.list<RecoveryPoint>("RecoveryPoint"), req);
  if (found.length === 0) {
    const of = [req.vm ? `of VM ${req.vm}` : "", req.plan ? `made by BackupPlan ${req.plan}` : ""].filter(Boolean).join(" ");
    io.err.write(`No recovery points ${of ? `${of} ` : ""}in namespace ${api.namespace}\n`);
    if (req.output === "json") io.out.write("[]\n");
    return 0;
  }
  if (req.output === "name") io.out.write(found.map((p) => `${p.metadata.name ?? ""}\n`).join(""));
  else if (req.output === "json") io.out.write(`${JSON.stringify(found, null, 2)}\n`);
  else io.out.write(pointsTable(found, new Date()));
  return 0;
}
