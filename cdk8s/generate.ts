/**
 * Generates the cdk8s library's derived files, as operator/src/api/generate.ts
 * does for the CRDs (`npm run generate` runs both; `npm run check:generated`
 * fails when either is stale):
 *
 *   cdk8s/generated/lifeboat.io.ts  typed classes for every Lifeboat kind, by `cdk8s import`
 *                                   of the CRDs the API schemas define
 *   cdk8s/generated/values.ts       the chart's values as TypeScript, from values.schema.json
 *   deploy/lifeboat.yaml            the plain `kubectl apply` manifest: the chart rendered
 *                                   with its default values by the Lifeboat construct
 *
 *   node dist/cdk8s/generate.js          write the files
 *   node dist/cdk8s/generate.js --check  fail if they are stale
 *
 * The manifest needs helm: the test bed's component (built from the Go module
 * proxy into ~/.cache/lifeboat on first use), or LIFEBOAT_HELM if set.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dump } from "js-yaml";
import { compile } from "json-schema-to-typescript";
import { runCommand } from "../e2e/testbed/command.js";
import { ensureComponent } from "../e2e/testbed/components.js";
import { customResourceDefinition } from "../operator/src/api/crd.js";
import { kinds } from "../operator/src/api/kinds.js";
import { renderManifest } from "./manifest.js";
import { repoRoot } from "./paths.js";
import { writeOrCheck } from "../operator/src/api/generated-files.js";

/**
 * `cdk8s import` of all the CRDs at once, as one module. The CRDs come from
 * the API schemas, not from crds/, so the output never lags a stale crds/.
 * --no-check-upgrade keeps it offline and its output free of notices.
 */
export async function importedKinds(): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), "lifeboat-cdk8s-import-"));
  try {
    const crds = kinds.map((def) => dump(customResourceDefinition(def), { noRefs: true, lineWidth: -1, sortKeys: false })).join("---\n");
    await writeFile(join(work, "lifeboat.io.yaml"), crds);
    const cli = join(repoRoot, "node_modules", ".bin", "cdk8s");
    await runCommand(cli, ["import", "--no-check-upgrade", "--no-save", "--language", "typescript", "--output", "imports", "lifeboat.io.yaml"], { cwd: work });
    const imported = await readFile(join(work, "imports", "lifeboat.io.ts"), "utf8");
    return "// Generated from the CRDs of operator/src/api by `cdk8s import` (`npm run generate`). Do not edit.\n" + imported;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The chart's untyped objects (resources, affinity, a volume source...) are
 * Kubernetes types: type them with @kubernetes/client-node's JSON-shaped
 * models rather than `{}`. Keys are paths in values.schema.json.
 */
const KUBERNETES_TYPES: Record<string, string> = {
  "resources": "V1ResourceRequirements",
  "affinity": "V1Affinity",
  "tolerations.items": "V1Toleration",
  "podSecurityContext": "V1PodSecurityContext",
  "securityContext": "V1SecurityContext",
  "vaultVolumes.items.volume": 'Omit<V1Volume, "name">',
  "networkPolicy.metrics.from.items": "V1NetworkPolicyPeer",
  "networkPolicy.workers.metricsFrom.items": "V1NetworkPolicyPeer",
  "networkPolicy.workers.egress.items": "V1NetworkPolicyEgressRule",
};

type SchemaNode = Record<string, unknown> & { properties?: Record<string, SchemaNode>; items?: SchemaNode };

function withKubernetesTypes(node: SchemaNode, path: string): SchemaNode {
  const tsType = KUBERNETES_TYPES[path];
  if (tsType) return { ...node, tsType };
  const out: SchemaNode = { ...node };
  if (node.properties) {
    out.properties = Object.fromEntries(Object.entries(node.properties).map(([k, v]) => [k, withKubernetesTypes(v, path ? `${path}.${k}` : k)]));
  }
  if (node.items) out.items = withKubernetesTypes(node.items, `${path}.items`);
  return out;
}

/**
 * LifeboatValues from charts/lifeboat/values.schema.json. The schema's allOf
 * (if/then rules across values, such as "no leader election needs one
 * replica") has no TypeScript form; helm enforces it when the construct
 * renders the chart, so a bad combination still fails at synth.
 */
export async function valuesTypes(): Promise<string> {
  const schema = JSON.parse(await readFile(join(repoRoot, "charts", "lifeboat", "values.schema.json"), "utf8")) as SchemaNode;
  const { allOf: _allOf, $schema: _draft, ...structural } = schema;
  const used = Object.values(KUBERNETES_TYPES).map((t) => /V1\w+/.exec(t)?.[0]);
  const compiled = await compile(
    { ...withKubernetesTypes(structural, ""), title: "LifeboatValues", description: "Values of the lifeboat chart (charts/lifeboat/values.yaml documents each)." },
    "LifeboatValues",
    { bannerComment: "", additionalProperties: false, format: true, strictIndexSignatures: false, ignoreMinAndMaxItems: true },
  );
  return [
    "// Generated from charts/lifeboat/values.schema.json by `npm run generate`. Do not edit.",
    `import type { ${[...new Set(used)].sort().join(", ")} } from "@kubernetes/client-node";`,
    "",
    compiled.trim(),
    "",
  ].join("\n");
}

/** The helm binary: LIFEBOAT_HELM, or the test bed's (built on first use). */
export async function helmBinary(): Promise<string> {
  const explicit = process.env.LIFEBOAT_HELM;
  if (explicit) return explicit;
  return join(await ensureComponent("helm", (line) => process.stderr.write(`${line}\n`)), "helm");
}

/** Renders every generated file of the cdk8s library: path relative to the repository → content. */
export async function render(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  files.set(join("cdk8s", "generated", "lifeboat.io.ts"), await importedKinds());
  files.set(join("cdk8s", "generated", "values.ts"), await valuesTypes());
  files.set(join("deploy", "lifeboat.yaml"), renderManifest(await helmBinary()));
  return files;
}

async function main(): Promise<void> {
  await writeOrCheck(await render(), repoRoot, "Generated cdk8s files", process.argv.includes("--check"));
}

await main();
