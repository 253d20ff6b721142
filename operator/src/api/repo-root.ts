import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root from a module under operator/src/api, compiled (dist/...) or not. */
export function repoRootOf(moduleUrl: string): string {
  const here = dirname(fileURLToPath(moduleUrl));
  const up3 = resolve(here, "..", "..", "..");
  return up3.endsWith("/dist") ? resolve(up3, "..") : up3;
}
