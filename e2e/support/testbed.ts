import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import type { Testbed } from "../testbed/cluster.js";
import { CONTROL_PLANE_RESTARTS } from "../testbed/control-plane.js";
import { runCommand } from "../testbed/command.js";
import { nodePaths } from "../testbed/node.js";
import { waitFor } from "../testbed/http.js";

/** The test bed the e2e global setup started for this run. */
export function testbed(): Testbed {
  const raw = process.env.LIFEBOAT_E2E_STATE;
  if (!raw) throw new Error("LIFEBOAT_E2E_STATE is not set: run the e2e suites with `npm run e2e`");
  return JSON.parse(raw) as Testbed;
}

/** An admin KubeConfig for the test bed. */
export function adminConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testbed().kubeconfig);
  return kc;
}

/** Runs kubectl against the test bed; resolves with the exit code and output instead of throwing. */
export function kubectl(args: readonly string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const tb = testbed();
  return new Promise((resolve) => {
    const child = execFile(tb.kubectl, ["--kubeconfig", tb.kubeconfig, ...args], (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

/** Creates a namespace unique to one test file, so suites never see each other's objects. */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await adminConfig().makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

/**
 * Deletes a test file's namespace and waits until it is gone. A suite's
 * objects would otherwise outlive it and go on working in the suites after
 * it: a ProtectedServer starts a replication cycle, a worker pod on the one
 * node, again and again against vCenters that are gone, and its workers may
 * still be writing into the suite's vaults when the suite removes them.
 * Kubernetes creates nothing in a terminating namespace, so once it is gone
 * no worker of the suite runs. The namespace's objects are all marked for
 * deletion at once; the operator holds what a finalizer still needs (a
 * RecoveryDrill's VCenter and credentials). A namespace already gone, or
 * already terminating, is fine. A namespace still there after `timeoutMs` fails with its status,
 * which names the content or finalizers that are left.
 */
export async function deleteNamespace(name: string, timeoutMs = 120_000): Promise<void> {
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  try {
    await core.deleteNamespace({ name });
  } catch (err) {
    // 404: gone already; 409: already terminating, so wait for it as for our own deletion.
    if (err instanceof k8s.ApiException && err.code === 404) return;
    if (!(err instanceof k8s.ApiException && err.code === 409)) throw err;
  }
  let last: k8s.V1Namespace | undefined;
  try {
    await waitFor(`namespace ${name} to be deleted`, timeoutMs, async () => {
      try {
        last = await core.readNamespace({ name });
        return undefined;
      } catch (err) {
        if (err instanceof k8s.ApiException && err.code === 404) return true;
        throw err;
      }
    }, 500);
  } catch (err) {
    const left = (last?.status?.conditions ?? []).filter((c) => c.status === "True").map((c) => `${c.type}: ${c.message ?? ""}`);
    throw new Error(`Namespace ${name} was not deleted within ${timeoutMs} ms${left.length > 0 ? `; ${left.join("; ")}` : ""}`, { cause: err });
  }
}

/** Polls until `check` returns a value (not undefined), failing with what was last seen (the test bed's waitFor, test-shaped). */
export function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  return waitFor(what, timeoutMs, check);
}

/**
 * Kills a pod's first container with SIGKILL, as a crash or the OOM killer
 * would: the process's PID comes from the node's containerd. Resolves with
 * the PID it killed. A container that is between two runs (it exited a
 * moment ago and the kubelet is starting it again, so the pod's status still
 * names the old one) is waited for, up to a minute, and its new run killed.
 */
export async function killContainer(pod: k8s.V1Pod): Promise<number> {
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const tb = testbed();
  const pid = await eventually(`a running container in pod ${pod.metadata?.name ?? ""}`, async () => {
    const current = await core.readNamespacedPod({ name: pod.metadata?.name ?? "", namespace: pod.metadata?.namespace ?? "" });
    const status = current.status?.containerStatuses?.[0];
    const id = status?.state?.running ? status.containerID?.replace(/^containerd:\/\//, "") : undefined;
    if (!id) return undefined;
    const { stdout } = await runCommand("ctr", ["--address", nodePaths(tb.dir, tb.networkIndex).containerdSocket, "--namespace", "k8s.io", "tasks", "ls"]);
    const found = Number(stdout.split("\n").map((l) => l.trim().split(/\s+/)).find((f) => f[0] === id && f[2] === "RUNNING")?.[1]);
    return found > 0 ? found : undefined;
  }, 60_000);
  process.kill(pid, "SIGKILL");
  return pid;
}

/**
 * Restarts the test bed's kube-apiserver and etcd (the supervisor stops both
 * and starts them again on the same ports and data) and resolves once the API
 * server answers again. Everything else keeps running: the node, the pods,
 * the controllers, which must reconnect on their own.
 */
export async function restartApiServerAndEtcd(): Promise<void> {
  const tb = testbed();
  const file = join(tb.dir, CONTROL_PLANE_RESTARTS);
  const done = async () => Number(await readFile(file, "utf8").catch(() => "0"));
  const before = await done();
  process.kill(tb.supervisorPid, "SIGUSR1");
  await waitFor("kube-apiserver and etcd to restart", 180_000, async () => ((await done()) > before ? true : undefined), 500);
}
