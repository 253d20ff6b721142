import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { loadAll } from "js-yaml";
import { condition, helm, installLifeboat, leaderPod, leaseHolder, operatorLogs, operatorPods, OPERATOR_NAMESPACE, podLog, vaultClaim, waitForCondition } from "../support/lifeboat.js";
import { adminConfig, createNamespace, eventually, killContainer, kubectl } from "../support/testbed.js";

let ns: string;
let vaultDir: string;
let core: k8s.CoreV1Api;
let custom: k8s.CustomObjectsApi;

// Secret values this suite creates; none may ever appear in a log line.
const VAULT_KEY = "vault-key-3c9f1e7a-never-log-me";
const ACCESS_KEY_SECRET = "ak-secret-5d2b8c41-never-log-me";

function lifeboat(kind: string, name: string, spec: object) {
  return custom.createNamespacedCustomObject({
    group: "lifeboat.io",
    version: "v1alpha1",
    namespace: ns,
    plural: `${kind.toLowerCase()}s`,
    body: { apiVersion: "lifeboat.io/v1alpha1", kind, metadata: { name }, spec },
  });
}

function secret(name: string, data: Record<string, string>) {
  return core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: data } });
}

async function gateway(name: string): Promise<void> {
  await lifeboat("Gateway", name, { vaultRef: { name: "primary" }, credentialsSecretRef: { name: "accesskey" } });
}

beforeAll(async () => {
  core = adminConfig().makeApiClient(k8s.CoreV1Api);
  custom = adminConfig().makeApiClient(k8s.CustomObjectsApi);
  ns = await createNamespace("ops");
  vaultDir = await mkdtemp(join(tmpdir(), "lifeboat-e2e-vault-"));
  // Two claims on one directory: the same repository opened with two keys.
  await installLifeboat({}, [await vaultClaim(ns, "primary", vaultDir, "claim"), await vaultClaim(ns, "same-dir", vaultDir)]);
  await secret("vault-key", { key: VAULT_KEY });
  await secret("accesskey", { accessKeyId: "LTAI-e2e", accessKeySecret: ACCESS_KEY_SECRET });
  await lifeboat("BackupVault", "primary", { backend: { filesystem: { persistentVolumeClaim: { name: "primary" } } }, encryption: { keySecretRef: { name: "vault-key" } } });
});

afterAll(async () => {
  await rm(vaultDir, { recursive: true, force: true });
});

describe("the chart", () => {
  it("is helm-lint clean, refuses bad values, and grants no wildcard and no cluster-admin", async () => {
    const lint = await helm(["lint", "charts/lifeboat"]);
    expect(lint.stdout).toContain("0 chart(s) failed");
    const bad = await helm(["lint", "charts/lifeboat", "--set", "leaderElection.enabled=false"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toContain("replicaCount");
    const rendered = await helm(["template", "lifeboat", "charts/lifeboat", "-n", OPERATOR_NAMESPACE]);
    const docs = loadAll(rendered.stdout) as { kind?: string; rules?: { verbs: string[]; resources: string[]; apiGroups: string[] }[]; roleRef?: { name: string } }[];
    const rules = docs.flatMap((d) => d.rules ?? []);
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) {
      expect(r.verbs).not.toContain("*");
      expect(r.resources).not.toContain("*");
      expect(r.apiGroups).not.toContain("*");
    }
    expect(docs.map((d) => d.roleRef?.name)).not.toContain("cluster-admin");
  });
});

describe("the operator, installed with helm", () => {
  it("runs two replicas of which exactly one leads", async () => {
    const pods = await eventually("two running operator pods", async () => {
      const p = await operatorPods();
      return p.length === 2 && p.every((x) => x.status?.phase === "Running") ? p : undefined;
    });
    const { holder } = await leaderPod();
    const names = pods.map((p) => p.metadata?.name ?? "");
    expect(names.filter((n) => holder.startsWith(`${n}_`))).toHaveLength(1);
    await eventually("the leader to log that it leads", async () => {
      const logs = await Promise.all(pods.map((p) => podLog(p)));
      return logs.filter((l) => l.includes('"msg":"Became leader"')).length === 1 ? true : undefined;
    });
  });

  it("makes a filesystem vault Ready with its statistics, and a wrong key gives WrongKey", async () => {
    const ready = await waitForCondition("BackupVault", ns, "primary", "Ready", "True");
    expect(ready.reason).toBe("Available");
    const bv = (await custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "backupvaults", name: "primary" })) as { status: Record<string, unknown> };
    expect(bv.status).toMatchObject({ recoveryPointCount: 0, formatVersion: 1 });
    expect(typeof bv.status.repositoryID).toBe("string");

    await secret("other-key", { key: "not-the-key-of-this-repository" });
    await lifeboat("BackupVault", "same-dir-other-key", { backend: { filesystem: { persistentVolumeClaim: { name: "same-dir" } } }, encryption: { keySecretRef: { name: "other-key" } }, initialize: false });
    const wrong = await waitForCondition("BackupVault", ns, "same-dir-other-key", "Ready", "False", "WrongKey");
    expect(wrong.message).toContain("spec.encryption.keySecretRef");
  });

  it("activates a gateway, and deactivates it within seconds when its Secret is deleted (a watch, not polling)", async () => {
    await gateway("site-a");
    await waitForCondition("Gateway", ns, "site-a", "Activated", "True");
    const started = Date.now();
    await core.deleteNamespacedSecret({ name: "accesskey", namespace: ns });
    const off = await waitForCondition("Gateway", ns, "site-a", "Activated", "False", "SecretNotFound", 15_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(off.message).toContain(`Secret ${ns}/accesskey does not exist`);
    await secret("accesskey", { accessKeyId: "LTAI-e2e", accessKeySecret: ACCESS_KEY_SECRET });
    await waitForCondition("Gateway", ns, "site-a", "Activated", "True", undefined, 15_000);
  });

  it("when the leader is killed, another replica takes the lease within the lease duration and keeps reconciling", async () => {
    const { pod: leader, holder } = await leaderPod();
    const killedAt = Date.now();
    await killContainer(leader);
    const newHolder = await eventually("another replica to take the lease", async () => {
      const h = await leaseHolder();
      return h && h !== holder ? h : undefined;
    }, 30_000);
    const takeover = Date.now() - killedAt;
    // The winner is a live process: usually the standby, which has watched the lease all along; but
    // the killed container is restarted at once (as a kubelet does) as a new candidate, and when
    // its first look at the lease came early enough it may win the race. Either is a failover.
    const live = (await operatorPods()).map((p) => p.metadata?.name ?? "?");
    expect(live.some((name) => newHolder.startsWith(`${name}_`))).toBe(true);
    expect(takeover).toBeLessThan(15_000 + 2_000 + 2_000); // lease duration + retry period + polling slack
    await gateway("after-failover");
    await waitForCondition("Gateway", ns, "after-failover", "Activated", "True", undefined, 30_000);
    expect(await leaseHolder()).not.toBe(holder); // the killed identity never comes back
    // The restarted container, leader or standby, unlocks the Ready vault's keys once its caches sync, before it leads.
    const warmUp = await eventually("the restarted operator to unlock the vaults before leading", async () => {
      const line = (await podLog(leader)).split("\n").find((l) => l.includes('"msg":"Unlocked the vaults\' keys before leading"'));
      return line ? (JSON.parse(line) as { unlocked: number; vaults: number }) : undefined;
    }, 60_000);
    expect(warmUp.unlocked).toBeGreaterThanOrEqual(1);
    expect(warmUp.vaults).toBeGreaterThanOrEqual(warmUp.unlocked);
  });

  it("restarted mid-flight, converges without duplicated side effects", async () => {
    const names = ["r1", "r2", "r3", "r4"];
    await Promise.all(names.map((n) => gateway(n)));
    // Restart every replica while those are being reconciled.
    for (const p of await operatorPods()) await core.deleteNamespacedPod({ name: p.metadata?.name ?? "", namespace: OPERATOR_NAMESPACE, gracePeriodSeconds: 1 });
    for (const n of names) await waitForCondition("Gateway", ns, n, "Activated", "True", undefined, 60_000);
    for (const n of names) {
      const gw = (await custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "gateways", name: n })) as k8s.KubernetesObject;
      expect(gw.metadata?.finalizers).toEqual(["lifeboat.io/in-use-protection"]);
      // Events are best-effort in Kubernetes: a replica killed between its status write and its
      // Event loses that Event, and the next replica sees Activated already True. What the
      // operator guarantees is that a side effect is never repeated: at most one Activated Event.
      const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${n},reason=Activated` });
      expect(events.items.reduce((sum, e) => sum + (e.count ?? 1), 0)).toBeLessThanOrEqual(1);
    }
  });

  it("keeps a vault that a gateway uses until the gateway is gone", async () => {
    await custom.deleteNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "backupvaults", name: "primary" });
    const held = await waitForCondition("BackupVault", ns, "primary", "Ready", "False", "InUse");
    expect(held.message).toContain("Gateway/site-a");
    expect(await condition("BackupVault", ns, "primary", "Ready")).toBeDefined();
  });

  it("exposes reconcile metrics and logs JSON lines that never hold a secret value", async () => {
    const { pod: leader } = await leaderPod();
    const res = await fetch(`http://${leader.status?.podIP ?? ""}:8081/metrics`);
    const metrics = await res.text();
    expect(metrics).toMatch(/lifeboat_reconcile_total\{controller="gateway",result="(success|requeue)"\} [1-9]/);
    expect(metrics).toContain("lifeboat_reconcile_duration_seconds_bucket");
    expect(metrics).toContain("lifeboat_workqueue_depth");
    expect(metrics).toMatch(/lifeboat_leader 1/);

    // Every operator process whose log the node keeps: the current pods' containers and the
    // instances before a restart (a crash's stack trace would be there).
    const logs = await operatorLogs();
    expect(logs.length).toBeGreaterThanOrEqual(2);
    let lines = 0;
    const notJson: string[] = [];
    for (const { pod, log } of logs) {
      for (const line of log.split("\n").filter(Boolean)) {
        try {
          JSON.parse(line);
        } catch {
          notJson.push(`${pod}: ${line}`); // a crash's stack trace shows here whole
        }
        lines++;
      }
      expect(log).not.toContain(VAULT_KEY);
      expect(log).not.toContain(ACCESS_KEY_SECRET);
    }
    expect(notJson).toEqual([]);
    expect(lines).toBeGreaterThan(10);
  });
});

// Last: it reinstalls the operator narrowed to this suite's namespace (the next suite's install restores the default).
describe("the operator, narrowed with watchNamespaces", () => {
  it("reconciles objects in its namespaces, leaves those elsewhere untouched, and cannot read Secrets there", async () => {
    const other = await createNamespace("unwatched");
    await installLifeboat({ watchNamespaces: `{${ns}}` });
    const sa = `system:serviceaccount:${OPERATOR_NAMESPACE}:lifeboat`;
    const canI = async (verb: string, resource: string, namespace: string) => (await kubectl(["auth", "can-i", verb, resource, "-n", namespace, "--as", sa])).stdout.trim();
    expect(await canI("list", "secrets", ns)).toBe("yes");
    expect(await canI("list", "secrets", other)).toBe("no");
    expect(await canI("get", "configmaps", ns)).toBe("no");

    await core.createNamespacedSecret({ namespace: other, body: { metadata: { name: "accesskey" }, stringData: { accessKeyId: "LTAI-e2e", accessKeySecret: ACCESS_KEY_SECRET } } });
    await custom.createNamespacedCustomObject({
      group: "lifeboat.io", version: "v1alpha1", namespace: other, plural: "gateways",
      body: { apiVersion: "lifeboat.io/v1alpha1", kind: "Gateway", metadata: { name: "elsewhere" }, spec: { vaultRef: { name: "primary" }, credentialsSecretRef: { name: "accesskey" } } },
    });
    await gateway("narrowed");
    await eventually("the Gateway in the watched namespace to be reconciled", async () => await condition("Gateway", ns, "narrowed", "Activated"), 60_000);
    // The operator has had its chance at the other one; give it a few more seconds.
    await new Promise((r) => setTimeout(r, 5_000));
    const elsewhere = (await custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: other, plural: "gateways", name: "elsewhere" })) as k8s.KubernetesObject & { status?: unknown };
    expect(elsewhere.status).toBeUndefined();
    expect(elsewhere.metadata?.finalizers ?? []).toEqual([]);
    const events = await core.listNamespacedEvent({ namespace: other });
    expect(events.items.filter((e) => e.source?.component === "lifeboat-operator")).toEqual([]);
  });
});
