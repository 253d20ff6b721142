/**
 * How a worker rides out object storage that stops answering: every vault
 * request is retried for up to VAULT_OUTAGE_MS (an S3 restart, a load
 * balancer failover, a short network partition), and while requests are
 * failing the worker's progress says so (`vaultOutage`), which the operator
 * shows in the plan's or restore's status. Past the budget the
 * request fails, the worker exits VaultUnavailable and its Job retries.
 *
 * The operator's own vault probes keep the short default (8 attempts): a
 * BackupVault condition should turn False within seconds of an outage.
 */
import type { Logger } from "pino";
import type { RetryOptions } from "../vault/backends/retry.js";
import { describeChain } from "./errors.js";
import type { ProgressTracker } from "./progress.js";

/** How long a worker keeps retrying a vault request that fails with a retryable error. */
export const VAULT_OUTAGE_MS = 5 * 60_000;
/** The longest wait between two attempts during an outage. */
const MAX_DELAY_MS = 10_000;
/** A retry is logged at most this often: a long outage with many requests in flight stays readable. */
const LOG_EVERY_MS = 10_000;
/** Failures shorter than this (a throttled request, one dropped connection) are retried without being reported as an outage. */
export const REPORT_AFTER_MS = 5_000;

/**
 * The retry policy a worker opens its vaults with. Reports the outage in
 * `progress.vaultOutage` once requests have failed for REPORT_AFTER_MS, until
 * one succeeds again.
 */
export function vaultOutageRetry(logger: Logger, progress: ProgressTracker, now: () => number = Date.now): RetryOptions {
  let since: number | undefined;
  let lastLog = 0;
  return {
    maxElapsedMs: VAULT_OUTAGE_MS,
    maxDelayMs: MAX_DELAY_MS,
    onRetry: (err, attempt, delayMs) => {
      const t = now();
      since ??= t;
      const cause = describeChain(err);
      const sinceIso = new Date(since).toISOString();
      if (t - since >= REPORT_AFTER_MS) progress.set({ vaultOutage: { since: sinceIso, message: `the vault does not answer (${cause}); the worker has been retrying since ${sinceIso} and goes on for up to ${VAULT_OUTAGE_MS / 60_000} minutes` } });
      if (t - lastLog >= LOG_EVERY_MS) {
        lastLog = t;
        logger.warn({ err: cause, attempt, delayMs: Math.round(delayMs), outageSeconds: Math.round((t - since) / 1000) }, "A vault request failed; retrying");
      }
    },
    onRecovered: (attempts) => {
      if (since === undefined) return;
      logger.info({ attempts, outageSeconds: Math.round((now() - since) / 1000) }, "The vault answers again");
      since = undefined;
      lastLog = 0;
      progress.clear("vaultOutage");
    },
  };
}
