import { describe, expect, it } from "@jest/globals";
import type { Gateway } from "../api/generated/types.js";
import { labelValue } from "../workloads/worker-job.js";
import { GATEWAY_LABEL, gatewaysOfPod } from "./gateway-controller.js";

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
