import { homedir } from "node:os";
import { join } from "node:path";
import { repoRootOf } from "../../operator/src/api/repo-root.js";

/**
 * The repository root, found from this file's location so that the test bed
 * works the same from `dist/` (compiled) and from the sources (ts-jest).
 */
export const repoRoot: string = repoRootOf(import.meta.url, 2);

/**
 * Where built Go components live: outside the work tree, so that a fresh clone
 * (CI runs in one) reuses them. Override with LIFEBOAT_CACHE.
 */
export function cacheDir(): string {
  const explicit = process.env.LIFEBOAT_CACHE;
  if (explicit) return explicit;
  const xdg = process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache");
  return join(xdg, "lifeboat");
}

/** Per-test-bed runtime state (certificates, logs, kubeconfig); git-ignored. */
export function testbedDir(name: string): string {
  return join(repoRoot, ".testbed", name);
}

/**
 * The address test-bed servers (vcsim, S3) listen on: the test bed's host
 * address when one runs (pods reach this machine there; the e2e global setup
 * and the demo set LIFEBOAT_TESTBED_HOST), loopback otherwise.
 */
export function serveAddress(): string {
  return process.env.LIFEBOAT_TESTBED_HOST ?? "127.0.0.1";
}

/** Where a restore's `pvc://CLAIM/PATH` result lies on this machine, for a hostPath-backed claim whose storage is `hostDir`. */
export function claimFile(result: string, claimName: string, hostDir: string): string {
  const prefix = `pvc://${claimName}/`;
  if (!result.startsWith(prefix)) throw new Error(`${result} is not on claim ${claimName}`);
  return join(hostDir, result.slice(prefix.length));
}
