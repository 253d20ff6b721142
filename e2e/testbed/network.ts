import { existsSync } from "node:fs";
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
 */
export interface TestbedNetwork {
  readonly index: number;
  /** The namespace's name under /run/netns. */
  readonly namespace: string;
  readonly nsPath: string;
  readonly hostAddress: string;
  readonly nodeAddress: string;
  readonly podCidr: string;
  readonly podGateway: string;
}

/** The network of test bed index N (no side effects). */
export function networkFor(index: number): TestbedNetwork {
  const namespace = `lifeboat-${index}`;
  return {
    index,
    namespace,
    nsPath: `/run/netns/${namespace}`,
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

/**
 * Creates the namespace and its link with the first free index; `ip netns add`
 * fails when another test bed holds a name, so two starting at once never share one.
 */
export async function createNetwork(): Promise<TestbedNetwork> {
  for (let index = 1; index < 250; index++) {
    const net = networkFor(index);
    if (existsSync(net.nsPath)) continue;
    try {
      await ip(["netns", "add", net.namespace]);
    } catch {
      continue; // taken meanwhile
    }
    try {
      await configure(net);
      return net;
    } catch (err) {
      await deleteNetwork(net);
      throw new Error(`Could not set up the test bed network ${net.namespace}`, { cause: err });
    }
  }
  throw new Error("No free test bed network index (1-249): remove stale ones with `ip netns list` / `ip netns delete lifeboat-N`");
}

async function configure(net: TestbedNetwork): Promise<void> {
  const hostLink = `lb${net.index}h`;
  const nodeLink = `lb${net.index}n`;
  await ip(["link", "delete", hostLink]).catch(() => undefined); // a stale one from a killed run
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
 * Deletes the namespace; its end of the veth goes with it, and with that the
 * host's end and the route to the pods. Safe to run twice.
 */
export async function deleteNetwork(net: TestbedNetwork): Promise<void> {
  await ip(["netns", "delete", net.namespace]).catch(() => undefined);
  await ip(["link", "delete", `lb${net.index}h`]).catch(() => undefined);
}
