import { beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { adminConfig, createNamespace, eventually, testbed } from "../support/testbed.js";
import { LIFEBOAT_IMAGE } from "../testbed/images.js";

let ns: string;

beforeAll(async () => {
  ns = await createNamespace("rbac");
});

describe("a pod's service account", () => {
  it("gets exactly the RBAC its Role grants: ConfigMaps yes, Secrets 403", async () => {
    const kc = adminConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "reader" } } });
    await rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: "configmap-reader" }, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: "reader" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "configmap-reader" },
        subjects: [{ kind: "ServiceAccount", name: "reader", namespace: ns }],
      },
    });
    // The pod asks the API server with the service-account token the kubelet
    // projected into it (bound to this pod), through the test bed's kubectl
    // mounted from this machine into Lifeboat's image.
    const script = [
      "$KUBECTL auth whoami -o jsonpath='{.status.userInfo.username}'; echo",
      "$KUBECTL get configmaps -o name && echo CONFIGMAPS-OK",
      "$KUBECTL get secrets 2>&1; echo SECRETS-EXIT=$?",
    ].join("\n");
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "asks" },
        spec: {
          serviceAccountName: "reader",
          restartPolicy: "Never",
          containers: [{ name: "main", image: LIFEBOAT_IMAGE, command: ["/bin/sh", "-c", script], env: [{ name: "KUBECTL", value: "/opt/kubectl" }], volumeMounts: [{ name: "kubectl", mountPath: "/opt/kubectl", readOnly: true }] }],
          volumes: [{ name: "kubectl", hostPath: { path: testbed().kubectl, type: "File" } }],
        },
      },
    });
    const pod = await eventually("the pod to finish", async () => {
      const p = await core.readNamespacedPod({ name: "asks", namespace: ns });
      return p.status?.phase === "Succeeded" || p.status?.phase === "Failed" ? p : undefined;
    });
    const log = await core.readNamespacedPodLog({ name: "asks", namespace: ns });
    expect(pod.status?.phase).toBe("Succeeded");
    expect(log).toContain(`system:serviceaccount:${ns}:reader`);
    expect(log).toContain("configmap/kube-root-ca.crt");
    expect(log).toContain("CONFIGMAPS-OK");
    expect(log).toMatch(/Error from server \(Forbidden\): secrets is forbidden: User "system:serviceaccount:[^"]+:reader" cannot list resource "secrets"/);
    expect(log).toContain("SECRETS-EXIT=1");
  });
});
