import { describe, expect, it } from "@jest/globals";
import type { BackupVault, Gateway } from "../api/generated/types.js";
import { labelValue } from "../workloads/worker-job.js";
import { GATEWAY_LABEL, gatewaysOfPod, httpsToVaultCondition } from "./gateway-controller.js";

function gateway(namespace: string, name: string): Gateway {
  return { apiVersion: "lifeboat.io/v1alpha1", kind: "Gateway", metadata: { namespace, name }, spec: { vaultRef: { name: "v" } } };
}

describe("gatewaysOfPod", () => {
  const long = `site-${"a".repeat(59)}`; // 64 characters: its label value is shortened with a hash
  const gateways = [gateway("prod", "tokyo"), gateway("dev", "tokyo"), gateway("prod", long)];

  it("finds the Gateway a worker pod belongs to by namespace and label, long names included", () => {
    expect(gatewaysOfPod({ metadata: { namespace: "prod", labels: { [GATEWAY_LABEL]: "tokyo" } } }, gateways)).toEqual(["prod/tokyo"]);
    expect(labelValue(long)).not.toBe(long);
    expect(gatewaysOfPod({ metadata: { namespace: "prod", labels: { [GATEWAY_LABEL]: labelValue(long) } } }, gateways)).toEqual([`prod/${long}`]);
  });

  it("finds none for a pod without the label or of a Gateway that does not exist", () => {
    expect(gatewaysOfPod({ metadata: { namespace: "prod", labels: {} } }, gateways)).toEqual([]);
    expect(gatewaysOfPod({ metadata: { namespace: "qa", labels: { [GATEWAY_LABEL]: "tokyo" } } }, gateways)).toEqual([]);
  });
});

describe("httpsToVaultCondition", () => {
  const s3Vault = (endpoint: string | undefined, useHTTPS: boolean): BackupVault => ({
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "BackupVault",
    metadata: { namespace: "prod", name: "v" },
    spec: { backend: { s3: { bucket: "b", useHTTPS, credentialsSecretRef: { name: "s3" }, ...(endpoint ? { endpoint } : {}) } }, encryption: { keySecretRef: { name: "k" } } },
  });
  const gw = (useHTTPS?: boolean): Gateway => ({ ...gateway("prod", "gw"), spec: { vaultRef: { name: "v" }, ...(useHTTPS === undefined ? {} : { useHTTPS }) } });

  it("reports a Gateway asking for HTTPS in front of an http:// vault", () => {
    expect(httpsToVaultCondition(gw(true), s3Vault("http://minio:9000", false))).toMatchObject({ type: "HTTPSToVault", status: "False", reason: "PlainHTTP" });
    expect(httpsToVaultCondition(gw(), s3Vault("http://minio:9000", false))).toMatchObject({ status: "False", reason: "PlainHTTP" });
  });

  it("says HTTPS when the vault's endpoint is https:// or AWS's default, and nothing when not asked or not a bucket", () => {
    expect(httpsToVaultCondition(gw(true), s3Vault("https://minio:9000", true))).toMatchObject({ status: "True", reason: "HTTPS" });
    expect(httpsToVaultCondition(gw(true), s3Vault(undefined, true))).toMatchObject({ status: "True", reason: "HTTPS" });
    expect(httpsToVaultCondition(gw(false), s3Vault("http://minio:9000", false))).toBeUndefined();
    const fsVault: BackupVault = { ...s3Vault(undefined, true), spec: { backend: { filesystem: { path: "/v" } }, encryption: { keySecretRef: { name: "k" } } } };
    expect(httpsToVaultCondition(gw(true), fsVault)).toBeUndefined();
  });
});
