import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { runCommand } from "./command.js";

/**
 * A test bed's own network: a network namespace `lifeboat-N` that holds the
 * control plane, the node and its pods, joined to this machine by a veth pair.
 * Pod networks and kube-proxy's iptables rules live in that namespace and
 * never touch the host's; each test bed has its own N, so two run side by side.
 *
 * | address          | what                                                        |
 * |------------------|-------------------------------------------------------------|
 * | 10.250.N.1       | this machine's end of the veth: vcsim and S3 servers listen here so pods reach them |
 * | 10.250.N.2       | the node (inside the namespace): API server, kubelet         |
 * | 10.251.N.0/24    | pod addresses, on the CNI bridge; routed from this machine via 10.250.N.2 |
 *
 * N is claimed by creating `/run/lifeboat/N` (mkdir is atomic) with the test
 * bed's directory in its `owner` file, and released only by that owner, so a
 * test bed stopping late never tears down another that took its N meanwhile.
 */
export interface TestbedNetwork {
  readonly index: number;
  /** The namespace's name under /run/netns. */
  readonly namespace: string;
  readonly nsPath: string;
  /** /run/lifeboat/N: the claim on N, and the node's runtime directory (short paths for unix sockets). */
  readonly runDir: string;
  readonly hostAddress: string;
  readonly nodeAddress: string;
  readonly podCidr: string;
  readonly podGateway: string;
}

const CLAIMS_DIR = "/run/lifeboat";

/** The network of test bed index N (no side effects). */
export function networkFor(index: number): TestbedNetwork {
  const namespace = `lifeboat-${index}`;
  return {
    index,
    namespace,
    nsPath: `/run/netns/${namespace}`,
    runDir: `${CLAIMS_DIR}/${index}`,
    hostAddress: `10.250.${index}.1`,
    nodeAddress: `10.250.${index}.2`,
    podCidr: `10.251.${index}.0/24`,
    podGateway: `10.251.${index}.1`,
  };
}

function ip(args: string[]) {
  return runCommand("ip", args);
}

/** Runs a command inside the test bed's network namespace. */
export function inNetwork(net: TestbedNetwork, cmd: string, args: readonly string[]) {
  return runCommand("nsenter", [`--net=${net.nsPath}`, "--", cmd, ...args]);
}

/** Whether the test bed at `owner` (its directory) holds the claim on N. */
export async function ownsNetwork(index: number, owner: string): Promise<boolean> {
  return (await readFile(`${networkFor(index).runDir}/owner`, "utf8").catch(() => "")) === owner;
}

/**
 * Claims the first free index for the test bed at `owner` and creates its
 * namespace and link. A namespace of that name without a claim is a leftover
 * of a killed run and is replaced.
 */
export async function createNetwork(owner: string): Promise<TestbedNetwork> {
  await mkdir(CLAIMS_DIR, { recursive: true });
  for (let index = 1; index < 250; index++) {
    const net = networkFor(index);
    try {
      await mkdir(net.runDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw new Error(`Could not claim test bed network ${index} at ${net.runDir}`, { cause: err });
    }
    try {
      await writeFile(`${net.runDir}/owner`, owner);
      if (existsSync(net.nsPath)) await ip(["netns", "delete", net.namespace]);
      await ip(["netns", "add", net.namespace]);
      await configure(net);
      return net;
    } catch (err) {
      await releaseNetwork(net);
      throw new Error(`Could not set up the test bed network ${net.namespace}`, { cause: err });
    }
  }
  throw new Error(`No free test bed network index (1-249): every ${CLAIMS_DIR}/N is claimed; remove stale ones (and \`ip netns delete lifeboat-N\`) when no test bed runs`);
}

async function configure(net: TestbedNetwork): Promise<void> {
  const hostLink = `lb${net.index}h`;
  const nodeLink = `lb${net.index}n`;
  await ip(["link", "delete", hostLink]).catch(() => undefined); // a stale one, from a killed run
  await ip(["link", "add", hostLink, "type", "veth", "peer", "name", nodeLink]);
  await ip(["link", "set", nodeLink, "netns", net.namespace]);
  await ip(["addr", "add", `${net.hostAddress}/24`, "dev", hostLink]);
  await ip(["link", "set", hostLink, "up"]);
  await ip(["route", "replace", net.podCidr, "via", net.nodeAddress, "dev", hostLink]);
  const inside = (args: string[]) => inNetwork(net, "ip", args);
  await inside(["link", "set", "lo", "up"]);
  await inside(["link", "set", nodeLink, "name", "eth0"]);
  await inside(["addr", "add", `${net.nodeAddress}/24`, "dev", "eth0"]);
  await inside(["link", "set", "eth0", "up"]);
  await inside(["route", "add", "default", "via", net.hostAddress]);
  // Pods reach the host's servers through the node, as on any node.
  await inNetwork(net, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
}

/**
 * Deletes the namespace (its processes must be gone: the veth and the host's
 * route go with the last of them) and the host's end of the link, then gives
 * up the claim on N. Only the claim's owner calls this. Safe to run twice.
 */
export async function releaseNetwork(net: TestbedNetwork): Promise<void> {
  if (existsSync(net.nsPath)) await ip(["netns", "delete", net.namespace]);
  await ip(["link", "delete", `lb${net.index}h`]).catch(() => undefined); // gone with the namespace, usually
  await rm(net.runDir, { recursive: true, force: true });
}
