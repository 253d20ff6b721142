import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { dump } from "js-yaml";
import { clusterDown, clusterUp, readTestbed } from "./cluster.js";
import { ensureComponent } from "./components.js";
import { hashFile } from "./hash.js";
import { claimFile, repoRoot, testbedDir } from "./paths.js";
import { startVcsim, type Vcsim } from "./vcsim.js";

const execFileAsync = promisify(execFile);
const MiB = 1024 * 1024;
/** No step of the demo waits longer than this: a stuck step fails the demo instead of hanging it. */
const STEP_TIMEOUT_MS = 10 * 60_000;

function say(line: string): void {
  console.log(`\n\x1b[1m== ${line}\x1b[0m`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function fmt(bytes: number | undefined): string {
  if (bytes === undefined) return "-";
  return bytes >= MiB ? `${(bytes / MiB).toFixed(1)} MiB` : `${bytes} B`;
}

/**
 * The README's main job: on the local test bed, install Lifeboat with Helm,
 * back up VMs of a vCenter (vcsim) holding generated data, change one VM,
 * back up again incrementally, restore both points and compare them byte
 * for byte with what the VM held at each moment, showing progress as it
 * goes. Everything stays up afterwards for a look around with kubectl.
 */
export async function runDemo(name: string): Promise<void> {
  // A failed demo leaves nothing running: its vcsim always stops, and a test
  // bed it started itself goes down with it (one that was up before stays).
  const wasUp = (await readTestbed(name)) !== undefined;
  const started: { vcsim?: Vcsim } = {};
  try {
    await demo(name, started);
  } catch (err) {
    say("Demo failed; stopping what it started");
    if (!wasUp) await clusterDown(name);
    throw err;
  } finally {
    await started.vcsim?.stop();
  }
}

async function demo(name: string, started: { vcsim?: Vcsim }): Promise<void> {
  say("Starting the local control plane");
  const tb = await clusterUp(name);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(tb.kubeconfig);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const kubectl = async (...args: string[]) => (await execFileAsync(tb.kubectl, ["--kubeconfig", tb.kubeconfig, ...args])).stdout;

  say("Starting vCenter (vcsim with Lifeboat's harness) with 3 VMs holding generated data");
  // vcsim listens on the test bed's host address, where the pods reach it.
  const vcsim = await startVcsim({ name: `${name}-vcsim`, listenAddress: tb.hostAddress, standaloneHosts: 1, clusters: 0, vms: 3, log: (l) => { console.log(`  ${l}`); } });
  started.vcsim = vcsim;
  const { connect } = await import("../../operator/src/vsphere/index.js");
  const client = await connect({ address: vcsim.address, username: vcsim.username, password: vcsim.password, tls: { thumbprint: vcsim.thumbprint } });
  const vms = (await client.inventory()).vms.filter((v) => !v.template).map((v) => v.name).sort();
  await client.close();
  const diskKey = async (vm: string): Promise<number> => {
    const [disk] = await vcsim.disks(vm);
    if (!disk) throw new Error(`${vm} has no disk`);
    return disk.key;
  };
  const data = new Map<string, Buffer>();
  for (const vm of vms) {
    const d = Buffer.alloc(64 * MiB);
    randomBytes(16 * MiB).copy(d, 0);
    for (let o = 16 * MiB; o < 48 * MiB; o += 64) d.write(`${vm} demo data line ${o}\n`.padEnd(64, "."), o);
    await vcsim.writeDisk(vm, await diskKey(vm), 0, d);
    data.set(vm, d);
    console.log(`  ${vm}: wrote 64 MiB (random, text, zeros)`);
  }

  // The vault and the restored images live on claims: on this one-node cluster, hostPath
  // PersistentVolumes on directories here (on a real cluster, NFS or another ReadWriteMany store).
  const ns = "demo";
  const vaultDir = join(testbedDir(name), "demo-vault");
  const restoreDir = join(testbedDir(name), "demo-restore");
  await rm(restoreDir, { recursive: true, force: true });
  for (const dir of [vaultDir, restoreDir]) {
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o777); // Lifeboat's pods run as a non-root user; hostPath ignores fsGroup
  }

  say("Installing Lifeboat with Helm (the operator mounts the demo vault's storage: vaultVolumes)");
  const helm = join(await ensureComponent("helm"), "helm");
  await kubectl("create", "namespace", "lifeboat-system").catch(() => "");
  const vaultVolumes = [{ namespace: ns, claimName: "vault", volume: { hostPath: { path: vaultDir, type: "Directory" } } }];
  await execFileAsync(helm, ["--kubeconfig", tb.kubeconfig, "upgrade", "--install", "lifeboat", join(repoRoot, "charts", "lifeboat"), "-n", "lifeboat-system", "--wait", "--timeout", "3m", "--set", "metrics.bindPodIP=true", "--set-json", `vaultVolumes=${JSON.stringify(vaultVolumes)}`]);
  console.log(await kubectl("-n", "lifeboat-system", "get", "pods"));

  // A demo that ran earlier on this test bed left its namespace, its claims' volumes and its vault: start
  // from nothing, or the new key would not open the old vault (WrongKey) and the claims would not bind.
  if ((await kubectl("get", "namespace", ns, "--ignore-not-found", "-o", "name")).trim()) {
    say(`Removing what the previous demo left (namespace ${ns}, its volumes and its vault's files)`);
    await kubectl("delete", "namespace", ns, "--wait", "--timeout", "3m");
  }
  await kubectl("delete", "persistentvolume", `${ns}-vault`, `${ns}-restores`, "--ignore-not-found", "--wait", "--timeout", "1m");
  // Emptied, not removed: the operator's pods mount this directory.
  for (const entry of await readdir(vaultDir)) await rm(join(vaultDir, entry), { recursive: true, force: true });

  say("Declaring the claims, a vault, a gateway, the vCenter and a backup plan");
  await kubectl("create", "namespace", ns).catch(() => "");
  const claim = (claimName: string, path: string) => [
    { apiVersion: "v1", kind: "PersistentVolume", metadata: { name: `${ns}-${claimName}` }, spec: { capacity: { storage: "10Gi" }, accessModes: ["ReadWriteMany"], persistentVolumeReclaimPolicy: "Retain", storageClassName: "", hostPath: { path, type: "Directory" }, claimRef: { namespace: ns, name: claimName } } },
    { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: claimName }, spec: { accessModes: ["ReadWriteMany"], storageClassName: "", volumeName: `${ns}-${claimName}`, resources: { requests: { storage: "10Gi" } } } },
  ];
  const manifests = [
    ...claim("vault", vaultDir),
    ...claim("restores", restoreDir),
    { apiVersion: "v1", kind: "Secret", metadata: { name: "vault-key" }, stringData: { key: randomBytes(32).toString("base64") } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "vcenter" }, stringData: { username: vcsim.username, password: vcsim.password } },
    { apiVersion: "lifeboat.io/v1alpha1", kind: "BackupVault", metadata: { name: "vault" }, spec: { backend: { filesystem: { persistentVolumeClaim: { name: "vault" } } }, encryption: { keySecretRef: { name: "vault-key" } } } },
    { apiVersion: "lifeboat.io/v1alpha1", kind: "Gateway", metadata: { name: "site" }, spec: { vaultRef: { name: "vault" }, maxWorkers: 3 } },
    { apiVersion: "lifeboat.io/v1alpha1", kind: "VCenter", metadata: { name: "vc" }, spec: { address: vcsim.address, credentialsSecretRef: { name: "vcenter" }, tls: { thumbprint: vcsim.thumbprint }, gatewayRef: { name: "site" } } },
    { apiVersion: "lifeboat.io/v1alpha1", kind: "BackupPlan", metadata: { name: "all-vms" }, spec: { vCenterRef: { name: "vc" }, vaultRef: { name: "vault" }, gatewayRef: { name: "site" }, vms: { namePatterns: ["*"] }, schedule: { cron: "0 2 * * *", timeZone: "Asia/Tokyo" }, retention: { keepLast: 7 } } },
  ];
  const child = execFile(tb.kubectl, ["--kubeconfig", tb.kubeconfig, "apply", "--server-side", "-n", ns, "-f", "-"]);
  child.stdin?.end(manifests.map((m) => dump(m)).join("---\n"));
  await new Promise<void>((resolve, reject) => child.on("exit", (code) => { if (code === 0) resolve(); else reject(new Error(`kubectl apply exited with ${code}`)); }));
  for (let i = 0; i < 120; i++) {
    const out = await kubectl("-n", ns, "get", "backupplan", "all-vms", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}");
    if (out === "True") break;
    await sleep(1000);
  }
  console.log(await kubectl("-n", ns, "get", "lifeboat"));

  const run = async (request: string) => {
    await custom.patchNamespacedCustomObject(
      { group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "backupplans", name: "all-vms", body: { spec: { runRequest: request } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      await sleep(2000);
      if (Date.now() > deadline) throw new Error(`backup run ${request} did not finish within ${STEP_TIMEOUT_MS / 60_000} minutes; kubectl -n ${ns} describe backupplan all-vms`);
      const plan = (await custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "backupplans", name: "all-vms" })) as {
        status?: { currentRun?: { vms?: { name: string; phase: string; bytesDone?: number; bytesTotal?: number; throughputBytesPerSecond?: number }[] }; lastRun?: { result?: string; message?: string }; lastHandledRunRequest?: string };
      };
      const s = plan.status;
      for (const vm of s?.currentRun?.vms ?? []) console.log(`  ${vm.name.padEnd(16)} ${vm.phase.padEnd(13)} ${fmt(vm.bytesDone)} / ${fmt(vm.bytesTotal)}  ${fmt(vm.throughputBytesPerSecond)}/s`);
      if (!s?.currentRun && s?.lastHandledRunRequest === request) {
        console.log(`  run finished: ${s.lastRun?.result ?? "?"} (${s.lastRun?.message ?? ""})`);
        return;
      }
    }
  };

  say("Backup 1: a full backup (only allocated areas are read)");
  await run("demo-1");
  const changedVm = vms[0] ?? "";
  say(`Changing 8 MiB of ${changedVm}'s disk`);
  const before = Buffer.from(data.get(changedVm) ?? Buffer.alloc(0));
  const fresh = randomBytes(8 * MiB);
  await vcsim.writeDisk(changedVm, await diskKey(changedVm), 20 * MiB, fresh);
  const after = Buffer.from(before);
  fresh.copy(after, 20 * MiB);
  say("Backup 2: incremental, through changed block tracking");
  await run("demo-2");

  await sleep(3000);
  console.log(await kubectl("-n", ns, "get", "recoverypoints", "-o", "custom-columns=NAME:.metadata.name,VM:.spec.vm.name,TIME:.spec.time,READ:.status.readBytes,NEW:.status.newBytes"));

  say(`Restoring both points of ${changedVm} to disk images and comparing them byte for byte`);
  const rps = ((await custom.listNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "recoverypoints" })) as { items: { metadata: { name: string }; spec: { vm: { name: string }; time: string } }[] }).items
    .filter((r) => r.spec.vm.name === changedVm)
    .sort((a, b) => a.spec.time.localeCompare(b.spec.time));
  const expected = [before, after];
  let allGood = true;
  for (const [i, rp] of rps.entries()) {
    const jobName = `demo-restore-${i}-${Date.now().toString(36)}`;
    await custom.createNamespacedCustomObject({
      group: "lifeboat.io",
      version: "v1alpha1",
      namespace: ns,
      plural: "restorejobs",
      body: { apiVersion: "lifeboat.io/v1alpha1", kind: "RestoreJob", metadata: { name: jobName }, spec: { recoveryPointRef: { name: rp.metadata.name }, gatewayRef: { name: "site" }, target: { imageFile: { persistentVolumeClaim: { name: "restores" }, path: String(i) } } } },
    });
    let paths: string[] = [];
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      await sleep(2000);
      if (Date.now() > deadline) throw new Error(`restore ${jobName} did not finish within ${STEP_TIMEOUT_MS / 60_000} minutes; kubectl -n ${ns} describe restorejob ${jobName}`);
      const job = (await custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "restorejobs", name: jobName })) as { status?: { phase?: string; progress?: { percent?: number }; result?: { paths?: string[] } } };
      console.log(`  ${jobName}: ${job.status?.phase ?? "Pending"} ${job.status?.progress?.percent ?? 0}%`);
      if (job.status?.phase === "Succeeded") {
        paths = job.status.result?.paths ?? [];
        break;
      }
      if (job.status?.phase === "Failed") throw new Error(`restore ${jobName} failed; kubectl -n ${ns} describe restorejob ${jobName}`);
    }
    const want = createHash("sha256").update(expected[i] ?? Buffer.alloc(0)).digest("hex");
    const got = await hashFile(claimFile(paths[0] ?? "", "restores", restoreDir), (expected[i] ?? Buffer.alloc(0)).length);
    const same = want === got;
    allGood &&= same;
    console.log(`  point ${i + 1} (${rp.metadata.name}): ${same ? "identical to the disk at that moment" : "DIFFERENT"} (sha256 ${got.slice(0, 16)}...)`);
  }
  say(allGood ? "Demo finished: backups, incremental and restores verified byte for byte" : "Demo finished with differences");
  console.log(`The test bed stays up (vcsim stopped with the demo): export KUBECONFIG=${tb.kubeconfig}; kubectl get lifeboat -A. Stop it with: npm run cluster:down`);
  if (!allGood) process.exitCode = 1;
}
