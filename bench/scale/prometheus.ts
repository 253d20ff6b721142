/**
 * The pure part of reading the operator's own metrics for `npm run
 * bench:scale`: the Prometheus text format, histogram quantiles computed the
 * way PromQL's histogram_quantile does, and the convergence test. Kept apart
 * so that it is unit tested (prometheus.test.ts).
 */

/** One sample of the text exposition format. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/y;

function unescape(v: string): string {
  return v.replace(/\\(["\\n])/g, (_m, c: string) => (c === "n" ? "\n" : c));
}

/** Parses the Prometheus text format (comments and blank lines skipped; timestamps ignored). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const brace = line.indexOf("{");
    const space = line.indexOf(" ");
    let name: string;
    const labels: Record<string, string> = {};
    let rest: string;
    if (brace !== -1 && (space === -1 || brace < space)) {
      name = line.slice(0, brace);
      const close = line.indexOf("}", brace);
      if (close === -1) throw new Error(`A metrics line has no closing brace: ${line}`);
      const body = line.slice(brace + 1, close);
      LABEL.lastIndex = 0;
      while (LABEL.lastIndex < body.length) {
        const m = LABEL.exec(body);
        if (!m?.[1]) throw new Error(`Unreadable labels in metrics line: ${line}`);
        labels[m[1]] = unescape(m[2] ?? "");
      }
      rest = line.slice(close + 1).trim();
    } else {
      name = line.slice(0, space);
      rest = line.slice(space + 1).trim();
    }
    const value = Number(rest.split(/\s+/)[0]);
    out.push({ name, labels, value });
  }
  return out;
}

/** Whether a sample carries every label of `match`. */
function matches(s: Sample, match: Readonly<Record<string, string>>): boolean {
  return Object.entries(match).every(([k, v]) => s.labels[k] === v);
}

/** The sum of the samples of `name` that carry every label of `match`. */
export function sumOf(samples: readonly Sample[], name: string, match: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  for (const s of samples) if (s.name === name && matches(s, match)) sum += s.value;
  return sum;
}

/** A histogram's cumulative buckets, upper bound ascending, +Inf last. */
export type Buckets = readonly { readonly le: number; readonly count: number }[];

/** The buckets of histogram `name` (without its _bucket suffix), summed over the series that match. */
export function bucketsOf(samples: readonly Sample[], name: string, match: Readonly<Record<string, string>> = {}): Buckets {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !matches(s, match)) continue;
    const le = s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}

/** What `later` counted since `earlier` (the same histogram scraped twice from one process). */
export function bucketsSince(later: Buckets, earlier: Buckets): Buckets {
  return later.map((b) => ({ le: b.le, count: b.count - (earlier.find((e) => e.le === b.le)?.count ?? 0) }));
}

/** How many observations a histogram holds (its +Inf bucket). */
export function observations(buckets: Buckets): number {
  return buckets.at(-1)?.count ?? 0;
}

/**
 * The q-quantile of a histogram as PromQL's histogram_quantile computes it:
 * the bucket that holds the rank q·n, and linear interpolation within it
 * (from 0 for the first bucket). A rank in the +Inf bucket answers the
 * highest finite bound: the histogram cannot say more. So the answer is only
 * as fine as the buckets; NaN when the histogram is empty.
 */
export function histogramQuantile(q: number, buckets: Buckets): number {
  if (!(q >= 0 && q <= 1)) throw new Error(`A quantile is between 0 and 1, not ${q}`);
  const total = observations(buckets);
  if (buckets.length === 0 || total <= 0) return Number.NaN;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Number.POSITIVE_INFINITY) return lowerBound;
      if (b.count === lowerCount) return b.le;
      return lowerBound + ((b.le - lowerBound) * (rank - lowerCount)) / (b.count - lowerCount);
    }
    lowerBound = b.le;
    lowerCount = b.count;
  }
  return lowerBound;
}

/** Where one controller stands after a restart. */
export interface ControllerProgress {
  readonly controller: string;
  readonly objects: number;
  /** Reconciles that finished without an error (success, requeue, terminal). */
  readonly reconciled: number;
  readonly errors: number;
  readonly queueDepth: number;
}

/** The outcomes of lifeboat_reconcile_total that count as "reconciled" (an error is retried, so it is not done). */
const DONE_RESULTS = ["success", "requeue", "terminal"];

/** Each controller's progress from a scrape of a fresh process, given how many objects of its kind exist. */
export function progressOf(samples: readonly Sample[], objects: Readonly<Record<string, number>>): ControllerProgress[] {
  return Object.entries(objects).map(([controller, n]) => ({
    controller,
    objects: n,
    reconciled: DONE_RESULTS.reduce((sum, result) => sum + sumOf(samples, "lifeboat_reconcile_total", { controller, result }), 0),
    errors: sumOf(samples, "lifeboat_reconcile_total", { controller, result: "error" }),
    queueDepth: sumOf(samples, "lifeboat_workqueue_depth", { controller }),
  }));
}

/**
 * Whether a restarted operator has converged: for every controller, its
 * queue is empty and it has finished at least as many reconciles as there
 * are objects of its kind. A controller enqueues every object of its kind
 * once when it starts, hands keys out first in, first out, and counts each
 * reconcile when it ends; so an empty queue means every object's first
 * reconcile has begun, and the count means (give or take the reconciles
 * still running, at most the controller's workers) that they have ended.
 * Objects polled again (requeueAfter) add reconciles, which is why an empty
 * queue is required as well as the count.
 */
export function hasConverged(progress: readonly ControllerProgress[]): boolean {
  return progress.every((p) => p.queueDepth === 0 && p.reconciled >= p.objects);
}
