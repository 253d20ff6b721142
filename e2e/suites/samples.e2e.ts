import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { dump, loadAll } from "js-yaml";
import { startS3Server, type S3Server } from "../testbed/s3-server.js";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";
import { installLifeboat, vaultClaim, waitForCondition, type VaultVolume } from "../support/lifeboat.js";
import { createNamespace, kubectl } from "../support/testbed.js";
import { repoRoot } from "../testbed/paths.js";
import { kinds as lifeboatKinds } from "../../operator/src/api/kinds.js";

interface Doc {
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  stringData?: Record<string, string>;
}

/** The simulator's port groups standing for the samples' recovery-site networks. */
const SIM_NETWORKS: Record<string, string> = { "VM Network": "DC0_DVPG0", "DR Network": "VM Network", "DR Test Network": "DC0_DVPG1" };

let ns: string;
let vcsim: Vcsim;
let s3: S3Server;
let workDir: string;
let docs: Doc[];

/**
 * The samples are documentation: they point at example hosts. Here each
 * external address is swapped for its local real peer (vcsim, the S3
 * server, a temporary directory), and nothing else is changed.
 */
function pointAtTestBed(doc: Doc): Doc {
  const d = structuredClone(doc);
  const spec = d.spec as Record<string, Record<string, Record<string, unknown>>> | undefined;
  if (d.kind === "Secret" && d.metadata.name === "vcenter-credentials" && d.stringData) d.stringData.username = vcsim.username;
  if (d.kind === "Secret" && d.metadata.name === "s3-credentials") d.stringData = { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey };
  if (d.kind === "VCenter" && d.spec) d.spec = { ...d.spec, address: vcsim.address, tls: { thumbprint: vcsim.thumbprint } };
  if (d.kind === "BackupVault" && spec?.backend?.s3) spec.backend.s3 = { ...spec.backend.s3, endpoint: s3.endpoint, useHTTPS: false, region: s3.region };
  // Names at a site are the site's, like addresses: the simulator's datacenter, datastore, networks and VM.
  if (d.kind === "SitePair" && d.spec) {
    const pair = d.spec as { source: Record<string, unknown>; target: Record<string, unknown>; networkMappings: { source: string; recovery: string; test?: string }[] };
    for (const site of [pair.source, pair.target]) Object.assign(site, { datacenter: "DC0", datastore: "LocalDS_0" });
    pair.networkMappings = pair.networkMappings.map((m) => ({ source: SIM_NETWORKS[m.source] ?? m.source, recovery: SIM_NETWORKS[m.recovery] ?? m.recovery, ...(m.test ? { test: SIM_NETWORKS[m.test] ?? m.test } : {}) }));
  }
  if (d.kind === "ProtectedServer" && d.spec) (d.spec as { source: { vmName: string } }).source.vmName = "DC0_H0_VM0";
  return d;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "lifeboat-samples-"));
  const samplesDir = join(repoRoot, "operator", "samples");
  docs = [];
  for (const f of (await readdir(samplesDir)).sort()) docs.push(...(loadAll(await readFile(join(samplesDir, f), "utf8")) as Doc[]));
  const vcPassword = docs.find((d) => d.metadata.name === "vcenter-credentials")?.stringData?.password ?? "";
  vcsim = await startVcsim({ password: vcPassword, username: "backup@vsphere.local", vms: 1, portgroups: 2 });
  s3 = await startS3Server(join(workDir, "s3"));
  await s3.createBucket("lifeboat-backups", { objectLock: true });
  ns = await createNamespace("samples");
  // The storage behind each filesystem vault's claim is the cluster's, like an address: a directory here.
  const volumes: VaultVolume[] = [];
  for (const d of docs) {
    const claim = (d.spec as { backend?: { filesystem?: { persistentVolumeClaim?: { name: string } } } } | undefined)?.backend?.filesystem?.persistentVolumeClaim?.name;
    if (d.kind === "BackupVault" && claim) volumes.push(await vaultClaim(ns, claim, join(workDir, claim)));
  }
  await installLifeboat({}, volumes);
});

afterAll(async () => {
  await vcsim.stop();
  await s3.stop();
  await rm(workDir, { recursive: true, force: true });
});

/** What each sample must reach: kind/name → [condition, status, reason]. */
const expected: [string, string, string, string, string][] = [
  ["BackupVault", "primary", "Ready", "True", "Available"],
  ["BackupVault", "offsite", "Ready", "True", "Available"],
  ["Gateway", "tokyo-dc1", "Activated", "True", "Activated"],
  ["VCenter", "vc-tokyo", "Connected", "True", "Connected"],
  ["VCenter", "vc-osaka", "Connected", "True", "Connected"],
  ["BackupPlan", "prod-web", "Ready", "True", "Scheduled"],
  // The sample point is not in the (new, empty) vault, and says so.
  ["RecoveryPoint", "web-01-20261129-0200", "Available", "False", "NotInVault"],
  ["RestoreJob", "restore-web-01", "Succeeded", "Unknown", "RecoveryPointNotAvailable"],
  ["SitePair", "tokyo-to-osaka", "Ready", "True", "SitesConnected"],
  // Replication really runs: the sample VM's first (full) cycle, then real-time replication.
  ["ProtectedServer", "db-01", "Ready", "True", "Replicating"],
  ["RecoveryDrill", "db-01-drill", "Ready", "True", "Running"],
  // At rest: its one server replicates.
  ["RecoveryPlan", "shop", "Ready", "True", "Replicating"],
  // Settings for servers that name it (none of the samples does).
  ["ReplicationPolicy", "tier-1", "Ready", "True", "Valid"],
];

describe("operator/samples", () => {
  it("has one sample of every kind", () => {
    const kinds = new Set(docs.map((d) => d.kind));
    for (const k of lifeboatKinds.map((d) => d.kind)) expect(kinds).toContain(k);
  });

  it("apply with kubectl apply --server-side", async () => {
    const r = await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], docs.map((d) => dump(pointAtTestBed(d))).join("---\n"));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it.each(expected)("%s %s reaches %s=%s (%s)", async (kind, name, type, status, reason) => {
    await waitForCondition(kind, ns, name, type, status, reason, 240_000);
  });
});

describe("deploy/lifeboat.yaml", () => {
  // The plain install manifest is the chart rendered with its defaults (cdk8s/manifest.ts);
  // kubeconform judges it offline, and here the real API server does: a server-side dry run
  // with strict field validation, beside the helm release the suite installed.
  it("is accepted whole by the API server (kubectl apply --dry-run=server)", async () => {
    const r = await kubectl(["apply", "--dry-run=server", "--validate=strict", "-f", join(repoRoot, "deploy", "lifeboat.yaml")]);
    // The helm release's objects lack kubectl apply's last-applied annotation, which kubectl
    // warns about (and would add); every other line on stderr is a refusal.
    const problems = r.stderr.split("\n").filter((l) => l !== "" && !/is missing the kubectl\.kubernetes\.io\/last-applied-configuration annotation/.test(l));
    expect(problems).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/deployment\.apps\/lifeboat .*\(server dry run\)/);
  });
});
