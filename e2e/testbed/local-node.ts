import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { resolvePodEnv } from "./pod-env.js";
import { ImageNotMappedError, resolveContainerCommand } from "./images.js";

/** Settings of the local node agent. */
export interface LocalNodeOptions {
  readonly nodeName: string;
  /** kubeconfig holding the node's identity (system:node:NAME in system:nodes). */
  readonly kubeconfig: string;
  readonly server: string;
  readonly caCert: string;
  /** Where pod working directories, logs and service-account files go. */
  readonly podsDir: string;
  /** First three octets of the pods' loopback addresses, e.g. "127.23.4"; each test bed has its own. */
  readonly podSubnet: string;
  readonly log: (fields: Record<string, unknown>, msg: string) => void;
}

type ContainerState =
  | { kind: "waiting"; reason: string; message?: string }
  | { kind: "running"; startedAt: Date; pid: number }
  | { kind: "terminated"; exitCode: number; signal?: string; reason: string; startedAt: Date; finishedAt: Date };

interface ContainerRun {
  readonly spec: k8s.V1Container;
  readonly init: boolean;
  state: ContainerState;
  lastTerminated?: Extract<ContainerState, { kind: "terminated" }>;
  restartCount: number;
  process?: ChildProcess;
  exited?: Promise<void>;
}

interface PodRun {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly dir: string;
  /** The pod's own loopback address (127.A.B.N), so pods can listen on the same port side by side. */
  readonly ip: string;
  pod: k8s.V1Pod;
  containers: ContainerRun[];
  startTime: Date;
  stopping: boolean;
  phase: "Pending" | "Running" | "Succeeded" | "Failed";
  statusTimer?: NodeJS.Timeout;
  /** A status patch is on its way to the API server; another must wait for it (see reportStatus). */
  statusInFlight: boolean;
  /** The state changed while a patch was in flight: patch again once it lands. */
  statusDirty: boolean;
  retryTimer?: NodeJS.Timeout;
  tokenTimer?: NodeJS.Timeout;
}

const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);
const strategicPatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch);

function isStatus(err: unknown, code: number): boolean {
  return err instanceof k8s.ApiException && err.code === code;
}

/**
 * A Kubernetes node without a container runtime. It registers a Node and keeps
 * it Ready (status heartbeat and a Lease, as a kubelet does), and runs each pod
 * bound to it as local processes: command, args, env (including env from
 * Secrets and ConfigMaps, read with the node's own identity through the Node
 * authorizer), working directory, restart policy with back-off, and a
 * kubeconfig holding a token the API server issued for the pod's service
 * account, so the pod's RBAC is the real RBAC. Pod status, exit codes and
 * restart counts are reported as a kubelet reports them; a deleted pod's
 * processes are stopped (SIGTERM, then SIGKILL after the grace period).
 */
export class LocalNode {
  private readonly kc = new k8s.KubeConfig();
  private readonly core: k8s.CoreV1Api;
  private readonly coordination: k8s.CoordinationV1Api;
  private readonly runs = new Map<string, PodRun>();
  private informer?: k8s.ListWatch<k8s.V1Pod>;
  private heartbeat?: NodeJS.Timeout;
  private stopped = false;
  private nextIp = 1;

  constructor(private readonly opts: LocalNodeOptions) {
    this.kc.loadFromFile(opts.kubeconfig);
    this.core = this.kc.makeApiClient(k8s.CoreV1Api);
    this.coordination = this.kc.makeApiClient(k8s.CoordinationV1Api);
  }

  async start(): Promise<void> {
    await mkdir(this.opts.podsDir, { recursive: true });
    await this.register();
    await this.beat();
    this.heartbeat = setInterval(() => {
      this.beat().catch((err: unknown) => { this.opts.log({ err: String(err) }, "Node heartbeat failed"); });
    }, 10_000);
    this.startInformer();
  }

  /** Stops every pod's processes and the heartbeat; the Node object stays, as after a kubelet stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.informer?.stop().catch(() => undefined);
    await Promise.all([...this.runs.values()].map((run) => this.killPod(run, 5)));
  }

  /** Process ids of the running containers, for the test bed's last-resort cleanup. */
  pids(): number[] {
    return [...this.runs.values()].flatMap((r) => r.containers.flatMap((c) => (c.state.kind === "running" ? [c.state.pid] : [])));
  }

  /** The next address of the node's pod subnet (N in 2..254) no running pod holds. */
  private allocateIp(): string {
    const used = new Set([...this.runs.values()].map((r) => r.ip));
    for (let i = 0; i < 253; i++) {
      this.nextIp = this.nextIp >= 254 ? 2 : this.nextIp + 1;
      const ip = `${this.opts.podSubnet}.${this.nextIp}`;
      if (!used.has(ip)) return ip;
    }
    throw new Error(`no free pod address in ${this.opts.podSubnet}.0/24`);
  }

  private async register(): Promise<void> {
    const node: k8s.V1Node = {
      metadata: {
        name: this.opts.nodeName,
        labels: {
          "kubernetes.io/hostname": this.opts.nodeName,
          "kubernetes.io/os": "linux",
          "kubernetes.io/arch": process.arch === "x64" ? "amd64" : process.arch,
          "lifeboat.io/local-node": "true",
        },
      },
      spec: {},
    };
    try {
      await this.core.createNode({ body: node });
      this.opts.log({ node: this.opts.nodeName }, "Registered node");
    } catch (err) {
      if (!isStatus(err, 409)) throw new Error(`Could not register node ${this.opts.nodeName}`, { cause: err });
    }
  }

  /** Reports the node Ready with its capacity and renews its Lease. */
  private async beat(): Promise<void> {
    const now = new Date().toISOString();
    const capacity = { cpu: String(cpus().length), memory: `${Math.floor(totalmem() / 1024)}Ki`, pods: "110", "ephemeral-storage": "100Gi" };
    const status = {
      status: {
        capacity,
        allocatable: capacity,
        addresses: [{ type: "InternalIP", address: "127.0.0.1" }, { type: "Hostname", address: this.opts.nodeName }],
        conditions: [
          { type: "Ready", status: "True", reason: "KubeletReady", message: "lifeboat local node is posting ready status", lastHeartbeatTime: now, lastTransitionTime: now },
          { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory", lastHeartbeatTime: now, lastTransitionTime: now },
          { type: "DiskPressure", status: "False", reason: "KubeletHasNoDiskPressure", lastHeartbeatTime: now, lastTransitionTime: now },
          { type: "PIDPressure", status: "False", reason: "KubeletHasSufficientPID", lastHeartbeatTime: now, lastTransitionTime: now },
        ],
        nodeInfo: {
          architecture: process.arch === "x64" ? "amd64" : process.arch,
          operatingSystem: "linux",
          kubeletVersion: "lifeboat-local-node",
          containerRuntimeVersion: "local-process://1",
          kernelVersion: "", osImage: "", kubeProxyVersion: "", machineID: "", systemUUID: "", bootID: "",
        },
      },
    };
    await this.core.patchNodeStatus({ name: this.opts.nodeName, body: status }, strategicPatch);
    const renewTime = new k8s.V1MicroTime();
    try {
      await this.coordination.patchNamespacedLease(
        { name: this.opts.nodeName, namespace: "kube-node-lease", body: { spec: { holderIdentity: this.opts.nodeName, renewTime } } },
        mergePatch,
      );
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
      await this.coordination.createNamespacedLease({
        namespace: "kube-node-lease",
        body: { metadata: { name: this.opts.nodeName }, spec: { holderIdentity: this.opts.nodeName, leaseDurationSeconds: 40, renewTime } },
      });
    }
  }

  private startInformer(): void {
    const fieldSelector = `spec.nodeName=${this.opts.nodeName}`;
    const informer = new k8s.ListWatch<k8s.V1Pod>(
      "/api/v1/pods",
      new k8s.Watch(this.kc),
      () => this.core.listPodForAllNamespaces({ fieldSelector }),
      false,
      undefined,
      fieldSelector,
    );
    const sync = (pod: k8s.V1Pod) => {
      this.syncPod(pod).catch((err: unknown) => {
        this.opts.log({ pod: podKey(pod), err: String(err) }, "Pod sync failed");
      });
    };
    informer.on(k8s.ADD, sync);
    informer.on(k8s.UPDATE, sync);
    informer.on(k8s.DELETE, (pod) => {
      const run = this.runs.get(pod.metadata?.uid ?? "");
      if (run) void this.killPod(run, 0).then(() => { this.forget(run); });
    });
    informer.on(k8s.ERROR, (err: unknown) => {
      if (this.stopped) return;
      this.opts.log({ err: String(err) }, "Pod watch failed; restarting it");
      setTimeout(() => { if (!this.stopped) void informer.start(); }, 1000);
    });
    this.informer = informer;
    void informer.start();
  }

  private async syncPod(pod: k8s.V1Pod): Promise<void> {
    const uid = pod.metadata?.uid;
    if (!uid || this.stopped) return;
    const existing = this.runs.get(uid);
    if (existing) {
      existing.pod = pod;
      if (pod.metadata?.deletionTimestamp && !existing.stopping) await this.deletePod(existing);
      return;
    }
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") {
      if (pod.metadata?.deletionTimestamp) await this.finalizeDeletion(pod);
      return;
    }
    if (pod.metadata?.deletionTimestamp) {
      await this.finalizeDeletion(pod);
      return;
    }
    const namespace = pod.metadata?.namespace ?? "default";
    const name = pod.metadata?.name ?? "";
    const run: PodRun = {
      uid,
      namespace,
      name,
      dir: join(this.opts.podsDir, `${namespace}_${name}_${uid}`),
      ip: this.allocateIp(),
      pod,
      containers: [
        ...(pod.spec?.initContainers ?? []).map((spec) => newContainer(spec, true)),
        ...(pod.spec?.containers ?? []).map((spec) => newContainer(spec, false)),
      ],
      startTime: new Date(),
      stopping: false,
      phase: "Pending",
      statusInFlight: false,
      statusDirty: false,
    };
    this.runs.set(uid, run);
    this.opts.log({ pod: `${namespace}/${name}` }, "Admitted pod");
    await mkdir(run.dir, { recursive: true });
    this.reportStatus(run);
    await this.startPod(run);
  }

  /** Prepares the pod's service-account files, then starts its init containers in order and its containers together. */
  private async startPod(run: PodRun): Promise<void> {
    if (run.stopping) return;
    try {
      await this.writeServiceAccountFiles(run);
    } catch (err) {
      this.setWaitingAll(run, "CreateContainerConfigError", `could not obtain a service-account token: ${String(err)}`);
      run.retryTimer = setTimeout(() => void this.startPod(run), 2000);
      return;
    }
    await this.advance(run);
  }

  /** Starts whatever the pod should run next: the first unfinished init container, or all containers once init is done. */
  private async advance(run: PodRun): Promise<void> {
    if (run.stopping) return;
    const pendingInit = run.containers.find((c) => c.init && !(c.state.kind === "terminated" && c.state.exitCode === 0));
    const toStart = pendingInit ? [pendingInit] : run.containers.filter((c) => !c.init);
    for (const c of toStart) {
      if (c.state.kind === "waiting") await this.startContainer(run, c);
    }
    this.reportStatus(run);
  }

  private async startContainer(run: PodRun, c: ContainerRun): Promise<void> {
    const spec = c.spec;
    let env: Record<string, string>;
    let command;
    try {
      command = resolveContainerCommand(spec.image ?? "", spec.command, spec.args);
    } catch (err) {
      if (!(err instanceof ImageNotMappedError)) throw err;
      c.state = { kind: "waiting", reason: "ErrImagePull", message: err.message };
      return;
    }
    try {
      env = await resolvePodEnv(this.core, run.pod, spec, run.ip);
    } catch (err) {
      c.state = { kind: "waiting", reason: "CreateContainerConfigError", message: err instanceof Error ? err.message : String(err) };
      this.reportStatus(run);
      run.retryTimer = setTimeout(() => void this.advance(run), 2000);
      return;
    }
    const workDir = spec.workingDir ?? command.workingDir ?? join(run.dir, "work");
    await mkdir(workDir, { recursive: true });
    const logFile = join(run.dir, `${spec.name}.log`);
    const fd = openSync(logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(command.file, command.args, {
        cwd: workDir,
        detached: true,
        stdio: ["ignore", fd, fd],
        env: {
          PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
          HOME: run.dir,
          HOSTNAME: run.name,
          KUBECONFIG: join(run.dir, "kubeconfig"),
          KUBERNETES_SERVICE_HOST: "127.0.0.1",
          KUBERNETES_SERVICE_PORT: new URL(this.opts.server).port,
          ...env,
        },
      });
    } finally {
      closeSync(fd);
    }
    const startedAt = new Date();
    c.process = child;
    c.exited = new Promise((resolve) => {
      let done = false;
      const finish = (exitCode: number, signal: string | undefined, reason: string) => {
        if (done) return;
        done = true;
        c.process = undefined;
        void rm(pidFile(run, spec.name), { force: true });
        c.state = { kind: "terminated", exitCode, reason, startedAt, finishedAt: new Date(), ...(signal ? { signal } : {}) };
        this.opts.log({ pod: `${run.namespace}/${run.name}`, container: spec.name, exitCode }, "Container exited");
        resolve();
        this.onContainerExit(run, c);
      };
      child.on("exit", (code, signal) => {
        finish(code ?? 128 + signalNumber(signal), signal ?? undefined, code === 0 ? "Completed" : "Error");
      });
      child.on("error", (err) => {
        finish(127, undefined, "StartError");
        void writeFile(logFile, `${err.message}\n`, { flag: "a" });
      });
    });
    if (child.pid !== undefined) {
      c.state = { kind: "running", startedAt, pid: child.pid };
      // Recorded so that `cluster:down` can still stop the process group if this agent is killed.
      await writeFile(pidFile(run, spec.name), String(child.pid));
    }
    if (run.phase === "Pending" && !c.init) run.phase = "Running";
    this.opts.log({ pod: `${run.namespace}/${run.name}`, container: spec.name, pid: child.pid, command: command.file }, "Started container");
  }

  /** Applies the pod's restart policy after a container ends, and computes the pod phase as the kubelet does. */
  private onContainerExit(run: PodRun, c: ContainerRun): void {
    if (run.stopping || c.state.kind !== "terminated") {
      this.reportStatus(run);
      return;
    }
    const policy = run.pod.spec?.restartPolicy ?? "Always";
    const failed = c.state.exitCode !== 0;
    const restart = policy === "Always" ? !c.init || failed : policy === "OnFailure" ? failed : false;
    if (restart) {
      const delayMs = Math.min(10_000 * 2 ** c.restartCount, 300_000) / 10; // kubelet: 10s doubling to 5m; scaled down for tests
      c.lastTerminated = c.state;
      c.restartCount++;
      c.state = { kind: "waiting", reason: "CrashLoopBackOff", message: `back-off ${Math.round(delayMs / 1000)}s restarting failed container ${c.spec.name}` };
      run.retryTimer = setTimeout(() => void this.startContainer(run, c).then(() => { this.reportStatus(run); }), delayMs);
    } else if (c.init && failed) {
      run.phase = "Failed";
    } else if (c.init) {
      void this.advance(run);
    }
    const main = run.containers.filter((x) => !x.init);
    if (main.length > 0 && main.every((x) => x.state.kind === "terminated")) {
      run.phase = main.every((x) => x.state.kind === "terminated" && x.state.exitCode === 0) ? "Succeeded" : "Failed";
    }
    this.reportStatus(run);
  }

  private setWaitingAll(run: PodRun, reason: string, message: string): void {
    for (const c of run.containers) if (c.state.kind === "waiting") c.state = { kind: "waiting", reason, message };
    this.reportStatus(run);
  }

  /**
   * Asks the API server for a token bound to this pod (TokenRequest, as the
   * kubelet does for projected service-account volumes) and writes it with
   * the CA and a kubeconfig that reads the token from its file, so a refresh
   * reaches a running process.
   */
  private async writeServiceAccountFiles(run: PodRun): Promise<void> {
    const spec = run.pod.spec;
    const saDir = join(run.dir, "serviceaccount");
    await mkdir(saDir, { recursive: true });
    await copyFile(this.opts.caCert, join(saDir, "ca.crt"));
    await writeFile(join(saDir, "namespace"), run.namespace);
    const tokenPath = join(saDir, "token");
    if (spec?.automountServiceAccountToken === false) {
      await writeFile(tokenPath, "");
    } else {
      await this.refreshToken(run, tokenPath);
    }
    const { dump } = await import("js-yaml");
    await writeFile(
      join(run.dir, "kubeconfig"),
      dump({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "local", cluster: { server: this.opts.server, "certificate-authority": join(saDir, "ca.crt") } }],
        // kubectl reads tokenFile; @kubernetes/client-node reads token-file.
        users: [{ name: "serviceaccount", user: { tokenFile: tokenPath, "token-file": tokenPath } }],
        contexts: [{ name: "local", context: { cluster: "local", user: "serviceaccount", namespace: run.namespace } }],
        "current-context": "local",
      }),
      { mode: 0o600 },
    );
  }

  private async refreshToken(run: PodRun, tokenPath: string): Promise<void> {
    const expirationSeconds = 3607;
    const tr = await this.core.createNamespacedServiceAccountToken({
      name: run.pod.spec?.serviceAccountName ?? "default",
      namespace: run.namespace,
      body: { spec: { audiences: [], expirationSeconds, boundObjectRef: { apiVersion: "v1", kind: "Pod", name: run.name, uid: run.uid } } },
    });
    await writeFile(tokenPath, tr.status?.token ?? "", { mode: 0o600 });
    run.tokenTimer = setTimeout(() => {
      this.refreshToken(run, tokenPath).catch((err: unknown) => { this.opts.log({ pod: `${run.namespace}/${run.name}`, err: String(err) }, "Token refresh failed"); });
    }, expirationSeconds * 800);
  }

  /** Graceful deletion: stop the processes within the grace period, then remove the pod object (the kubelet's final delete). */
  private async deletePod(run: PodRun): Promise<void> {
    const grace = run.pod.metadata?.deletionGracePeriodSeconds ?? run.pod.spec?.terminationGracePeriodSeconds ?? 30;
    await this.killPod(run, grace);
    this.reportStatus(run);
    await this.finalizeDeletion(run.pod);
    this.forget(run);
  }

  private async finalizeDeletion(pod: k8s.V1Pod): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({
        name: pod.metadata?.name ?? "",
        namespace: pod.metadata?.namespace ?? "default",
        gracePeriodSeconds: 0,
        body: { preconditions: { uid: pod.metadata?.uid ?? "" }, gracePeriodSeconds: 0 },
      });
    } catch (err) {
      if (!isStatus(err, 404) && !isStatus(err, 409)) throw err;
    }
  }

  private async killPod(run: PodRun, graceSeconds: number): Promise<void> {
    run.stopping = true;
    clearTimeout(run.retryTimer);
    clearTimeout(run.tokenTimer);
    const alive = run.containers.filter((c): c is ContainerRun & { exited: Promise<void> } => c.process?.pid !== undefined && c.exited !== undefined);
    for (const c of alive) signalGroup(c.process?.pid, "SIGTERM");
    const killTimer = setTimeout(() => { for (const c of alive) signalGroup(c.process?.pid, "SIGKILL"); }, Math.max(graceSeconds, 0) * 1000);
    await Promise.all(alive.map((c) => c.exited));
    clearTimeout(killTimer);
    // The container's children share its process group; make sure none outlive it.
    for (const c of alive) signalGroup(c.state.kind === "terminated" ? undefined : c.process?.pid, "SIGKILL");
  }

  private forget(run: PodRun): void {
    clearTimeout(run.statusTimer);
    this.runs.delete(run.uid);
    void rm(join(run.dir, "serviceaccount"), { recursive: true, force: true });
  }

  /**
   * Coalesces status updates (at most one patch per pod per 100 ms) and keeps
   * them in order: a patch is computed from the pod's state when it is sent,
   * so two patches in flight at once could land in the wrong order and leave
   * an older state (Pending while the process runs) as the last word. One
   * patch at a time, a new one after it when the state changed meanwhile, and
   * a failed patch retried, as the kubelet's status manager does.
   */
  private reportStatus(run: PodRun, delayMs = 100): void {
    if (run.statusInFlight) {
      run.statusDirty = true;
      return;
    }
    if (run.statusTimer) return;
    run.statusTimer = setTimeout(() => {
      run.statusTimer = undefined;
      run.statusInFlight = true;
      run.statusDirty = false;
      let failed = false;
      this.patchStatus(run)
        .catch((err: unknown) => {
          if (isStatus(err, 404) || !this.runs.has(run.uid)) return;
          this.opts.log({ pod: `${run.namespace}/${run.name}`, err: String(err) }, "Pod status update failed; retrying");
          failed = true;
          run.statusDirty = true;
        })
        .finally(() => {
          run.statusInFlight = false;
          if (run.statusDirty && this.runs.has(run.uid) && !this.stopped) this.reportStatus(run, failed ? 1000 : 100);
        });
    }, delayMs);
  }

  private async patchStatus(run: PodRun): Promise<void> {
    const now = new Date();
    const main = run.containers.filter((c) => !c.init);
    const initDone = run.containers.filter((c) => c.init).every((c) => c.state.kind === "terminated" && c.state.exitCode === 0);
    const ready = run.phase === "Running" && main.every((c) => c.state.kind === "running");
    const cond = (type: string, ok: boolean, reason?: string) => ({ type, status: ok ? "True" : "False", lastTransitionTime: now, ...(reason && !ok ? { reason } : {}) });
    const status: k8s.V1PodStatus = {
      phase: run.phase,
      hostIP: "127.0.0.1",
      hostIPs: [{ ip: "127.0.0.1" }],
      podIP: run.ip,
      podIPs: [{ ip: run.ip }],
      startTime: run.startTime,
      conditions: [
        cond("Initialized", initDone, "ContainersNotInitialized"),
        cond("ContainersReady", ready, run.phase === "Running" ? "ContainersNotReady" : "PodCompleted"),
        cond("Ready", ready, run.phase === "Running" ? "ContainersNotReady" : "PodCompleted"),
      ],
      initContainerStatuses: run.containers.filter((c) => c.init).map(containerStatus),
      containerStatuses: main.map(containerStatus),
    };
    await this.core.patchNamespacedPodStatus({ name: run.name, namespace: run.namespace, body: { status } }, strategicPatch);
  }
}

function newContainer(spec: k8s.V1Container, init: boolean): ContainerRun {
  return { spec, init, state: { kind: "waiting", reason: "ContainerCreating" }, restartCount: 0 };
}

function toV1State(s: ContainerState): k8s.V1ContainerState {
  switch (s.kind) {
    case "waiting":
      return { waiting: { reason: s.reason, ...(s.message ? { message: s.message } : {}) } };
    case "running":
      return { running: { startedAt: s.startedAt } };
    case "terminated":
      return { terminated: { exitCode: s.exitCode, reason: s.reason, startedAt: s.startedAt, finishedAt: s.finishedAt, ...(s.signal ? { signal: signalNumber(s.signal) } : {}) } };
  }
}

function containerStatus(c: ContainerRun): k8s.V1ContainerStatus {
  return {
    name: c.spec.name,
    image: c.spec.image ?? "",
    imageID: `local-process://${c.spec.image ?? ""}`,
    containerID: c.state.kind === "running" ? `local-process://${c.state.pid}` : undefined,
    ready: c.state.kind === "running",
    started: c.state.kind === "running",
    restartCount: c.restartCount,
    state: toV1State(c.state),
    lastState: c.lastTerminated ? toV1State(c.lastTerminated) : {},
  };
}

function signalNumber(signal: string | null | undefined): number {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
  return signal ? (table[signal] ?? 0) : 0;
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function pidFile(run: PodRun, container: string): string {
  return join(run.dir, `${container}.pid`);
}

function podKey(pod: k8s.V1Pod): string {
  return `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}
