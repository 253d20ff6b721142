import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { BackupVault } from "../api/generated/types.js";
import type { Kube } from "../runtime/kube.js";
import { createLogger } from "../telemetry/logger.js";
import { initVault, openVault } from "../vault/index.js";
import { scryptDerivations } from "../vault/keys.js";
import { BackupVaultReconciler } from "./backup-vault-controller.js";
import { vaultSpecOf } from "./vault-access.js";

const KEY = "0123456789abcdef0123456789abcdef";
const kube = {
  getSecret: (_namespace: string, name: string) => Promise.resolve(name === "key" ? { data: { key: Buffer.from(KEY).toString("base64") } } : undefined),
} as unknown as Kube;

function backupVault(name: string, path: string, keySecret = "key"): BackupVault {
  return {
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "BackupVault",
    metadata: { namespace: "prod", name },
    spec: { backend: { filesystem: { path } }, encryption: { keySecretRef: { name: keySecret } } },
  };
}

describe("BackupVaultReconciler.warmUp", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "bv-warmup-"));
    for (const name of ["a", "b"]) await (await initVault({ backend: { filesystem: { path: join(dir, name) } }, key: Buffer.from(KEY) })).close();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("unwraps each vault's keys once, so the reconciles that open it after do not derive them again", async () => {
    const vaults = [backupVault("a", join(dir, "a")), backupVault("b", join(dir, "b"))];
    const before = scryptDerivations().completed;
    await new BackupVaultReconciler().warmUp(vaults, { kube, log: createLogger("silent") });
    expect(scryptDerivations().completed - before).toBe(2);

    for (const bv of vaults) {
      const spec = await vaultSpecOf(kube, bv);
      if (!spec.ok) throw new Error(spec.problem.message);
      await (await openVault(spec.value)).close();
    }
    expect(scryptDerivations().completed - before).toBe(2);
  });

  it("skips what does not open (a missing Secret, an empty path) without throwing, and writes nothing", async () => {
    const empty = join(dir, "empty");
    const vaults = [backupVault("no-secret", join(dir, "a"), "missing"), backupVault("uninitialised", empty)];
    await expect(new BackupVaultReconciler().warmUp(vaults, { kube, log: createLogger("silent") })).resolves.toBeUndefined();
    await expect(readdir(empty)).rejects.toMatchObject({ code: "ENOENT" });
  });
});
