import { describe, expect, it } from "@jest/globals";
import { rootCertificates } from "node:tls";
import { connectOptionsFrom, readConfig, vaultSpecFrom } from "./config.js";
import { EXTRA_CA_ENV, SECRET_ENV } from "./spec.js";

const secrets = {
  [SECRET_ENV.vaultKey]: "k",
  [SECRET_ENV.sourceVaultKey]: "s",
  [SECRET_ENV.vcenterUsername]: "u",
  [SECRET_ENV.vcenterPassword]: "p",
};
const vcenter = { address: "vc", tls: { insecureSkipVerify: true } };
const vault = { filesystem: { path: "/v" } };

function problems(spec: Record<string, unknown>, env: Record<string, string> = secrets): string {
  try {
    readConfig({ ...env, LIFEBOAT_WORKER_SPEC: JSON.stringify(spec) });
    return "";
  } catch (err) {
    return (err as Error).message;
  }
}

describe("backup lineage", () => {
  const cycle = { mode: "backup", runId: "c1", vm: { name: "db" }, vcenter, vault, quiesce: false, changedBlockTracking: true };

  it("requires the plan label by default, and every lineage label but vm when a lineage is given", () => {
    expect(problems({ ...cycle, labels: { namespace: "prod" } })).toContain("spec.labels.plan is required");
    const replication = ["namespace", "protectedServer", "direction", "vm"];
    const missing = problems({ ...cycle, lineage: replication, labels: { namespace: "prod", protectedServer: "db" } });
    expect(missing).toContain("spec.labels.direction is required");
    expect(missing).not.toContain("spec.labels.vm");
    expect(missing).not.toContain("spec.labels.plan");
    expect(problems({ ...cycle, lineage: replication, labels: { namespace: "prod", protectedServer: "db", direction: "forward" } })).toBe("");
    expect(problems({ ...cycle, lineage: [], labels: { namespace: "prod", plan: "p" } })).toContain("spec.lineage must be a non-empty list of label names");
  });
});

describe("seed", () => {
  const seed = {
    mode: "seed", runId: "s1", vault, source: { vault: { filesystem: { path: "/f" } }, pointId: "p" },
    disks: [{ key: "2000", sourceDiskKey: "203", localDiskKey: 203 }], labels: { namespace: "prod" },
  };

  it("accepts a seed and labels it with its run", () => {
    const config = readConfig({ ...secrets, LIFEBOAT_WORKER_SPEC: JSON.stringify(seed) });
    expect(config.spec.mode === "seed" && config.spec.labels).toEqual({ namespace: "prod", run: "s1" });
  });

  it("names the source vault's own secrets, repeated disk keys and a bad local disk key", () => {
    const { [SECRET_ENV.sourceVaultKey]: _source, ...withoutSource } = secrets;
    expect(problems(seed, withoutSource)).toContain(`Environment variable ${SECRET_ENV.sourceVaultKey} must hold the encryption key of spec.source.vault`);
    const bad = problems({ ...seed, disks: [{ key: "2000", sourceDiskKey: "1" }, { key: "2000", sourceDiskKey: "2", localDiskKey: "x" }] });
    expect(bad).toContain(`spec.disks[1].key "2000" appears twice`);
    expect(bad).toContain("spec.disks[1].localDiskKey must be a disk's device key (an integer)");
    expect(problems({ ...seed, disks: [] })).toContain("spec.disks must be a non-empty list");
  });
});

describe("restore for DR", () => {
  const target = { vcenter, datastore: "ds", vmName: "x", inPlace: false, networkMappings: [], diskProvisioning: "Thin", powerOn: false };
  const restore = (extra: Record<string, unknown>): Record<string, unknown> => ({ mode: "restore", pointId: "p", vault, target: { vSphere: { ...target, ...extra } } });

  it("checks the new fields", () => {
    expect(problems(restore({ annotation: "a", restoreId: "drill-1", requireNetworkMapping: true, numCpu: 2, memoryMB: 2048 }))).toBe("");
    const bad = problems(restore({ restoreId: "bad id", numCpu: 0, memoryMB: 1.5, targetVm: { moRef: "vm-1", name: "db" } }));
    expect(bad).toContain(`spec.target.vSphere.restoreId "bad id" must be`);
    expect(bad).toContain("spec.target.vSphere.numCpu must be a positive integer");
    expect(bad).toContain("spec.target.vSphere.memoryMB must be a positive integer");
    expect(bad).toContain("spec.target.vSphere.targetVm needs inPlace: true");
  });
});

describe("trust", () => {
  const backup = { mode: "backup", runId: "c1", vm: { name: "db" }, vault, quiesce: false, changedBlockTracking: true, labels: { namespace: "prod", plan: "p" } };
  const pem = "-----BEGIN CERTIFICATE-----\nextra\n-----END CERTIFICATE-----";

  it("accepts a vCenter without trust settings and verifies it against the default CAs, never skipping verification", () => {
    const spec = { ...backup, vcenter: { address: "vc", tls: {} } };
    expect(problems(spec)).toBe("");
    const options = connectOptionsFrom({ address: "vc", tls: {} }, secrets);
    expect(options.tls).toEqual({});
  });

  it("adds the operator's extra CAs to Node's list where a spec names no CA", () => {
    const env = { ...secrets, [EXTRA_CA_ENV]: pem };
    const ca = connectOptionsFrom({ address: "vc", tls: {} }, env).tls.caCert as string;
    expect(ca).toContain(pem);
    expect(ca).toContain(rootCertificates[0]);
    const s3 = vaultSpecFrom({ s3: { bucket: "b" } }, env).backend.s3;
    expect(s3?.caBundle).toBe(ca);
    expect(vaultSpecFrom({ s3: { bucket: "b" } }, secrets).backend.s3?.caBundle).toBeUndefined();
  });

  it("uses the CA a spec names instead of the default trust", () => {
    const env = { ...secrets, [EXTRA_CA_ENV]: pem, [SECRET_ENV.vaultCa]: "vault-ca", [SECRET_ENV.vcenterCa]: "vc-ca" };
    expect(connectOptionsFrom({ address: "vc", tls: { caCertEnv: SECRET_ENV.vcenterCa } }, env).tls).toEqual({ caCert: "vc-ca" });
    expect(vaultSpecFrom({ s3: { bucket: "b", caCertEnv: SECRET_ENV.vaultCa } }, env).backend.s3?.caBundle).toBe("vault-ca");
  });

  it("names a missing CA variable and more than one way of trust", () => {
    const s3Vault = { s3: { bucket: "bucket", caCertEnv: SECRET_ENV.vaultCa } };
    const env = { ...secrets, [SECRET_ENV.vaultAccessKeyId]: "a", [SECRET_ENV.vaultSecretAccessKey]: "s" };
    const spec = { ...backup, vault: s3Vault, vcenter: { address: "vc", tls: { thumbprint: "AA", insecureSkipVerify: true } } };
    const bad = problems(spec, env);
    expect(bad).toContain(`Environment variable ${SECRET_ENV.vaultCa} (spec.vault.s3.caCertEnv) must hold the CA bundle of the S3 endpoint (PEM)`);
    expect(bad).toContain("spec.vcenter.tls must set at most one of thumbprint, caCertEnv or insecureSkipVerify: true");
  });

  it("fails closed on an image bucket: plain HTTP only with useHTTPS off, and its CA must be in the environment", () => {
    const env = { ...secrets, [SECRET_ENV.imageAccessKeyId]: "a", [SECRET_ENV.imageSecretAccessKey]: "s" };
    const restore = (s3: Record<string, unknown>) => ({ mode: "restore", pointId: "p", vault, target: { imageFile: { format: "raw", s3: { bucket: "images", ...s3 } } } });
    expect(problems(restore({ endpoint: "http://minio:9000", useHTTPS: true }), env)).toContain("spec.target.imageFile.s3.endpoint http://minio:9000 is plain HTTP while useHTTPS is set");
    expect(problems(restore({ endpoint: "http://minio:9000", useHTTPS: false }), env)).toBe("");
    expect(problems(restore({ endpoint: "https://minio:9000", useHTTPS: true, caCertEnv: SECRET_ENV.imageCa }), env)).toContain(
      `Environment variable ${SECRET_ENV.imageCa} (spec.target.imageFile.s3.caCertEnv) must hold the CA bundle of the image bucket's endpoint (PEM)`,
    );
    expect(problems(restore({ endpoint: "https://minio:9000", useHTTPS: true, caCertEnv: SECRET_ENV.imageCa }), { ...env, [SECRET_ENV.imageCa]: pem })).toBe("");
  });
});

describe("ecsBackup", () => {
  const cloud = { ...secrets, [SECRET_ENV.cloudAccessKeyId]: "LTAI", [SECRET_ENV.cloudAccessKeySecret]: "s" };
  const spec = {
    mode: "ecsBackup",
    runId: "c1",
    instance: { regionId: "cn-hangzhou", instanceId: "i-1" },
    ossBucket: "staging",
    disks: [{ key: "2000", device: "/dev/xvda", sizeBytes: 1024 }],
    vault,
    lineage: ["namespace", "protectedServer", "direction"],
    labels: { namespace: "prod", protectedServer: "db", direction: "reverse" },
  };

  it("accepts a complete spec and names the run in the labels", () => {
    expect(problems(spec, cloud)).toBe("");
    const config = readConfig({ ...cloud, LIFEBOAT_WORKER_SPEC: JSON.stringify(spec) });
    expect(config.spec.mode === "ecsBackup" && config.spec.labels.run).toBe("c1");
  });

  it("names every field to fix: devices, sizes, the AccessKey pair", () => {
    const bad = problems({ ...spec, disks: [{ key: "2000", device: "/dev/sda", sizeBytes: 0 }, { key: "2001", device: "/dev/sda" }] }, secrets);
    expect(bad).toContain('spec.disks[0].device "/dev/sda" must be an ECS device name');
    expect(bad).toContain("spec.disks[0].sizeBytes must be a positive integer");
    expect(bad).toContain('spec.disks[1].device "/dev/sda" appears twice');
    expect(bad).toContain("spec.disks[1].sizeBytes is required");
    expect(bad).toContain(`${SECRET_ENV.cloudAccessKeyId} must hold the AccessKey pair`);
  });
});
