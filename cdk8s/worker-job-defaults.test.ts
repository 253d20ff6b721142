import { describe, expect, it } from "@jest/globals";
import type * as k8s from "@kubernetes/client-node";
import { Chart, Testing } from "cdk8s";
import { testApp } from "./test-app.js";
import * as kplus from "cdk8s-plus-34";
import type { Gateway } from "../operator/src/api/generated/types.js";
import type { WorkerSpec } from "../operator/src/worker/spec.js";
import { workerJob } from "../operator/src/workloads/worker-job.js";


/**
 * The operator builds its worker Jobs per reconcile as plain objects
 * (operator/src/workloads/worker-job.ts), not with cdk8s-plus (docs/cdk8s.md
 * says why). What cdk8s-plus would have brought is its secure defaults; this
 * holds the worker Job to them: for every security setting a default
 * cdk8s-plus-34 Job gets, the worker Job's effective value is the same.
 */

/** A cdk8s-plus-34 Job with nothing but an image: its defaults. */
function plusDefaults(): k8s.V1Job {
  const chart = new Chart(testApp(), "defaults");
  new kplus.Job(chart, "Job", { containers: [{ image: "example" }] });
  return Testing.synth(chart)[0] as k8s.V1Job;
}

function lifeboatWorker(): k8s.V1Job {
  const gateway = { metadata: { name: "gw", namespace: "prod" }, spec: { vaultRef: { name: "v" } } } as unknown as Gateway;
  const spec = { mode: "restore", pointId: "p", vault: { filesystem: { path: "/x" } }, target: { imageFile: { format: "raw", path: "/y" } } } as WorkerSpec;
  return workerJob({ name: "w", namespace: "prod", labels: {}, owner: { apiVersion: "v1", kind: "X", name: "o", uid: "u" }, spec, secretEnv: [], claims: [], gateway, backoffLimit: 1 });
}

/** The security settings in force for a Job's first container: the container's, else the pod's, else Kubernetes' default. */
function effective(job: k8s.V1Job): Record<string, unknown> {
  const pod = job.spec?.template.spec;
  const container = pod?.containers[0]?.securityContext;
  return {
    automountServiceAccountToken: pod?.automountServiceAccountToken ?? true,
    hostNetwork: pod?.hostNetwork ?? false,
    shareProcessNamespace: pod?.shareProcessNamespace ?? false,
    privileged: container?.privileged ?? false,
    allowPrivilegeEscalation: container?.allowPrivilegeEscalation ?? true,
    readOnlyRootFilesystem: container?.readOnlyRootFilesystem ?? false,
    runAsNonRoot: container?.runAsNonRoot ?? pod?.securityContext?.runAsNonRoot ?? false,
  };
}

describe("the operator's worker Job", () => {
  it("has every security setting of a default cdk8s-plus-34 Job", () => {
    const defaults = effective(plusDefaults());
    // The defaults this compares: the test would pass vacuously if cdk8s-plus stopped setting them.
    expect(defaults).toEqual({
      automountServiceAccountToken: false,
      hostNetwork: false,
      shareProcessNamespace: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
    });
    expect(effective(lifeboatWorker())).toEqual(defaults);
  });

  it("goes further where cdk8s-plus sets nothing: no capabilities, the RuntimeDefault seccomp profile, a fixed non-root user", () => {
    const pod = lifeboatWorker().spec?.template.spec;
    expect(pod?.containers[0]?.securityContext?.capabilities).toEqual({ drop: ["ALL"] });
    expect(pod?.securityContext).toMatchObject({ seccompProfile: { type: "RuntimeDefault" }, runAsUser: 65532, runAsGroup: 65532 });
    const plusPod = plusDefaults().spec?.template.spec;
    expect(plusPod?.containers[0]?.securityContext?.capabilities).toBeUndefined();
    expect(plusPod?.securityContext?.seccompProfile).toBeUndefined();
  });
});
