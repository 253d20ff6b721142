// Fault: a filesystem vault runs out of space in the middle of a backup. The
// vault is a small tmpfs mounted on the claim's directory (a real filesystem
// that really fills up, as an undersized NFS export or volume does). The run
// must fail with a reason that says so (VaultFull, and the worker's message),
// leave no partial point anywhere (vault, RecoveryPoints), and the next run,
// once the filesystem is grown, must succeed with exactly the VM's bytes and
// a vault that checks clean, data included.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { connect } from "../../operator/src/vsphere/index.js";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";
import { installLifeboat, vaultClaim, waitForCondition } from "../support/lifeboat.js";
import { lifeboatCli } from "../support/dr.js";
import { adminConfig, createNamespace, eventually } from "../support/testbed.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;
/** Random, so neither compression nor dedup shrinks it: the vault needs all of it. */
const DATA = randomBytes(48 * MiB);
/** Room for the repository's config and key slot, not for the first 32 MiB pack. */
const SMALL = "16m";
const LARGE = "256m";
const VAULT_KEY = randomBytes(32).toString("base64");

let ns: string;
let workDir: string;
let vaultDir: string;
let vcsim: Vcsim;
let custom: k8s.CustomObjectsApi;
let vm: string;

interface PlanStatus {
  lastRun?: { id?: string; result?: string; message?: string };
  lastResults?: { name: string; phase: string; reason?: string; message?: string; recoveryPoint?: string }[];
  currentRun?: { id?: string };
}

function create(kind: string, name: string, spec: object) {
  return custom.createNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: `${kind.toLowerCase()}s`, body: { apiVersion: "lifeboat.io/v1alpha1", kind, metadata: { name }, spec } });
}

async function planStatus(): Promise<PlanStatus> {
  return ((await custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "backupplans", name: "plan" })) as { status?: PlanStatus }).status ?? {};
}

async function runPlan(request: string): Promise<PlanStatus> {
  const before = (await planStatus()).lastRun?.id;
  await custom.patchNamespacedCustomObject(
    { group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "backupplans", name: "plan", body: { spec: { runRequest: request } } },
    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
  );
  return eventually(`run ${request} to finish`, async () => {
    const s = await planStatus();
    return s.lastRun?.id && s.lastRun.id !== before && !s.currentRun ? s : undefined;
  }, 300_000);
}

async function recoveryPoints(): Promise<unknown[]> {
  return ((await custom.listNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "recoverypoints" })) as { items: unknown[] }).items;
}

beforeAll(async () => {
  custom = adminConfig().makeApiClient(k8s.CustomObjectsApi);
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  workDir = await mkdtemp(join(tmpdir(), "lifeboat-faults-space-e2e-"));
  vaultDir = join(workDir, "vault");
  await mkdir(vaultDir);
  await run("mount", ["-t", "tmpfs", "-o", `size=${SMALL},mode=0777`, "lifeboat-e2e-vault", vaultDir]);

  vcsim = await startVcsim({ standaloneHosts: 1, clusters: 0, vms: 1 });
  const client = await connect({ address: vcsim.address, username: vcsim.username, password: vcsim.password, tls: { thumbprint: vcsim.thumbprint } });
  try {
    vm = (await client.inventory()).vms.find((v) => !v.template)?.name ?? "";
  } finally {
    await client.close();
  }
  const [disk] = await vcsim.disks(vm);
  if (!disk) throw new Error(`${vm} has no disk`);
  await vcsim.writeDisk(vm, disk.key, 0, DATA);

  ns = await createNamespace("faults-space");
  await installLifeboat({}, [await vaultClaim(ns, "vault", vaultDir)]);
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "vault-key" }, stringData: { key: VAULT_KEY } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "vc" }, stringData: { username: vcsim.username, password: vcsim.password } } });
  await create("BackupVault", "vault", { backend: { filesystem: { persistentVolumeClaim: { name: "vault" } } }, encryption: { keySecretRef: { name: "vault-key" } } });
  await create("Gateway", "gw", { vaultRef: { name: "vault" } });
  await create("VCenter", "vc", { address: vcsim.address, credentialsSecretRef: { name: "vc" }, tls: { thumbprint: vcsim.thumbprint }, gatewayRef: { name: "gw" } });
  await create("BackupPlan", "plan", { vCenterRef: { name: "vc" }, vaultRef: { name: "vault" }, gatewayRef: { name: "gw" }, vms: { names: [vm] }, retention: { keepLast: 3 } });
  await waitForCondition("BackupPlan", ns, "plan", "Ready", "True", undefined, 120_000);
}, 600_000);

afterAll(async () => {
  await vcsim.stop();
  await run("umount", ["-l", vaultDir]).catch(() => undefined);
  await rm(workDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 500 });
});

describe("a filesystem vault that runs out of space mid-backup", () => {
  it("fails the run with VaultFull and the worker's reason, and leaves no partial point", async () => {
    const status = await runPlan("full");
    expect(status.lastRun?.result).toBe("Failed");
    const [result] = status.lastResults ?? [];
    expect(result?.phase).toBe("Failed");
    expect(result?.reason).toBe("VaultFull");
    expect(result?.message).toMatch(/out of space; free space or grow the volume/);
    expect(result?.recoveryPoint).toBeUndefined();

    // Nothing half-made is visible: the vault lists no point, and no RecoveryPoint mirrors one.
    const ls = await lifeboatCli(["vault", "ls", "--repo", vaultDir, "--json"], VAULT_KEY);
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([]);
    expect(await recoveryPoints()).toEqual([]);
  });

  it("after the filesystem is grown, the next run succeeds with exactly the VM's bytes, and the vault checks clean", async () => {
    await run("mount", ["-o", `remount,size=${LARGE}`, vaultDir]);
    const status = await runPlan("after-growing");
    expect(status.lastRun?.result).toBe("Succeeded");
    expect(status.lastResults?.[0]?.recoveryPoint).toBeDefined();
    await eventually("the point's RecoveryPoint", async () => ((await recoveryPoints()).length === 1 ? true : undefined));

    const check = await lifeboatCli(["vault", "check", "--read-data", "--repo", vaultDir], VAULT_KEY);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/^No errors in 1 points, \d+ packs, \d+ blocks; verified/);
    const target = join(workDir, "restored.img");
    const restore = await lifeboatCli(["vault", "restore", "latest", "--repo", vaultDir, "--target", target], VAULT_KEY);
    expect(restore.code).toBe(0);
    const restored = Buffer.alloc(DATA.length);
    const file = await open(target);
    try {
      await file.read(restored, 0, DATA.length, 0);
    } finally {
      await file.close();
    }
    expect(restored.equals(DATA)).toBe(true);
  }, 600_000);
});
