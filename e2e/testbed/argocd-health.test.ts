import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "@jest/globals";
import yaml from "js-yaml";
import { GROUP } from "../../operator/src/api/common.js";
import { objectSchema } from "../../operator/src/api/crd.js";
import { kinds } from "../../operator/src/api/kinds.js";
import type { Schema } from "../../operator/src/api/schema.js";
import { validateObject } from "../../operator/src/api/validation.js";
import { runCommand } from "./command.js";
import { ensureComponent } from "./components.js";
import { repoRoot } from "./paths.js";

/**
 * Lifeboat's Argo CD health checks (argocd/resource_customizations), judged by
 * Argo CD's own Lua engine: the gopherlua component runs every health.lua
 * against its health_test.yaml with and without the standard libraries, as
 * Argo CD runs built-in and argocd-cm scripts. This file adds what the runner
 * cannot know: that every kind of the API has a check covering the states
 * that matter, that the test objects are objects the API accepts, and that
 * docs/argocd.md shows exactly the Lua files.
 */

const customizations = join(repoRoot, "argocd", "resource_customizations");
/** The gopher-lua version Argo CD v3.5.1's go.mod pins; e2e/testbed/go/gopherlua/go.mod must build with it. */
const ARGO_CD_GOPHER_LUA = "v1.1.2";
const groupDir = join(customizations, GROUP);

interface HealthTest {
  readonly healthStatus: { readonly status: string; readonly message?: string };
  readonly inputPath: string;
}

async function healthTests(kind: string): Promise<HealthTest[]> {
  const doc = yaml.load(await readFile(join(groupDir, kind, "health_test.yaml"), "utf8")) as { tests: HealthTest[] };
  return doc.tests;
}

/** Paths of fields in `value` that `schema` does not declare (the API server would drop them silently). */
function unknownFields(value: unknown, schema: Schema, path: string): string[] {
  if (Array.isArray(value)) return schema.items ? value.flatMap((v, i) => unknownFields(v, schema.items as Schema, `${path}[${i}]`)) : [];
  if (value === null || typeof value !== "object") return [];
  const found: string[] = [];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const declared = schema.properties?.[key];
    const additional = typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
    if (declared) found.push(...unknownFields(v, declared, `${path}.${key}`));
    else if (additional) found.push(...unknownFields(v, additional, `${path}.${key}`));
    else if (schema.properties && schema.additionalProperties !== true) found.push(`${path}.${key}`);
  }
  return found;
}

describe("Argo CD health checks", () => {
  let runner = "";

  beforeAll(async () => {
    // The first build downloads gopher-lua through the Go module proxy and compiles it: about a minute on two busy cores.
    runner = join(await ensureComponent("gopherlua", (line) => process.stderr.write(`${line}\n`)), "gopherlua");
  }, 900_000);

  it("give every expected status on Argo CD's Lua engine, with and without the standard libraries", async () => {
    const { stdout } = await runCommand(runner, [customizations]);
    const summary = stdout.trim().split("\n").at(-1);
    expect(summary).toMatch(new RegExp(`^github\\.com/yuin/gopher-lua ${ARGO_CD_GOPHER_LUA.replaceAll(".", "\\.")}: \\d+ passed, 0 failed, ${kinds.length} health checks$`));
  });

  it("cover every kind of the API with Healthy, Progressing and Degraded cases", async () => {
    const dirs = (await readdir(groupDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    expect(dirs).toEqual(kinds.map((k) => k.kind).sort());
    for (const { kind } of kinds) {
      const statuses = new Set((await healthTests(kind)).map((t) => t.healthStatus.status));
      for (const status of ["Healthy", "Progressing", "Degraded"]) {
        expect({ kind, has: statuses.has(status) }).toEqual({ kind, has: true });
      }
    }
    // The two states the issue names: a paused plan and a failed restore.
    expect((await healthTests("BackupPlan")).some((t) => t.healthStatus.status === "Suspended")).toBe(true);
    expect((await healthTests("RestoreJob")).some((t) => t.healthStatus.status === "Degraded" && t.inputPath.includes("failed"))).toBe(true);
  });

  it("test with objects the API accepts, each used by a test", async () => {
    for (const def of kinds) {
      const tests = await healthTests(def.kind);
      const files = (await readdir(join(groupDir, def.kind, "testdata"))).map((f) => `testdata/${f}`).sort();
      expect({ kind: def.kind, files }).toEqual({ kind: def.kind, files: [...new Set(tests.map((t) => t.inputPath))].sort() });
      for (const file of files) {
        const obj = yaml.load(await readFile(join(groupDir, def.kind, file), "utf8")) as Record<string, unknown>;
        const problems = [
          ...validateObject(def.kind, obj).map((p) => `${p.field}: ${p.message}`),
          ...unknownFields(obj, objectSchema(def), "").map((f) => `${f.slice(1)}: not in the ${def.kind} schema`),
        ];
        expect({ file: `${def.kind}/${file}`, apiVersion: obj.apiVersion, problems }).toEqual({ file: `${def.kind}/${file}`, apiVersion: `${GROUP}/v1alpha1`, problems: [] });
      }
    }
  });

  it("are shown in docs/argocd.md exactly as scripts/argocd-health-snippet.mjs prints them", async () => {
    const { stdout: generated } = await runCommand(process.execPath, [join(repoRoot, "scripts", "argocd-health-snippet.mjs")]);
    const doc = await readFile(join(repoRoot, "docs", "argocd.md"), "utf8");
    const block = /<!-- BEGIN argocd-cm[^\n]*-->\n```yaml\n([\s\S]*?)```\n<!-- END argocd-cm -->/.exec(doc);
    expect(block).not.toBeNull();
    // When this fails: node scripts/argocd-health-snippet.mjs --write-doc
    expect(block?.[1]).toBe(generated);

    // The YAML carries each Lua file unchanged, under the key Argo CD reads for its kind.
    const cm = yaml.load(generated) as { metadata: { name: string }; data: Record<string, string> };
    expect(cm.metadata.name).toBe("argocd-cm");
    expect(Object.keys(cm.data).sort()).toEqual(kinds.map((k) => `resource.customizations.health.${GROUP}_${k.kind}`).sort());
    for (const { kind } of kinds) {
      expect(cm.data[`resource.customizations.health.${GROUP}_${kind}`]).toBe(await readFile(join(groupDir, kind, "health.lua"), "utf8"));
    }
  });
});
