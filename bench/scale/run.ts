/**
 * `npm run bench:scale`: the control plane at scale. One cluster holds
 * 1,000 BackupPlans, 10,000 RecoveryPoints and 2,000 ProtectedServers (no
 * data moves: see setup.ts for how each comes to exist and why nothing
 * runs), and the bench measures the operator:
 *
 * 1. its RSS (VmRSS sampled every second, VmHWM, beside its own
 *    process_resident_memory_bytes), run as the chart runs it (operator.ts);
 * 2. the time to converge after a crash: SIGKILL, start again, and wait until
 *    every controller's queue is empty and it has finished a reconcile for
 *    every object of its kind (its own lifeboat_reconcile_total and
 *    lifeboat_workqueue_depth, scraped every 2 s; prometheus.ts);
 * 3. reconcile latency percentiles from its lifeboat_reconcile_duration_seconds
 *    histogram, as histogram_quantile computes them;
 * 4. API requests per minute at rest, from the API server's audit log (its
 *    own record of each request and who made it; audit.ts), counted for the
 *    operator's ServiceAccount over a window that starts 30 s after it has
 *    converged; Lease requests (leader election) apart; LISTs and WATCHes by
 *    resource for relist storms.
 *
 * The bench stands up its own test bed (with an audit policy), vcsims and
 * vaults, and tears them down, failed or not.
 *
 *   npm run bench:scale -- [--plans 1000] [--points 10000] [--servers 2000]
 *     [--rest 600] [--concurrency 8] [--converge-timeout 900] [--cpu-prof]
 *     [--heap-snapshot] [--heaptrack] [--operator-env NAME=VALUE]... [--keep]
 *
 * --heap-snapshot has the restarted operator write a V8 heap snapshot at the
 * end of the window at rest (after its memory is read) and prints its
 * largest kinds of object by self size: where the heap's bytes are.
 * --heaptrack runs the restarted operator under heaptrack (bench/scale/heaptrack.ts)
 * and prints the call stacks that held the most malloc'd memory at its peak.
 * heaptrack's bookkeeping lives in the operator's process, so the run's
 * memory figures are not comparable with others (the memory limit is raised
 * for it), and its timings are slower.
 * --operator-env adds a variable to the operator's environment (every start),
 * to compare a tuning (e.g. MALLOC_ARENA_MAX=2) against the chart's.
 */
import { createReadStream } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { loadAll, dump } from "js-yaml";
import { clusterDown, clusterUp, readTestbed, type Testbed } from "../../e2e/testbed/cluster.js";
import { runCommand } from "../../e2e/testbed/command.js";
import { KUBERNETES_VERSION } from "../../e2e/testbed/components.js";
import { get, waitFor } from "../../e2e/testbed/http.js";
import { NODE_IMAGE_VERSION } from "../../e2e/testbed/images.js";
import { writeKubeconfig } from "../../e2e/testbed/kubeconfig.js";
import { repoRoot } from "../../e2e/testbed/paths.js";
import { freePort } from "../../e2e/testbed/ports.js";
import { startVcsim, type Vcsim } from "../../e2e/testbed/vcsim.js";
import { DEFAULT_RESYNC_MS } from "../../operator/src/runtime/controller.js";
import { initVault } from "../../operator/src/vault/index.js";
import { summarizeHeapSnapshotFile, type HeapSummary } from "../support/heap-snapshot.js";
import { runBench, table } from "../support/worker.js";
import { AuditRequests, countWindow, relistVerdict, usersInWindow, type Window } from "./audit.js";
import { findHeaptrack, heaptrackEnv, startHeaptrackRecording } from "./heaptrack.js";
import { imageNode } from "../support/image-node.js";
import { CHART_MEMORY_LIMIT, memoryCgroup, OperatorProcess, removeCgroup, setMemoryLimit } from "./operator.js";
import { bucketsOf, bucketsSince, hasConverged, histogramQuantile, observations, progressOf, sumOf, type Buckets, type ControllerProgress, type Sample } from "./prometheus.js";
import { createAll, listAll, manifests, observedCondition, writePoints, type ScaleCounts } from "./setup.js";
import { compositionRows, largestReading, traceComposition } from "./peak.js";
import { residentMemory } from "./smaps.js";

const NAMESPACE = "scale";
const OPERATOR_USER = "system:serviceaccount:lifeboat-system:lifeboat";
const MiB = 1024 * 1024;
const KEY = "bench-scale-vault-key-0123456789abcdef";
const RECONCILE_HISTOGRAM = "lifeboat_reconcile_duration_seconds";
/** How long the first start (the sync of every point into a RecoveryPoint, then every first reconcile) may take: setup, not a measure. */
const SETUP_TIMEOUT_MS = 3600_000;
/** The operator's memory limit while it writes a heap snapshot (--heap-snapshot), after the measurements. */
const SNAPSHOT_MEMORY_LIMIT = 4096 * 1024 * 1024;
/** How long after convergence the window at rest starts: reconciles that were running end, Events are flushed. */
const SETTLE_MS = 30_000;

/**
 * The audit policy: every request at Metadata level (who, verb, resource,
 * response code; no bodies), from the stage its response is known.
 */
const AUDIT_POLICY = {
  apiVersion: "audit.k8s.io/v1",
  kind: "Policy",
  omitStages: ["RequestReceived"],
  rules: [{ level: "Metadata" }],
};

const log = (line: string) => { console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`); };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The chart as `kubectl apply` installs it (deploy/lifeboat.yaml) without its Deployment: CRDs, namespace, ServiceAccount, RBAC. */
async function installChartWithoutDeployment(tb: Testbed): Promise<void> {
  const docs = loadAll(await readFile(join(repoRoot, "deploy", "lifeboat.yaml"), "utf8")) as ({ kind?: string } | null)[];
  const kept = docs.filter((d): d is { kind: string } => !!d && d.kind !== "Deployment" && d.kind !== "PodDisruptionBudget");
  await runCommand(tb.kubectl, ["--kubeconfig", tb.kubeconfig, "apply", "-f", "-"], { input: kept.map((d) => dump(d)).join("---\n") });
  await runCommand(tb.kubectl, ["--kubeconfig", tb.kubeconfig, "wait", "--for=condition=Established", "crd", "--all", "--timeout=120s"]);
}

/** A kubeconfig with a token of the chart's ServiceAccount: the operator's identity in a cluster, and in the audit log. */
async function operatorKubeconfig(tb: Testbed, path: string): Promise<void> {
  const { stdout } = await runCommand(tb.kubectl, ["--kubeconfig", tb.kubeconfig, "-n", "lifeboat-system", "create", "token", "lifeboat", "--duration=12h"]);
  await writeKubeconfig(path, tb.server, tb.caCert, "lifeboat", stdout.trim(), "lifeboat-system");
}

/** Reads every request of the audit log. */
async function readAudit(path: string): Promise<AuditRequests> {
  const requests = new AuditRequests();
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of lines) requests.addLine(line);
  return requests;
}

/** The sum of kube-apiserver's own apiserver_request_total, all clients together. */
async function apiserverRequests(tb: Testbed): Promise<number> {
  const r = await get(`${tb.server}/metrics`, { ca: await readFile(tb.caCert), token: tb.adminToken, timeoutMs: 30_000 });
  if (r.status !== 200) throw new Error(`kube-apiserver /metrics answered HTTP ${r.status}`);
  let sum = 0;
  for (const line of r.body.split("\n")) if (line.startsWith("apiserver_request_total{")) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  return sum;
}

/** What a set of lifeboat.io objects must show before the bench calls the first start done. */
async function setupState(custom: k8s.CustomObjectsApi, counts: ScaleCounts): Promise<{ done: boolean; summary: string }> {
  const [vaults, points, plans, servers, pairs, vcenters, gateways] = await Promise.all(
    ["backupvaults", "recoverypoints", "backupplans", "protectedservers", "sitepairs", "vcenters", "gateways"].map((p) => listAll(custom, NAMESPACE, p)),
  ) as [Awaited<ReturnType<typeof listAll>>, ...Awaited<ReturnType<typeof listAll>>[]];
  const isTrue = (type: string) => (o: Parameters<typeof observedCondition>[0]) => observedCondition(o, type)?.status === "True";
  const primary = vaults.find((v) => v.metadata.name === "primary");
  const checks: [string, boolean][] = [
    [`vault points ${primary?.status?.recoveryPointCount ?? 0}/${counts.points}`, primary?.status?.recoveryPointCount === counts.points && vaults.every(isTrue("Ready"))],
    [`RecoveryPoints ${points?.length ?? 0}/${counts.points}, Available ${points?.filter(isTrue("Available")).length ?? 0}`, points?.length === counts.points && points.every(isTrue("Available"))],
    [`BackupPlans Ready ${plans?.filter(isTrue("Ready")).length ?? 0}/${counts.plans}`, plans?.length === counts.plans && plans.every(isTrue("Ready"))],
    [`ProtectedServers observed ${servers?.filter((s) => observedCondition(s, "Ready") !== undefined).length ?? 0}/${counts.servers}`, servers?.length === counts.servers && servers.every((s) => observedCondition(s, "Ready") !== undefined)],
    ["SitePair Ready", !!pairs?.every(isTrue("Ready")) && pairs.length === 1],
    ["VCenters Connected", !!vcenters?.every(isTrue("Connected")) && vcenters.length === 2],
    ["Gateways Activated", !!gateways?.every(isTrue("Activated")) && gateways.length === 2],
  ];
  return { done: checks.every(([, ok]) => ok), summary: checks.map(([what, ok]) => `${what}${ok ? "" : " (waiting)"}`).join("; ") };
}

/** Percentiles of a histogram, in milliseconds. */
function percentiles(b: Buckets): { n: number; p50: number; p90: number; p99: number } {
  return { n: observations(b), p50: histogramQuantile(0.5, b) * 1000, p90: histogramQuantile(0.9, b) * 1000, p99: histogramQuantile(0.99, b) * 1000 };
}

const ms = (x: number) => (Number.isNaN(x) ? "-" : x >= 100 ? x.toFixed(0) : x.toFixed(1));

/** Where each controller reached convergence after the restart, ms after the process started (undefined: not yet). */
type ConvergedAt = Record<string, number | undefined>;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      plans: { type: "string", default: "1000" },
      points: { type: "string", default: "10000" },
      servers: { type: "string", default: "2000" },
      rest: { type: "string", default: "600" },
      concurrency: { type: "string", default: "8" },
      "converge-timeout": { type: "string", default: "900" },
      "cpu-prof": { type: "boolean", default: false },
      "heap-snapshot": { type: "boolean", default: false },
      heaptrack: { type: "boolean", default: false },
      "operator-env": { type: "string", multiple: true, default: [] },
      keep: { type: "boolean", default: false },
    },
  });
  const counts: ScaleCounts = { plans: Number(values.plans), points: Number(values.points), servers: Number(values.servers) };
  const restMs = Number(values.rest) * 1000;
  const concurrency = Number(values.concurrency);
  const convergeTimeoutMs = Number(values["converge-timeout"]) * 1000;
  for (const [k, v] of Object.entries({ ...counts, rest: restMs, concurrency, convergeTimeoutMs })) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`--${k} must be a whole number, not ${String(v)}`);
  }
  if (counts.points > 0 && counts.plans === 0) throw new Error("--points needs --plans: each point belongs to a plan");
  const operatorEnv: Record<string, string> = {};
  for (const pair of values["operator-env"]) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`--operator-env takes NAME=VALUE, not ${pair}`);
    operatorEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const name = process.env.LIFEBOAT_TESTBED ?? "bench-scale";
  const loadBefore = loadavg();
  log(`Control plane at scale: ${counts.plans} BackupPlans, ${counts.points} RecoveryPoints, ${counts.servers} ProtectedServers; test bed ${name}; load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`);
  if (await readTestbed(name)) throw new Error(`Test bed ${name} is already up: the bench stands up its own (take it down with LIFEBOAT_TESTBED=${name} node dist/e2e/testbed/cli.js down, or set LIFEBOAT_TESTBED)`);

  const heaptrack = values.heaptrack ? await findHeaptrack() : undefined;
  const node = await imageNode(log);
  const tb = await clusterUp(name, { ownerPid: process.pid, auditPolicy: AUDIT_POLICY, log });
  if (!tb.auditLog) throw new Error(`Test bed ${name} keeps no audit log`);
  const auditLog = tb.auditLog;
  const sims: Vcsim[] = [];
  const operators: OperatorProcess[] = [];
  let cgroup: string | undefined;
  let cleaning: Promise<void> | undefined;
  /** Stops everything the bench started, once: at the end, failed or not, or on SIGINT or SIGTERM. */
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      for (const op of operators) await op.stop(5000).catch(() => undefined);
      if (cgroup) await removeCgroup(cgroup).catch((err: unknown) => { console.error(err); });
      for (const sim of sims) await sim.stop().catch(() => undefined);
      if (values.keep) log(`Left test bed ${name} up (--keep): LIFEBOAT_TESTBED=${name} node dist/e2e/testbed/cli.js down`);
      else await clusterDown(name, log);
    })();
    return cleaning;
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping what the bench started`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    const work = join(tb.dir, "bench-scale");
    await mkdir(work, { recursive: true });

    // The sites: two simulators with a small inventory, and the vaults.
    const protectedSim = await startVcsim({ standaloneHosts: 1, clusters: 0, vms: 2, listenAddress: tb.hostAddress });
    sims.push(protectedSim);
    const recoverySim = await startVcsim({ standaloneHosts: 1, clusters: 0, vms: 0, portgroups: 2, listenAddress: tb.hostAddress });
    sims.push(recoverySim);
    const vaultPath = join(work, "vault-primary");
    const drVaultPath = join(work, "vault-dr-recovery");
    for (const path of [vaultPath, drVaultPath]) await (await initVault({ backend: { filesystem: { path } }, key: Buffer.from(KEY) })).close();
    let t = Date.now();
    let lastReport = 0;
    await writePoints({ backend: { filesystem: { path: vaultPath } }, key: Buffer.from(KEY) }, NAMESPACE, counts, concurrency, (done) => {
      if (Date.now() - lastReport > 15_000) {
        lastReport = Date.now();
        log(`  ${done}/${counts.points} points committed`);
      }
    });
    const pointsSeconds = (Date.now() - t) / 1000;
    log(`Committed ${counts.points} points into the vault in ${pointsSeconds.toFixed(1)} s (${concurrency} at a time)`);

    await installChartWithoutDeployment(tb);
    const operatorConfig = join(work, "operator.kubeconfig");
    await operatorKubeconfig(tb, operatorConfig);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(tb.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
    const secret = (secretName: string, data: Record<string, string>) => core.createNamespacedSecret({ namespace: NAMESPACE, body: { metadata: { name: secretName }, stringData: data } });
    await secret("vault-key", { key: KEY });
    await secret("vc-protected", { username: protectedSim.username, password: protectedSim.password });
    await secret("vc-recovery", { username: recoverySim.username, password: recoverySim.password });
    cgroup = await memoryCgroup(`/lifeboat-${tb.networkIndex}`, "bench-scale-operator", CHART_MEMORY_LIMIT);
    const metricsPort = await freePort();
    const start = (logName: string, nodeOptions: string[] = [], execEnv: Record<string, string> = {}) => {
      const op = OperatorProcess.start({ node, kubeconfig: operatorConfig, cgroup: cgroup ?? "", metricsPort, logFile: join(work, logName), nodeOptions, env: operatorEnv, execEnv });
      operators.push(op);
      return op;
    };

    // The operator with no lifeboat.io objects: what its RSS is before the scale adds anything.
    const empty = start("operator-empty.log");
    await waitFor("the operator with no objects to lead", 120_000, async () => (sumOf(await empty.metrics(), "lifeboat_leader") === 1 ? true : undefined), 500);
    await sleep(10_000);
    const emptyMemory = await empty.memory();
    const emptyResident = await residentMemory(empty.pid);
    await empty.stop();
    log(`The operator with no objects: VmRSS ${mib(emptyMemory?.rss ?? Number.NaN)}, VmHWM ${mib(emptyMemory?.hwm ?? Number.NaN)}`);

    // The plans' daily run comes 12 hours from now: never while the bench runs.
    const scheduleHour = (new Date().getUTCHours() + 12) % 24;
    const objects = manifests({ protectedVc: protectedSim, recoveryVc: recoverySim, vaultPath, drVaultPath }, counts, scheduleHour);
    await createAll(custom, NAMESPACE, objects.infrastructure, concurrency);
    const plansSeconds = await createAll(custom, NAMESPACE, objects.plans, concurrency);
    log(`Created ${counts.plans} BackupPlans in ${plansSeconds.toFixed(1)} s (${concurrency} at a time)`);
    const serversSeconds = await createAll(custom, NAMESPACE, objects.servers, concurrency);
    log(`Created ${counts.servers} ProtectedServers in ${serversSeconds.toFixed(1)} s`);

    // First start: the operator syncs the points into RecoveryPoints and reconciles everything.
    const first = start("operator-first.log");
    log(`Started the operator (Node.js ${NODE_IMAGE_VERSION}, memory limit ${mib(CHART_MEMORY_LIMIT)}), pid ${first.pid}; waiting for the first sync`);
    t = Date.now();
    lastReport = 0;
    for (;;) {
      const state = await setupState(custom, counts);
      if (state.done) break;
      if (Date.now() - t > SETUP_TIMEOUT_MS) throw new Error(`The first start did not converge within ${SETUP_TIMEOUT_MS / 1000} s: ${state.summary}`);
      if (Date.now() - lastReport > 60_000) {
        lastReport = Date.now();
        log(`  ${state.summary}`);
      }
      await sleep(30_000);
    }
    const firstSyncMs = Date.now() - first.startedAt;
    const firstPeak = (await first.memory())?.hwm ?? Number.NaN;
    log(`First start converged after ${secs(firstSyncMs)} (VmHWM ${mib(firstPeak)})`);

    // The crash and the restart.
    const objectsOf: Record<string, number> = {
      backupvault: 2, gateway: 2, vcenter: 2, sitepair: 1, backupplan: counts.plans, recoverypoint: counts.points, protectedserver: counts.servers, restorejob: 0, recoverydrill: 0,
    };
    first.signal("SIGKILL");
    await first.exited;
    const profileDir = join(work, "cpu-profile");
    const heapDir = join(work, "heap");
    if (values["heap-snapshot"]) await mkdir(heapDir, { recursive: true });
    const recording = heaptrack ? await startHeaptrackRecording(heaptrack, work) : undefined;
    if (heaptrack && cgroup) await setMemoryLimit(cgroup, SNAPSHOT_MEMORY_LIMIT);
    const second = start("operator-restart.log", [
      ...(values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []),
      ...(values["heap-snapshot"] ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${heapDir}`] : []),
    ], heaptrack && recording ? heaptrackEnv(heaptrack, recording) : {});
    log(`Killed the operator (SIGKILL) and started it again, pid ${second.pid}; waiting until every controller has reconciled every object`);
    const restartTrace = traceComposition(second, 1000);
    const convergedAt: ConvergedAt = Object.fromEntries(Object.keys(objectsOf).map((c) => [c, undefined]));
    let progress: ControllerProgress[] = [];
    let convergedSamples: Sample[] | undefined;
    lastReport = Date.now();
    while (Date.now() - second.startedAt < convergeTimeoutMs) {
      await sleep(2000);
      const samples = await second.metrics().catch(() => undefined);
      if (!samples) continue;
      progress = progressOf(samples, objectsOf);
      for (const p of progress) if (convergedAt[p.controller] === undefined && hasConverged([p]) && sumOf(samples, "lifeboat_leader") === 1) convergedAt[p.controller] = Date.now() - second.startedAt;
      if (sumOf(samples, "lifeboat_leader") === 1 && hasConverged(progress)) {
        convergedSamples = samples;
        break;
      }
      if (Date.now() - lastReport > 30_000) {
        lastReport = Date.now();
        log(`  ${progress.filter((p) => !hasConverged([p])).map((p) => `${p.controller} ${p.reconciled}/${p.objects} (queue ${p.queueDepth}, errors ${p.errors})`).join("; ") || "waiting for leadership"}`);
      }
    }
    const convergeEnd = Date.now();
    const restartReadings = await restartTrace.stop();
    const restartPeak = largestReading(restartReadings);
    const convergeMs = convergedSamples ? convergeEnd - second.startedAt : undefined;
    const syncedAt = await second.loggedAt("Caches synced");
    const leaderAt = await second.loggedAt("Became leader");
    const restartSamples = convergedSamples ?? (await second.metrics());
    log(convergeMs !== undefined ? `Converged ${secs(convergeMs)} after the restart` : `Not converged within ${convergeTimeoutMs / 1000} s: ${progress.filter((p) => !hasConverged([p])).map((p) => `${p.controller} ${p.reconciled}/${p.objects} (queue ${p.queueDepth})`).join("; ")}`);

    // At rest.
    await sleep(SETTLE_MS);
    const window: Window = { from: Date.now(), to: Date.now() + restMs };
    const restStartSamples = await second.metrics();
    const cpuStart = await second.cpuSeconds();
    const apiStart = await apiserverRequests(tb);
    log(`Measuring at rest for ${restMs / 1000} s`);
    await sleep(window.to - Date.now());
    const restEndSamples = await second.metrics();
    const cpuEnd = await second.cpuSeconds();
    const apiEnd = await apiserverRequests(tb);
    const memoryEnd = await second.memory();
    const residentEnd = await residentMemory(second.pid, 12);
    const restRss = second.rssBetween(window.from, window.to);
    const lifeRss = second.rssBetween(second.startedAt, Date.now() + 1);
    let heap: HeapSummary | undefined;
    if (values["heap-snapshot"] && cgroup) {
      // Writing a snapshot takes V8 about as much memory again as the heap, over the chart's limit; what is measured was read above.
      await setMemoryLimit(cgroup, SNAPSHOT_MEMORY_LIMIT);
      try {
        const snapshot = await second.heapSnapshot(heapDir);
        log(`Heap snapshot at rest (memory limit raised to ${mib(SNAPSHOT_MEMORY_LIMIT)} for it): ${snapshot}`);
        heap = await summarizeHeapSnapshotFile(snapshot, 25);
      } catch (err) {
        log(`No heap snapshot: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    await second.stop();
    let heaptrackPeaks: string | undefined;
    if (heaptrack && recording) {
      await recording.done;
      heaptrackPeaks = (await runCommand(heaptrack.print, ["-f", recording.output, "--print-peaks", "--print-allocators", "0", "--print-temporary", "0", "--peak-limit", "15", "--sub-peak-limit", "3"])).stdout;
      log(`heaptrack's recording of the restarted operator: ${recording.output} (heaptrack_print -f ${recording.output}; heaptrack_gui reads it too)`);
    }
    await sleep(3000); // the audit log is written as requests complete; let the last ones land
    const audit = await readAudit(auditLog);
    const loadAfter = loadavg();

    // Results.
    const rest = countWindow(audit.requests, OPERATOR_USER, window);
    const converging = countWindow(audit.requests, OPERATOR_USER, { from: second.startedAt, to: convergeEnd });
    const everyone = usersInWindow(audit.requests, window);
    const allInWindow = everyone.reduce((n, [, perMinute]) => n + perMinute * rest.minutes, 0);
    const verdict = relistVerdict(rest);
    const restartHist = bucketsOf(restartSamples, RECONCILE_HISTOGRAM);
    const restHist = bucketsSince(bucketsOf(restEndSamples, RECONCILE_HISTOGRAM), bucketsOf(restStartSamples, RECONCILE_HISTOGRAM));
    const pRestart = percentiles(restartHist);
    const pRest = percentiles(restHist);
    const peak = Math.max(memoryEnd?.hwm ?? 0, lifeRss?.max ?? 0);
    const promRss = sumOf(restEndSamples, "lifeboat_process_process_resident_memory_bytes");
    const heapUsed = sumOf(restEndSamples, "lifeboat_process_nodejs_heap_size_used_bytes");
    const heapTotal = sumOf(restEndSamples, "lifeboat_process_nodejs_heap_size_total_bytes");
    const external = sumOf(restEndSamples, "lifeboat_process_nodejs_external_memory_bytes");
    const cpuShare = cpuStart !== undefined && cpuEnd !== undefined ? (cpuEnd - cpuStart) / (restMs / 1000) : Number.NaN;
    const goalRows: string[][] = [
      ["operator RSS, peak after the restart (VmHWM)", mib(peak), "< 256 MiB", peak < 256 * MiB ? "yes" : "no"],
      ["converged after a restart (SIGKILL, start, every object reconciled)", convergeMs !== undefined ? secs(convergeMs) : `not within ${convergeTimeoutMs / 1000} s`, "<= 60 s", convergeMs !== undefined && convergeMs <= 60_000 ? "yes" : "no"],
      ["API requests per minute at rest, controllers (Lease apart)", (rest.controllers / rest.minutes).toFixed(1), "< 10", rest.controllers / rest.minutes < 10 ? "yes" : "no"],
      ["relist storms at rest", verdict.storm ? "yes" : "none", "none", verdict.storm ? "no" : "yes"],
    ];
    console.log("");
    console.log(`## bench:scale ${new Date().toISOString().slice(0, 10)}: ${counts.plans} BackupPlans, ${counts.points} RecoveryPoints, ${counts.servers} ProtectedServers`);
    console.log("");
    table(["metric", "measured", "goal", "met?"], goalRows);
    console.log("");
    table(["detail", "value"], [
      ["operator RSS at rest (mean / max of 1 s samples)", restRss ? `${mib(restRss.mean)} / ${mib(restRss.max)}` : "-"],
      ["operator RSS at the end: VmRSS / process_resident_memory_bytes", `${mib(memoryEnd?.rss ?? Number.NaN)} / ${mib(promRss)}`],
      ["V8 heap at the end: used / committed; external memory", `${mib(heapUsed)} / ${mib(heapTotal)}; ${mib(external)}`],
      ["resident at the end: anonymous (V8's heap, malloc, stacks) / files (the node binary)", `${mib(memoryEnd?.anon ?? Number.NaN)} / ${mib(memoryEnd?.file ?? Number.NaN)}`],
      ["operator environment beyond the chart's", Object.entries(operatorEnv).map(([k, v]) => `${k}=${v}`).join(" ") || "none"],
      ["operator VmHWM during the first start (initial sync of every point)", mib(firstPeak)],
      ["operator with no lifeboat.io objects, 10 s after it leads: VmRSS / VmHWM", `${mib(emptyMemory?.rss ?? Number.NaN)} / ${mib(emptyMemory?.hwm ?? Number.NaN)}`],
      ["restart: caches synced / leader (Lease) / converged", `${syncedAt ? secs(syncedAt - second.startedAt) : "-"} / ${leaderAt ? secs(leaderAt - second.startedAt) : "-"} / ${convergeMs !== undefined ? secs(convergeMs) : "-"}`],
      ["restart: each controller converged at", Object.entries(convergedAt).filter(([c]) => (objectsOf[c] ?? 0) > 0).map(([c, at]) => `${c} ${at !== undefined ? secs(at) : "not yet"}`).join(", ")],
      ["restart: API requests until converged", `${converging.total} (${converging.byVerbResource.slice(0, 6).map(([k, n]) => `${k} ${n}`).join(", ")})`],
      ["reconcile latency during the restart, ms (n, p50 / p90 / p99)", `${pRestart.n}, ${ms(pRestart.p50)} / ${ms(pRestart.p90)} / ${ms(pRestart.p99)}`],
      ["reconcile latency at rest, ms (n, p50 / p90 / p99)", `${pRest.n}, ${ms(pRest.p50)} / ${ms(pRest.p90)} / ${ms(pRest.p99)}`],
      ["API requests per minute at rest, all of the operator's (with Lease)", (rest.total / rest.minutes).toFixed(1)],
      [`resync of every object (every ${DEFAULT_RESYNC_MS / 3_600_000} h ± 10 %), estimated as the restart's requests spread over the period`, `${converging.total} requests, ${(converging.total / (DEFAULT_RESYNC_MS / 60_000)).toFixed(1)} per minute averaged`],
      ["API requests at rest per minute, minute by minute", rest.perMinute.join(", ")],
      ["API requests at rest by verb and resource (whole window)", rest.byVerbResource.slice(0, 12).map(([k, n]) => `${k} ${n}`).join(", ") || "none"],
      ["LIST and repeated WATCH at rest", verdict.findings.join(", ") || "none"],
      ["failed requests at rest", [...rest.failures.entries()].map(([code, n]) => `${n} x HTTP ${code}`).join(", ") || "none"],
      ["operator CPU at rest", `${(cpuShare * 100).toFixed(1)} % of one core`],
      ["all clients at rest: audit log / apiserver_request_total", `${(allInWindow / rest.minutes).toFixed(0)} / ${((apiEnd - apiStart) / rest.minutes).toFixed(0)} per minute`],
      ["other clients at rest, per minute", everyone.filter(([u]) => u !== OPERATOR_USER).slice(0, 5).map(([u, n]) => `${u} ${n.toFixed(1)}`).join(", ")],
      ["setup: points into the vault / plans / servers created", `${pointsSeconds.toFixed(0)} s / ${plansSeconds.toFixed(0)} s / ${serversSeconds.toFixed(0)} s (${concurrency} creates at a time)`],
      ["setup: first start until every object was reconciled", secs(firstSyncMs)],
      ["machine", `${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}`],
      ["load average before / after (1, 5, 15 min)", `${loadBefore.map((l) => l.toFixed(2)).join(" ")} / ${loadAfter.map((l) => l.toFixed(2)).join(" ")}`],
      ["versions", `Kubernetes ${KUBERNETES_VERSION}, operator on Node.js ${NODE_IMAGE_VERSION}`],
    ]);
    console.log("");
    table(["controller", "objects", "reconciles to converge", "p50 ms", "p90 ms", "p99 ms"], Object.keys(objectsOf).filter((c) => (objectsOf[c] ?? 0) > 0).map((c) => {
      const p = percentiles(bucketsOf(restartSamples, RECONCILE_HISTOGRAM, { controller: c }));
      return [c, String(objectsOf[c]), String(p.n), ms(p.p50), ms(p.p90), ms(p.p99)];
    }));
    if (residentEnd) {
      const before = new Map((emptyResident?.groups ?? []).map((g) => [g.name, g.rssBytes]));
      console.log("");
      console.log("Resident memory at the end by mapping (/proc/PID/smaps), beside the operator with no objects:");
      console.log("");
      table(["mapping", "mappings", "resident at rest", "with no objects"], residentEnd.groups.slice(0, 10).map((g) => [g.name, String(g.mappings), mib(g.rssBytes), mib(before.get(g.name) ?? 0)]));
      console.log("");
      console.log("The largest anonymous mappings at the end (V8's heap pages, code space, other threads' malloc arenas):");
      console.log("");
      table(["range", "perms", "size", "resident"], residentEnd.largestAnonymous.map((m) => [m.range, m.perms, mib(m.sizeBytes), mib(m.rssBytes)]));
    }
    if (restartPeak) {
      const mibOf = (bytes: number | undefined) => (bytes === undefined ? "-" : mib(bytes));
      console.log("");
      console.log(`The restart's memory, read every second until it converged: the largest reading (${secs(restartPeak.at - second.startedAt)} after the start; VmHWM ${mib(peak)}):`);
      console.log("");
      table(["part", "resident"], compositionRows(restartPeak).map(([name, bytes]) => [name, mibOf(bytes)]));
      console.log("");
      table(["s after start", "VmRSS", "V8 committed", "V8 new space", "external", "glibc [heap]", "file pages"], restartReadings.map((r) => [
        ((r.at - second.startedAt) / 1000).toFixed(0), mib(r.rss), mibOf(r.v8Committed), mibOf(r.v8Spaces.new), mibOf(r.external), mib(r.mallocHeap), mib(r.file),
      ]));
    }
    if (heaptrackPeaks) {
      console.log("");
      console.log("heaptrack: the call stacks holding the most malloc'd memory at the restarted operator's peak (memory figures above include heaptrack's own):");
      console.log("");
      console.log(heaptrackPeaks.trimEnd());
    }
    if (heap) {
      console.log("");
      console.log(`Heap at rest by kind of object (self size; ${heap.nodes} objects, ${mib(heap.totalBytes)} in all):`);
      console.log("");
      table(["kind", "objects", "self size"], heap.groups.map((g) => [g.name, String(g.count), `${(g.selfBytes / MiB).toFixed(1)} MiB`]));
      if (heap.stringHolders) {
        console.log("");
        console.log("The heap's strings by what holds them (holder.property; [] an array's elements):");
        console.log("");
        table(["held by", "strings", "self size"], heap.stringHolders.map((g) => [g.name, String(g.count), `${(g.selfBytes / MiB).toFixed(1)} MiB`]));
      }
    }
    const results = {
      date: new Date().toISOString(),
      counts,
      restSeconds: restMs / 1000,
      goals: goalRows,
      rssPeakBytes: peak,
      firstStartHwmBytes: firstPeak,
      emptyOperator: emptyMemory,
      restRss,
      memoryEnd,
      residentEnd,
      emptyResident,
      restartPeak,
      restartReadings,
      v8: { heapUsed, heapTotal, external },
      operatorEnv,
      convergeMs,
      convergedAt,
      restartMilestones: { cachesSynced: syncedAt ? syncedAt - second.startedAt : undefined, leader: leaderAt ? leaderAt - second.startedAt : undefined },
      reconcileRestart: pRestart,
      reconcileRest: pRest,
      rest: { ...rest, lists: Object.fromEntries(rest.lists), watches: Object.fromEntries(rest.watches), failures: Object.fromEntries(rest.failures) },
      converging: { total: converging.total, byVerbResource: converging.byVerbResource },
      relist: verdict,
      cpuShare,
      setup: { pointsSeconds, plansSeconds, serversSeconds, firstSyncMs },
      load: { before: loadBefore, after: loadAfter },
      heap,
    };
    const out = join(work, "results.json");
    await writeFile(out, JSON.stringify(results, null, 2));
    log(`Results in ${out}; audit log ${auditLog}; operator logs in ${work}${values["cpu-prof"] ? `; CPU profile in ${profileDir}` : ""}`);
  } finally {
    await cleanup();
  }
}

runBench(main);
