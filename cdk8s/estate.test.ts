import { beforeAll, describe, expect, it } from "@jest/globals";
import { Chart, Testing } from "cdk8s";
import { testApp } from "./test-app.js";
import * as kplus from "cdk8s-plus-34";
import { validateObject } from "../operator/src/api/validation.js";
import { binary } from "../e2e/testbed/components.js";
import { ProtectedEstate, type ProtectedEstateProps } from "./estate.js";
import { EXISTING_SECRETS, protectedEstateExample } from "./examples/protected-estate.js";


/**
 * The estate construct and the example: the objects they synthesize are
 * objects the API accepts (the structural schemas the operator and the CRDs
 * share), and their references agree with each other — every *Ref names an
 * object of the right kind in the same namespace, every Secret reference a
 * Secret the program creates or declares as existing.
 */

interface ApiObjectJson {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec?: unknown;
  readonly stringData?: Record<string, string>;
}

/** What each reference field points to. */
const REF_KINDS: Record<string, string> = { vCenterRef: "VCenter", vaultRef: "BackupVault", gatewayRef: "Gateway" };

/** Every reference in a spec: [field path, kind, name, keys named in it]. */
function references(value: unknown, path: string): { path: string; kind: string; name: string; keys: string[] }[] {
  if (value === null || typeof value !== "object") return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => references(v, `${path}[${i}]`));
  const found: { path: string; kind: string; name: string; keys: string[] }[] = [];
  for (const [field, v] of Object.entries(value as Record<string, unknown>)) {
    const kind = field.endsWith("SecretRef") ? "Secret" : REF_KINDS[field];
    if (kind) {
      const { name, ...keys } = v as { name: string } & Record<string, string>;
      found.push({ path: `${path}.${field}`, kind, name, keys: Object.values(keys) });
    } else {
      found.push(...references(v, `${path}.${field}`));
    }
  }
  return found;
}

/**
 * Checks every Lifeboat object: accepted by its schema, and each reference
 * resolves within the output (or, for Secrets, to one of `existingSecrets`).
 * Returns the problems, so a failure lists them all.
 */
function problems(objects: readonly ApiObjectJson[], existingSecrets: readonly string[]): string[] {
  const found: string[] = [];
  const byKey = new Map(objects.map((o) => [`${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`, o]));
  for (const o of objects.filter((x) => x.apiVersion === "lifeboat.io/v1alpha1")) {
    const id = `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    for (const p of validateObject(o.kind, o)) found.push(`${id}: ${p.field}: ${p.message}`);
    for (const ref of references(o.spec, "spec")) {
      const target = byKey.get(`${ref.kind}/${o.metadata.namespace ?? ""}/${ref.name}`);
      if (ref.kind === "Secret" && !target) {
        if (!existingSecrets.includes(ref.name)) found.push(`${id}: ${ref.path} names Secret ${ref.name}, which is neither created nor declared`);
      } else if (!target) {
        found.push(`${id}: ${ref.path} names ${ref.kind} ${ref.name}, not in the output`);
      } else if (ref.kind === "Secret") {
        for (const key of ref.keys) if (!target.stringData || !(key in target.stringData)) found.push(`${id}: ${ref.path} names key ${key}, not in Secret ${ref.name}`);
      }
    }
  }
  return found;
}

function kindsOf(objects: readonly ApiObjectJson[]): string[] {
  return objects.map((o) => `${o.kind}/${o.metadata.name}`);
}

describe("the protected-estate example", () => {
  let helm = "";
  beforeAll(async () => {
    helm = await binary("helm", "helm");
  }, 45 * 60_000);

  it("synthesizes the operator and a site whose objects the API accepts and whose references agree", () => {
    const { operator, site } = protectedEstateExample(testApp(), helm);
    const siteObjects = Testing.synth(site) as ApiObjectJson[];
    expect(kindsOf(siteObjects)).toEqual([
      "Namespace/prod",
      "BackupVault/tokyo",
      "Gateway/tokyo",
      "VCenter/tokyo",
      "BackupPlan/tokyo-prod-nightly",
      "BackupPlan/tokyo-db-hourly",
    ]);
    expect(siteObjects.filter((o) => o.kind !== "Namespace").every((o) => o.metadata.namespace === "prod")).toBe(true);
    expect(siteObjects[0]?.metadata.namespace).toBeUndefined(); // a Namespace is cluster-scoped
    expect(problems(siteObjects, EXISTING_SECRETS)).toEqual([]);
    // cdk8s import renames fields to camelCase in TypeScript (useHTTPS → useHttps); the output keeps the API's names.
    const vault = siteObjects.find((o) => o.kind === "BackupVault");
    expect(vault?.spec).toMatchObject({ backend: { s3: { bucket: "tokyo-backups", forcePathStyle: false, credentialsSecretRef: { name: "vault-s3" } } } });

    const operatorObjects = Testing.synth(operator) as ApiObjectJson[];
    expect(kindsOf(operatorObjects)).toEqual(expect.arrayContaining(["Namespace/lifeboat-system", "Deployment/lifeboat", "PrometheusRule/lifeboat", "ServiceMonitor/lifeboat"]));
  });
});

describe("ProtectedEstate", () => {
  const base = (secrets: { vc: kplus.ISecret; key: kplus.ISecret }): ProtectedEstateProps => ({
    name: "lab",
    vCenter: { address: "vc.lab.example.com:8443", credentials: { secret: secrets.vc, usernameKey: "user" } },
    vault: { backend: { filesystem: { persistentVolumeClaim: { name: "vault-data" } } }, encryptionKey: { secret: secrets.key } },
    plans: { "lab-all": { vms: { namePatterns: ["*"] }, retention: { keepLast: 3 } } },
  });

  it("references the Secrets it is handed by name and key, and creates them where the program defines them (cdk8s-plus)", () => {
    const chart = new Chart(testApp(), "lab", { namespace: "lab" });
    const vc = new kplus.Secret(chart, "VCenterCredentials", { stringData: { user: "backup@vsphere.local", password: "p@ss ` ^ ~ = ; !" } });
    const key = new kplus.Secret(chart, "VaultKey", { stringData: { key: "0123456789abcdef0123456789abcdef" } });
    const estate = new ProtectedEstate(chart, "Lab", base({ vc, key }));
    const objects = Testing.synth(chart) as ApiObjectJson[];
    expect(problems(objects, [])).toEqual([]);
    expect(objects.find((o) => o.kind === "VCenter")?.spec).toMatchObject({ credentialsSecretRef: { name: vc.name, usernameKey: "user" }, gatewayRef: { name: "lab" } });
    expect(objects.find((o) => o.kind === "Gateway")?.spec).toEqual({ vaultRef: { name: "lab" } });
    expect(objects.find((o) => o.kind === "BackupPlan")?.spec).toMatchObject({ vCenterRef: { name: "lab" }, vaultRef: { name: "lab" }, gatewayRef: { name: "lab" } });
    expect(estate.namespace).toBe("lab");
    expect([...estate.plans.keys()]).toEqual(["lab-all"]);
  });

  it("refuses at synth a created Secret without the key a reference names", () => {
    const chart = new Chart(testApp(), "lab", { namespace: "lab" });
    const vc = new kplus.Secret(chart, "VCenterCredentials", { stringData: { username: "backup@vsphere.local", password: "x" } });
    const key = kplus.Secret.fromSecretName(chart, "VaultKey", "vault-key");
    expect(() => new ProtectedEstate(chart, "Lab", base({ vc, key }))).toThrow(`VCenter lab credentials: Secret ${vc.name} has no key "user" (usernameKey)`);
  });

  it("refuses at synth a created Secret in another namespace: Lifeboat reads Secrets from its objects' own namespace", () => {
    const app = testApp();
    const other = new Chart(app, "other", { namespace: "other" });
    const vc = new kplus.Secret(other, "VCenterCredentials", { stringData: { user: "u", password: "p" } });
    const chart = new Chart(app, "lab", { namespace: "lab" });
    const key = kplus.Secret.fromSecretName(chart, "VaultKey", "vault-key");
    expect(() => new ProtectedEstate(chart, "Lab", base({ vc, key }))).toThrow(/Secret .* is in namespace other, the estate in lab/);
  });

  it("gives the API what the API refuses as the validator's problems (the test's own check works)", () => {
    const chart = new Chart(testApp(), "lab", { namespace: "lab" });
    const key = kplus.Secret.fromSecretName(chart, "VaultKey", "vault-key");
    const vc = kplus.Secret.fromSecretName(chart, "VC", "vc");
    new ProtectedEstate(chart, "Lab", { ...base({ vc, key }), vCenter: { address: "not a host name!", credentials: { secret: vc } } });
    const found = problems(Testing.synth(chart) as ApiObjectJson[], ["vault-key"]);
    expect(found).toEqual(expect.arrayContaining([expect.stringMatching(/^VCenter\/lab\/lab: spec\.address: /), expect.stringMatching(/names Secret vc, which is neither created nor declared/)]));
  });
});
