import { describe, expect, it } from "@jest/globals";
import type { BackupVault, Gateway, ProtectedServer, RecoveryDrill, VCenter } from "../api/generated/types.js";
import type { ConditionInput } from "../runtime/conditions.js";
import type { Kube, WithKind } from "../runtime/kube.js";
import type { PointHeader } from "../vault/index.js";
import { SPEC_ENV } from "../worker/spec.js";
import { drillGroupChoice, failoverGroupChoice, GROUP_LABELS, groupChanged, groupPoints, groupScheduleProblem, heldTicks, memberNames, peerKeys, nextGroupTick, parseTickLabel, reportGroup, sharedPoint, sharedTicks, tickLabel } from "./consistency-groups.js";
import { createCycleJob } from "./dr-jobs.js";
import { choosePoint } from "./dr-points.js";
import { rpoTargetSeconds } from "./protected-server-controller.js";
import { DEFAULT_RETENTION, judgeReplicationPoints } from "./replication-retention.js";

function server(name: string, spec: Partial<ProtectedServer["spec"]> = {}, status: ProtectedServer["status"] = {}): WithKind<ProtectedServer> {
  return {
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "ProtectedServer",
    metadata: { namespace: "dr", name },
    spec: { sitePairRef: { name: "pair" }, source: { vmName: name }, consistencyGroup: "shop", replication: { crashConsistentIntervalMinutes: 5 }, ...spec },
    status,
  };
}

let seq = 0;
function point(server: string, time: string, tick: string | undefined, consistency: "crash" | "app" = "crash", labels: Record<string, string> = {}): PointHeader {
  seq += 1;
  return {
    id: `p${seq}`,
    time,
    committedAt: time,
    consistency,
    blockSize: 1 << 20,
    disks: [],
    storedBytes: 0,
    host: "h",
    labels: { namespace: "dr", protectedServer: server, direction: "forward", vm: server, ...(tick ? { [GROUP_LABELS.group]: "shop", [GROUP_LABELS.tick]: tick } : {}), ...labels },
  };
}

const at = (iso: string): Date => new Date(iso);

describe("a consistency group's ticks", () => {
  it("are labelled in a form that reads back", () => {
    expect(tickLabel(at("2026-12-07T19:05:00Z"))).toBe("20261207T190500Z");
    expect(parseTickLabel("20261207T190500Z")?.toISOString()).toBe("2026-12-07T19:05:00.000Z");
    expect(parseTickLabel("2026-12-07")).toBeUndefined();
  });

  it("come every interval from the epoch, the same for every member whatever its last point, the Job starting ahead", () => {
    const settings = { crashConsistentIntervalMinutes: 5 };
    const a = nextGroupTick({ now: at("2026-12-07T19:01:10Z"), settings, lastPointTime: at("2026-12-07T19:00:00.400Z"), consecutiveFailures: 0 });
    const b = nextGroupTick({ now: at("2026-12-07T19:03:50Z"), settings, lastPointTime: at("2026-12-07T19:00:02Z"), consecutiveFailures: 0 });
    expect(a.tick.toISOString()).toBe("2026-12-07T19:05:00.000Z");
    expect(b.tick.toISOString()).toBe("2026-12-07T19:05:00.000Z");
    expect(a.start.toISOString()).toBe("2026-12-07T19:04:00.000Z");
    // A member with no point yet takes the next tick to come.
    expect(nextGroupTick({ now: at("2026-12-07T19:01:10Z"), settings, consecutiveFailures: 0 }).tick.toISOString()).toBe("2026-12-07T19:05:00.000Z");
    // A one-minute interval starts its Jobs half a minute ahead.
    const fast = nextGroupTick({ now: at("2026-12-07T19:00:10Z"), settings: { crashConsistentIntervalMinutes: 1 }, lastPointTime: at("2026-12-07T19:00:01Z"), consecutiveFailures: 0 });
    expect([fast.tick.toISOString(), fast.start.toISOString()]).toEqual(["2026-12-07T19:01:00.000Z", "2026-12-07T19:00:30.000Z"]);
  });

  it("skip what has passed (a long cycle) and back off after failures, still onto ticks", () => {
    const settings = { crashConsistentIntervalMinutes: 5 };
    const late = nextGroupTick({ now: at("2026-12-07T19:07:00Z"), settings, lastPointTime: at("2026-12-07T19:00:00Z"), consecutiveFailures: 0 });
    expect(late.tick.toISOString()).toBe("2026-12-07T19:10:00.000Z");
    // The fourth failure in a row backs off 4 minutes from the failed cycle's end: past 19:05, so 19:10.
    const backoff = nextGroupTick({ now: at("2026-12-07T19:01:30Z"), settings, lastPointTime: at("2026-12-07T18:55:00Z"), lastCycleEnd: at("2026-12-07T19:01:30Z"), consecutiveFailures: 4 });
    expect(backoff.tick.toISOString()).toBe("2026-12-07T19:10:00.000Z");
  });

  it("quiesce every guest at the first tick of each application-consistent interval", () => {
    const settings = { crashConsistentIntervalMinutes: 15, appConsistentIntervalHours: 1 };
    const first = nextGroupTick({ now: at("2026-12-07T18:50:00Z"), settings, lastPointTime: at("2026-12-07T18:45:00Z"), consecutiveFailures: 0 });
    const second = nextGroupTick({ now: at("2026-12-07T19:05:00Z"), settings, lastPointTime: at("2026-12-07T19:00:00Z"), lastAppPointTime: at("2026-12-07T19:00:00Z"), consecutiveFailures: 0 });
    expect([first.tick.toISOString(), first.application]).toEqual(["2026-12-07T19:00:00.000Z", true]);
    expect([second.tick.toISOString(), second.application]).toEqual(["2026-12-07T19:15:00.000Z", false]);
    // A member that missed the hour's first tick quiesces at its next one, not an hour later.
    const missed = nextGroupTick({ now: at("2026-12-07T19:05:00Z"), settings, lastPointTime: at("2026-12-07T18:45:00Z"), lastAppPointTime: at("2026-12-07T18:00:00Z"), consecutiveFailures: 0 });
    expect([missed.tick.toISOString(), missed.application]).toEqual(["2026-12-07T19:15:00.000Z", true]);
    const made = nextGroupTick({ now: at("2026-12-07T19:05:00Z"), settings, lastPointTime: at("2026-12-07T19:00:00Z"), lastAppPointTime: at("2026-12-07T19:00:00Z"), consecutiveFailures: 0 });
    expect(made.application).toBe(false);
    // A guest that failed to quiesce at 19:00 gives a crash-consistent tick next, then is tried again.
    const afterFailure = nextGroupTick({ now: at("2026-12-07T19:01:00Z"), settings, lastPointTime: at("2026-12-07T18:45:00Z"), lastAppPointTime: at("2026-12-07T18:00:00Z"), lastFailedAppCycleEnd: at("2026-12-07T19:00:40Z"), lastCycleEnd: at("2026-12-07T19:00:40Z"), consecutiveFailures: 1 });
    expect([afterFailure.tick.toISOString(), afterFailure.application]).toEqual(["2026-12-07T19:15:00.000Z", false]);
    const retried = nextGroupTick({ now: at("2026-12-07T19:16:00Z"), settings, lastPointTime: at("2026-12-07T19:15:00Z"), lastAppPointTime: at("2026-12-07T18:00:00Z"), consecutiveFailures: 0 });
    expect(retried.application).toBe(true);
  });
});

describe("a consistency group's members", () => {
  it("are the namespace's servers naming the group, not being deleted", () => {
    const db = server("db");
    const servers = [server("web"), db, server("other", { consistencyGroup: "crm" }), { ...server("gone"), metadata: { namespace: "dr", name: "gone", deletionTimestamp: new Date("2026-12-07T00:00:00Z") } }, { ...server("elsewhere"), metadata: { namespace: "prod", name: "elsewhere" } }];
    expect(memberNames(db, servers)).toEqual(["db", "web"]);
    expect(memberNames(server("solo", { consistencyGroup: undefined }), servers)).toEqual(["solo"]);
    // A member failing over binds the others to its moment; one whose failover is committed, or that replicates back, no longer does.
    expect(memberNames(db, [db, server("web", { desiredState: "FailedOver" })])).toEqual(["db", "web"]);
    expect(memberNames(db, [db, server("web", { desiredState: "FailedOver", commitFailover: true })])).toEqual(["db"]);
    expect(memberNames(db, [db, server("web", { desiredState: "ReverseReplicating", commitFailover: true })])).toEqual(["db"]);
    // Even failing over itself, a server counts itself.
    const failing = server("db", { desiredState: "FailedOver", commitFailover: true });
    expect(memberNames(failing, [failing, server("web")])).toEqual(["db", "web"]);
  });

  it("take the group's ticks only with one site pair and one cadence, and say why not", () => {
    const db = server("db");
    expect(groupScheduleProblem(db, [db, server("web")], false)).toBeUndefined();
    expect(groupScheduleProblem(db, [db, server("web", { sitePairRef: { name: "other" } })], false)?.reason).toBe("SitePairDiffers");
    const slow = server("web", {}, { replicationSettings: { crashConsistentIntervalMinutes: 10 } });
    const differ = groupScheduleProblem(db, [db, slow], false);
    expect(differ?.reason).toBe("SettingsDiffer");
    expect(differ?.message).toContain("db every 5 min; web every 10 min");
    expect(groupScheduleProblem(db, [db], true)?.reason).toBe("NotSupported");
    expect(groupScheduleProblem(server("solo", { consistencyGroup: undefined }), [], false)).toBeUndefined();
    // The server as its reconcile has it, not the cache's older copy of itself: a policy's new interval just applied.
    const moved = server("db", { replication: { crashConsistentIntervalMinutes: 10 } }, { replicationSettings: { crashConsistentIntervalMinutes: 10 } });
    const cachedSelf = server("db", {}, { replicationSettings: { crashConsistentIntervalMinutes: 5 } });
    expect(groupScheduleProblem(moved, [cachedSelf, slow], false)).toBeUndefined();
  });

  it("report GroupConsistent, and no condition once the group is gone", () => {
    const conditions: ConditionInput[] = [];
    const db = server("db");
    reportGroup(db, [db, server("web")], false, (c) => conditions.push(c));
    expect(conditions.at(-1)).toMatchObject({ type: "GroupConsistent", status: "True", reason: "SharedTicks" });
    expect(conditions.at(-1)?.message).toContain("consistency group shop (db, web): every 5 min from the epoch");
    reportGroup(db, [db, server("web", { sitePairRef: { name: "other" } })], false, (c) => conditions.push(c));
    expect(conditions.at(-1)).toMatchObject({ status: "False", reason: "SitePairDiffers" });
    const solo = server("db", { consistencyGroup: undefined }, { conditions: [{ type: "GroupConsistent", status: "True", reason: "SharedTicks", message: "", lastTransitionTime: "" }] });
    reportGroup(solo, [], false, (c) => conditions.push(c));
    expect(solo.status?.conditions).toEqual([]);
  });

  it("reconcile each other when one comes, goes or changes what the others read, and not for a status write", () => {
    const db = server("db");
    expect(peerKeys(db, [db, server("web"), server("other", { consistencyGroup: "crm" })])).toEqual(["dr/web"]);
    expect(groupChanged(db, server("db", { consistencyGroup: "crm" }))).toBe(true);
    expect(groupChanged(db, server("db", { desiredState: "FailedOver" }))).toBe(true);
    expect(groupChanged(db, server("db", {}, { replicationSettings: { crashConsistentIntervalMinutes: 10 } }))).toBe(true);
    expect(groupChanged(db, server("db", {}, { lastRecoveryPointTime: "2026-12-07T19:05:00Z", learnedCycleSeconds: 12 }))).toBe(false);
    expect(groupChanged(server("solo", { consistencyGroup: undefined }), server("solo", { consistencyGroup: undefined, desiredState: "FailedOver" }))).toBe(false);
  });

  it("have an RPO target of at least the interval plus a cycle's time while they take the ticks", () => {
    expect(rpoTargetSeconds(server("db", {}, { learnedCycleSeconds: 40 }), true)).toBe(300 + 60);
    expect(rpoTargetSeconds(server("db", { replication: { crashConsistentIntervalMinutes: 5, rpoThresholdMinutes: 15 } }), true)).toBe(900);
    expect(rpoTargetSeconds(server("db", { replication: { crashConsistentIntervalMinutes: 5, rpoThresholdMinutes: 5 } }, { learnedCycleSeconds: 40 }), true)).toBe(360);
    // On its own schedule (GroupConsistent=False, or no group), the server's own target.
    expect(rpoTargetSeconds(server("db", { replication: { crashConsistentIntervalMinutes: 5, rpoThresholdMinutes: 5 } }, { learnedCycleSeconds: 40 }))).toBe(300);
    expect(rpoTargetSeconds(server("db", { consistencyGroup: undefined }))).toBe(300);
  });
});

describe("the points a group shares", () => {
  const points = [
    point("db", "2026-12-07T19:00:00.2Z", "20261207T190000Z", "app"),
    point("web", "2026-12-07T19:00:00.9Z", "20261207T190000Z", "app"),
    point("db", "2026-12-07T19:05:00.1Z", "20261207T190500Z"),
    point("web", "2026-12-07T19:05:00.3Z", "20261207T190500Z"),
    // web failed 19:10; db has it alone.
    point("db", "2026-12-07T19:10:00.1Z", "20261207T191000Z"),
    // Another namespace's server of the same name, and a point of no tick.
    point("web", "2026-12-07T19:10:00.1Z", "20261207T191000Z", "crash", { namespace: "prod" }),
    point("web", "2026-12-07T19:11:00Z", undefined),
  ];

  it("are the ticks every member has a point at, newest first", () => {
    expect(sharedTicks(points, "dr", "shop", ["db", "web"])).toEqual(["20261207T190500Z", "20261207T190000Z"]);
    expect(sharedTicks(points, "dr", "shop", ["db", "web"], true)).toEqual(["20261207T190000Z"]);
    expect(sharedTicks(points, "dr", "shop", ["db"])[0]).toBe("20261207T191000Z");
    expect(sharedPoint(points, "dr", "shop", "web", ["db", "web"])?.time).toBe("2026-12-07T19:05:00.3Z");
    expect(sharedPoint(points, "dr", "shop", "web", ["db", "web", "cache"])).toBeUndefined();
  });

  it("are what a member's failover or drill chooses for latest, or the tick another member took", async () => {
    const kube = {} as Kube;
    const vault = { metadata: { name: "v" } } as BackupVault;
    const db = server("db");
    const own = points.filter((p) => p.labels.protectedServer === "db" && p.labels.namespace === "dr");
    const latest = await choosePoint(kube, db, vault, "latest", { own, all: points }, "spec.recoveryPoint", { members: ["db", "web"] });
    expect(latest.ok && [latest.value.point.time, latest.value.groupTick, latest.value.notShared]).toEqual(["2026-12-07T19:05:00.1Z", "20261207T190500Z", undefined]);
    const app = await choosePoint(kube, db, vault, "latest-app-consistent", { own, all: points }, "spec.recoveryPoint", { members: ["db", "web"] });
    expect(app.ok && app.value.groupTick).toBe("20261207T190000Z");
    const taken = await choosePoint(kube, db, vault, "latest", { own, all: points }, "spec.recoveryPoint", { members: ["db", "web"], taken: "20261207T190000Z" });
    expect(taken.ok && [taken.value.point.time, taken.value.notShared]).toEqual(["2026-12-07T19:00:00.2Z", undefined]);
    // A tick taken by another member that this one no longer has: the newest shared tick, and a warning that says so.
    const lost = await choosePoint(kube, db, vault, "latest", { own, all: points }, "spec.recoveryPoint", { members: ["db", "web"], taken: "20261207T185500Z" });
    expect(lost.ok && lost.value.groupTick).toBe("20261207T190500Z");
    expect(lost.ok && lost.value.notShared).toContain("another member came back to tick 20261207T185500Z, of which db has no point");
    // No tick shared with a member that has no point yet: the server's own newest, and why.
    const alone = await choosePoint(kube, db, vault, "latest", { own, all: points }, "spec.recoveryPoint", { members: ["cache", "db", "web"] });
    expect(alone.ok && alone.value.point.time).toBe("2026-12-07T19:10:00.1Z");
    expect(alone.ok && alone.value.notShared).toContain("consistency group shop: cache, db, web share no tick");
  });

  it("take the tick another member's failover or a sibling drill took", () => {
    const db = server("db");
    const web = server("web", { desiredState: "FailedOver" }, { failover: { groupTick: "20261207T190500Z" } });
    expect(failoverGroupChoice(db, [db, web])).toEqual({ members: ["db", "web"], taken: "20261207T190500Z" });
    expect(failoverGroupChoice(db, [db, server("web")]).taken).toBeUndefined();
    // A failover committed long ago is no moment to come back to.
    const committed = server("web", { desiredState: "FailedOver", commitFailover: true }, { failover: { groupTick: "20261130T190500Z" } });
    expect(failoverGroupChoice(db, [db, committed])).toEqual({ members: ["db"], taken: undefined });
    const parent = { uid: "plan-drill", kind: "RecoveryDrill", name: "shop-test", apiVersion: "lifeboat.io/v1alpha1", controller: true };
    const drill = (name: string, ps: string, groupTick?: string): RecoveryDrill => ({ apiVersion: "lifeboat.io/v1alpha1", kind: "RecoveryDrill", metadata: { name, uid: name, namespace: "dr", ownerReferences: [parent] }, spec: { protectedServerRef: { name: ps } }, status: groupTick ? { groupTick } : {} });
    const mine = drill("shop-test-web", "web");
    expect(drillGroupChoice(mine, server("web"), [db, server("web")], [mine, drill("shop-test-db", "db", "20261207T190000Z")]).taken).toBe("20261207T190000Z");
    expect(drillGroupChoice({ ...mine, metadata: { name: "alone", uid: "alone" } }, server("web"), [db, server("web")], [drill("shop-test-db", "db", "20261207T190000Z")]).taken).toBeUndefined();
  });

  it("hold this server's points at the ticks other members' drills and uncommitted failovers came back to", () => {
    const db = server("db");
    const drill: RecoveryDrill = { apiVersion: "lifeboat.io/v1alpha1", kind: "RecoveryDrill", metadata: { name: "d", namespace: "dr" }, spec: { protectedServerRef: { name: "web" } }, status: { groupTick: "20261207T190000Z" } };
    const mine: RecoveryDrill = { ...drill, spec: { protectedServerRef: { name: "db" } }, status: { groupTick: "20261207T180000Z" } };
    const failing = server("cache", { desiredState: "FailedOver" }, { failover: { groupTick: "20261207T191000Z" } });
    const committed = server("queue", { desiredState: "FailedOver", commitFailover: true }, { failover: { groupTick: "20261207T170000Z", committed: true } });
    const servers = [db, server("web"), failing, committed];
    expect([...heldTicks(db, memberNames(db, servers), servers, [drill, mine])].sort()).toEqual(["20261207T190000Z", "20261207T191000Z"]);
  });

  it("are found once at a cycle's end: the newest shared tick, and the member's points retention keeps", () => {
    const db = server("db");
    const own = points.filter((p) => p.labels.protectedServer === "db" && p.labels.namespace === "dr");
    const webDrill: RecoveryDrill = { apiVersion: "lifeboat.io/v1alpha1", kind: "RecoveryDrill", metadata: { name: "d", namespace: "dr" }, spec: { protectedServerRef: { name: "web" } }, status: { groupTick: "20261207T191000Z" } };
    const seen = groupPoints(db, own, points, [db, server("web")], [webDrill]);
    const timeOf = (ids: ReadonlySet<string>): string[] => own.filter((p) => ids.has(p.id)).map((p) => p.time);
    expect(seen.newestShared).toBe("20261207T190500Z");
    expect(timeOf(seen.shared)).toEqual(["2026-12-07T19:00:00.2Z", "2026-12-07T19:05:00.1Z"]);
    expect(timeOf(seen.held)).toEqual(["2026-12-07T19:10:00.1Z"]);
  });

  it("are what retention keeps of each interval, so that every member keeps the same tick", () => {
    const now = at("2026-12-08T12:00:00Z");
    const mine = [point("db", "2026-12-08T06:50:00Z", "20261208T065000Z"), point("db", "2026-12-08T06:55:00Z", "20261208T065500Z"), point("db", "2026-12-08T11:59:00Z", "20261208T115900Z")];
    const shared = new Set([mine[0]?.id ?? ""]);
    const kept = (set?: ReadonlySet<string>): string[] => judgeReplicationPoints(mine, DEFAULT_RETENTION, new Set(), now, set).filter((v) => v.keep).map((v) => v.point.time);
    expect(kept()).toEqual(["2026-12-08T11:59:00Z", "2026-12-08T06:55:00Z"]);
    expect(kept(shared)).toEqual(["2026-12-08T11:59:00Z", "2026-12-08T06:50:00Z"]);
    // A pin on the interval's newest keeps that point too, and never costs the interval its shared tick.
    const pinned = judgeReplicationPoints(mine, DEFAULT_RETENTION, new Set([mine[1]?.id ?? ""]), now, shared).filter((v) => v.keep).map((v) => v.point.time);
    expect(pinned.sort()).toEqual(["2026-12-08T06:50:00Z", "2026-12-08T06:55:00Z", "2026-12-08T11:59:00Z"]);
  });
});

describe("a group's cycle Job", () => {
  it("has its worker snapshot at the tick, and its point carry the group and the tick; a server's own cycle neither", async () => {
    const created: { spec?: { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } } }[] = [];
    const kube = { batch: { createNamespacedJob: (req: { body: (typeof created)[number] }) => { created.push(req.body); return Promise.resolve(); } } } as unknown as Kube;
    const vcenter = { apiVersion: "lifeboat.io/v1alpha1", kind: "VCenter", metadata: { name: "vc1" }, spec: { address: "vc.example.com", gatewayRef: { name: "gw" }, credentialsSecretRef: { name: "vc-creds" }, tls: { insecureSkipVerify: true } } } as VCenter;
    const vault = { metadata: { name: "v" }, spec: { backend: { filesystem: { path: "/vault" } }, encryption: { keySecretRef: { name: "vault-key" } } } } as unknown as BackupVault;
    const gateway = { apiVersion: "lifeboat.io/v1alpha1", kind: "Gateway", metadata: { name: "gw", namespace: "dr" }, spec: { vaultRef: { name: "v" } } } as WithKind<Gateway>;
    const cycle = { ps: server("db"), name: "db-c1", cycleId: "c1", direction: "forward" as const, vm: { name: "db" }, vcenter, vault, gateway, quiesce: false, sitePair: "pair", bandwidthBytesPerSecond: 0 };
    await createCycleJob(kube, { ...cycle, groupTick: { group: "shop", tick: at("2026-12-07T19:05:00Z") } });
    await createCycleJob(kube, cycle);
    const specs = created.map((job) => JSON.parse(job.spec?.template?.spec?.containers?.[0]?.env?.find((e) => e.name === SPEC_ENV)?.value ?? "{}") as { snapshotAt?: string; labels: Record<string, string> });
    expect(specs[0]?.snapshotAt).toBe("2026-12-07T19:05:00.000Z");
    expect(specs[0]?.labels).toMatchObject({ consistencyGroup: "shop", groupTick: "20261207T190500Z", protectedServer: "db", direction: "forward" });
    expect(specs[1]?.snapshotAt).toBeUndefined();
    expect(Object.keys(specs[1]?.labels ?? {})).not.toContain("groupTick");
  });
});
