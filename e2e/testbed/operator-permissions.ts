import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import * as k8s from "@kubernetes/client-node";
import ts from "typescript";
import { GROUP } from "../../operator/src/api/common.js";
import { kinds } from "../../operator/src/api/kinds.js";
import { repoRoot } from "./paths.js";

/**
 * The Kubernetes API permissions the operator's code uses, read from its
 * source (the TypeScript syntax tree, no type checker), so that the chart's
 * RBAC can be compared with what the code calls rather than with a list kept
 * by hand (e2e/testbed/rbac.test.ts). What kubebuilder's RBAC markers declare
 * next to the code, this derives from the calls themselves; where a call does
 * not say statically what it touches, derivation fails with a problem instead
 * of guessing. The code reaches the API server in four ways, each read here:
 *
 *  - client-node API clients (`x.core.listNamespacedPod(...)`): the client's
 *    class comes from how the receiver's name is declared somewhere in the
 *    source (`core: k8s.CoreV1Api`), the verb, resource and subresource from
 *    the method's name (client-node's generator names them
 *    `{read|list|create|replace|patch|delete}[Namespaced]{Kind}[Status]`),
 *    the API group from the class. CustomObjectsApi calls name their
 *    lifeboat.io resource in `plural:` (a literal or `pluralOf("Kind")`).
 *  - the Kube wrapper (operator/src/runtime/kube.ts), always reached as
 *    `kube`: its methods whose plural is `pluralOf(kind)` take the kind from
 *    the call site's first argument, a string literal, or (get, list, status
 *    and finalizer writes: the generic reconcile loop) every kind. create and
 *    delete must name a literal kind: they are the permissions kept narrow.
 *  - informers, made only by Manager.informer(kind): list and watch, on a
 *    lifeboat.io kind or on a core/v1 kind (`Secret`, `Pod`), every
 *    lifeboat.io kind when the argument is not a literal.
 *  - controllerRef(owner): objects created with blockOwnerDeletion, which
 *    OwnerReferencesPermissionEnforcement allows only to who may update the
 *    owner's finalizers; the owner's kind is not in the syntax, so every kind.
 *
 * Scope: calls in leader-election.ts are on the release namespace (the
 * Lease); all others on the watched namespaces. operator/src/cli is the
 * kubectl plugin, which runs with its user's own credentials, and tests are
 * not the operator: both are left out. Worker pods run without a
 * service-account token (automountServiceAccountToken: false) and call no
 * Kubernetes API.
 */

/** Where a permission is used: the watched namespaces, or the release namespace (leader election). */
export type Scope = "watched" | "release";

/** One use of a permission in the source. */
export interface Site {
  readonly file: string;
  readonly line: number;
}

/** "group resource verb", e.g. "batch jobs create"; the core group is "core". */
export type PermissionKey = string;

export interface Derivation {
  /** Each scope's permissions, with where each is used. */
  readonly permissions: Record<Scope, Map<PermissionKey, Site[]>>;
  /** Calls whose permissions cannot be read from the syntax: each fails the RBAC test. */
  readonly problems: string[];
}

/** The API group of each client-node API class the operator may use. A class not listed is a problem to add here. */
export const API_GROUPS: Readonly<Record<string, string>> = {
  CoreV1Api: "",
  BatchV1Api: "batch",
  CoordinationV1Api: "coordination.k8s.io",
};

/** Files whose API calls are on the release namespace. */
const RELEASE_NAMESPACE_FILES = new Set(["operator/src/runtime/leader-election.ts"]);
const KUBE_FILE = "operator/src/runtime/kube.ts";
const MANAGER_FILE = "operator/src/runtime/manager.ts";

export function permissionKey(group: string, resource: string, verb: string): PermissionKey {
  return `${group || "core"} ${resource} ${verb}`;
}

/** The resource name of a kind, as Kubernetes pluralises the built-in ones. */
function resourceOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (lower.endsWith("s")) return `${lower}es`;
  if (lower.endsWith("y")) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

const VERB_PREFIXES: readonly (readonly [string, string])[] = [
  ["deleteCollection", "deletecollection"],
  ["read", "get"],
  ["list", "list"],
  ["create", "create"],
  ["replace", "update"],
  ["patch", "patch"],
  ["delete", "delete"],
];

/** verb, resource and subresource of a typed client-node method, e.g. readNamespacedPodLog: get pods/log. */
export function parseClientMethod(method: string): { verb: string; resource: string } | undefined {
  for (const [prefix, verb] of VERB_PREFIXES) {
    if (!method.startsWith(prefix) || !/^[A-Z]/.test(method.slice(prefix.length))) continue;
    let rest = method.slice(prefix.length).replace(/^Namespaced/, "").replace(/ForAllNamespaces$/, "");
    let sub = "";
    for (const s of ["Status", "Log"]) {
      if (rest.endsWith(s) && rest.length > s.length) {
        sub = `/${s.toLowerCase()}`;
        rest = rest.slice(0, -s.length);
        break;
      }
    }
    return { verb, resource: `${resourceOf(rest)}${sub}` };
  }
  return undefined;
}

/** verb and subresource of a CustomObjectsApi method, e.g. replaceNamespacedCustomObjectStatus: update, /status. */
function parseCustomMethod(method: string): { verb: string; sub: string } | undefined {
  const m = /^(get|list|create|replace|patch|delete)(?:Namespaced|Cluster)?CustomObject(Status|Scale)?$/.exec(method);
  if (!m) return undefined;
  const verb = m[1] === "replace" ? "update" : (m[1] ?? "");
  return { verb, sub: m[2] ? `/${m[2].toLowerCase()}` : "" };
}

/** Every client-node API class, by name: to recognise an API call whose client this cannot tell. */
const clientClasses: ReadonlyMap<string, { prototype: object }> = new Map(
  Object.entries(k8s as unknown as Record<string, unknown>).filter((e): e is [string, { prototype: object }] => e[0].endsWith("Api") && typeof e[1] === "function"),
);

function isClientMethod(className: string, method: string): boolean {
  const proto = clientClasses.get(className)?.prototype as Record<string, unknown> | undefined;
  return typeof proto?.[method] === "function";
}

function anyClientHas(method: string): boolean {
  for (const name of clientClasses.keys()) if (isClientMethod(name, method)) return true;
  return false;
}

/** The last name of an expression: `this.opts.kube` → kube, `core` → core. */
function lastName(e: ts.Expression): string | undefined {
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isNonNullExpression(e) || ts.isParenthesizedExpression(e)) return lastName(e.expression);
  return undefined;
}

/** `k8s.CoreV1Api` (a type or a value) → CoreV1Api. */
function clientClassName(node: ts.Node | undefined): string | undefined {
  if (!node) return undefined;
  if (ts.isTypeReferenceNode(node)) node = node.typeName;
  if (ts.isQualifiedName(node) && node.right.text.endsWith("Api")) return node.right.text;
  if (ts.isPropertyAccessExpression(node) && node.name.text.endsWith("Api")) return node.name.text;
  if (ts.isCallExpression(node) && lastName(node.expression) === "makeApiClient") return clientClassName(node.arguments[0]);
  return undefined;
}

export interface Source {
  /** Path relative to the repository root. */
  readonly path: string;
  readonly text: string;
}

/** The operator's sources: operator/src without the kubectl plugin and the tests. */
export async function operatorSources(): Promise<Source[]> {
  const root = join(repoRoot, "operator", "src");
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const paths = entries
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") && !e.name.endsWith(".d.ts"))
    .map((e) => relative(repoRoot, join(e.parentPath, e.name)))
    .filter((p) => !p.startsWith("operator/src/cli/"))
    .sort();
  return Promise.all(paths.map(async (path) => ({ path, text: await readFile(join(repoRoot, path), "utf8") })));
}

/** The string value of a literal argument, or undefined. */
function literal(e: ts.Expression | undefined): string | undefined {
  return e && (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) ? e.text : undefined;
}

/** The `plural:` of a CustomObjectsApi call's parameter object: a plural, "dynamic" for `pluralOf(<not a literal>)`, or undefined when unreadable. */
function pluralArgument(call: ts.CallExpression): string | undefined {
  const params = call.arguments[0];
  if (!params || !ts.isObjectLiteralExpression(params)) return undefined;
  for (const p of params.properties) {
    if (!ts.isPropertyAssignment(p) || !ts.isIdentifier(p.name) || p.name.text !== "plural") continue;
    const value = literal(p.initializer);
    if (value !== undefined) return value;
    if (ts.isCallExpression(p.initializer) && lastName(p.initializer.expression) === "pluralOf") {
      const kind = literal(p.initializer.arguments[0]);
      if (kind === undefined) return "dynamic";
      return kinds.find((k) => k.kind === kind)?.plural;
    }
  }
  return undefined;
}

/** Walks every node of a file, telling `visit` the Kube method it is in (kube.ts only). */
function walk(file: ts.SourceFile, path: string, visit: (node: ts.Node, kubeMethod: string | undefined) => void): void {
  const go = (node: ts.Node, kubeMethod: string | undefined): void => {
    let inMethod = kubeMethod;
    if (path === KUBE_FILE && ts.isMethodDeclaration(node) && ts.isIdentifier(node.name) && ts.isClassDeclaration(node.parent) && node.parent.name?.text === "Kube") inMethod = node.name.text;
    visit(node, inMethod);
    ts.forEachChild(node, (child) => { go(child, inMethod); });
  };
  go(file, undefined);
}

/** Derives the permissions the given sources use (see the module comment). */
export function derivePermissions(sources: readonly Source[]): Derivation {
  const permissions: Record<Scope, Map<PermissionKey, Site[]>> = { watched: new Map(), release: new Map() };
  const problems: string[] = [];
  const files = sources.map((s) => ({ path: s.path, file: ts.createSourceFile(s.path, s.text, ts.ScriptTarget.ES2022, true) }));
  const siteOf = (path: string, file: ts.SourceFile, node: ts.Node): Site => ({ file: path, line: file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1 });
  const where = (site: Site) => `${site.file}:${site.line}`;
  const add = (scope: Scope, key: PermissionKey, site: Site) => {
    const sites = permissions[scope].get(key) ?? [];
    sites.push(site);
    permissions[scope].set(key, sites);
  };
  const allKinds = kinds.map((k) => k.kind);

  // Pass 1: which client class each receiver name holds, and which Kube
  // methods take their lifeboat.io kind from their caller.
  const clients = new Map<string, string>();
  const kubeMethods = new Map<string, { verb: string; sub: string }[]>();
  for (const { path, file } of files) {
    walk(file, path, (node, kubeMethod) => {
      if ((ts.isPropertyDeclaration(node) || ts.isParameter(node) || ts.isVariableDeclaration(node)) && ts.isIdentifier(node.name)) {
        const cls = clientClassName(node.type) ?? clientClassName(node.initializer);
        if (cls) {
          const known = clients.get(node.name.text);
          if (known && known !== cls) problems.push(`${where(siteOf(path, file, node))}: "${node.name.text}" holds a ${cls} here and a ${known} elsewhere; name API clients apart so that their calls can be told apart`);
          clients.set(node.name.text, cls);
        }
        // Kube is always reached as `kube`: the calls below are found by that name.
        if (node.type && ts.isTypeReferenceNode(node.type) && ts.isIdentifier(node.type.typeName) && node.type.typeName.text === "Kube" && node.name.text !== "kube") {
          problems.push(`${where(siteOf(path, file, node))}: a Kube named "${node.name.text}"; name it kube, so that its calls are found`);
        }
      }
      if (kubeMethod && ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
        const custom = parseCustomMethod(node.expression.name.text);
        if (custom && pluralArgument(node) === "dynamic") kubeMethods.set(kubeMethod, [...(kubeMethods.get(kubeMethod) ?? []), custom]);
      }
    });
  }

  // Pass 2: every call.
  for (const { path, file } of files) {
    const scope: Scope = RELEASE_NAMESPACE_FILES.has(path) ? "release" : "watched";
    walk(file, path, (node, kubeMethod) => {
      if (ts.isNewExpression(node) && lastName(node.expression) === "Informer" && path !== MANAGER_FILE) {
        problems.push(`${where(siteOf(path, file, node))}: an Informer made outside Manager.informer; make it there, so that its list and watch are derived`);
      }
      if (!ts.isCallExpression(node)) return;
      const site = siteOf(path, file, node);
      const callee = node.expression;
      const name = lastName(callee);
      if (name === "controllerRef" && path !== KUBE_FILE) {
        for (const kind of kinds) add(scope, permissionKey(GROUP, `${kind.plural}/finalizers`, "update"), site);
        return;
      }
      if (!ts.isPropertyAccessExpression(callee)) return;
      const method = callee.name.text;
      const receiver = lastName(callee.expression);

      if (receiver === "kube" && kubeMethods.has(method)) {
        const kindArg = literal(node.arguments[0]);
        if (kindArg !== undefined && !allKinds.includes(kindArg)) problems.push(`${where(site)}: kube.${method}("${kindArg}"): not a lifeboat.io kind`);
        if (kindArg === undefined && (method === "create" || method === "delete")) {
          problems.push(`${where(site)}: kube.${method} with a kind that is not a string literal; name the kind, so that ${method} is granted on it only`);
          return;
        }
        const targets = kindArg === undefined ? kinds : kinds.filter((k) => k.kind === kindArg);
        for (const { verb, sub } of kubeMethods.get(method) ?? []) {
          for (const k of targets) add(scope, permissionKey(GROUP, `${k.plural}${sub}`, verb), site);
        }
        return;
      }

      if (path === MANAGER_FILE && method === "informer" && callee.expression.kind === ts.SyntaxKind.ThisKeyword) {
        const kindArg = literal(node.arguments[0]);
        const def = kinds.find((k) => k.kind === kindArg);
        const resources = kindArg === undefined ? kinds.map((k) => [GROUP, k.plural] as const) : def ? [[GROUP, def.plural] as const] : [["", `${kindArg.toLowerCase()}s`] as const];
        for (const [group, resource] of resources) for (const verb of ["list", "watch"]) add(scope, permissionKey(group, resource, verb), site);
        return;
      }

      const cls = receiver === undefined ? undefined : clients.get(receiver);
      if (cls === undefined) {
        if (anyClientHas(method) && parseClientMethod(method) && !["get", "list", "delete"].includes(method)) {
          problems.push(`${where(site)}: ${receiver ?? "?"}.${method}(...) looks like a Kubernetes API call on a client this cannot tell; declare "${receiver ?? "?"}" with its client type (e.g. core: k8s.CoreV1Api)`);
        }
        return;
      }
      if (!isClientMethod(cls, method)) return;
      if (cls === "CustomObjectsApi") {
        const custom = parseCustomMethod(method);
        const plural = pluralArgument(node);
        if (!custom) problems.push(`${where(site)}: ${cls}.${method} is not a call this knows the verb of`);
        else if (plural === "dynamic" && kubeMethod) return; // derived at the Kube method's call sites
        else if (plural === undefined || plural === "dynamic") problems.push(`${where(site)}: ${cls}.${method} with a plural that is neither a literal nor pluralOf("Kind")`);
        else add(scope, permissionKey(GROUP, `${plural}${custom.sub}`, custom.verb), site);
        return;
      }
      const group = API_GROUPS[cls];
      const parsed = parseClientMethod(method);
      if (group === undefined) problems.push(`${where(site)}: ${cls}.${method}: add ${cls}'s API group to API_GROUPS`);
      else if (!parsed) problems.push(`${where(site)}: ${cls}.${method} is not a call this knows the verb of`);
      else add(scope, permissionKey(group, parsed.resource, parsed.verb), site);
    });
  }
  return { permissions, problems };
}

/** One rule of a Role or ClusterRole. */
export interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly verbs?: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
}

/** The permissions rules grant, one key per (group, resource, verb). */
export function grantedBy(rules: readonly PolicyRule[]): Set<PermissionKey> {
  const keys = new Set<PermissionKey>();
  for (const r of rules) {
    for (const g of r.apiGroups ?? []) for (const res of r.resources ?? []) for (const v of r.verbs ?? []) keys.add(permissionKey(g, res, v));
  }
  return keys;
}

/**
 * What the chart grants that the code does not use, and what the code uses
 * that the chart does not grant, each as a line naming the permission (and,
 * for a missing one, where the code uses it).
 */
export function compare(used: ReadonlyMap<PermissionKey, readonly Site[]>, granted: ReadonlySet<PermissionKey>): { missing: string[]; extra: string[] } {
  const missing = [...used].filter(([key]) => !granted.has(key)).map(([key, sites]) => `${key} (used at ${sites.slice(0, 3).map((s) => `${s.file}:${s.line}`).join(", ")})`).sort();
  const extra = [...granted].filter((key) => !used.has(key)).sort();
  return { missing, extra };
}
