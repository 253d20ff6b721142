/**
 * Example: the Lifeboat operator and one protected site, in TypeScript.
 *
 *   npm run build && node dist/cdk8s/examples/protected-estate.js [path/to/helm]
 *
 * writes one manifest per chart to dist.k8s/: lifeboat.k8s.yaml (the
 * operator, from charts/lifeboat) and prod.k8s.yaml (the site: its
 * namespace, VCenter, BackupVault, Gateway and plans). Apply the first, then
 * the second. cdk8s/estate.test.ts synthesizes this example and checks what
 * it gives.
 */
import { pathToFileURL } from "node:url";
import { App, Chart } from "cdk8s";
import * as kplus from "cdk8s-plus-34";
import { ProtectedEstate } from "../estate.js";
import { BackupPlanSpecOverlapPolicy, BackupVaultSpecLockMode, GatewaySpecFlowControlDays as Day } from "../generated/lifeboat.io.js";
import { DEFAULT_NAMESPACE, Lifeboat } from "../lifeboat.js";

/** The Secrets the example expects to exist already: made by a secrets tool, never written into the synthesized YAML. */
export const EXISTING_SECRETS = ["vcenter-credentials", "vault-s3", "vault-key"] as const;

/** Adds the example's two charts to an app. */
export function protectedEstateExample(app: App, helmExecutable: string): { operator: Chart; site: Chart } {
  const operator = new Chart(app, "lifeboat");
  new kplus.Namespace(operator, "Namespace", { metadata: { name: DEFAULT_NAMESPACE } });
  new Lifeboat(operator, "Lifeboat", {
    helmExecutable,
    values: { metrics: { prometheusRule: { enabled: true }, serviceMonitor: { enabled: true } } },
  });

  // No chart namespace: cdk8s would give it to the Namespace object too, which is cluster-scoped.
  const site = new Chart(app, "prod");
  const prod = new kplus.Namespace(site, "Namespace", { metadata: { name: "prod" } });
  const [vCenterCredentials, vaultS3, vaultKey] = EXISTING_SECRETS.map((name) => kplus.Secret.fromSecretName(site, name, name));
  if (!vCenterCredentials || !vaultS3 || !vaultKey) throw new Error("unreachable");

  new ProtectedEstate(site, "Tokyo", {
    name: "tokyo",
    namespace: prod.name,
    vCenter: {
      address: "vcenter.tokyo.example.com",
      credentials: { secret: vCenterCredentials },
      // vCenter's certificate is signed by a CA the system does not know: its fingerprint.
      tls: { thumbprint: "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89" },
    },
    vault: {
      backend: {
        s3: {
          endpoint: "https://oss-ap-northeast-1.aliyuncs.com",
          bucket: "tokyo-backups",
          region: "ap-northeast-1",
          forcePathStyle: false,
          credentials: { secret: vaultS3 },
        },
      },
      encryptionKey: { secret: vaultKey },
      lock: { enabled: true, mode: BackupVaultSpecLockMode.GOVERNANCE, retentionDays: 30 },
    },
    gateway: {
      maxWorkers: 8,
      maxCpu: 8,
      timeZone: "Asia/Tokyo",
      // Office hours on weekdays: leave the WAN to the office.
      flowControl: [{ days: [Day.MON, Day.TUE, Day.WED, Day.THU, Day.FRI], start: "09:00", end: "18:00", bandwidth: "50Mi" }],
    },
    plans: {
      "tokyo-prod-nightly": {
        vms: { folders: ["/tokyo/vm/prod"], excludeNames: ["prod-scratch"] },
        schedule: { cron: "0 1 * * *", timeZone: "Asia/Tokyo" },
        retention: { daily: 14, weekly: 8, monthly: 12 },
        quiesce: true,
      },
      "tokyo-db-hourly": {
        vms: { namePatterns: ["db-*"] },
        schedule: { cron: "15 * * * *", timeZone: "Asia/Tokyo" },
        retention: { keepLast: 48, daily: 7 },
        overlapPolicy: BackupPlanSpecOverlapPolicy.SKIP,
      },
    },
  });
  return { operator, site };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Not cdk8s's default (dist/), which is where tsc writes this repository's build.
  const app = new App({ outdir: "dist.k8s" });
  protectedEstateExample(app, process.argv[2] ?? "helm");
  app.synth();
}
