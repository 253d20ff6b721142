/**
 * The Lifeboat operator: starts every controller of the lifeboat.io API.
 *
 * Configuration (environment; the chart sets it):
 *   WATCH_NAMESPACE   namespace to watch; all namespaces when empty
 *   POD_NAMESPACE     namespace of the leader-election Lease
 *   POD_NAME          this replica's identity in the Lease
 *   LEADER_ELECT      "false" to run without leader election (one replica only)
 *   HEALTH_PORT       port of /healthz, /readyz and /metrics (default 8081)
 *   LOG_LEVEL         pino level (default info)
 */
import { hostname } from "node:os";
import * as k8s from "@kubernetes/client-node";
import { BackupPlanReconciler } from "./controllers/backup-plan-controller.js";
import { GatewayReconciler } from "./controllers/gateway-controller.js";
import { ProtectedServerReconciler } from "./controllers/protected-server-controller.js";
import { RestoreJobReconciler } from "./controllers/restore-job-controller.js";
import { SitePairReconciler } from "./controllers/site-pair-controller.js";
import { describe } from "./runtime/errors.js";
import { Manager } from "./runtime/manager.js";
import { createLogger } from "./telemetry/logger.js";
import { OperatorMetrics } from "./telemetry/metrics.js";

async function main(): Promise<void> {
  const log = createLogger();
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  const env = process.env;
  const leaderElect = env.LEADER_ELECT !== "false";
  const identity = env.POD_NAME ?? `${hostname()}-${process.pid}`;
  const manager = new Manager(kc, {
    ...(env.WATCH_NAMESPACE ? { namespace: env.WATCH_NAMESPACE } : {}),
    ...(leaderElect ? { leaderElection: { namespace: env.POD_NAMESPACE ?? "lifeboat-system", name: "lifeboat-operator", identity } } : {}),
    healthPort: Number(env.HEALTH_PORT ?? 8081),
    log,
    metrics: new OperatorMetrics(),
  });
  manager.add(new GatewayReconciler());
  manager.add(new BackupPlanReconciler());
  manager.add(new RestoreJobReconciler());
  manager.add(new SitePairReconciler());
  manager.add(new ProtectedServerReconciler());

  const abort = new AbortController();
  const stop = (signal: string) => {
    log.info({ signal }, "Shutting down");
    abort.abort();
  };
  process.once("SIGTERM", () => { stop("SIGTERM"); });
  process.once("SIGINT", () => { stop("SIGINT"); });
  log.info({ identity, namespace: env.WATCH_NAMESPACE ?? "(all)", leaderElect }, "Starting Lifeboat operator");
  try {
    await manager.run(abort.signal);
  } catch (err) {
    log.error({ err: describe(err) }, "Operator stopped");
    process.exit(1);
  }
  process.exit(0);
}

void main();
