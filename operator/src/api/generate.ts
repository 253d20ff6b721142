/**
 * Generates everything derived from the API schemas: the CRD YAML in crds/
 * and charts/lifeboat/crds/, and the TypeScript types in operator/src/api/generated/types.ts;
 * and the chart's Grafana dashboard (charts/lifeboat/files/grafana-dashboard.json)
 * from operator/src/telemetry/dashboard.ts, so that CI's --check catches a stale one too.
 *
 *   node dist/operator/src/api/generate.js          write the files
 *   node dist/operator/src/api/generate.js --check  fail if they are stale
 */
import { join } from "node:path";
import { dump } from "js-yaml";
import { compile, type JSONSchema } from "json-schema-to-typescript";
import { repoRootOf } from "./repo-root.js";
import { API_VERSION, type KindDefinition } from "./common.js";
import { customResourceDefinition } from "./crd.js";
import { kinds } from "./kinds.js";
import { dashboardJson } from "../telemetry/dashboard.js";
import { writeOrCheck } from "./generated-files.js";

const root = repoRootOf(import.meta.url);

async function typesFor(def: KindDefinition): Promise<string> {
  const options = { bannerComment: "", additionalProperties: false, format: true, strictIndexSignatures: false, ignoreMinAndMaxItems: true } as const;
  const spec = await compile({ ...def.spec, title: `${def.kind}Spec` } as JSONSchema, `${def.kind}Spec`, options);
  const status = await compile({ ...def.status, title: `${def.kind}Status` } as JSONSchema, `${def.kind}Status`, options);
  const object = [
    `/** ${def.description} */`,
    `export interface ${def.kind} {`,
    `  apiVersion: "${API_VERSION}";`,
    `  kind: "${def.kind}";`,
    `  metadata: V1ObjectMeta;`,
    `  spec: ${def.kind}Spec;`,
    `  status?: ${def.kind}Status;`,
    `}`,
  ].join("\n");
  return [spec.trim(), status.trim(), object].join("\n\n");
}

/** Renders every generated file: path relative to the repository → content. */
export async function render(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const header = "# Generated from operator/src/api by `npm run generate`. Do not edit.\n";
  for (const def of kinds) {
    const yaml = header + dump(customResourceDefinition(def), { noRefs: true, lineWidth: -1, sortKeys: false });
    files.set(join("crds", `${def.plural}.lifeboat.io.yaml`), yaml);
    // Helm installs CRDs from the chart's crds/ directory before its templates.
    files.set(join("charts", "lifeboat", "crds", `${def.plural}.lifeboat.io.yaml`), yaml);
  }
  const types = await Promise.all(kinds.map(typesFor));
  files.set(
    join("operator", "src", "api", "generated", "types.ts"),
    [
      "// Generated from the schemas in operator/src/api by `npm run generate`. Do not edit.",
      'import type { V1ObjectMeta } from "@kubernetes/client-node";',
      "",
      ...types.map((t) => `${t}\n`),
    ].join("\n"),
  );
  files.set(join("charts", "lifeboat", "files", "grafana-dashboard.json"), dashboardJson());
  return files;
}

async function main(): Promise<void> {
  await writeOrCheck(await render(), root, "Generated files", process.argv.includes("--check"));
}

await main();
