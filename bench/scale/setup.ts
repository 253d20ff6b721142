/**
 * What `npm run bench:scale` puts into the cluster and the vault, and how:
 *
 * - RecoveryPoints are not created through the API: the vault is their
 *   source of truth and the BackupVault controller mirrors each point into a
 *   RecoveryPoint (backup-vault-controller.ts, like Velero's backup sync).
 *   So the bench writes real points into a filesystem vault with the vault
 *   library (a backup session per point, as a worker commits one, with the
 *   labels a worker writes), and the operator makes the objects, the way a
 *   cluster comes to hold them in production (or after a vault is attached
 *   to a new cluster). Each point is a 16 GiB disk of which 4 MiB is data
 *   shared by all points, so no data worth the name is written.
 * - BackupPlans are active, on a daily schedule that fires 12 hours after the
 *   bench starts, so no run starts (and no data moves) while it runs; at
 *   rest a plan only waits for its next run.
 * - ProtectedServers are in a SitePair between two vcsims with a small
 *   inventory that does not hold the VMs they name: replication waits for
 *   its VM (Replicating False, VMNotFound) and no cycle ever starts. Each
 *   resolves its site pair and looks its VM up in vCenter, as a replicating
 *   server does between cycles, then waits for vCenter's change feed. A
 *   replicating server's cycles are not measured here; between them it
 *   writes nothing (its status holds no age).
 *
 * Everything else is created through the API server as a user would, a
 * bounded number of requests at a time.
 */
import * as k8s from "@kubernetes/client-node";
import { buildPointLabels } from "../../operator/src/worker/labels.js";
import { backup, openVault, type DiskSource, type VaultSpec } from "../../operator/src/vault/index.js";

export const GROUP = "lifeboat.io";
export const VERSION = "v1alpha1";
const MiB = 1024 * 1024;
const DISK_BYTES = 16 * 1024 * MiB;
const DATA_BYTES = 4 * MiB;

/** How many objects of each kind, and where they go. */
export interface ScaleCounts {
  readonly plans: number;
  readonly points: number;
  readonly servers: number;
}

/** Runs `fn` over `items` with at most `limit` at once; resolves when all are done, rejects on the first failure. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/** The name of plan `i` (and of the VM it backs up). */
export function planName(i: number): string {
  return `plan-${String(i).padStart(4, "0")}`;
}

export function serverName(i: number): string {
  return `server-${String(i).padStart(4, "0")}`;
}

/** A disk whose first DATA_BYTES hold the same bytes in every point, as a 16 GiB thin disk with a little data. */
function sharedDisk(): DiskSource {
  return {
    size: DISK_BYTES,
    readInto: (buffer, offset) => {
      for (let i = 0; i < buffer.length; i++) buffer[i] = ((offset + i) * 2654435761) >>> 24;
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}

/**
 * Commits `counts.points` points into the vault: plan i (of counts.plans)
 * gets every plans-th point, one a day back from now, labelled as a backup
 * worker labels them (namespace, plan, vm, run, vcenter and the VM's
 * description). `concurrency` sessions run at once.
 */
export async function writePoints(vault: VaultSpec, namespace: string, counts: ScaleCounts, concurrency: number, progress: (done: number) => void): Promise<void> {
  const v = await openVault(vault);
  const now = Date.now();
  const plans = Math.max(1, counts.plans);
  let done = 0;
  try {
    const items = Array.from({ length: counts.points }, (_, i) => i);
    await mapLimit(items, concurrency, async (i) => {
      const plan = i % plans;
      const nth = Math.floor(i / plans);
      const name = planName(plan);
      const vmName = `vm-${String(plan).padStart(4, "0")}`;
      const time = new Date(now - (nth + 1) * 86_400_000 - plan * 1000);
      const run = time.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
      const labels = buildPointLabels(
        { namespace, ...(counts.plans > 0 ? { plan: name } : {}), vm: vmName, run, vcenter: "vc-protected" },
        { ref: { type: "VirtualMachine", value: `vm-${1000 + plan}` }, name: vmName, instanceUuid: `50${String(plan).padStart(6, "0")}-0000-0000-0000-000000000000`, guestId: "rhel9_64Guest", numCpu: 2, memoryMB: 4096, firmware: "efi" },
        [{ key: 2000, label: "Hard disk 1", fileName: `[LocalDS_0] ${vmName}/${vmName}.vmdk`, controllerKey: 1000, unitNumber: 0 }],
        ["VM Network"],
      );
      await backup(v, [{ key: "2000", source: sharedDisk(), changedExtents: [{ offset: 0, length: DATA_BYTES }], changeId: `52 ${run}/1` }], { labels, time, consistency: "crash" });
      progress(++done);
    });
  } finally {
    await v.close();
  }
}

/** One lifeboat.io object to create. */
export interface LifeboatManifest {
  readonly kind: string;
  readonly name: string;
  readonly spec: object;
}

/** Where the sites are: the two simulators and the vaults' directories. */
export interface Sites {
  readonly protectedVc: { address: string; thumbprint: string };
  readonly recoveryVc: { address: string; thumbprint: string };
  readonly vaultPath: string;
  readonly drVaultPath: string;
}

/**
 * Every object besides the Secrets: two vaults, a Gateway per site, both
 * vCenters, the SitePair, then `plans` BackupPlans and `servers`
 * ProtectedServers. `scheduleHourUtc` is the hour the plans' daily schedule
 * fires (chosen by the caller so that it does not fire while the bench runs).
 */
export function manifests(sites: Sites, counts: ScaleCounts, scheduleHourUtc: number): { infrastructure: LifeboatManifest[]; plans: LifeboatManifest[]; servers: LifeboatManifest[] } {
  const infrastructure: LifeboatManifest[] = [
    { kind: "BackupVault", name: "primary", spec: { backend: { filesystem: { path: sites.vaultPath } }, encryption: { keySecretRef: { name: "vault-key" } }, initialize: false } },
    { kind: "BackupVault", name: "dr-recovery", spec: { backend: { filesystem: { path: sites.drVaultPath } }, encryption: { keySecretRef: { name: "vault-key" } }, initialize: false } },
    { kind: "Gateway", name: "site-a", spec: { vaultRef: { name: "primary" }, maxWorkers: 4, maxCpu: 4 } },
    { kind: "Gateway", name: "site-b", spec: { vaultRef: { name: "dr-recovery" }, maxWorkers: 4, maxCpu: 4 } },
    { kind: "VCenter", name: "vc-protected", spec: { address: sites.protectedVc.address, credentialsSecretRef: { name: "vc-protected" }, tls: { thumbprint: sites.protectedVc.thumbprint }, gatewayRef: { name: "site-a" } } },
    { kind: "VCenter", name: "vc-recovery", spec: { address: sites.recoveryVc.address, credentialsSecretRef: { name: "vc-recovery" }, tls: { thumbprint: sites.recoveryVc.thumbprint }, gatewayRef: { name: "site-b" } } },
    {
      kind: "SitePair",
      name: "pair",
      spec: {
        type: "VMwareToVMware",
        source: { vCenterRef: { name: "vc-protected" }, datacenter: "DC0", datastore: "LocalDS_0" },
        target: { vCenterRef: { name: "vc-recovery" }, datacenter: "DC0", datastore: "LocalDS_0" },
        vaultRef: { name: "dr-recovery" },
        gatewayRef: { name: "site-a" },
        recoveryGatewayRef: { name: "site-b" },
        networkMappings: [{ source: "DC0_DVPG0", recovery: "VM Network", test: "DC0_DVPG1" }],
      },
    },
  ];
  const plans = Array.from({ length: counts.plans }, (_, i): LifeboatManifest => ({
    kind: "BackupPlan",
    name: planName(i),
    spec: {
      vCenterRef: { name: "vc-protected" },
      vaultRef: { name: "primary" },
      gatewayRef: { name: "site-a" },
      vms: { names: [`vm-${String(i).padStart(4, "0")}`] },
      schedule: { cron: `${i % 60} ${scheduleHourUtc} * * *`, timeZone: "UTC" },
      retention: { keepLast: 3, daily: 7 },
      changedBlockTracking: true,
    },
  }));
  const servers = Array.from({ length: counts.servers }, (_, i): LifeboatManifest => ({
    kind: "ProtectedServer",
    name: serverName(i),
    spec: { sitePairRef: { name: "pair" }, source: { vmName: serverName(i) }, desiredState: "Replicating" },
  }));
  return { infrastructure, plans, servers };
}

/** Creates lifeboat.io objects, `concurrency` requests at a time; resolves with how long it took (s). */
export async function createAll(custom: k8s.CustomObjectsApi, namespace: string, objects: readonly LifeboatManifest[], concurrency: number): Promise<number> {
  const started = Date.now();
  await mapLimit(objects, concurrency, async (o) => {
    try {
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: `${o.kind.toLowerCase()}s`,
        body: { apiVersion: `${GROUP}/${VERSION}`, kind: o.kind, metadata: { name: o.name }, spec: o.spec },
      });
    } catch (err) {
      throw new Error(`Could not create ${o.kind} ${namespace}/${o.name}`, { cause: err });
    }
  });
  return (Date.now() - started) / 1000;
}

/** A lifeboat.io object as the bench reads it back. */
export interface Observed {
  metadata: { name?: string; generation?: number };
  status?: { observedGeneration?: number; recoveryPointCount?: number; conditions?: { type: string; status: string; reason?: string }[] };
}

/** Every object of a kind in the namespace, read in pages of 500 (as an informer lists). */
export async function listAll(custom: k8s.CustomObjectsApi, namespace: string, plural: string): Promise<Observed[]> {
  const items: Observed[] = [];
  let token: string | undefined;
  do {
    // The list comes back as the API server's JSON: its token is metadata.continue (client-node calls the request parameter _continue).
    const page = (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, limit: 500, ...(token ? { _continue: token } : {}) })) as { items: Observed[]; metadata?: { continue?: string } };
    items.push(...page.items);
    token = page.metadata?.continue || undefined;
  } while (token);
  return items;
}

/** The condition of `type` on an object, if set for its current generation. */
export function observedCondition(o: Observed, type: string): { status: string; reason?: string } | undefined {
  if (o.status?.observedGeneration !== o.metadata.generation) return undefined;
  return o.status?.conditions?.find((c) => c.type === type);
}
