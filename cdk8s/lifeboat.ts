import { Helm } from "cdk8s";
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

/**
 * Installs the Lifeboat operator: `helm template` of charts/lifeboat through
 * cdk8s's Helm construct. The chart stays the one install definition; this
 * construct only passes typed values to it, so its objects are exactly what
 * `helm template` (and `helm install`) gives for the same values — a unit
 * test holds it to that.
 */
export class Lifeboat extends Construct {
  /** The Helm construct holding the rendered objects, e.g. for `helm.apiObjects`. */
  public readonly helm: Helm;
  /** The release namespace, where the operator runs. */
  public readonly namespace: string;
  /** The release name. */
  public readonly releaseName: string;

  public constructor(scope: Construct, id: string, props: LifeboatProps = {}) {
    super(scope, id);
    this.namespace = props.namespace ?? DEFAULT_NAMESPACE;
    this.releaseName = props.releaseName ?? DEFAULT_RELEASE_NAME;
    this.helm = new Helm(this, "Chart", {
      chart: CHART_DIR,
      releaseName: this.releaseName,
      namespace: this.namespace,
      ...(props.values ? { values: props.values } : {}),
      ...(props.helmExecutable ? { helmExecutable: props.helmExecutable } : {}),
      helmFlags: props.includeCrds === false ? [] : ["--include-crds"],
    });
  }
}
