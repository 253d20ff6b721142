import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { adminConfig, createNamespace, eventually, testbed } from "../support/testbed.js";
import { alive } from "../testbed/cluster.js";

let ns: string;
let batch: k8s.BatchV1Api;
let core: k8s.CoreV1Api;

beforeAll(async () => {
  ns = await createNamespace("local-node");
  batch = adminConfig().makeApiClient(k8s.BatchV1Api);
  core = adminConfig().makeApiClient(k8s.CoreV1Api);
});

function job(name: string, script: string, extra: Partial<k8s.V1PodSpec> = {}, container: Partial<k8s.V1Container> = {}): k8s.V1Job {
  return {
    metadata: { name, namespace: ns },
    spec: {
      backoffLimit: 0,
      template: {
        spec: {
          restartPolicy: "Never",
          containers: [{ name: "main", image: "node:20", command: ["node", "-e", script], ...container }],
          ...extra,
        },
      },
    },
  };
}

async function jobCondition(name: string): Promise<k8s.V1JobCondition | undefined> {
  const j = await batch.readNamespacedJob({ name, namespace: ns });
  return j.status?.conditions?.find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
}

async function podsOf(jobName: string): Promise<k8s.V1Pod[]> {
  return (await core.listNamespacedPod({ namespace: ns, labelSelector: `batch.kubernetes.io/job-name=${jobName}` })).items;
}

/** The container's output, which the local node writes beside the pod's working directory. */
async function podLog(pod: k8s.V1Pod, container = "main"): Promise<string> {
  const dir = join(testbed().podsDir, `${ns}_${pod.metadata?.name ?? ""}_${pod.metadata?.uid ?? ""}`);
  return readFile(join(dir, `${container}.log`), "utf8");
}

describe("the local node", () => {
  it("runs a Job's pod to completion through the real scheduler and Job controller", async () => {
    await batch.createNamespacedJob({ namespace: ns, body: job("hello", "console.log('hello from', process.env.HOSTNAME)") });
    const cond = await eventually("job hello to finish", () => jobCondition("hello"));
    expect(cond.type).toBe("Complete");
    const [pod] = await podsOf("hello");
    expect(pod?.spec?.nodeName).toBe(testbed().nodeName);
    expect(pod?.status?.phase).toBe("Succeeded");
    const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated?.exitCode).toBe(0);
    expect(terminated?.reason).toBe("Completed");
    expect(await podLog(pod as k8s.V1Pod)).toBe(`hello from ${pod?.metadata?.name ?? ""}\n`);
  });

  it("reports a failing command as Failed with its exit code", async () => {
    await batch.createNamespacedJob({ namespace: ns, body: job("fails", "console.error('disk on fire'); process.exit(3)") });
    const cond = await eventually("job fails to finish", () => jobCondition("fails"));
    expect(cond.type).toBe("Failed");
    expect(cond.reason).toBe("BackoffLimitExceeded");
    const [pod] = await podsOf("fails");
    expect(pod?.status?.phase).toBe("Failed");
    expect(pod?.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 3, reason: "Error" });
  });

  it("restarts a failed container under restartPolicy OnFailure and counts the restart", async () => {
    const script = "const fs = require('fs'); if (!fs.existsSync('tried')) { fs.writeFileSync('tried', ''); process.exit(1) }";
    const body = job("retries", script, { restartPolicy: "OnFailure" });
    if (body.spec) body.spec.backoffLimit = 3;
    await batch.createNamespacedJob({ namespace: ns, body });
    const cond = await eventually("job retries to finish", () => jobCondition("retries"));
    expect(cond.type).toBe("Complete");
    const [pod] = await podsOf("retries");
    expect(pod?.status?.containerStatuses?.[0]?.restartCount).toBe(1);
    expect(pod?.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(1);
  });

  it("gives the process env from literals, Secrets, ConfigMaps and the downward API, and its working dir", async () => {
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "creds" }, stringData: { password: "p@ss`^~=;!/([]{}$\\&#%+" } } });
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "settings" }, data: { MODE: "fast", LEVEL: "3" } } });
    const script = "console.log(JSON.stringify({ cwd: process.cwd(), env: process.env }))";
    const body = job("env", script, {}, {
      workingDir: "/tmp",
      env: [
        { name: "GREETING", value: "hi" },
        { name: "ECHO", value: "$(GREETING) there" },
        { name: "PASSWORD", valueFrom: { secretKeyRef: { name: "creds", key: "password" } } },
        { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      ],
      envFrom: [{ configMapRef: { name: "settings" }, prefix: "CFG_" }],
    });
    await batch.createNamespacedJob({ namespace: ns, body });
    expect((await eventually("job env to finish", () => jobCondition("env"))).type).toBe("Complete");
    const [pod] = await podsOf("env");
    const out = JSON.parse(await podLog(pod as k8s.V1Pod)) as { cwd: string; env: Record<string, string> };
    expect(out.cwd).toBe("/tmp");
    expect(out.env).toMatchObject({
      GREETING: "hi",
      ECHO: "hi there",
      PASSWORD: "p@ss`^~=;!/([]{}$\\&#%+",
      POD_NAME: pod?.metadata?.name,
      POD_NAMESPACE: ns,
      CFG_MODE: "fast",
      CFG_LEVEL: "3",
    });
  });

  it("keeps a container waiting with CreateContainerConfigError while its Secret is missing", async () => {
    const body = job("nosecret", "console.log(process.env.TOKEN)", {}, {
      env: [{ name: "TOKEN", valueFrom: { secretKeyRef: { name: "later", key: "token" } } }],
    });
    await batch.createNamespacedJob({ namespace: ns, body });
    const waiting = await eventually("the container to wait for its secret", async () => {
      const [pod] = await podsOf("nosecret");
      const w = pod?.status?.containerStatuses?.[0]?.state?.waiting;
      return w?.reason === "CreateContainerConfigError" ? w : undefined;
    });
    expect(waiting.message).toContain('secret "later" not found');
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "later" }, stringData: { token: "now" } } });
    expect((await eventually("job nosecret to finish", () => jobCondition("nosecret"))).type).toBe("Complete");
  });

  it("stops a pod's process when the Job is deleted and the garbage collector removes its pods", async () => {
    await batch.createNamespacedJob({ namespace: ns, body: job("sleeper", "setInterval(() => {}, 1000)") });
    const pod = await eventually("the sleeper to run", async () => {
      const [p] = await podsOf("sleeper");
      return p?.status?.containerStatuses?.[0]?.state?.running ? p : undefined;
    });
    const pid = Number(pod.status?.containerStatuses?.[0]?.containerID?.replace("local-process://", ""));
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(true);

    await batch.deleteNamespacedJob({ name: "sleeper", namespace: ns, propagationPolicy: "Background" });
    await eventually("the garbage collector to delete the sleeper's pods", async () => ((await podsOf("sleeper")).length === 0 ? true : undefined));
    expect(alive(pid)).toBe(false);
    const dir = join(testbed().podsDir, `${ns}_${pod.metadata?.name ?? ""}_${pod.metadata?.uid ?? ""}`);
    expect(existsSync(dir) ? (await readdir(dir)).filter((f) => f.endsWith(".pid")) : []).toEqual([]);
  });
});

