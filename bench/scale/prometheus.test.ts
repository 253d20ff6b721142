import { describe, expect, it } from "@jest/globals";
import { bucketsOf, bucketsSince, hasConverged, histogramQuantile, observations, parseMetrics, progressOf, sumOf } from "./prometheus.js";

const TEXT = `# HELP lifeboat_reconcile_total Reconciles by controller and result.
# TYPE lifeboat_reconcile_total counter
lifeboat_reconcile_total{controller="backupplan",result="success"} 90
lifeboat_reconcile_total{controller="backupplan",result="error"} 3
lifeboat_reconcile_total{controller="protectedserver",result="requeue"} 250
lifeboat_workqueue_depth{controller="backupplan"} 0
lifeboat_workqueue_depth{controller="protectedserver"} 7
lifeboat_reconcile_duration_seconds_bucket{le="0.01",controller="backupplan"} 10
lifeboat_reconcile_duration_seconds_bucket{le="0.1",controller="backupplan"} 60
lifeboat_reconcile_duration_seconds_bucket{le="1",controller="backupplan"} 90
lifeboat_reconcile_duration_seconds_bucket{le="+Inf",controller="backupplan"} 93
lifeboat_reconcile_duration_seconds_bucket{le="0.01",controller="protectedserver"} 0
lifeboat_reconcile_duration_seconds_bucket{le="0.1",controller="protectedserver"} 200
lifeboat_reconcile_duration_seconds_bucket{le="1",controller="protectedserver"} 250
lifeboat_reconcile_duration_seconds_bucket{le="+Inf",controller="protectedserver"} 250
lifeboat_process_resident_memory_bytes 123456789
weird_label{path="a \\"quoted\\" \\\\ value"} 1 1700000000000
`;

describe("parseMetrics", () => {
  const samples = parseMetrics(TEXT);

  it("reads names, labels and values, and skips comments", () => {
    expect(samples).toHaveLength(15);
    expect(samples[0]).toEqual({ name: "lifeboat_reconcile_total", labels: { controller: "backupplan", result: "success" }, value: 90 });
    expect(sumOf(samples, "lifeboat_process_resident_memory_bytes")).toBe(123456789);
  });

  it("unescapes label values and ignores a timestamp", () => {
    expect(samples.at(-1)).toEqual({ name: "weird_label", labels: { path: 'a "quoted" \\ value' }, value: 1 });
  });

  it("refuses a line it cannot read rather than miscounting", () => {
    expect(() => parseMetrics('x{a="1" 2')).toThrow(/closing brace/);
  });
});

describe("histograms", () => {
  const samples = parseMetrics(TEXT);

  it("sums buckets over the matching series", () => {
    expect(bucketsOf(samples, "lifeboat_reconcile_duration_seconds")).toEqual([
      { le: 0.01, count: 10 }, { le: 0.1, count: 260 }, { le: 1, count: 340 }, { le: Number.POSITIVE_INFINITY, count: 343 },
    ]);
    expect(observations(bucketsOf(samples, "lifeboat_reconcile_duration_seconds", { controller: "backupplan" }))).toBe(93);
  });

  it("interpolates within the bucket that holds the rank, as histogram_quantile does", () => {
    const b = bucketsOf(samples, "lifeboat_reconcile_duration_seconds", { controller: "protectedserver" });
    // rank 125 of 250 lies in (0.01, 0.1]: 0 observations below, 200 at its top.
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.01 + 0.09 * (125 / 200));
    // rank 5 of 93 lies in the first bucket, interpolated from 0.
    expect(histogramQuantile(0.05, bucketsOf(samples, "lifeboat_reconcile_duration_seconds", { controller: "backupplan" }))).toBeCloseTo(0.01 * (4.65 / 10));
  });

  it("answers the highest finite bound for a rank in +Inf, and NaN for an empty histogram", () => {
    const b = bucketsOf(samples, "lifeboat_reconcile_duration_seconds", { controller: "backupplan" });
    expect(histogramQuantile(0.99, b)).toBe(1);
    expect(histogramQuantile(0.5, [])).toBeNaN();
    expect(() => histogramQuantile(1.5, b)).toThrow(/between 0 and 1/);
  });

  it("subtracts an earlier scrape to get what a window observed", () => {
    const later = [{ le: 0.1, count: 20 }, { le: Number.POSITIVE_INFINITY, count: 25 }];
    const earlier = [{ le: 0.1, count: 15 }, { le: Number.POSITIVE_INFINITY, count: 16 }];
    expect(bucketsSince(later, earlier)).toEqual([{ le: 0.1, count: 5 }, { le: Number.POSITIVE_INFINITY, count: 9 }]);
  });
});

describe("convergence", () => {
  it("counts successes, requeues and terminal errors as reconciled, not errors", () => {
    const p = progressOf(parseMetrics(TEXT), { backupplan: 90, protectedserver: 200, vcenter: 0 });
    expect(p).toEqual([
      { controller: "backupplan", objects: 90, reconciled: 90, errors: 3, queueDepth: 0 },
      { controller: "protectedserver", objects: 200, reconciled: 250, errors: 0, queueDepth: 7 },
      { controller: "vcenter", objects: 0, reconciled: 0, errors: 0, queueDepth: 0 },
    ]);
  });

  it("needs every queue empty as well as the counts reached", () => {
    const p = progressOf(parseMetrics(TEXT), { backupplan: 90, protectedserver: 200 });
    expect(hasConverged(p)).toBe(false);
    expect(hasConverged(p.map((c) => ({ ...c, queueDepth: 0 })))).toBe(true);
    expect(hasConverged(p.map((c) => ({ ...c, queueDepth: 0, objects: c.objects + 1000 })))).toBe(false);
  });
});
