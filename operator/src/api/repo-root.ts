import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root from a module `depth` directories below it (3 for
 * operator/src/api), whether it runs compiled from dist/ or from the sources
 * (ts-jest): generators and tests find the chart, the CRDs and the test bed's
 * files the same way in both.
 */
export function repoRootOf(moduleUrl: string, depth = 3): string {
  const up = resolve(dirname(fileURLToPath(moduleUrl)), ...Array<string>(depth).fill(".."));
  return up.endsWith("/dist") ? resolve(up, "..") : up;
}
