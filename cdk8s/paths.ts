import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, from cdk8s/ (sources, ts-jest) or dist/cdk8s/ (compiled) alike. */
export const repoRoot: string = (() => {
  const up1 = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  return up1.endsWith("/dist") ? resolve(up1, "..") : up1;
})();

/** The chart the Lifeboat construct renders: the one install definition. */
export const CHART_DIR: string = resolve(repoRoot, "charts", "lifeboat");
