/**
 * How a backup or restore worker rides out a vCenter that does not answer
 * its login: a vCenter restart (its services take minutes to come back), an
 * appliance failover, a short network partition. The login is retried for up
 * to `outageWaitSeconds` of the spec's vCenter, and while it fails the
 * worker's progress says so (`vcenterOutage`), which the operator shows in
 * the plan's or RestoreJob's status.
 *
 * An outage that breaks a transfer still fails that attempt
 * (VCenterUnreachable: its snapshot and session are gone); the Job starts
 * another after its backoff, and that attempt waits here. So an outage of
 * minutes costs one failed attempt, where before it failed the run once the
 * Job's few quick retries (some 70 s in all) were spent. Only unreachability
 * is waited out: a refused login or a certificate that does not match fails
 * at once. Replication cycles leave the wait unset: the next cycle retries a
 * failed one, and the server shows Paused meanwhile.
 */
import type { Logger } from "pino";
import { withRetry } from "../vault/backends/retry.js";
import { connect, UnreachableError, type ConnectOptions, type VsphereClient } from "../vsphere/index.js";
import { connectOptionsFrom } from "./config.js";
import type { ProgressTracker } from "./progress.js";
import type { WorkerVCenter } from "./spec.js";
import { outageReports } from "./outage-reports.js";

/** The longest wait between two logins while vCenter does not answer. */
const MAX_DELAY_MS = 15_000;

export interface VCenterLoginContext {
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly progress: ProgressTracker;
  /** Aborted on SIGTERM: stops the waiting. */
  readonly signal: AbortSignal;
}

/** What tests replace: the login, the clock the outage is reported by, and the waits between logins. */
export interface LoginHooks {
  readonly login?: (options: ConnectOptions) => Promise<VsphereClient>;
  readonly now?: () => number;
  readonly baseDelayMs?: number;
}

/** Logs in to the spec's vCenter, waiting out an outage of up to its `outageWaitSeconds` (none when unset). */
export async function connectWaiting(vcenter: WorkerVCenter, ctx: VCenterLoginContext, hooks: LoginHooks = {}): Promise<VsphereClient> {
  const login = hooks.login ?? connect;
  const options = { ...connectOptionsFrom(vcenter, ctx.env), logger: ctx.logger };
  const waitMs = (vcenter.outageWaitSeconds ?? 0) * 1000;
  if (waitMs <= 0) return login(options);
  return withRetry(
    () => {
      ctx.signal.throwIfAborted();
      return login(options);
    },
    {
      maxElapsedMs: waitMs,
      baseDelayMs: hooks.baseDelayMs ?? 1000,
      maxDelayMs: MAX_DELAY_MS,
      retryable: (err) => err instanceof UnreachableError && !ctx.signal.aborted,
      ...outageReports({ logger: ctx.logger, progress: ctx.progress, now: hooks.now, field: "vcenterOutage", subject: `vCenter ${vcenter.address}`, budgetMs: waitMs, what: "vCenter login" }),
    },
  );
}
