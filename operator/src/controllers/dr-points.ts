/**
 * Replication points in the vaults, as the DR controllers see them. Every
 * point a protected server's replication writes carries the labels
 * `namespace`, `protectedServer` and `direction` (its lineage: the chain a
 * cycle continues) and never a `plan` label, so replication points never mix
 * with BackupPlan points or their retention. The vault is the source of
 * truth; status only caches what was read from it.
 */
import type { BackupVault, ProtectedServer, RecoveryPoint } from "../api/generated/types.js";
import { POINT_CHOICES } from "../api/protected-server.js";
import type { Kube, WithKind } from "../runtime/kube.js";
import { openVault, type PointHeader, type Vault } from "../vault/index.js";
import { recoveryPointName } from "./backup-vault-controller.js";
import { GROUP_LABELS, sharedPoint } from "./consistency-groups.js";
import type { Checked } from "./references.js";
import { vaultSpecOf } from "./vault-access.js";

/** Which way a replication chain runs: protected to recovery site, or back after a failover. */
export type Direction = "forward" | "reverse";

/** The labels whose values identify a replication chain (the worker's `lineage`). */
export const REPLICATION_LINEAGE = ["namespace", "protectedServer", "direction"] as const;

/** The lineage labels of a server's chain in one direction. */
export function lineageLabels(ps: ProtectedServer, direction: Direction): Record<(typeof REPLICATION_LINEAGE)[number], string> {
  return { namespace: ps.metadata.namespace ?? "", protectedServer: ps.metadata.name ?? "", direction };
}

/** True for a point of the server's chain in `direction`. */
export function inLineage(point: PointHeader, ps: ProtectedServer, direction: Direction): boolean {
  const want = lineageLabels(ps, direction);
  return REPLICATION_LINEAGE.every((k) => point.labels[k] === want[k]);
}

/** Opens a BackupVault with the key from its Secret, runs `use`, and closes it. */
export async function withVault<T>(kube: Kube, bv: BackupVault, use: (vault: Vault) => Promise<T>): Promise<T> {
  const spec = await vaultSpecOf(kube, bv);
  if (!spec.ok) throw new Error(`Could not open vault ${bv.metadata.name ?? ""}: ${spec.problem.message}`);
  const vault = await openVault(spec.value);
  try {
    return await use(vault);
  } finally {
    await vault.close();
  }
}

/** A server's points in one direction, oldest first. */
export async function lineagePoints(kube: Kube, bv: BackupVault, ps: ProtectedServer, direction: Direction): Promise<PointHeader[]> {
  return (await pointsToChoose(kube, bv, ps, direction)).own;
}

/** What a failover or drill chooses from: the server's own points (oldest first), and every point of the vault (its consistency group's among them). */
export interface PointsToChoose {
  readonly own: PointHeader[];
  readonly all: PointHeader[];
}

/** The server's points in `direction` and the vault's whole listing (its consistency group's points among them), from one listing. */
export async function pointsToChoose(kube: Kube, bv: BackupVault, ps: ProtectedServer, direction: Direction = "forward"): Promise<PointsToChoose> {
  return withVault(kube, bv, async (vault) => {
    const all = await vault.listPoints();
    return { own: sortByTime(all.filter((p) => inLineage(p, ps, direction))), all };
  });
}

export function sortByTime(points: readonly PointHeader[]): PointHeader[] {
  return [...points].sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
}

/** The point a cycle (or seed) with run id `run` committed, if it did. */
export function pointOfRun(points: readonly PointHeader[], ps: ProtectedServer, direction: Direction, run: string): PointHeader | undefined {
  return points.find((p) => p.labels.run === run && inLineage(p, ps, direction));
}

/** A point chosen for a failover or drill. */
export interface ChosenPoint {
  readonly point: PointHeader;
  /** The RecoveryPoint object that mirrors it (its name is the same whether the sync made it yet or not). */
  readonly recoveryPoint: string;
  /** spec.consistencyGroup: the group's tick of the point, when it is the newest tick every member shares. */
  readonly groupTick?: string | undefined;
  /** spec.consistencyGroup: why the point is not of the group's moment (no tick every member has: the server's own newest), or not of the tick another member took. */
  readonly notShared?: string | undefined;
}

/** What a consistency group's member chooses with: the members whose points must meet, and a tick another member's failover or drill took already. */
export interface GroupChoice {
  readonly members: readonly string[];
  readonly taken?: string | undefined;
}

/**
 * Resolves "latest", "latest-app-consistent" or a RecoveryPoint name to one of
 * the server's forward points. A RecoveryPoint of another server, of a
 * BackupPlan or of another vault is refused with a message that says so.
 * A member of a consistency group resolves the two keywords to its point of
 * the newest tick that every member in `members` (names, itself included)
 * has (or to its point of the tick `group.taken`, when another member's
 * failover or a sibling drill took one), so that all come back to one
 * moment; when they share none (a member
 * new to the group, or one that does not take the group's ticks), to its
 * own newest, saying why in `notShared`.
 */
export async function choosePoint(kube: Kube, ps: WithKind<ProtectedServer>, vault: BackupVault, choice: string, points: PointsToChoose, field: string, group: GroupChoice = { members: [] }): Promise<Checked<ChosenPoint>> {
  const own = points.own;
  const name = ps.metadata.name ?? "";
  const groupName = ps.spec.consistencyGroup;
  const keyword = choice === POINT_CHOICES.latest || choice === POINT_CHOICES.latestAppConsistent;
  const app = choice === POINT_CHOICES.latestAppConsistent;
  const members = group.members.length > 0 ? group.members : [name];
  let notShared: string | undefined;
  if (groupName && keyword) {
    // The tick a member's failover or a sibling drill took already, while this server has its point: the same moment for all.
    const taken = group.taken === undefined ? undefined : own.find((p) => p.labels[GROUP_LABELS.group] === groupName && p.labels[GROUP_LABELS.tick] === group.taken && (!app || p.consistency === "app"));
    const missing = group.taken !== undefined && !taken ? `consistency group ${groupName}: another member came back to tick ${group.taken}, of which ${name} has no ${app ? "application-consistent " : ""}point; ${name} uses the newest tick every member has instead` : undefined;
    const shared = taken ?? sharedPoint(points.all, ps.metadata.namespace ?? "", groupName, name, members, app);
    if (shared) return { ok: true, value: { point: shared, recoveryPoint: recoveryPointName(shared), groupTick: shared.labels[GROUP_LABELS.tick], ...(missing ? { notShared: missing } : {}) } };
    notShared = `consistency group ${groupName}: ${members.join(", ")} share no ${app ? "application-consistent " : ""}tick (a member has no point at the group's ticks yet, or does not take them: see its condition GroupConsistent); ${name} uses its own newest ${app ? "application-consistent " : ""}point`;
  }
  const chosen = (p: PointHeader | undefined, what: string): Checked<ChosenPoint> =>
    p ? { ok: true, value: { point: p, recoveryPoint: recoveryPointName(p), ...(notShared ? { notShared } : {}) } } : { ok: false, problem: { reason: "NoRecoveryPoint", message: `${field}: ${name} has no ${what} yet` } };
  if (choice === POINT_CHOICES.latest) return chosen(own.at(-1), "recovery point");
  if (app) return chosen(own.filter((p) => p.consistency === "app").at(-1), "application-consistent recovery point (set appConsistentIntervalHours in the server's replication settings)");
  const ns = ps.metadata.namespace ?? "";
  const rp = await kube.get<WithKind<RecoveryPoint>>("RecoveryPoint", ns, choice);
  if (!rp) return { ok: false, problem: { reason: "RecoveryPointNotFound", message: `${field}: RecoveryPoint ${ns}/${choice} does not exist` } };
  if (rp.spec.vaultRef?.name !== vault.metadata.name) {
    return { ok: false, problem: { reason: "WrongRecoveryPoint", message: `${field}: RecoveryPoint ${choice} is ${rp.spec.vaultRef ? `in vault ${rp.spec.vaultRef.name}` : "a point of cloud snapshots"}, not in the site pair's vault ${vault.metadata.name ?? ""}` } };
  }
  const point = own.find((p) => p.id === rp.spec.pointID);
  if (!point) {
    return { ok: false, problem: { reason: "WrongRecoveryPoint", message: `${field}: RecoveryPoint ${choice} is not a forward replication point of ${ps.metadata.name ?? ""} (a BackupPlan point, another server's, or forgotten)` } };
  }
  return { ok: true, value: { point, recoveryPoint: choice } };
}
