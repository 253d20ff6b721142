import { spawn } from "node:child_process";
import { existsSync, openSync, closeSync, readFileSync } from "node:fs";
import { mkdir, readFile, rm, statfs, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureComponent } from "./components.js";
import { ensureHostPackages } from "./host-packages.js";
import { get } from "./http.js";
import { ensureImages } from "./images.js";
import { createNetwork, networkFor, ownsNetwork, releaseNetwork, type TestbedNetwork } from "./network.js";
import { cleanNode, nodePaths } from "./node.js";
import { testbedDir } from "./paths.js";
import type { AuditLog } from "./control-plane.js";
import type { SupervisorConfig, TestbedState } from "./supervisor.js";

/** A running test bed, as its users (tests, the CLI, kubectl) need it. */
export interface Testbed extends TestbedState {
  readonly name: string;
  readonly dir: string;
  /** kubectl built from the same Kubernetes version as the API server. */
  readonly kubectl: string;
}

/** The node's name in every test bed. */
export const NODE_NAME = "lifeboat-node";

/** Whether a process exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Reads a test bed's state; undefined when it is not running. */
export async function readTestbed(name: string): Promise<Testbed | undefined> {
  const dir = testbedDir(name);
  const statePath = join(dir, "state.json");
  if (!existsSync(statePath)) return undefined;
  const state = JSON.parse(await readFile(statePath, "utf8")) as TestbedState;
  if (!alive(state.supervisorPid)) return undefined;
  const ready = await get(`${state.server}/readyz`, { ca: await readFile(state.caCert), token: state.adminToken }).catch(() => undefined);
  if (ready?.status !== 200) return undefined;
  const kube = await ensureComponent("kube");
  return { ...state, name, dir, kubectl: join(kube, "kubectl") };
}

/**
 * Brings a test bed up, or returns the one already running under that name
 * (so `cluster:up` is safe to run twice). Builds the components first when the
 * cache lacks them, printing progress. With `auditPolicy` (an audit.k8s.io/v1
 * Policy), the API server keeps an audit log at `logs/audit.log` (the state's
 * `auditLog`); a running test bed is returned as it is, with or without one.
 */
export async function clusterUp(name: string, opts: { ownerPid?: number; log?: (line: string) => void; auditPolicy?: object } = {}): Promise<Testbed> {
  const log = opts.log ?? console.log;
  const running = await readTestbed(name);
  if (running) {
    log(`Test bed ${name} is already up at ${running.server}`);
    return running;
  }
  await clusterDown(name, () => undefined); // a half-dead earlier one
  const started = Date.now();
  await ensureHostPackages(log);
  // The Go builds use the CPUs, the image build mostly waits on downloads: run them side by side.
  const [[kube, etcd], images] = await Promise.all([
    (async () => [await ensureComponent("kube", log), await ensureComponent("etcd", log)] as const)(),
    ensureImages(log),
  ]);
  const dir = testbedDir(name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, "logs"), { recursive: true });
  const network = await createNetwork(dir);
  try {
    let audit: AuditLog | undefined;
    if (opts.auditPolicy) {
      audit = { policyFile: join(dir, "audit-policy.json"), logFile: join(dir, "logs", "audit.log") };
      // JSON is YAML: the API server reads the policy as it is written here.
      await writeFile(audit.policyFile, JSON.stringify(opts.auditPolicy, null, 2));
    }
    return await startSupervisor(name, dir, network, { kube, etcd, images, started, log, ...(opts.ownerPid !== undefined ? { ownerPid: opts.ownerPid } : {}), ...(audit ? { audit } : {}) });
  } catch (err) {
    await clusterDown(name, () => undefined);
    if (await ownsNetwork(network.index, dir)) await releaseNetwork(network);
    throw err;
  }
}

/** Starts the supervisor inside the test bed's network namespace and waits for the test bed to be ready. */
async function startSupervisor(
  name: string,
  dir: string,
  network: TestbedNetwork,
  o: { kube: string; etcd: string; images: SupervisorConfig["images"]; started: number; ownerPid?: number; audit?: AuditLog; log: (line: string) => void },
): Promise<Testbed> {
  const { kube, etcd, images, started, log } = o;
  const config: SupervisorConfig = {
    dir,
    nodeName: NODE_NAME,
    binaries: {
      etcd: join(etcd, "etcd"),
      kubeApiserver: join(kube, "kube-apiserver"),
      kubeControllerManager: join(kube, "kube-controller-manager"),
      kubeScheduler: join(kube, "kube-scheduler"),
      kubelet: join(kube, "kubelet"),
      kubeProxy: join(kube, "kube-proxy"),
    },
    networkIndex: network.index,
    images,
    ...(o.ownerPid !== undefined ? { ownerPid: o.ownerPid } : {}),
    ...(o.audit ? { audit: o.audit } : {}),
  };
  const configPath = join(dir, "supervisor.json");
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const supervisorLog = join(dir, "logs", "supervisor.log");
  const fd = openSync(supervisorLog, "a");
  const supervisorJs = join(dirname(fileURLToPath(import.meta.url)), "supervisor.js");
  const child = spawn("nsenter", [`--net=${network.nsPath}`, "--", process.execPath, supervisorJs, configPath], { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error("Could not start the test bed supervisor");
  await writeFile(join(dir, "supervisor.pid"), String(child.pid));
  log(`Starting test bed ${name} in network namespace ${network.namespace} (logs in ${join(dir, "logs")})`);

  const deadline = Date.now() + 300_000;
  for (;;) {
    const state = await readTestbed(name);
    if (state) {
      log(`Test bed ${name} is ready in ${((Date.now() - started) / 1000).toFixed(1)}s: ${state.server}`);
      log(`kubeconfig: ${state.kubeconfig}`);
      return state;
    }
    if (!alive(child.pid) || Date.now() > deadline) {
      const tail = readFileSync(supervisorLog, "utf8").split("\n").slice(-20).join("\n");
      throw new Error(`Test bed ${name} did not start; supervisor log:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/**
 * Why a test bed stopped before it was told to, or undefined when it did not:
 * the supervisor's reason, the last lines of the component that exited, and
 * the free space left on the test bed's file system (a full disk is what kills
 * etcd first). Tests that fail with ECONNREFUSED are explained by this.
 */
export async function unexpectedStop(name: string): Promise<string | undefined> {
  const dir = testbedDir(name);
  const supervisorLog = await readFile(join(dir, "logs", "supervisor.log"), "utf8").catch(() => "");
  const stops = supervisorLog
    .split("\n")
    .map(parseLogLine)
    .filter((e) => e?.msg === "Stopping test bed" && e.reason !== "SIGTERM" && e.reason !== "SIGINT");
  const reason = stops[0]?.reason;
  if (reason === undefined) return undefined;
  const lines = [`Test bed ${name} stopped on its own: ${reason}`];
  const componentLog = /see (\S+\.log)/.exec(reason)?.[1];
  if (componentLog) {
    const tail = (await readFile(componentLog, "utf8").catch(() => "")).trimEnd().split("\n").slice(-30);
    lines.push(`Last lines of ${componentLog}:`, ...tail.map((l) => `  ${l}`));
  }
  const fs = await statfs(dir).catch(() => undefined);
  if (fs) lines.push(`Free space on the test bed's file system: ${((fs.bavail * fs.bsize) / 2 ** 30).toFixed(1)} GiB`);
  return lines.join("\n");
}

/** A supervisor log line, or undefined for one that is not JSON (cut short when the disk filled up, say). */
function parseLogLine(line: string): { msg?: string; reason?: string } | undefined {
  try {
    return JSON.parse(line) as { msg?: string; reason?: string };
  } catch {
    return undefined;
  }
}

/** Whether `pid` is this test bed's supervisor (a PID in a stale pid file may belong to anything by now). */
async function isSupervisor(pid: number, configPath: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return cmdline.includes("supervisor.js") && cmdline.includes(configPath);
}

/** Whether a process group has members left. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops a test bed: SIGTERM to the supervisor, which stops the node with its
 * pods and the control plane in order and gives up its network; after 60 s,
 * or when the supervisor died on its own, SIGKILL to what is left of its
 * process group. Then, if the test bed still holds its network's claim (its
 * supervisor did not stop cleanly), whatever the node left (containers,
 * shims, mounts, cgroups) and the network are removed here. A claim another
 * test bed holds by now is never touched. Safe to run when nothing is up.
 */
export async function clusterDown(name: string, log: (line: string) => void = console.log): Promise<void> {
  const dir = testbedDir(name);
  const configPath = join(dir, "supervisor.json");
  const pidFile = join(dir, "supervisor.pid");
  if (!existsSync(configPath)) {
    log(`Test bed ${name} is not running`);
    return;
  }
  const pid = Number(await readFile(pidFile, "utf8").catch(() => "0"));
  if (pid > 0 && (await isSupervisor(pid, configPath))) {
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + 60_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }
  // The supervisor leads its process group (it started detached): what it could not stop, or left when it died.
  if (pid > 0 && groupAlive(pid)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  const config = JSON.parse(await readFile(configPath, "utf8").catch(() => "{}")) as Partial<SupervisorConfig>;
  if (config.networkIndex !== undefined && (await ownsNetwork(config.networkIndex, dir))) {
    try {
      await cleanNode(nodePaths(dir, config.networkIndex));
    } finally {
      await releaseNetwork(networkFor(config.networkIndex));
    }
  }
  await rm(pidFile, { force: true });
  await rm(join(dir, "state.json"), { force: true });
  await rm(configPath, { force: true });
  log(`Test bed ${name} is down`);
}
