import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { BackupVault } from "../api/generated/types.js";
import type { Kube } from "../runtime/kube.js";
import { vaultSpecOf } from "./vault-access.js";
import { DEFAULT_VAULT_MOUNTS_DIR, operatorClaimMount, operatorClaimPath, VAULT_MOUNTS_DIR_ENV } from "./vault-mounts.js";

const kube = {
  getSecret: () => Promise.resolve({ data: { key: Buffer.from("0123456789abcdef0123456789abcdef").toString("base64") } }),
} as unknown as Kube;

function claimVault(claim: string): BackupVault {
  return {
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "BackupVault",
    metadata: { name: "v", namespace: "prod" },
    spec: { backend: { filesystem: { persistentVolumeClaim: { name: claim } } }, encryption: { keySecretRef: { name: "k" } } },
  };
}

describe("claim-backed vaults in the operator", () => {
  let root = "";
  const saved = process.env[VAULT_MOUNTS_DIR_ENV];
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "lifeboat-mounts-"));
    await mkdir(join(root, "prod", "vault-data"), { recursive: true });
    process.env[VAULT_MOUNTS_DIR_ENV] = root;
  });
  afterAll(async () => {
    process.env.LIFEBOAT_VAULT_MOUNTS_DIR = saved ?? "";
    await rm(root, { recursive: true, force: true });
  });

  it("expects each claim under the mounts directory, by namespace and claim name", () => {
    expect(operatorClaimPath("prod", "data", {})).toBe(`${DEFAULT_VAULT_MOUNTS_DIR}/prod/data`);
    expect(operatorClaimPath("prod", "data", { [VAULT_MOUNTS_DIR_ENV]: "/mnt/v" })).toBe("/mnt/v/prod/data");
  });

  it("opens a mounted claim at its mount path", async () => {
    expect(await operatorClaimMount("prod", "vault-data")).toEqual({ ok: true, value: join(root, "prod", "vault-data") });
    const spec = await vaultSpecOf(kube, claimVault("vault-data"));
    expect(spec.ok && spec.value.backend).toEqual({ filesystem: { path: join(root, "prod", "vault-data") } });
  });

  it("says which chart value to set when the claim is not mounted", async () => {
    const spec = await vaultSpecOf(kube, claimVault("elsewhere"));
    expect(spec.ok).toBe(false);
    if (spec.ok) return;
    expect(spec.problem.reason).toBe("ClaimNotMountedByOperator");
    expect(spec.problem.message).toContain("spec.backend.filesystem.persistentVolumeClaim");
    expect(spec.problem.message).toContain(join(root, "prod", "elsewhere"));
    expect(spec.problem.message).toContain("vaultVolumes");
    expect(spec.problem.message).toContain("claimName: elsewhere");
  });
});
