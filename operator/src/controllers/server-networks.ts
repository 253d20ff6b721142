/**
 * The networks a protected server or a drill names over its site pair's
 * (seed 004: the failover, drill and failback panels each choose the
 * recovery network), and the isolation that every network choice keeps: a
 * drill's instance never joins a vSwitch that recovered servers run on, and a
 * recovered server never joins a test vSwitch. Isolation is judged across
 * every SitePair, ProtectedServer and RecoveryDrill of the namespace, not
 * only the object's own pair: ECS vSwitch ids are unique, so a vSwitch one
 * object calls production is production for all.
 */
import type { ProtectedServer, RecoveryDrill, SitePair } from "../api/generated/types.js";
import type { EcsDr } from "../cloud/alibaba/ecs-dr.js";
import { removeCondition, type ConditionInput } from "../runtime/conditions.js";
import type { ReconcileContext } from "../runtime/controller.js";
import type { WithKind } from "../runtime/kube.js";
import { describe } from "../runtime/errors.js";
import { checkCloudNetwork, isCloudPair, networkSite, type CloudNetwork, type CloudSites } from "./cloud-sites.js";
import { problemCondition, type Checked, type Problem } from "./references.js";

/** The vSwitches a namespace's objects give each role, each with the field that gives it (for messages). */
export interface NetworkRoles {
  /** Where recovered servers run: pairs' spec.recoveryNetwork, servers' spec.recovery.network. */
  readonly recovery: ReadonlyMap<string, string>;
  /** Where drill instances run: pairs' spec.testNetwork, drills' spec.testNetwork. */
  readonly test: ReadonlyMap<string, string>;
}

/** The roles of the vSwitches the given objects name. */
export function networkRoles(pairs: readonly SitePair[], servers: readonly ProtectedServer[], drills: readonly RecoveryDrill[]): NetworkRoles {
  const recovery = new Map<string, string>();
  const test = new Map<string, string>();
  const note = (roles: Map<string, string>, vSwitchId: string | undefined, by: string) => {
    if (vSwitchId && !roles.has(vSwitchId)) roles.set(vSwitchId, by);
  };
  for (const p of pairs) {
    note(recovery, p.spec.recoveryNetwork?.vSwitchId, `SitePair ${p.metadata.name ?? ""}'s spec.recoveryNetwork`);
    note(test, p.spec.testNetwork?.vSwitchId, `SitePair ${p.metadata.name ?? ""}'s spec.testNetwork`);
  }
  for (const s of servers) note(recovery, s.spec.recovery?.network?.vSwitchId, `ProtectedServer ${s.metadata.name ?? ""}'s spec.recovery.network`);
  for (const d of drills) note(test, d.spec.testNetwork?.vSwitchId, `RecoveryDrill ${d.metadata.name ?? ""}'s spec.testNetwork`);
  return { recovery, test };
}

/** The roles in a namespace, from the operator's informer cache. Callers pass it as a thunk: only a network a server or drill names needs it. */
export function namespaceNetworkRoles(ctx: Pick<ReconcileContext, "listCached">, namespace: string): NetworkRoles {
  return networkRoles(
    ctx.listCached<WithKind<SitePair>>("SitePair", namespace),
    ctx.listCached<WithKind<ProtectedServer>>("ProtectedServer", namespace),
    ctx.listCached<WithKind<RecoveryDrill>>("RecoveryDrill", namespace),
  );
}

function notIsolated(field: string, vSwitchId: string, user: string, why: string): Problem {
  return { reason: "TestNetworkNotIsolated", message: `${field}: ${vSwitchId} is ${user}: ${why}` };
}

/** A recovery vSwitch that is a test vSwitch of the namespace, as a problem. */
function recoveryIsolationProblem(vSwitchId: string, roles: NetworkRoles): Problem | undefined {
  const user = roles.test.get(vSwitchId);
  return user ? notIsolated("spec.recovery.network.vSwitchId", vSwitchId, user, "drill instances join it, so a recovered instance must not") : undefined;
}

/**
 * The network a server's recovered instance joins: its own
 * (spec.recovery.network), else its pair's recoveryNetwork. Its own is never
 * a test vSwitch, and is checked with the ECS API when `verify` (before a
 * failover stops or makes anything; not at every poll after).
 */
export async function recoveryNetworkOf(ps: ProtectedServer, pair: SitePair, sites: Pick<CloudSites, "ecs" | "recoveryNetwork">, roles: () => NetworkRoles, verify = true): Promise<Checked<CloudNetwork>> {
  const own = ps.spec.recovery?.network;
  if (!own) {
    return sites.recoveryNetwork
      ? { ok: true, value: sites.recoveryNetwork }
      : { ok: false, problem: { reason: "NoRecoveryNetwork", message: `SitePair ${pair.metadata.name ?? ""} has no spec.recoveryNetwork (vSwitchId and securityGroupId) and the server no spec.recovery.network: the recovered instance needs one` } };
  }
  const isolation = recoveryIsolationProblem(own.vSwitchId, roles());
  if (isolation) return { ok: false, problem: isolation };
  const problem = verify ? await checkCloudNetwork(sites.ecs, networkSite(pair, "target", pair.metadata.name), "spec.recovery.network", own) : undefined;
  return problem ? { ok: false, problem } : { ok: true, value: own };
}

/**
 * The network a failback instance of a cloud pair joins, when one is named:
 * the server's own (spec.failback.network, checked when `verify`), else the
 * pair's sourceNetwork; undefined when neither is (the caller falls back to
 * the original instance's). A failback to vSphere (VMwareToCloud) follows the
 * pair's networkMappings instead and never reads it.
 */
export async function failbackNetworkOf(ps: ProtectedServer, pair: SitePair, sites: Pick<CloudSites, "ecs" | "sourceNetwork">, verify = true): Promise<Checked<CloudNetwork | undefined>> {
  const own = ps.spec.failback?.network;
  if (!own) return { ok: true, value: sites.sourceNetwork };
  const problem = verify ? await checkCloudNetwork(sites.ecs, networkSite(pair, "source", pair.metadata.name), "spec.failback.network", own) : undefined;
  return problem ? { ok: false, problem } : { ok: true, value: own };
}

/** The first problem with the networks a server names (spec.recovery.network; spec.failback.network for a cloud pair), ECS asked. */
export async function checkServerNetworks(ps: ProtectedServer, pair: SitePair, ecs: EcsDr, roles: () => NetworkRoles): Promise<Problem | undefined> {
  if (ps.spec.recovery?.network) {
    const recovery = await recoveryNetworkOf(ps, pair, { ecs }, roles);
    if (!recovery.ok) return recovery.problem;
  }
  if (ps.spec.failback?.network && isCloudPair(pair)) {
    const failback = await failbackNetworkOf(ps, pair, { ecs });
    if (!failback.ok) return failback.problem;
  }
  return undefined;
}

/** The condition that says what is known of the networks a server names. */
export const RECOVERY_NETWORKS_CONDITION = "RecoveryNetworksValid";

/** A valid answer is asked for again after this long (a vSwitch may be deleted), a wrong one sooner (one may be made). */
const RECHECK_VALID_MS = 10 * 60_000;
const RECHECK_INVALID_MS = 60_000;

/**
 * Reports, as the condition RecoveryNetworksValid, what is known of the
 * networks a server names, so a wrong id shows while the server replicates
 * and not in the disaster. Isolation is judged at every pass (it costs no
 * call); the ECS API is asked again when the server's or its pair's spec
 * changes, and otherwise only every few minutes, since a server between
 * cycles is reconciled every few seconds while a cycle runs. The condition is
 * present only while the server names a network of its own.
 */
export class ServerNetworkChecks {
  private readonly asked = new Map<string, { readonly key: string; readonly at: number; readonly condition: ConditionInput }>();

  async report(ps: ProtectedServer, pair: SitePair, roles: () => NetworkRoles, ecsOf: () => Promise<Checked<EcsDr>>, set: (condition: ConditionInput) => void): Promise<void> {
    const uid = ps.metadata.uid ?? `${ps.metadata.namespace ?? ""}/${ps.metadata.name ?? ""}`;
    const names = ps.spec.recovery?.network ?? (isCloudPair(pair) ? ps.spec.failback?.network : undefined);
    if (!names) {
      this.asked.delete(uid);
      removeCondition(ps.status, RECOVERY_NETWORKS_CONDITION);
      return;
    }
    const own = ps.spec.recovery?.network;
    // Listed once for this pass: the ECS check below judges isolation again.
    const known = roles();
    const isolation = own ? recoveryIsolationProblem(own.vSwitchId, known) : undefined;
    if (isolation) {
      set(problemCondition(RECOVERY_NETWORKS_CONDITION, isolation));
      return;
    }
    const key = `${ps.metadata.generation ?? 0}/${pair.metadata.generation ?? 0}`;
    const last = this.asked.get(uid);
    if (last && last.key === key && Date.now() - last.at < (last.condition.status === "True" ? RECHECK_VALID_MS : RECHECK_INVALID_MS)) {
      set(last.condition);
      return;
    }
    let condition: ConditionInput;
    try {
      const ecs = await ecsOf();
      const problem = ecs.ok ? await checkServerNetworks(ps, pair, ecs.value, () => known) : undefined;
      condition = !ecs.ok
        ? { type: RECOVERY_NETWORKS_CONDITION, status: "Unknown", reason: ecs.problem.reason, message: `cannot ask the ECS API about the server's networks: ${ecs.problem.message}` }
        : problem
          ? problemCondition(RECOVERY_NETWORKS_CONDITION, problem)
          : { type: RECOVERY_NETWORKS_CONDITION, status: "True", reason: "Checked", message: "each network the server names is in its site's zone, with its security group in the vSwitch's VPC, and is no test network" };
    } catch (err) {
      // Replication does not wait for this check: the ECS API is asked again at a later pass.
      condition = { type: RECOVERY_NETWORKS_CONDITION, status: "Unknown", reason: "CloudUnreachable", message: `could not check the server's networks through the ECS API: ${describe(err)}` };
    }
    this.asked.set(uid, { key, at: Date.now(), condition });
    set(condition);
  }
}

/**
 * The test network a drill's instance joins: the drill's own, else the
 * pair's; a problem when there is none (fail closed), when it is a recovery
 * vSwitch of any pair or server of the namespace, or, for the drill's own,
 * what the ECS API says of it (when `verify`: before the drill makes anything).
 */
export async function drillNetwork(drill: RecoveryDrill, pair: SitePair, sites: CloudSites, roles: () => NetworkRoles, verify: boolean): Promise<Checked<CloudNetwork>> {
  const own = drill.spec.testNetwork;
  const network = own ?? sites.testNetwork;
  if (!network) return { ok: false, problem: { reason: "NoTestNetwork", message: `neither the drill nor SitePair ${pair.metadata.name ?? ""} has a spec.testNetwork: a drill instance joins a test vSwitch and no other, so the drill waits for one` } };
  const field = own ? "spec.testNetwork.vSwitchId" : `SitePair ${pair.metadata.name ?? ""} spec.testNetwork.vSwitchId`;
  const user = roles().recovery.get(network.vSwitchId);
  if (user) return { ok: false, problem: notIsolated(field, network.vSwitchId, user, "a drill instance must never join a production recovery network") };
  if (own && verify) {
    const problem = await checkCloudNetwork(sites.ecs, networkSite(pair, "target", pair.metadata.name), "spec.testNetwork", own);
    if (problem) return { ok: false, problem };
  }
  return { ok: true, value: network };
}
