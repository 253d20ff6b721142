/**
 * The worker pod's entry point (`node dist/operator/src/worker/main.js`,
 * with the options of node-options.ts):
 * reads its spec from the environment, serves /progress, /metrics and
 * /bandwidth, backs up one VM, restores one point, seeds one DR point or
 * maintains one vault (retention and prune), and exits with a code
 * from spec.ts EXIT_CODES. SIGTERM stops the work, lets it clean up (the
 * snapshot is removed) and exits non-zero.
 */
import { existsSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { pino, type Logger } from "pino";
import { backupVm, type RunContext } from "./backup-vm.js";
import { readConfig, type WorkerConfig } from "./config.js";
import { describeChain, EXIT, exitCodeOf } from "./errors.js";
import { heldResyncOf } from "./resync.js";
import { startWorkerServer } from "./http-server.js";
import { WorkerMetrics } from "./metrics.js";
import { ProgressTracker } from "./progress.js";
import { restorePoint } from "./restore-point.js";
import { runMaintenance } from "./maintenance.js";
import { seedPoint } from "./seed.js";
import { CONTROL_TOKEN_ENV, reasonForExitCode, type BackupResult } from "./spec.js";
import { TokenBucket } from "./token-bucket.js";
import { vaultOutageRetry } from "./vault-outage.js";

const MODE_NAMES = { backup: "Backup", restore: "Restore", seed: "Seed", ecsBackup: "ECS backup", maintenance: "Maintenance" } as const;

/** How long cleanup may take after SIGTERM before the worker exits anyway (Kubernetes waits 30 s by default). */
const TERMINATION_GRACE_MS = 25_000;

function createWorkerLogger(): Logger {
  return pino({
    level: process.env.LOG_LEVEL ?? "info",
    base: { component: "lifeboat-worker" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ["password", "*.password", "secretAccessKey", "*.secretAccessKey", "key", "*.key"], censor: "[redacted]" },
  });
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
}

async function run(config: WorkerConfig, logger: Logger): Promise<number> {
  const progress = new ProgressTracker();
  const metrics = new WorkerMetrics();
  const initialRate = config.spec.mode === "restore" || config.spec.mode === "maintenance" ? 0 : (config.spec.bandwidthBytesPerSecond ?? 0);
  const bandwidth = new TokenBucket(initialRate);
  metrics.bandwidthLimit.set(initialRate);
  const { server, port } = await startWorkerServer({
    host: config.listen.host,
    port: config.listen.port,
    progress,
    metrics,
    bandwidth,
    controlToken: process.env[CONTROL_TOKEN_ENV],
    onBandwidth: (rate) => {
      metrics.bandwidthLimit.set(rate);
      logger.info({ bytesPerSecond: rate }, "Changed the bandwidth limit");
    },
  });
  logger.info({ address: config.listen.host, port, mode: config.spec.mode }, "Worker HTTP server listening");

  const abort = new AbortController();
  const state = { terminated: false };
  const lingerStop = new AbortController();
  const onSigterm = (): void => {
    if (state.terminated) return;
    state.terminated = true;
    logger.warn("Received SIGTERM; stopping and cleaning up");
    abort.abort(new Error("The worker was asked to stop (SIGTERM)"));
    lingerStop.abort();
    setTimeout(() => {
      logger.error({ graceMs: TERMINATION_GRACE_MS }, "Cleanup did not finish in time after SIGTERM; exiting");
      process.exit(EXIT.terminated);
    }, TERMINATION_GRACE_MS).unref();
  };
  process.on("SIGTERM", onSigterm);
  process.on("SIGINT", onSigterm);

  const ctx: RunContext = { env: config.env, logger, progress, metrics, bandwidth, signal: abort.signal, vaultRetry: vaultOutageRetry(logger, progress) };
  let code: number;
  try {
    if (config.spec.mode === "backup") {
      const point = await backupVm(config.spec, ctx);
      progress.phase("Succeeded", { pointId: point.id });
      logger.info({ pointId: point.id, progress: progress.current }, "Backup succeeded");
      // The final figures, for a controller that never saw the worker running (a backup over within one poll).
      const done: BackupResult = { pointId: point.id, bytesDone: progress.current.bytesDone, bytesTotal: progress.current.bytesTotal };
      writeTerminationMessage(JSON.stringify(done));
    } else if (config.spec.mode === "ecsBackup") {
      // Loaded for this mode only: the Alibaba Cloud SDKs take seconds to load, and no other mode needs them.
      const { backupEcsInstance } = await import("./ecs-backup.js");
      const point = await backupEcsInstance(config.spec, ctx);
      progress.phase("Succeeded", { pointId: point.id });
      logger.info({ pointId: point.id, progress: progress.current }, "ECS backup succeeded");
    } else if (config.spec.mode === "maintenance") {
      const result = await runMaintenance(config.spec, ctx);
      progress.phase("Succeeded", { message: `forgot ${result.forgotten} point(s)` });
      logger.info({ ...result }, "Maintenance succeeded");
      writeTerminationMessage(JSON.stringify(result));
    } else if (config.spec.mode === "seed") {
      const point = await seedPoint(config.spec, ctx);
      progress.phase("Succeeded", { pointId: point.id });
      logger.info({ pointId: point.id, progress: progress.current }, "Seed succeeded");
    } else {
      const result = await restorePoint(config.spec, ctx);
      progress.phase("Succeeded", { pointId: result.pointId, ...(result.vmMoRef ? { vmMoRef: result.vmMoRef } : {}), ...(result.paths ? { paths: result.paths } : {}), ...(result.imageId ? { imageId: result.imageId } : {}) });
      logger.info({ ...result, progress: progress.current }, "Restore succeeded");
      // The controller reads what the restore made from the pod's status once the pod is gone from the network.
      writeTerminationMessage(JSON.stringify(result));
    }
    code = state.terminated ? EXIT.terminated : EXIT.succeeded;
  } catch (err) {
    code = state.terminated ? EXIT.terminated : exitCodeOf(err);
    const message = describeChain(err);
    progress.phase("Failed", { message });
    // A held resync is the controller's plan (business hours), not a failure.
    const held = heldResyncOf(code) !== undefined;
    logger[held ? "warn" : "error"]({ exitCode: code, reason: reasonForExitCode(code), err: message, progress: progress.current }, `${MODE_NAMES[config.spec.mode]} ${held ? "held its resync" : "failed"}`);
    reportFailure(`${reasonForExitCode(code)}: ${message}`);
  }
  if (config.lingerMs > 0 && !state.terminated) {
    // Keep answering /progress and /metrics so a scraper sees the final values.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, config.lingerMs);
      lingerStop.signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }
  await closeServer(server);
  return code;
}

/** Where Kubernetes reads a container's termination message (the pod's default terminationMessagePath). */
const TERMINATION_LOG = "/dev/termination-log";

/**
 * Leaves `message` where the kubelet puts it into the pod's status
 * (state.terminated.message, at most 4 KiB), so the controller can say why a
 * restore failed, or what it made, without reading logs. Only inside a pod:
 * the kubelet creates the file; elsewhere (a worker run by hand) it is absent
 * and nothing is written.
 */
function writeTerminationMessage(message: string): void {
  if (!existsSync(TERMINATION_LOG)) return;
  try {
    writeFileSync(TERMINATION_LOG, Buffer.from(message).subarray(0, 4096));
  } catch {
    // The message is a convenience; the exit code still says what happened.
  }
}

/** Says why the worker failed, as one "Reason: message" line: on stderr, and as the pod's termination message. */
function reportFailure(line: string): void {
  process.stderr.write(`${line}\n`);
  writeTerminationMessage(line);
}

async function main(): Promise<void> {
  const logger = createWorkerLogger();
  // Node's warnings as JSON log lines (the Job sets NODE_NO_WARNINGS so they are not also printed as text).
  process.on("warning", (w) => { logger.warn({ warning: w.name }, w.message); });
  let config: WorkerConfig;
  try {
    config = readConfig(process.env);
  } catch (err) {
    const code = exitCodeOf(err);
    reportFailure(`${reasonForExitCode(code)}: ${describeChain(err)}`);
    logger.error({ exitCode: code, reason: reasonForExitCode(code), err: describeChain(err) }, "Worker spec rejected");
    logger.flush();
    process.exit(code);
  }
  const code = await run(config, logger).catch((err: unknown) => {
    reportFailure(`WorkerFailed: ${describeChain(err)}`);
    return EXIT.failed;
  });
  logger.flush();
  process.exit(code);
}

void main();
