/**
 * The test bed's supervisor: one detached process that owns everything a test
 * bed runs (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
 * the node: containerd, kubelet, kube-proxy and the pods) and stops all of it
 * on SIGTERM, SIGINT, or when its owner process (the test runner) is gone, so
 * a crashed or interrupted run leaves nothing behind.
 *
 * Started by cluster.ts inside the test bed's network namespace, so every
 * process it starts is in there too; its config is a JSON file named on the
 * command line.
 */
import { readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { CONTROL_PLANE_RESTARTS, startControlPlane, type AuditLog, type ControlPlaneBinaries } from "./control-plane.js";
import { waitFor } from "./http.js";
import { writeKubeconfig } from "./kubeconfig.js";
import type { ImageArchive } from "./images.js";
import { networkFor, releaseNetwork } from "./network.js";
import { nodePaths, startNode, stopNode } from "./node.js";
import { createPki } from "./pki.js";
import type { ManagedProcess } from "./process.js";

/** What cluster.ts hands the supervisor. */
export interface SupervisorConfig {
  readonly dir: string;
  readonly nodeName: string;
  readonly binaries: ControlPlaneBinaries & { readonly kubelet: string; readonly kubeProxy: string };
  /** The index of the test bed's network namespace (network.ts), made by cluster.ts. */
  readonly networkIndex: number;
  readonly images: readonly ImageArchive[];
  /** Stop everything when this process is gone (the test runner); absent for `cluster:up`. */
  readonly ownerPid?: number;
  /** The API server's audit log; absent (no audit log) unless the caller asked for one. */
  readonly audit?: AuditLog;
}

/** What the supervisor reports once the test bed is ready (state.json). */
export interface TestbedState {
  readonly supervisorPid: number;
  readonly server: string;
  readonly kubeconfig: string;
  readonly caCert: string;
  readonly adminToken: string;
  readonly nodeName: string;
  /** This machine's address on the test bed's network: serve here what pods must reach (vcsim, S3). */
  readonly hostAddress: string;
  /** The node's address: the API server and the kubelet. */
  readonly nodeAddress: string;
  readonly networkIndex: number;
  /** The API server's audit log (JSON lines), when the test bed keeps one. */
  readonly auditLog?: string;
}

function log(fields: Record<string, unknown>, msg: string): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);
}

/** An error's message followed by each of its causes'. */
function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined; e = e instanceof Error ? e.cause : undefined) {
    parts.push(e instanceof Error ? e.message : JSON.stringify(e));
  }
  return parts.join(": ");
}

async function main(): Promise<void> {
  const configPath = process.argv[2];
  if (!configPath) throw new Error("usage: supervisor.js CONFIG.json");
  const config = JSON.parse(readFileSync(configPath, "utf8")) as SupervisorConfig;
  const dir = config.dir;
  const network = networkFor(config.networkIndex);
  const paths = nodePaths(dir, network.index);
  // Every process, as it starts: a failed or interrupted start is stopped as fully as a clean one.
  const controlPlaneProcesses: ManagedProcess[] = [];
  const nodeProcesses: ManagedProcess[] = [];
  let stopping = false;

  const shutdown = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log({ reason }, "Stopping test bed");
    const failed: string[] = [];
    const step = async (what: string, action: () => Promise<void>) => {
      try {
        await action();
      } catch (err) {
        failed.push(what);
        log({ err: describeError(err) }, `${what} failed`);
      }
    };
    await step("Removing state.json", () => rm(join(dir, "state.json"), { force: true }));
    await step("Node stop", () => stopNode(paths, nodeProcesses));
    for (const p of [...controlPlaneProcesses].reverse()) await step(`Stopping ${p.name}`, () => p.stop());
    // The claim on the network goes last, and only after a clean stop; otherwise
    // cluster:down finds it and cleans up what this could not.
    if (failed.length === 0) await step("Releasing the network", () => releaseNetwork(network));
    log({ failed }, "Stopped test bed");
    process.exit(code);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM", 0));
  process.on("SIGINT", () => void shutdown("SIGINT", 0));
  if (config.ownerPid !== undefined) {
    const ownerPid = config.ownerPid;
    setInterval(() => {
      try {
        process.kill(ownerPid, 0);
      } catch {
        void shutdown(`owner process ${ownerPid} is gone`, 0);
      }
    }, 1000).unref();
  }

  try {
    const pki = await createPki(dir, config.nodeName, network.nodeAddress);
    const controlPlane = await startControlPlane(dir, config.binaries, pki, network.nodeAddress, controlPlaneProcesses, (msg) => { log({}, msg); }, config.audit);
    // A process that exits while still in its list failed; one restarted on purpose has left it first.
    const watchExit = (list: readonly ManagedProcess[]) => (p: ManagedProcess) => {
      void p.wait().then((code) => {
        if (!stopping && list.includes(p)) void shutdown(`${p.name} exited with ${code}; see ${join(dir, "logs", `${p.name}.log`)}`, 1);
      });
    };
    controlPlaneProcesses.forEach(watchExit(controlPlaneProcesses));
    const kubeconfig = join(dir, "kubeconfig");
    await writeKubeconfig(kubeconfig, controlPlane.server, pki.caCert, "lifeboat-admin", pki.tokens.admin);
    const nodeKubeconfig = join(dir, "node.kubeconfig");
    await writeKubeconfig(nodeKubeconfig, controlPlane.server, pki.caCert, `system:node:${config.nodeName}`, pki.tokens.node);

    const kubeProxyKubeconfig = join(dir, "kube-proxy.kubeconfig");
    await writeKubeconfig(kubeProxyKubeconfig, controlPlane.server, pki.caCert, "system:kube-proxy", pki.tokens.kubeProxy);
    await startNode({
      paths,
      nodeName: config.nodeName,
      network,
      kubeletBinary: config.binaries.kubelet,
      kubeProxyBinary: config.binaries.kubeProxy,
      kubeletKubeconfig: nodeKubeconfig,
      kubeProxyKubeconfig,
      caCert: pki.caCert,
      kubeletCert: pki.kubeletCert,
      kubeletKey: pki.kubeletKey,
      images: config.images,
      logsDir: join(dir, "logs"),
      log: (msg) => { log({}, msg); },
    }, nodeProcesses);
    nodeProcesses.forEach(watchExit(nodeProcesses));

    // Pods can be created once the controller manager has made the default service account.
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await waitFor("the default service account", 120_000, async () => {
      await core.readNamespacedServiceAccount({ name: "default", namespace: "default" });
      return true;
    }, 500);
    // ...and scheduled once the node is Ready and the node lifecycle controller has lifted the not-ready taint.
    await waitFor("the node to be Ready and schedulable", 180_000, async () => {
      const n = await core.readNode({ name: config.nodeName });
      const ready = n.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
      return ready && (n.spec?.taints ?? []).length === 0 ? true : undefined;
    }, 500);

    const state: TestbedState = {
      supervisorPid: process.pid,
      server: controlPlane.server,
      kubeconfig,
      caCert: pki.caCert,
      adminToken: pki.tokens.admin,
      nodeName: config.nodeName,
      hostAddress: network.hostAddress,
      nodeAddress: network.nodeAddress,
      networkIndex: network.index,
      ...(config.audit ? { auditLog: config.audit.logFile } : {}),
    };
    // SIGUSR1 restarts kube-apiserver and etcd (the fault suites); CONTROL_PLANE_RESTARTS counts the restarts done.
    let restarts = 0;
    let restarting = false;
    process.on("SIGUSR1", () => {
      if (stopping || restarting) return;
      restarting = true;
      log({}, "Restarting kube-apiserver and etcd (SIGUSR1)");
      void controlPlane.restartApiServerAndEtcd().then(
        async (fresh) => {
          fresh.forEach(watchExit(controlPlaneProcesses));
          await writeFile(join(dir, CONTROL_PLANE_RESTARTS), String(++restarts));
        },
        (err: unknown) => {
          log({ err: describeError(err) }, "Restarting kube-apiserver and etcd failed");
          void shutdown("a control-plane restart failed", 1);
        },
      ).finally(() => { restarting = false; });
    });
    await writeFile(join(dir, "state.json"), JSON.stringify(state, null, 2), { mode: 0o600 });
    log({ server: controlPlane.server, kubeconfig }, "Test bed is ready");
  } catch (err) {
    log({ err: describeError(err) }, "Test bed failed to start");
    await shutdown("start failed", 1);
  }
}

void main();
