/**
 * Which replication points a protected server keeps, by rules in the spirit
 * of AWS DRS and seed 004, rather than by counts: every cycle's point for a
 * short while, then one point per recovery-point interval (seed 004: 24
 * points over 24 hours), and application-consistent points longer (seed 003:
 * up to 15 days). The newest point is always kept (it is the parent of the
 * next cycle), pinned points are kept (a drill or an uncommitted failover
 * uses them), and the vault's lock is never shortened: the vault refuses to
 * forget a locked point whatever this says.
 */
import type { PointHeader } from "../vault/index.js";

/** spec.replication.retention with its defaults applied. */
export interface ReplicationRetention {
  readonly keepAllForMinutes: number;
  readonly recoveryPointIntervalHours: number;
  readonly keepIntervalPointsForHours: number;
  readonly keepAppConsistentForDays: number;
}

export const DEFAULT_RETENTION: ReplicationRetention = { keepAllForMinutes: 60, recoveryPointIntervalHours: 1, keepIntervalPointsForHours: 24, keepAppConsistentForDays: 7 };

/** What retention needs of a point: a vault point, or a point of cloud snapshots. */
export interface RetainablePoint {
  readonly id: string;
  readonly time: string;
  /** "app" for an application-consistent point. */
  readonly consistency: string;
}

/** The verdict on one point, with the rule that kept it (for logs and tests). */
export interface RetentionVerdict<P extends RetainablePoint = PointHeader> {
  readonly point: P;
  readonly keep: boolean;
  readonly reason: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Judges one lineage's points (one server, one direction). Interval buckets
 * are aligned to the epoch in UTC (hour boundaries for a 1-hour interval);
 * the newest point of each bucket is the one kept, or, of a consistency
 * group's member, the newest of the bucket's points in `shared` (its points
 * at ticks every member has) when there is one.
 */
export function judgeReplicationPoints<P extends RetainablePoint>(points: readonly P[], rules: ReplicationRetention, pinned: ReadonlySet<string>, now: Date = new Date(), shared?: ReadonlySet<string>): RetentionVerdict<P>[] {
  const byTime = [...points].sort((a, b) => b.time.localeCompare(a.time) || b.id.localeCompare(a.id));
  const newest = byTime[0]?.id;
  const bucketMs = rules.recoveryPointIntervalHours * HOUR;
  const keptBuckets = new Set<number>();
  // A consistency group's member keeps, of each interval, the newest point at a tick every member has (`shared`), where
  // the interval holds one: each member then keeps the same tick, even when a member missed the interval's newest.
  const sharedOfBucket = new Map<number, string>();
  for (const p of byTime) {
    const bucket = Math.floor(Date.parse(p.time) / bucketMs);
    if (shared?.has(p.id) && !sharedOfBucket.has(bucket)) sharedOfBucket.set(bucket, p.id);
  }
  return byTime.map((point) => {
    const verdict = judge(point);
    // Points are visited newest first, so the first point kept in an interval is its newest.
    if (verdict.keep) keptBuckets.add(Math.floor(Date.parse(point.time) / bucketMs));
    return verdict;
  });

  function judge(point: P): RetentionVerdict<P> {
    const age = now.getTime() - Date.parse(point.time);
    if (point.id === newest) return { point, keep: true, reason: "newest" };
    if (pinned.has(point.id)) return { point, keep: true, reason: "pinned" };
    if (age <= rules.keepAllForMinutes * MINUTE) return { point, keep: true, reason: `every point for ${rules.keepAllForMinutes} minutes` };
    if (point.consistency === "app" && age <= rules.keepAppConsistentForDays * DAY) return { point, keep: true, reason: `application-consistent for ${rules.keepAppConsistentForDays} days` };
    if (age > rules.keepIntervalPointsForHours * HOUR) return { point, keep: false, reason: "older than every rule" };
    const bucket = Math.floor(Date.parse(point.time) / bucketMs);
    const sharedPoint = sharedOfBucket.get(bucket);
    // Kept even beside a point another rule keeps (a pin): every member keeps this tick of the interval.
    if (sharedPoint === point.id) return { point, keep: true, reason: `newest of its ${rules.recoveryPointIntervalHours}-hour interval that its consistency group shares` };
    if (keptBuckets.has(bucket)) return { point, keep: false, reason: "its interval has a newer point" };
    if (sharedPoint !== undefined) return { point, keep: false, reason: "its interval has a point at a tick every member of its consistency group has" };
    return { point, keep: true, reason: `newest of its ${rules.recoveryPointIntervalHours}-hour interval` };
  }
}
