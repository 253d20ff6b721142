import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * The operator's Prometheus metrics. One registry per process, so tests that
 * start several operators in one process do not collide.
 */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: "lifeboat_reconcile_total",
    help: "Reconciles by controller and result (success, error, requeue, terminal).",
    labelNames: ["controller", "result"],
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: "lifeboat_reconcile_errors_total",
    help: "Reconciles that returned an error.",
    labelNames: ["controller"],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: "lifeboat_reconcile_duration_seconds",
    help: "Time spent in one reconcile.",
    labelNames: ["controller"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "lifeboat_workqueue_depth",
    help: "Keys waiting in a controller's work queue.",
    labelNames: ["controller"],
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: "lifeboat_workqueue_retries_total",
    help: "Keys re-queued with back-off after an error.",
    labelNames: ["controller"],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "lifeboat_leader",
    help: "1 while this replica leads and runs the controllers.",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "lifeboat_process_" });
  }
}
