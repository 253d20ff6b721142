import { resolve } from "node:path";
import { repoRootOf } from "../operator/src/api/repo-root.js";

/** The repository root, from cdk8s/ (sources, ts-jest) or dist/cdk8s/ (compiled) alike. */
export const repoRoot: string = repoRootOf(import.meta.url, 1);

/** The chart the Lifeboat construct renders: the one install definition. */
export const CHART_DIR: string = resolve(repoRoot, "charts", "lifeboat");
