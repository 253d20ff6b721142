// The ECS API's flow control, as a client meets it: past its rate, an
// AccessKey's calls answer 400 Throttling.User with x-acs-retry-after until
// it slows down. A token bucket per AccessKey, on the wall clock (request
// rate is real time even when the state machines run on a ManualClock).

/** Calls per second per AccessKey, and how many may come at once (default: perSecond, at least 1). */
export interface RateLimit {
  perSecond: number;
  burst?: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {
    if (!(limit.perSecond > 0)) throw new Error(`rateLimit.perSecond must be positive, not ${limit.perSecond}`);
    this.burst = Math.max(1, limit.burst ?? Math.ceil(limit.perSecond));
  }

  /** Takes a call's token: 0 when the call may go, else the milliseconds until it could. */
  take(key: string): number {
    const t = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((t - bucket.at) / 1000) * this.limit.perSecond);
    bucket.at = t;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / this.limit.perSecond) * 1000);
  }
}
