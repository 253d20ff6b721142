/**
 * The worker's progress as GET /progress reports it (WorkerProgress). The
 * throughput is measured over a sliding window, so that a bandwidth change
 * shows up within seconds rather than being averaged into the whole run.
 */
import type { WorkerProgress } from "./spec.js";

const WINDOW_MS = 5_000;

export class ProgressTracker {
  private state: WorkerProgress = { phase: "Starting", bytesDone: 0, bytesTotal: 0, bytesUploaded: 0, throughputBytesPerSecond: 0 };
  private samples: { t: number; bytes: number }[] = [];

  constructor(private readonly now: () => number = () => Date.now()) {}

  get current(): WorkerProgress {
    return this.state;
  }

  /** Changes the phase (and optionally other fields). */
  phase(phase: WorkerProgress["phase"], extra: Partial<WorkerProgress> = {}): void {
    this.state = { ...this.state, ...extra, phase };
  }

  /** Records transfer counters; computes throughput and ETA. */
  bytes(update: { bytesDone: number; bytesTotal: number; bytesUploaded: number }): void {
    const t = this.now();
    this.samples.push({ t, bytes: update.bytesDone });
    while (this.samples.length > 2 && (this.samples[1]?.t ?? t) <= t - WINDOW_MS) this.samples.shift();
    const first = this.samples[0] ?? { t, bytes: update.bytesDone };
    const dt = (t - first.t) / 1000;
    const throughput = dt > 0 ? Math.max(0, (update.bytesDone - first.bytes) / dt) : this.state.throughputBytesPerSecond;
    const left = Math.max(0, update.bytesTotal - update.bytesDone);
    const { etaSeconds: _old, ...rest } = this.state;
    this.state = {
      ...rest,
      ...update,
      throughputBytesPerSecond: Math.round(throughput),
      ...(throughput > 0 ? { etaSeconds: Math.ceil(left / throughput) } : {}),
    };
  }

  /** Adds fields (pointId, vmMoRef, paths, message). */
  set(extra: Partial<WorkerProgress>): void {
    this.state = { ...this.state, ...extra };
  }

  /** Removes an optional field (a message that no longer holds). */
  clear(field: "message" | "etaSeconds" | "vaultOutage" | "vcenterOutage"): void {
    const { [field]: _gone, ...rest } = this.state;
    this.state = rest;
  }
}
