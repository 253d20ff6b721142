/**
 * Reverse replication (seed 004 step 5; seed 003 reprotect): after a
 * committed failover, the server running at the recovery site is replicated
 * back into the protected site's vault, so losing the recovery site too
 * would not lose it. Users of the peers complain most that this needs a full
 * resync of every disk; here nothing crosses twice:
 *
 * 1. the recovered VM's CBT baseline was captured when the failover made it,
 *    before it ever ran;
 * 2. the reverse chain is seeded at the protected site by a point equal to
 *    the failover point, built from the original VM's disks (read locally)
 *    wherever they hash the same as the failover point's blocks; only the
 *    blocks that differ are fetched across sites;
 * 3. the seed records the baseline's changeIds, so every reverse cycle reads
 *    only what CBT on the recovered VM reports changed since.
 */
import type { ProtectedServer } from "../api/generated/types.js";
import { usable, type DrContext } from "./dr-context.js";
import { runSeed } from "./dr-seed.js";
import { cloudReverseLine } from "./cloud-reverse.js";
import { roundOf, toEcs } from "./failover.js";
import { WHOLE_DISK_READS, type ReplicationCycles, type ReplicationLine } from "./replication-cycles.js";

type Status = NonNullable<ProtectedServer["status"]>;

export class ReverseReplication {
  constructor(private readonly cycles: ReplicationCycles) {}

  /**
   * Seeds the reverse chain (once), then runs reverse cycles from the
   * recovered VM into the protected site's vault, scheduled to the same RPO
   * as forward replication. Returns when to look again.
   */
  async advance(dr: DrContext): Promise<number> {
    const { ps, ctx } = dr;
    const status = (ps.status ??= {});
    const fo = status.failover;
    const rev = (status.reverse ??= {});
    if (toEcs(dr)) return this.advanceFromEcs(dr);
    if (!fo?.committed || !fo.vm || !fo.pointID || !fo.baseline) {
      ctx.setCondition(ps, { type: "Replicating", status: "False", reason: "FailoverNotDone", message: "reverse replication starts from a committed failover whose recovered VM is up" });
      return 15_000;
    }
    if (!rev.seedPointID) {
      rev.step = "Seeding";
      const seed = await runSeed(dr, {
        direction: "reverse",
        round: roundOf(fo),
        attempt: fo.attempt ?? 1,
        site: "protected",
        sourceSite: "recovery",
        sourcePointId: fo.pointID,
        chainVm: fo.vm,
        chainSite: "recovery",
        baseline: fo.baseline,
        localVm: status.source ?? { name: ps.spec.source.vmName },
      });
      if (seed.state === "waiting") {
        ctx.setCondition(ps, { type: "Replicating", status: "False", reason: seed.reason, message: `seeding the reverse chain: ${seed.message}` });
        return seed.after;
      }
      rev.seedPointID = seed.pointId;
      rev.seedBytesTransferred = seed.transferredBytes;
      rev.bytesTransferred = (rev.bytesTransferred ?? 0) + seed.transferredBytes;
      const labels = { namespace: ps.metadata.namespace ?? "", protected_server: ps.metadata.name ?? "", direction: "reverse" };
      const bytes = seed.transferredBytes;
      ctx.afterStatusWrite(() => { ctx.metrics.replicationBytesTransferred.inc(labels, bytes); });
      await ctx.events.record(ps, "Normal", "ReverseSeeded", `the protected site's vault holds the failover point as ${seed.pointId}; ${bytes} bytes crossed sites to build it`);
      switchDirection(status, "Reverse");
    }
    rev.step = "Replicating";
    const line = reverseLine(dr);
    if (!line) return 15_000;
    const before = status.lastCycle?.id;
    const after = await this.cycles.run(ps, line, ctx, dr.pins);
    const last = status.lastCycle;
    if (last && last.id !== before && last.result === "Succeeded" && last.direction === "Reverse") rev.bytesTransferred = (rev.bytesTransferred ?? 0) + (last.bytesTransferred ?? 0);
    return after;
  }

  /**
   * VMwareToCloud (cloud-reverse.ts): no seed, since an ECS instance has no
   * CBT to continue from; the chain's first cycle is its first point (the
   * vault still stores only the blocks the protected vault lacks).
   */
  private async advanceFromEcs(dr: DrContext): Promise<number> {
    const { ps, ctx } = dr;
    const status = (ps.status ??= {});
    const rev = (status.reverse ??= {});
    switchDirection(status, "Reverse");
    rev.step = "Replicating";
    ctx.setCondition(ps, WHOLE_DISK_READS);
    const line = await cloudReverseLine(dr);
    if (!line.ok) {
      ctx.setCondition(ps, { type: "Replicating", status: "False", reason: line.problem.reason, message: `reverse replication waits: ${line.problem.message}` });
      return 15_000;
    }
    const before = status.lastCycle?.id;
    const after = await this.cycles.run(ps, line.value, ctx, dr.pins);
    const last = status.lastCycle;
    if (last && last.id !== before && last.result === "Succeeded" && last.direction === "Reverse") {
      rev.bytesTransferred = (rev.bytesTransferred ?? 0) + (last.bytesTransferred ?? 0);
      if (!rev.seedPointID && last.pointID) {
        rev.seedPointID = last.pointID;
        await ctx.events.record(ps, "Normal", "ReverseSeeded", `vault ${line.value.vault.metadata.name ?? ""} holds the recovered instance as ${last.pointID}, its reverse chain's first point`);
      }
    }
    return after;
  }
}

/** The reverse replication line: the recovered VM at the recovery site into the protected site's vault, by the recovery site's workers. */
export function reverseLine(dr: DrContext): ReplicationLine | undefined {
  const fo = dr.ps.status?.failover;
  const recovery = usable(dr.recoverySite, ["vcenter", "gateway"]);
  const vault = dr.protectedSite.vault;
  if (!fo?.vm || !recovery.ok || !vault.ok) return undefined;
  return { direction: "reverse", vm: { ...fo.vm, name: fo.vm.name ?? "" }, vcenter: recovery.value.vcenter, gateway: recovery.value.gateway, vault: vault.value, sitePair: dr.pair.metadata.name ?? "" };
}

/** Resets what status says about cycles when replication changes direction (each direction has its own chain and RPO). */
export function switchDirection(status: Status, direction: "Forward" | "Reverse"): void {
  if (status.direction === direction) return;
  status.direction = direction;
  delete status.currentCycle;
  delete status.lastCycle;
  delete status.lastRecoveryPointTime;
  delete status.lastAppConsistentPointTime;
  delete status.nextCycleTime;
  // A resync held for the other direction's chain means nothing to this one's.
  delete status.heldResync;
  status.learnedCycleSeconds = 0;
  status.failedCycles = 0;
  status.recoveryPointCount = 0;
}
