import { existsSync } from "node:fs";
import { runCommand } from "./command.js";

/**
 * The Debian packages the test bed's node and image builds run, each with a
 * file that shows it is installed. They are what kind ships inside its node
 * image: a CRI runtime, the OCI runtime, CNI plugins, iptables for
 * kube-proxy; plus buildah and mmdebstrap to build the operator image here,
 * and qemu-img (qemu-utils), which judges the image writers' files in the
 * image-formats suite.
 */
const packages: readonly { name: string; file: string }[] = [
  { name: "containerd", file: "/usr/bin/containerd" },
  { name: "runc", file: "/usr/sbin/runc" },
  { name: "containernetworking-plugins", file: "/usr/lib/cni/bridge" },
  { name: "iptables", file: "/usr/sbin/iptables" },
  { name: "conntrack", file: "/usr/sbin/conntrack" },
  { name: "buildah", file: "/usr/bin/buildah" },
  { name: "mmdebstrap", file: "/usr/bin/mmdebstrap" },
  { name: "iproute2", file: "/usr/sbin/ip" },
  { name: "util-linux", file: "/usr/bin/nsenter" },
  { name: "qemu-utils", file: "/usr/bin/qemu-img" },
];

/** Serializes apt-get between our processes (e2e/jest/unit-global-setup.js takes it too). */
const APT_LOCK = "/run/lock/lifeboat-host-packages";

/**
 * Installs the missing packages with apt-get (the test bed runs as root, as a
 * kind node does), or says which to install when it cannot.
 */
export async function ensureHostPackages(log: (line: string) => void): Promise<void> {
  const missing = packages.filter((p) => !existsSync(p.file)).map((p) => p.name);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`The test bed's node needs root and these Debian packages: ${missing.join(" ")} (apt-get install ${missing.join(" ")})`);
  }
  log(`[packages] installing ${missing.join(", ")} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // flock (util-linux, essential in Debian) waits for another process's install to finish rather than failing on apt's own lock.
  await runCommand("flock", [APT_LOCK, "apt-get", "update", "-qq"], { env });
  await runCommand("flock", [APT_LOCK, "apt-get", "install", "-y", "-qq", ...missing], { env });
}
