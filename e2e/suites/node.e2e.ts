// The test bed's node is a real one (kubelet, containerd, runc, CNI, kube-proxy)
// running Lifeboat's image built from the Dockerfile. This suite proves what
// the process node it replaced could not: logs and exec through the API,
// memory limits enforced by cgroups, the chart's read-only root filesystem
// and non-root user, projected tokens and Services.
import { beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { installLifeboat, operatorPods, OPERATOR_NAMESPACE } from "../support/lifeboat.js";
import { adminConfig, createNamespace, eventually, kubectl } from "../support/testbed.js";
import { LIFEBOAT_IMAGE, NODE_IMAGE_VERSION } from "../testbed/images.js";

let ns: string;
let core: k8s.CoreV1Api;

beforeAll(async () => {
  ns = await createNamespace("node");
  core = adminConfig().makeApiClient(k8s.CoreV1Api);
  await installLifeboat();
});

/** Runs a one-container pod of Lifeboat's image to its end; returns the pod. */
async function runPod(name: string, script: string, container: Partial<k8s.V1Container> = {}, spec: Partial<k8s.V1PodSpec> = {}): Promise<k8s.V1Pod> {
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name },
      spec: {
        restartPolicy: "Never",
        automountServiceAccountToken: false,
        containers: [{ name: "main", image: LIFEBOAT_IMAGE, command: ["node", "-e", script], ...container }],
        ...spec,
      },
    },
  });
  return eventually(`pod ${name} to finish`, async () => {
    const p = await core.readNamespacedPod({ name, namespace: ns });
    return p.status?.phase === "Succeeded" || p.status?.phase === "Failed" ? p : undefined;
  }, 120_000);
}

describe("the test bed's node", () => {
  it("runs Lifeboat's image on the current Node.js LTS, and `kubectl logs` shows what a container wrote", async () => {
    const pod = await runPod("hello", "console.log(`hello from ${process.version}`)");
    expect(pod.status?.phase).toBe("Succeeded");
    const logs = await kubectl(["-n", ns, "logs", "hello"]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toBe(`hello from v${NODE_IMAGE_VERSION}\n`);
  });

  it("enforces a memory limit: a container that allocates past it is OOMKilled", async () => {
    const grow = "const keep = []; for (;;) { keep.push(Buffer.alloc(16 * 1024 * 1024, 1)); }";
    // A deadline keeps a broken limit from growing into the machine's own OOM killer.
    const pod = await runPod("hog", grow, { resources: { limits: { memory: "96Mi" }, requests: { memory: "96Mi" } } }, { activeDeadlineSeconds: 60 });
    expect(pod.status?.phase).toBe("Failed");
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated?.reason).toBe("OOMKilled");
    expect(terminated?.exitCode).toBe(137);
  });

  it("runs the operator as the chart says: non-root, read-only root filesystem, limits from values", async () => {
    const [pod] = await operatorPods();
    const name = pod?.metadata?.name ?? "";
    const exec = (script: string) => kubectl(["-n", OPERATOR_NAMESPACE, "exec", name, "-c", "operator", "--", "node", "-e", script]);
    const whoami = await exec("console.log(process.getuid(), process.getgid())");
    expect(whoami.stdout.trim()).toBe("65532 65532");
    const write = await exec("try { require('fs').writeFileSync('/app/planted', 'x'); console.log('WROTE') } catch (e) { console.log(e.code) }");
    expect(write.stdout.trim()).toBe("EROFS");
    // The memory limit is the cgroup's, as runc set it from the chart's resources.
    const limit = await exec("const fs = require('fs'); const f = ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'].find((p) => fs.existsSync(p)); console.log(fs.readFileSync(f, 'utf8').trim())");
    expect(Number(limit.stdout.trim())).toBe(512 * 1024 * 1024);
  });

  it("serves the API server through the kubernetes Service (kube-proxy) with a projected token", async () => {
    const script = [
      "const fs = require('fs'); const https = require('https');",
      "const dir = '/var/run/secrets/kubernetes.io/serviceaccount';",
      "const req = https.request({ host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT, path: '/version',",
      "  ca: fs.readFileSync(dir + '/ca.crt'), headers: { Authorization: 'Bearer ' + fs.readFileSync(dir + '/token', 'utf8') } },",
      "  (res) => { let b = ''; res.on('data', (d) => b += d); res.on('end', () => console.log(res.statusCode, JSON.parse(b).gitVersion)); });",
      "req.end();",
    ].join("\n");
    const pod = await runPod("asks-api", script, {}, { automountServiceAccountToken: true });
    const logs = await kubectl(["-n", ns, "logs", "asks-api"]);
    expect(`${pod.status?.phase ?? ""} ${logs.stdout.trim()}`).toMatch(/^Succeeded 200 v1\.36\./);
  });
});
