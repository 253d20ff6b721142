/**
 * When a protected server's next replication cycle starts. Replication is
 * scheduled to an RPO, not by a cron: the newest point must never get older
 * than the crash-consistent interval, so a cycle starts early by about as
 * long as cycles take (learned from the recent ones), and right after the
 * previous one when cycles take longer than the interval.
 */

/** What the schedule needs to know about a server's replication so far. */
export interface ScheduleInput {
  readonly now: Date;
  /** spec.replication.crashConsistentIntervalMinutes, in seconds. */
  readonly intervalSeconds: number;
  /** spec.replication.appConsistentIntervalHours, in seconds; undefined for none. */
  readonly appIntervalSeconds?: number | undefined;
  /** Time of the newest point (its snapshot), if any. */
  readonly lastPointTime?: Date | undefined;
  /** Time of the newest application-consistent point, if any. */
  readonly lastAppPointTime?: Date | undefined;
  /** How long a cycle takes (snapshot to commit), learned; 0 before the first. */
  readonly learnedCycleSeconds: number;
  /** When the last cycle ended, whatever its result: the next never starts before it. */
  readonly lastCycleEnd?: Date | undefined;
  /** Cycles that failed in a row since the last success (they back off). */
  readonly consecutiveFailures: number;
}

/** The next cycle: when it is due, and whether it quiesces the guest. */
export interface NextCycle {
  readonly due: Date;
  readonly consistency: "Crash" | "Application";
}

/** A little slack on top of the learned duration: snapshot creation and commit vary. */
const MARGIN_SECONDS = 10;
/** A cycle may take 25 % longer than the learned duration before the RPO is at risk. */
const LEARNED_FACTOR = 1.25;
/** Retries after failed cycles back off from 30 s up to 5 minutes. */
const RETRY_BASE_SECONDS = 30;
const RETRY_MAX_SECONDS = 300;

/** How far ahead of the deadline a cycle starts. */
export function leadSeconds(learnedCycleSeconds: number): number {
  return Math.ceil(learnedCycleSeconds * LEARNED_FACTOR) + MARGIN_SECONDS;
}

/** The next cycle of a server. A server with no point yet starts at once (its first, full cycle). */
export function nextCycle(input: ScheduleInput): NextCycle {
  const lead = leadSeconds(input.learnedCycleSeconds) * 1000;
  const appDue = input.appIntervalSeconds !== undefined
    ? (input.lastAppPointTime ? input.lastAppPointTime.getTime() + input.appIntervalSeconds * 1000 - lead : input.now.getTime())
    : Number.POSITIVE_INFINITY;
  let due = input.lastPointTime ? input.lastPointTime.getTime() + input.intervalSeconds * 1000 - lead : input.now.getTime();
  // An application-consistent cycle that comes due first is the next cycle; it counts as a crash-consistent point too.
  const consistency = appDue <= due || appDue <= input.now.getTime() ? "Application" : "Crash";
  due = Math.min(due, appDue);
  if (input.lastCycleEnd) {
    const retry = input.consecutiveFailures > 0 ? Math.min(RETRY_BASE_SECONDS * 2 ** (input.consecutiveFailures - 1), RETRY_MAX_SECONDS) * 1000 : 0;
    due = Math.max(due, input.lastCycleEnd.getTime() + retry);
  }
  return { due: new Date(due), consistency };
}

/** The learned cycle duration after one more succeeded cycle: a moving average that follows change within a few cycles. */
export function learnCycleSeconds(previous: number, measured: number): number {
  if (previous <= 0) return Math.max(1, Math.round(measured));
  return Math.max(1, Math.round(previous * 0.5 + measured * 0.5));
}

/**
 * Who gets a Gateway's free worker slot among the servers whose cycles are
 * due: the one waiting longest (most overdue), so no server starves behind
 * others that happen to be reconciled first. Waiters that stopped asking
 * (deleted, paused, taken a slot) drop out after `staleMs`.
 */
export class FairQueue {
  private readonly waiters = new Map<string, { since: number; seen: number }>();

  constructor(private readonly staleMs = 60_000) {}

  /** Records that `key` has waited since `since`; returns whether it is first in line now. */
  ask(key: string, since: Date, now: Date = new Date()): boolean {
    this.waiters.set(key, { since: since.getTime(), seen: now.getTime() });
    for (const [k, w] of this.waiters) if (now.getTime() - w.seen > this.staleMs) this.waiters.delete(k);
    const ahead = [...this.waiters.entries()].filter(([k, w]) => k !== key && (w.since < since.getTime() || (w.since === since.getTime() && k < key)));
    return ahead.length === 0;
  }

  /** `key` got its slot, or no longer waits. */
  leave(key: string): void {
    this.waiters.delete(key);
  }

  /** Keys waiting, first in line first. */
  line(): string[] {
    return [...this.waiters.entries()].sort((a, b) => a[1].since - b[1].since || a[0].localeCompare(b[0])).map(([k]) => k);
  }
}
