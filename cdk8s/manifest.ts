import { App, Chart } from "cdk8s";
import * as kplus from "cdk8s-plus-34";
import { DEFAULT_NAMESPACE, Lifeboat } from "./lifeboat.js";

/**
 * deploy/lifeboat.yaml: Lifeboat for `kubectl apply -f`, without helm. It is
 * the chart with its default values, as `helm install lifeboat charts/lifeboat
 * -n lifeboat-system --create-namespace` installs it (CRDs included), plus the
 * namespace that --create-namespace would make. Generated, never edited:
 * `npm run check:generated` fails when it differs from the chart.
 */
export function renderManifest(helmExecutable: string): string {
  const app = new App();
  const chart = new Chart(app, "lifeboat");
  // First, so that `kubectl apply` creates it before the objects that live in it.
  new kplus.Namespace(chart, "Namespace", { metadata: { name: DEFAULT_NAMESPACE } });
  new Lifeboat(chart, "Lifeboat", { namespace: DEFAULT_NAMESPACE, helmExecutable });
  const header = [
    "# Lifeboat for `kubectl apply -f deploy/lifeboat.yaml`.",
    "# Generated from charts/lifeboat with its default values by `npm run generate`. Do not edit:",
    "# to change a value, use the chart (helm, or the Lifeboat cdk8s construct, docs/cdk8s.md).",
    "",
  ].join("\n");
  return header + app.synthYaml();
}
