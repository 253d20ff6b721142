import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { load, loadAll } from "js-yaml";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { runCommand } from "../../../e2e/testbed/command.js";
import { binary } from "../../../e2e/testbed/components.js";
import { repoRoot } from "../../../e2e/testbed/paths.js";
import { WorkerMetrics } from "../worker/metrics.js";
import { OperatorMetrics } from "./metrics.js";

/**
 * Lifeboat's Prometheus side judged by the real tools: the metric names by
 * `promtool check metrics`, the alert rules by `promtool check rules` and
 * `promtool test rules`, the chart's ServiceMonitor and PrometheusRule by
 * `helm template` and `helm lint`. One file, so that a cold cache builds
 * promtool once rather than once per jest worker.
 */

/** promtool's and helm's first builds take minutes (cached in ~/.cache/lifeboat after). */
const BUILD_TIMEOUT_MS = 45 * 60_000;

const chart = join(repoRoot, "charts", "lifeboat");
const rulesFile = join(chart, "files", "prometheus-rules.yaml");
const rulesTests = join(chart, "files", "prometheus-rules.test.yaml");

/** `promtool <args>` in the repository; resolves with what it printed, rejects with its complaints when it exits non-zero. */
async function promtool(args: readonly string[], input?: string): Promise<string> {
  const { stdout, stderr } = await runCommand(await binary("promtool", "promtool"), args, { cwd: repoRoot, ...(input === undefined ? {} : { input }) });
  return stdout + stderr;
}

/** `promtool check metrics` on an exposition: exits non-zero on any complaint. */
function checkMetrics(exposition: string): Promise<string> {
  return promtool(["check", "metrics"], exposition);
}

/** Gives every metric of a registry a sample, with each label set to an example value, so every family is rendered. */
function fillExamples(registry: Registry): void {
  for (const metric of registry.getMetricsAsArray()) {
    const labelNames = (metric as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
    const labels = Object.fromEntries(labelNames.map((l) => [l, `example-${l}`]));
    if (metric instanceof Counter) metric.inc(labels, 3);
    else if (metric instanceof Histogram) metric.observe(labels, 0.2);
    else if (metric instanceof Gauge) metric.set(labels, 1);
  }
}

/** `helm <args>` in the repository; no cluster is needed for template and lint. */
async function helm(args: readonly string[]): Promise<string> {
  const { stdout } = await runCommand(await binary("helm", "helm"), args, { cwd: repoRoot });
  return stdout;
}

/** `helm lint` with values set, failed or not: its findings go to stdout. */
async function helmLint(set: string): Promise<{ code: number; stdout: string }> {
  const bin = await binary("helm", "helm");
  return new Promise((resolve) => {
    execFile(bin, ["lint", "charts/lifeboat", "--set", set], { cwd: repoRoot }, (err, stdout) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout });
    });
  });
}

interface RuleFile {
  groups: { name: string; rules: { alert?: string; expr: string }[] }[];
}

interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

/** `helm template` of the chart with values set; `apiVersions` announces APIs, as `helm install` on a cluster that serves them (or Argo CD) does. */
async function render(set: readonly string[], apiVersions: readonly string[] = []): Promise<Rendered[]> {
  const args = ["template", "lifeboat", "charts/lifeboat", "-n", "lifeboat-system", ...set.flatMap((s) => ["--set", s]), ...apiVersions.flatMap((a) => ["--api-versions", a])];
  return (loadAll(await helm(args)) as (Rendered | null)[]).filter((d): d is Rendered => d !== null);
}

describe("metric names", () => {
  it("pass `promtool check metrics`, operator and worker alike", async () => {
    const operator = new OperatorMetrics();
    fillExamples(operator.registry);
    // The gauges read at scrape time come from what the controllers recorded.
    operator.setNewestPoint("dr", "db", new Date(Date.now() - 60_000));
    operator.setVaultLocks("prod", "primary", [{ id: "a1b2", purpose: "backup", host: "nightly-x1y2z", expiresAt: Date.now() + 1_800_000 }]);
    operator.noteWorker({ namespace: "prod", worker: "nightly-x1y2z", owner: "BackupPlan/nightly" }, { phase: "Transferring", bytesDone: 10, bytesTotal: 100, bytesUploaded: 5, throughputBytesPerSecond: 1000 });
    const operatorText = await operator.registry.metrics();
    expect(operatorText).toContain('lifeboat_vault_lock_expiry_timestamp_seconds{namespace="prod",vault="primary",lock="a1b2",purpose="backup",holder="nightly-x1y2z"}');
    expect(operatorText).toContain('lifeboat_worker_last_progress_timestamp_seconds{namespace="prod",worker="nightly-x1y2z",owner="BackupPlan/nightly"}');
    expect(operatorText).toContain('lifeboat_protected_server_rpo_seconds{namespace="dr",protected_server="db"}');
    expect(await checkMetrics(operatorText)).toBe("");

    const worker = new WorkerMetrics();
    fillExamples(worker.registry);
    expect(await checkMetrics(await worker.registry.metrics())).toBe("");
  }, BUILD_TIMEOUT_MS);

  it("are judged: promtool refuses a gauge named like a counter", async () => {
    const registry = new Registry();
    new Gauge({ name: "lifeboat_example_bytes_total", help: "A gauge misnamed as a counter.", registers: [registry] }).set(1);
    await expect(checkMetrics(await registry.metrics())).rejects.toThrow(/non-counter metrics should not have "_total" suffix/);
  }, BUILD_TIMEOUT_MS);
});

describe("the alert rules", () => {
  it("pass `promtool check rules` with every lint", async () => {
    expect(await promtool(["check", "rules", "--lint=all", "--lint-fatal", rulesFile])).toContain("SUCCESS: 6 rules found");
  }, BUILD_TIMEOUT_MS);

  it("pass `promtool test rules`: each alert fires when it should and stays quiet when it should", async () => {
    expect(await promtool(["test", "rules", rulesTests])).toContain("SUCCESS");
  }, BUILD_TIMEOUT_MS);

  it("use only metrics the operator exports", async () => {
    const rules = load(await readFile(rulesFile, "utf8")) as RuleFile;
    const used = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => r.expr.match(/\blifeboat_[a-z_]+/g) ?? [])));
    const exported = new Set(new OperatorMetrics().registry.getMetricsAsArray().map((m) => m.name));
    expect(used.size).toBeGreaterThan(0);
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
  });
});

describe("the chart's Prometheus Operator objects", () => {
  it("are rendered only when enabled", async () => {
    const kinds = (docs: Rendered[]) => docs.map((d) => d.kind);
    const plain = kinds(await render([]));
    expect(plain).not.toContain("PrometheusRule");
    expect(plain).not.toContain("ServiceMonitor");
    // Not even where the cluster has the Prometheus Operator's API: what renders never depends on where.
    const withApi = kinds(await render([], ["monitoring.coreos.com/v1"]));
    expect(withApi).not.toContain("PrometheusRule");
    expect(withApi).not.toContain("ServiceMonitor");
  }, BUILD_TIMEOUT_MS);

  it("embed the rule file unchanged and scrape the metrics Service", async () => {
    const docs = await render(["metrics.prometheusRule.enabled=true", "metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.interval=30s", "metrics.prometheusRule.labels.release=kps"]);
    const rule = docs.find((d) => d.kind === "PrometheusRule");
    expect(rule?.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(rule?.metadata).toMatchObject({ namespace: "lifeboat-system", labels: { release: "kps", "app.kubernetes.io/instance": "lifeboat" } });
    expect(rule?.spec).toEqual(load(await readFile(rulesFile, "utf8")));

    const monitor = docs.find((d) => d.kind === "ServiceMonitor");
    const service = docs.find((d) => d.kind === "Service" && d.metadata.name.endsWith("-metrics"));
    expect(monitor?.apiVersion).toBe("monitoring.coreos.com/v1");
    const selector = (monitor?.spec.selector as { matchLabels: Record<string, string> }).matchLabels;
    expect(service?.metadata.labels).toMatchObject(selector);
    // It selects nothing but the metrics Service.
    expect(docs.filter((d) => d.kind === "Service" && Object.entries(selector).every(([k, v]) => d.metadata.labels?.[k] === v))).toHaveLength(1);
    expect(monitor?.spec.namespaceSelector).toEqual({ matchNames: ["lifeboat-system"] });
    const ports = (service?.spec.ports as { name: string }[]).map((p) => p.name);
    // honorLabels keeps each series' namespace the Lifeboat object's, not the scraped pod's.
    expect(monitor?.spec.endpoints).toEqual([{ port: "metrics", path: "/metrics", honorLabels: true, interval: "30s" }]);
    expect(ports).toContain("metrics");
  }, BUILD_TIMEOUT_MS);

  it("pass `helm lint` when enabled, and a ServiceMonitor without the metrics Service is refused", async () => {
    const enabled = await helmLint("metrics.prometheusRule.enabled=true,metrics.serviceMonitor.enabled=true");
    expect(enabled).toEqual({ code: 0, stdout: expect.stringContaining("0 chart(s) failed") as unknown as string });
    const withoutService = await helmLint("metrics.serviceMonitor.enabled=true,metrics.service.enabled=false");
    expect(withoutService.code).not.toBe(0);
    expect(withoutService.stdout).toContain("'/metrics/service/enabled': value must be true");
  }, BUILD_TIMEOUT_MS);
});
