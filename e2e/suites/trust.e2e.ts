// Certificates as users have them: an S3 vault behind a private CA (the
// BackupVault's caSecretRef, which must reach the workers), and a vCenter with
// no spec.tls at all, trusted through the CA bundle the chart gives the
// operator (extraCACertificates), which the operator passes on to its workers.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { serveAddress } from "../testbed/paths.js";
import { startS3Server, type S3Server } from "../testbed/s3-server.js";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";
import { installLifeboat, OPERATOR_NAMESPACE, waitForCondition } from "../support/lifeboat.js";
import { adminConfig, createNamespace, eventually, kubectl } from "../support/testbed.js";

const openssl = promisify(execFile);

let ns: string;
let workDir: string;
let vcsim: Vcsim;
let s3: S3Server;
let caCert: string;
let custom: k8s.CustomObjectsApi;

/** A private CA and a server certificate it signs for the address servers listen on. */
async function privateCa(dir: string): Promise<{ caCert: string; certFile: string; keyFile: string }> {
  const f = (n: string) => join(dir, n);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl("openssl", ["req", "-x509", ...ec, "-keyout", f("ca.key"), "-out", f("ca.crt"), "-days", "2", "-subj", "/CN=Lifeboat e2e private CA"]);
  await openssl("openssl", ["req", "-new", ...ec, "-keyout", f("s3.key"), "-out", f("s3.csr"), "-subj", "/CN=s3.lifeboat.test"]);
  await writeFile(f("s3.ext"), `subjectAltName=IP:${serveAddress()},DNS:s3.lifeboat.test\nextendedKeyUsage=serverAuth\n`);
  await openssl("openssl", ["x509", "-req", "-in", f("s3.csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f("s3.crt"), "-days", "2", "-extfile", f("s3.ext")]);
  return { caCert: await readFile(f("ca.crt"), "utf8"), certFile: f("s3.crt"), keyFile: f("s3.key") };
}

function lifeboat(kind: string, name: string, spec: object) {
  return custom.createNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: `${kind.toLowerCase()}s`, body: { apiVersion: "lifeboat.io/v1alpha1", kind, metadata: { name }, spec } });
}

beforeAll(async () => {
  custom = adminConfig().makeApiClient(k8s.CustomObjectsApi);
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  workDir = await mkdtemp(join(tmpdir(), "lifeboat-trust-"));
  const ca = await privateCa(workDir);
  caCert = ca.caCert;
  s3 = await startS3Server(join(workDir, "s3"), { tls: ca });
  await s3.createBucket("private-ca", { versioning: true });
  vcsim = await startVcsim({ standaloneHosts: 1, clusters: 0, vms: 1 });
  // The admin's CA bundle: vcsim's certificate is its own CA.
  await kubectl(["create", "namespace", OPERATOR_NAMESPACE]);
  await core.createNamespacedConfigMap({ namespace: OPERATOR_NAMESPACE, body: { metadata: { name: "site-cas" }, data: { "ca.crt": vcsim.caCert } } });
  await installLifeboat({ "extraCACertificates.configMapName": "site-cas", "extraCACertificates.key": "ca.crt" });
  ns = await createNamespace("trust");
  const secret = (name: string, data: Record<string, string>) => core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: data } });
  await secret("vault-key", { key: randomBytes(32).toString("base64") });
  await secret("s3-credentials", { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey });
  await secret("s3-ca", { "ca.crt": caCert });
  await secret("vc", { username: vcsim.username, password: vcsim.password });
});

afterAll(async () => {
  // Whatever beforeAll got to start (the S3 server has no owner watchdog).
  await (vcsim as Vcsim | undefined)?.stop().catch(() => undefined);
  await (s3 as S3Server | undefined)?.stop().catch(() => undefined);
  await rm(workDir, { recursive: true, force: true });
});

describe("trust", () => {
  it("refuses the S3 endpoint without its CA: the check is real", async () => {
    await lifeboat("BackupVault", "no-ca", {
      backend: { s3: { endpoint: s3.endpoint, bucket: "private-ca", region: s3.region, forcePathStyle: true, useHTTPS: true, credentialsSecretRef: { name: "s3-credentials" } } },
      encryption: { keySecretRef: { name: "vault-key" } },
    });
    const refused = await waitForCondition("BackupVault", ns, "no-ca", "Ready", "False", undefined, 90_000);
    expect(refused.message).toMatch(/certificate/i);
  });

  it("backs up a VM from a vCenter with no spec.tls to an S3 vault behind a private CA, through a worker", async () => {
    await lifeboat("BackupVault", "private-s3", {
      backend: { s3: { endpoint: s3.endpoint, bucket: "private-ca", region: s3.region, forcePathStyle: true, useHTTPS: true, credentialsSecretRef: { name: "s3-credentials" }, caSecretRef: { name: "s3-ca" } } },
      encryption: { keySecretRef: { name: "vault-key" } },
    });
    await waitForCondition("BackupVault", ns, "private-s3", "Ready", "True", undefined, 90_000);
    await lifeboat("Gateway", "gw", { vaultRef: { name: "private-s3" }, maxWorkers: 1, maxCpu: 1 });
    await lifeboat("VCenter", "vc", { address: vcsim.address, credentialsSecretRef: { name: "vc" }, gatewayRef: { name: "gw" } });
    await waitForCondition("VCenter", ns, "vc", "Connected", "True", undefined, 90_000);
    await lifeboat("BackupPlan", "plan", { vCenterRef: { name: "vc" }, vaultRef: { name: "private-s3" }, gatewayRef: { name: "gw" }, vms: { namePatterns: ["*"] }, retention: { keepLast: 1 }, runRequest: "first" });
    const status = await eventually("the first run to finish", async () => {
      const plan = (await custom.getNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "backupplans", name: "plan" })) as {
        status?: { lastRun?: { result?: string; message?: string }; currentRun?: unknown; lastHandledRunRequest?: string };
      };
      const s = plan.status;
      return s?.lastHandledRunRequest === "first" && !s.currentRun && s.lastRun?.result ? s : undefined;
    }, 300_000);
    expect(status.lastRun).toMatchObject({ result: "Succeeded" });
    // The vault mirrors its new point into a RecoveryPoint when the run asks it to sync: after the run, not with it.
    const points = await eventually("the point's RecoveryPoint", async () => {
      const list = (await custom.listNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: ns, plural: "recoverypoints" })) as { items: unknown[] };
      return list.items.length > 0 ? list : undefined;
    }, 120_000);
    expect(points.items).toHaveLength(1);
    // The worker's own log, through the API (`kubectl logs`): it connected and wrote the point.
    const pods = await adminConfig().makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: ns, labelSelector: "app.kubernetes.io/component=worker,lifeboat.io/plan=plan" });
    const worker = pods.items.find((p) => p.status?.phase === "Succeeded")?.metadata?.name;
    expect(worker).toBeDefined();
    const logs = await kubectl(["-n", ns, "logs", worker ?? ""]);
    expect(logs.code).toBe(0);
    const [point] = points.items as { spec: { pointID: string } }[];
    expect(logs.stdout).toContain("Backup succeeded");
    expect(logs.stdout).toContain(point?.spec.pointID ?? "(no point)");
    expect(logs.stdout).not.toContain(vcsim.password);
  });
});
