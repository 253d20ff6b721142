// `kubectl lifeboat` end to end: the plugin, found by the test bed's real
// kubectl on PATH (krew naming), drives a backup and restores through the
// operator installed with its chart, against vcsim and a filesystem vault.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { load } from "js-yaml";
import { connect } from "../../operator/src/vsphere/index.js";
import { claimFile, repoRoot } from "../testbed/paths.js";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";
import { hostPathClaim, installLifeboat, vaultClaim, waitForCondition } from "../support/lifeboat.js";
import { adminConfig, createNamespace, testbed } from "../support/testbed.js";
import { expectImage, mixedData } from "../support/data.js";

const MiB = 1024 * 1024;
const DATA_BYTES = 32 * MiB;
const VAULT_KEY = randomBytes(32).toString("base64");

let ns: string;
let workDir: string;
/** A directory holding only the plugin executable, put first on kubectl's PATH. */
let pluginDir: string;
let vcsim: Vcsim;
let custom: k8s.CustomObjectsApi;
let vm: string;
let data: Buffer;
let pointName: string;

/** Runs `kubectl lifeboat ARGS` with the test bed's kubectl, as a user types it. */
function kubectlLifeboat(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const tb = testbed();
  return new Promise((resolve) => {
    execFile(
      tb.kubectl,
      ["lifeboat", "--kubeconfig", tb.kubeconfig, "-n", ns, ...args],
      { env: { ...process.env, PATH: `${pluginDir}${delimiter}${process.env.PATH ?? ""}` }, maxBuffer: 16 * MiB },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

function lifeboat(kind: string, name: string, spec: object) {
  return custom.createNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: `${kind.toLowerCase()}s`, body: { apiVersion: "lifeboat.io/v1alpha1", kind, metadata: { name }, spec } });
}

async function get<T>(kind: string, name: string): Promise<T> {
  return (await custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: `${kind.toLowerCase()}s`, name })) as T;
}

beforeAll(async () => {
  custom = adminConfig().makeApiClient(k8s.CustomObjectsApi);
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  workDir = await mkdtemp(join(tmpdir(), "lifeboat-kubectl-e2e-"));
  // What `npm link` makes: an executable kubectl-lifeboat on PATH. Here a shell wrapper runs the
  // built plugin with this Node, so the test does not depend on which node is first on PATH.
  pluginDir = join(workDir, "bin");
  await mkdir(pluginDir);
  const plugin = join(pluginDir, "kubectl-lifeboat");
  await writeFile(plugin, `#!/bin/sh\nexec '${process.execPath}' '${join(repoRoot, "dist", "operator", "src", "cli", "kubectl", "main.js")}' "$@"\n`);
  await chmod(plugin, 0o755);

  vcsim = await startVcsim({ standaloneHosts: 1, clusters: 0, vms: 1 });
  const client = await connect({ address: vcsim.address, username: vcsim.username, password: vcsim.password, tls: { thumbprint: vcsim.thumbprint } });
  vm = (await client.inventory()).vms.find((v) => !v.template)?.name ?? "";
  await client.close();
  const [disk] = await vcsim.disks(vm);
  data = mixedData(DATA_BYTES, 7);
  await vcsim.writeDisk(vm, disk?.key ?? 0, 0, data);

  ns = await createNamespace("kubectl");
  await installLifeboat({}, [await vaultClaim(ns, "vault", join(workDir, "vault"))]);
  await hostPathClaim(ns, "restores", join(workDir, "restores"));
  const secret = (name: string, d: Record<string, string>) => core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: d } });
  await secret("vault-key", { key: VAULT_KEY });
  await secret("vc", { username: vcsim.username, password: vcsim.password });
  await lifeboat("BackupVault", "vault", { backend: { filesystem: { persistentVolumeClaim: { name: "vault" } } }, encryption: { keySecretRef: { name: "vault-key" } } });
  await lifeboat("Gateway", "gw", { vaultRef: { name: "vault" }, maxWorkers: 2, maxCpu: 2 });
  await lifeboat("VCenter", "vc", { address: vcsim.address, credentialsSecretRef: { name: "vc" }, tls: { thumbprint: vcsim.thumbprint }, gatewayRef: { name: "gw" } });
  await lifeboat("BackupPlan", "daily", { vCenterRef: { name: "vc" }, vaultRef: { name: "vault" }, gatewayRef: { name: "gw" }, vms: { names: [vm] }, retention: { keepLast: 3 } });
  await waitForCondition("BackupPlan", ns, "daily", "Ready", "True", undefined, 90_000);
});

afterAll(async () => {
  await vcsim.stop();
  await rm(workDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 500 });
});

describe("kubectl lifeboat", () => {
  it("is found by kubectl on PATH and explains itself", async () => {
    const r = await kubectlLifeboat(["--help"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: kubectl lifeboat");
  });

  it("says what to fix when a plan does not exist", async () => {
    const r = await kubectlLifeboat(["backup", "run", "nightly"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: BackupPlan "nightly" not found in namespace ${ns}; \`kubectl get backupplans -n ${ns}\` lists them (or pass -n)\n`);
  });

  it("backup run --wait starts a run through spec.runRequest and follows it to Succeeded", async () => {
    const r = await kubectlLifeboat(["backup", "run", "daily", "--wait", "--timeout", "4m"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Requested a run of BackupPlan daily \(spec\.runRequest=kubectl-lifeboat-/);
    expect(r.stdout).toMatch(new RegExp(`${vm}\\s+Succeeded\\s+\\[#{20}\\] 100%`));
    expect(r.stdout).toMatch(/Run \S+ Succeeded/);
    const plan = await get<{ spec: { runRequest?: string }; status?: { lastHandledRunRequest?: string; lastRun?: { result?: string; trigger?: string } } }>("BackupPlan", "daily");
    expect(plan.status?.lastHandledRunRequest).toBe(plan.spec.runRequest);
    expect(plan.status?.lastRun).toMatchObject({ result: "Succeeded", trigger: "Request" });
  });

  it("points lists the new point with human-readable sizes", async () => {
    const names = await kubectlLifeboat(["points", vm, "-o", "name"]);
    expect(names.code).toBe(0);
    const listed = names.stdout.trim().split("\n");
    expect(listed).toHaveLength(1);
    pointName = listed[0] ?? "";
    await waitForCondition("RecoveryPoint", ns, pointName, "Available", "True");
    const table = await kubectlLifeboat(["points"]);
    expect(table.code).toBe(0);
    const [header, row] = table.stdout.split("\n");
    expect(header).toMatch(/^NAME\s+VM\s+TIME\s+AGE\s+CONSISTENCY\s+SIZE\s+NEW\s+SOURCE/);
    // The VM's disk is 10 GiB; the point added at most its 32 MiB of data, compressed.
    expect(row).toMatch(new RegExp(`^${pointName}\\s+${vm}\\s+\\S+\\s+\\S+\\s+Crash\\s+10 GiB\\s+\\d+(\\.\\d)? (KiB|MiB)\\s+plan/daily\\s+-\\s+True$`));
  });

  it("restore -o yaml prints the RestoreJob for Git and creates nothing", async () => {
    const r = await kubectlLifeboat(["restore", pointName, "--to", "image-file", "--pvc", "restores", "--path", "git", "--name", "from-git", "-o", "yaml"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(load(r.stdout)).toEqual({
      apiVersion: "lifeboat.io/v1alpha1",
      kind: "RestoreJob",
      metadata: { name: "from-git", namespace: ns },
      // The gateway is the point's plan's.
      spec: { recoveryPointRef: { name: pointName }, gatewayRef: { name: "gw" }, target: { imageFile: { persistentVolumeClaim: { name: "restores" }, path: "git" } } },
    });
    await expect(get("RestoreJob", "from-git")).rejects.toThrow();
  });

  it("restore --to image-file --wait writes a disk image identical to the VM's disk", async () => {
    const r = await kubectlLifeboat(["restore", pointName, "--to", "image-file", "--pvc", "restores", "--path", "cli", "--name", "to-file", "--wait", "--timeout", "4m"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^restorejob\.lifeboat\.io\/to-file created\n/);
    expect(r.stdout).toMatch(/RestoreJob to-file Succeeded: pvc:\/\/restores\/cli\//);
    const job = await get<{ status: { phase: string; result: { paths: string[] } } }>("RestoreJob", "to-file");
    expect(job.status.phase).toBe("Succeeded");
    const [disk] = await vcsim.disks(vm);
    await expectImage(claimFile(job.status.result.paths[0] ?? "", "restores", join(workDir, "restores")), data, disk?.capacityBytes ?? 0);
  });

  it("restore --to vsphere --wait makes a new VM holding the backed-up bytes, in the plan's vCenter", async () => {
    const r = await kubectlLifeboat(["restore", pointName, "--to", "vsphere", "--datastore", "LocalDS_0", "--vm-name", `${vm}-cli`, "--name", "to-vsphere", "--wait", "--timeout", "4m"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`RestoreJob to-vsphere Succeeded: VM ${vm}-cli \\(vm-\\d+\\)`));
    const [disk] = await vcsim.disks(`${vm}-cli`);
    await expectImage(disk?.flatPath ?? "", data, disk?.capacityBytes ?? 0);
  });

  it("status prints one snapshot when not on a terminal", async () => {
    const r = await kubectlLifeboat(["status"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/PLAN\s+READY\s+SCHEDULE\s+LAST RESULT/);
    expect(r.stdout).toMatch(/daily\s+True\s+on request\s+Succeeded/);
    expect(r.stdout).toContain("2 restore(s) Succeeded, 0 Failed");
  });
});
