/**
 * The maintenance worker: forgets the points a retention decision named,
 * prunes what no point references any more, and checks the vault, in its own pod with its own
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
import { barringLocks, check, describeHolders, forget, isLocked, isVaultError, openVault, prune, VaultError, type CheckResult, type Vault } from "../vault/index.js";
import type { RunContext } from "./backup-vm.js";
import { vaultSpecFrom } from "./config.js";
import type { MaintenanceResult, MaintenanceWorkerSpec } from "./spec.js";

/** How long prune waits for backups to release the vault, unless the spec says otherwise. */
export const DEFAULT_BUSY_WAIT_MS = 2 * 60_000;
/** Pause between two looks at the vault's locks while it is busy (plus up to half as much again, so two passes do not keep step). */
const BUSY_RETRY_MS = 5_000;
/** The longest text of the result's free-form fields: a termination message holds 4 KiB, and the log has the whole text. */
const TEXT_IN_RESULT = 300;

/**
 * Runs one maintenance pass and says what it did. `threads` overrides the
 * vault's compression threads (0: none, on this thread, as unit tests need).
 */
export async function runMaintenance(spec: MaintenanceWorkerSpec, ctx: RunContext, threads?: number): Promise<MaintenanceResult> {
  const { logger, progress } = ctx;
  const vault = await openVault({ ...vaultSpecFrom(spec.vault, ctx.env, { retry: ctx.vaultRetry }), ...(threads !== undefined ? { threads } : {}) });
  try {
    progress.phase("Committing", { message: `forgetting ${spec.forget.length} point(s)` });
    const busyWaitMs = spec.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS;
    let result: MaintenanceResult = { forgotten: 0, keptLocked: 0, alreadyGone: 0 };
    if (spec.forget.length > 0) {
      // Forget takes a shared lock: only another pass's prune holds it back.
      const forgotten = await whenFree(vault, false, () => forgetNamed(vault, spec.forget), busyWaitMs, ctx);
      if ("busy" in forgotten) throw new VaultError("RepositoryBusy", `Could not forget the points: ${forgotten.busy}`);
      result = forgotten.value;
      logger.info({ ...result }, "Forgot the points retention does not keep");
    }
    if (spec.prune) {
      progress.phase("Committing", { message: "pruning" });
      const pruned = await whenFree(vault, true, () => prune(vault, { marginMs: spec.prune?.marginMs, log: (line) => { logger.debug({ step: line }, "Prune"); } }), busyWaitMs, ctx);
      if ("busy" in pruned) {
        logger.warn({ reason: pruned.busy }, "Prune deferred: backups held the vault; a later pass reclaims the space");
        result = { ...result, pruneDeferred: clip(pruned.busy) };
      } else {
        const r = pruned.value;
        logger.info({ ...r }, "Pruned the vault");
        result = { ...result, prune: { packsDeleted: r.packsDeleted, packsRepacked: r.packsRepacked, bytesFreed: r.bytesFreed, packsKeptYoung: r.packsKeptYoung, packsKeptLocked: r.packsKeptLocked } };
      }
    }
    if (spec.check) {
      progress.phase("Transferring", { message: `checking${spec.check.readData ? " every pack's data" : ""}` });
      const readData = spec.check.readData;
      const checked = await whenFree(vault, false, () => check(vault, { readData, onProgress: (line) => { logger.info({ step: line }, "Check"); } }), busyWaitMs, ctx);
      // A prune that holds the vault for longer than the wait is not a finding about the data: the pass fails, and says so.
      if ("busy" in checked) throw new VaultError("RepositoryBusy", `Could not check the vault: ${checked.busy}`);
      for (const error of checked.value.errors) logger.error({ finding: error }, "Check found an error");
      result = { ...result, check: checkSummary(checked.value) };
    }
    return result;
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
  const now = new Date();
  const existing = new Map((await vault.listPoints()).map((p) => [p.id, p]));
  const present = ids.filter((id) => existing.has(id));
  const unlocked = present.filter((id) => !isLocked(existing.get(id) ?? {}, now));
  const result = unlocked.length > 0 ? await forget(vault, { ids: unlocked }) : { forgotten: [] };
  return { forgotten: result.forgotten.length, keptLocked: present.length - unlocked.length, alreadyGone: ids.length - present.length };
}

/** At most this many errors travel in the result (a termination message holds 4 KiB); the log has them all. */
const ERRORS_IN_RESULT = 5;

/** The text cut to TEXT_IN_RESULT characters. */
function clip(text: string): string {
  return text.length > TEXT_IN_RESULT ? `${text.slice(0, TEXT_IN_RESULT - 3)}...` : text;
}

function checkSummary(r: CheckResult): NonNullable<MaintenanceResult["check"]> {
  return {
    ok: r.ok,
    errorCount: r.errors.length,
    warningCount: r.warnings.length,
    errors: r.errors.slice(0, ERRORS_IN_RESULT).map(clip),
    points: r.points,
    packs: r.packs,
    bytesVerified: r.bytesVerified,
  };
}

/**
 * Runs `work` once the vault lets it (RepositoryBusy: prune needs the vault
 * to itself, and forget and check cannot run while prune holds it). A
 * backup in flight is more urgent than reclaiming space, so after
 * `busyWaitMs` this gives up for this pass and says why. While a
 * conflicting lock is there, the wait only reads the locks: each attempt
 * writes a lock of its own, and an exclusive one, even for the moment
 * before it backs off, makes a backup that starts then fail with
 * RepositoryBusy.
 */
async function whenFree<T>(vault: Vault, exclusive: boolean, work: () => Promise<T>, busyWaitMs: number, ctx: RunContext): Promise<{ value: T } | { busy: string }> {
  const deadline = Date.now() + busyWaitMs;
  for (;;) {
    const holders = await barringLocks(vault.backend, exclusive);
    let busy = holders.length > 0 ? describeHolders(holders) : undefined;
    if (busy === undefined) {
      try {
        return { value: await work() };
      } catch (err) {
        if (!isVaultError(err, "RepositoryBusy")) throw err;
        busy = err.message;
      }
    }
    const pause = BUSY_RETRY_MS * (1 + Math.random() / 2);
    if (Date.now() + pause > deadline) return { busy };
    ctx.logger.info({ reason: busy }, "The vault is busy; waiting");
    await sleep(pause, undefined, { signal: ctx.signal });
  }
}
