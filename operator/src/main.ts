/**
 * The Lifeboat operator: starts every controller of the lifeboat.io API.
 *
 * Configuration (environment; the chart sets it):
 *   WATCH_NAMESPACES  comma-separated namespaces to watch; all namespaces when empty
 *                     (WATCH_NAMESPACE, one namespace, is still read and added)
 *   POD_NAMESPACE     namespace of the leader-election Lease
 *   POD_NAME          this replica's identity in the Lease
 *   LEADER_ELECT      "false" to run without leader election (one replica only)
 *   HEALTH_PORT       port of /healthz, /readyz and /metrics (default 8081)
 *   HEALTH_BIND_ADDRESS  address to serve them on (default all addresses)
 *   LOG_LEVEL         pino level (default info)
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { BackupPlanReconciler } from "./controllers/backup-plan-controller.js";
import { BackupVaultReconciler } from "./controllers/backup-vault-controller.js";
import { GatewayCapacity } from "./controllers/gateway-capacity.js";
import { GatewayReconciler } from "./controllers/gateway-controller.js";
import { ProtectedServerReconciler } from "./controllers/protected-server-controller.js";
import { ReplicationPolicyReconciler } from "./controllers/replication-policy-controller.js";
import { RecoveryDrillReconciler } from "./controllers/recovery-drill-controller.js";
import { RecoveryPlanReconciler } from "./controllers/recovery-plan-controller.js";
import { RecoveryPointReconciler } from "./controllers/recovery-point-controller.js";
import { RestoreJobReconciler } from "./controllers/restore-job-controller.js";
import { SitePairReconciler } from "./controllers/site-pair-controller.js";
import { VCenterConnections } from "./controllers/vcenter-connections.js";
import { VCenterReconciler } from "./controllers/vcenter-controller.js";
import { describe } from "./runtime/errors.js";
import { KeepAliveKubeConfig } from "./runtime/kube.js";
import { Manager } from "./runtime/manager.js";
import { watchNamespaces } from "./runtime/watch-namespaces.js";
import { createLogger } from "./telemetry/logger.js";
import { OperatorMetrics } from "./telemetry/metrics.js";

async function main(): Promise<void> {
  const log = createLogger();
  // Node's own warnings become log lines too (the chart sets NODE_NO_WARNINGS so
  // Node does not also print them as plain text): every line stays JSON.
  process.on("warning", (w) => { log.warn({ warning: w.name }, w.message); });
  // API calls reuse their connections (KeepAliveKubeConfig): one TLS handshake per connection, not per request.
  const kc = new KeepAliveKubeConfig();
  kc.loadFromDefault();
  const env = process.env;
  const leaderElect = env.LEADER_ELECT !== "false";
  let namespaces: string[];
  try {
    namespaces = watchNamespaces(env);
  } catch (err) {
    log.error({ err: describe(err) }, "Invalid configuration");
    process.exit(1);
  }
  // Unique per process, as controller-runtime does (hostname_uuid): a restarted
  // replica must wait for the lease like any other candidate.
  const identity = `${env.POD_NAME ?? hostname()}_${randomUUID()}`;
  const manager = new Manager(kc, {
    ...(namespaces.length > 0 ? { namespaces } : {}),
    ...(leaderElect ? { leaderElection: { namespace: env.POD_NAMESPACE ?? "lifeboat-system", name: "lifeboat-operator", identity } } : {}),
    healthPort: Number(env.HEALTH_PORT ?? 8081),
    ...(env.HEALTH_BIND_ADDRESS ? { healthBindAddress: env.HEALTH_BIND_ADDRESS } : {}),
    log,
    metrics: new OperatorMetrics(),
  });
  manager.add(new BackupVaultReconciler());
  manager.add(new GatewayReconciler());
  const vcenters = new VCenterConnections(log);
  manager.add(new VCenterReconciler(vcenters));
  // Backup runs and restores share each Gateway's worker slots.
  const gatewayCapacity = new GatewayCapacity();
  manager.add(new BackupPlanReconciler(vcenters, gatewayCapacity));
  manager.add(new RecoveryPointReconciler());
  manager.add(new RestoreJobReconciler(vcenters, gatewayCapacity));
  manager.add(new SitePairReconciler(vcenters));
  manager.add(new ReplicationPolicyReconciler());
  manager.add(new ProtectedServerReconciler(vcenters, gatewayCapacity));
  manager.add(new RecoveryDrillReconciler(vcenters));
  manager.add(new RecoveryPlanReconciler(env.POD_NAMESPACE ?? "lifeboat-system"));

  const abort = new AbortController();
  const stop = (signal: string) => {
    log.info({ signal }, "Shutting down");
    abort.abort();
  };
  process.once("SIGTERM", () => { stop("SIGTERM"); });
  process.once("SIGINT", () => { stop("SIGINT"); });
  log.info({ identity, namespaces: namespaces.length > 0 ? namespaces : "(all)", leaderElect }, "Starting Lifeboat operator");
  try {
    await manager.run(abort.signal);
  } catch (err) {
    log.error({ err: describe(err) }, "Operator stopped");
    await vcenters.closeAll();
    process.exit(1);
  }
  await vcenters.closeAll();
  process.exit(0);
}

void main();
