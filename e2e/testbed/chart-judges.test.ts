import { spawn } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import yaml from "js-yaml";
import type * as k8s from "@kubernetes/client-node";
import type { Gateway } from "../../operator/src/api/generated/types.js";
import { DEFAULT_WORKER_PORT, type WorkerSpec } from "../../operator/src/worker/spec.js";
import { workerJob } from "../../operator/src/workloads/worker-job.js";
import { ensureComponent, KUBERNETES_VERSION } from "./components.js";
import { repoRoot } from "./paths.js";
import { crdFiles, crdSchemaLocation, kubernetesSchemaLocation } from "./schemas.js";

/**
 * The chart and every manifest Lifeboat ships, judged by the real tools, built
 * from their Go modules into the build cache like the test bed's components:
 * `helm lint --strict`, kubeconform -strict (against schemas made locally from
 * Kubernetes' OpenAPI spec and from the CRDs, e2e/testbed/schemas.ts),
 * helm-unittest (charts/lifeboat/tests) and kube-score. One file, so that a
 * cold cache builds each tool once rather than once per jest worker.
 */

/** The first builds take minutes on two busy cores (cached in ~/.cache/lifeboat after). */
const BUILD_TIMEOUT_MS = 45 * 60_000;
const TEST_TIMEOUT_MS = 120_000;

const chart = "charts/lifeboat";
const examples = "docs/examples";

/**
 * The values the chart is rendered with; kubeconform, kube-score and
 * `helm lint --strict` judge each. Every docs/examples/values-*.yaml is added
 * as `-f` (below). To judge another values set, add one line here.
 */
const valueSets: Record<string, readonly string[]> = {
  defaults: [],
  "Prometheus Operator objects": ["--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.interval=30s,metrics.serviceMonitor.scrapeTimeout=10s"],
  "Grafana dashboard": ["--set", "metrics.grafanaDashboard.enabled=true,metrics.grafanaDashboard.labels.team=storage,metrics.grafanaDashboard.annotations.folder=Backup"],
  "one replica, no leader election": ["--set", "replicaCount=1,leaderElection.enabled=false"],
  "watched namespaces, an existing ServiceAccount": ["--set", "watchNamespaces={prod,dev},serviceAccount.create=false,serviceAccount.name=lifeboat-operator"],
  "the deprecated single watchNamespace": ["--set", "watchNamespace=prod"],
  "NetworkPolicies for workers, egress restricted": [
    "--set", "watchNamespaces={prod},networkPolicy.workers.restrictEgress=true",
    "--set-json", 'networkPolicy.workers.egress=[{"to":[{"ipBlock":{"cidr":"10.0.10.0/24"}}],"ports":[{"protocol":"TCP","port":443}]}]',
    "--set-json", 'networkPolicy.metrics.from=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]',
  ],
  "no NetworkPolicies": ["--set", "networkPolicy.enabled=false"],
  "pod settings": ["--set", "podLabels.team=storage,podAnnotations.owner=storage,priorityClassName=system-cluster-critical,metrics.bindPodIP=true", "--set", "imagePullSecrets[0].name=registry,nodeSelector.kubernetes\\.io/os=linux"],
};

/**
 * Manifests checked in as they are (files, or directories of *.yaml), judged
 * by kubeconform besides the samples in docs/examples and the Argo CD health
 * checks' test objects. To judge another, add one line here.
 */
const manifests: readonly string[] = ["deploy/lifeboat.yaml", "operator/samples"];

/**
 * kube-score's checks that do not apply to Lifeboat, each with the reason.
 * Everything else it reports, warnings included, fails the test.
 */
const kubeScoreIgnores: Record<string, string> = {
  // The chart's NetworkPolicy limits the operator's ingress only: it reaches the API server,
  // every vCenter, S3 endpoint and cloud API its users name, all site-specific, so an egress
  // policy shipped by the chart would either allow everything or break them.
  "pod-networkpolicy": "site-specific egress",
  // The workers' policy selects the pods of the Jobs the operator creates at run time, which
  // are not in the chart; the test "NetworkPolicies select ..." below checks it selects them.
  "networkpolicy-targets-pod": "worker pods are made by the operator",
  // The image is pinned by tag (the chart's appVersion); IfNotPresent is what lets the
  // test bed (and air-gapped clusters) run an image loaded into containerd without a registry.
  // Users who want pull-time checks of imagePullSecrets set image.pullPolicy=Always.
  "container-image-pull-policy": "pinned tag, registry-less nodes",
  // The root filesystem is read-only and the only writable volume (/tmp) is an emptyDir
  // with a sizeLimit, so the pod's local writes are already bounded; an ephemeral-storage
  // request would make the pod unschedulable on nodes that report no such capacity.
  "container-ephemeral-storage-request-and-limit": "read-only root, size-limited emptyDir",
};
/** Checks a values set turns off on purpose, by values set: a user's choice the chart's defaults do not make. */
const kubeScoreIgnoresFor: Record<string, readonly string[]> = {
  // One replica is the user's choice (a small or test cluster); the default is a leader and a standby.
  "one replica, no leader election": ["deployment-replicas"],
};
/** kube-score flags with the same standing as the ignores above. */
const kubeScoreFlags = [
  // No CPU limit on purpose: a limit throttles the reconcilers under bursts (CFS quota)
  // while the request already guarantees their share; memory has a limit.
  "--ignore-container-cpu-limit",
];

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a judge to its end, whatever its exit code: a refusal is an answer to assert on. */
function run(cmd: string, args: readonly string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: repoRoot, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (err) => { reject(new Error(`Could not run ${cmd}`, { cause: err })); });
    child.on("close", (code) => { resolve({ code: code ?? -1, stdout, stderr }); });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** The objects in a YAML stream (empty documents left out). */
function objects(text: string): object[] {
  return yaml.loadAll(text).filter((d): d is object => d !== null && typeof d === "object");
}

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(repoRoot, dir), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith(".yaml")).map((e) => relative(repoRoot, join(e.parentPath, e.name))).sort();
}

/**
 * The ```yaml blocks of the docs that are whole manifests (every document has
 * apiVersion and kind), as one YAML stream, and how many objects it holds.
 * Blocks that show a fragment of a spec or of values are left out.
 */
async function docManifests(): Promise<{ stream: string; count: number; blocks: number }> {
  const pages = ["README.md", ...(await readdir(join(repoRoot, "docs"))).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const blocks: string[] = [];
  let count = 0;
  for (const page of pages) {
    for (const match of (await readFile(join(repoRoot, page), "utf8")).matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)) {
      const block = match[1] ?? "";
      const docs = objects(block) as { apiVersion?: unknown; kind?: unknown }[];
      if (docs.length > 0 && docs.every((d) => typeof d.apiVersion === "string" && typeof d.kind === "string")) {
        blocks.push(`# ${page}\n${block}`);
        count += docs.length;
      }
    }
  }
  return { stream: blocks.join("---\n"), count, blocks: blocks.length };
}

/** Whether a label selector (matchLabels and matchExpressions, as NetworkPolicies use them) selects these labels. */
function selects(selector: k8s.V1LabelSelector, labels: Record<string, string>): boolean {
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpression = (selector.matchExpressions ?? []).every((e) => {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === "Exists") return has;
    if (e.operator === "DoesNotExist") return !has;
    if (e.operator === "In") return has && (e.values ?? []).includes(labels[e.key] ?? "");
    if (e.operator === "NotIn") return !has || !(e.values ?? []).includes(labels[e.key] ?? "");
    throw new Error(`Unknown selector operator ${e.operator}`);
  });
  return byLabel && byExpression;
}

describe("the chart and the manifests, judged by real tools", () => {
  const bin = { helm: "", kubeconform: "", helmUnittest: "", kubeScore: "" };
  let tmp = "";
  let schemaArgs: string[] = [];
  const allValueSets: Record<string, readonly string[]> = { ...valueSets };

  beforeAll(async () => {
    const log = (line: string) => process.stderr.write(`${line}\n`);
    // One at a time: the machine's cores are shared.
    bin.helm = join(await ensureComponent("helm", log), "helm");
    bin.kubeconform = join(await ensureComponent("kubeconform", log), "kubeconform");
    bin.helmUnittest = join(await ensureComponent("helm-unittest", log), "helm-unittest");
    bin.kubeScore = join(await ensureComponent("kube-score", log), "kube-score");
    tmp = await mkdtemp(join(tmpdir(), "lifeboat-judges-"));
    schemaArgs = [
      "-strict",
      "-kubernetes-version", KUBERNETES_VERSION.slice(1),
      "-schema-location", await kubernetesSchemaLocation(),
      "-schema-location", await crdSchemaLocation(join(tmp, "crd-schemas"), await crdFiles()),
    ];
    for (const file of (await readdir(join(repoRoot, examples))).filter((f) => /^values-.*\.yaml$/.test(f)).sort()) {
      allValueSets[`${examples}/${file}`] = ["-f", `${examples}/${file}`];
    }
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** `helm template` of the chart, CRDs included, with a values set. */
  async function render(values: readonly string[]): Promise<string> {
    const result = await run(bin.helm, ["template", "lifeboat", chart, "-n", "lifeboat-system", "--include-crds", ...values]);
    if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr}`);
    return result.stdout;
  }

  /**
   * kubeconform on files or on a YAML stream; resolves with its verdict per
   * resource and its summary. Missing schemas are errors (no -ignore-missing-schemas).
   */
  async function kubeconform(files: readonly string[], input?: string) {
    const result = await run(bin.kubeconform, [...schemaArgs, "-summary", "-verbose", "-output", "json", ...files], input);
    const report = JSON.parse(result.stdout) as {
      resources: { filename: string; kind: string; name: string; status: string; msg: string }[];
      summary: { valid: number; invalid: number; errors: number; skipped: number };
    };
    const problems = report.resources.filter((r) => r.status !== "statusValid").map((r) => `${r.filename}: ${r.kind} ${r.name}: ${r.status} ${r.msg}`);
    return { code: result.code, summary: report.summary, problems };
  }

  describe("NetworkPolicies select the pods they mean (the test bed enforces none, so this is their check)", () => {
    it("lets the operator's pods in on the metrics port only, and only the operator's pods into workers on their control port", async () => {
      const rendered = objects(await render(allValueSets["NetworkPolicies for workers, egress restricted"] ?? [])) as (k8s.KubernetesObject & { spec?: unknown })[];
      const policies = rendered.filter((o): o is k8s.V1NetworkPolicy => o.kind === "NetworkPolicy");
      const deployment = rendered.find((o): o is k8s.V1Deployment => o.kind === "Deployment");
      const operatorPod = deployment?.spec?.template;
      const operatorLabels = operatorPod?.metadata?.labels ?? {};
      expect(policies.map((p) => `${p.metadata?.namespace ?? ""}/${p.metadata?.name ?? ""}`)).toEqual(["lifeboat-system/lifeboat", "prod/lifeboat-workers"]);
      const [forOperator, forWorkers] = policies;

      // The operator's policy selects its pods, and opens the port its probes and /metrics use.
      expect(selects(forOperator?.spec?.podSelector ?? {}, operatorLabels)).toBe(true);
      const metricsPort = operatorPod?.spec?.containers[0]?.ports?.find((p) => p.name === "metrics")?.containerPort;
      expect(forOperator?.spec?.ingress?.flatMap((r) => r.ports?.map((p) => p.port) ?? [])).toEqual([metricsPort]);

      // The workers' policy selects the pods of a worker Job as the operator builds it, and not the operator's.
      const gateway = { metadata: { name: "gw", namespace: "prod" }, spec: {} } as unknown as Gateway;
      const spec = { mode: "restore", pointId: "p", vault: { filesystem: { path: "/x" } }, target: { imageFile: { format: "raw", path: "/y" } } } as WorkerSpec;
      const job = workerJob({ name: "w", namespace: "prod", labels: { "lifeboat.io/plan": "p" }, owner: { apiVersion: "v1", kind: "X", name: "o", uid: "u" }, spec, secretEnv: [], claims: [], gateway, backoffLimit: 1 });
      const workerLabels = job.spec?.template.metadata?.labels ?? {};
      expect(selects(forWorkers?.spec?.podSelector ?? {}, workerLabels)).toBe(true);
      expect(selects(forWorkers?.spec?.podSelector ?? {}, operatorLabels)).toBe(false);
      expect(selects(forOperator?.spec?.podSelector ?? {}, workerLabels)).toBe(false);

      // Only the operator's pods, in the release's namespace, reach the worker's port.
      const ingress = forWorkers?.spec?.ingress ?? [];
      expect(ingress).toHaveLength(1);
      expect(ingress[0]?.ports?.map((p) => p.port)).toEqual([DEFAULT_WORKER_PORT]);
      expect(job.spec?.template.spec?.containers[0]?.ports?.map((p) => p.containerPort)).toEqual([DEFAULT_WORKER_PORT]);
      // Plain JSON from YAML: "from", which client-node's classes call "_from".
      const [peer] = (ingress[0] as { from?: k8s.V1NetworkPolicyPeer[] } | undefined)?.from ?? [];
      expect(selects(peer?.podSelector ?? {}, operatorLabels)).toBe(true);
      expect(selects(peer?.podSelector ?? {}, workerLabels)).toBe(false);
      expect(selects(peer?.namespaceSelector ?? {}, { "kubernetes.io/metadata.name": "lifeboat-system" })).toBe(true);
      expect(selects(peer?.namespaceSelector ?? {}, { "kubernetes.io/metadata.name": "prod" })).toBe(false);

      // Egress: DNS and what the values list, nothing else.
      expect(forWorkers?.spec?.policyTypes).toEqual(["Ingress", "Egress"]);
      expect(forWorkers?.spec?.egress).toEqual([
        { ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] },
        { to: [{ ipBlock: { cidr: "10.0.10.0/24" } }], ports: [{ protocol: "TCP", port: 443 }] },
      ]);
    }, TEST_TIMEOUT_MS);
  });

  describe("helm lint --strict", () => {
    it("passes with every values set", async () => {
      for (const [name, values] of Object.entries(allValueSets)) {
        const result = await run(bin.helm, ["lint", "--strict", chart, ...values]);
        expect({ name, code: result.code, out: result.stdout }).toEqual({ name, code: 0, out: expect.stringContaining("1 chart(s) linted, 0 chart(s) failed") });
      }
    }, TEST_TIMEOUT_MS);

    it("refuses values the chart's schema does not allow", async () => {
      const result = await run(bin.helm, ["lint", "--strict", chart, "--set", "replicaCount=two"]);
      expect(result.code).not.toBe(0);
      expect(result.stdout).toContain("replicaCount");
    }, TEST_TIMEOUT_MS);
  });

  describe("kubeconform -strict", () => {
    it("accepts the rendered chart with every values set, every object having a schema", async () => {
      for (const [name, values] of Object.entries(allValueSets)) {
        const rendered = await render(values);
        const count = objects(rendered).length;
        const verdict = await kubeconform([], rendered);
        expect({ name, problems: verdict.problems, code: verdict.code }).toEqual({ name, problems: [], code: 0 });
        // Never vacuous: kubeconform judged as many objects as helm rendered (the CRDs among them).
        expect({ name, valid: verdict.summary.valid }).toEqual({ name, valid: count });
        expect(count).toBeGreaterThan(10);
      }
    }, TEST_TIMEOUT_MS);

    it("accepts the samples in docs/examples, the Argo CD health checks' test objects and the checked-in manifests", async () => {
      const samples = (await yamlFiles(examples)).filter((f) => !/\/values-[^/]*\.yaml$/.test(f));
      const testdata = (await yamlFiles("argocd/resource_customizations")).filter((f) => f.includes("/testdata/"));
      const checkedIn = (await Promise.all(manifests.map(async (m) => (m.endsWith(".yaml") ? [m] : yamlFiles(m))))).flat();
      const files = [...samples, ...testdata, ...checkedIn];
      let count = 0;
      for (const file of files) count += objects(await readFile(join(repoRoot, file), "utf8")).length;
      expect(samples.length).toBeGreaterThan(0);
      expect(testdata.length).toBeGreaterThan(50);
      const verdict = await kubeconform(files);
      expect(verdict.problems).toEqual([]);
      expect(verdict.code).toBe(0);
      expect(verdict.summary.valid).toBe(count);
    }, TEST_TIMEOUT_MS);

    it("accepts the whole manifests shown in the docs", async () => {
      const docs = await docManifests();
      expect(docs.blocks).toBeGreaterThan(0);
      const verdict = await kubeconform([], docs.stream);
      expect(verdict.problems).toEqual([]);
      expect(verdict.code).toBe(0);
      expect(verdict.summary.valid).toBe(docs.count);
    }, TEST_TIMEOUT_MS);

    it("refuses wrong objects: unknown fields, wrong types, a kind without a schema, a key given twice", async () => {
      const wrong = [
        // A typo'd probe field and a named port where a number is due.
        { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "typo" }, spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i", ports: [{ containerPort: "http" }], livenessProbe: { httpGet: { path: "/", port: 80 }, initialDelay: 3 } }] } } } },
        // A field our CRD does not declare, and a misspelt metadata field (held to ObjectMeta, though the CRD says only `type: object`).
        { apiVersion: "lifeboat.io/v1alpha1", kind: "VCenter", metadata: { name: "vc", namepsace: "prod" }, spec: { address: "vc.example.com", credentialsSecretRef: { name: "vc" }, gatewayRef: { name: "site-a" }, insecure: true } },
        // A kind no schema describes.
        { apiVersion: "lifeboat.io/v1alpha1", kind: "BackupVaultz", metadata: { name: "v" }, spec: {} },
        // A ServiceMonitor endpoint with a misspelt field.
        { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: "m" }, spec: { selector: {}, endpoints: [{ port: "metrics", intervall: "30s" }] } },
      ];
      const verdict = await kubeconform([], wrong.map((o) => yaml.dump(o)).join("---\n"));
      expect(verdict.code).not.toBe(0);
      expect(verdict.summary).toEqual({ valid: 0, invalid: 3, errors: 1, skipped: 0 });
      const text = verdict.problems.join("\n");
      expect(text).toContain("additional properties 'initialDelay' not allowed");
      expect(text).toContain("got string, want integer");
      expect(text).toContain("additional properties 'insecure' not allowed");
      expect(text).toContain("additional properties 'namepsace' not allowed");
      expect(text).toContain("could not find schema for BackupVaultz");
      expect(text).toContain("additional properties 'intervall' not allowed");
      // A key given twice (YAML keeps the last; the author meant both).
      const twice = await kubeconform([], "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: twice }\ndata: { a: '1' }\ndata: { b: '2' }\n");
      expect(twice.code).not.toBe(0);
      expect(twice.problems.join("\n")).toContain('key "data" already set in map');
    }, TEST_TIMEOUT_MS);
  });

  describe("helm-unittest", () => {
    it("passes the chart's suites, which cover each conditional template on and off", async () => {
      const result = await run(bin.helmUnittest, ["--color=false", chart]);
      expect({ code: result.code, out: result.stdout }).toEqual({ code: 0, out: expect.stringMatching(/Test Suites: +\d+ passed, \d+ total/) });
      const suites = (await readdir(join(repoRoot, chart, "tests"))).filter((f) => f.endsWith("_test.yaml"));
      expect(result.stdout).toMatch(new RegExp(`Test Suites: +${suites.length} passed, ${suites.length} total`));
      // Every template with a condition has a suite that names it.
      const tested = (await Promise.all(suites.map((s) => readFile(join(repoRoot, chart, "tests", s), "utf8")))).join("\n");
      for (const template of await readdir(join(repoRoot, chart, "templates"))) {
        const source = await readFile(join(repoRoot, chart, "templates", template), "utf8");
        if (template.endsWith(".yaml") && /\{\{-? *(if|with|range) /.test(source)) expect({ template, tested: tested.includes(template) }).toEqual({ template, tested: true });
      }
    }, TEST_TIMEOUT_MS);

    it("are not packaged with the chart (.helmignore)", async () => {
      const out = join(tmp, "package");
      const result = await run(bin.helm, ["package", chart, "-d", out]);
      expect(result.code).toBe(0);
      const listing = await run("tar", ["tzf", join(out, (await readdir(out))[0] ?? "")]);
      expect(listing.stdout).toContain("lifeboat/templates/deployment.yaml");
      expect(listing.stdout).not.toContain("lifeboat/tests/");
    }, TEST_TIMEOUT_MS);

    it("fails a suite whose assertion does not hold", async () => {
      const copy = join(tmp, "chart");
      await cp(join(repoRoot, chart), copy, { recursive: true });
      await writeFile(join(copy, "tests", "wrong_test.yaml"), yaml.dump({
        suite: "a wrong expectation",
        templates: ["poddisruptionbudget.yaml"],
        tests: [{ it: "renders a budget with one replica", set: { replicaCount: 1 }, asserts: [{ hasDocuments: { count: 1 } }] }],
      }));
      const result = await run(bin.helmUnittest, ["--color=false", copy]);
      expect(result.code).not.toBe(0);
      expect(result.stdout).toContain("FAIL  a wrong expectation");
    }, TEST_TIMEOUT_MS);
  });

  describe("kube-score", () => {
    const args = (valueSet?: string) => {
      const ignores = [...Object.keys(kubeScoreIgnores), ...(valueSet === undefined ? [] : kubeScoreIgnoresFor[valueSet] ?? [])];
      return ["score", "--kubernetes-version", KUBERNETES_VERSION.split(".").slice(0, 2).join("."), "--output-format", "ci", "--exit-one-on-warning", ...kubeScoreFlags, ...ignores.flatMap((c) => ["--ignore-test", c]), "-"];
    };

    it("finds nothing in the rendered chart with every values set, but for the justified ignores", async () => {
      for (const [name, values] of Object.entries(allValueSets)) {
        const rendered = await render(values);
        const result = await run(bin.kubeScore, args(name), rendered);
        const findings = result.stdout.split("\n").filter((l) => /^\[(CRITICAL|WARNING)\]/.test(l));
        expect({ name, findings, code: result.code }).toEqual({ name, findings: [], code: 0 });
        expect(result.stdout).toContain("[OK] lifeboat/lifeboat-system apps/v1/Deployment");
      }
    }, TEST_TIMEOUT_MS);

    it("still refuses a Deployment without probes, limits or a security context", async () => {
      const bare = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "bare", namespace: "x" }, spec: { replicas: 2, selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "example/c:1.0" }] } } } };
      const result = await run(bin.kubeScore, args(), yaml.dump(bare));
      expect(result.code).not.toBe(0);
      expect(result.stdout).toContain("Memory limit is not set");
      expect(result.stdout).toMatch(/\[CRITICAL\].*Container has no configured security context/);
    }, TEST_TIMEOUT_MS);
  });
});
