/**
 * Multi-VM consistency (seed 003: servers replicated together share their
 * crash-consistent and application-consistent recovery points). The servers
 * of one namespace whose spec.consistencyGroup is the same snapshot
 * together: at ticks every crash-consistent interval from the epoch, the
 * first tick of each application-consistent interval quiescing every guest
 * (nextGroupTick).
 * Each member works its tick out alone from the same settings and the clock,
 * so no member leads and a member that is down holds no other member's
 * schedule back. A cycle's
 * Job starts a little ahead of its tick and its worker takes the snapshot at
 * the tick (spec.snapshotAt), so the members' snapshots are a moment apart,
 * not a Job start apart. Each point carries the group and its tick
 * (GROUP_LABELS), and a failover or drill of a member resolves "latest" and
 * "latest-app-consistent" to its point of the newest tick that every member
 * has: the whole application comes back to one moment.
 *
 * vSphere cannot snapshot several VMs at one instant: the members' snapshots
 * are as close as their workers' clocks and vCenter's answers make them
 * (point times show it), which is what crash consistency across machines
 * can mean without an agent in each guest.
 */
import type { ProtectedServer, RecoveryDrill } from "../api/generated/types.js";
import { removeCondition, type ConditionInput } from "../runtime/conditions.js";
import { GROUP_LABELS } from "../worker/labels.js";
import type { PointHeader } from "../vault/index.js";
import { isoSeconds } from "../util/time.js";

type Settings = NonNullable<ProtectedServer["spec"]["replication"]>;

export { GROUP_LABELS };

/** The condition a member reports: whether its cycles are the group's. */
export const GROUP_CONDITION = "GroupConsistent";

/** How far ahead of its tick a cycle's Job starts, at most: a worker pod starts, logs in to vCenter and finds the VM meanwhile. */
const MAX_LEAD_SECONDS = 60;

/** A tick as a label value: 20261207T190500Z. */
export function tickLabel(tick: Date): string {
  return isoSeconds(tick).replace(/[-:]/g, "");
}

/** Parses tickLabel's form back; undefined for anything else. */
export function parseTickLabel(value: string | undefined): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? "");
  if (!m) return undefined;
  const time = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/** The settings a server runs with: recorded in status by its own reconcile (policy applied), else its spec. */
function settingsOf(ps: ProtectedServer): Settings {
  return ps.status?.replicationSettings ?? ps.spec.replication ?? {};
}

/** What makes the ticks: the crash-consistent interval and the application-consistent one, in seconds. */
function cadence(settings: Settings): { interval: number; app: number | undefined } {
  const hours = settings.appConsistentIntervalHours;
  return { interval: (settings.crashConsistentIntervalMinutes ?? 5) * 60, app: hours !== undefined ? hours * 3600 : undefined };
}

/** The members of `ps`'s group: the servers of its namespace (itself included) naming the same group and not being deleted, by name. */
export function groupMembers(ps: ProtectedServer, servers: readonly ProtectedServer[]): ProtectedServer[] {
  const group = ps.spec.consistencyGroup;
  if (!group) return [];
  // `ps` as the caller has it, not the cache's copy, which may predate the settings its reconcile just applied.
  const others = servers.filter((s) => s.metadata.name !== ps.metadata.name && !s.metadata.deletionTimestamp && s.spec.consistencyGroup === group && (s.metadata.namespace ?? "") === (ps.metadata.namespace ?? ""));
  return [...(ps.metadata.deletionTimestamp ? [] : [ps]), ...others].sort((a, b) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));
}

/**
 * Why `ps` cannot take the group's ticks, if it cannot: members of another
 * site pair (their points are in another vault), or with another cadence
 * (their ticks would seldom meet). Such a member replicates on its own
 * schedule until the cause is fixed, and says so.
 */
export function groupProblem(ps: ProtectedServer, members: readonly ProtectedServer[]): { reason: string; message: string } | undefined {
  const group = ps.spec.consistencyGroup ?? "";
  const pair = ps.spec.sitePairRef.name;
  const otherPair = members.filter((m) => m.spec.sitePairRef.name !== pair);
  if (otherPair.length > 0) {
    return { reason: "SitePairDiffers", message: `consistency group ${group}: ${otherPair.map((m) => `${m.metadata.name ?? ""} (site pair ${m.spec.sitePairRef.name})`).join(", ")} replicate(s) within another site pair than ${pair}; members must share one, so that their points are in one vault` };
  }
  const mine = cadence(settingsOf(ps));
  const differ = members.filter((m) => {
    const theirs = cadence(settingsOf(m));
    return theirs.interval !== mine.interval || theirs.app !== mine.app;
  });
  if (differ.length > 0) {
    const describe = (m: ProtectedServer): string => {
      const c = cadence(settingsOf(m));
      return `${m.metadata.name ?? ""} every ${c.interval / 60} min${c.app !== undefined ? `, application-consistent every ${c.app / 3600} h` : ""}`;
    };
    return { reason: "SettingsDiffer", message: `consistency group ${group}: the members' intervals differ (${[ps, ...differ].map(describe).join("; ")}); give them one ReplicationPolicy (crashConsistentIntervalMinutes and appConsistentIntervalHours must match)` };
  }
  return undefined;
}

/** The cycle a member takes next: its tick, whether it quiesces, and when its Job starts. */
export interface GroupTick {
  readonly tick: Date;
  readonly application: boolean;
  readonly start: Date;
}

/** Backoff after failed cycles, as the server's own schedule (replication-schedule.ts): 30 s doubling up to 5 minutes. */
function retrySeconds(failures: number): number {
  return failures > 0 ? Math.min(30 * 2 ** (failures - 1), 300) : 0;
}

/**
 * The next tick a member takes: the one after its newest point's, or, when
 * that has passed (a long cycle, a failure, no Gateway slot, the operator
 * down), the next one to come; never before a failed cycle's backoff. A
 * tick is application-consistent when the member has no
 * application-consistent point of the tick's application-consistent
 * interval yet: the interval's first tick for every member that made the
 * last one, and the next tick for a member that missed it (one whose
 * application-consistent cycle just failed takes a crash-consistent tick
 * between attempts). The Job starts
 * `lead` before the tick: half an interval, at most a minute.
 */
export function nextGroupTick(input: {
  now: Date;
  settings: Settings;
  lastPointTime?: Date | undefined;
  lastAppPointTime?: Date | undefined;
  /** When the last cycle ended, if it was application-consistent and failed (a guest that cannot quiesce). */
  lastFailedAppCycleEnd?: Date | undefined;
  lastCycleEnd?: Date | undefined;
  consecutiveFailures: number;
}): GroupTick {
  const { interval, app } = cadence(input.settings);
  const step = interval * 1000;
  const lead = Math.min(MAX_LEAD_SECONDS, interval / 2) * 1000;
  const now = input.now.getTime();
  const upcoming = (from: number): number => Math.ceil(from / step) * step;
  let tick = input.lastPointTime ? Math.floor(input.lastPointTime.getTime() / step) * step + step : upcoming(now);
  if (tick < now) tick = upcoming(now);
  if (input.lastCycleEnd && input.consecutiveFailures > 0) tick = Math.max(tick, upcoming(input.lastCycleEnd.getTime() + retrySeconds(input.consecutiveFailures) * 1000));
  const periodStart = app === undefined ? undefined : Math.floor(tick / (app * 1000)) * app * 1000;
  // Right after a failed application-consistent cycle of this interval the next tick is crash-consistent, so that a
  // guest that cannot quiesce still gives the group every other tick instead of failing them all.
  const appFailedNow = periodStart !== undefined && (input.lastFailedAppCycleEnd?.getTime() ?? -Infinity) >= periodStart;
  const application = periodStart !== undefined && !appFailedNow && (input.lastAppPointTime?.getTime() ?? -Infinity) < periodStart;
  return { tick: new Date(tick), application, start: new Date(tick - lead) };
}

/** The tick of a forward point of namespace `ns` taken for `group`, if it is one. */
function tickOf(point: PointHeader, ns: string, group: string): string | undefined {
  const l = point.labels;
  return l.namespace === ns && l[GROUP_LABELS.group] === group && l.direction === "forward" ? l[GROUP_LABELS.tick] : undefined;
}

/**
 * The ticks of `group` in namespace `ns` that every member in `members` has a forward point
 * for (all application-consistent, with `application`), newest first.
 */
export function sharedTicks(points: readonly PointHeader[], ns: string, group: string, members: readonly string[], application = false): string[] {
  const byTick = new Map<string, Map<string, PointHeader>>();
  for (const p of points) {
    const tick = tickOf(p, ns, group);
    const member = p.labels.protectedServer;
    if (tick === undefined || member === undefined || !members.includes(member)) continue;
    const at = byTick.get(tick) ?? new Map<string, PointHeader>();
    at.set(member, p);
    byTick.set(tick, at);
  }
  return [...byTick.entries()]
    .filter(([, at]) => at.size === members.length && (!application || [...at.values()].every((p) => p.consistency === "app")))
    .map(([tick]) => tick)
    .sort()
    .reverse();
}

/**
 * The point of `server` at the newest tick every member shares (all
 * application-consistent, with `application`); undefined when there is none.
 */
export function sharedPoint(points: readonly PointHeader[], ns: string, group: string, server: string, members: readonly string[], application = false): PointHeader | undefined {
  const newest = sharedTicks(points, ns, group, members, application)[0];
  return newest === undefined ? undefined : points.find((p) => p.labels.protectedServer === server && tickOf(p, ns, group) === newest);
}

/**
 * Whether a member's forward points still bind its group: it replicates
 * forward, or its failover is not committed yet (a disaster or a plan under
 * way, whose other members must come back to its moment). A member whose
 * failover is committed, or that replicates back or fails back, has moved
 * on: its forward points stopped, and holding the others to its last tick
 * would bring them back to a moment the application left long ago.
 */
function bindsGroup(s: ProtectedServer): boolean {
  const desired = s.spec.desiredState ?? "Replicating";
  return desired === "Replicating" || (desired === "FailedOver" && !s.spec.commitFailover);
}

/**
 * The names whose points a failover, drill or retention of `ps` must find
 * at one tick: itself, and the group's members within its site pair (a
 * member elsewhere has its points in another vault, and condition
 * GroupConsistent says so) that still bind the group.
 */
export function memberNames(ps: ProtectedServer, servers: readonly ProtectedServer[]): string[] {
  const name = ps.metadata.name ?? "";
  const others = groupMembers(ps, servers).filter((m) => m.metadata.name !== name && m.spec.sitePairRef.name === ps.spec.sitePairRef.name && bindsGroup(m));
  return [name, ...others.map((m) => m.metadata.name ?? "")].sort();
}

/**
 * Whether `ps` takes its group's ticks now: undefined when it does (or has
 * no group), else why not. A server of a cloud pair (an ECS instance) is
 * protected by cloud snapshots on its own schedule, which takes no ticks.
 */
export function groupScheduleProblem(ps: ProtectedServer, servers: readonly ProtectedServer[], cloudPair: boolean): { reason: string; message: string } | undefined {
  if (!ps.spec.consistencyGroup) return undefined;
  if (cloudPair) return { reason: "NotSupported", message: `consistency group ${ps.spec.consistencyGroup}: the server is an ECS instance of a cloud site pair, protected by cloud snapshots on its own schedule; only VMs of a vSphere source site take a group's ticks` };
  return groupProblem(ps, groupMembers(ps, servers));
}

/** Condition GroupConsistent: present only while spec.consistencyGroup is set. Returns whether the server takes its group's ticks. */
export function reportGroup(ps: ProtectedServer, servers: readonly ProtectedServer[], cloudPair: boolean, setCondition: (c: ConditionInput) => void): boolean {
  const group = ps.spec.consistencyGroup;
  if (!group) {
    removeCondition(ps.status, GROUP_CONDITION);
    if (ps.status) delete ps.status.sharedPointTime;
    return false;
  }
  const problem = groupScheduleProblem(ps, servers, cloudPair);
  if (problem) {
    setCondition({ type: GROUP_CONDITION, status: "False", reason: problem.reason, message: `${problem.message}; this server replicates on its own schedule meanwhile, and a failover of a member finds no tick its points share` });
    return false;
  }
  const { interval, app } = cadence(settingsOf(ps));
  const names = groupMembers(ps, servers).map((m) => m.metadata.name ?? "");
  setCondition({
    type: GROUP_CONDITION,
    status: "True",
    reason: "SharedTicks",
    message: `forward cycles snapshot at the ticks of consistency group ${group} (${names.join(", ")}): every ${interval / 60} min from the epoch${app !== undefined ? `, application-consistent at the first tick of every ${app / 3600} h` : ""}`,
  });
  return true;
}

/** What a failover of `ps` chooses with: its group's members, and the tick a member whose failover is not committed yet took. */
export function failoverGroupChoice(ps: ProtectedServer, servers: readonly ProtectedServer[]): { members: string[]; taken?: string | undefined } {
  const members = memberNames(ps, servers);
  const others = servers.filter((s) => members.includes(s.metadata.name ?? "") && s.metadata.name !== ps.metadata.name);
  const taken = others.find((s) => s.spec.desiredState === "FailedOver" && !s.spec.commitFailover && s.status?.failover?.groupTick)?.status?.failover?.groupTick;
  return { members, taken };
}

/** What a server's drill chooses with: its group's members, and the tick a drill of another member under the same plan drill took. */
export function drillGroupChoice(drill: RecoveryDrill, ps: ProtectedServer, servers: readonly ProtectedServer[], drills: readonly RecoveryDrill[]): { members: string[]; taken?: string | undefined } {
  const members = memberNames(ps, servers);
  const parent = drill.metadata.ownerReferences?.find((o) => o.controller && o.kind === "RecoveryDrill")?.uid;
  if (!parent) return { members };
  const siblings = drills.filter((d) => d.metadata.uid !== drill.metadata.uid && d.metadata.ownerReferences?.some((o) => o.controller && o.uid === parent));
  const taken = siblings.find((d) => members.includes(d.spec.protectedServerRef?.name ?? "") && d.status?.groupTick)?.status?.groupTick;
  return { members, taken };
}

/**
 * The other members of `ps`'s group (keys), for the controller's peers
 * watch: a member that comes, goes, moves or changes its cadence changes
 * what every other member reports and schedules.
 */
export function peerKeys(ps: ProtectedServer, servers: readonly ProtectedServer[]): string[] {
  return groupMembers(ps, servers).filter((m) => m.metadata.name !== ps.metadata.name).map((m) => `${m.metadata.namespace ?? ""}/${m.metadata.name ?? ""}`);
}

/** Whether an update of a server concerns its group's other members: what groupProblem, memberNames and the choices of a failover read. */
export function groupChanged(old: ProtectedServer, obj: ProtectedServer): boolean {
  const seen = (s: ProtectedServer): string => JSON.stringify([
    s.spec.consistencyGroup,
    s.spec.sitePairRef.name,
    cadence(settingsOf(s)),
    s.spec.desiredState,
    s.spec.commitFailover,
    s.status?.failover?.groupTick,
    !!s.metadata.deletionTimestamp,
  ]);
  return (!!old.spec.consistencyGroup || !!obj.spec.consistencyGroup) && seen(old) !== seen(obj);
}

/**
 * The ticks the other members' drills and uncommitted failovers were made
 * from (`members`: memberNames): this server's points at them are kept (as
 * its own drills' points are pinned), so that a member brought up later
 * (the next group of a plan, a failover after a pause) still finds its
 * point of the same moment.
 */
export function heldTicks(ps: ProtectedServer, members: readonly string[], servers: readonly ProtectedServer[], drills: readonly RecoveryDrill[]): Set<string> {
  const others = new Set(members.filter((n) => n !== ps.metadata.name));
  const ticks = new Set<string>();
  for (const d of drills) if (others.has(d.spec.protectedServerRef?.name ?? "") && d.status?.groupTick) ticks.add(d.status.groupTick);
  for (const s of servers) if (others.has(s.metadata.name ?? "") && s.status?.failover?.groupTick && !s.status.failover.committed) ticks.add(s.status.failover.groupTick);
  return ticks;
}

/** What a member's forward cycle end needs of its group, from the vault's listing and the cache. */
export interface GroupPoints {
  /** The newest tick every member has a point at (status.sharedPointTime). */
  readonly newestShared: string | undefined;
  /** Ids of the member's points at ticks every member has: retention keeps one of each interval. */
  readonly shared: ReadonlySet<string>;
  /** Ids of the member's points at ticks other members' drills and uncommitted failovers took: retention keeps them. */
  readonly held: ReadonlySet<string>;
}

/** GroupPoints of `ps`, a member of a group, whose own points are `own` and the vault's `all`. */
export function groupPoints(ps: ProtectedServer, own: readonly PointHeader[], all: readonly PointHeader[], servers: readonly ProtectedServer[], drills: readonly RecoveryDrill[]): GroupPoints {
  const group = ps.spec.consistencyGroup ?? "";
  const members = memberNames(ps, servers);
  const ticks = sharedTicks(all, ps.metadata.namespace ?? "", group, members);
  const at = (wanted: ReadonlySet<string>): Set<string> => new Set(own.filter((p) => p.labels[GROUP_LABELS.group] === group && wanted.has(p.labels[GROUP_LABELS.tick] ?? "")).map((p) => p.id));
  return { newestShared: ticks[0], shared: at(new Set(ticks)), held: at(heldTicks(ps, members, servers, drills)) };
}
