import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";
import { installLifeboat, operatorLogs, waitForCondition } from "../support/lifeboat.js";
import { adminConfig, createNamespace } from "../support/testbed.js";

// Every character seed 001's tool failed on, and some that are not ASCII.
const PASSWORD = "p`^~=;!/([]{}@$\\&#%+パスワード";
const WRONG = "wrong-0f9e8d7c-never-log-me";

let ns: string;
let vcsim: Vcsim;
let core: k8s.CoreV1Api;
let custom: k8s.CustomObjectsApi;

async function setCredentials(password: string): Promise<void> {
  const body = { metadata: { name: "vc-credentials" }, stringData: { username: vcsim.username, password } };
  try {
    await core.replaceNamespacedSecret({ name: "vc-credentials", namespace: ns, body });
  } catch {
    await core.createNamespacedSecret({ namespace: ns, body });
  }
}

async function vcenterStatus(name: string): Promise<Record<string, unknown>> {
  const obj = (await custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "vcenters", name })) as { status: Record<string, unknown> };
  return obj.status;
}

beforeAll(async () => {
  core = adminConfig().makeApiClient(k8s.CoreV1Api);
  custom = adminConfig().makeApiClient(k8s.CustomObjectsApi);
  vcsim = await startVcsim({ password: PASSWORD, vms: 2 });
  await installLifeboat();
  ns = await createNamespace("vc");
  await setCredentials(PASSWORD);
  const vcenter = (name: string, tls: object) =>
    custom.createNamespacedCustomObject({
      group: "lifeboat.io",
      version: "v1alpha1",
      namespace: ns,
      plural: "vcenters",
      body: { apiVersion: "lifeboat.io/v1alpha1", kind: "VCenter", metadata: { name }, spec: { address: vcsim.address, credentialsSecretRef: { name: "vc-credentials" }, tls, gatewayRef: { name: "gw" } } },
    });
  await vcenter("pinned", { thumbprint: vcsim.thumbprint });
  await vcenter("wrong-thumbprint", { thumbprint: "00".repeat(32) });
});

afterAll(async () => {
  await vcsim.stop();
});

describe("a VCenter against vcsim", () => {
  it("connects with a password of special characters and reports version and inventory counts", async () => {
    const c = await waitForCondition("VCenter", ns, "pinned", "Connected", "True");
    expect(c.reason).toBe("Connected");
    const status = await vcenterStatus("pinned");
    expect(status.version).toBe("8.0.3");
    expect(status.inventory).toMatchObject({ datacenters: 1, hosts: expect.any(Number) as unknown as number, virtualMachines: expect.any(Number) as unknown as number });
    expect((status.inventory as { virtualMachines: number }).virtualMachines).toBeGreaterThan(0);
  });

  it("refuses a certificate that does not match the pinned thumbprint", async () => {
    const c = await waitForCondition("VCenter", ns, "wrong-thumbprint", "Connected", "False", "CertificateMismatch");
    expect(c.message).toContain("spec.tls");
  });

  it("follows a rotated password without a restart: wrong gives AuthenticationFailed, right reconnects", async () => {
    await setCredentials(WRONG);
    const failed = await waitForCondition("VCenter", ns, "pinned", "Connected", "False", "AuthenticationFailed", 20_000);
    expect(failed.message).toContain("spec.credentialsSecretRef");
    expect(failed.message).not.toContain(WRONG);
    await setCredentials(PASSWORD);
    await waitForCondition("VCenter", ns, "pinned", "Connected", "True", undefined, 20_000);
  });

  it("flips to SecretNotFound within seconds when the Secret is deleted", async () => {
    const started = Date.now();
    await core.deleteNamespacedSecret({ name: "vc-credentials", namespace: ns });
    await waitForCondition("VCenter", ns, "pinned", "Connected", "False", "SecretNotFound", 15_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    await setCredentials(PASSWORD);
    await waitForCondition("VCenter", ns, "pinned", "Connected", "True", undefined, 20_000);
  });

  it("never puts a password in status, events or logs", async () => {
    const statuses = JSON.stringify([await vcenterStatus("pinned"), await vcenterStatus("wrong-thumbprint")]);
    const events = JSON.stringify((await core.listNamespacedEvent({ namespace: ns })).items);
    const logs = (await operatorLogs()).map((l) => l.log).join("\n");
    expect(logs.length).toBeGreaterThan(0);
    for (const text of [statuses, events, logs]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(WRONG);
    }
  });
});
