import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import type * as k8s from "@kubernetes/client-node";
import type { BackupVault, Gateway, VCenter } from "../api/generated/types.js";
import { JOB_UID_ENV } from "../vault/repo-lock.js";
import { WORKER_NODE_OPTIONS } from "../worker/node-options.js";
import { CONTROL_TOKEN_ENV, EXTRA_CA_ENV, SECRET_ENV, type WorkerSpec } from "../worker/spec.js";
import { operatorExtraCACerts } from "./extra-ca.js";
import { failedAttemptNote, isFailedAttemptMessage, lastTerminationMessage, secretEnvFor, vaultClaims, vaultSecretEnv, workerJob, workerVault, workerVCenter } from "./worker-job.js";
import { CONTROL_TOKEN_KEY, controlTokenSecret, controlTokenSecretName, newControlToken } from "./worker-token.js";
import { WORKER_MOUNT_PATHS, workerVolumes } from "./worker-volumes.js";

function vault(backend: BackupVault["spec"]["backend"]): BackupVault {
  return { apiVersion: "lifeboat.io/v1alpha1", kind: "BackupVault", metadata: { name: "v", namespace: "prod" }, spec: { backend, encryption: { keySecretRef: { name: "key" } } } };
}
const claimVault = vault({ filesystem: { persistentVolumeClaim: { name: "vault-data" } } });
const s3Vault = vault({ s3: { bucket: "bucket", credentialsSecretRef: { name: "s3" }, caSecretRef: { name: "s3-ca" } } });
const gateway = { metadata: { name: "gw", namespace: "prod" }, spec: {} } as unknown as Gateway;
const spec = { mode: "restore", pointId: "p", vault: { filesystem: { path: "/x" } }, target: { imageFile: { format: "raw", path: "/y" } } } as WorkerSpec;

function job(claims: Parameters<typeof workerJob>[0]["claims"]): k8s.V1Job {
  return workerJob({ name: "w", namespace: "prod", labels: {}, owner: { apiVersion: "v1", kind: "X", name: "o", uid: "u" }, spec, secretEnv: [], claims, gateway, backoffLimit: 1 });
}

describe("the worker's Node.js", () => {
  it("runs with the worker's options before its entry point", () => {
    expect(WORKER_NODE_OPTIONS.length).toBeGreaterThan(0);
    expect(job([]).spec?.template.spec?.containers[0]?.command).toEqual(["node", ...WORKER_NODE_OPTIONS, "/app/dist/operator/src/worker/main.js"]);
  });

  it("takes every option, in the Node.js running the tests (a misspelt one would stop every worker pod at start)", () => {
    // Node.js exits 9 ("bad option") on an option it does not know.
    expect(execFileSync(process.execPath, [...WORKER_NODE_OPTIONS, "-e", "process.stdout.write('ok')"], { encoding: "utf8" })).toBe("ok");
  });
});

describe("claim-backed vaults in worker Jobs", () => {
  it("points the worker at the claim's mount path, per role", () => {
    expect(workerVault(claimVault)).toEqual({ filesystem: { path: WORKER_MOUNT_PATHS.vault } });
    expect(workerVault(claimVault, "sourceVault")).toEqual({ filesystem: { path: WORKER_MOUNT_PATHS.sourceVault } });
    expect(vaultClaims(claimVault, "sourceVault")).toEqual([{ claimName: "vault-data", mountPath: WORKER_MOUNT_PATHS.sourceVault }]);
    expect(vaultClaims(s3Vault)).toEqual([]);
  });

  it("mounts each claim in the pod, and one claim used twice as one volume at both paths", () => {
    const seed = job([
      { claimName: "dest", mountPath: WORKER_MOUNT_PATHS.vault },
      { claimName: "src", mountPath: WORKER_MOUNT_PATHS.sourceVault },
    ]);
    const pod = seed.spec?.template.spec;
    expect(pod?.volumes).toEqual([
      { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
      { name: "claim-0", persistentVolumeClaim: { claimName: "dest" } },
      { name: "claim-1", persistentVolumeClaim: { claimName: "src" } },
    ]);
    expect(pod?.containers[0]?.volumeMounts).toEqual([
      { name: "tmp", mountPath: "/tmp" },
      { name: "claim-0", mountPath: WORKER_MOUNT_PATHS.vault },
      { name: "claim-1", mountPath: WORKER_MOUNT_PATHS.sourceVault },
    ]);
    const same = workerVolumes([...vaultClaims(claimVault), ...vaultClaims(claimVault, "sourceVault")]);
    expect(same.volumes.filter((v) => v.persistentVolumeClaim)).toHaveLength(1);
    expect(same.volumeMounts.map((m) => m.mountPath)).toEqual(["/tmp", WORKER_MOUNT_PATHS.vault, WORKER_MOUNT_PATHS.sourceVault]);
  });
});

describe("worker pod hardening", () => {
  it("runs as non-root with a read-only root filesystem and no capabilities, and writes claims through fsGroup", () => {
    const pod = job([]).spec?.template.spec;
    expect(pod?.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      fsGroupChangePolicy: "OnRootMismatch",
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod?.containers[0]?.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(pod?.automountServiceAccountToken).toBe(false);
  });
});

describe("trust for workers", () => {
  it("passes an S3 vault's CA from its Secret, under the role's variable", () => {
    expect(workerVault(s3Vault).s3?.caCertEnv).toBe(SECRET_ENV.vaultCa);
    expect(workerVault(s3Vault, "sourceVault").s3?.caCertEnv).toBe(SECRET_ENV.sourceVaultCa);
    const ca = (env: k8s.V1EnvVar[], name: string) => env.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
    expect(ca(vaultSecretEnv(s3Vault), SECRET_ENV.vaultCa)).toEqual({ name: "s3-ca", key: "ca.crt" });
    expect(ca(vaultSecretEnv(s3Vault, "sourceVault"), SECRET_ENV.sourceVaultCa)).toEqual({ name: "s3-ca", key: "ca.crt" });
    expect(vaultSecretEnv(s3Vault, "sourceVault").map((e) => e.name)).toEqual([
      SECRET_ENV.sourceVaultKey, SECRET_ENV.sourceVaultAccessKeyId, SECRET_ENV.sourceVaultSecretAccessKey, SECRET_ENV.sourceVaultCa,
    ]);
  });

  it("gives a vCenter without spec.tls the default trust, and a CA from its Secret", () => {
    const vc = { metadata: { name: "vc" }, spec: { address: "vc", credentialsSecretRef: { name: "c" }, gatewayRef: { name: "gw" } } } as VCenter;
    expect(workerVCenter(vc).tls).toEqual({});
    const withCa = { ...vc, spec: { ...vc.spec, tls: { caSecretRef: { name: "vc-ca" } } } } as VCenter;
    expect(workerVCenter(withCa).tls).toEqual({ caCertEnv: SECRET_ENV.vcenterCa });
    expect(secretEnvFor(claimVault, withCa).find((e) => e.name === SECRET_ENV.vcenterCa)?.valueFrom?.secretKeyRef).toEqual({ name: "vc-ca", key: "ca.crt" });
  });

  it("hands the operator's NODE_EXTRA_CA_CERTS to every worker", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lifeboat-ca-"));
    const saved = process.env.NODE_EXTRA_CA_CERTS;
    try {
      const file = join(dir, "ca.pem");
      await writeFile(file, "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
      expect(operatorExtraCACerts({ NODE_EXTRA_CA_CERTS: join(dir, "missing.pem") })).toBeUndefined();
      process.env.NODE_EXTRA_CA_CERTS = file;
      const env = job([]).spec?.template.spec?.containers[0]?.env ?? [];
      expect(env.find((e) => e.name === EXTRA_CA_ENV)?.value).toBe("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----");
    } finally {
      if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = saved;
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the worker's control token", () => {
  it("reaches only a steered worker, by secretKeyRef from the Job's own Secret, never as a value", () => {
    const steered = workerJob({ name: "w", namespace: "prod", labels: {}, owner: { apiVersion: "v1", kind: "X", name: "o", uid: "u" }, spec, secretEnv: [], claims: [], gateway, backoffLimit: 1, controlToken: true });
    const env = steered.spec?.template.spec?.containers[0]?.env ?? [];
    expect(env.filter((e) => e.name === CONTROL_TOKEN_ENV)).toEqual([{ name: CONTROL_TOKEN_ENV, valueFrom: { secretKeyRef: { name: controlTokenSecretName("w"), key: CONTROL_TOKEN_KEY } } }]);
    expect(job([]).spec?.template.spec?.containers[0]?.env?.some((e) => e.name === CONTROL_TOKEN_ENV)).toBe(false);
  });

  it("keeps the token in a Secret owned by the Job, so it goes with it", () => {
    const created: k8s.V1Job = { metadata: { name: "w", namespace: "prod", uid: "job-uid" } };
    const token = newControlToken();
    const secret = controlTokenSecret(created, token);
    expect(secret.metadata).toMatchObject({ name: "w-control", namespace: "prod", ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "w", uid: "job-uid" }] });
    expect(secret.stringData).toEqual({ [CONTROL_TOKEN_KEY]: token });
    // 256 random bits, different every time.
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(newControlToken()).not.toBe(token);
  });
});

describe("vault locks of a retried pod", () => {
  it("tells the worker its Job's uid from the label the Job controller sets on every pod", () => {
    const env = job([]).spec?.template.spec?.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === JOB_UID_ENV)).toEqual({ name: JOB_UID_ENV, valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/controller-uid']" } } });
    // The worker's pods replace each other only once failed (a pod failure policy makes that the Job's rule), so a lock of the same uid is a dead pod's.
    expect(job([]).spec?.podFailurePolicy).toBeDefined();
  });
});

describe("a worker Job's result", () => {
  const pod = (created: Date, message: string): k8s.V1Pod => ({
    metadata: { creationTimestamp: created },
    status: { containerStatuses: [{ name: "worker", image: "i", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode: 0, message } } }] },
  });

  it("is read from the newest pod by time, not by the Date's text (a retry after midnight: 'Fri ...' sorts before 'Thu ...')", () => {
    const failed = pod(new Date("2026-12-03T23:59:00Z"), "VaultUnavailable: the vault did not answer");
    const retried = pod(new Date("2026-12-04T00:01:00Z"), '{"forgotten":1}');
    expect(lastTerminationMessage([retried, failed])).toBe('{"forgotten":1}');
    expect(lastTerminationMessage([failed, retried])).toBe('{"forgotten":1}');
  });
});

describe("a worker Job's deadline", () => {
  it("is set only when asked", () => {
    const options = { name: "j", namespace: "ns", labels: {}, owner: { apiVersion: "v1", kind: "K", name: "o", uid: "u" }, spec: { mode: "maintenance", vault: { filesystem: { path: "/v" } }, forget: [] } as unknown as WorkerSpec, secretEnv: [], claims: [], gateway: { metadata: { name: "gw" }, spec: { vaultRef: { name: "v" } } } as unknown as Gateway, backoffLimit: 2 };
    expect(workerJob(options).spec?.activeDeadlineSeconds).toBeUndefined();
    expect(workerJob({ ...options, activeDeadlineSeconds: 3600 }).spec?.activeDeadlineSeconds).toBe(3600);
  });
});

function pod(created: string, state: k8s.V1ContainerState, phase: string): k8s.V1Pod {
  return { metadata: { creationTimestamp: new Date(created) }, status: { phase, containerStatuses: [{ name: "worker", image: "", imageID: "", ready: false, restartCount: 0, state }] } };
}
const failed = (created: string, exitCode: number, message?: string) => pod(created, { terminated: { exitCode, ...(message ? { message } : {}) } }, "Failed");
const running = (created: string) => pod(created, { running: {} }, "Running");

describe("failedAttemptNote", () => {
  it("says why the newest attempt failed, counting the attempts and quoting the worker", () => {
    const pods = [failed("2026-12-04T10:00:10Z", 11, "VCenterUnreachable: POST 10.0.0.1:443/sdk: ECONNREFUSED"), failed("2026-12-04T10:00:00Z", 1)];
    expect(failedAttemptNote(pods, 4)).toEqual({
      reason: "VCenterUnreachable",
      message: "attempt 2 of 4 failed (VCenterUnreachable: POST 10.0.0.1:443/sdk: ECONNREFUSED); the worker Job tries again",
    });
  });

  it("counts an attempt whose container has ended before its pod's phase says so", () => {
    const ending = pod("2026-12-04T10:00:00Z", { terminated: { exitCode: 11 } }, "Running");
    expect(failedAttemptNote([ending], 4)?.message).toBe("attempt 1 of 4 failed with exit code 11; the worker Job tries again");
  });

  it("names the exit code when the worker left no message", () => {
    expect(failedAttemptNote([failed("2026-12-04T10:00:00Z", 137)], 4)).toEqual({ reason: "WorkerFailed", message: "attempt 1 of 4 failed with exit code 137; the worker Job tries again" });
  });

  it("makes messages isFailedAttemptMessage knows, and only those", () => {
    expect(isFailedAttemptMessage(failedAttemptNote([failed("2026-12-04T10:00:00Z", 11, "VCenterUnreachable: ECONNREFUSED")], 4)?.message)).toBe(true);
    expect(isFailedAttemptMessage(failedAttemptNote([failed("2026-12-04T10:00:00Z", 137)], 4)?.message)).toBe(true);
    expect(isFailedAttemptMessage("vCenter 10.0.0.1 does not answer (ECONNREFUSED); the worker has been retrying since 2026-12-04T10:00:00Z and goes on for up to 5 minutes")).toBe(false);
    expect(isFailedAttemptMessage(undefined)).toBe(false);
  });

  it("is undefined while the newest attempt runs, or before any has ended", () => {
    expect(failedAttemptNote([failed("2026-12-04T10:00:00Z", 11), running("2026-12-04T10:00:20Z")], 4)).toBeUndefined();
    expect(failedAttemptNote([running("2026-12-04T10:00:00Z")], 4)).toBeUndefined();
    expect(failedAttemptNote([], 4)).toBeUndefined();
  });
});
