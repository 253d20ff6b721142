/**
 * Scheduled verification of a BackupVault (spec.check): a maintenance Job on
 * the named Gateway runs `check` (with readData, every pack's bytes), on a
 * cron schedule and on request. Reading a whole vault is the heaviest thing
 * Lifeboat does to it, so it never runs in the operator. What it finds is
 * status.lastCheck and the Verified condition: a vault is only as good as
 * its last clean check ("a backup you have not restored is not a backup").
 */
import type { BackupVault, BackupVaultStatus, Gateway } from "../api/generated/types.js";
import type { ReconcileContext } from "../runtime/controller.js";
import { describe } from "../runtime/errors.js";
import type { WithKind } from "../runtime/kube.js";
import { isoSeconds, msUntilJustAfter } from "../util/time.js";
import { nextScheduledRun } from "./backup-plan-controller.js";
import { maintenanceJobName, pruneMaintenanceHistory, readMaintenanceJob, startMaintenanceJob, type MaintenanceOutcome } from "./maintenance-jobs.js";
import { resolveRef } from "./references.js";

type LastCheck = NonNullable<BackupVaultStatus["lastCheck"]>;

/**
 * How often a running check is looked at. Each look is a whole vault
 * reconcile (its sync reads every point header), and a check that reads
 * every pack may run for hours.
 */
const CHECK_POLL_MS = 15_000;
/** How soon a check that could not start (its Gateway not ready) is tried again. */
const RETRY_MS = 30_000;

/**
 * Moves the vault's checks forward: follows the running one, or starts one
 * when a new request or the schedule's time has come. Returns when to look
 * again, or undefined when nothing is due.
 */
export async function advanceVaultCheck(bv: WithKind<BackupVault>, ctx: ReconcileContext): Promise<number | undefined> {
  const status = (bv.status ??= {});
  if (status.lastCheck?.phase === "Running") {
    if (await followCheck(bv, ctx)) return CHECK_POLL_MS;
  }
  const spec = bv.spec.check;
  if (!spec) {
    delete status.nextCheck;
    return undefined;
  }
  const now = new Date();
  let due: "Schedule" | "Request" | undefined = spec.request && spec.request !== status.lastHandledCheckRequest ? "Request" : undefined;
  let next: Date | undefined;
  if (spec.schedule) {
    const scheduled = nextScheduledRun(spec.schedule, spec.timeZone ?? "UTC", now);
    if (scheduled.ok) {
      next = scheduled.next;
      const recorded = status.nextCheck ? new Date(status.nextCheck) : undefined;
      if (recorded && recorded <= now) due ??= "Schedule";
      // A changed schedule is taken at once; a recorded time stays until it has fired.
      else if (!recorded || bv.metadata.generation !== status.observedGeneration) setNextCheck(status, next);
    } else {
      // Says nothing about the data (False is for errors found), and a requested check still runs.
      delete status.nextCheck;
      if (!due) {
        ctx.setCondition(bv, { type: "Verified", status: "Unknown", reason: scheduled.problem.reason, message: scheduled.problem.message.replace(/^spec\.schedule/, "spec.check.schedule") });
        return undefined;
      }
    }
  } else {
    delete status.nextCheck;
  }
  if (!due) {
    if (!status.lastCheck) ctx.setCondition(bv, { type: "Verified", status: "Unknown", reason: "NotCheckedYet", message: `no check has run yet${status.nextCheck ? `; the first is due ${status.nextCheck}` : "; set spec.check.request to run one"}` });
    return status.nextCheck ? msUntilJustAfter(status.nextCheck) : undefined;
  }
  // A due check that cannot start stays due (the recorded time is kept) until its Gateway is ready.
  const gateway = await resolveRef<WithKind<Gateway>>(ctx.cache, "Gateway", bv.metadata.namespace ?? "", "spec.check.gatewayRef", spec.gatewayRef.name, "Activated");
  if (!gateway.ok) {
    ctx.setCondition(bv, { type: "Verified", status: "Unknown", reason: gateway.problem.reason, message: `a check is due but cannot start: ${gateway.problem.message}` });
    return RETRY_MS;
  }
  const readData = spec.readData ?? false;
  // Named by what made it due, so a reconcile repeated before this status was written finds the same Job instead of starting a second.
  const job = maintenanceJobName(bv, due === "Request" ? `check-request-${bv.metadata.generation ?? 0}-${spec.request ?? ""}` : `check-schedule-${status.nextCheck ?? ""}`);
  try {
    await startMaintenanceJob(ctx.kube, { owner: bv, name: job, vault: bv, gateway: gateway.value, forget: [], prune: false, check: { readData } });
  } catch (err) {
    ctx.setCondition(bv, { type: "Verified", status: "Unknown", reason: "CheckNotStarted", message: `a check is due but its Job could not be created: ${describe(err)}` });
    return RETRY_MS;
  }
  if (due === "Request") status.lastHandledCheckRequest = spec.request;
  if (spec.schedule) setNextCheck(status, next);
  status.lastCheck = { job, trigger: due, readData, phase: "Running", startTime: isoSeconds(now), message: `checking the vault${readData ? ", every pack's bytes included" : ""}` };
  ctx.log.info({ job, trigger: due, readData }, "Started a vault check");
  return CHECK_POLL_MS;
}

function setNextCheck(status: BackupVaultStatus, next: Date | undefined): void {
  if (next) status.nextCheck = isoSeconds(next);
  else delete status.nextCheck;
}

/** Reads the running check's Job; records its end. Returns true while it runs. */
async function followCheck(bv: WithKind<BackupVault>, ctx: ReconcileContext): Promise<boolean> {
  const status = (bv.status ??= {});
  const running = status.lastCheck;
  if (!running?.job) return false;
  const outcome = await readMaintenanceJob(ctx.kube, bv.metadata.namespace ?? "", running.job);
  if (outcome.state === "Running") return true;
  status.lastCheck = ended(running, outcome);
  const last = status.lastCheck;
  if (outcome.state === "Failed") {
    ctx.setCondition(bv, { type: "Verified", status: "Unknown", reason: "CheckFailed", message: `check ${running.job} could not run (${outcome.reason}): ${outcome.message}` });
    await ctx.events.record(bv, "Warning", "CheckFailed", last.message ?? "");
  } else if ((last.errors ?? 0) > 0) {
    ctx.setCondition(bv, { type: "Verified", status: "False", reason: "CheckFoundErrors", message: last.message ?? "" });
    await ctx.events.record(bv, "Warning", "CheckFoundErrors", last.message ?? "");
  } else {
    ctx.setCondition(bv, { type: "Verified", status: "True", reason: "CheckPassed", message: last.message ?? "" });
    await ctx.events.record(bv, "Normal", "CheckPassed", last.message ?? "");
  }
  ctx.log.info({ job: running.job, phase: last.phase, errors: last.errors }, "Vault check ended");
  await pruneMaintenanceHistory(ctx.kube, bv);
  return false;
}

/** The finished check's status from its Job's outcome. */
function ended(running: LastCheck, outcome: Exclude<MaintenanceOutcome, { state: "Running" }>): LastCheck {
  const base: LastCheck = { ...running, phase: outcome.state, completionTime: isoSeconds(outcome.finishedAt) };
  if (outcome.state === "Failed") return { ...base, message: `the check could not run (${outcome.reason}): ${outcome.message}` };
  const c = outcome.result.check;
  if (!c) return { ...base, phase: "Failed", message: "the maintenance Job left no check result" };
  const what = `${c.points} point(s), ${c.packs} pack(s)${running.readData ? `, ${c.bytesVerified} bytes of data verified` : ""}`;
  const message = c.errorCount === 0
    ? `no errors in ${what}${c.warningCount ? ` (${c.warningCount} warning(s))` : ""}`
    : `${c.errorCount} error(s) in ${what}: ${c.errors.join("; ")}${c.errorCount > c.errors.length ? `; and ${c.errorCount - c.errors.length} more in the Job's log` : ""}`;
  return { ...base, errors: c.errorCount, warnings: c.warningCount, points: c.points, bytesVerified: c.bytesVerified, message };
}
