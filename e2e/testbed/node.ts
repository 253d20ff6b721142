import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, realpath, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runCommand } from "./command.js";
import { waitFor } from "./http.js";
import type { ImageArchive } from "./images.js";
import { PAUSE_IMAGE } from "./images.js";
import { networkFor, type TestbedNetwork } from "./network.js";
import { ManagedProcess } from "./process.js";

/**
 * Where one test bed's node keeps its state. Sockets go under /run (a unix
 * socket path must be short); images, snapshots, volumes and logs under the
 * test bed's directory.
 */
export interface NodePaths {
  readonly dir: string;
  readonly runDir: string;
  readonly containerdSocket: string;
  /** The cgroup every pod's cgroup lives under (kubelet's cgroupRoot), in each hierarchy. */
  readonly cgroupRoot: string;
  /** The CNI network's name: libcni keeps its results under /var/lib/cni/results/NAME-*. */
  readonly cniNetwork: string;
}

/** The paths of test bed index N's node, with its directory. */
export function nodePaths(testbedDir: string, index: number): NodePaths {
  const runDir = join(networkFor(index).runDir, "node");
  return { dir: join(testbedDir, "node"), runDir, containerdSocket: join(runDir, "containerd.sock"), cgroupRoot: `/lifeboat-${index}`, cniNetwork: `lifeboat-${index}` };
}

/** What the node is started with (by the supervisor, inside the test bed's network namespace). */
export interface NodeOptions {
  readonly paths: NodePaths;
  readonly nodeName: string;
  readonly network: TestbedNetwork;
  readonly kubeletBinary: string;
  readonly kubeProxyBinary: string;
  readonly kubeletKubeconfig: string;
  readonly kubeProxyKubeconfig: string;
  readonly caCert: string;
  readonly kubeletCert: string;
  readonly kubeletKey: string;
  readonly images: readonly ImageArchive[];
  readonly logsDir: string;
  readonly log: (msg: string) => void;
}

/**
 * containerd's configuration: everything under the node's own paths (a second
 * test bed has its own containerd), the pause image we built, the Debian CNI
 * plugins, runc with a state root of its own. Two settings suit a sandboxed
 * host: oom_score_adj is clamped (no CAP_SYS_RESOURCE there), and pod network
 * namespaces are mounted under the state directory, not /var/run/netns.
 */
function containerdConfig(o: NodeOptions): string {
  const p = o.paths;
  return `version = 2
root = "${join(p.dir, "containerd")}"
state = "${join(p.runDir, "containerd")}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "${p.containerdSocket}"

[ttrpc]
  address = "${p.containerdSocket}.ttrpc"

[debug]
  level = "warn"

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(p.dir, "opt")}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_unprivileged_ports = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "${join(p.runDir, "runc")}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${join(p.dir, "cni")}"
`;
}

/** The pod network: a bridge in the test bed's namespace, addresses from its own /24. */
function cniConfig(o: NodeOptions): string {
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: o.paths.cniNetwork,
    plugins: [
      {
        type: "bridge",
        bridge: "cni0",
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: "host-local", ranges: [[{ subnet: o.network.podCidr, gateway: o.network.podGateway }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: join(o.paths.dir, "cni-ipam") },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  }, null, 2);
}

/**
 * The kubelet's configuration, as kind's node has it, plus what this machine
 * needs: cgroup v1 (refused since 1.35 unless failCgroupV1 is false) with the
 * cgroupfs driver (containerd 1.6 lacks the RuntimeConfig call that would
 * choose it), a cgroup root and a log directory of the test bed's own, and no
 * disk-based eviction or image GC (the disk is shared with whatever else runs).
 */
function kubeletConfig(o: NodeOptions): string {
  return JSON.stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address: o.network.nodeAddress,
    port: 10250,
    readOnlyPort: 0,
    healthzPort: 0,
    tlsCertFile: o.kubeletCert,
    tlsPrivateKeyFile: o.kubeletKey,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: o.caCert } },
    authorization: { mode: "Webhook" },
    containerRuntimeEndpoint: `unix://${o.paths.containerdSocket}`,
    cgroupDriver: "cgroupfs",
    cgroupRoot: o.paths.cgroupRoot,
    failCgroupV1: false,
    failSwapOn: false,
    podLogsDir: join(o.paths.dir, "pod-logs"),
    resolvConf: "/etc/resolv.conf",
    evictionHard: { "memory.available": "1Mi", "nodefs.available": "0%", "nodefs.inodesFree": "0%", "imagefs.available": "0%", "imagefs.inodesFree": "0%" },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    syncFrequency: "10s",
    shutdownGracePeriod: "0s",
    maxPods: 110,
  }, null, 2);
}

function kubeProxyConfig(o: NodeOptions): string {
  return JSON.stringify({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    clientConnection: { kubeconfig: o.kubeProxyKubeconfig },
    mode: "iptables",
    clusterCIDR: o.network.podCidr,
    hostnameOverride: o.nodeName,
    bindAddress: o.network.nodeAddress,
    healthzBindAddress: "127.0.0.1:10256",
    metricsBindAddress: "127.0.0.1:10249",
    // nf_conntrack_max and the hash size are global to the machine: leave them alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
  }, null, 2);
}

/** The cgroup v1 hierarchies mounted here, or the v2 root alone. */
async function cgroupHierarchies(): Promise<string[]> {
  if (existsSync("/sys/fs/cgroup/cgroup.controllers")) return ["/sys/fs/cgroup"];
  const entries = await readdir("/sys/fs/cgroup", { withFileTypes: true });
  return entries.filter((e) => e.isDirectory() && !e.isSymbolicLink()).map((e) => join("/sys/fs/cgroup", e.name));
}

/** Makes the cgroup root in every hierarchy (kubelet expects it to exist); cpuset needs its cpus and mems filled in. */
async function createCgroupRoot(root: string): Promise<void> {
  for (const h of await cgroupHierarchies()) {
    const dir = join(h, root);
    await mkdir(dir, { recursive: true });
    if (h.endsWith("/cpuset")) {
      for (const f of ["cpuset.cpus", "cpuset.mems"]) await writeFile(join(dir, f), await readFile(join(h, f), "utf8"));
    }
  }
}

/** Every cgroup directory under the root, deepest first. */
async function cgroupTree(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) out.push(...(await cgroupTree(join(dir, e.name))));
  }
  out.push(dir);
  return out;
}

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone already
  }
}

/** SIGKILLs every process in the node's cgroups: the containers (and pause processes) of its pods. */
async function killContainers(paths: NodePaths): Promise<void> {
  for (const h of await cgroupHierarchies()) {
    for (const dir of await cgroupTree(join(h, paths.cgroupRoot))) {
      const procs = await readFile(join(dir, "cgroup.procs"), "utf8").catch(() => "");
      for (const pid of procs.split("\n").filter(Boolean)) kill(Number(pid));
    }
  }
}

/** SIGKILLs containerd's shims for this node's socket (they outlive containerd by design). */
async function killShims(paths: NodePaths): Promise<void> {
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")).split("\0");
    if (cmdline[0]?.includes("containerd-shim") && cmdline.includes(paths.containerdSocket)) kill(Number(entry));
  }
}

/**
 * Removes whatever a node of these paths left, in the order a node comes
 * apart: its containers, containerd's shims, every mount under its
 * directories (compared by real path, as mountinfo shows them), its cgroups,
 * libcni's cached results, its runtime directory. Runs after a clean stop and
 * as the last resort after a killed supervisor, so a test bed never leaves
 * anything running. What it could not remove is thrown, never hidden.
 */
export async function cleanNode(paths: NodePaths): Promise<void> {
  for (let round = 0; round < 3; round++) {
    await killContainers(paths);
    await killShims(paths);
    await new Promise((r) => setTimeout(r, 200));
  }
  const roots = [paths.dir, paths.runDir].filter((d) => existsSync(d));
  const real = await Promise.all(roots.map((d) => realpath(d)));
  const under = [...new Set([...roots, ...real])].map((d) => `${d}/`);
  const mounts = (await readFile("/proc/self/mountinfo", "utf8"))
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => m !== undefined)
    .map((m) => m.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => under.some((d) => m.startsWith(d)))
    .sort((a, b) => b.length - a.length);
  const problems: unknown[] = [];
  for (const m of mounts) await runCommand("umount", ["-l", m]).catch((err: unknown) => problems.push(err));
  for (const h of await cgroupHierarchies()) {
    for (const dir of await cgroupTree(join(h, paths.cgroupRoot))) {
      await waitFor(`cgroup ${dir} to be removed`, 10_000, async () => {
        await rmdir(dir).catch((err: unknown) => {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        });
        return true;
      }, 200).catch((err: unknown) => problems.push(err));
    }
  }
  // libcni caches each attachment (the pod network's and containerd's loopback) until a CNI DEL
  // that killed sandboxes never get: remove this node's, by network name or sandbox ID.
  const results = "/var/lib/cni/results";
  const sandboxes = await readdir(join(paths.runDir, "containerd", "io.containerd.grpc.v1.cri", "sandboxes")).catch(() => []);
  for (const f of existsSync(results) ? await readdir(results) : []) {
    if (f.startsWith(`${paths.cniNetwork}-`) || sandboxes.some((id) => f.includes(id))) await rm(join(results, f), { force: true });
  }
  await rm(paths.runDir, { recursive: true, force: true }).catch((err: unknown) => problems.push(err));
  if (problems.length > 0) throw new AggregateError(problems, `The node of ${paths.dir} left ${problems.length} thing(s) it could not remove`);
}

/**
 * Starts containerd, loads the images, then the kubelet (which registers the
 * Node) and kube-proxy. Each process goes into `processes` as it starts, so
 * stopNode stops what a failed start left. The caller waits for the Node to
 * become Ready.
 */
export async function startNode(o: NodeOptions, processes: ManagedProcess[]): Promise<void> {
  const p = o.paths;
  await cleanNode(p); // what a killed earlier test bed of this index left
  for (const d of [p.dir, p.runDir, join(p.dir, "cni"), join(p.dir, "pod-logs"), join(p.dir, "kubelet")]) await mkdir(d, { recursive: true });
  await createCgroupRoot(p.cgroupRoot);
  await writeFile(join(p.dir, "containerd.toml"), containerdConfig(o));
  await writeFile(join(p.dir, "cni", "10-lifeboat.conflist"), cniConfig(o));
  await writeFile(join(p.dir, "kubelet.json"), kubeletConfig(o));
  await writeFile(join(p.dir, "kube-proxy.json"), kubeProxyConfig(o));

  const logFile = (name: string) => join(o.logsDir, `${name}.log`);
  const containerd = new ManagedProcess("containerd", "containerd", ["--config", join(p.dir, "containerd.toml")], logFile("containerd"));
  processes.push(containerd);
  const ctr = (args: string[]) => runCommand("ctr", ["--address", p.containerdSocket, "--namespace", "k8s.io", ...args]);
  await waitFor("containerd", 30_000, async () => {
    if (!containerd.running) throw new Error(`containerd exited; see ${logFile("containerd")}`);
    await ctr(["version"]);
    return true;
  }, 200);
  for (const image of o.images) {
    const started = Date.now();
    await ctr(["images", "import", image.path]);
    o.log(`imported ${image.ref} into containerd in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  }

  processes.push(new ManagedProcess("kubelet", o.kubeletBinary, [
    `--config=${join(p.dir, "kubelet.json")}`,
    `--kubeconfig=${o.kubeletKubeconfig}`,
    `--hostname-override=${o.nodeName}`,
    `--node-ip=${o.network.nodeAddress}`,
    `--root-dir=${join(p.dir, "kubelet")}`,
    "--v=1",
  ], logFile("kubelet")));
  processes.push(new ManagedProcess("kube-proxy", o.kubeProxyBinary, [`--config=${join(p.dir, "kube-proxy.json")}`, "--v=1"], logFile("kube-proxy")));
}

/**
 * Stops a node that startNode began (`processes` as it left them, containerd
 * first): kube-proxy and the kubelet, then the containers while containerd
 * still runs (so its shims see them exit), then containerd, then cleanNode.
 */
export async function stopNode(paths: NodePaths, processes: readonly ManagedProcess[]): Promise<void> {
  const [containerdProcess, ...agents] = processes;
  for (const agent of [...agents].reverse()) await agent.stop();
  await killContainers(paths);
  await containerdProcess?.stop();
  await cleanNode(paths);
}
