import { readFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { get, waitFor } from "./http.js";
import { writeKubeconfig } from "./kubeconfig.js";
import type { Pki } from "./pki.js";
import { freePort } from "./ports.js";
import { ManagedProcess } from "./process.js";

/** Paths of the binaries the control plane runs (from components.ts). */
export interface ControlPlaneBinaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubeScheduler: string;
}

/**
 * The file in a test bed's directory that counts the restarts of
 * kube-apiserver and etcd done so far; SIGUSR1 to the supervisor asks for one.
 */
export const CONTROL_PLANE_RESTARTS = "control-plane-restarts";

/** A running control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler. */
export interface ControlPlane {
  readonly server: string;
  readonly apiserverPort: number;
  readonly etcdPort: number;
  /**
   * Stops kube-apiserver and etcd, then starts them again on the same ports
   * and data (as a control-plane upgrade or a crashed etcd member would),
   * replacing them in `processes`. Resolves with the new processes once the
   * API server is ready again.
   */
  restartApiServerAndEtcd(): Promise<ManagedProcess[]>;
}

/**
 * The API server's audit log, when asked for: a policy file (audit.k8s.io/v1
 * Policy, as JSON or YAML) and where the log goes (JSON lines). The audit log
 * is the API server's own record of every request with its user, verb and
 * resource; `npm run bench:scale` counts the operator's requests in it.
 */
export interface AuditLog {
  readonly policyFile: string;
  readonly logFile: string;
}

/** The service CIDR; kube-proxy on the node routes it (10.96.0.1 is the API server). */
const SERVICE_CIDR = "10.96.0.0/24";

/**
 * Starts etcd, then kube-apiserver with TLS, token authentication, the Node
 * and RBAC authorizers and service-account token issuing, serving on the
 * node's address (the test bed's network namespace is its own, so pods reach
 * it through the `kubernetes` Service), then the controller manager
 * (per-controller service accounts, as kubeadm configures it) and the
 * scheduler. Every port is picked free at start; with `audit`, the API
 * server keeps an audit log. Each process goes into
 * `processes` as it starts, so the caller stops what a failed start left.
 */
export async function startControlPlane(dir: string, bin: ControlPlaneBinaries, pki: Pki, address: string, processes: ManagedProcess[], log: (msg: string) => void, audit?: AuditLog): Promise<ControlPlane> {
  const logs = join(dir, "logs");
  await mkdir(logs, { recursive: true });
  const failFast = (p: ManagedProcess) =>
    async <T>(check: () => Promise<T | undefined>) => {
      if (!p.running) throw new Error(`${p.name} exited; see ${join(logs, `${p.name}.log`)}`);
      return check();
    };

  const etcdPort = await freePort();
  const etcdPeerPort = await freePort();
  let etcd = new ManagedProcess("etcd", bin.etcd, [
    "--name=testbed",
    `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
    `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-cluster=testbed=http://127.0.0.1:${etcdPeerPort}`,
    "--unsafe-no-fsync",
    "--log-level=warn",
  ], join(logs, "etcd.log"));
  processes.push(etcd);
  const etcdHealthy = (p: ManagedProcess) => waitFor("etcd health", 30_000, () => failFast(p)(async () => {
    const r = await get(`http://127.0.0.1:${etcdPort}/health`);
    return r.status === 200 ? true : undefined;
  }));
  await etcdHealthy(etcd);
  log(`etcd is healthy on 127.0.0.1:${etcdPort}`);

  const apiserverPort = await freePort();
  const server = `https://${address}:${apiserverPort}`;
  let apiserver = new ManagedProcess("kube-apiserver", bin.kubeApiserver, [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    `--bind-address=${address}`,
    `--advertise-address=${address}`,
    `--secure-port=${apiserverPort}`,
    `--cert-dir=${join(dir, "apiserver-certs")}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--token-auth-file=${pki.tokenFile}`,
    "--authorization-mode=Node,RBAC",
    "--enable-admission-plugins=NodeRestriction",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    "--endpoint-reconciler-type=lease",
    `--kubelet-client-certificate=${pki.kubeletClientCert}`,
    `--kubelet-client-key=${pki.kubeletClientKey}`,
    `--kubelet-certificate-authority=${pki.caCert}`,
    "--kubelet-preferred-address-types=InternalIP",
    "--allow-privileged=true",
    "--profiling=false",
    // Written as each request completes (the log backend's blocking mode), never rotated.
    ...(audit ? [`--audit-policy-file=${audit.policyFile}`, `--audit-log-path=${audit.logFile}`, "--audit-log-format=json", "--audit-log-mode=blocking", "--audit-log-maxsize=0"] : []),
    "--v=1",
  ], join(logs, "kube-apiserver.log"));
  processes.push(apiserver);
  const ca = await readFile(pki.caCert);
  const apiserverReady = (p: ManagedProcess) => waitFor("kube-apiserver /readyz", 120_000, () => failFast(p)(async () => {
    const r = await get(`${server}/readyz`, { ca, token: pki.tokens.admin });
    return r.status === 200 ? true : undefined;
  }), 500);
  await apiserverReady(apiserver);
  log(`kube-apiserver is ready at ${server}`);

  const kcmConfig = join(dir, "kube-controller-manager.kubeconfig");
  await writeKubeconfig(kcmConfig, server, pki.caCert, "system:kube-controller-manager", pki.tokens.controllerManager, "kube-system");
  processes.push(new ManagedProcess("kube-controller-manager", bin.kubeControllerManager, [
    `--kubeconfig=${kcmConfig}`,
    // The node lifecycle controller stays on: it lifts the not-ready taint that
    // the TaintNodesByCondition admission puts on every new node.
    "--controllers=*",
    "--use-service-account-credentials=true",
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    `--cluster-signing-cert-file=${pki.caCert}`,
    `--cluster-signing-key-file=${pki.caKey}`,
    "--leader-elect=false",
    "--secure-port=0",
    "--v=1",
  ], join(logs, "kube-controller-manager.log")));

  const schedulerConfig = join(dir, "kube-scheduler.kubeconfig");
  await writeKubeconfig(schedulerConfig, server, pki.caCert, "system:kube-scheduler", pki.tokens.scheduler, "kube-system");
  processes.push(new ManagedProcess("kube-scheduler", bin.kubeScheduler, [
    `--kubeconfig=${schedulerConfig}`,
    "--leader-elect=false",
    "--secure-port=0",
    "--v=1",
  ], join(logs, "kube-scheduler.log")));

  const restartApiServerAndEtcd = async (): Promise<ManagedProcess[]> => {
    // They leave `processes` before they stop (a watcher of `processes` sees
    // their exit as planned) and are back in it the moment they are spawned.
    for (const p of [apiserver, etcd]) processes.splice(processes.indexOf(p), 1);
    await apiserver.stop();
    await etcd.stop();
    log("kube-apiserver and etcd stopped; starting them again");
    etcd = etcd.respawn();
    processes.push(etcd);
    await etcdHealthy(etcd);
    apiserver = apiserver.respawn();
    processes.push(apiserver);
    await apiserverReady(apiserver);
    log(`kube-apiserver is ready again at ${server}`);
    return [etcd, apiserver];
  };
  return { server, apiserverPort, etcdPort, restartApiServerAndEtcd };
}
