import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { runCommand } from "./command.js";
import { cacheDir, repoRoot } from "./paths.js";

/**
 * A peer program the test bed runs, built from its published Go module by a
 * small wrapper module under `e2e/testbed/go/<module>`. The wrapper pins the
 * version; nothing is downloaded except through the Go module proxy.
 */
export interface GoComponent {
  /** Name of the wrapper module directory under e2e/testbed/go. */
  readonly module: string;
  /** Package import paths to build, one binary each (named after the last path element). */
  readonly packages: readonly string[];
  /** Linker flags, e.g. to stamp the version that `/version` reports. */
  readonly ldflags?: string;
  /** Build tags, e.g. a project's own switch to leave out parts a test does not use. */
  readonly tags?: string;
}

export const KUBERNETES_VERSION = "v1.36.3";

const kubeVersionFlags = [
  `-X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION}`,
  "-X k8s.io/component-base/version.gitMajor=1",
  "-X k8s.io/component-base/version.gitMinor=36",
  "-X k8s.io/component-base/version.gitTreeState=clean",
  `-X k8s.io/client-go/pkg/version.gitVersion=${KUBERNETES_VERSION}`,
  "-X k8s.io/client-go/pkg/version.gitMajor=1",
  "-X k8s.io/client-go/pkg/version.gitMinor=36",
].join(" ");

/** Every component the test bed knows how to build. */
export const components = {
  kube: {
    module: "kube",
    packages: [
      "k8s.io/kubernetes/cmd/kube-apiserver",
      "k8s.io/kubernetes/cmd/kube-controller-manager",
      "k8s.io/kubernetes/cmd/kube-scheduler",
      "k8s.io/kubernetes/cmd/kubectl",
      "k8s.io/kubernetes/cmd/kubelet",
      "k8s.io/kubernetes/cmd/kube-proxy",
    ],
    ldflags: kubeVersionFlags,
  },
  etcd: { module: "etcd", packages: ["."], ldflags: "" },
  // helm, for linting the chart and installing Lifeboat into the test bed.
  helm: { module: "helm", packages: ["helm.sh/helm/v3/cmd/helm"], ldflags: "-X helm.sh/helm/v3/internal/version.version=v3.22.0" },
  // vcsim (govmomi's vCenter simulator) with the harness extensions in e2e/testbed/go/vcsim.
  vcsim: { module: "vcsim", packages: ["."], ldflags: "" },
  // An S3 server with Object Lock (versitygw, posix backend), e2e/testbed/go/s3.
  s3: { module: "s3", packages: ["."], ldflags: "" },
  // The test runner of the Argo CD health checks (argocd/resource_customizations) on Argo CD's Lua engine,
  // gopher-lua at the version Argo CD pins, e2e/testbed/go/gopherlua.
  gopherlua: { module: "gopherlua", packages: ["."], ldflags: "" },
  // Reference backup tools for the vault benchmark (bench/vault), pinned in their wrapper modules.
  kopia: { module: "kopia", packages: ["github.com/kopia/kopia"], ldflags: "" },
  restic: { module: "restic", packages: ["github.com/restic/restic/cmd/restic"], ldflags: "" },
  // promtool, the judge of the metric names (`check metrics`) and of the chart's alert rules
  // (`check rules`, `test rules`); e2e/testbed/go/promtool pins the Prometheus release.
  // `remove_all_sd` is Prometheus's own tag (plugins/plugin_*.go) that leaves out the cloud
  // service-discovery plugins: those checks never use them, and they are most of the build.
  promtool: {
    module: "promtool",
    packages: ["github.com/prometheus/prometheus/cmd/promtool"],
    ldflags: "-X github.com/prometheus/common/version.Version=3.16.0",
    tags: "remove_all_sd",
  },
  // The judges of the chart and of the samples (e2e/testbed/chart-judges.test.ts), each pinned in its wrapper module:
  // kubeconform validates manifests against JSON schemas made locally (e2e/testbed/schemas.ts),
  kubeconform: { module: "kubeconform", packages: ["github.com/yannh/kubeconform/cmd/kubeconform"], ldflags: "-X main.version=v0.8.0" },
  // helm-unittest (a helm plugin, run here as its own binary) runs charts/lifeboat/tests/*_test.yaml,
  "helm-unittest": { module: "helm-unittest", packages: ["github.com/helm-unittest/helm-unittest/cmd/helm-unittest"], ldflags: "-X github.com/helm-unittest/helm-unittest/internal/build.version=1.1.2" },
  // and kube-score scores the rendered chart against operational practice.
  "kube-score": { module: "kube-score", packages: ["github.com/zegl/kube-score/cmd/kube-score"], ldflags: "-X main.version=1.20.0" },
} as const satisfies Record<string, GoComponent>;

export type ComponentName = keyof typeof components;

function binaryName(pkg: string, module: string): string {
  return pkg === "." ? module : (pkg.split("/").pop() ?? pkg);
}

/**
 * The cache key of a component: its wrapper module's files and the Go version.
 * A change to the pinned versions or to a wrapper's code gives a new directory,
 * so stale binaries are never reused.
 */
async function componentKey(component: GoComponent, goVersion: string): Promise<string> {
  const dir = join(repoRoot, "e2e", "testbed", "go", component.module);
  const hash = createHash("sha256");
  hash.update(goVersion);
  hash.update(JSON.stringify(component));
  for (const file of (await readdir(dir)).sort()) {
    if (file === "go.mod" || file === "go.sum" || file.endsWith(".go")) {
      hash.update(file);
      hash.update(await readFile(join(dir, file)));
    }
  }
  return hash.digest("hex").slice(0, 16);
}

async function goVersion(): Promise<string> {
  const { stdout } = await runCommand("go", ["env", "GOVERSION"], { cwd: repoRoot });
  return stdout.trim();
}

/**
 * Returns the directory holding the component's binaries, building them first
 * when the cache lacks them. A build goes to a temporary directory and is
 * renamed into place, so an interrupted build never leaves a half-filled cache.
 */
export async function ensureComponent(name: ComponentName, log: (line: string) => void = console.log): Promise<string> {
  const component: GoComponent = components[name];
  const key = await componentKey(component, await goVersion());
  const outDir = join(cacheDir(), "bin", `${name}-${key}`);
  const binaries = component.packages.map((p) => binaryName(p, component.module));
  if (binaries.every((b) => existsSync(join(outDir, b)))) return outDir;

  const moduleDir = join(repoRoot, "e2e", "testbed", "go", component.module);
  const tmpDir = `${outDir}.tmp-${process.pid}`;
  await rm(tmpDir, { recursive: true, force: true });
  await mkdir(tmpDir, { recursive: true });
  const started = Date.now();
  log(`[${name}] building ${binaries.join(", ")} from ${component.module}/go.mod (first build: several minutes)`);
  for (const pkg of component.packages) {
    const out = join(tmpDir, binaryName(pkg, component.module));
    const args = ["build", "-v", "-trimpath", "-o", out];
    if (component.ldflags) args.push(`-ldflags=-s -w ${component.ldflags}`);
    else args.push("-ldflags=-s -w");
    if (component.tags) args.push(`-tags=${component.tags}`);
    args.push(pkg);
    await runWithProgress("go", args, moduleDir, (count) => {
      log(`[${name}] ${binaryName(pkg, component.module)}: compiled ${count} packages, ${Math.round((Date.now() - started) / 1000)}s`);
    });
  }
  await rm(outDir, { recursive: true, force: true });
  await rename(tmpDir, outDir);
  log(`[${name}] built in ${Math.round((Date.now() - started) / 1000)}s into ${outDir}`);
  return outDir;
}

/** Path of one built binary of a component. */
export async function binary(name: ComponentName, program: string): Promise<string> {
  return join(await ensureComponent(name), program);
}

/**
 * Runs `go build -v`, which names each package as it compiles it on stderr,
 * and reports the count every 15 seconds so a cold build is not silent.
 */
function runWithProgress(cmd: string, args: string[], cwd: string, progress: (count: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "inherit", "pipe"] });
    let count = 0;
    const tail: string[] = [];
    createInterface({ input: child.stderr }).on("line", (line) => {
      count++;
      tail.push(line);
      if (tail.length > 60) tail.shift();
    });
    const timer = setInterval(() => { progress(count); }, 15_000);
    child.on("error", (err) => {
      clearInterval(timer);
      reject(new Error(`Could not run ${cmd}`, { cause: err }));
    });
    child.on("close", (code) => {
      clearInterval(timer);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(" ")} in ${cwd} exited with ${code}:\n${tail.join("\n")}`));
    });
  });
}
