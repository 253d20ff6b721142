import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { formatBytes } from "../../operator/src/util/quantity.js";
import { isoSeconds } from "../../operator/src/util/time.js";
import { connect, type VsphereClient } from "../../operator/src/vsphere/index.js";
import { WORKER_LABELS } from "../../operator/src/workloads/worker-job.js";
import { claimFile, repoRoot } from "../testbed/paths.js";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";
import { hostPathClaim, installLifeboat, leaderPod, leaseHolder, vaultClaim, waitForCondition } from "../support/lifeboat.js";
import { LIFEBOAT_IMAGE } from "../testbed/images.js";
import { adminConfig, createNamespace, eventually, killContainer, kubectl } from "../support/testbed.js";
import { expectImage, mixedData } from "../support/data.js";
import { expectSameAsRaw } from "../support/qemu-img.js";
import { addDisk, removeDisk, setDiskMode } from "../support/vm-disks.js";

const MiB = 1024 * 1024;
/** Each VM holds this much generated data (the 256 MiB; LIFEBOAT_E2E_DISK_MIB shrinks it for a quick local loop). */
const DATA_BYTES = Number(process.env.LIFEBOAT_E2E_DISK_MIB ?? 256) * MiB;

let ns: string;
/** A second namespace, a rebuilt cluster's, that adopts the vault's points. */
let adoptNs: string;
let workDir: string;
let vcsim: Vcsim;
let vcsim2: Vcsim;
let client: VsphereClient;
let custom: k8s.CustomObjectsApi;
let core: k8s.CoreV1Api;
let vmNames: string[];
const VAULT_KEY = randomBytes(32).toString("base64");
/** What each VM's disk holds at each point, by VM and run. */
const contents = new Map<string, Buffer[]>();

/** The device key of a VM's first disk. */
async function diskKey(vm: string): Promise<number> {
  const [disk] = await vcsim.disks(vm);
  if (!disk) throw new Error(`${vm} has no disk`);
  return disk.key;
}

function lifeboat(kind: string, name: string, spec: object) {
  return custom.createNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: `${kind.toLowerCase()}s`, body: { apiVersion: "lifeboat.io/v1alpha1", kind, metadata: { name }, spec } });
}

async function get<T>(kind: string, name: string): Promise<T> {
  return (await custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: `${kind.toLowerCase()}s`, name })) as T;
}

interface PlanStatus {
  lastRun?: { id?: string; result?: string; message?: string; trigger?: string; startTime?: string; completionTime?: string };
  lastSuccessfulTime?: string;
  nextRun?: string;
  lastResults?: { name: string; phase: string; recoveryPoint?: string; reason?: string }[];
  currentRun?: { id?: string; vms?: { name: string; phase: string; bytesDone?: number; bytesTotal?: number }[] };
}

/** Asks for a run (spec.runRequest) and waits for it to finish; returns the plan's status. */
async function runPlan(plan: string, request: string): Promise<PlanStatus> {
  const before = (await get<{ status?: PlanStatus }>("BackupPlan", plan)).status?.lastRun?.id;
  await custom.patchNamespacedCustomObject(
    { group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "backupplans", name: plan, body: { spec: { runRequest: request } } },
    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
  );
  return eventually(`run ${request} of ${plan} to finish`, async () => {
    const s = (await get<{ status?: PlanStatus }>("BackupPlan", plan)).status;
    return s?.lastRun?.id && s.lastRun.id !== before && !s.currentRun ? s : undefined;
  }, 240_000);
}

/** Waits until the plan's last retention pass (a maintenance Job its run's end started) has ended. */
async function retentionPassEnded(plan: string): Promise<void> {
  await eventually(`${plan}'s retention pass to end`, async () => ((await get<{ status?: { retention?: { phase?: string } } }>("BackupPlan", plan)).status?.retention?.phase !== "Running" ? true : undefined), 120_000);
}

interface RP {
  metadata: { name: string };
  spec: { vm: { name: string }; pointID: string; time: string };
  status?: { readBytes?: number; newBytes?: number; conditions?: { type: string; status: string }[] };
}

/**
 * `kubectl get ... -o wide` as rows of cells by column name: the API server
 * renders the printer columns, kubectl aligns each cell under its header.
 */
async function printed(args: readonly string[]): Promise<Record<string, string>[]> {
  const { code, stdout, stderr } = await kubectl(["get", ...args, "-n", ns, "-o", "wide"]);
  if (code !== 0) throw new Error(`kubectl get ${args.join(" ")} failed: ${stderr}`);
  const [header = "", ...rows] = stdout.split("\n").filter((l) => l.trim() !== "");
  const names = header.trim().split(/\s{2,}/);
  let from = 0;
  const starts = names.map((n) => (from = header.indexOf(n, from)));
  return rows.map((row) => Object.fromEntries(names.map((n, i) => [n, row.slice(starts[i], starts[i + 1]).trim()])));
}

async function recoveryPoints(vault: string): Promise<RP[]> {
  const list = (await custom.listNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "recoverypoints", labelSelector: `lifeboat.io/vault=${vault}` })) as { items: RP[] };
  return list.items.sort((a, b) => a.spec.time.localeCompare(b.spec.time));
}

/** Runs the lifeboat CLI with the suite's vault key. */
function lifeboatCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot, "dist", "operator", "src", "cli", "main.js"), ...args], { env: { ...process.env, LIFEBOAT_VAULT_KEY: VAULT_KEY } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  core = adminConfig().makeApiClient(k8s.CoreV1Api);
  custom = adminConfig().makeApiClient(k8s.CustomObjectsApi);
  workDir = await mkdtemp(join(tmpdir(), "lifeboat-backup-e2e-"));
  vcsim = await startVcsim({ standaloneHosts: 1, clusters: 0, vms: 3 });
  vcsim2 = await startVcsim({ standaloneHosts: 1, clusters: 0, vms: 0 });
  client = await connect({ address: vcsim.address, username: vcsim.username, password: vcsim.password, tls: { thumbprint: vcsim.thumbprint } });
  vmNames = (await client.inventory()).vms.filter((v) => !v.template).map((v) => v.name).sort();
  expect(vmNames).toHaveLength(3);
  for (const [i, vm] of vmNames.entries()) {
    const data = mixedData(DATA_BYTES, i);
    await vcsim.writeDisk(vm, await diskKey(vm), 0, data);
    contents.set(vm, [data]);
  }

  ns = await createNamespace("backup");
  adoptNs = await createNamespace("adopt");
  // The main vault reaches the operator through a claim in its own namespace, the others through hostPath.
  await installLifeboat({}, [
    await vaultClaim(ns, "vault", join(workDir, "vault"), "claim"),
    await vaultClaim(ns, "locked", join(workDir, "locked")),
    await vaultClaim(ns, "scheduled", join(workDir, "scheduled")),
    await vaultClaim(adoptNs, "vault", join(workDir, "vault")),
  ]);
  await hostPathClaim(ns, "restores", join(workDir, "restores"));
  const secret = (name: string, data: Record<string, string>) => core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: data } });
  await secret("vault-key", { key: VAULT_KEY });
  await secret("vc", { username: vcsim.username, password: vcsim.password });
  await secret("vc2", { username: vcsim2.username, password: vcsim2.password });
  await lifeboat("BackupVault", "vault", { backend: { filesystem: { persistentVolumeClaim: { name: "vault" } } }, encryption: { keySecretRef: { name: "vault-key" } } });
  await lifeboat("BackupVault", "locked", { backend: { filesystem: { persistentVolumeClaim: { name: "locked" } } }, encryption: { keySecretRef: { name: "vault-key" } }, lock: { enabled: true, mode: "Governance", retentionDays: 1 } });
  await lifeboat("Gateway", "gw", { vaultRef: { name: "vault" }, maxWorkers: 2, maxCpu: 2 });
  await lifeboat("VCenter", "vc", { address: vcsim.address, credentialsSecretRef: { name: "vc" }, tls: { thumbprint: vcsim.thumbprint }, gatewayRef: { name: "gw" } });
  await lifeboat("VCenter", "vc2", { address: vcsim2.address, credentialsSecretRef: { name: "vc2" }, tls: { thumbprint: vcsim2.thumbprint }, gatewayRef: { name: "gw" } });
  await lifeboat("BackupPlan", "all", { vCenterRef: { name: "vc" }, vaultRef: { name: "vault" }, gatewayRef: { name: "gw" }, vms: { names: vmNames }, retention: { keepLast: 2 } });
  await lifeboat("BackupPlan", "locked", { vCenterRef: { name: "vc" }, vaultRef: { name: "locked" }, gatewayRef: { name: "gw" }, vms: { names: [vmNames[2] ?? ""] }, retention: { keepLast: 1 } });
  await waitForCondition("BackupPlan", ns, "all", "Ready", "True", undefined, 90_000);
  await waitForCondition("BackupPlan", ns, "locked", "Ready", "True", undefined, 90_000);
});

afterAll(async () => {
  await client.close();
  await vcsim.stop();
  await vcsim2.stop();
  await rm(workDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 500 });
});

describe("backup and restore, end to end", () => {
  it("backs up every VM of a plan into a RecoveryPoint each, reading only allocated areas", async () => {
    const leaderBefore = await leaseHolder();
    const status = await runPlan("all", "first");
    expect(status.lastRun?.result).toBe("Succeeded");
    expect(status.lastResults?.map((r) => r.phase)).toEqual(["Succeeded", "Succeeded", "Succeeded"]);
    const points = await eventually("three recovery points", async () => {
      const rps = await recoveryPoints("vault");
      return rps.length === 3 ? rps : undefined;
    });
    for (const rp of points) await waitForCondition("RecoveryPoint", ns, rp.metadata.name, "Available", "True");
    const { pod: leader, holder } = await leaderPod();
    const metrics = await eventually("vault metrics after the sync", async () => {
      const text = await (await fetch(`http://${leader.status?.podIP ?? ""}:8081/metrics`)).text();
      return text.includes(`lifeboat_vault_recovery_points{namespace="${ns}",vault="vault"} 3`) ? text : undefined;
    });
    // The run counter lives in the process that finished the run: it says 1 when the same replica still
    // leads (its identity names the process); a replica that took over since starts its series at 0.
    const runs = `lifeboat_backup_runs_total{namespace="${ns}",plan="all",result="Succeeded"}`;
    if (holder === leaderBefore) expect(metrics).toContain(`${runs} 1`);
    else expect(metrics).toMatch(new RegExp(`${runs.replace(/[{}]/g, "\\$&")} [01]\n`));
    expect(metrics).toMatch(new RegExp(`lifeboat_vault_dedup_ratio\\{namespace="${ns}",vault="vault"\\} [1-9]`));
    // What the alert rules read (docs/monitoring.md): the vault is Ready, the plan's last run and success are recorded.
    expect(metrics).toContain(`lifeboat_vault_ready{namespace="${ns}",vault="vault"} 1`);
    const lastSuccess = Date.parse(status.lastSuccessfulTime ?? "") / 1000;
    expect(status.lastSuccessfulTime).toBe(status.lastRun?.completionTime);
    expect(metrics).toContain(`lifeboat_backup_plan_last_success_timestamp_seconds{namespace="${ns}",plan="all"} ${lastSuccess}`);
    expect(metrics).toContain(`lifeboat_backup_plan_last_run_timestamp_seconds{namespace="${ns}",plan="all",result="Succeeded"} ${lastSuccess}`);
    for (const rp of await recoveryPoints("vault")) {
      // The zero quarter is never read: CBT's "*" reports only allocated areas.
      expect(rp.status?.readBytes).toBeLessThanOrEqual(DATA_BYTES);
      expect(rp.status?.readBytes).toBeGreaterThanOrEqual((DATA_BYTES * 3) / 4 - MiB);
    }
  });

  it("shows sizes for people in kubectl get, the dedup ratio over data rather than zeros, and the raw bytes with -o wide", async () => {
    interface VaultStatus { recoveryPointCount?: number; storedBytes?: number; stored?: string; logicalBytes?: number; allocatedBytes?: number; allocated?: string; dedupRatio?: string; compressionRatio?: string }
    const status = await eventually("the vault's sizes after the sync", async () => {
      const s = (await get<{ status?: VaultStatus }>("BackupVault", "vault")).status;
      return s?.recoveryPointCount === 3 && s.allocatedBytes ? s : undefined;
    }, 90_000);
    const stored = status.storedBytes ?? 0;
    const allocated = status.allocatedBytes ?? 0;
    expect(status.stored).toBe(formatBytes(stored));
    expect(status.allocated).toBe(formatBytes(allocated));
    // Each VM's data has a zero quarter; the disks are larger still: neither counts as data.
    expect(allocated).toBeGreaterThanOrEqual(3 * ((DATA_BYTES * 3) / 4 - MiB));
    expect(allocated).toBeLessThanOrEqual(3 * ((DATA_BYTES * 3) / 4 + MiB));
    expect(allocated).toBeLessThan(status.logicalBytes ?? 0);
    expect(status.dedupRatio).toBe((allocated / stored).toFixed(2));
    // A quarter of each VM is one block repeated and a quarter compressible text: both ratios are above 1.
    expect(Number(status.dedupRatio)).toBeGreaterThan(1.5);
    expect(Number(status.compressionRatio)).toBeGreaterThan(1);

    const [vault] = await printed(["backupvault", "vault"]);
    expect(vault).toMatchObject({ POINTS: "3", STORED: status.stored, DATA: status.allocated, DEDUP: status.dedupRatio, COMPRESSION: status.compressionRatio, "STORED BYTES": String(stored) });
    expect(vault?.STORED).toMatch(/^\d+(\.\d)? (B|KiB|MiB|GiB)$/);

    const rows = await printed(["recoverypoint", "-l", "lifeboat.io/vault=vault"]);
    expect(rows).toHaveLength(3);
    for (const rp of await recoveryPoints("vault")) {
      const row = rows.find((r) => r.NAME === rp.metadata.name);
      const sizeBytes = (await get<{ status?: { sizeBytes?: number } }>("RecoveryPoint", rp.metadata.name)).status?.sizeBytes ?? 0;
      expect(row).toMatchObject({ SIZE: formatBytes(sizeBytes), NEW: formatBytes(rp.status?.newBytes ?? 0), "SIZE BYTES": String(sizeBytes) });
    }
  });

  it("after 5% of one VM's blocks change, the next run reads only those and stores little", async () => {
    const vm = vmNames[0] ?? "";
    const changed = Buffer.from(contents.get(vm)?.[0] ?? Buffer.alloc(0));
    const blocks = Math.max(1, Math.round((DATA_BYTES / MiB) * 0.05));
    for (let i = 0; i < blocks; i++) {
      const offset = (i * 7 % (DATA_BYTES / MiB)) * MiB;
      const fresh = randomBytes(MiB);
      fresh.copy(changed, offset);
      await vcsim.writeDisk(vm, await diskKey(vm), offset, fresh);
    }
    contents.get(vm)?.push(changed);
    for (const other of vmNames.slice(1)) contents.get(other)?.push(contents.get(other)?.[0] ?? Buffer.alloc(0));

    const status = await runPlan("all", "second");
    expect(status.lastRun?.result).toBe("Succeeded");
    const points = await eventually("six recovery points", async () => {
      const rps = (await recoveryPoints("vault")).filter((r) => r.status?.readBytes !== undefined);
      return rps.length === 6 ? rps : undefined;
    });
    const second = points.slice(3);
    const mine = second.find((p) => p.spec.vm.name === vm);
    expect(mine?.status?.readBytes).toBe(blocks * MiB);
    expect(mine?.status?.newBytes).toBeLessThan(blocks * MiB * 1.1 + MiB);
    for (const p of second.filter((x) => x.spec.vm.name !== vm)) expect(p.status?.readBytes).toBe(0);
  });

  it("restores both points of the changed VM to disk images identical to the disk at each moment", async () => {
    const vm = vmNames[0] ?? "";
    const points = (await recoveryPoints("vault")).filter((p) => p.spec.vm.name === vm);
    expect(points).toHaveLength(2);
    const [disk] = await vcsim.disks(vm);
    for (const [i, rp] of points.entries()) {
      await lifeboat("RestoreJob", `file-${i}`, { recoveryPointRef: { name: rp.metadata.name }, gatewayRef: { name: "gw" }, target: { imageFile: { persistentVolumeClaim: { name: "restores" }, path: `restore-${i}` } } });
      await waitForCondition("RestoreJob", ns, `file-${i}`, "Succeeded", "True", undefined, 240_000);
      const job = await get<{ status: { result: { paths: string[] }; progress: { percent: number } } }>("RestoreJob", `file-${i}`);
      expect(job.status.progress.percent).toBe(100);
      const [path] = job.status.result.paths;
      await expectImage(claimFile(path ?? "", "restores", join(workDir, "restores")), contents.get(vm)?.[i] ?? Buffer.alloc(0), disk?.capacityBytes ?? 0);
    }
  });

  it("restores a point as a VMDK and a qcow2 image on the claim that qemu-img reads as the raw restore", async () => {
    const vm = vmNames[0] ?? "";
    const latest = (await recoveryPoints("vault")).filter((p) => p.spec.vm.name === vm).pop();
    const raw = (await get<{ status: { result: { paths: string[] } } }>("RestoreJob", "file-1")).status.result.paths[0] ?? "";
    for (const format of ["vmdk", "qcow2"] as const) {
      await lifeboat("RestoreJob", `image-${format}`, { recoveryPointRef: { name: latest?.metadata.name ?? "" }, gatewayRef: { name: "gw" }, target: { imageFile: { format, persistentVolumeClaim: { name: "restores" }, path: "images" } } });
      await waitForCondition("RestoreJob", ns, `image-${format}`, "Succeeded", "True", undefined, 240_000);
      const job = await get<{ status: { result: { paths: string[] } } }>("RestoreJob", `image-${format}`);
      expect(job.status.result.paths).toEqual([expect.stringMatching(new RegExp(`^pvc://restores/images/.*\\.${format}$`))]);
      const local = (path: string) => claimFile(path, "restores", join(workDir, "restores"));
      await expectSameAsRaw(local(job.status.result.paths[0] ?? ""), format, local(raw));
    }
  });

  it("restores into a second vCenter as a new VM holding exactly the backed-up bytes", async () => {
    const vm = vmNames[0] ?? "";
    const latest = (await recoveryPoints("vault")).filter((p) => p.spec.vm.name === vm).pop();
    const datastore = (await connect({ address: vcsim2.address, username: vcsim2.username, password: vcsim2.password, tls: { thumbprint: vcsim2.thumbprint } }).then(async (c) => {
      const inv = await c.inventory();
      await c.close();
      return inv.datastores[0]?.name;
    })) ?? "";
    await lifeboat("RestoreJob", "to-vc2", {
      recoveryPointRef: { name: latest?.metadata.name ?? "" },
      gatewayRef: { name: "gw" },
      target: { vSphere: { vCenterRef: { name: "vc2" }, datastore, vmName: `${vm}-restored`, powerOn: true } },
    });
    await waitForCondition("RestoreJob", ns, "to-vc2", "Succeeded", "True", undefined, 240_000);
    const job = await get<{ status: { result: { vmMoRef?: string; vmName?: string } } }>("RestoreJob", "to-vc2");
    expect(job.status.result.vmMoRef).toMatch(/^vm-/);
    const [disk] = await vcsim2.disks(`${vm}-restored`);
    await expectImage(disk?.flatPath ?? "", contents.get(vm)?.[1] ?? Buffer.alloc(0), disk?.capacityBytes ?? 0);
  });

  it("keeps exactly what the retention says, and a locked point survives it", async () => {
    const third = await runPlan("all", "third");
    expect(third.lastRun?.result).toBe("Succeeded");
    await eventually("retention to leave 2 points per VM", async () => {
      const rps = await recoveryPoints("vault");
      return rps.length === 6 && vmNames.every((vm) => rps.filter((r) => r.spec.vm.name === vm).length === 2) ? rps : undefined;
    }, 120_000);

    expect((await runPlan("locked", "l1")).lastRun?.result).toBe("Succeeded");
    expect((await runPlan("locked", "l2")).lastRun?.result).toBe("Succeeded");
    const locked = await eventually("both locked points", async () => {
      const rps = await recoveryPoints("locked");
      return rps.length === 2 ? rps : undefined;
    });
    expect(locked.map((r) => r.spec.vm.name)).toEqual([vmNames[2], vmNames[2]]);
  });

  it("retries a worker killed mid-backup: the run completes, the vault checks clean", async () => {
    const vm = vmNames[1] ?? "";
    await vcsim.writeDisk(vm, await diskKey(vm), 4 * MiB, randomBytes(24 * MiB));
    // Slow uploads down (flow control around the clock) so the kill lands mid-transfer.
    await custom.patchNamespacedCustomObject(
      { group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "gateways", name: "gw", body: { spec: { flowControl: [{ days: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], start: "00:00", end: "23:59", bandwidth: "4Mi" }] } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    const runDone = runPlan("all", "killed");
    const pod = await eventually(`a worker for ${vm} transferring`, async () => {
      const plan = await get<{ status?: PlanStatus }>("BackupPlan", "all");
      const entry = plan.status?.currentRun?.vms?.find((v) => v.name === vm);
      if (entry?.phase !== "Transferring" || (entry.bytesDone ?? 0) < MiB) return undefined;
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: "app.kubernetes.io/component=worker" });
      return pods.items.find((p) => p.status?.phase === "Running" && JSON.stringify(p.spec?.containers[0]?.env).includes(vm));
    }, 120_000);
    await killContainer(pod);
    const status = await runDone;
    expect(status.lastRun?.result).toBe("Succeeded");
    const entry = status.lastResults?.find((r) => r.name === vm) as { attempts?: number; phase: string } | undefined;
    expect(entry?.phase).toBe("Succeeded");
    expect(entry?.attempts).toBeGreaterThanOrEqual(2);
    await custom.patchNamespacedCustomObject(
      { group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "gateways", name: "gw", body: { spec: { flowControl: null } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    // The run's end started a retention pass (a maintenance Job); its prune holds the vault exclusively and check would find it busy.
    await retentionPassEnded("all");
    const check = await lifeboatCli(["vault", "check", "--read-data", "--repo", join(workDir, "vault")]);
    expect({ code: check.code, stderr: check.code === 0 ? "" : check.stderr }).toEqual({ code: 0, stderr: "" });
    expect(check.stdout).toMatch(/^No errors in \d+ points, \d+ packs, \d+ blocks; verified/);
  });

  it("a VM that fails does not fail the others, and the plan says which and why", async () => {
    await custom.patchNamespacedCustomObject(
      { group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "gateways", name: "gw", body: { spec: { maxWorkers: 1 } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await waitForCondition("Gateway", ns, "gw", "Activated", "True");
    const doomed = vmNames[2] ?? "";
    const runDone = runPlan("all", "partial");
    // One worker at a time, in name order: the last VM's worker starts after the others; its VM is gone by then.
    await eventually("the run to start", async () => ((await get<{ status?: PlanStatus }>("BackupPlan", "all")).status?.currentRun ? true : undefined));
    const ref = (await client.inventory()).vms.find((v) => v.name === doomed)?.ref;
    if (!ref) throw new Error(`no VM ${doomed}`);
    await client.powerOff(ref).catch(() => undefined);
    await client.destroyVm(ref);
    const status = await runDone;
    expect(status.lastRun?.result).toBe("PartiallyFailed");
    expect(status.lastRun?.message).toContain(`failed: ${doomed} (VMNotFound)`);
    const failed = status.lastResults?.find((r) => r.name === doomed);
    expect(failed).toMatchObject({ phase: "Failed", reason: "VMNotFound" });
    expect(status.lastResults?.filter((r) => r.phase === "Succeeded").map((r) => r.name)).toEqual(vmNames.slice(0, 2));
  });

  it("a restore waits while its Gateway's worker slots are taken, and starts when one frees up", async () => {
    // maxWorkers is 1 since the previous test. A suspended Job with the Gateway's worker label
    // holds that slot for as long as the test wants, as a long backup worker would.
    const batch = adminConfig().makeApiClient(k8s.BatchV1Api);
    await batch.createNamespacedJob({
      namespace: ns,
      body: {
        metadata: { name: "slot-holder", labels: { [WORKER_LABELS.gateway]: "gw" } },
        spec: { suspend: true, template: { spec: { restartPolicy: "Never", containers: [{ name: "hold", image: LIFEBOAT_IMAGE, command: ["node", "-e", "0"] }] } } },
      },
    });
    try {
      const point = (await recoveryPoints("vault")).filter((p) => p.spec.vm.name === vmNames[1]).pop();
      await lifeboat("RestoreJob", "queued", { recoveryPointRef: { name: point?.metadata.name ?? "" }, gatewayRef: { name: "gw" }, target: { imageFile: { persistentVolumeClaim: { name: "restores" }, path: "queued" } } });
      const waiting = await waitForCondition("RestoreJob", ns, "queued", "Succeeded", "Unknown", "WaitingForGateway");
      expect(waiting.message).toBe("Gateway gw runs 1 of its 1 workers; the restore starts when one finishes");
      expect((await get<{ status?: { phase?: string } }>("RestoreJob", "queued")).status?.phase).toBe("Pending");
    } finally {
      await batch.deleteNamespacedJob({ name: "slot-holder", namespace: ns, propagationPolicy: "Background" });
    }
    await waitForCondition("RestoreJob", ns, "queued", "Succeeded", "True", undefined, 120_000);
  });

  it("brings a deleted RecoveryPoint back from the vault, and deleting a plan deletes nothing in it", async () => {
    const [first] = await recoveryPoints("locked");
    if (!first) throw new Error("no recovery point in the locked vault");
    await custom.deleteNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "recoverypoints", name: first.metadata.name });
    await eventually("the deleted RecoveryPoint to come back", async () => {
      const again = (await recoveryPoints("locked")).find((r) => r.metadata.name === first.metadata.name);
      return again && (again as unknown as { metadata: { uid?: string } }).metadata.uid !== (first as unknown as { metadata: { uid?: string } }).metadata.uid ? again : undefined;
    }, 90_000);
    await custom.deleteNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "backupplans", name: "locked" });
    await eventually("the plan to be gone", async () => {
      try {
        await get("BackupPlan", "locked");
        return undefined;
      } catch {
        return true;
      }
    });
    const check = await lifeboatCli(["vault", "ls", "--repo", join(workDir, "locked"), "--json"]);
    expect(check.code).toBe(0);
    expect((JSON.parse(check.stdout) as unknown[]).length).toBe(2);
    expect(await recoveryPoints("locked")).toHaveLength(2);
  });

  it("a BackupVault in a fresh namespace, pointed at the same vault, brings every RecoveryPoint back", async () => {
    // What a rebuilt cluster does after losing everything but the vault.
    const fresh = adoptNs;
    // The last run's retention pass (a maintenance Job) may still be forgetting points: let it end, so the vault holds still.
    await retentionPassEnded("all");
    await core.createNamespacedSecret({ namespace: fresh, body: { metadata: { name: "vault-key" }, stringData: { key: VAULT_KEY } } });
    await custom.createNamespacedCustomObject({
      group: "lifeboat.io", version: "v1alpha1", namespace: fresh, plural: "backupvaults",
      body: { apiVersion: "lifeboat.io/v1alpha1", kind: "BackupVault", metadata: { name: "vault" }, spec: { backend: { filesystem: { persistentVolumeClaim: { name: "vault" } } }, encryption: { keySecretRef: { name: "vault-key" } }, initialize: false } },
    });
    const ls = await lifeboatCli(["vault", "ls", "--repo", join(workDir, "vault"), "--json"]);
    expect(ls.code).toBe(0);
    const inVault = (JSON.parse(ls.stdout) as { id: string }[]).map((p) => p.id).sort();
    expect(inVault.length).toBeGreaterThanOrEqual(4);
    const adopted = await eventually("every point of the vault as a RecoveryPoint in the fresh namespace", async () => {
      const list = (await custom.listNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: fresh, plural: "recoverypoints" })) as { items: RP[] };
      return list.items.length === inVault.length ? list.items : undefined;
    }, 90_000);
    expect(adopted.map((p) => p.spec.pointID).sort()).toEqual(inVault);
    // Same names as in the original namespace: the vault, not the cluster, decides them.
    const names = adopted.map((p) => p.metadata.name).sort();
    await eventually("the original namespace's RecoveryPoints to have the same names", async () => (JSON.stringify((await recoveryPoints("vault")).map((p) => p.metadata.name).sort()) === JSON.stringify(names) ? true : undefined), 60_000);
    for (const rp of adopted) await waitForCondition("RecoveryPoint", fresh, rp.metadata.name, "Available", "True");
  });

  it("starts a run at the plan's cron time in its time zone, and none while paused", async () => {
    await lifeboat("BackupVault", "scheduled", { backend: { filesystem: { persistentVolumeClaim: { name: "scheduled" } } }, encryption: { keySecretRef: { name: "vault-key" } } });
    await waitForCondition("BackupVault", ns, "scheduled", "Ready", "True");
    // The next whole minute at least 30 s away (time for the plan's first reconcile),
    // as Tokyo wall-clock time (UTC+9, no DST): a scheduler ignoring the time zone would fire 9 hours off.
    const at = new Date(Math.ceil((Date.now() + 30_000) / 60_000) * 60_000);
    const tokyo = new Date(at.getTime() + 9 * 3_600_000);
    const schedule = { cron: `${tokyo.getUTCMinutes()} ${tokyo.getUTCHours()} * * *`, timeZone: "Asia/Tokyo" };
    const plan = (paused: boolean) => ({ vCenterRef: { name: "vc" }, vaultRef: { name: "scheduled" }, gatewayRef: { name: "gw" }, vms: { names: [vmNames[0] ?? ""] }, retention: { keepLast: 1 }, schedule, paused });
    await lifeboat("BackupPlan", "tokyo", plan(false));
    await lifeboat("BackupPlan", "tokyo-paused", plan(true));
    const planned = await eventually("the plan's next run", async () => (await get<{ status?: PlanStatus }>("BackupPlan", "tokyo")).status?.nextRun);
    expect(planned).toBe(isoSeconds(at));

    await waitForCondition("BackupPlan", ns, "tokyo-paused", "Ready", "True", "Paused");
    const status = await eventually("the scheduled run to finish", async () => {
      const s = (await get<{ status?: PlanStatus }>("BackupPlan", "tokyo")).status;
      return s?.lastRun?.result ? s : undefined;
    }, at.getTime() - Date.now() + 180_000);
    expect(status.lastRun).toMatchObject({ trigger: "Schedule", result: "Succeeded" });
    const late = Date.parse(status.lastRun?.startTime ?? "") - at.getTime();
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(60_000); // in its minute, not at the next reconcile that happened by
    expect(status.nextRun).toBe(isoSeconds(new Date(at.getTime() + 86_400_000)));
    const paused = (await get<{ status?: PlanStatus }>("BackupPlan", "tokyo-paused")).status;
    expect(paused?.lastRun).toBeUndefined();
    expect(paused?.nextRun).toBeUndefined();
    await eventually("the scheduled run's RecoveryPoint", async () => ((await recoveryPoints("scheduled")).length === 1 ? true : undefined));
  }, 420_000);

  it("leaves out the disks a snapshot does not capture, says which, and refuses a VM that has no other", async () => {
    const vm = vmNames[0] ?? "";
    const ref = (await client.findVmsByName(vm))[0]?.ref;
    if (!ref) throw new Error(`no VM ${vm}`);
    const first = await diskKey(vm);
    // An independent disk and a physical-mode RDM beside the VM's disk, each holding data.
    const scratch = await addDisk(client, ref, { capacityBytes: 8 * MiB, file: "scratch.vmdk", diskMode: "independent_persistent" });
    const lun = await addDisk(client, ref, { capacityBytes: 16 * MiB, file: "lun.vmdk", rdm: "physicalMode" });
    try {
      await vcsim.writeDisk(vm, scratch, 0, randomBytes(MiB));
      await vcsim.writeDisk(vm, lun, 0, randomBytes(MiB));
      // Named as vCenter names them (vcsim labels an added disk "disk-<controller>-<unit>", vCenter "Hard disk N").
      const disks = new Map((await client.getVm(ref)).disks.map((d) => [d.key, d]));
      const files = new Map([...disks].map(([key, d]) => [key, d.fileName]));
      const label = (key: number) => disks.get(key)?.label ?? "";
      await lifeboat("BackupPlan", "mixed", { vCenterRef: { name: "vc" }, vaultRef: { name: "vault" }, gatewayRef: { name: "gw" }, vms: { names: [vm] }, retention: { keepLast: 1 } });
      await waitForCondition("BackupPlan", ns, "mixed", "Ready", "True", undefined, 90_000);

      const status = await runPlan("mixed", "with-independent");
      expect(status.lastRun?.result).toBe("Succeeded");
      const result = status.lastResults?.find((r) => r.name === vm) as { phase: string; recoveryPoint?: string; message?: string } | undefined;
      expect(result?.phase).toBe("Succeeded");
      const named = `${label(scratch)} (${files.get(scratch) ?? ""}) is an independent disk; ${label(lun)} (${files.get(lun) ?? ""}) is a physical-mode RDM`;
      expect(result?.message).toBe(`backed up without ${named}: a VM snapshot does not capture such disks, so point ${result?.recoveryPoint ?? ""} holds no data of them`);
      const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: "involvedObject.name=mixed,reason=DisksExcluded" });
      expect(events.items.map((e) => e.type)).toEqual(["Warning"]);
      expect(events.items[0]?.message).toBe(`VM ${vm}: ${result?.message ?? ""}`);
      const point = await eventually("the point's RecoveryPoint", async () => (await recoveryPoints("vault")).find((p) => p.metadata.name === result?.recoveryPoint));
      const spec = point.spec as unknown as { disks: { key: number }[]; excludedDisks?: unknown[] };
      expect(spec.disks.map((d) => d.key)).toEqual([first]);
      expect(spec.excludedDisks).toEqual([
        { key: scratch, reason: "IndependentDisk", label: label(scratch), fileName: files.get(scratch), capacityBytes: 8 * MiB },
        { key: lun, reason: "PhysicalModeRDM", label: label(lun), fileName: files.get(lun), capacityBytes: 16 * MiB },
      ]);

      // With its last dependent disk made independent, the VM has nothing a snapshot captures: the run fails at once, saying what to change.
      await setDiskMode(client, ref, first, "independent_persistent");
      const refused = await runPlan("mixed", "all-independent");
      expect(refused.lastRun?.result).toBe("Failed");
      const failed = refused.lastResults?.find((r) => r.name === vm) as { phase: string; reason?: string; attempts?: number; message?: string } | undefined;
      expect(failed).toMatchObject({ phase: "Failed", reason: "NoSnapshotDisks", attempts: 1 });
      expect(failed?.message).toContain(`VM "${vm}" has no disk a snapshot captures: ${label(first)} (${files.get(first) ?? ""}) is an independent disk;`);
      expect(failed?.message).toContain("Make them dependent disks (disk mode persistent; an RDM in virtual compatibility mode)");
    } finally {
      await setDiskMode(client, ref, first, "persistent");
      await removeDisk(client, ref, lun);
      await removeDisk(client, ref, scratch);
      await custom.deleteNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "backupplans", name: "mixed" });
    }
  });

  it("leaves no snapshot behind on any VM", async () => {
    for (const vm of (await client.inventory()).vms) expect(await client.listSnapshots(vm.ref)).toEqual([]);
  });
});
