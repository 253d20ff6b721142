// Load: one BackupPlan over 50 VMs on a Gateway with maxWorkers 4, run
// twice. Watched from outside the operator: the worker pods as the API
// server reports them (never more than 4 alive at once, and the slots used),
// the order the worker Jobs are created in (the plan's order: no VM overtaken), the
// operator's memory from its own metrics endpoint every 2 s (resident well
// inside the chart's limit; the V8 heap's troughs flat from one run to the
// next), and the vault afterwards (every point there, `vault check
// --read-data` clean).
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { connect } from "../../operator/src/vsphere/index.js";
import { shortHash, WORKER_LABELS } from "../../operator/src/workloads/worker-job.js";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";
import { installLifeboat, operatorPods, vaultClaim, waitForCondition } from "../support/lifeboat.js";
import { lifeboatCli } from "../support/dr.js";
import { adminConfig, createNamespace, eventually } from "../support/testbed.js";
import { mixedData } from "../support/data.js";

const VMS = 50;
const MAX_WORKERS = 4;
const MiB = 1024 * 1024;
/** Each VM's disk holds this much data: enough to make every worker read, write and commit, little enough for 100 backups in a few minutes. */
const DATA_BYTES = 2 * MiB;
/**
 * Three quarters of the chart's memory limit (512 MiB), above which the
 * operator would be one busy moment from an OOM kill. Node sizes its heap
 * from that limit and collects lazily below it, so RSS says little about
 * leaks: the V8 heap's troughs (what survives each collection) do.
 */
const OPERATOR_RSS_LIMIT = 384 * MiB;
/** How much more the heap may keep after the second run than after the first: room for caches that fill once, far less than 50 workers' worth of leak. */
const HEAP_GROWTH_LIMIT = 16 * MiB;
const VAULT_KEY = randomBytes(32).toString("base64");

let ns: string;
let workDir: string;
let vcsim: Vcsim;
let custom: k8s.CustomObjectsApi;
let vmNames: string[];
/** Each VM's managed object id, which the worker pods' VM label hashes. */
const vmRefs = new Map<string, string>();

interface PlanStatus {
  lastRun?: { id?: string; result?: string; message?: string };
  lastResults?: { name: string; phase: string; recoveryPoint?: string }[];
  currentRun?: { id?: string };
}

function create(kind: string, name: string, spec: object) {
  return custom.createNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: `${kind.toLowerCase()}s`, body: { apiVersion: "lifeboat.io/v1alpha1", kind, metadata: { name }, spec } });
}

async function planStatus(): Promise<PlanStatus> {
  return ((await custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "backupplans", name: "all" })) as { status?: PlanStatus }).status ?? {};
}

/**
 * The Gateway's workers as the API server reports them, from two watches.
 * Pods: which are alive (not Succeeded or Failed, not deleted) at each
 * event, and the most alive at once. Jobs: the VM each new Job works for,
 * in the order the Jobs were created (a watch delivers them in that order;
 * their pods may appear in another, as the Job controller syncs Jobs in
 * parallel).
 */
class WorkerWatch {
  private readonly alive = new Set<string>();
  maxAlive = 0;
  /** The VM label of each Job, in the order the Jobs were created. */
  readonly started: string[] = [];
  /** Worker containers that ended by a signal (an abort, a segfault, an OOM kill): never a worker's own outcome. */
  readonly crashed: string[] = [];
  private readonly seenJobs = new Set<string>();
  private readonly requests: { abort(): void }[] = [];

  /** `earlierJobs`: Jobs of earlier runs, which the watch lists first and which are not this run's. */
  constructor(earlierJobs: readonly string[]) {
    for (const name of earlierJobs) this.seenJobs.add(name);
  }

  async start(): Promise<void> {
    const watch = new k8s.Watch(adminConfig());
    const query = { labelSelector: `${WORKER_LABELS.gateway}=gw` };
    this.requests.push(await watch.watch(`/api/v1/namespaces/${ns}/pods`, query, (type: string, pod: k8s.V1Pod) => { this.observePod(type, pod); }, () => undefined));
    this.requests.push(await watch.watch(`/apis/batch/v1/namespaces/${ns}/jobs`, query, (_type: string, job: k8s.V1Job) => { this.observeJob(job); }, () => undefined));
  }

  private observePod(type: string, pod: k8s.V1Pod): void {
    const name = pod.metadata?.name ?? "";
    const phase = pod.status?.phase ?? "Pending";
    if (type === "DELETED" || phase === "Succeeded" || phase === "Failed") this.alive.delete(name);
    else this.alive.add(name);
    this.maxAlive = Math.max(this.maxAlive, this.alive.size);
    const exit = pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode;
    const crash = `${name}: exit code ${exit ?? ""}`;
    if (exit !== undefined && exit >= 128 && !this.crashed.includes(crash)) this.crashed.push(crash);
  }

  private observeJob(job: k8s.V1Job): void {
    const name = job.metadata?.name ?? "";
    if (this.seenJobs.has(name)) return;
    this.seenJobs.add(name);
    this.started.push(job.metadata?.labels?.[WORKER_LABELS.vm] ?? "");
  }

  stop(): void {
    for (const request of this.requests) request.abort();
  }
}

/** The operator's memory at one moment: resident, and the V8 heap in use. */
interface MemorySample {
  rss: number;
  heapUsed: number;
}

/**
 * The leader's memory every 2 s, from its own process metrics
 * (process_resident_memory_bytes and nodejs_heap_size_used_bytes, prefixed
 * lifeboat_process_), while `during` runs.
 */
async function sampleOperatorMemory<T>(during: () => Promise<T>): Promise<{ result: T; samples: MemorySample[] }> {
  const samples: MemorySample[] = [];
  const stop = new AbortController();
  const sampling = (async () => {
    while (!stop.signal.aborted) {
      for (const pod of await operatorPods()) {
        const text = await fetch(`http://${pod.status?.podIP ?? ""}:8081/metrics`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.text()).catch(() => "");
        const rss = /^lifeboat_process_process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text)?.[1];
        const heapUsed = /^lifeboat_process_nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text)?.[1];
        // Only the leader runs reconcilers; a standby's memory says nothing about the load.
        if (rss && heapUsed && /^lifeboat_leader 1$/m.test(text)) samples.push({ rss: Number(rss), heapUsed: Number(heapUsed) });
      }
      await new Promise((r) => setTimeout(r, 2_000));
    }
  })();
  try {
    return { result: await during(), samples };
  } finally {
    stop.abort();
    await sampling;
  }
}

/** Asks for a run and waits for it to finish, watching the workers and the operator's memory meanwhile. */
async function runPlan(request: string): Promise<{ status: PlanStatus; workers: WorkerWatch; memory: MemorySample[] }> {
  const before = (await planStatus()).lastRun?.id;
  const batch = adminConfig().makeApiClient(k8s.BatchV1Api);
  const earlier = (await batch.listNamespacedJob({ namespace: ns })).items.map((j) => j.metadata?.name ?? "");
  const workers = new WorkerWatch(earlier);
  await workers.start();
  try {
    const { result, samples } = await sampleOperatorMemory(async () => {
      await custom.patchNamespacedCustomObject(
        { group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "backupplans", name: "all", body: { spec: { runRequest: request } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
      return eventually(`run ${request} to finish`, async () => {
        const s = await planStatus();
        return s.lastRun?.id && s.lastRun.id !== before && !s.currentRun ? s : undefined;
      }, 900_000);
    });
    return { status: result, workers, memory: samples };
  } finally {
    workers.stop();
  }
}

beforeAll(async () => {
  custom = adminConfig().makeApiClient(k8s.CustomObjectsApi);
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  workDir = await mkdtemp(join(tmpdir(), "lifeboat-load-e2e-"));
  vcsim = await startVcsim({ standaloneHosts: 1, clusters: 0, vms: VMS });
  const client = await connect({ address: vcsim.address, username: vcsim.username, password: vcsim.password, tls: { thumbprint: vcsim.thumbprint } });
  try {
    for (const vm of (await client.inventory()).vms) if (!vm.template) vmRefs.set(vm.name, vm.ref.value);
  } finally {
    await client.close();
  }
  vmNames = [...vmRefs.keys()].sort((a, b) => a.localeCompare(b));
  for (const [i, vm] of vmNames.entries()) {
    const [disk] = await vcsim.disks(vm);
    if (!disk) throw new Error(`${vm} has no disk`);
    await vcsim.writeDisk(vm, disk.key, 0, mixedData(DATA_BYTES, i));
  }
  expect(vmNames).toHaveLength(VMS);

  ns = await createNamespace("load");
  await installLifeboat({}, [await vaultClaim(ns, "vault", join(workDir, "vault"))]);
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "vault-key" }, stringData: { key: VAULT_KEY } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "vc" }, stringData: { username: vcsim.username, password: vcsim.password } } });
  await create("BackupVault", "vault", { backend: { filesystem: { persistentVolumeClaim: { name: "vault" } } }, encryption: { keySecretRef: { name: "vault-key" } } });
  // maxCpu leaves room for all four (the limit is the smaller of maxWorkers and maxCpu / CPU per worker).
  await create("Gateway", "gw", { vaultRef: { name: "vault" }, maxWorkers: MAX_WORKERS, maxCpu: 8 });
  await create("VCenter", "vc", { address: vcsim.address, credentialsSecretRef: { name: "vc" }, tls: { thumbprint: vcsim.thumbprint }, gatewayRef: { name: "gw" } });
  await create("BackupPlan", "all", { vCenterRef: { name: "vc" }, vaultRef: { name: "vault" }, gatewayRef: { name: "gw" }, vms: { namePatterns: ["*"] }, retention: { keepLast: 2 } });
  await waitForCondition("BackupPlan", ns, "all", "Ready", "True", undefined, 120_000);
}, 600_000);

afterAll(async () => {
  await vcsim.stop();
  await rm(workDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 500 });
});

describe(`one plan over ${VMS} VMs, ${MAX_WORKERS} workers at most`, () => {
  const runs: { workers: WorkerWatch; memory: MemorySample[] }[] = [];

  it.each(["first", "second"])("the %s run backs up every VM, never more than 4 workers at once, in the plan's order", async (request) => {
    const { status, workers, memory } = await runPlan(request);
    runs.push({ workers, memory });
    expect(status.lastRun?.result).toBe("Succeeded");
    expect(status.lastResults?.filter((r) => r.phase === "Succeeded")).toHaveLength(VMS);

    // The cap holds, and is used: a Gateway that ran one worker at a time would pass the first check alone.
    expect(workers.maxAlive).toBeLessThanOrEqual(MAX_WORKERS);
    expect(workers.maxAlive).toBeGreaterThanOrEqual(2);
    // A worker that aborts (a native addon's C++ exception while its threads were stopped) or is
    // OOM-killed is retried and the run may still succeed: that must not hide it.
    expect(workers.crashed).toEqual([]);

    // Fair order: one Job per VM, created in the plan's order
    // (VM names sorted), so no VM waits behind one selected after it.
    const runVms = status.lastResults?.map((r) => r.name) ?? [];
    expect(runVms).toEqual(vmNames);
    expect(workers.started).toEqual(runVms.map((name) => shortHash(vmRefs.get(name) ?? name)));
  }, 1_200_000);

  it("the operator's memory stays flat from one run to the next, well inside its limit", () => {
    const [first, second] = runs;
    if (!first || !second) throw new Error("both runs must have been made");
    expect(first.memory.length).toBeGreaterThan(5);
    expect(second.memory.length).toBeGreaterThan(5);
    const mib = (bytes: number) => (bytes / MiB).toFixed(0);
    const range = (values: number[]) => `${mib(Math.min(...values))}–${mib(Math.max(...values))} MiB`;
    const figures = runs.map((r, i) => `run ${i + 1}: ${r.memory.length} samples, RSS ${range(r.memory.map((m) => m.rss))}, V8 heap used ${range(r.memory.map((m) => m.heapUsed))}`);
    console.log(`operator memory while ${VMS} VMs were backed up: ${figures.join("; ")}`);
    expect(Math.max(...second.memory.map((m) => m.rss))).toBeLessThan(OPERATOR_RSS_LIMIT);
    // What the heap keeps through its collections (its lowest sample) must not grow from one run to the next.
    const trough = (samples: MemorySample[]) => Math.min(...samples.map((m) => m.heapUsed));
    expect(trough(second.memory)).toBeLessThan(trough(first.memory) + HEAP_GROWTH_LIMIT);
  });

  it("the vault holds both runs' points and checks clean, data included", async () => {
    const ls = await lifeboatCli(["vault", "ls", "--repo", join(workDir, "vault"), "--json"], VAULT_KEY);
    expect(ls.code).toBe(0);
    const points = JSON.parse(ls.stdout) as { labels?: Record<string, string> }[];
    expect(points).toHaveLength(2 * VMS);
    expect(new Set(points.map((p) => p.labels?.vm))).toEqual(new Set(vmNames));
    const check = await lifeboatCli(["vault", "check", "--read-data", "--repo", join(workDir, "vault")], VAULT_KEY);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(new RegExp(`^No errors in ${2 * VMS} points, \\d+ packs, \\d+ blocks; verified`));
  }, 600_000);
});
