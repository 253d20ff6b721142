import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { WorkerProgress } from "../worker/spec.js";

/** A followed worker the operator has not looked at for this long is dropped from the progress gauge. */
const WORKER_FORGOTTEN_MS = 15 * 60_000;

/** What of a worker's report counts as progress: all of it but the rates, which change on their own. */
function progressFingerprint({ throughputBytesPerSecond: _rate, etaSeconds: _eta, ...moving }: WorkerProgress): string {
  return JSON.stringify(moving);
}

/**
 * prom-client's default Node.js metrics, minus the three gauges it names
 * `..._total` (active handles, requests and resources): Prometheus reserves
 * that suffix for counters, and `promtool check metrics` refuses them. Nothing
 * is lost: each is the sum of its per-type gauge (`sum without (type)`).
 */
export function collectProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) {
    registry.removeSingleMetric(prefix + name);
  }
}

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

  readonly backupReadBytes = new Gauge({
    name: "lifeboat_backup_read_bytes",
    help: "Bytes of changed or allocated areas read so far by the running backup of a VM.",
    labelNames: ["namespace", "plan", "vm"],
    registers: [this.registry],
  });
  readonly backupPlannedBytes = new Gauge({
    name: "lifeboat_backup_planned_bytes",
    help: "Bytes of changed or allocated areas the running backup of a VM reads in all.",
    labelNames: ["namespace", "plan", "vm"],
    registers: [this.registry],
  });
  readonly backupThroughput = new Gauge({
    name: "lifeboat_backup_throughput_bytes_per_second",
    help: "Read throughput of the running backup of a VM.",
    labelNames: ["namespace", "plan", "vm"],
    registers: [this.registry],
  });
  readonly backupUploadedBytes = new Gauge({
    name: "lifeboat_backup_uploaded_bytes",
    help: "Bytes the running backup of a VM has written to the vault so far (new blocks, compressed and encrypted).",
    labelNames: ["namespace", "plan", "vm"],
    registers: [this.registry],
  });
  readonly backupRuns = new Counter({
    name: "lifeboat_backup_runs_total",
    help: "Finished backup runs by result (Succeeded, PartiallyFailed, Failed).",
    labelNames: ["namespace", "plan", "result"],
    registers: [this.registry],
  });
  readonly planLastRun = new Gauge({
    name: "lifeboat_backup_plan_last_run_timestamp_seconds",
    help: "When a plan's last finished run ended (Unix time), labelled with its result (Succeeded, PartiallyFailed, Failed); one series per plan.",
    labelNames: ["namespace", "plan", "result"],
    registers: [this.registry],
  });
  readonly planLastSuccess = new Gauge({
    name: "lifeboat_backup_plan_last_success_timestamp_seconds",
    help: "When a plan's last Succeeded run (every selected VM backed up) ended (Unix time); absent until one has.",
    labelNames: ["namespace", "plan"],
    registers: [this.registry],
  });
  readonly planCreated = new Gauge({
    name: "lifeboat_backup_plan_created_timestamp_seconds",
    help: "When a plan was created (Unix time), so that a plan that never succeeds goes stale too.",
    labelNames: ["namespace", "plan"],
    registers: [this.registry],
  });
  readonly planScheduleInterval = new Gauge({
    name: "lifeboat_backup_plan_schedule_interval_seconds",
    help: "The longest gap between a plan's coming scheduled runs; absent while it is paused or runs only on request.",
    labelNames: ["namespace", "plan"],
    registers: [this.registry],
  });
  readonly vaultReady = new Gauge({
    name: "lifeboat_vault_ready",
    help: "1 while a BackupVault's Ready condition is True, 0 otherwise (backend unreachable, wrong key, lock not as specified).",
    labelNames: ["namespace", "vault"],
    registers: [this.registry],
  });
  readonly vaultStoredBytes = new Gauge({
    name: "lifeboat_vault_stored_bytes",
    help: "Bytes a vault occupies in its backend.",
    labelNames: ["namespace", "vault"],
    registers: [this.registry],
  });
  readonly vaultLogicalBytes = new Gauge({
    name: "lifeboat_vault_logical_bytes",
    help: "Bytes of all recovery points in a vault as restored.",
    labelNames: ["namespace", "vault"],
    registers: [this.registry],
  });
  readonly vaultAllocatedBytes = new Gauge({
    name: "lifeboat_vault_allocated_bytes",
    help: "Bytes of data the recovery points in a vault reference: their disks' non-zero blocks, counted once per point.",
    labelNames: ["namespace", "vault"],
    registers: [this.registry],
  });
  readonly vaultDedupRatio = new Gauge({
    name: "lifeboat_vault_dedup_ratio",
    help: "Allocated (non-zero) bytes of a vault's recovery points over the bytes the vault stores: dedup and compression together, zeros excluded.",
    labelNames: ["namespace", "vault"],
    registers: [this.registry],
  });
  readonly vaultCompressionRatio = new Gauge({
    name: "lifeboat_vault_compression_ratio",
    help: "Bytes of the distinct blocks a vault holds before compression over after: compression's share of the dedup ratio.",
    labelNames: ["namespace", "vault"],
    registers: [this.registry],
  });
  readonly vaultRecoveryPoints = new Gauge({
    name: "lifeboat_vault_recovery_points",
    help: "Recovery points in a vault.",
    labelNames: ["namespace", "vault"],
    registers: [this.registry],
  });

  /** Each vault's live repository locks as the vault's last sync listed them, read at scrape time. */
  private readonly vaultLocks = new Map<string, readonly { labels: { namespace: string; vault: string; lock: string; purpose: string; holder: string }; expiresAt: number }[]>();
  readonly vaultLockExpiry = new Gauge({
    name: "lifeboat_vault_lock_expiry_timestamp_seconds",
    help: "When a live repository lock expires unless its holder refreshes it (Unix time). Holders refresh every 5 minutes, so a lock near its expiry has a silent holder.",
    labelNames: ["namespace", "vault", "lock", "purpose", "holder"],
    registers: [this.registry],
    collect: () => {
      this.vaultLockExpiry.reset();
      for (const locks of this.vaultLocks.values()) for (const { labels, expiresAt } of locks) this.vaultLockExpiry.set(labels, expiresAt / 1000);
    },
  });

  /** Workers the operator follows: when their progress last changed, and when it last looked. */
  private readonly workers = new Map<string, { labels: { namespace: string; worker: string; owner: string }; progress: string; since: number; seen: number }>();
  readonly workerLastProgress = new Gauge({
    name: "lifeboat_worker_last_progress_timestamp_seconds",
    help: "When the progress a running worker reports (phase, bytes) last changed, or when the operator first saw it (Unix time). A worker that is not running or does not answer makes no progress.",
    labelNames: ["namespace", "worker", "owner"],
    registers: [this.registry],
    collect: () => {
      this.workerLastProgress.reset();
      const now = Date.now();
      for (const [key, w] of this.workers) {
        // Nobody looked for a while: the operator no longer follows it (its owner is gone), so it is no one's stuck worker.
        if (now - w.seen > WORKER_FORGOTTEN_MS) this.workers.delete(key);
        else this.workerLastProgress.set(w.labels, w.since / 1000);
      }
    },
  });

  /** Time of each protected server's newest point, read at scrape time into the RPO gauge. */
  private readonly newestPoints = new Map<string, { labels: { namespace: string; protected_server: string }; time: number }>();
  readonly protectedServerRpo = new Gauge({
    name: "lifeboat_protected_server_rpo_seconds",
    help: "Age of a protected server's newest recovery point: the data a failover now would lose. Absent until its first full cycle is done.",
    labelNames: ["namespace", "protected_server"],
    registers: [this.registry],
    collect: () => {
      this.protectedServerRpo.reset();
      const now = Date.now();
      for (const { labels, time } of this.newestPoints.values()) this.protectedServerRpo.set(labels, Math.max(0, (now - time) / 1000));
    },
  });
  readonly protectedServerRpoTarget = new Gauge({
    name: "lifeboat_protected_server_rpo_target_seconds",
    help: "A protected server's RPO target (its crash-consistent interval), to compare the RPO with.",
    labelNames: ["namespace", "protected_server"],
    registers: [this.registry],
  });
  readonly replicationCycles = new Counter({
    name: "lifeboat_replication_cycles_total",
    help: "Finished replication cycles by direction and result.",
    labelNames: ["namespace", "protected_server", "direction", "result"],
    registers: [this.registry],
  });
  readonly replicationCycleDuration = new Histogram({
    name: "lifeboat_replication_cycle_duration_seconds",
    help: "Start to commit of succeeded replication cycles.",
    labelNames: ["namespace", "protected_server", "direction"],
    buckets: [5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.registry],
  });
  readonly replicationBytesTransferred = new Counter({
    name: "lifeboat_replication_transferred_bytes_total",
    help: "Bytes replication sent between sites (new blocks, compressed and encrypted; seeds count the blocks they fetched), by direction.",
    labelNames: ["namespace", "protected_server", "direction"],
    registers: [this.registry],
  });
  readonly recoveryTime = new Gauge({
    name: "lifeboat_protected_server_rto_seconds",
    help: "Measured recovery time of the last failover or failback: from the request to the VM powered on.",
    labelNames: ["namespace", "protected_server", "operation"],
    registers: [this.registry],
  });

  /**
   * Records what the running backup of a VM reports: bytes read, to read,
   * written to the vault, and the read throughput. Written bytes have no
   * throughput of their own in the report; a dashboard takes their slope.
   */
  noteBackupProgress(labels: { namespace: string; plan: string; vm: string }, progress: WorkerProgress): void {
    this.backupReadBytes.set(labels, progress.bytesDone);
    this.backupPlannedBytes.set(labels, progress.bytesTotal);
    this.backupUploadedBytes.set(labels, progress.bytesUploaded);
    this.backupThroughput.set(labels, progress.throughputBytesPerSecond);
  }

  /** Removes a VM's backup progress once its run finished: the gauges describe running backups only. */
  forgetBackupProgress(labels: { namespace: string; plan: string; vm: string }): void {
    for (const gauge of [this.backupReadBytes, this.backupPlannedBytes, this.backupUploadedBytes, this.backupThroughput]) gauge.remove(labels);
  }

  /** Records a protected server's newest point for the RPO gauge (undefined: not replicating, or still in its first full cycle). */
  setNewestPoint(namespace: string, protectedServer: string, time: Date | undefined): void {
    const key = `${namespace}/${protectedServer}`;
    if (time) this.newestPoints.set(key, { labels: { namespace, protected_server: protectedServer }, time: time.getTime() });
    else this.newestPoints.delete(key);
  }

  /** Records a vault's live repository locks (none when the vault cannot be read, or is gone). */
  setVaultLocks(namespace: string, vault: string, locks: readonly { id: string; purpose: string; host: string; expiresAt: number }[]): void {
    const key = `${namespace}/${vault}`;
    if (locks.length === 0) this.vaultLocks.delete(key);
    else this.vaultLocks.set(key, locks.map((l) => ({ labels: { namespace, vault, lock: l.id, purpose: l.purpose, holder: l.host }, expiresAt: l.expiresAt })));
  }

  /**
   * Notes what a worker the operator follows reports now (undefined: it is
   * not running yet, or did not answer). The time only moves when the report
   * differs from the last one, so a hung or never-starting worker keeps an
   * old time, which is what the stuck-worker alert looks at.
   */
  noteWorker(labels: { namespace: string; worker: string; owner: string }, progress: WorkerProgress | undefined, now: number = Date.now()): void {
    const key = `${labels.namespace}/${labels.worker}`;
    const fingerprint = progress ? progressFingerprint(progress) : "";
    const known = this.workers.get(key);
    if (!known) {
      this.workers.set(key, { labels, progress: fingerprint, since: now, seen: now });
      return;
    }
    known.seen = now;
    if (progress && fingerprint !== known.progress) {
      known.progress = fingerprint;
      known.since = now;
    }
  }

  /** Stops following a worker that finished (or was removed). */
  forgetWorker(namespace: string, worker: string): void {
    this.workers.delete(`${namespace}/${worker}`);
  }

  /** Stops following every worker of an object that is gone (e.g. "BackupPlan/nightly"); their Jobs go with it. */
  forgetWorkersOf(namespace: string, owner: string): void {
    for (const [key, w] of this.workers) if (w.labels.namespace === namespace && w.labels.owner === owner) this.workers.delete(key);
  }

  constructor() {
    collectProcessMetrics(this.registry, "lifeboat_process_");
  }
}
