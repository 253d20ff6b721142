import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { load } from "js-yaml";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { runCommand } from "../../../e2e/testbed/command.js";
import { binary } from "../../../e2e/testbed/components.js";
import { repoRoot } from "../../../e2e/testbed/paths.js";
import { WorkerMetrics } from "../worker/metrics.js";
import { OperatorMetrics } from "./metrics.js";

/**
 * Lifeboat's Prometheus side judged by the real tools: the metric names by
 * `promtool check metrics`, the alert rules by `promtool check rules` and
 * `promtool test rules`. One file, so that a cold cache builds
 * promtool once rather than once per jest worker.
 */

/** promtool's first build takes minutes (cached in ~/.cache/lifeboat after). */
const BUILD_TIMEOUT_MS = 45 * 60_000;

const files = join(repoRoot, "charts", "lifeboat", "files");
const rulesFile = join(files, "prometheus-rules.yaml");
const rulesTests = join(files, "prometheus-rules.test.yaml");

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

interface RuleFile {
  groups: { name: string; rules: { alert?: string; expr: string }[] }[];
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
