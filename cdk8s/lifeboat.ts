import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Include, Yaml } from "cdk8s";
import { Construct } from "constructs";
import type { LifeboatValues } from "./generated/values.js";
import { CHART_DIR } from "./paths.js";

export type { LifeboatValues } from "./generated/values.js";

/** The namespace the README and docs install Lifeboat into. */
export const DEFAULT_NAMESPACE = "lifeboat-system";
/** The release name the README's `helm install lifeboat ...` uses; the chart names its objects after it. */
export const DEFAULT_RELEASE_NAME = "lifeboat";

export interface LifeboatProps {
  /** Namespace of the operator (the release namespace). It must exist: the chart does not create it. Default `lifeboat-system`. */
  readonly namespace?: string;
  /** Helm release name; the chart names its objects after it. Default `lifeboat`, as in the README's `helm install`. */
  readonly releaseName?: string;
  /** Chart values, typed from values.schema.json; helm also validates them against the schema when it renders. */
  readonly values?: LifeboatValues;
  /** The helm binary that renders the chart (`helm template`). Default `helm` on PATH. */
  readonly helmExecutable?: string;
  /**
   * Include the chart's CRDs. Default true: `helm install` installs them from
   * the chart's crds/ by itself, but a synthesized manifest is applied by
   * kubectl or a GitOps tool, which only applies what the manifest holds.
   */
  readonly includeCrds?: boolean;
}

/** The prefix of the directory each render works in, under the temp directory; it is removed before the constructor returns. */
export const RENDER_DIR_PREFIX = `lifeboat-cdk8s-${process.pid}-`;

/** helm's output is read whole; the chart with its CRDs renders to about 1 MiB. */
const MAX_RENDER_BYTES = 64 * 1024 * 1024;

/**
 * Installs the Lifeboat operator: `helm template` of charts/lifeboat, its
 * output included with cdk8s's Include. The chart stays the one install
 * definition; this construct only passes typed values to it, so its objects
 * are exactly what `helm template` (and `helm install`) gives for the same
 * values — a unit test holds it to that.
 *
 * It runs helm itself rather than through cdk8s's Helm construct, which
 * renders the same way but never removes its work directory: every synth
 * left a `cdk8s-helm-*` directory with the values and the whole manifest in
 * the temp directory.
 */
export class Lifeboat extends Construct {
  /** The rendered objects, e.g. for `helm.apiObjects`. */
  public readonly helm: Include;
  /** The release namespace, where the operator runs. */
  public readonly namespace: string;
  /** The release name. */
  public readonly releaseName: string;

  public constructor(scope: Construct, id: string, props: LifeboatProps = {}) {
    super(scope, id);
    this.namespace = props.namespace ?? DEFAULT_NAMESPACE;
    this.releaseName = props.releaseName ?? DEFAULT_RELEASE_NAME;
    const work = mkdtempSync(join(tmpdir(), RENDER_DIR_PREFIX));
    try {
      const manifest = renderChart(work, props.helmExecutable ?? "helm", [
        "template", this.releaseName, CHART_DIR, "--namespace", this.namespace,
        ...(props.includeCrds === false ? [] : ["--include-crds"]),
      ], props.values);
      // Include reads the file in its constructor: the directory can go right after.
      this.helm = new Include(this, "Chart", { url: manifest });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}

/** Runs `helm <args>` with the values (if any) in a file under `work`; returns the file its manifest was written to. */
function renderChart(work: string, helm: string, args: string[], values: LifeboatValues | undefined): string {
  if (values && Object.keys(values).length > 0) {
    const valuesFile = join(work, "values.yaml");
    writeFileSync(valuesFile, Yaml.stringify(values));
    args.push("--values", valuesFile);
  }
  const run = spawnSync(helm, args, { encoding: "utf8", maxBuffer: MAX_RENDER_BYTES });
  if (run.error) {
    const missing = (run.error as NodeJS.ErrnoException).code === "ENOENT";
    throw new Error(`Could not run ${helm} to render ${CHART_DIR}${missing ? ": install helm or set helmExecutable" : ""}`, { cause: run.error });
  }
  if (run.status !== 0) throw new Error(`helm template of ${CHART_DIR} failed: ${run.stderr.trim()}`);
  const manifest = join(work, "lifeboat.yaml");
  writeFileSync(manifest, run.stdout);
  return manifest;
}
