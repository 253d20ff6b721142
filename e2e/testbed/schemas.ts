import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import yaml from "js-yaml";
import { runCommand } from "./command.js";
import { KUBERNETES_VERSION } from "./components.js";
import { cacheDir, repoRoot } from "./paths.js";

/**
 * JSON schemas for kubeconform, made on this machine: its default schema
 * location is on GitHub, which the test bed never reaches. Two sources, both
 * converted the way kubeconform's openapi2jsonschema does in strict mode:
 *
 * - Kubernetes' built-in kinds from the OpenAPI (swagger 2) spec in the
 *   `k8s.io/kubernetes` module at the version the test bed runs, written once
 *   into the build cache in kubeconform's own layout
 *   (`<dir>/v1.36.3-standalone-strict/deployment-apps-v1.json`);
 * - custom resources from CRD YAML (ours in crds/, the Prometheus Operator's
 *   from its Go module), one file per served version.
 *
 * No npm package does this: the OpenAPI-to-JSON-Schema converters on npm know
 * neither the Kubernetes extensions (`x-kubernetes-int-or-string`,
 * `x-kubernetes-preserve-unknown-fields`) nor strictness. The rules, each the
 * API server's own behaviour:
 *
 * - strict: an object schema that lists `properties` refuses any other field
 *   (`additionalProperties: false`), as the API server drops or refuses
 *   unknown fields, unless it preserves unknown fields. Branches of
 *   `allOf`/`anyOf`/`oneOf`/`not` are value validations, not structure (a
 *   structural schema declares every field outside them), so they stay open;
 * - int-or-string (`x-kubernetes-int-or-string`, swagger's `int-or-string`
 *   format) accepts an integer or a string;
 * - a Quantity accepts a string or a number (`cpu: 1`), as its JSON decoding does;
 * - `nullable: true` adds null to the type. Other fields refuse null: a null in
 *   a manifest we ship is a mistake even where the API server would ignore it.
 *
 * Where openapi2jsonschema inlines every `$ref`, this keeps each file
 * standalone by copying the definitions it reaches into its own
 * `definitions` (the same thing, and it terminates on recursive types such as
 * the CRD's JSONSchemaProps). Descriptions are dropped: they are most of the bytes.
 */

export type JsonSchema = { [key: string]: unknown };

/** Keywords whose value is one schema. */
const SCHEMA_KEYWORDS = ["additionalProperties", "items", "not", "additionalItems"] as const;
/** Keywords whose value is a list of value validations. */
const BRANCH_KEYWORDS = ["allOf", "anyOf", "oneOf"] as const;

function isObject(value: unknown): value is JsonSchema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * One OpenAPI schema node (a CRD's openAPIV3Schema or a swagger definition),
 * made into a strict draft-04 JSON schema; `branch` is true inside a value
 * validation (allOf/anyOf/oneOf/not), which stays open.
 */
export function strictSchema(node: unknown, branch = false): unknown {
  if (Array.isArray(node)) return node.map((n) => strictSchema(n, branch));
  if (!isObject(node)) return node;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "description" || key === "nullable") continue;
    if (key === "properties" || key === "definitions" || key === "patternProperties") {
      out[key] = Object.fromEntries(Object.entries(value as JsonSchema).map(([name, s]) => [name, strictSchema(s, false)]));
    } else if ((SCHEMA_KEYWORDS as readonly string[]).includes(key)) {
      out[key] = strictSchema(value, branch || key === "not");
    } else if ((BRANCH_KEYWORDS as readonly string[]).includes(key)) {
      out[key] = (value as unknown[]).map((s) => strictSchema(s, true));
    } else {
      // Data, not schemas: enum, default, example, x-kubernetes-validations, ...
      out[key] = value;
    }
  }
  if (node["x-kubernetes-int-or-string"] === true || node.format === "int-or-string") {
    delete out.type;
    delete out.format;
    if (!out.anyOf && !out.oneOf) out.anyOf = [{ type: "integer" }, { type: "string" }];
  }
  if (node.nullable === true) {
    if (typeof out.type === "string") out.type = [out.type, "null"];
    if (Array.isArray(out.enum)) out.enum = [...(out.enum as unknown[]), null];
  }
  if (!branch && isObject(out.properties) && out.additionalProperties === undefined && node["x-kubernetes-preserve-unknown-fields"] !== true) {
    out.additionalProperties = false;
  }
  return out;
}

/** kubeconform's file name for a kind: `{{.ResourceKind}}{{.KindSuffix}}.json` (pkg/registry/registry.go). */
export function schemaFileName(kind: string, group: string, version: string): string {
  const suffix = group === "" ? `-${version}` : `-${group.split(".")[0]}-${version}`;
  return `${kind}${suffix}.json`.toLowerCase();
}

interface Crd {
  kind: string;
  spec: {
    group: string;
    names: { kind: string };
    versions: { name: string; served?: boolean; schema?: { openAPIV3Schema?: unknown } }[];
  };
}

/**
 * The JSON schemas of every CRD in a YAML stream, by kubeconform file name;
 * with `objectMeta` (objectMetaSchema), each resource's metadata is held to it.
 */
export function crdSchemas(text: string, objectMeta?: JsonSchema): Map<string, JsonSchema> {
  const schemas = new Map<string, JsonSchema>();
  for (const doc of yaml.loadAll(text) as (Crd | null)[]) {
    if (doc?.kind !== "CustomResourceDefinition") continue;
    for (const version of doc.spec.versions) {
      const source = version.schema?.openAPIV3Schema;
      if (version.served === false || !source) continue;
      const name = schemaFileName(doc.spec.names.kind, doc.spec.group, version.name);
      if (schemas.has(name)) throw new Error(`Two CRD versions give the schema file ${name}`);
      const schema = strictSchema(source) as JsonSchema;
      schemas.set(name, objectMeta ? withObjectMeta(schema, objectMeta) : schema);
    }
  }
  return schemas;
}

export interface Swagger {
  definitions: Record<string, JsonSchema>;
}

/** The `#/definitions/...` names a schema refers to. */
function refs(node: unknown, found: Set<string>): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => refs(n, found));
  else if (isObject(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string" && value.startsWith("#/definitions/")) found.add(value.slice("#/definitions/".length));
      else refs(value, found);
    }
  }
  return found;
}

/**
 * The standalone strict schema of every kind in a Kubernetes swagger spec,
 * by kubeconform file name. Definitions shared by many groups
 * (DeleteOptions, WatchEvent) are no kind one writes in a manifest and are left out.
 */
export function kubernetesSchemas(swagger: Swagger): Map<string, JsonSchema> {
  const definitions: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(swagger.definitions)) definitions[name] = strictSchema(def);
  // As openapi2jsonschema's --kubernetes: the two string-encoded types that also take numbers.
  definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = { anyOf: [{ type: "integer" }, { type: "string" }] };
  definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"] = { anyOf: [{ type: "string" }, { type: "number" }] };

  const schemas = new Map<string, JsonSchema>();
  for (const [name, def] of Object.entries(swagger.definitions)) {
    const gvks = def["x-kubernetes-group-version-kind"] as { group: string; version: string; kind: string }[] | undefined;
    if (gvks?.length !== 1) continue;
    const [{ group, version, kind }] = gvks as [{ group: string; version: string; kind: string }];
    const file = schemaFileName(kind, group, version);
    if (schemas.has(file)) throw new Error(`Two definitions give the schema file ${file}`);
    schemas.set(file, { ...(definitions[name] as JsonSchema), definitions: reachable(definitions, name, definitions[name]) });
  }
  return schemas;
}

/** The definitions a schema refers to, directly or through each other: what its file must hold to stand alone. */
function reachable(definitions: Record<string, unknown>, name: string, schema: unknown): Record<string, unknown> {
  const reached = new Set<string>();
  const queue = [...refs(schema, new Set())];
  while (queue.length > 0) {
    const next = queue.pop() as string;
    if (reached.has(next)) continue;
    if (!(next in definitions)) throw new Error(`${name} refers to ${next}, which the spec does not define`);
    reached.add(next);
    queue.push(...refs(definitions[next], new Set()));
  }
  return Object.fromEntries([...reached].sort().map((r) => [r, definitions[r]]));
}

const OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/**
 * Kubernetes' ObjectMeta as a standalone strict schema. A CRD declares a custom
 * resource's metadata as a bare `type: object`, yet the API server holds it to
 * ObjectMeta like any object's, so a misspelt `namepsace` must not pass either.
 */
export function objectMetaSchema(swagger: Swagger): JsonSchema {
  const definitions: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(swagger.definitions)) definitions[name] = strictSchema(def);
  const ref = { $ref: `#/definitions/${OBJECT_META}` };
  return { ...ref, definitions: reachable(definitions, OBJECT_META, ref) };
}

/** A CRD version's schema with its root metadata held to ObjectMeta (a schema from objectMetaSchema). */
function withObjectMeta(schema: JsonSchema, objectMeta: JsonSchema): JsonSchema {
  const properties = schema.properties as JsonSchema | undefined;
  if (!properties?.metadata) return schema;
  const { definitions, ...ref } = objectMeta;
  return { ...schema, properties: { ...properties, metadata: ref }, definitions: { ...(schema.definitions as JsonSchema | undefined), ...(definitions as JsonSchema) } };
}

/** Writes schemas as files into a new directory `dir`, atomically (a half-written directory never stays). */
async function writeSchemas(dir: string, schemas: Map<string, JsonSchema>): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  for (const [file, schema] of schemas) await writeFile(join(tmp, file), JSON.stringify(schema));
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}

/** `go mod download -json MODULE@VERSION` in a wrapper module: the module's directory in GOMODCACHE, checked against go.sum. */
export async function goModuleDir(wrapper: string, module: string, version: string): Promise<string> {
  const { stdout } = await runCommand("go", ["mod", "download", "-json", `${module}@${version}`], { cwd: join(repoRoot, "e2e", "testbed", "go", wrapper) });
  const info = JSON.parse(stdout) as { Dir?: string; Error?: string };
  if (!info.Dir || info.Error) throw new Error(`go mod download ${module}@${version} failed: ${info.Error ?? "no Dir"}`);
  return info.Dir;
}

/** The version a wrapper module's go.mod requires of a module. */
export async function requiredVersion(wrapper: string, module: string): Promise<string> {
  const goMod = await readFile(join(repoRoot, "e2e", "testbed", "go", wrapper, "go.mod"), "utf8");
  const match = new RegExp(`^\\s*(?:require\\s+)?${module.replaceAll(".", "\\.")}\\s+(v\\S+)`, "m").exec(goMod);
  if (!match?.[1]) throw new Error(`e2e/testbed/go/${wrapper}/go.mod does not require ${module}`);
  return match[1];
}

/**
 * The kubeconform schema location of Kubernetes' built-in kinds at the test
 * bed's version: a directory in the build cache, keyed by the version and by
 * this converter's source, holding `v<version>-standalone-strict/`. Pass it as
 * `-schema-location DIR -kubernetes-version <version without v> -strict`.
 */
export async function kubernetesSchemaLocation(): Promise<string> {
  const converter = await readFile(join(repoRoot, "e2e", "testbed", "schemas.ts"));
  const key = createHash("sha256").update(converter).digest("hex").slice(0, 12);
  const root = join(cacheDir(), "schemas", `kubernetes-${KUBERNETES_VERSION}-${key}`);
  const dir = join(root, `${KUBERNETES_VERSION}-standalone-strict`);
  if (existsSync(dir)) return root;
  await mkdir(root, { recursive: true });
  await writeSchemas(dir, kubernetesSchemas(await kubernetesOpenAPI()));
  return root;
}

/** Kubernetes' OpenAPI (swagger 2) spec at the test bed's version, from the k8s.io/kubernetes module (api/openapi-spec/swagger.json). */
export async function kubernetesOpenAPI(): Promise<Swagger> {
  const module = await goModuleDir("kube", "k8s.io/kubernetes", KUBERNETES_VERSION);
  return JSON.parse(await readFile(join(module, "api", "openapi-spec", "swagger.json"), "utf8")) as Swagger;
}

/** The CRDs whose kinds the judged manifests use: ours, and the Prometheus Operator's for the chart's monitoring objects. */
export async function crdFiles(): Promise<string[]> {
  const ours = (await readdir(join(repoRoot, "crds"))).filter((f) => f.endsWith(".yaml")).sort();
  const module = "github.com/prometheus-operator/prometheus-operator";
  const promOperator = await goModuleDir("prometheus-operator-crds", module, await requiredVersion("prometheus-operator-crds", module));
  return [
    ...ours.map((file) => join(repoRoot, "crds", file)),
    ...["prometheusrules", "servicemonitors"].map((name) => join(promOperator, "example", "prometheus-operator-crd", `monitoring.coreos.com_${name}.yaml`)),
  ];
}

/**
 * Writes the JSON schemas of the CRDs into `dir` (made anew: crds/ changes
 * with the code), metadata held to Kubernetes' ObjectMeta, and returns
 * kubeconform's schema location template for it.
 */
export async function crdSchemaLocation(dir: string, files: readonly string[]): Promise<string> {
  const objectMeta = objectMetaSchema(await kubernetesOpenAPI());
  const schemas = new Map<string, JsonSchema>();
  for (const file of files) {
    for (const [name, schema] of crdSchemas(await readFile(file, "utf8"), objectMeta)) {
      if (schemas.has(name)) throw new Error(`Two CRDs give the schema file ${name}`);
      schemas.set(name, schema);
    }
  }
  await writeSchemas(dir, schemas);
  return join(dir, "{{.ResourceKind}}{{.KindSuffix}}.json");
}
