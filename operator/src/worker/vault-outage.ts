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
import { outageReports } from "./outage-reports.js";
import type { ProgressTracker } from "./progress.js";

/** How long a worker keeps retrying a vault request that fails with a retryable error. */
export const VAULT_OUTAGE_MS = 5 * 60_000;
/** The longest wait between two attempts during an outage. */
const MAX_DELAY_MS = 10_000;

/**
 * The retry policy a worker opens its vaults with. Reports the outage in
 * `progress.vaultOutage` once requests have failed for REPORT_AFTER_MS, until
 * one succeeds again.
 */
export function vaultOutageRetry(logger: Logger, progress: ProgressTracker, now: () => number = Date.now): RetryOptions {
  return {
    maxElapsedMs: VAULT_OUTAGE_MS,
    maxDelayMs: MAX_DELAY_MS,
    ...outageReports({ logger, progress, now, field: "vaultOutage", subject: "the vault", budgetMs: VAULT_OUTAGE_MS, what: "vault request" }),
  };
}
