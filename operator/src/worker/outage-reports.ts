/**
 * How a worker tells that a peer it is waiting for (the vault, vCenter) does
 * not answer: the callbacks of a retry policy that put the outage into the
 * worker's progress, which the operator shows in the plan's or restore's
 * status, and log it without flooding the log. Shared by vault-outage.ts
 * (every vault request) and vcenter-outage.ts (the vCenter login).
 */
import type { Logger } from "pino";
import type { RetryOptions } from "../vault/backends/retry.js";
import { describeChain } from "./errors.js";
import type { ProgressTracker } from "./progress.js";

/** A retry is logged at most this often: a long outage with many requests in flight stays readable. */
const LOG_EVERY_MS = 10_000;
/** Failures shorter than this (a throttled request, one dropped connection) are retried without being reported as an outage. */
export const REPORT_AFTER_MS = 5_000;

/** What outageReports needs: where to report, and how to name the peer. */
export interface OutageReportOptions {
  readonly logger: Logger;
  readonly progress: ProgressTracker;
  readonly now?: (() => number) | undefined;
  /** The progress field that carries the outage while it lasts. */
  readonly field: "vaultOutage" | "vcenterOutage";
  /** The peer, as the message names it ("the vault", "vCenter 10.0.0.1"). */
  readonly subject: string;
  /** How long the worker goes on retrying, for the message. */
  readonly budgetMs: number;
  /** What is retried, for the log ("vault request", "vCenter login"). */
  readonly what: string;
}

/**
 * The onRetry and onRecovered callbacks of a retry policy that rides out an
 * outage of a peer: the outage goes into the worker's progress (`field`) once
 * attempts have failed for REPORT_AFTER_MS, retries are logged at most every
 * LOG_EVERY_MS, and the field is cleared when an attempt succeeds again.
 */
export function outageReports(o: OutageReportOptions): Pick<RetryOptions, "onRetry" | "onRecovered"> {
  const now = o.now ?? Date.now;
  let since: number | undefined;
  let lastLog = 0;
  return {
    onRetry: (err, attempt, delayMs) => {
      const t = now();
      since ??= t;
      const cause = describeChain(err);
      const sinceIso = new Date(since).toISOString();
      if (t - since >= REPORT_AFTER_MS) {
        o.progress.set({ [o.field]: { since: sinceIso, message: `${o.subject} does not answer (${cause}); the worker has been retrying since ${sinceIso} and goes on for up to ${o.budgetMs / 60_000} minutes` } });
      }
      if (t - lastLog >= LOG_EVERY_MS) {
        lastLog = t;
        o.logger.warn({ err: cause, attempt, delayMs: Math.round(delayMs), outageSeconds: Math.round((t - since) / 1000) }, `A ${o.what} failed; retrying`);
      }
    },
    onRecovered: (attempts) => {
      if (since === undefined) return;
      o.logger.info({ attempts, outageSeconds: Math.round((now() - since) / 1000) }, `${capitalized(o.subject)} answers again`);
      since = undefined;
      lastLog = 0;
      o.progress.clear(o.field);
    },
  };
}

function capitalized(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
