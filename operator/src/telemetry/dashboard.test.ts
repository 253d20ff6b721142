import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { dump, loadAll } from "js-yaml";
import { Counter, Gauge, Histogram } from "prom-client";
import { runCommand } from "../../../e2e/testbed/command.js";
import { binary } from "../../../e2e/testbed/components.js";
import { repoRoot } from "../../../e2e/testbed/paths.js";
import { dashboardJson, lifeboatDashboard } from "./dashboard.js";
import { OperatorMetrics } from "./metrics.js";

/**
 * The generated Grafana dashboard judged by the real tools: its PromQL by
 * promtool's parser, its metric names by the operator's own registry, and the
 * chart's ConfigMap by `helm template`.
 */

/** promtool's and helm's first builds take minutes (cached in ~/.cache/lifeboat after). */
const BUILD_TIMEOUT_MS = 45 * 60_000;

interface Target {
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  fieldConfig?: { defaults?: { unit?: string } };
}

const dashboard = lifeboatDashboard();
const panels = (dashboard.panels ?? []) as Panel[];
const dataPanels = panels.filter((p) => p.type !== "row");
const variables = (dashboard.templating.list ?? []) as { name: string; type: string; query?: unknown }[];

/** The series selector inside a `label_values(SELECTOR, label)` variable query: PromQL, unlike the function around it. */
function selectorOf(query: string): string {
  const match = /^label_values\((.+), *[a-z_]+\)$/.exec(query);
  if (!match?.[1]) throw new Error(`not a label_values() query: ${query}`);
  return match[1];
}

/** Every PromQL expression of the dashboard, named by where it is. */
const expressions: { where: string; expr: string }[] = [
  ...dataPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel ${p.title ?? ""}`, expr: t.expr }))),
  ...variables.filter((v) => v.type === "query").map((v) => ({ where: `variable ${v.name}`, expr: selectorOf(String(v.query)) })),
];

/** An expression as Prometheus receives it once Grafana has put in its interval macros and each variable's "All" regex. */
function asPrometheusGetsIt(expr: string): string {
  return expr.replaceAll("$__rate_interval", "5m").replaceAll("$__interval", "1h").replace(/\$[a-z_]+/g, ".*");
}

/** Names of the series the operator's /metrics serves, histograms' _bucket, _sum and _count included: every metric given a sample and rendered. */
async function exportedSeriesNames(): Promise<Set<string>> {
  const metrics = new OperatorMetrics();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    const labelNames = (metric as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
    const labels = Object.fromEntries(labelNames.map((l) => [l, "x"]));
    if (metric instanceof Counter) metric.inc(labels);
    else if (metric instanceof Histogram) metric.observe(labels, 1);
    else if (metric instanceof Gauge) metric.set(labels, 1);
  }
  // The gauges read at scrape time come from what the controllers recorded.
  metrics.setNewestPoint("dr", "db", new Date());
  metrics.setVaultLocks("prod", "primary", [{ id: "a1", purpose: "backup", host: "w", expiresAt: Date.now() }]);
  metrics.noteWorker({ namespace: "prod", worker: "w", owner: "BackupPlan/nightly" }, undefined);
  const text = await metrics.registry.metrics();
  return new Set(text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)?.[0] ?? ""));
}

async function promtool(args: readonly string[]): Promise<string> {
  const { stdout, stderr } = await runCommand(await binary("promtool", "promtool"), args, { cwd: repoRoot });
  return stdout + stderr;
}

/** `promtool check rules` on a rule file holding each expression as a recording rule: promtool parses each with Prometheus's own PromQL parser. */
async function checkAsRules(exprs: readonly string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "lifeboat-dashboard-"));
  try {
    const file = join(dir, "dashboard-rules.yaml");
    const rules = exprs.map((expr, i) => ({ record: `lifeboat_dashboard:query_${i + 1}`, expr }));
    await writeFile(file, dump({ groups: [{ name: "dashboard", rules }] }, { lineWidth: -1 }));
    return await promtool(["check", "rules", file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("the Grafana dashboard", () => {
  it("queries only metrics the operator serves", async () => {
    const exported = await exportedSeriesNames();
    const used = new Set(expressions.flatMap(({ expr }) => expr.match(/\blifeboat_[a-z0-9_]+/g) ?? []));
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
    // The throughput, run, RPO, vault and worker panels each have their metric.
    for (const name of ["lifeboat_backup_uploaded_bytes", "lifeboat_backup_runs_total", "lifeboat_protected_server_rpo_target_seconds", "lifeboat_vault_dedup_ratio", "lifeboat_vault_compression_ratio", "lifeboat_vault_lock_expiry_timestamp_seconds", "lifeboat_worker_last_progress_timestamp_seconds"]) {
      expect(used).toContain(name);
    }
  });

  it("parses with Prometheus's PromQL parser, every panel's query and every variable's selector", async () => {
    const out = await checkAsRules(expressions.map(({ expr }) => asPrometheusGetsIt(expr)));
    expect(out).toContain(`SUCCESS: ${expressions.length} rules found`);
  }, BUILD_TIMEOUT_MS);

  it("is judged: promtool refuses an expression that does not parse", async () => {
    await expect(checkAsRules(["sum by (plan) (rate(lifeboat_reconcile_total[5m])"])).rejects.toThrow(/unclosed left parenthesis|parse error/);
  }, BUILD_TIMEOUT_MS);

  it("sends every query to the chosen data source and uses only variables it defines", () => {
    expect(variables.find((v) => v.name === "datasource")).toMatchObject({ type: "datasource", query: "prometheus" });
    const defined = new Set(variables.map((v) => v.name));
    for (const panel of dataPanels) {
      expect(panel.datasource).toEqual({ type: "prometheus", uid: "${datasource}" });
      for (const target of panel.targets ?? []) expect(target.datasource).toEqual({ type: "prometheus", uid: "${datasource}" });
    }
    const used = new Set(expressions.flatMap(({ expr }) => [...expr.matchAll(/\$([a-z_]+)/g)].map((m) => m[1] ?? "")).filter((name) => !name.startsWith("__")));
    expect([...used].filter((name) => !defined.has(name))).toEqual([]);
    expect([...used].sort()).toEqual(["namespace", "plan", "vault"]);
  });

  it("gives every panel a query, a unit and a fixed id", () => {
    expect(dataPanels.length).toBeGreaterThan(10);
    expect(dataPanels.filter((p) => (p.targets ?? []).length === 0).map((p) => p.title)).toEqual([]);
    expect(dataPanels.filter((p) => !p.fieldConfig?.defaults?.unit).map((p) => p.title)).toEqual([]);
    expect(panels.map((p) => p.id)).toEqual(panels.map((_, i) => i + 1));
    const units: Record<string, string | undefined> = Object.fromEntries(dataPanels.map((p) => [p.title ?? "", p.fieldConfig?.defaults?.unit]));
    expect(units).toMatchObject({ "Backup throughput": "Bps", "Replication transfer": "Bps", "Vault size": "bytes", "RPO per protected server": "s", "Repository locks: time to expiry": "s" });
  });
});

interface Rendered {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

async function helm(args: readonly string[]): Promise<string> {
  const { stdout } = await runCommand(await binary("helm", "helm"), args, { cwd: repoRoot });
  return stdout;
}

/** `helm template` of the chart with values set. */
async function render(set: readonly string[]): Promise<Rendered[]> {
  const out = await helm(["template", "lifeboat", "charts/lifeboat", "-n", "lifeboat-system", ...set.flatMap((s) => ["--set", s])]);
  return (loadAll(out) as (Rendered | null)[]).filter((d): d is Rendered => d !== null);
}

const isDashboard = (d: Rendered) => d.kind === "ConfigMap" && d.metadata.name === "lifeboat-grafana-dashboard";

// Whether the ConfigMap renders, and with which labels, is helm-unittest's
// (charts/lifeboat/tests/grafana-dashboard_test.yaml); helm lint with it on is
// chart-judges'; that the file is current is check:generated's. This checks
// what those cannot: the dashboard arrives in Grafana unchanged.
describe("the chart's dashboard ConfigMap", () => {
  it("carries the dashboard unchanged, with the sidecar's label, when enabled", async () => {
    const [configMap, ...more] = (await render(["metrics.grafanaDashboard.enabled=true"])).filter(isDashboard);
    expect(more).toEqual([]);
    expect(configMap?.metadata).toMatchObject({ namespace: "lifeboat-system", labels: { grafana_dashboard: "1", "app.kubernetes.io/instance": "lifeboat" } });
    expect(Object.keys(configMap?.data ?? {})).toEqual(["lifeboat.json"]);
    expect(JSON.parse(configMap?.data?.["lifeboat.json"] ?? "")).toEqual(JSON.parse(dashboardJson()));
  }, BUILD_TIMEOUT_MS);
});
