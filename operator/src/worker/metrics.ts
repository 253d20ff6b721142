/**
 * The worker's Prometheus metrics, per VM and disk, so that the controller
 * (and the end-to-end tests) can see what a run really read and stored: an
 * incremental backup must read no more than the areas CBT reported.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { collectProcessMetrics } from "../telemetry/metrics.js";

const labelNames = ["vm", "disk"] as const;

/** One registry per worker process. */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly bytesRead = new Counter({
    name: "lifeboat_worker_bytes_read_total",
    help: "Bytes read from the VM's disk (snapshot) through the datastore interface.",
    labelNames,
    registers: [this.registry],
  });
  readonly bytesNew = new Counter({
    name: "lifeboat_worker_bytes_new_total",
    help: "Bytes of blocks that were new to the vault (before compression).",
    labelNames,
    registers: [this.registry],
  });
  readonly bytesReused = new Counter({
    name: "lifeboat_worker_bytes_reused_total",
    help: "Bytes read whose blocks the vault already held (deduplicated).",
    labelNames,
    registers: [this.registry],
  });
  readonly bytesFromParent = new Counter({
    name: "lifeboat_worker_bytes_from_parent_total",
    help: "Bytes taken from the parent recovery point without reading (unchanged since the parent).",
    labelNames,
    registers: [this.registry],
  });
  readonly bytesUploaded = new Counter({
    name: "lifeboat_worker_bytes_uploaded_total",
    help: "Bytes written to the vault (packs after compression and encryption) while this disk was backed up.",
    labelNames,
    registers: [this.registry],
  });
  readonly changedAreasBytes = new Gauge({
    name: "lifeboat_worker_changed_areas_bytes",
    help: "Bytes of the areas CBT reported for the disk (changed since the parent, or allocated for a full backup).",
    labelNames,
    registers: [this.registry],
  });
  readonly bytesFetched = new Counter({
    name: "lifeboat_worker_bytes_fetched_total",
    help: "Seed: bytes of encrypted blobs fetched from the source vault (blocks the local VM did not hold).",
    labelNames,
    registers: [this.registry],
  });
  readonly bytesRestored = new Counter({
    name: "lifeboat_worker_bytes_restored_total",
    help: "Bytes of disk content written by a restore.",
    labelNames,
    registers: [this.registry],
  });
  readonly bandwidthLimit = new Gauge({
    name: "lifeboat_worker_bandwidth_limit_bytes_per_second",
    help: "The current transfer limit (0: unlimited).",
    registers: [this.registry],
  });

  constructor() {
    collectProcessMetrics(this.registry, "lifeboat_worker_process_");
  }
}
