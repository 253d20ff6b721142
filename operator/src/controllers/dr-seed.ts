/**
 * Seeding a replication chain at the other site without sending whole disks:
 * a point equal to a point of the other site's vault is built at the site the
 * chain replicates to, from a local VM's disks wherever they hash the same as
 * that point's blocks; only the blocks that differ are fetched across sites.
 * It records the changeIds of the VM the chain continues from (captured when
 * that VM's content was known), so the chain's first cycle reads only what
 * CBT reports changed since. Reverse replication seeds its chain this way
 * after a failover, and failback seeds the forward chain again.
 */
import { describe } from "../runtime/errors.js";
import { shortHash } from "../workloads/worker-job.js";
import { createSeedJob, deleteJob, drJobName, jobOutcome } from "./dr-jobs.js";
import { siteClient, usable, type DrContext } from "./dr-context.js";
import { lineagePoints, pointOfRun, type Direction } from "./dr-points.js";
import type { Problem } from "./references.js";
import { findKnownVm, type VmIdentity } from "./dr-vsphere.js";
import { planNetworks } from "./network-mapping.js";
import { buildPointLabels, networksOf, orderedDisks } from "../worker/labels.js";
import type { ProtectedServer } from "../api/generated/types.js";
import { capturedDisksInVmOrder, splitBySnapshot, type VirtualMachine } from "../vsphere/index.js";

const STEP_POLL_MS = 3_000;
const WAIT_POLL_MS = 15_000;

/** A seed's run id: unique per server, direction, failover round and attempt (the worker's run ids are at most 63 plain characters). */
export function seedRunId(ps: ProtectedServer, direction: Direction, round: string, attempt: number): string {
  return `seed-${direction}-${round}-${attempt}-${shortHash(ps.metadata.uid ?? "", direction, round, String(attempt))}`;
}

/** What a seed is asked to build, and what it built. */
export interface SeedRequest {
  readonly direction: Direction;
  /** The failover round (roundOf) and attempt: a seed of another round is another seed. */
  readonly round: string;
  readonly attempt: number;
  /** The vault the seed writes (at the site the chain replicates to) and the vault whose point it copies. */
  readonly site: "protected" | "recovery";
  readonly sourceSite: "protected" | "recovery";
  readonly sourcePointId: string;
  /** The VM whose disks the new chain continues from, whose disk keys and baseline changeIds the seed records. */
  readonly chainVm: VmIdentity;
  readonly chainSite: "protected" | "recovery";
  readonly baseline: readonly { diskKey: number; changeId: string }[];
  /** The VM at the seed's own site whose disks mostly hold the content already (read locally). */
  readonly localVm: VmIdentity | undefined;
}

/** Where a seed is. */
export type SeedState = { readonly state: "waiting"; readonly reason: string; readonly message: string; readonly after: number } | { readonly state: "done"; readonly pointId: string; readonly transferredBytes: number; readonly time: string };

/**
 * Runs a seed to its end: pairs the disks (chain VM, source point and local
 * VM, all in controller/unit order), starts the seed worker on the Gateway of
 * the seed's site, and reads its point from the vault once it is committed.
 */
export async function runSeed(dr: DrContext, req: SeedRequest): Promise<SeedState> {
  const { ps, ctx } = dr;
  const ns = ps.metadata.namespace ?? "";
  const dest = req.site === "protected" ? dr.protectedSite : dr.recoverySite;
  const source = req.sourceSite === "protected" ? dr.protectedSite : dr.recoverySite;
  const chain = req.chainSite === "protected" ? dr.protectedSite : dr.recoverySite;
  // The seed's site needs a vCenter only to read a local VM (a VMwareToCloud recovery site has none).
  const usableDest = usable(dest, ["gateway", "vault"]);
  const waitFor = (p: Problem): SeedState => ({ state: "waiting", reason: p.reason, message: `waiting for the ${dest.name} site: ${p.message}`, after: WAIT_POLL_MS });
  if (!usableDest.ok) return waitFor(usableDest.problem);
  if (req.localVm && !dest.vcenter.ok) return waitFor(dest.vcenter.problem);
  const at = { ...usableDest.value, vcenter: dest.vcenter.ok ? dest.vcenter.value : undefined };
  if (!source.vault.ok) return { state: "waiting", reason: source.vault.problem.reason, message: `waiting for the ${source.name} site's vault: ${source.vault.problem.message}`, after: WAIT_POLL_MS };
  const runId = seedRunId(ps, req.direction, req.round, req.attempt);
  const name = drJobName(ps, `seed-${req.direction}-${req.round}-${req.attempt}`);
  // The Job first: the vault is listed only once it has ended (or is not there), not at every poll.
  const outcome = await jobOutcome(ctx.kube, ns, name);
  if (outcome.state !== "Running") ctx.metrics.forgetWorker(ns, name);
  if (outcome.state === "Running") {
    const p = outcome.progress;
    ctx.metrics.noteWorker({ namespace: ns, worker: name, owner: `ProtectedServer/${ps.metadata.name ?? ""}` }, p);
    return { state: "waiting", reason: "Seeding", message: `worker ${name} builds the ${req.direction} chain's first point${p ? ` (${Math.round((100 * p.bytesDone) / Math.max(1, p.bytesTotal))} %)` : ""}`, after: STEP_POLL_MS };
  }
  const done = pointOfRun(await lineagePoints(ctx.kube, at.vault, ps, req.direction), ps, req.direction, runId);
  if (done) return { state: "done", pointId: done.id, transferredBytes: Number(done.labels.transferredBytes ?? 0), time: done.time };
  if (outcome.state === "Failed") {
    const status = (ps.status ??= {});
    if (!ps.spec.resumeRequest || ps.spec.resumeRequest === status.handledResumeRequest) {
      return { state: "waiting", reason: outcome.reason, message: `${outcome.message}; fix the cause and set spec.resumeRequest to a new value to try again`, after: 60_000 };
    }
    // A new try under the same name and run id: nothing was committed, and the worker starts clean.
    await deleteJob(ctx.kube, ns, name);
    status.handledResumeRequest = ps.spec.resumeRequest;
    return { state: "waiting", reason: "Seeding", message: `trying the seed again`, after: STEP_POLL_MS };
  }
  if (outcome.state === "Succeeded") return { state: "waiting", reason: "PointNotFound", message: `seed worker ${name} finished but the vault holds no point of run ${runId}`, after: WAIT_POLL_MS };

  // Not started yet: pair the disks.
  const sourcePoint = (await lineagePoints(ctx.kube, source.vault.value, ps, req.direction === "reverse" ? "forward" : "reverse")).find((p) => p.id === req.sourcePointId);
  if (!sourcePoint) return { state: "waiting", reason: "PointNotFound", message: `point ${req.sourcePointId} is not in the ${source.name} site's vault`, after: 60_000 };
  let chainVm: VirtualMachine | undefined;
  let localVm: VirtualMachine | undefined;
  try {
    chainVm = await findKnownVm(await siteClient(dr, chain), req.chainVm);
    if (req.localVm) localVm = await findKnownVm(await siteClient(dr, dest), req.localVm);
  } catch (err) {
    return { state: "waiting", reason: "VCenterUnreachable", message: `could not look up the VMs to pair disks: ${describe(err)}`, after: WAIT_POLL_MS };
  }
  if (!chainVm) return { state: "waiting", reason: "VMNotFound", message: `the VM the ${req.direction} chain continues from (${req.chainVm.name ?? req.chainVm.moRef ?? ""}) is gone`, after: 60_000 };
  // The seed stands for a cycle's point of the chain VM: the disks a snapshot captures, naming those it leaves out.
  const { captured: chainDisks, excluded: chainExcluded } = splitBySnapshot(chainVm.disks);
  const pointDisks = orderedDisks(sourcePoint).map((d) => d.key);
  const localDisks = localVm ? capturedDisksInVmOrder(localVm.disks) : [];
  if (chainDisks.length !== pointDisks.length) {
    return { state: "waiting", reason: "DiskMismatch", message: `VM ${chainVm.name} has ${chainDisks.length} disks a snapshot captures but point ${sourcePoint.id} has ${pointDisks.length}`, after: 60_000 };
  }
  const localUsable = localVm && localDisks.length === pointDisks.length;
  if (req.localVm && !localUsable) {
    await ctx.events.record(ps, "Warning", "SeedWithoutLocalCopy", localVm ? `VM ${localVm.name} has ${localDisks.length} disks a snapshot captures, not ${pointDisks.length}: the seed fetches every block across sites` : `VM ${req.localVm.name ?? req.localVm.moRef ?? ""} is gone: the seed fetches every block across sites`);
  }
  const baseline = new Map(req.baseline.map((b) => [b.diskKey, b.changeId]));
  // The seed stands for the chain VM's content: it carries the labels a cycle of that VM writes
  // (disks, hardware, and the source point's networks as they are named at the chain VM's site),
  // so a drill or failover made from it is made like one from a cycle's point.
  const renamed = planNetworks(dr.pair, networksOf(sourcePoint.labels), req.direction === "reverse" ? "recovery" : "back");
  const networks = networksOf(sourcePoint.labels).map((n) => renamed.mappings.find((m) => m.source === n)?.target ?? n);
  await createSeedJob(ctx.kube, {
    ps,
    name,
    runId,
    direction: req.direction,
    vault: at.vault,
    sourceVault: source.vault.value,
    sourcePointId: sourcePoint.id,
    ...(localUsable && localVm && at.vcenter ? { local: { vcenter: at.vcenter, vm: { name: localVm.name, moRef: localVm.ref.value } } } : {}),
    disks: chainDisks.map((d, i) => ({
      key: String(d.key),
      sourceDiskKey: pointDisks[i] ?? "",
      ...(localUsable ? { localDiskKey: localDisks[i]?.key } : {}),
      ...(baseline.get(d.key) ? { changeId: baseline.get(d.key) } : {}),
    })),
    vmName: chainVm.name,
    extraLabels: buildPointLabels({}, chainVm, chainDisks, networks, chainExcluded),
    gateway: at.gateway,
    sitePair: dr.pair.metadata.name ?? "",
  });
  ctx.log.info({ job: name, direction: req.direction, sourcePoint: sourcePoint.id, local: localVm?.name }, "Started a seed");
  return { state: "waiting", reason: "Seeding", message: `worker ${name} started`, after: STEP_POLL_MS };
}
