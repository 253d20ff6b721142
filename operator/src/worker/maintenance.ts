/**
 * The maintenance worker: forgets the points a retention decision named and
 * prunes what no point references any more, in its own pod with its own
 * memory, so that a large vault's prune can never take the operator down
 * (Velero runs its repository maintenance as Jobs for the same reason).
 *
 * It is safe to run again after being killed at any step: forgetting a point
 * that is already gone is a no-op, and prune is mark-and-sweep under the
 * vault's exclusive lock with a margin for packs of writers still in flight,
 * so a second prune finishes what the first began. A killed predecessor's
 * lock is freed by the lock's job identity (repo-lock.ts).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { forget, isVaultError, openVault, prune, type PruneResult, type Vault } from "../vault/index.js";
import type { RunContext } from "./backup-vm.js";
import { vaultSpecFrom } from "./config.js";
import type { MaintenanceResult, MaintenanceWorkerSpec } from "./spec.js";

/** How long prune waits for backups to release the vault, unless the spec says otherwise. */
export const DEFAULT_BUSY_WAIT_MS = 2 * 60_000;
/** Pause between two attempts to take the exclusive lock. */
const BUSY_RETRY_MS = 5_000;

/**
 * Runs one maintenance pass and says what it did. `threads` overrides the
 * vault's compression threads (0: none, on this thread, as unit tests need).
 */
export async function runMaintenance(spec: MaintenanceWorkerSpec, ctx: RunContext, threads?: number): Promise<MaintenanceResult> {
  const { logger, progress } = ctx;
  const vault = await openVault({ ...vaultSpecFrom(spec.vault, ctx.env, { retry: ctx.vaultRetry }), ...(threads !== undefined ? { threads } : {}) });
  try {
    progress.phase("Committing", { message: `forgetting ${spec.forget.length} point(s)` });
    const forgotten = await forgetNamed(vault, spec.forget);
    logger.info({ ...forgotten }, "Forgot the points retention does not keep");
    if (!spec.prune) return forgotten;
    progress.phase("Committing", { message: "pruning" });
    const pruned = await pruneWhenFree(vault, spec.prune.marginMs, spec.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS, ctx);
    if ("deferred" in pruned) {
      logger.warn({ reason: pruned.deferred }, "Prune deferred: backups held the vault; a later pass reclaims the space");
      return { ...forgotten, pruneDeferred: pruned.deferred };
    }
    const r = pruned.result;
    logger.info({ ...r }, "Pruned the vault");
    return {
      ...forgotten,
      prune: { packsDeleted: r.packsDeleted, packsRepacked: r.packsRepacked, bytesFreed: r.bytesFreed, packsKeptYoung: r.packsKeptYoung, packsKeptLocked: r.packsKeptLocked },
    };
  } finally {
    await vault.close();
  }
}

/**
 * Forgets the named points that still exist and are not under the vault
 * lock. The decision was made from a list read earlier, so a point may
 * since have gone (a killed attempt forgot it) or be locked (the operator's
 * decision keeps locked points, but the vault is the authority).
 */
async function forgetNamed(vault: Vault, ids: readonly string[]): Promise<Pick<MaintenanceResult, "forgotten" | "keptLocked" | "alreadyGone">> {
  if (ids.length === 0) return { forgotten: 0, keptLocked: 0, alreadyGone: 0 };
  const now = Date.now();
  const existing = new Map((await vault.listPoints()).map((p) => [p.id, p]));
  const present = ids.filter((id) => existing.has(id));
  const unlocked = present.filter((id) => !isLocked(existing.get(id)?.retainUntil, now));
  const result = unlocked.length > 0 ? await forget(vault, { ids: unlocked }) : { forgotten: [] };
  return { forgotten: result.forgotten.length, keptLocked: present.length - unlocked.length, alreadyGone: ids.length - present.length };
}

function isLocked(retainUntil: string | undefined, now: number): boolean {
  return retainUntil !== undefined && Date.parse(retainUntil) > now;
}

/**
 * Prunes, waiting while backups hold shared locks: prune needs the vault to
 * itself, and a backup in flight is more urgent than reclaiming space. After
 * `busyWaitMs` it gives up for this pass and says why.
 */
async function pruneWhenFree(vault: Vault, marginMs: number, busyWaitMs: number, ctx: RunContext): Promise<{ result: PruneResult } | { deferred: string }> {
  const deadline = Date.now() + busyWaitMs;
  for (;;) {
    try {
      return { result: await prune(vault, { marginMs, log: (line) => { ctx.logger.debug({ step: line }, "Prune"); } }) };
    } catch (err) {
      if (!isVaultError(err, "RepositoryBusy")) throw err;
      if (Date.now() + BUSY_RETRY_MS > deadline) return { deferred: err.message };
      ctx.logger.info({ reason: err.message }, "The vault is busy; prune waits");
      await sleep(BUSY_RETRY_MS, undefined, { signal: ctx.signal });
    }
  }
}
