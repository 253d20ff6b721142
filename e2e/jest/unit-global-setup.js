// Installs the one host tool unit tests run, once, before the test files
// start in parallel workers: qemu-img (Debian's qemu-utils) judges the image
// writers, and the Alibaba contract server's ImportImage and ExportImage
// convert with it. The e2e global setup installs it with the rest of the test
// bed's packages (e2e/testbed/host-packages.ts, whose apt lock this shares).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

export default function unitGlobalSetup() {
  if (existsSync("/usr/bin/qemu-img")) return;
  if (process.getuid?.() !== 0) throw new Error("Unit tests run qemu-img: install Debian's qemu-utils (apt-get install qemu-utils)");
  process.stderr.write("[packages] installing qemu-utils with apt-get\n");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "qemu-utils"]]) {
    execFileSync("flock", ["/run/lock/lifeboat-host-packages", "apt-get", ...args], { env, stdio: ["ignore", "ignore", "inherit"] });
  }
}
