/**
 * Lifeboat's Grafana dashboard, built with Grafana's foundation SDK rather
 * than written as JSON: the builders know Grafana's schema, so a panel option
 * that Grafana does not have fails to type-check instead of being ignored.
 * `npm run generate` writes it to charts/lifeboat/files/grafana-dashboard.json,
 * which the chart ships as a ConfigMap for Grafana's dashboard sidecar.
 *
 * Every query reads only what the operator's /metrics serves (OperatorMetrics);
 * the workers' own lifeboat_worker_* metrics are left out because the chart's
 * ServiceMonitor does not scrape worker pods. A unit test holds both: each
 * metric named here is in the operator's registry, and promtool parses each
 * expression.
 *
 * It is the classic dashboard JSON model (schemaVersion 42), which the SDK
 * marks deprecated in favour of dashboardv2. Grafana's file provisioning, which
 * the sidecar feeds, reads the classic model on every Grafana in use, while
 * schema v2 is a preview in Grafana 12, behind the Dynamic Dashboards and
 * kubernetesDashboards feature toggles; Grafana 13 migrates a classic
 * dashboard to v2 when it loads it. Hence the lint exception below.
 */
/* eslint-disable @typescript-eslint/no-deprecated -- the classic model is what provisioning loads; see above */
import {
  BarGaugeDisplayMode,
  type DataSourceRef,
  GraphDrawStyle,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  VizLegendOptionsBuilder,
} from "@grafana/grafana-foundation-sdk/common";
import {
  type Dashboard,
  DashboardBuilder,
  DatasourceVariableBuilder,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as BarGaugePanel } from "@grafana/grafana-foundation-sdk/bargauge";
import { PanelBuilder as StatPanel } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";

/** The dashboard's uid: stable, so links to it survive a re-import. */
export const DASHBOARD_UID = "lifeboat-overview";

/** A worker whose progress has not moved for this long is stuck: the LifeboatWorkerStuck alert's threshold. */
const WORKER_STUCK_SECONDS = 30 * 60;
/** A lock this close to expiry has a silent holder: the LifeboatVaultLockNearlyExpired alert's threshold. */
const LOCK_WARNING_SECONDS = 15 * 60;
/**
 * A lock whose holder refreshes it (every 5 minutes; a lock lives 30 minutes
 * from its last refresh) and that the vault's sync listed within the last
 * minute expires in at least 24 minutes; below that its holder missed a refresh.
 */
const LOCK_HEALTHY_SECONDS = (30 - 5 - 1) * 60;

/** Every query goes to the Prometheus the user picks in the datasource variable. */
const datasource: DataSourceRef = { type: "prometheus", uid: "${datasource}" };

/** Label matchers of the template variables; Grafana puts a regex of the selected values in place of each `$var`. */
const ns = 'namespace=~"$namespace"';
const inPlan = `${ns}, plan=~"$plan"`;
const inVault = `${ns}, vault=~"$vault"`;

/** One PromQL query of a panel. */
function query(refId: string, expr: string, legend: string): DataqueryBuilder {
  return new DataqueryBuilder().refId(refId).datasource(datasource).expr(expr).legendFormat(legend);
}

/** Thresholds from a base colour and (value, colour) steps upwards. */
function thresholds(base: string, ...steps: [number, string][]): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([{ value: null, color: base }, ...steps.map(([value, color]) => ({ value, color }))]);
}

/** A time series panel with its legend as a table, which stays readable with many plans or servers. */
function timeseries(title: string, description: string, unit: string): TimeseriesPanel {
  return new TimeseriesPanel()
    .title(title)
    .description(description)
    .datasource(datasource)
    .unit(unit)
    .min(0)
    .legend(new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.Table).placement(LegendPlacement.Bottom).calcs(["lastNotNull", "max"]));
}

/** A bar gauge of each series' latest value, for "how far is each one from its limit". */
function bars(title: string, description: string, unit: string): BarGaugePanel {
  return new BarGaugePanel()
    .title(title)
    .description(description)
    .datasource(datasource)
    .unit(unit)
    .min(0)
    .displayMode(BarGaugeDisplayMode.Basic)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false));
}

/** A single number, e.g. a count of workers. */
function stat(title: string, description: string): StatPanel {
  return new StatPanel()
    .title(title)
    .description(description)
    .datasource(datasource)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false));
}

/** Colours a run or cycle result the same way on every panel. */
const resultColours = [
  ["Succeeded", "green"],
  ["PartiallyFailed", "orange"],
  ["Failed", "red"],
] as const;

function withResultColours(panel: TimeseriesPanel): TimeseriesPanel {
  for (const [result, colour] of resultColours) panel.overrideByName(result, [{ id: "color", value: { mode: "fixed", fixedColor: colour } }]);
  return panel;
}

function backupPanels(): (TimeseriesPanel | BarGaugePanel)[] {
  return [
    timeseries(
      "Backup throughput",
      "Bytes per second the running backups of each plan read from vCenter (the workers' measured rate) and wrote to the vault (new blocks after dedup, compression and encryption: the slope of the bytes written so far).",
      "Bps",
    )
      .span(12)
      .withTarget(query("A", `sum by (namespace, plan) (lifeboat_backup_throughput_bytes_per_second{${inPlan}})`, "read {{namespace}}/{{plan}}"))
      // A retried worker reports from zero again; clamp_min keeps that drop from showing as a negative rate.
      .withTarget(query("B", `sum by (namespace, plan) (clamp_min(deriv(lifeboat_backup_uploaded_bytes{${inPlan}}[$__rate_interval]), 0))`, "written {{namespace}}/{{plan}}")),
    withResultColours(
      timeseries("Backup runs", "Finished backup runs by result, per interval (at least an hour): Succeeded, PartiallyFailed (some VMs failed) and Failed.", "short")
        .span(12)
        .interval("1h")
        .decimals(0)
        .drawStyle(GraphDrawStyle.Bars)
        .fillOpacity(80)
        .withTarget(query("A", `sum by (result) (increase(lifeboat_backup_runs_total{${inPlan}}[$__interval]))`, "{{result}}")),
    ),
    bars("Running backups", "How far each running VM backup has read of the areas it reads in all (changed areas, or allocated ones for a full backup).", "percentunit")
      .span(12)
      .max(1)
      .withTarget(query("A", `lifeboat_backup_read_bytes{${inPlan}} / (lifeboat_backup_planned_bytes{${inPlan}} > 0)`, "{{namespace}}/{{plan}} {{vm}}")),
    bars("Since last successful backup", "Time since each plan's last run in which every selected VM was backed up; plans that never succeeded are not listed.", "s")
      .span(12)
      .thresholds(thresholds("green"))
      .withTarget(query("A", `time() - lifeboat_backup_plan_last_success_timestamp_seconds{${inPlan}}`, "{{namespace}}/{{plan}}")),
  ];
}

function recoveryPanels(): (TimeseriesPanel | BarGaugePanel)[] {
  return [
    timeseries(
      "RPO per protected server",
      "Age of each protected server's newest recovery point (the data a failover now would lose), with its target (the crash-consistent interval) dashed. A server has no RPO until its first full cycle is done.",
      "s",
    )
      .span(12)
      .withTarget(query("A", `lifeboat_protected_server_rpo_seconds{${ns}}`, "{{namespace}}/{{protected_server}}"))
      .withTarget(query("B", `lifeboat_protected_server_rpo_target_seconds{${ns}}`, "{{namespace}}/{{protected_server}} target"))
      .overrideByRegexp(".* target$", [{ id: "custom.lineStyle", value: { fill: "dash", dash: [10, 10] } }]),
    bars("RPO against target", "Each protected server's RPO as a share of its target: red above 100%, where the LifeboatRPOBreached alert fires after 5 minutes.", "percentunit")
      .span(12)
      .thresholds(thresholds("green", [0.8, "orange"], [1, "red"]))
      .withTarget(query("A", `lifeboat_protected_server_rpo_seconds{${ns}} / lifeboat_protected_server_rpo_target_seconds{${ns}}`, "{{namespace}}/{{protected_server}}")),
    timeseries("Replication transfer", "Bytes per second replication sends between sites (new blocks, compressed and encrypted), by protected server and direction.", "Bps")
      .span(12)
      .withTarget(query("A", `sum by (namespace, protected_server, direction) (rate(lifeboat_replication_transferred_bytes_total{${ns}}[$__rate_interval]))`, "{{namespace}}/{{protected_server}} {{direction}}")),
    withResultColours(
      timeseries("Replication cycles", "Finished replication cycles by result, per interval (at least 5 minutes).", "short")
        .span(12)
        .interval("5m")
        .decimals(0)
        .drawStyle(GraphDrawStyle.Bars)
        .fillOpacity(80)
        .withTarget(query("A", `sum by (result) (increase(lifeboat_replication_cycles_total{${ns}}[$__interval]))`, "{{result}}")),
    ),
  ];
}

function vaultPanels(): (TimeseriesPanel | StatPanel)[] {
  return [
    timeseries(
      "Vault size",
      "Per vault: the bytes it occupies in its backend (stored), the data its recovery points reference (allocated: their disks' non-zero blocks, once per point) and all its recovery points as restored (logical, zeros included).",
      "bytes",
    )
      .span(12)
      .withTarget(query("A", `lifeboat_vault_stored_bytes{${inVault}}`, "stored {{namespace}}/{{vault}}"))
      .withTarget(query("B", `lifeboat_vault_allocated_bytes{${inVault}}`, "allocated {{namespace}}/{{vault}}"))
      .withTarget(query("C", `lifeboat_vault_logical_bytes{${inVault}}`, "logical {{namespace}}/{{vault}}")),
    timeseries(
      "Dedup and compression",
      "Per vault: the dedup ratio (allocated bytes over stored bytes: dedup and compression together, zeros excluded) and the compression ratio (its distinct blocks before compression over after: compression's share of it).",
      "suffix:×",
    )
      .span(6)
      .decimals(2)
      .withTarget(query("A", `lifeboat_vault_dedup_ratio{${inVault}}`, "dedup {{namespace}}/{{vault}}"))
      .withTarget(query("B", `lifeboat_vault_compression_ratio{${inVault}}`, "compression {{namespace}}/{{vault}}")),
    stat("Vaults", "Whether each BackupVault's Ready condition is True; the LifeboatVaultNotReady alert fires after 5 minutes not Ready.")
      .span(3)
      .unit("none")
      .mappings([
        { type: MappingType.ValueToText, options: { "0": { text: "Not ready", color: "red", index: 0 }, "1": { text: "Ready", color: "green", index: 1 } } },
      ])
      .withTarget(query("A", `lifeboat_vault_ready{${inVault}}`, "{{namespace}}/{{vault}}")),
    stat("Recovery points", "Recovery points in each vault.")
      .span(3)
      .unit("short")
      .decimals(0)
      .thresholds(thresholds("blue"))
      .withTarget(query("A", `lifeboat_vault_recovery_points{${inVault}}`, "{{namespace}}/{{vault}}")),
  ];
}

function workerPanels(): (StatPanel | BarGaugePanel)[] {
  const lastProgress = `lifeboat_worker_last_progress_timestamp_seconds{${ns}}`;
  return [
    stat("Workers", "Workers the operator follows now: backups, replication cycles, seeds and restores, running or waiting to run.")
      .span(4)
      .unit("short")
      .thresholds(thresholds("blue"))
      .withTarget(query("A", `count(${lastProgress}) or vector(0)`, "workers")),
    stat("Workers stuck", "Workers whose reported progress has not changed for 30 minutes: the LifeboatWorkerStuck alert.")
      .span(4)
      .unit("short")
      .thresholds(thresholds("green", [1, "red"]))
      .withTarget(query("A", `count(time() - ${lastProgress} > ${WORKER_STUCK_SECONDS}) or vector(0)`, "stuck")),
    stat("Leader", "Operator replicas that lead; exactly one should, or no controller runs.")
      .span(4)
      .unit("short")
      .thresholds(thresholds("red", [1, "green"], [2, "red"]))
      .withTarget(query("A", "sum(lifeboat_leader)", "leaders")),
    bars("Time since worker progress", "Per worker (its Job, and the object it works for): time since its reported progress last changed. Red from 30 minutes, when it counts as stuck.", "s")
      .span(12)
      .thresholds(thresholds("green", [WORKER_STUCK_SECONDS / 2, "orange"], [WORKER_STUCK_SECONDS, "red"]))
      .withTarget(query("A", `time() - ${lastProgress}`, "{{owner}} {{worker}}")),
    bars(
      "Repository locks: time to expiry",
      "Per live repository lock (vault, purpose, holder): time until it expires unless its holder refreshes it. Holders refresh every 5 minutes, so a healthy lock shows 24 to 30 minutes; orange means its holder missed a refresh, red (below 15 minutes) is the LifeboatVaultLockNearlyExpired alert.",
      "s",
    )
      .span(24)
      .thresholds(thresholds("red", [LOCK_WARNING_SECONDS, "orange"], [LOCK_HEALTHY_SECONDS, "green"]))
      .withTarget(query("A", `lifeboat_vault_lock_expiry_timestamp_seconds{${inVault}} - time()`, "{{namespace}}/{{vault}} {{purpose}} {{holder}}")),
  ];
}

function operatorPanels(): TimeseriesPanel[] {
  return [
    timeseries("Reconciles", "Reconciles per second by controller and result (success, requeue, error, terminal).", "ops")
      .span(12)
      .withTarget(query("A", "sum by (controller, result) (rate(lifeboat_reconcile_total[$__rate_interval]))", "{{controller}} {{result}}")),
    timeseries("Work queue depth", "Keys waiting in each controller's work queue.", "short")
      .span(12)
      .withTarget(query("A", "max by (controller) (lifeboat_workqueue_depth)", "{{controller}}")),
  ];
}

/** The dashboard as Grafana's JSON model. */
export function lifeboatDashboard(): Dashboard {
  const builder = new DashboardBuilder("Lifeboat")
    .uid(DASHBOARD_UID)
    .description("Backups, disaster recovery, vaults and workers of the Lifeboat operator. Generated from operator/src/telemetry/dashboard.ts; edit that file, not the JSON.")
    .tags(["lifeboat"])
    .editable()
    .time({ from: "now-24h", to: "now" })
    .refresh("1m")
    .withVariable(new DatasourceVariableBuilder("datasource").label("Data source").type("prometheus"))
    .withVariable(labelVariable("namespace", "Namespace", `label_values({__name__=~"lifeboat_vault_ready|lifeboat_backup_plan_created_timestamp_seconds|lifeboat_protected_server_rpo_target_seconds"}, namespace)`))
    .withVariable(labelVariable("plan", "Backup plan", `label_values(lifeboat_backup_plan_created_timestamp_seconds{${ns}}, plan)`))
    .withVariable(labelVariable("vault", "Vault", `label_values(lifeboat_vault_ready{${ns}}, vault)`))
    .withRow(new RowBuilder("Backups"));
  for (const panel of backupPanels()) builder.withPanel(panel);
  builder.withRow(new RowBuilder("Disaster recovery"));
  for (const panel of recoveryPanels()) builder.withPanel(panel);
  builder.withRow(new RowBuilder("Vaults"));
  for (const panel of vaultPanels()) builder.withPanel(panel);
  builder.withRow(new RowBuilder("Workers and locks"));
  for (const panel of workerPanels()) builder.withPanel(panel);
  builder.withRow(new RowBuilder("Operator"));
  for (const panel of operatorPanels()) builder.withPanel(panel);
  const dashboard = builder.build();
  // Fixed panel ids, so that a link to one panel (viewPanel=N) stays right.
  (dashboard.panels ?? []).forEach((panel, i) => (panel.id = i + 1));
  return dashboard;
}

/** A multi-value variable over one label's values, "All" by default (every value, as the regex `.*`). */
function labelVariable(name: string, label: string, query: string): QueryVariableBuilder {
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(datasource)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue(".*")
    .current({ selected: true, text: ["All"], value: ["$__all"] });
}

/** The dashboard's JSON as the chart ships it: stable key order and formatting, so that a stale copy shows as a diff. */
export function dashboardJson(): string {
  return JSON.stringify(lifeboatDashboard(), null, 2) + "\n";
}
