import { readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "@jest/globals";
import { Chart, Testing } from "cdk8s";
import { testApp } from "./test-app.js";
import { loadAll } from "js-yaml";
import { runCommand } from "../e2e/testbed/command.js";
import { binary } from "../e2e/testbed/components.js";
import { repoRoot } from "../e2e/testbed/paths.js";
import { Lifeboat, RENDER_DIR_PREFIX, type LifeboatValues } from "./lifeboat.js";
import { kinds } from "../operator/src/api/kinds.js";


/**
 * The Lifeboat construct against the chart: its objects must be exactly what
 * `helm template` gives for the same values, so the chart stays the one
 * install definition. The helm side is told the values with --set flags, not
 * the construct's values file, so a typed value that reached the wrong key
 * would show.
 */

/** helm's first build takes minutes (cached in ~/.cache/lifeboat after). */
const BUILD_TIMEOUT_MS = 45 * 60_000;

let helm = "";

beforeAll(async () => {
  helm = await binary("helm", "helm");
}, BUILD_TIMEOUT_MS);

async function helmTemplate(args: readonly string[]): Promise<unknown[]> {
  const { stdout } = await runCommand(helm, ["template", "lifeboat", "charts/lifeboat", "--namespace", "lifeboat-system", "--include-crds", ...args], { cwd: repoRoot });
  return loadAll(stdout).filter((d) => d !== null);
}

function synth(values?: LifeboatValues): unknown[] {
  const chart = new Chart(testApp(), "test");
  new Lifeboat(chart, "Lifeboat", { helmExecutable: helm, ...(values ? { values } : {}) });
  return Testing.synth(chart);
}

/** kind/namespace/name of each object, in order: a readable first failure. */
function ids(objects: readonly unknown[]): string[] {
  return objects.map((o) => {
    const { kind, metadata } = o as { kind: string; metadata: { name: string; namespace?: string } };
    return `${kind}/${metadata.namespace ?? ""}/${metadata.name}`;
  });
}

describe("the Lifeboat construct", () => {
  it("synthesizes exactly what `helm template` renders with the default values", async () => {
    const expected = await helmTemplate([]);
    const actual = synth();
    expect(ids(actual)).toEqual(ids(expected));
    expect(actual).toEqual(expected);
    // The CRDs come along: a synthesized manifest is applied by kubectl or a GitOps tool, not by helm.
    expect(ids(actual).filter((id) => id.startsWith("CustomResourceDefinition/"))).toHaveLength(kinds.length);
    // Left out on request, e.g. where the CRDs are managed on their own.
    const chart = new Chart(testApp(), "test");
    new Lifeboat(chart, "Lifeboat", { helmExecutable: helm, includeCrds: false });
    expect(ids(Testing.synth(chart))).toEqual(ids(expected).filter((id) => !id.startsWith("CustomResourceDefinition/")));
  });

  it("passes typed values to the chart under the chart's own keys", async () => {
    const values: LifeboatValues = {
      image: { repository: "registry.example.com/lifeboat", tag: "0.1.0-rc1" },
      replicaCount: 1,
      logLevel: "debug",
      watchNamespaces: ["prod"],
      extraCACertificates: { configMapName: "corp-ca", key: "bundle.pem" },
      vaultVolumes: [{ namespace: "prod", claimName: "vault-data", volume: { persistentVolumeClaim: { claimName: "prod-vault-data" } } }],
      resources: { requests: { cpu: "200m", memory: "256Mi" } },
      metrics: {
        serviceMonitor: { enabled: true, labels: { release: "kube-prometheus-stack" }, interval: "30s" },
        prometheusRule: { enabled: true, labels: { release: "kube-prometheus-stack" } },
        grafanaDashboard: { enabled: true },
      },
    };
    const expected = await helmTemplate([
      "--set", "image.repository=registry.example.com/lifeboat,image.tag=0.1.0-rc1,replicaCount=1,logLevel=debug,watchNamespaces={prod}",
      "--set", "extraCACertificates.configMapName=corp-ca,extraCACertificates.key=bundle.pem",
      "--set-json", 'vaultVolumes=[{"namespace":"prod","claimName":"vault-data","volume":{"persistentVolumeClaim":{"claimName":"prod-vault-data"}}}]',
      "--set-json", 'resources={"requests":{"cpu":"200m","memory":"256Mi"}}',
      "--set", "metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.labels.release=kube-prometheus-stack,metrics.serviceMonitor.interval=30s",
      "--set", "metrics.prometheusRule.enabled=true,metrics.prometheusRule.labels.release=kube-prometheus-stack",
      "--set", "metrics.grafanaDashboard.enabled=true",
    ]);
    const actual = synth(values);
    expect(ids(actual)).toEqual(ids(expected));
    expect(actual).toEqual(expected);
    // The values took effect: one replica, so no PodDisruptionBudget; a Role in the watched namespace; the monitoring objects.
    expect(ids(actual)).toEqual(expect.arrayContaining(["Role/prod/lifeboat", "PrometheusRule/lifeboat-system/lifeboat", "ServiceMonitor/lifeboat-system/lifeboat"]));
    expect(ids(actual).some((id) => id.startsWith("ConfigMap/lifeboat-system/"))).toBe(true); // the Grafana dashboard
    expect(ids(actual).some((id) => id.startsWith("PodDisruptionBudget/"))).toBe(false);
  });

  it("leaves nothing in the temp directory, whether helm renders or refuses", async () => {
    // The prefix holds this process's pid: other test files' renders, in other workers, do not count.
    const left = async () => (await readdir(tmpdir())).filter((n) => n.startsWith(RENDER_DIR_PREFIX));
    expect(await left()).toEqual([]);
    expect(synth({ logLevel: "debug" }).length).toBeGreaterThan(0); // with values, so a values file is written too
    expect(() => synth({ leaderElection: { enabled: false }, replicaCount: 2 })).toThrow(/replicaCount/);
    expect(await left()).toEqual([]);
  });

  it("fails to synthesize values the chart's schema refuses, with helm's message", () => {
    // The cross-value rule (leader election off needs one replica) has no TypeScript form; helm enforces it.
    expect(() => synth({ leaderElection: { enabled: false }, replicaCount: 2 })).toThrow(/replicaCount/);
  });
});

describe("deploy/lifeboat.yaml", () => {
  it("is the default render plus the lifeboat-system namespace", async () => {
    const manifest = loadAll(await readFile(join(repoRoot, "deploy", "lifeboat.yaml"), "utf8")).filter((d) => d !== null);
    const namespace = manifest[0] as { kind: string; metadata: { name: string } };
    expect([namespace.kind, namespace.metadata.name]).toEqual(["Namespace", "lifeboat-system"]);
    expect(manifest.slice(1)).toEqual(await helmTemplate([]));
  });
});
