/**
 * Two sites for the disaster-recovery suites: a protected vCenter and a
 * recovery vCenter (two vcsims with the harness extensions), a vault at each
 * site (filesystem, different keys), a Gateway per site, and a SitePair with
 * network mappings (DC0_DVPG0 → recovery "VM Network", test DC0_DVPG1).
 * Lifeboat is installed with Helm, as a user does; everything is driven
 * through the API server.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { connect, type VirtualMachine, type VsphereClient } from "../../operator/src/vsphere/index.js";
import { hashFile } from "../testbed/hash.js";
import { repoRoot } from "../testbed/paths.js";
import { mixedData } from "./data.js";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";
import { installLifeboat, OPERATOR_NAMESPACE, operatorPods, pluralOf, vaultClaim, waitForCondition } from "./lifeboat.js";
import { adminConfig, createNamespace, deleteNamespace, eventually } from "./testbed.js";

export const MiB = 1024 * 1024;
/** vcsim puts its VMs' NICs on the distributed port group DC0_DVPG0. */
export const SOURCE_NETWORK = "DC0_DVPG0";
export const RECOVERY_NETWORK = "VM Network";
export const TEST_NETWORK = "DC0_DVPG1";

export interface DrSites {
  readonly ns: string;
  readonly workDir: string;
  readonly protectedSim: Vcsim;
  readonly recoverySim: Vcsim;
  readonly protectedClient: VsphereClient;
  readonly recoveryClient: VsphereClient;
  readonly custom: k8s.CustomObjectsApi;
  readonly core: k8s.CoreV1Api;
  readonly batch: k8s.BatchV1Api;
  readonly forwardKey: string;
  readonly reverseKey: string;
  /** The protected VMs' names. */
  readonly vms: string[];
  /** Deletes the namespace (its drills clean up on the way), then stops both sites and removes the vaults (stopSites). */
  stop(): Promise<void>;
}

/** What startSites has started so far: what stopSites stops. */
interface Started {
  readonly workDir: string;
  readonly sims: Vcsim[];
  readonly clients: VsphereClient[];
  ns?: string;
}

/**
 * Stops what startSites started, in an order that leaves nothing running
 * and nothing in /tmp:
 *
 * 1. The namespace is deleted, with whatever drills are still up in it
 *    (deleteNamespace): each drill deletes its test VM while the operator
 *    holds the VCenter or SitePair and the Secrets it needs; replication
 *    stops for good and no worker is left writing into the vaults.
 * 2. The clients close, the vcsims stop, and the work directory (both vaults,
 *    about 120 MB a suite) is removed. The vaults' hostPath
 *    PersistentVolumes stay, Released, until the test bed goes.
 *
 * The last step runs however the first ends, and also after a
 * startSites that failed half way.
 */
async function stopSites(started: Started): Promise<void> {
  try {
    if (started.ns !== undefined) await deleteNamespace(started.ns, 300_000);
  } finally {
    for (const client of started.clients) await client.close().catch(() => undefined);
    for (const sim of started.sims) await sim.stop();
    await rm(started.workDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 500 });
  }
}

/** Starts both sites, installs Lifeboat and declares vaults, Gateways, VCenters and the SitePair. */
export async function startSites(opts: { vms: number; prefix: string }): Promise<DrSites> {
  const started: Started = { workDir: await mkdtemp(join(tmpdir(), `lifeboat-${opts.prefix}-`)), sims: [], clients: [] };
  try {
    return await declareSites(opts, started);
  } catch (err) {
    await stopSites(started).catch(() => undefined);
    throw err;
  }
}

async function declareSites(opts: { vms: number; prefix: string }, started: Started): Promise<DrSites> {
  const { workDir } = started;
  const protectedSim = await startVcsim({ standaloneHosts: 1, clusters: 0, vms: opts.vms });
  started.sims.push(protectedSim);
  const recoverySim = await startVcsim({ standaloneHosts: 1, clusters: 0, vms: 0, portgroups: 2 });
  started.sims.push(recoverySim);
  const protectedClient = await connect({ address: protectedSim.address, username: protectedSim.username, password: protectedSim.password, tls: { thumbprint: protectedSim.thumbprint } });
  started.clients.push(protectedClient);
  const recoveryClient = await connect({ address: recoverySim.address, username: recoverySim.username, password: recoverySim.password, tls: { thumbprint: recoverySim.thumbprint } });
  started.clients.push(recoveryClient);
  const vms = (await protectedClient.inventory()).vms.filter((v) => !v.template).map((v) => v.name).sort();
  const ns = await createNamespace(opts.prefix);
  started.ns = ns;
  await installLifeboat({}, [
    await vaultClaim(ns, "recovery-vault", join(workDir, "recovery-vault")),
    await vaultClaim(ns, "protected-vault", join(workDir, "protected-vault")),
  ]);
  const custom = adminConfig().makeApiClient(k8s.CustomObjectsApi);
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const batch = adminConfig().makeApiClient(k8s.BatchV1Api);
  const forwardKey = randomBytes(32).toString("base64");
  const reverseKey = randomBytes(32).toString("base64");
  const secret = (name: string, data: Record<string, string>) => core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: data } });
  await secret("forward-key", { key: forwardKey });
  await secret("reverse-key", { key: reverseKey });
  await secret("vc-protected", { username: protectedSim.username, password: protectedSim.password });
  await secret("vc-recovery", { username: recoverySim.username, password: recoverySim.password });
  const sites: DrSites = {
    ns, workDir, protectedSim, recoverySim, protectedClient, recoveryClient, custom, core, batch, forwardKey, reverseKey, vms,
    stop: () => stopSites(started),
  };
  await apply(sites, "BackupVault", "recovery-vault", { backend: { filesystem: { persistentVolumeClaim: { name: "recovery-vault" } } }, encryption: { keySecretRef: { name: "forward-key" } } });
  await apply(sites, "BackupVault", "protected-vault", { backend: { filesystem: { persistentVolumeClaim: { name: "protected-vault" } } }, encryption: { keySecretRef: { name: "reverse-key" } } });
  await apply(sites, "Gateway", "protected-site", { vaultRef: { name: "recovery-vault" }, maxWorkers: 4, maxCpu: 4 });
  await apply(sites, "Gateway", "recovery-site", { vaultRef: { name: "protected-vault" }, maxWorkers: 4, maxCpu: 4 });
  await apply(sites, "VCenter", "vc-protected", { address: protectedSim.address, credentialsSecretRef: { name: "vc-protected" }, tls: { thumbprint: protectedSim.thumbprint }, gatewayRef: { name: "protected-site" }, requestTimeoutSeconds: 20 });
  await apply(sites, "VCenter", "vc-recovery", { address: recoverySim.address, credentialsSecretRef: { name: "vc-recovery" }, tls: { thumbprint: recoverySim.thumbprint }, gatewayRef: { name: "recovery-site" }, requestTimeoutSeconds: 20 });
  await apply(sites, "SitePair", "pair", {
    type: "VMwareToVMware",
    source: { vCenterRef: { name: "vc-protected" }, datacenter: "DC0", datastore: "LocalDS_0" },
    target: { vCenterRef: { name: "vc-recovery" }, datacenter: "DC0", datastore: "LocalDS_0" },
    vaultRef: { name: "recovery-vault" },
    reverseVaultRef: { name: "protected-vault" },
    gatewayRef: { name: "protected-site" },
    recoveryGatewayRef: { name: "recovery-site" },
    networkMappings: [{ source: SOURCE_NETWORK, recovery: RECOVERY_NETWORK, test: TEST_NETWORK }],
  });
  await waitForCondition("SitePair", ns, "pair", "Ready", "True", "SitesConnected", 90_000);
  return sites;
}

/** Creates a lifeboat.io object. */
export async function apply(s: Pick<DrSites, "custom" | "ns">, kind: string, name: string, spec: object): Promise<void> {
  await s.custom.createNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: s.ns, plural: pluralOf(kind), body: { apiVersion: "lifeboat.io/v1alpha1", kind, metadata: { name }, spec } });
}

/** Merge-patches a lifeboat.io object's spec. */
export async function patchSpec(s: Pick<DrSites, "custom" | "ns">, kind: string, name: string, spec: object): Promise<void> {
  await s.custom.patchNamespacedCustomObject(
    { group: "lifeboat.io", version: "v1alpha1", namespace: s.ns, plural: pluralOf(kind), name, body: { spec } },
    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
  );
}

export async function getObject<T>(s: Pick<DrSites, "custom" | "ns">, kind: string, name: string): Promise<T> {
  return (await s.custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: s.ns, plural: pluralOf(kind), name })) as T;
}

/** The RPO a status shows at `now`: the age of its newest point, in seconds (undefined before the first). */
export function rpoSecondsOf(st: Pick<PsStatus, "lastRecoveryPointTime">, now = Date.now()): number | undefined {
  return st.lastRecoveryPointTime ? (now - Date.parse(st.lastRecoveryPointTime)) / 1000 : undefined;
}

/** What the suites read of a ProtectedServer's status. */
export interface PsStatus {
  stage?: string;
  direction?: string;
  rpoTargetSeconds?: number;
  nextCycleTime?: string;
  lastRecoveryPointTime?: string;
  learnedCycleSeconds?: number;
  recoveryPointCount?: number;
  retention?: { job?: string; run?: string; phase?: string; forgotten?: number; message?: string };
  pinnedPoints?: string[];
  heldResync?: { reason?: string; since?: string };
  replicationSettings?: { crashConsistentIntervalMinutes?: number; rpoThresholdMinutes?: number };
  replicationPolicy?: { name?: string; generation?: number };
  source?: { name?: string; moRef?: string; instanceUUID?: string };
  currentCycle?: { id?: string; bytesDone?: number; bytesTotal?: number; resync?: string; startTime?: string };
  lastCycle?: { id?: string; result?: string; reason?: string; bytesRead?: number; bytesTransferred?: number; resync?: string; pointID?: string; recoveryPoint?: string; durationSeconds?: number; startTime?: string; completionTime?: string; attempts?: number };
  conditions?: { type: string; status: string; reason: string; message: string }[];
  failover?: { step?: string; requestTime?: string; planned?: boolean; recoveryPoint?: string; pointID?: string; dataAtRiskSeconds?: number; vm?: { name?: string; moRef?: string }; committed?: boolean; fenced?: boolean; rtoSeconds?: number; attempt?: number; latestUsed?: boolean; sourceStopped?: boolean };
  reverse?: { step?: string; seedPointID?: string; seedBytesTransferred?: number; bytesTransferred?: number };
  failback?: { step?: string; pointID?: string; vm?: { name?: string; moRef?: string }; forwardSeedPointID?: string };
}

export async function psStatus(s: DrSites, name: string): Promise<PsStatus> {
  return (await getObject<{ status?: PsStatus }>(s, "ProtectedServer", name)).status ?? {};
}

export function condition(status: { conditions?: PsStatus["conditions"] }, type: string): { status: string; reason: string; message: string } | undefined {
  return status.conditions?.find((c) => c.type === type);
}

/** Waits for the server's next succeeded cycle after `afterId`; returns it. */
export function nextSucceededCycle(s: DrSites, name: string, afterId: string | undefined, timeoutMs = 240_000): Promise<NonNullable<PsStatus["lastCycle"]>> {
  return eventually(`a cycle of ${name} after ${afterId ?? "none"}`, async () => {
    const c = (await psStatus(s, name)).lastCycle;
    return c?.id && c.id !== afterId && c.result === "Succeeded" ? c : undefined;
  }, timeoutMs);
}

/** Waits until no cycle of the server runs and the next is not due for `quietMs`, so a write cannot straddle a snapshot. */
export async function betweenCycles(s: DrSites, name: string, quietMs = 15_000): Promise<PsStatus> {
  return eventually(`${name} between cycles`, async () => {
    const st = await getObject<{ status?: PsStatus & { nextCycleTime?: string } }>(s, "ProtectedServer", name);
    const next = st.status?.nextCycleTime ? Date.parse(st.status.nextCycleTime) : 0;
    return !st.status?.currentCycle && next - Date.now() > quietMs ? st.status : undefined;
  }, 180_000);
}

/** The device key of a VM's first disk in a simulator. */
export async function firstDisk(sim: Vcsim, vm: string): Promise<{ key: number; flatPath: string; capacityBytes: number }> {
  const [disk] = await sim.disks(vm);
  if (!disk) throw new Error(`${vm} has no disk`);
  return disk;
}

export function sha256(buf: Buffer): string {
  return createHash("sha256").update(buf).digest("hex");
}

/** Whether a whole disk file holds only zeros beyond `from` (sampled sparsely: the test disks are 10 GiB). */
export async function zeroBeyond(path: string, from: number, size: number): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(MiB);
    for (let off = from; off < size; off += 256 * MiB) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, off);
      if (!buf.subarray(0, bytesRead).every((b) => b === 0)) return false;
    }
    return true;
  } finally {
    await fh.close();
  }
}

/** A VM by name in a simulator, through the client. */
export async function vmByName(client: VsphereClient, name: string): Promise<VirtualMachine[]> {
  return (await client.findVmsByName(name)).filter((v) => !v.template);
}

/** Runs the lifeboat CLI with a vault key (and, for an S3 vault, its endpoint and credentials in `env`). */
export function lifeboatCli(args: string[], key: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot, "dist", "operator", "src", "cli", "main.js"), ...args], { env: { ...process.env, ...env, LIFEBOAT_VAULT_KEY: key }, maxBuffer: 64 * MiB }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The metrics text of the operator replica that leads. */
export async function operatorMetrics(): Promise<string> {
  const pods = await operatorPods();
  for (const p of pods) {
    if (!p.status?.podIP) continue;
    const text = await fetch(`http://${p.status.podIP}:8081/metrics`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.text()).catch(() => "");
    // The sample line, not the HELP text (which also reads "lifeboat_leader 1 while ...").
    if (/^lifeboat_leader 1$/m.test(text)) return text;
  }
  throw new Error("no operator replica leads");
}

/** The value of one metric sample, if present. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

/** Deletes every operator pod (SIGTERM with a one-second grace), as a node drain or crash would. */
export async function restartOperator(core: k8s.CoreV1Api): Promise<void> {
  for (const p of await operatorPods()) await core.deleteNamespacedPod({ name: p.metadata?.name ?? "", namespace: OPERATOR_NAMESPACE, gracePeriodSeconds: 1 });
}

export { hashFile, mixedData, readFile };
