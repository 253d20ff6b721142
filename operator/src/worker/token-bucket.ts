/**
 * A token bucket that limits bytes per second, with a rate that can change
 * while transfers wait (PUT /bandwidth, Gateway flow control).
 *
 * Callers take tokens before each read. A take larger than the bucket (a
 * 1 MiB block under a 256 KiB/s limit) is allowed to drive the balance
 * negative, and the next take waits until the debt is repaid, so the long-run
 * rate holds whatever the read size. Waiters are served one at a time in
 * arrival order, and a waiter re-reads the rate at least every
 * `maxSleepMs`, so lowering or raising the limit applies within that time.
 */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(abortReason(signal));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error("The transfer was aborted", { cause: reason });
}

export class TokenBucket {
  private rate: number;
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  /**
   * @param bytesPerSecond the limit; 0 means unlimited.
   * @param burstSeconds how many seconds of traffic may pass at once after an idle time.
   */
  constructor(
    bytesPerSecond: number,
    private readonly burstSeconds = 0.25,
    private readonly clock: Clock = systemClock,
    private readonly maxSleepMs = 100,
  ) {
    TokenBucket.validate(bytesPerSecond);
    this.rate = bytesPerSecond;
    this.tokens = this.burst;
    this.last = clock.now();
  }

  /** Throws on a rate that is not a finite non-negative number. */
  static validate(bytesPerSecond: number): void {
    if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) {
      throw new RangeError(`A bandwidth limit must be a non-negative number of bytes per second, not ${bytesPerSecond}`);
    }
  }

  /** The current limit in bytes per second (0: unlimited). */
  get bytesPerSecond(): number {
    return this.rate;
  }

  private get burst(): number {
    return this.rate * this.burstSeconds;
  }

  private refill(): void {
    const now = this.clock.now();
    if (this.rate > 0) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }

  /** Changes the limit; waiting takes see the new rate within `maxSleepMs`. */
  setRate(bytesPerSecond: number): void {
    TokenBucket.validate(bytesPerSecond);
    this.refill();
    const wasUnlimited = this.rate === 0;
    this.rate = bytesPerSecond;
    // Coming from unlimited there is no history: start with a full bucket, never more.
    this.tokens = wasUnlimited ? this.burst : Math.min(this.tokens, this.burst);
  }

  /** Waits until `bytes` may pass. Rejects when `signal` aborts. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.acquire(bytes, signal));
    // The next waiter starts after this one, whether it succeeded or not.
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async acquire(bytes: number, signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      this.refill();
      if (this.rate === 0) return;
      if (this.tokens >= 0) {
        this.tokens -= bytes;
        return;
      }
      const waitMs = (-this.tokens * 1000) / this.rate;
      await this.clock.sleep(Math.min(this.maxSleepMs, Math.max(1, waitMs)), signal);
    }
  }
}
