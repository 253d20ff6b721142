import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { loadKubeConfig } from "./cluster.js";

let dir: string;
let file: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kubectl-lifeboat-"));
  file = join(dir, "config");
  await writeFile(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: tokyo
  cluster: { server: "https://tokyo.example:6443" }
- name: osaka
  cluster: { server: "https://osaka.example:6443" }
users:
- name: admin
  user: { token: t }
contexts:
- name: tokyo
  context: { cluster: tokyo, user: admin, namespace: backups }
- name: osaka
  context: { cluster: osaka, user: admin }
current-context: tokyo
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the kubeconfig, as kubectl chooses it", () => {
  it("takes the current context and its namespace", () => {
    const { kc, namespace } = loadKubeConfig({ kubeconfig: file });
    expect(kc.getCurrentCluster()?.server).toBe("https://tokyo.example:6443");
    expect(namespace).toBe("backups");
  });

  it("switches context with --context; the namespace is then the context's, else default, unless -n", () => {
    const osaka = loadKubeConfig({ kubeconfig: file, context: "osaka" });
    expect(osaka.kc.getCurrentCluster()?.server).toBe("https://osaka.example:6443");
    expect(osaka.namespace).toBe("default");
    expect(loadKubeConfig({ kubeconfig: file, context: "osaka", namespace: "dr" }).namespace).toBe("dr");
  });

  it("names what to fix: an unknown context, a missing file", () => {
    expect(() => loadKubeConfig({ kubeconfig: file, context: "nagoya" })).toThrow('Context "nagoya" is not in the kubeconfig; `kubectl config get-contexts` lists the ones there are');
    expect(() => loadKubeConfig({ kubeconfig: join(dir, "missing") })).toThrow(`Could not read the kubeconfig ${join(dir, "missing")}`);
  });
});
