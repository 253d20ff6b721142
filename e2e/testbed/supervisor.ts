/**
 * The test bed's supervisor: one detached process that owns everything a test
 * bed runs (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
 * the local node with its pods) and stops all of it on SIGTERM, SIGINT, or
 * when its owner process (the test runner) is gone, so a crashed or
 * interrupted run leaves nothing behind.
 *
 * Started by cluster.ts; its config is a JSON file named on the command line.
 */
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane, type ControlPlaneBinaries } from "./control-plane.js";
import { waitFor } from "./http.js";
import { writeKubeconfig } from "./kubeconfig.js";
import { LocalNode } from "./local-node.js";
import { createPki } from "./pki.js";

/** What cluster.ts hands the supervisor. */
export interface SupervisorConfig {
  readonly dir: string;
  readonly nodeName: string;
  readonly binaries: ControlPlaneBinaries;
  /** Stop everything when this process is gone (the test runner); absent for `cluster:up`. */
  readonly ownerPid?: number;
}

/** What the supervisor reports once the test bed is ready (state.json). */
export interface TestbedState {
  readonly supervisorPid: number;
  readonly server: string;
  readonly kubeconfig: string;
  readonly caCert: string;
  readonly adminToken: string;
  readonly nodeName: string;
  readonly podsDir: string;
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
  let controlPlane: ControlPlane | undefined;
  let node: LocalNode | undefined;
  let stopping = false;

  const shutdown = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log({ reason }, "Stopping test bed");
    await rm(join(dir, "state.json"), { force: true });
    await node?.stop().catch((err: unknown) => { log({ err: String(err) }, "Local node stop failed"); });
    for (const p of [...(controlPlane?.processes ?? [])].reverse()) await p.stop();
    log({}, "Stopped test bed");
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
    const pki = await createPki(dir, config.nodeName);
    controlPlane = await startControlPlane(dir, config.binaries, pki, (msg) => { log({}, msg); });
    for (const p of controlPlane.processes) {
      void p.wait().then((code) => {
        if (!stopping) void shutdown(`${p.name} exited with ${code}; see ${join(dir, "logs", `${p.name}.log`)}`, 1);
      });
    }
    const kubeconfig = join(dir, "kubeconfig");
    await writeKubeconfig(kubeconfig, controlPlane.server, pki.caCert, "lifeboat-admin", pki.tokens.admin);
    const nodeKubeconfig = join(dir, "node.kubeconfig");
    await writeKubeconfig(nodeKubeconfig, controlPlane.server, pki.caCert, `system:node:${config.nodeName}`, pki.tokens.node);

    const podsDir = join(dir, "pods");
    // Pods get loopback addresses in a /24 of their own per test bed, so two test beds never collide.
    const podSubnet = `127.${1 + randomInt(254)}.${randomInt(256)}`;
    node = new LocalNode({ nodeName: config.nodeName, kubeconfig: nodeKubeconfig, server: controlPlane.server, caCert: pki.caCert, podsDir, podSubnet, log });
    await node.start();

    // Pods can be created once the controller manager has made the default service account.
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await waitFor("the default service account", 120_000, async () => {
      await core.readNamespacedServiceAccount({ name: "default", namespace: "default" });
      return true;
    }, 500);
    // ...and scheduled once the node lifecycle controller has lifted the not-ready taint.
    await waitFor("the local node to be schedulable", 120_000, async () => {
      const n = await core.readNode({ name: config.nodeName });
      return (n.spec?.taints ?? []).length === 0 ? true : undefined;
    }, 500);

    const state: TestbedState = {
      supervisorPid: process.pid,
      server: controlPlane.server,
      kubeconfig,
      caCert: pki.caCert,
      adminToken: pki.tokens.admin,
      nodeName: config.nodeName,
      podsDir,
    };
    await writeFile(join(dir, "state.json"), JSON.stringify(state, null, 2), { mode: 0o600 });
    log({ server: controlPlane.server, kubeconfig }, "Test bed is ready");
  } catch (err) {
    log({ err: describeError(err) }, "Test bed failed to start");
    await shutdown("start failed", 1);
  }
}

void main();
