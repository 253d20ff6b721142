/**
 * `failover`, `reverse`, `failback` and `resync`: each sets the
 * ProtectedServer spec fields the API defines for the step (desiredState,
 * recoveryPoint, commitFailover, reverseInPlace, resyncRequest) and nothing
 * else; the controller does the work. The transitions mirror the CRD's CEL
 * rules, so a step the state does not allow is refused here with what to
 * do instead, before the API server refuses it in its own terms. Their
 * patches carry the resourceVersion read, so a decision is never applied to
 * a server that changed meanwhile.
 */
import type { ProtectedServer, ProtectedServerSpec } from "../../api/generated/types.js";
import { CliError, type LifeboatApi } from "./cluster.js";
import type { FailbackRequest, FailoverRequest, Io, ResyncRequest, ReverseRequest } from "./program.js";

/** What a DR command decided: the spec fields to set (none when nothing needs to change) and what to tell the user. */
export interface DrStep {
  readonly patch?: Partial<ProtectedServerSpec>;
  readonly message: string;
}

function names(ps: ProtectedServer): { name: string; ns: string; desired: string; stage: string } {
  return { name: ps.metadata.name ?? "", ns: ps.metadata.namespace ?? "", desired: ps.spec.desiredState ?? "Replicating", stage: ps.status?.stage ?? "unknown" };
}

/** The step `failover` takes from the server's current state. */
export function failoverStep(ps: ProtectedServer, req: FailoverRequest): DrStep {
  const { name, ns, desired, stage } = names(ps);
  const committed = ps.spec.commitFailover === true;
  if (req.cancel) {
    if (req.point !== undefined || req.commit) throw new CliError("--cancel undoes the failover: it goes without --point and --commit");
    if (desired !== "FailedOver") throw new CliError(`${name} has no failover to cancel (desiredState ${desired})`);
    if (committed) throw new CliError(`The failover of ${name} is committed, which is final: bring it back with \`kubectl lifeboat reverse ${name}\`, then \`kubectl lifeboat failback ${name}\``);
    return { patch: { desiredState: "Replicating" }, message: `Cancelling the failover of ${name}: the recovered VM is removed, the protected VM runs again and replication resumes` };
  }
  switch (desired) {
    case "Replicating": {
      if (!ps.status?.lastRecoveryPointTime) {
        throw new CliError(`${name} has no recovery point at the recovery site yet (stage ${stage}); a failover needs one: wait for the first full cycle (\`kubectl lifeboat status\`)`);
      }
      const point = req.point ?? "latest";
      return {
        patch: { desiredState: "FailedOver", recoveryPoint: point, ...(req.commit ? { commitFailover: true } : {}) },
        message: `Failing ${name} over to the recovery site from ${point === "latest" ? "the latest point (a last cycle first when the protected site answers)" : point}${req.commit ? ", committed" : `; commit with \`kubectl lifeboat failover ${name} --commit\` or undo with --cancel`}`,
      };
    }
    case "FailedOver": {
      const patch: Partial<ProtectedServerSpec> = {};
      const said: string[] = [];
      if (req.point !== undefined && req.point !== (ps.spec.recoveryPoint ?? "latest")) {
        if (committed) throw new CliError(`The failover of ${name} is committed: its recovery point can no longer change`);
        if (req.point === "latest" && ps.status?.failover?.latestUsed) {
          throw new CliError(`"latest" was already used in this failover of ${name} and can be used once: name a RecoveryPoint (\`kubectl lifeboat points\`)`);
        }
        patch.recoveryPoint = req.point;
        said.push(`changing its recovery point to ${req.point} (the recovered VM is replaced)`);
      }
      if (req.commit && !committed) {
        patch.commitFailover = true;
        said.push("committing it: the original VM is fenced (powered off, NICs disconnected, never deleted)");
      }
      if (said.length === 0) {
        const hint = committed ? `next: \`kubectl lifeboat reverse ${name}\`` : `change the point with --point, commit with --commit, or undo with --cancel`;
        return { message: `${name} is already failed over${committed ? " and committed" : ""} (stage ${stage}, step ${ps.status?.failover?.step ?? "starting"}); ${hint}` };
      }
      return { patch, message: `Failover of ${name}: ${said.join("; ")}` };
    }
    case "ReverseReplicating":
      throw new CliError(`${name} is replicating back to the protected site after a committed failover (stage ${stage}): fail back with \`kubectl lifeboat failback ${name}\``);
    default:
      throw new CliError(`${name} has failed back (stage ${stage}): protect it again before another failover: kubectl patch protectedserver ${name} -n ${ns} --type merge -p '{"spec":{"desiredState":"Replicating","commitFailover":false}}'`);
  }
}

/** The step `reverse` takes: start replicating the recovered server back, after a committed failover. */
export function reverseStep(ps: ProtectedServer, req: ReverseRequest): DrStep {
  const { name, desired, stage } = names(ps);
  if (req.inPlace && !req.confirmInPlace) throw new CliError("--in-place makes the failback overwrite the original VM's disks: add --confirm-in-place to say so");
  if (desired === "ReverseReplicating") return { message: `${name} already replicates back (stage ${stage}); fail back with \`kubectl lifeboat failback ${name}\`` };
  if (desired !== "FailedOver") throw new CliError(`${name} is ${desired}, not failed over: reverse replication follows a committed failover (\`kubectl lifeboat failover ${name}\`)`);
  if (!ps.spec.commitFailover) throw new CliError(`The failover of ${name} is not committed: commit it first with \`kubectl lifeboat failover ${name} --commit\``);
  // A merge patch leaves a reverseInPlace already in the spec (set in Git, say): the command
  // must not promise a new VM while the operator would overwrite the original.
  if (!req.inPlace && ps.spec.reverseInPlace) {
    throw new CliError(`${name} has spec.reverseInPlace=true, so the failback would overwrite the original VM's disks: add --in-place --confirm-in-place to go on so, or set spec.reverseInPlace to false for a new VM`);
  }
  return {
    patch: { desiredState: "ReverseReplicating", ...(req.inPlace ? { reverseInPlace: true, confirmReverseInPlace: true } : {}) },
    message: `${name} replicates back to the protected site${req.inPlace ? " onto the original VM" : " into a new VM"}, seeded from the original's disks; fail back with \`kubectl lifeboat failback ${name}\` once \`kubectl lifeboat status\` shows ReverseRealTimeReplication`,
  };
}

/** The step `failback` takes: bring the server up at the protected site again. */
export function failbackStep(ps: ProtectedServer, _req: FailbackRequest): DrStep {
  const { name, ns, desired, stage } = names(ps);
  switch (desired) {
    case "ReverseReplicating":
      return {
        patch: { desiredState: "FailedBack" },
        message: `Failing ${name} back to the protected site${stage === "ReverseRealTimeReplication" ? "" : ` (stage ${stage}: the reverse chain is completed first)`}; a last reverse cycle runs after the recovered VM's shutdown, so no data is lost`,
      };
    case "FailedBack":
      return { message: `${name} is already failing back or failed back (stage ${stage}); protect it again with: kubectl patch protectedserver ${name} -n ${ns} --type merge -p '{"spec":{"desiredState":"Replicating","commitFailover":false}}'` };
    case "FailedOver":
      if (!ps.spec.commitFailover) throw new CliError(`The failover of ${name} is not committed: undo it with \`kubectl lifeboat failover ${name} --cancel\`, or commit it (--commit) and reverse it first`);
      throw new CliError(`${name} must replicate back before it fails back: run \`kubectl lifeboat reverse ${name}\` first`);
    default:
      throw new CliError(`${name} is ${desired}, not failed over: there is nothing to fail back`);
  }
}

/**
 * The step `resync` takes: a new spec.resyncRequest, while cycles run
 * (Replicating or ReverseReplicating) on a server with change tracking to
 * resync (not one replicated through ECS snapshots).
 */
export function resyncStep(ps: ProtectedServer, req: ResyncRequest): DrStep {
  const { name, desired, stage } = names(ps);
  if (desired !== "Replicating" && desired !== "ReverseReplicating") {
    throw new CliError(`${name} is ${desired} (stage ${stage}): no replication cycles run, so there is nothing to resync`);
  }
  const tracking = ps.status?.conditions?.find((c) => c.type === "ResyncRequired");
  if (tracking?.reason === "CloudSnapshots") throw new CliError(`${name} is replicated through ECS snapshots, which are incremental by themselves: there is no change tracking to resync`);
  const running = ps.status?.currentCycle?.id;
  return {
    patch: { resyncRequest: req.request },
    message: `Resyncing ${name}: ${running ? `after cycle ${running} ends, ` : ""}a cycle reads every allocated area and compares it with the vault by checksum, storing only the blocks it lacks; follow it with \`kubectl lifeboat status\``,
  };
}

/**
 * Reads the server, decides, patches. `guarded` makes the patch carry the
 * resourceVersion read: a state transition must not land on a server that
 * changed meanwhile. A resync request is not a transition, and a running
 * cycle changes the server every few seconds, so it goes unguarded.
 */
async function apply(api: LifeboatApi, name: string, decide: (ps: ProtectedServer) => DrStep, io: Io, guarded = true): Promise<number> {
  const ps = await api.get<ProtectedServer>("ProtectedServer", name);
  const step = decide(ps);
  if (step.patch) await api.patchSpec("ProtectedServer", name, step.patch, guarded ? ps.metadata.resourceVersion : undefined);
  io.out.write(`${step.message}\n`);
  return 0;
}

export const failover = (api: LifeboatApi, req: FailoverRequest, io: Io) => apply(api, req.server, (ps) => failoverStep(ps, req), io);
export const reverse = (api: LifeboatApi, req: ReverseRequest, io: Io) => apply(api, req.server, (ps) => reverseStep(ps, req), io);
export const failback = (api: LifeboatApi, req: FailbackRequest, io: Io) => apply(api, req.server, (ps) => failbackStep(ps, req), io);
export const resync = (api: LifeboatApi, req: ResyncRequest, io: Io) => apply(api, req.server, (ps) => resyncStep(ps, req), io, false);
