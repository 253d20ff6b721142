/**
 * Bad worker specs (issue 13), as properties: valid specs of every mode and
 * target are altered by fast-check (a field set to another value or type,
 * deleted or added, the JSON text cut or changed, a secret's variable
 * unset), and readConfig either accepts the result, which the worker can then
 * use without crashing, or throws InvalidSpecError naming the field; never
 * another error. fast-check prints the seed and the shrunk case of a failure;
 * LIFEBOAT_PROPERTY_RUNS=n runs n cases per property.
 */
import { describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { backendFor, type PointHeader } from "../vault/index.js";
import { connectOptionsFrom, readConfig, vaultSpecFrom, SOURCE_VAULT_SECRETS, type WorkerConfig } from "./config.js";
import { InvalidSpecError } from "./errors.js";
import { DEFAULT_LINEAGE, findRunPoint } from "./parent.js";
import { imageClient } from "./s3-image.js";
import { EXTRA_CA_ENV, SECRET_ENV, SPEC_ENV, type WorkerVault, type WorkerVCenter } from "./spec.js";

const RUNS = Number(process.env.LIFEBOAT_PROPERTY_RUNS ?? "") || 0;
const runs = (n: number): number => RUNS || n;

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
/** Every variable any valid spec below needs. */
const ENV: Readonly<Record<string, string>> = {
  [SECRET_ENV.vaultKey]: "vault-key-0123456789abcdef",
  [SECRET_ENV.vaultAccessKeyId]: "AKIA",
  [SECRET_ENV.vaultSecretAccessKey]: "secret",
  [SECRET_ENV.sourceVaultKey]: "source-key-0123456789abcdef",
  [SECRET_ENV.sourceVaultAccessKeyId]: "AKIB",
  [SECRET_ENV.sourceVaultSecretAccessKey]: "secret-b",
  [SECRET_ENV.vcenterUsername]: "administrator@vsphere.local",
  [SECRET_ENV.vcenterPassword]: "password",
  [SECRET_ENV.vcenterCa]: PEM,
  [SECRET_ENV.vaultCa]: PEM,
  [SECRET_ENV.sourceVaultCa]: PEM,
  [SECRET_ENV.imageAccessKeyId]: "AKIC",
  [SECRET_ENV.imageSecretAccessKey]: "secret-c",
  [SECRET_ENV.imageCa]: PEM,
  [SECRET_ENV.cloudAccessKeyId]: "LTAI",
  [SECRET_ENV.cloudAccessKeySecret]: "secret-d",
  [EXTRA_CA_ENV]: PEM,
};

const vcenter = { address: "vc.example.com", tls: { thumbprint: "AA:BB:CC" }, timeoutMs: 30_000, outageWaitSeconds: 300 };
const fsVault = { filesystem: { path: "/vault" } };
const s3Vault = {
  s3: { endpoint: "https://s3.example.com", bucket: "backups", region: "eu-west-1", prefix: "lifeboat/", forcePathStyle: true, useHTTPS: true, storageClass: "STANDARD", caCertEnv: SECRET_ENV.vaultCa },
};
const cloudImage = { provider: "AlibabaECS", regionId: "cn-hangzhou", imageName: "db-image", ossBucket: "staging", restoreId: "r-7", format: "QCOW2" };

const BACKUP = {
  mode: "backup", runId: "run-1", vm: { name: "db", moRef: "vm-42" }, vcenter, vault: fsVault, quiesce: true, changedBlockTracking: true,
  labels: { namespace: "prod", plan: "nightly", vm: "db", run: "run-1" }, lineage: ["namespace", "plan", "vm"], resync: "ChangeIdRejected", holdResync: true, bandwidthBytesPerSecond: 1e6, threads: 2,
};
const REPLICATION = {
  mode: "backup", runId: "run-2", vm: { name: "db" }, vcenter: { address: "vc", tls: { caCertEnv: SECRET_ENV.vcenterCa } }, vault: s3Vault, quiesce: false, changedBlockTracking: false,
  labels: { namespace: "prod", protectedServer: "db", direction: "forward", consistencyGroup: "shop", groupTick: "20261207T190500Z" }, lineage: ["namespace", "protectedServer", "direction", "vm"],
  snapshotAt: "2026-12-07T19:05:00.000Z",
};
const ECS_BACKUP = {
  mode: "ecsBackup", runId: "ecs-1", instance: { regionId: "cn-hangzhou", instanceId: "i-1" }, ossBucket: "staging", ecsEndpoint: "https://ecs", ossEndpoint: "https://oss",
  disks: [{ key: "2000", device: "/dev/xvda", sizeBytes: 42949672960 }, { key: "2001", device: "/dev/xvdb", sizeBytes: 1073741824 }], vault: s3Vault,
  labels: { namespace: "prod", protectedServer: "db", direction: "reverse" }, lineage: ["namespace", "protectedServer", "direction"], threads: 4, pollIntervalMs: 5000,
};

/** One valid spec of every mode and target, with most optional fields set. */
const VALID: readonly Record<string, unknown>[] = [
  BACKUP,
  REPLICATION,
  ECS_BACKUP,
  {
    mode: "restore", pointId: "20250101T000000Z-0a1b2c3d", vault: s3Vault,
    target: {
      vSphere: {
        vcenter: { address: "vc", tls: {} }, datacenter: "dc", cluster: "c1", host: "esx1", resourcePool: "rp", datastore: "ds1", folder: "vms", vmName: "db-restored", inPlace: false,
        networkMappings: [{ source: "VM Network", target: "DR Network" }], diskProvisioning: "Thin", powerOn: true, annotation: "drill", restoreId: "drill-1", requireNetworkMapping: true, numCpu: 2, memoryMB: 2048,
      },
    },
  },
  {
    mode: "restore", pointId: "p", vault: fsVault,
    target: { vSphere: { vcenter: { address: "vc", tls: { insecureSkipVerify: true } }, datastore: "ds1", inPlace: true, networkMappings: [], diskProvisioning: "EagerZeroedThick", powerOn: false, targetVm: { moRef: "vm-7", name: "db" } } },
  },
  { mode: "restore", pointId: "p", vault: fsVault, target: { imageFile: { format: "qcow2", path: "/out", diskKeys: [2000, 2001] } } },
  { mode: "restore", pointId: "p", vault: fsVault, target: { imageFile: { format: "vmdk", s3: { bucket: "images", endpoint: "http://127.0.0.1:9000", region: "r", prefix: "", forcePathStyle: true, useHTTPS: false } } } },
  { mode: "restore", pointId: "p", vault: fsVault, target: { imageFile: { format: "qcow2", s3: { bucket: "images", endpoint: "https://s3.example.com", useHTTPS: true, caCertEnv: SECRET_ENV.imageCa } } } },
  { mode: "restore", pointId: "p", vault: fsVault, target: { cloudImage: { ...cloudImage, strategy: "ImportImage", osType: "linux", platform: "Ubuntu", architecture: "x86_64", bootMode: "UEFI", ecsEndpoint: "https://ecs.example.com", pollIntervalMs: 1000 } } },
  {
    mode: "restore", pointId: "p", vault: fsVault,
    target: {
      cloudImage: {
        ...cloudImage, format: "RAW", strategy: "IntermediateInstance", ossEndpoint: "http://127.0.0.1:9100/",
        intermediateInstance: { imageId: "m-1", instanceType: "ecs.g7.large", vSwitchId: "vsw-1", securityGroupId: "sg-1", zoneId: "cn-hangzhou-h", diskCategory: "cloud_essd", guestCommand: "node guest-main.js", guestTimeoutMs: 600_000, ossEndpoint: "http://oss" },
      },
    },
  },
  { mode: "maintenance", vault: s3Vault, forget: ["20250101T000000Z-0a1b2c3d", "20250102T000000Z-0a1b2c3e"], prune: { marginMs: 3_600_000 }, busyWaitMs: 1000 },
  { mode: "maintenance", vault: fsVault, forget: [] },
  {
    mode: "seed", runId: "seed-1", vault: fsVault, source: { vault: { s3: { bucket: "far", caCertEnv: SECRET_ENV.sourceVaultCa } }, pointId: "p" },
    local: { vcenter, vm: { name: "db", moRef: "vm-1" } }, disks: [{ key: "2000", sourceDiskKey: "2000", localDiskKey: 2000, changeId: "52 aa/1" }, { key: "2001", sourceDiskKey: "2001" }],
    labels: { namespace: "prod", run: "seed-1" }, bandwidthBytesPerSecond: 0, threads: 1,
  },
];

type Path = readonly (string | number)[];

/** Every path of a JSON value (object fields and array elements), parents before children. */
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const path = [...prefix, Array.isArray(value) ? Number(k) : k];
    return [path, ...pathsOf(v, path)];
  });
}

/** A path as messages write it: spec.disks[1].key. */
function fieldName(path: Path): string {
  return path.reduce<string>((out, p) => (typeof p === "number" ? `${out}[${p}]` : `${out}.${p}`), "spec");
}

/** What a hand-written or hostile spec might hold: edge numbers, odd strings (names of Object's own members among them), other types. */
const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(0, -1, 1, 0.5, 65536, 2 ** 53, 1e308, -1e308, "", " ", "0", "x", "__proto__", "toString", "constructor", "hasOwnProperty", "bad id", "http://plain", null, true, false, [], {}, { toString: 1 }),
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ maxLength: 20 }),
);

/** `path` picks one of the spec's paths, or names one. */
type Edit =
  | { readonly kind: "set"; readonly path: number | Path; readonly value: unknown }
  | { readonly kind: "delete"; readonly path: number | Path }
  | { readonly kind: "add"; readonly path: number; readonly name: string; readonly value: unknown }
  | { readonly kind: "replace"; readonly value: unknown }
  | { readonly kind: "text"; readonly at: number; readonly cut: number; readonly insert: string }
  | { readonly kind: "unset"; readonly name: string; readonly empty: boolean };

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("set" as const), path: fc.nat(), value: valueArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("delete" as const), path: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("add" as const), path: fc.nat(), name: fc.oneof(fc.constantFrom("__proto__", "constructor", "mode", "s3", "filesystem", "imageFile", "cloudImage"), fc.string({ maxLength: 10 })), value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("replace" as const), value: valueArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("text" as const), at: fc.nat(), cut: fc.nat(8), insert: fc.string({ maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("unset" as const), name: fc.constantFrom(...Object.keys(ENV)), empty: fc.boolean() }) },
);

/** The environment after applying `edits` to a valid spec, and where the edits were. */
interface Altered {
  readonly env: Record<string, string>;
  /** Fields edited (paths into the spec); the whole spec is []. */
  readonly fields: Path[];
  /** Variables unset or emptied. */
  readonly variables: string[];
  /** The JSON text itself was cut or changed. */
  readonly text: boolean;
}

function alter(spec: Record<string, unknown>, edits: readonly Edit[]): Altered {
  let doc: unknown = structuredClone(spec);
  let text: string | undefined;
  const env: Record<string, string> = { ...ENV };
  const fields: Path[] = [];
  const variables: string[] = [];
  for (const edit of edits) {
    if (edit.kind === "unset") {
      if (edit.empty) env[edit.name] = "";
      else Reflect.deleteProperty(env, edit.name);
      variables.push(edit.name);
      continue;
    }
    if (edit.kind === "text") {
      const t = text ?? JSON.stringify(doc);
      const at = edit.at % (t.length + 1);
      text = t.slice(0, at) + edit.insert + t.slice(at + edit.cut);
      continue;
    }
    if (edit.kind === "replace") {
      doc = structuredClone(edit.value);
      fields.push([]);
      continue;
    }
    const paths = pathsOf(doc);
    const path = typeof edit.path === "number" ? paths[edit.path % Math.max(1, paths.length)] : edit.path;
    if (!path) continue;
    // A named path may not be there (a shrunk case can pair it with another spec): then there is nothing to edit.
    const parent = path.slice(0, -1).reduce<unknown>((o, k) => (typeof o === "object" && o !== null ? (o as Record<string | number, unknown>)[k] : undefined), doc);
    if (typeof parent !== "object" || parent === null) continue;
    const last = path.at(-1) ?? "";
    if (edit.kind === "set") (parent as Record<string | number, unknown>)[last] = structuredClone(edit.value);
    else if (edit.kind === "delete") {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else Reflect.deleteProperty(parent, last);
    } else {
      const target = (parent as Record<string | number, unknown>)[last];
      if (typeof target !== "object" || target === null || Array.isArray(target)) continue;
      Object.defineProperty(target, edit.name, { value: structuredClone(edit.value), enumerable: true, writable: true, configurable: true });
    }
    fields.push(path);
  }
  env[SPEC_ENV] = text ?? JSON.stringify(doc);
  return { env, fields, variables, text: text !== undefined };
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}${err.stack ? `\n${err.stack}` : ""}` : String(err);
}

/** A point of the spec's own run, as a retried worker looks for it. */
function pointOf(labels: Readonly<Record<string, string>>): PointHeader {
  return { id: "20250101T000000Z-00000000", time: "2025-01-01T00:00:00.000Z", committedAt: "2025-01-01T00:00:01.000Z", labels, consistency: "crash", blockSize: 1 << 20, disks: [], storedBytes: 0, host: "h" };
}

/**
 * An accepted config is usable as the worker first uses it: a backup finds
 * its run's point by its lineage, the vaults' backends build, and every trust
 * setting is a PEM string or absent.
 */
async function expectUsable(config: WorkerConfig): Promise<void> {
  const { spec, env } = config;
  if (spec.mode === "backup" || spec.mode === "ecsBackup") {
    const lineage = spec.lineage ?? DEFAULT_LINEAGE;
    if (findRunPoint([pointOf(spec.labels)], spec.labels, lineage)?.labels !== spec.labels) throw new Error(`A backup would not find its own run's point by its lineage ${JSON.stringify(lineage)}`);
  }
  const vaults: [WorkerVault, typeof SOURCE_VAULT_SECRETS | undefined][] = [[spec.vault, undefined]];
  const vcenters: WorkerVCenter[] = [];
  if (spec.mode === "backup") vcenters.push(spec.vcenter);
  if (spec.mode === "seed") {
    vaults.push([spec.source.vault, SOURCE_VAULT_SECRETS]);
    if (spec.local) vcenters.push(spec.local.vcenter);
  }
  if (spec.mode === "restore" && "vSphere" in spec.target) vcenters.push(spec.target.vSphere.vcenter);
  for (const [vault, secrets] of vaults) {
    const vaultSpec = vaultSpecFrom(vault, env, { threads: "threads" in spec ? spec.threads : undefined, secrets });
    const ca = vaultSpec.backend.s3?.caBundle;
    if (ca !== undefined && typeof ca !== "string") throw new Error(`The vault's CA bundle is a ${typeof ca}, not PEM text`);
    try {
      await (await backendFor(vaultSpec.backend)).close();
    } catch (err) {
      // A backend the spec cannot make must be refused by readConfig, naming the field, not at start-up.
      throw new Error(`readConfig accepted a vault whose backend cannot be made: ${describeError(err)}`);
    }
  }
  if (spec.mode === "restore" && "imageFile" in spec.target && spec.target.imageFile.s3) {
    try {
      imageClient(spec.target.imageFile.s3, env).destroy();
    } catch (err) {
      throw new Error(`readConfig accepted an image bucket whose client cannot be made: ${describeError(err)}`);
    }
  }
  for (const vc of vcenters) {
    const tls = connectOptionsFrom(vc, env).tls;
    if (tls.caCert !== undefined && typeof tls.caCert !== "string") throw new Error(`The vCenter's CA is a ${typeof tls.caCert}, not PEM text`);
  }
}

/**
 * The message names every edit: a field by its path, the object holding it
 * or a field beside it (what one field means depends on its neighbours:
 * inPlace and vmName, strategy and intermediateInstance); a top-level field
 * such as mode or lineage decides which others are required, so any field;
 * an unset variable by its name; the text or the whole spec by SPEC_ENV.
 */
function namesEdits(message: string, altered: Altered): boolean {
  const named = (path: Path): boolean => message.includes(path.length <= 1 ? "spec." : fieldName(path.slice(0, -1)));
  if (altered.text || altered.fields.some((f) => f.length === 0)) return message.includes(SPEC_ENV) || message.includes("spec.");
  return altered.fields.some(named) || altered.variables.some((v) => message.includes(v));
}

async function runCase(spec: Record<string, unknown>, edits: readonly Edit[], requireNaming: boolean): Promise<void> {
  const altered = alter(spec, edits);
  let config: WorkerConfig;
  try {
    config = readConfig(altered.env);
  } catch (err) {
    if (!(err instanceof InvalidSpecError)) throw new Error(`readConfig failed with an untyped error: ${describeError(err)}`);
    if (requireNaming && !namesEdits(err.message, altered)) throw new Error(`readConfig's error names none of the edited fields ${JSON.stringify(altered.fields)} or variables ${JSON.stringify(altered.variables)}: ${err.message}`);
    return;
  }
  await expectUsable(config);
}

/** Bugs the properties found: each passed readConfig and then failed in the worker, or was refused without naming the field. */
const REGRESSIONS: [Record<string, unknown>, Edit][] = [
  // An ecsBackup's lineage was not checked: "abc" crashed the worker (lineage.every is not a function) ...
  [ECS_BACKUP, { kind: "set", path: ["lineage"], value: "abc" }],
  // ... and a lineage label missing left a retried worker unable to find its run's point.
  [ECS_BACKUP, { kind: "delete", path: ["labels", "protectedServer"] }],
  // A CA variable named after a member of Object passed (env.hasOwnProperty is a function) and became the vCenter's CA.
  [REPLICATION, { kind: "set", path: ["vcenter", "tls", "caCertEnv"], value: "hasOwnProperty" }],
  // http with useHTTPS passed readConfig and failed when the worker opened the vault (WorkerFailed, not InvalidSpec).
  [REPLICATION, { kind: "set", path: ["vault", "s3", "endpoint"], value: "http://plain" }],
  // A blank lineage label was required as "spec.labels.  is required", without naming spec.lineage.
  [BACKUP, { kind: "set", path: ["lineage", 0], value: " " }],
];

describe("worker specs with bad input", () => {
  test("every valid spec is accepted and usable", async () => {
    for (const spec of VALID) {
      const config = readConfig({ ...ENV, [SPEC_ENV]: JSON.stringify(spec) });
      expect(config.spec.mode).toBe(spec.mode);
      await expectUsable(config);
    }
  });

  test("one edit: accepted and usable, or InvalidSpecError naming the field or variable", async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...VALID), editArb, (spec, edit) => runCase(spec, [edit], true)), { numRuns: REGRESSIONS.length + runs(1500), examples: REGRESSIONS });
  });

  test("several edits: accepted and usable, or InvalidSpecError, never another error", async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...VALID), fc.array(editArb, { minLength: 2, maxLength: 6 }), (spec, edits) => runCase(spec, edits, false)), { numRuns: runs(1000) });
  });
});
