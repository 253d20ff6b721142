import { beforeAll, describe, expect, it } from "@jest/globals";
import yaml from "js-yaml";
import { runCommand } from "./command.js";
import { binary } from "./components.js";
import { compare, derivePermissions, grantedBy, operatorSources, type Derivation, type PolicyRule, type Source } from "./operator-permissions.js";
import { repoRoot } from "./paths.js";

/**
 * Least privilege: the chart grants the operator exactly the API verbs its
 * code calls, both ways. The code's side is derived from operator/src
 * (operator-permissions.ts); the chart's is what `helm template` renders.
 * A verb the code calls that the chart lacks would fail in a cluster at the
 * first such call; a verb the chart grants that no code calls is privilege
 * for an attacker who takes over the operator. Either fails here, naming it.
 */

/** helm's first build takes minutes (cached in ~/.cache/lifeboat after). */
const BUILD_TIMEOUT_MS = 45 * 60_000;
const RELEASE_NAMESPACE = "lifeboat-system";

interface Rbac {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly rules?: readonly PolicyRule[];
  readonly roleRef?: { readonly kind: string; readonly name: string };
}

let helm = "";
let sources: Source[] = [];
let derived: Derivation;

beforeAll(async () => {
  helm = await binary("helm", "helm");
  sources = await operatorSources();
  derived = derivePermissions(sources);
}, BUILD_TIMEOUT_MS);

/** The RBAC objects `helm template` renders with some values. */
async function renderRbac(args: readonly string[] = []): Promise<Rbac[]> {
  const { stdout } = await runCommand(helm, ["template", "lifeboat", "charts/lifeboat", "--namespace", RELEASE_NAMESPACE, ...args], { cwd: repoRoot });
  return (yaml.loadAll(stdout) as (Rbac | null)[]).filter((d): d is Rbac => d !== null && /^(Cluster)?Role(Binding)?$/.test(d.kind));
}

const leaderRole = (docs: readonly Rbac[]) => docs.find((d) => d.kind === "Role" && d.metadata.name === "lifeboat-leader-election");

describe("the operator's permissions, derived from its code", () => {
  it("are all readable from the source: no call whose resource or verb it cannot tell", () => {
    expect(derived.problems).toEqual([]);
    expect(sources.length).toBeGreaterThan(50);
  });

  it("are what the code is known to call (the derivation finds them)", () => {
    const watched = [...derived.permissions.watched.keys()];
    expect(watched).toEqual(expect.arrayContaining([
      "batch jobs create", "batch jobs delete", "batch jobs get", "core pods watch", "core secrets get", "core secrets watch", "core events create",
      "lifeboat.io recoverypoints create", "lifeboat.io restorejobs create", "lifeboat.io vcenters get", "lifeboat.io vcenters/status update", "lifeboat.io backupvaults patch",
    ]));
    // The operator makes no VCenter, patches no Job, reads no ConfigMap.
    expect(watched).not.toContain("lifeboat.io vcenters create");
    expect(watched).not.toContain("batch jobs patch");
    expect(watched.filter((k) => k.startsWith("core configmaps"))).toEqual([]);
    expect([...derived.permissions.release.keys()].sort()).toEqual(["coordination.k8s.io leases create", "coordination.k8s.io leases get", "coordination.k8s.io leases update"]);
    // Sites point at the calls.
    expect(derived.permissions.watched.get("lifeboat.io recoverypoints create")?.map((s) => s.file)).toEqual(expect.arrayContaining(["operator/src/controllers/backup-vault-controller.ts"]));
  });
});

describe("the chart's RBAC", () => {
  it("watching all namespaces: the ClusterRole grants exactly what the code calls there, the release namespace's Role exactly the Lease", async () => {
    const docs = await renderRbac();
    const clusterRoles = docs.filter((d) => d.kind === "ClusterRole");
    expect(clusterRoles.map((d) => d.metadata.name)).toEqual(["lifeboat"]);
    expect(compare(derived.permissions.watched, grantedBy(clusterRoles[0]?.rules ?? []))).toEqual({ missing: [], extra: [] });
    expect(compare(derived.permissions.release, grantedBy(leaderRole(docs)?.rules ?? []))).toEqual({ missing: [], extra: [] });
    // Nothing else grants anything.
    expect(docs.filter((d) => d.rules).map((d) => `${d.kind}/${d.metadata.namespace ?? ""}/${d.metadata.name}`).sort()).toEqual(["ClusterRole//lifeboat", "Role/lifeboat-system/lifeboat-leader-election"]);
  });

  it("with watchNamespaces: each namespace's Role grants exactly what the code calls, and nothing is cluster-wide", async () => {
    const docs = await renderRbac(["--set", "watchNamespaces={team-a,team-b}"]);
    expect(docs.filter((d) => d.kind.startsWith("Cluster"))).toEqual([]);
    for (const ns of ["team-a", "team-b"]) {
      const role = docs.find((d) => d.kind === "Role" && d.metadata.namespace === ns);
      expect({ ns, ...compare(derived.permissions.watched, grantedBy(role?.rules ?? [])) }).toEqual({ ns, missing: [], extra: [] });
      const binding = docs.find((d) => d.kind === "RoleBinding" && d.metadata.namespace === ns);
      expect(binding?.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "lifeboat" });
    }
    expect(compare(derived.permissions.release, grantedBy(leaderRole(docs)?.rules ?? []))).toEqual({ missing: [], extra: [] });
    expect(docs.filter((d) => d.rules).map((d) => `${d.kind}/${d.metadata.namespace ?? ""}/${d.metadata.name}`).sort()).toEqual(["Role/lifeboat-system/lifeboat-leader-election", "Role/team-a/lifeboat", "Role/team-b/lifeboat"]);
  });
});

describe("the comparison", () => {
  /** The operator's sources plus one more file. */
  const withFile = (text: string): Source[] => [...sources, { path: "operator/src/controllers/extra.ts", text }];

  it("names a verb the code calls that the chart does not grant, with where it is called", async () => {
    const more = derivePermissions(withFile([
      "export async function touch(ctx: ReconcileContext, ns: string): Promise<void> {",
      "  await ctx.kube.batch.patchNamespacedJob({ namespace: ns, name: \"x\", body: {} });",
      "  await ctx.kube.core.readNamespacedConfigMap({ namespace: ns, name: \"x\" });",
      "  await ctx.kube.delete(\"VCenter\", ns, \"x\");",
      "}",
    ].join("\n")));
    expect(more.problems).toEqual([]);
    const clusterRole = (await renderRbac()).find((d) => d.kind === "ClusterRole");
    expect(compare(more.permissions.watched, grantedBy(clusterRole?.rules ?? []))).toEqual({
      missing: ["batch jobs patch (used at operator/src/controllers/extra.ts:2)", "core configmaps get (used at operator/src/controllers/extra.ts:3)", "lifeboat.io vcenters delete (used at operator/src/controllers/extra.ts:4)"],
      extra: [],
    });
  });

  it("names a verb the chart grants that the code does not call", () => {
    const granted = grantedBy([{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }, { apiGroups: ["batch"], resources: ["jobs"], verbs: ["patch"] }]);
    for (const key of derived.permissions.watched.keys()) granted.add(key);
    expect(compare(derived.permissions.watched, granted)).toEqual({ missing: [], extra: ["batch jobs patch", "core configmaps get", "core configmaps list"] });
  });

  it("refuses calls whose permission the syntax does not tell: a create of a kind in a variable, an API client it cannot place", () => {
    const more = derivePermissions(withFile([
      "export async function make(ctx: ReconcileContext, kind: string, obj: LifeboatObject, client: k8s.AppsV1Api, other: Client): Promise<void> {",
      "  await ctx.kube.create(kind, obj);",
      "  await client.listNamespacedDeployment({ namespace: \"x\" });",
      "  await other.listNamespacedPod({ namespace: \"x\" });",
      "}",
    ].join("\n")));
    expect(more.problems).toEqual([
      expect.stringMatching(/^operator\/src\/controllers\/extra.ts:2: kube.create with a kind that is not a string literal/),
      expect.stringMatching(/^operator\/src\/controllers\/extra.ts:3: AppsV1Api.listNamespacedDeployment: add AppsV1Api's API group/),
      expect.stringMatching(/^operator\/src\/controllers\/extra.ts:4: other.listNamespacedPod\(...\) looks like a Kubernetes API call/),
    ]);
  });
});
