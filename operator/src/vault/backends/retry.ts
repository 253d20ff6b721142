/**
 * Retries for object storage: throttling (503 SlowDown, 429), server errors
 * (5xx), timeouts and dropped connections are retried with exponential
 * backoff and full jitter; anything else (403, 404, 400...) fails at once.
 * Requests are retried whole, including reading a response body, so a
 * connection dropped mid-body is retried too.
 */

export interface RetryOptions {
  /** Attempts in all, including the first (default 8, or unbounded with `maxElapsedMs`). */
  readonly attempts?: number;
  /**
   * Keep retrying until this long after the first attempt (the last backoff is
   * cut to fit). A worker rides out a storage outage of minutes this way; a
   * control-plane probe wants to fail fast and leaves it unset.
   */
  readonly maxElapsedMs?: number;
  /** First backoff in ms (default 100); doubles each time up to `maxDelayMs`. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Called before each retry (for logs and tests). */
  readonly onRetry?: ((err: unknown, attempt: number, delayMs: number) => void) | undefined;
  /** Called when an operation succeeds after at least one retry (a worker clears its "retrying" message). */
  readonly onRecovered?: ((attempts: number) => void) | undefined;
  /** Which errors are worth another attempt (default isRetryable: the AWS SDK's and Node's errors). */
  readonly retryable?: ((err: unknown) => boolean) | undefined;
}

const RETRYABLE_NAMES = new Set([
  "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "RequestTimeoutException",
  "ThrottlingException", "Throttling", "TooManyRequestsException", "TimeoutError", "RequestTimeTooSkewed",
]);
const RETRYABLE_CODES = new Set([
  "ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH",
  "ERR_STREAM_PREMATURE_CLOSE", "UND_ERR_SOCKET", "ERR_HTTP2_STREAM_ERROR",
]);

interface ErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  cause?: unknown;
}

/** True for errors worth another attempt. */
export function isRetryable(err: unknown): boolean {
  for (let e = err as ErrorShape | undefined, depth = 0; e && depth < 5; e = e.cause as ErrorShape | undefined, depth++) {
    const status = e.$metadata?.httpStatusCode;
    if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true;
    if (e.name && RETRYABLE_NAMES.has(e.name)) return true;
    if (e.code && RETRYABLE_CODES.has(e.code)) return true;
    if (e.$retryable) return true;
    if (e.message && /socket hang up|aborted|premature close|ECONNRESET|EPIPE|other side closed|terminated/i.test(e.message)) return true;
  }
  return false;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `op`, retrying retryable failures; rethrows the last error. */
export async function withRetry<T>(op: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? (options.maxElapsedMs === undefined ? 8 : Infinity);
  const base = options.baseDelayMs ?? 100;
  const max = options.maxDelayMs ?? 5000;
  const deadline = options.maxElapsedMs === undefined ? Infinity : Date.now() + options.maxElapsedMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await op();
      if (attempt > 1) options.onRecovered?.(attempt);
      return result;
    } catch (err) {
      const left = deadline - Date.now();
      if (attempt >= attempts || left <= 0 || !(options.retryable ?? isRetryable)(err)) throw err;
      // Full jitter, but never less than a tenth of the cap: with a deadline, a run of near-zero draws would spend the attempts in a burst.
      const cap = Math.min(max, base * 2 ** Math.min(attempt - 1, 30));
      const delay = Math.min(left, cap * (0.1 + 0.9 * Math.random()));
      options.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}
