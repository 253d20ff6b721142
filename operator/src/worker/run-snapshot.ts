/**
 * The snapshot a worker reads a VM through (a backup cycle, or the local VM
 * of a seed): named after the run so a retried worker finds what a killed
 * one left, and removed always, even when the work fails (orphaned
 * snapshots are the classic failure of VMware backup tools).
 */
import type { Logger } from "pino";
import { connect, LIFEBOAT_SNAPSHOT_PREFIX, type MoRef, type VirtualMachine, type VsphereClient } from "../vsphere/index.js";
import type { RunContext } from "./backup-vm.js";
import { connectOptionsFrom } from "./config.js";
import { describeChain, EXIT, WorkerError } from "./errors.js";
import { heldResyncOf } from "./resync.js";
import type { WorkerVCenter } from "./spec.js";
import { findVm } from "./vm-lookup.js";

/** The snapshot a run creates: the prefix makes leftovers findable, the run id makes it ours. */
export function snapshotName(runId: string): string {
  return `${LIFEBOAT_SNAPSHOT_PREFIX}${runId}`;
}

/** Removes snapshots earlier attempts left on the VM (a killed worker never removed its own); returns how many could not be removed. */
export async function removeLeftovers(client: VsphereClient, vm: MoRef, logger: Logger): Promise<number> {
  const { removed, failed } = await client.removeOrphanedSnapshots({ vms: [vm] });
  for (const s of removed) logger.info({ snapshot: s.ref.value, name: s.name, created: s.createTime.toISOString() }, "Removed a snapshot left behind by an earlier run");
  for (const f of failed) logger.warn({ snapshot: f.snapshot.ref.value, name: f.snapshot.name, err: describeChain(f.error) }, "Could not remove a snapshot left behind by an earlier run");
  return failed.length;
}

/** On the idempotent path: the run that committed may have died before removing its snapshot. */
export async function removeLeftoversBestEffort(vcenter: WorkerVCenter, vm: { readonly name: string; readonly moRef?: string | undefined }, ctx: RunContext): Promise<void> {
  let client: VsphereClient | undefined;
  try {
    client = await connect(connectOptionsFrom(vcenter, ctx.env));
    const found = await findVm(client, vm);
    await removeLeftovers(client, found.ref, ctx.logger);
  } catch (err) {
    ctx.logger.warn({ vm: vm.name, err: describeChain(err) }, "Could not look for snapshots left behind; the next run looks again");
  } finally {
    await client?.close().catch(() => undefined);
  }
}

/**
 * Snapshots `vm` for run `runId`, runs `work` with the snapshot, then removes
 * the snapshot whatever happened. A snapshot that cannot be removed after
 * the work succeeded fails the run (SnapshotFailed), so the controller
 * retries and the retry removes it.
 */
export async function withRunSnapshot<T>(
  client: VsphereClient,
  vm: VirtualMachine,
  opts: { readonly runId: string; readonly quiesce: boolean; readonly purpose: string },
  ctx: RunContext,
  work: (snapshot: MoRef) => Promise<T>,
): Promise<T> {
  const { logger, progress } = ctx;
  progress.phase("Snapshotting");
  let snapshot: MoRef;
  try {
    snapshot = await client.createSnapshot(vm.ref, {
      name: snapshotName(opts.runId),
      description: `Lifeboat ${opts.purpose} run ${opts.runId}; removed when the run ends`,
      quiesce: opts.quiesce,
      signal: ctx.signal,
    });
  } catch (err) {
    throw new WorkerError(EXIT.snapshotFailed, `Could not snapshot VM "${vm.name}" (${vm.ref.value})${opts.quiesce ? " with quiescing (are VMware Tools running?)" : ""}`, { cause: err });
  }
  logger.info({ vm: vm.name, snapshot: snapshot.value, quiesce: opts.quiesce }, "Created the snapshot");

  let result: { value: T } | undefined;
  let failure: Error | undefined;
  try {
    result = { value: await work(snapshot) };
  } catch (err) {
    failure = err instanceof Error ? err : new Error(describeChain(err));
  }
  progress.phase("CleaningUp");
  try {
    await client.removeSnapshot(snapshot);
    logger.info({ vm: vm.name, snapshot: snapshot.value }, "Removed the snapshot");
  } catch (err) {
    logger.error({ vm: vm.name, snapshot: snapshot.value, err: describeChain(err) }, "Could not remove the snapshot; the next run removes it");
    // A held resync (no Job retry, no next cycle until business hours end) must not leave the snapshot growing all day: this failure is retried.
    if (failure === undefined || (failure instanceof WorkerError && heldResyncOf(failure.exitCode) !== undefined)) {
      failure = new WorkerError(EXIT.snapshotFailed, `The ${opts.purpose} ${failure ? "stopped" : "succeeded"}, but snapshot ${snapshot.value} of VM "${vm.name}" could not be removed; a retry removes it`, { cause: err });
    }
  }
  if (failure !== undefined || result === undefined) throw failure ?? new Error(`The ${opts.purpose} ended without a result`);
  return result.value;
}
