/**
 * Retention: which points a policy keeps (keep last N, GFS daily / weekly /
 * monthly / yearly, max age), and `forget`, which deletes the manifests of
 * the others. The lock overrides every policy: a point whose retain-until is
 * in the future is never forgotten. Forget removes manifests only; `prune`
 * then frees the data no point references.
 *
 * Points are grouped (by default by their `plan` and `vm` labels) and each
 * group is judged on its own, newest first; calendar buckets are in UTC.
 */
import { VaultError } from "./errors.js";
import { paths } from "./format.js";
import type { PointHeader } from "./manifest.js";
import { RepositoryLock } from "./repo-lock.js";
import type { Vault } from "./vault.js";

/** A retention policy, as BackupPlan.spec.retention states it. */
export interface RetentionPolicy {
  readonly keepLast?: number | undefined;
  readonly keepDaily?: number | undefined;
  readonly keepWeekly?: number | undefined;
  readonly keepMonthly?: number | undefined;
  readonly keepYearly?: number | undefined;
  /** Points older than this many milliseconds are forgotten, whatever the other rules say. */
  readonly maxAgeMs?: number | undefined;
  /** Labels that split points into independent groups (default: plan, vm). */
  readonly groupBy?: readonly string[] | undefined;
}

/** The verdict on one point. */
export interface RetentionDecision {
  readonly point: PointHeader;
  readonly keep: boolean;
  /** Why: "last 3", "daily 2024-05-01", "locked until ...", "older than max age"... */
  readonly reasons: readonly string[];
}

function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86400000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

const BUCKETS: { name: string; rule: keyof RetentionPolicy; key: (d: Date) => string }[] = [
  { name: "daily", rule: "keepDaily", key: (d) => d.toISOString().slice(0, 10) },
  { name: "weekly", rule: "keepWeekly", key: isoWeek },
  { name: "monthly", rule: "keepMonthly", key: (d) => d.toISOString().slice(0, 7) },
  { name: "yearly", rule: "keepYearly", key: (d) => d.toISOString().slice(0, 4) },
];

/** Applies a policy; pure, so the reconciler can preview it. */
export function applyRetention(points: readonly PointHeader[], policy: RetentionPolicy, now: Date = new Date()): RetentionDecision[] {
  const counts = [policy.keepLast, policy.keepDaily, policy.keepWeekly, policy.keepMonthly, policy.keepYearly];
  if (counts.every((c) => c === undefined) && policy.maxAgeMs === undefined) {
    throw new VaultError("InvalidArgument", "The retention policy has no rule; set keepLast, keepDaily, keepWeekly, keepMonthly, keepYearly or maxAge");
  }
  for (const c of counts) if (c !== undefined && (!Number.isInteger(c) || c < 0)) throw new VaultError("InvalidArgument", `Retention count ${c} is not a whole number >= 0`);
  const groupBy = policy.groupBy ?? ["plan", "vm"];
  const groups = new Map<string, PointHeader[]>();
  for (const p of points) {
    const key = JSON.stringify(groupBy.map((l) => p.labels[l] ?? ""));
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  const onlyMaxAge = counts.every((c) => c === undefined);
  const decisions: RetentionDecision[] = [];
  for (const group of groups.values()) {
    const newest = [...group].sort((a, b) => b.time.localeCompare(a.time));
    const reasons = new Map<string, string[]>(newest.map((p) => [p.id, []]));
    newest.slice(0, policy.keepLast ?? 0).forEach((p, i) => reasons.get(p.id)?.push(`last ${i + 1}`));
    for (const bucket of BUCKETS) {
      const limit = policy[bucket.rule] as number | undefined;
      if (!limit) continue;
      const seen = new Set<string>();
      for (const p of newest) {
        if (seen.size >= limit) break;
        const key = bucket.key(new Date(p.time));
        if (seen.has(key)) continue;
        seen.add(key);
        reasons.get(p.id)?.push(`${bucket.name} ${key}`);
      }
    }
    for (const p of newest) {
      const why = reasons.get(p.id) ?? [];
      let keep = onlyMaxAge || why.length > 0;
      if (policy.maxAgeMs !== undefined && now.getTime() - Date.parse(p.time) > policy.maxAgeMs) {
        keep = false;
        why.length = 0;
        why.push("older than max age");
      }
      if (isLocked(p, now)) {
        if (!keep) why.push(`locked until ${p.retainUntil}`);
        keep = true;
      }
      decisions.push({ point: p, keep, reasons: why });
    }
  }
  return decisions.sort((a, b) => a.point.time.localeCompare(b.point.time));
}

/** Whether the vault lock still holds the point: its retain-until is in the future. */
export function isLocked(point: Pick<PointHeader, "retainUntil">, now: Date = new Date()): boolean {
  return point.retainUntil !== undefined && Date.parse(point.retainUntil) > now.getTime();
}

/** Throws PointLocked when the point's retain-until is in the future. */
export function assertNotLocked(point: PointHeader, now: Date = new Date()): void {
  if (isLocked(point, now)) {
    throw new VaultError("PointLocked", `Recovery point ${point.id} is locked until ${point.retainUntil} by the vault lock and cannot be deleted before then`);
  }
}

/** Result of a forget. */
export interface ForgetResult {
  readonly decisions: readonly RetentionDecision[];
  readonly forgotten: readonly string[];
}

/**
 * Forgets points: either the given ids (each refused with PointLocked when
 * locked) or those a policy does not keep. With `dryRun` nothing is deleted.
 */
export async function forget(vault: Vault, target: { ids: readonly string[] } | { policy: RetentionPolicy }, options: { dryRun?: boolean; now?: Date } = {}): Promise<ForgetResult> {
  const now = options.now ?? new Date();
  const points = await vault.listPoints();
  let decisions: RetentionDecision[];
  if ("ids" in target) {
    const byId = new Map(points.map((p) => [p.id, p]));
    decisions = target.ids.map((id) => {
      const point = byId.get(id);
      if (!point) throw new VaultError("NotFound", `Recovery point ${id} does not exist`);
      assertNotLocked(point, now);
      return { point, keep: false, reasons: ["named"] };
    });
  } else {
    decisions = applyRetention(points, target.policy, now);
  }
  const doomed = decisions.filter((d) => !d.keep).map((d) => d.point);
  if (options.dryRun || doomed.length === 0) return { decisions, forgotten: [] };
  const lock = await RepositoryLock.acquire(vault.backend, false, "forget");
  try {
    for (const p of doomed) {
      assertNotLocked(p, now);
      await vault.backend.delete(paths.manifest(p.id));
    }
  } finally {
    await lock.release().catch(() => undefined);
  }
  return { decisions, forgotten: doomed.map((p) => p.id) };
}

/** Parses "90d", "12h", "30m", "2w", "1y" into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)\s*(s|m|h|d|w|y)$/.exec(text.trim());
  if (!match) throw new VaultError("InvalidArgument", `"${text}" is not a duration; write e.g. 90d, 12h, 2w`);
  const unit = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8, y: 3.1536e10 }[match[2] as "s"];
  return Number(match[1]) * unit;
}
