/**
 * Reads and validates the worker's environment (spec.ts): the WorkerSpec
 * JSON, the secrets, the listen address. Everything wrong is reported at
 * once as an InvalidSpecError naming the field or variable, before the
 * worker touches vCenter or the vault. Secret values never appear in
 * messages.
 */
import { IMAGE_FORMATS, isImageFormat } from "../image/formats.js";
import type { RetryOptions } from "../vault/backends/retry.js";
import type { VaultSpec } from "../vault/index.js";
import type { ConnectOptions, TlsTrust } from "../vsphere/index.js";
import { InvalidSpecError } from "./errors.js";
import { DEFAULT_LINEAGE } from "./parent.js";
import { defaultTrust, trustFor } from "./trust.js";
import {
  DEFAULT_WORKER_PORT,
  PORT_ENV,
  SECRET_ENV,
  SOURCE_VAULT_SECRETS,
  SPEC_ENV,
  VAULT_SECRETS,
  type BackupWorkerSpec,
  type EcsBackupWorkerSpec,
  type RestoreWorkerSpec,
  type SeedWorkerSpec,
  type VaultSecrets,
  type WorkerSpec,
  type WorkerVault,
  type WorkerVCenter,
} from "./spec.js";

/** Everything the worker needs, validated. */
export interface WorkerConfig {
  readonly spec: WorkerSpec;
  readonly listen: { readonly host: string; readonly port: number };
  /** Keep serving /progress and /metrics this long after the work ended (LIFEBOAT_WORKER_LINGER_SECONDS, default 0). */
  readonly lingerMs: number;
  readonly env: NodeJS.ProcessEnv;
}

/** Optional: seconds the HTTP server stays up after the result is known, so a scraper sees the final values. */
export const LINGER_ENV = "LIFEBOAT_WORKER_LINGER_SECONDS";

/** Snapshot names carry the run id, so it must be short and plain. */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Collects problems so that one run reports all of them. */
class Problems {
  readonly list: string[] = [];
  add(message: string): void {
    this.list.push(message);
  }
  string(o: Json, field: string, path: string, required = true): string | undefined {
    const v = o[field];
    if (v === undefined && !required) return undefined;
    if (typeof v !== "string" || v === "") {
      this.add(`${path}.${field} must be a non-empty string`);
      return undefined;
    }
    return v;
  }
  boolean(o: Json, field: string, path: string): void {
    if (typeof o[field] !== "boolean") this.add(`${path}.${field} must be true or false`);
  }
  object(o: Json, field: string, path: string): Json | undefined {
    const v = o[field];
    if (!isObject(v)) {
      this.add(`${path}.${field} must be an object`);
      return undefined;
    }
    return v;
  }
}

export { SOURCE_VAULT_SECRETS, VAULT_SECRETS, type VaultSecrets };

/** A field naming an environment variable that must hold a PEM bundle. */
function checkCaCertEnv(p: Problems, o: Json, path: string, env: NodeJS.ProcessEnv, what: string): void {
  if (o.caCertEnv === undefined) return;
  const name = p.string(o, "caCertEnv", path);
  // Only the environment's own variables: env.toString or env.hasOwnProperty is a function, not a PEM bundle.
  if (name && !(Object.hasOwn(env, name) && env[name])) p.add(`Environment variable ${name} (${path}.caCertEnv) must hold ${what} (PEM)`);
}

function checkVault(p: Problems, vault: Json | undefined, env: NodeJS.ProcessEnv, path = "spec.vault", secrets = VAULT_SECRETS): void {
  if (!vault) return;
  const fs = vault.filesystem;
  const s3 = vault.s3;
  if ((fs === undefined) === (s3 === undefined)) p.add(`${path} must set exactly one of filesystem or s3`);
  if (fs !== undefined) {
    if (!isObject(fs)) p.add(`${path}.filesystem must be an object`);
    else p.string(fs, "path", `${path}.filesystem`);
  }
  if (s3 !== undefined) {
    if (!isObject(s3)) p.add(`${path}.s3 must be an object`);
    else {
      p.string(s3, "bucket", `${path}.s3`);
      for (const f of ["endpoint", "region", "prefix", "storageClass"]) if (s3[f] !== undefined) p.string(s3, f, `${path}.s3`);
      for (const f of ["forcePathStyle", "useHTTPS"]) if (s3[f] !== undefined) p.boolean(s3, f, `${path}.s3`);
      // The vault's S3 backend refuses this pair when the worker opens it; say so here, as an invalid spec.
      if (s3.useHTTPS === true && typeof s3.endpoint === "string" && s3.endpoint.startsWith("http://")) p.add(`${path}.s3.endpoint ${s3.endpoint} is plain HTTP while useHTTPS is set`);
      checkCaCertEnv(p, s3, `${path}.s3`, env, "the CA bundle of the S3 endpoint");
      for (const name of [secrets.accessKeyId, secrets.secretAccessKey]) {
        if (!env[name]) p.add(`Environment variable ${name} must hold the S3 credentials of ${path}`);
      }
    }
  }
  if (!env[secrets.key]) p.add(`Environment variable ${secrets.key} must hold the encryption key of ${path}`);
}

/** spec.runId: snapshot names carry it. */
function checkRunId(p: Problems, s: Json): string | undefined {
  const runId = p.string(s, "runId", "spec");
  if (runId && !RUN_ID.test(runId)) p.add(`spec.runId "${runId}" must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  return runId;
}

/** A VM reference: a name and optionally a MoRef. */
function checkVmRef(p: Problems, vm: Json | undefined, path: string): void {
  if (!vm) return;
  p.string(vm, "name", path);
  if (vm.moRef !== undefined) p.string(vm, "moRef", path);
}

/** spec.labels: strings, `required` ones non-empty, `run` equal to the run id; `listed` are those spec.lineage names. */
function checkLabels(p: Problems, s: Json, runId: string | undefined, required: readonly string[], listed: readonly string[] = []): void {
  const labels = p.object(s, "labels", "spec");
  if (!labels) return;
  for (const [k, v] of Object.entries(labels)) if (typeof v !== "string") p.add(`spec.labels.${k} must be a string`);
  for (const k of required) if (typeof labels[k] !== "string" || labels[k] === "") p.add(`spec.labels.${k} is required${listed.includes(k) ? " (spec.lineage lists it)" : ""}`);
  if (labels.run !== undefined && runId && labels.run !== runId) p.add(`spec.labels.run (${JSON.stringify(labels.run)}) must equal spec.runId ("${runId}")`);
}

/** spec.bandwidthBytesPerSecond: the initial transfer limit. */
function checkBandwidth(p: Problems, s: Json): void {
  const bw = s.bandwidthBytesPerSecond;
  if (bw !== undefined && (typeof bw !== "number" || !Number.isFinite(bw) || bw < 0)) p.add("spec.bandwidthBytesPerSecond must be a non-negative number");
}

/** spec.threads: worker threads for the vault's CPU work. */
function checkThreads(p: Problems, s: Json): void {
  const threads = s.threads;
  if (threads !== undefined && (typeof threads !== "number" || !Number.isInteger(threads) || threads < 0)) p.add("spec.threads must be a non-negative integer");
}

/** A positive integer field, when set. */
function checkPositiveInteger(p: Problems, o: Json, field: string, path: string): void {
  const v = o[field];
  if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v <= 0)) p.add(`${path}.${field} must be a positive integer`);
}

function checkVCenter(p: Problems, vc: Json | undefined, path: string, env: NodeJS.ProcessEnv): void {
  if (!vc) return;
  p.string(vc, "address", path);
  const tls = p.object(vc, "tls", path);
  if (tls) {
    // None set: the default trust (Node's CA list and the operator's extra CAs), as for a VCenter without spec.tls.
    const ways = [tls.thumbprint !== undefined, tls.insecureSkipVerify === true, tls.caCertEnv !== undefined].filter(Boolean).length;
    if (ways > 1) p.add(`${path}.tls must set at most one of thumbprint, caCertEnv or insecureSkipVerify: true`);
    if (tls.thumbprint !== undefined) p.string(tls, "thumbprint", `${path}.tls`);
    if (tls.insecureSkipVerify !== undefined) p.boolean(tls, "insecureSkipVerify", `${path}.tls`);
    checkCaCertEnv(p, tls, `${path}.tls`, env, "the vCenter CA certificate");
  }
  if (vc.timeoutMs !== undefined && (typeof vc.timeoutMs !== "number" || !(vc.timeoutMs > 0))) p.add(`${path}.timeoutMs must be a positive number`);
  if (vc.outageWaitSeconds !== undefined && (typeof vc.outageWaitSeconds !== "number" || !(vc.outageWaitSeconds >= 0))) p.add(`${path}.outageWaitSeconds must be a non-negative number`);
  for (const name of [SECRET_ENV.vcenterUsername, SECRET_ENV.vcenterPassword]) {
    if (!env[name]) p.add(`Environment variable ${name} must hold the vCenter credentials`);
  }
}

/**
 * spec.lineage of a backup, when given and valid: the labels that make its chain (DEFAULT_LINEAGE
 * when absent). A retried worker finds the point its run committed by them, so each must be among
 * the labels, or chains would mix.
 */
function checkLineage(p: Problems, s: Json): readonly string[] | undefined {
  if (s.lineage === undefined) return undefined;
  if (Array.isArray(s.lineage) && s.lineage.length > 0 && s.lineage.every((k) => typeof k === "string" && k !== "")) return s.lineage as string[];
  p.add("spec.lineage must be a non-empty list of label names");
  return undefined;
}

function checkBackup(p: Problems, s: Json, env: NodeJS.ProcessEnv): void {
  const runId = checkRunId(p, s);
  checkVmRef(p, p.object(s, "vm", "spec"), "spec.vm");
  checkVCenter(p, p.object(s, "vcenter", "spec"), "spec.vcenter", env);
  checkVault(p, p.object(s, "vault", "spec"), env);
  p.boolean(s, "quiesce", "spec");
  p.boolean(s, "changedBlockTracking", "spec");
  const listed = checkLineage(p, s);
  // The worker fills `vm` from spec.vm.name; every other label of the chain must be given.
  checkLabels(p, s, runId, ["namespace", ...(listed ?? DEFAULT_LINEAGE).filter((k) => k !== "vm" && k !== "namespace")], listed);
  if (s.resync !== undefined) p.string(s, "resync", "spec");
  if (s.holdResync !== undefined) p.boolean(s, "holdResync", "spec");
  if (s.snapshotAt !== undefined) {
    const at = p.string(s, "snapshotAt", "spec");
    if (at !== undefined && Number.isNaN(Date.parse(at))) p.add(`spec.snapshotAt must be an ISO time such as 2026-12-07T19:05:00Z, not ${JSON.stringify(at)}`);
  }
  checkBandwidth(p, s);
  checkThreads(p, s);
}

function checkSeed(p: Problems, s: Json, env: NodeJS.ProcessEnv): void {
  const runId = checkRunId(p, s);
  checkVault(p, p.object(s, "vault", "spec"), env);
  const source = p.object(s, "source", "spec");
  if (source) {
    checkVault(p, p.object(source, "vault", "spec.source"), env, "spec.source.vault", SOURCE_VAULT_SECRETS);
    p.string(source, "pointId", "spec.source");
  }
  if (s.local !== undefined) {
    const local = p.object(s, "local", "spec");
    if (local) {
      checkVCenter(p, p.object(local, "vcenter", "spec.local"), "spec.local.vcenter", env);
      checkVmRef(p, p.object(local, "vm", "spec.local"), "spec.local.vm");
    }
  }
  if (!Array.isArray(s.disks) || s.disks.length === 0) p.add("spec.disks must be a non-empty list");
  else {
    const keys = new Set<string>();
    s.disks.forEach((d: unknown, i: number) => {
      const path = `spec.disks[${i}]`;
      if (!isObject(d)) {
        p.add(`${path} must be an object`);
        return;
      }
      const key = p.string(d, "key", path);
      if (key !== undefined && keys.has(key)) p.add(`${path}.key "${key}" appears twice`);
      if (key !== undefined) keys.add(key);
      p.string(d, "sourceDiskKey", path);
      if (d.localDiskKey !== undefined && !Number.isInteger(d.localDiskKey)) p.add(`${path}.localDiskKey must be a disk's device key (an integer)`);
      if (d.changeId !== undefined) p.string(d, "changeId", path);
    });
  }
  checkLabels(p, s, runId, ["namespace"]);
  checkBandwidth(p, s);
  checkThreads(p, s);
}

function checkEcsBackup(p: Problems, s: Json, env: NodeJS.ProcessEnv): void {
  const runId = checkRunId(p, s);
  checkVault(p, p.object(s, "vault", "spec"), env);
  const instance = p.object(s, "instance", "spec");
  if (instance) {
    p.string(instance, "regionId", "spec.instance");
    p.string(instance, "instanceId", "spec.instance");
  }
  p.string(s, "ossBucket", "spec");
  for (const f of ["ecsEndpoint", "ossEndpoint"]) if (s[f] !== undefined) p.string(s, f, "spec");
  if (!Array.isArray(s.disks) || s.disks.length === 0) p.add("spec.disks must be a non-empty list");
  else {
    const devices = new Set<string>();
    s.disks.forEach((d: unknown, i: number) => {
      const path = `spec.disks[${i}]`;
      if (!isObject(d)) {
        p.add(`${path} must be an object`);
        return;
      }
      p.string(d, "key", path);
      const device = p.string(d, "device", path);
      if (device !== undefined && !/^\/dev\/xvd[a-z]+$/.test(device)) p.add(`${path}.device "${device}" must be an ECS device name such as /dev/xvdb`);
      if (device !== undefined && devices.has(device)) p.add(`${path}.device "${device}" appears twice`);
      if (device !== undefined) devices.add(device);
      checkPositiveInteger(p, d, "sizeBytes", path);
      if (d.sizeBytes === undefined) p.add(`${path}.sizeBytes is required`);
    });
  }
  const listed = checkLineage(p, s);
  checkLabels(p, s, runId, ["namespace", ...(listed ?? DEFAULT_LINEAGE).filter((k) => k !== "namespace")], listed);
  checkBandwidth(p, s);
  checkThreads(p, s);
  checkPositiveInteger(p, s, "pollIntervalMs", "spec");
  for (const name of [SECRET_ENV.cloudAccessKeyId, SECRET_ENV.cloudAccessKeySecret]) {
    if (!env[name]) p.add(`Environment variable ${name} must hold the AccessKey pair of the instance's account`);
  }
}

/** spec.target.imageFile: exactly one of a directory (path) or a bucket (s3, with its credentials in the environment). */
function checkImageDestination(p: Problems, f: Json, env: NodeJS.ProcessEnv): void {
  const path = "spec.target.imageFile";
  if ((f.path === undefined) === (f.s3 === undefined)) {
    p.add(`${path} must set exactly one of path (a directory) or s3 (a bucket)`);
    return;
  }
  if (f.path !== undefined) {
    p.string(f, "path", path);
    return;
  }
  if (!isObject(f.s3)) {
    p.add(`${path}.s3 must be an object`);
    return;
  }
  const s3 = f.s3;
  p.string(s3, "bucket", `${path}.s3`);
  for (const field of ["endpoint", "region"]) if (s3[field] !== undefined) p.string(s3, field, `${path}.s3`);
  // An empty prefix puts the images at the top of the bucket.
  if (s3.prefix !== undefined && typeof s3.prefix !== "string") p.add(`${path}.s3.prefix must be a string`);
  for (const field of ["forcePathStyle", "useHTTPS"]) if (s3[field] !== undefined) p.boolean(s3, field, `${path}.s3`);
  // The image bucket refuses this pair when the worker opens it; say so here, as an invalid spec.
  if (s3.useHTTPS === true && typeof s3.endpoint === "string" && s3.endpoint.startsWith("http://")) p.add(`${path}.s3.endpoint ${s3.endpoint} is plain HTTP while useHTTPS is set`);
  checkCaCertEnv(p, s3, `${path}.s3`, env, "the CA bundle of the image bucket's endpoint");
  for (const name of [SECRET_ENV.imageAccessKeyId, SECRET_ENV.imageSecretAccessKey]) {
    if (!env[name]) p.add(`Environment variable ${name} must hold the S3 credentials of ${path}.s3`);
  }
}

/** spec.target.cloudImage: an ImportImage or IntermediateInstance restore, its AccessKey pair in the environment. */
function checkCloudImage(p: Problems, c: Json | undefined, env: NodeJS.ProcessEnv): void {
  if (!c) return;
  const path = "spec.target.cloudImage";
  if (c.provider !== "AlibabaECS") p.add(`${path}.provider must be "AlibabaECS"`);
  if (c.strategy !== "ImportImage" && c.strategy !== "IntermediateInstance") p.add(`${path}.strategy must be "ImportImage" or "IntermediateInstance", not ${JSON.stringify(c.strategy)}`);
  if (c.strategy === "IntermediateInstance") {
    const ii = p.object(c, "intermediateInstance", path);
    if (ii) {
      for (const field of ["imageId", "instanceType", "vSwitchId", "securityGroupId", "diskCategory", "guestCommand"]) p.string(ii, field, `${path}.intermediateInstance`);
      for (const field of ["zoneId", "ossEndpoint"]) if (ii[field] !== undefined) p.string(ii, field, `${path}.intermediateInstance`);
      if (ii.guestTimeoutMs === undefined) p.add(`${path}.intermediateInstance.guestTimeoutMs is required`);
      checkPositiveInteger(p, ii, "guestTimeoutMs", `${path}.intermediateInstance`);
    }
  }
  if (!["RAW", "VHD", "QCOW2"].includes(c.format as string)) p.add(`${path}.format must be RAW, VHD or QCOW2, not ${JSON.stringify(c.format)}`);
  for (const field of ["regionId", "imageName", "ossBucket"]) p.string(c, field, path);
  const id = p.string(c, "restoreId", path);
  if (id && !RUN_ID.test(id)) p.add(`${path}.restoreId "${id}" must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  for (const field of ["platform", "ecsEndpoint", "ossEndpoint"]) if (c[field] !== undefined) p.string(c, field, path);
  for (const field of ["ecsEndpoint", "ossEndpoint"]) {
    const url = c[field];
    if (typeof url === "string" && !/^https?:\/\/[^/]+\/?$/.test(url)) p.add(`${path}.${field} must be an http(s) URL without a path, not ${JSON.stringify(url)}`);
  }
  if (c.osType !== undefined && !["linux", "windows"].includes(c.osType as string)) p.add(`${path}.osType must be linux or windows`);
  if (c.architecture !== undefined && !["x86_64", "arm64"].includes(c.architecture as string)) p.add(`${path}.architecture must be x86_64 or arm64`);
  if (c.bootMode !== undefined && !["BIOS", "UEFI"].includes(c.bootMode as string)) p.add(`${path}.bootMode must be BIOS or UEFI`);
  checkPositiveInteger(p, c, "pollIntervalMs", path);
  for (const name of [SECRET_ENV.cloudAccessKeyId, SECRET_ENV.cloudAccessKeySecret]) {
    if (!env[name]) p.add(`Environment variable ${name} must hold the AccessKey pair of ${path}`);
  }
}

function checkRestore(p: Problems, s: Json, env: NodeJS.ProcessEnv): void {
  p.string(s, "pointId", "spec");
  checkVault(p, p.object(s, "vault", "spec"), env);
  const target = p.object(s, "target", "spec");
  if (!target) return;
  if ([target.vSphere, target.imageFile, target.cloudImage].filter((t) => t !== undefined).length !== 1) {
    p.add("spec.target must set exactly one of vSphere, imageFile or cloudImage");
    return;
  }
  if (target.cloudImage !== undefined) {
    checkCloudImage(p, p.object(target, "cloudImage", "spec.target"), env);
    return;
  }
  if (target.imageFile !== undefined) {
    const f = p.object(target, "imageFile", "spec.target");
    if (!f) return;
    if (!isImageFormat(f.format)) p.add(`spec.target.imageFile.format must be one of ${IMAGE_FORMATS.join(", ")}, not ${JSON.stringify(f.format)}`);
    checkImageDestination(p, f, env);
    if (f.diskKeys !== undefined && (!Array.isArray(f.diskKeys) || !f.diskKeys.every((k) => Number.isInteger(k)))) {
      p.add("spec.target.imageFile.diskKeys must be a list of disk keys (integers)");
    }
    return;
  }
  const v = p.object(target, "vSphere", "spec.target");
  if (!v) return;
  const path = "spec.target.vSphere";
  checkVCenter(p, p.object(v, "vcenter", path), `${path}.vcenter`, env);
  p.string(v, "datastore", path);
  for (const f of ["datacenter", "cluster", "host", "resourcePool", "folder"]) if (v[f] !== undefined) p.string(v, f, path);
  p.boolean(v, "inPlace", path);
  p.boolean(v, "powerOn", path);
  if (v.inPlace === false) p.string(v, "vmName", path);
  if (v.annotation !== undefined && typeof v.annotation !== "string") p.add(`${path}.annotation must be a string`);
  if (v.restoreId !== undefined) {
    const id = p.string(v, "restoreId", path);
    if (id && !RUN_ID.test(id)) p.add(`${path}.restoreId "${id}" must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  if (v.requireNetworkMapping !== undefined) p.boolean(v, "requireNetworkMapping", path);
  checkPositiveInteger(p, v, "numCpu", path);
  checkPositiveInteger(p, v, "memoryMB", path);
  if (v.targetVm !== undefined) {
    const t = p.object(v, "targetVm", path);
    if (t) {
      p.string(t, "moRef", `${path}.targetVm`);
      p.string(t, "name", `${path}.targetVm`);
    }
    if (v.inPlace !== true) p.add(`${path}.targetVm needs inPlace: true`);
  }
  if (!["Thin", "Thick", "EagerZeroedThick"].includes(v.diskProvisioning as string)) p.add(`${path}.diskProvisioning must be Thin, Thick or EagerZeroedThick`);
  if (!Array.isArray(v.networkMappings)) p.add(`${path}.networkMappings must be a list (empty for none)`);
  else v.networkMappings.forEach((m: unknown, i: number) => {
    if (!isObject(m)) p.add(`${path}.networkMappings[${i}] must be an object`);
    else {
      p.string(m, "source", `${path}.networkMappings[${i}]`);
      p.string(m, "target", `${path}.networkMappings[${i}]`);
    }
  });
}

/** A point id: the vault writes a time stamp and random hex (20250101T000000Z-0a1b2c3d). */
const POINT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function checkMaintenance(p: Problems, s: Json, env: NodeJS.ProcessEnv): void {
  checkVault(p, p.object(s, "vault", "spec"), env);
  if (!Array.isArray(s.forget)) p.add("spec.forget must be a list of point ids (empty for none)");
  else s.forget.forEach((id: unknown, i: number) => {
    if (typeof id !== "string" || !POINT_ID.test(id)) p.add(`spec.forget[${i}] must be a point id such as 20250101T000000Z-0a1b2c3d, not ${JSON.stringify(id)}`);
  });
  if (s.prune !== undefined) {
    const prune = p.object(s, "prune", "spec");
    if (prune && !(Number.isSafeInteger(prune.marginMs) && (prune.marginMs as number) >= 0)) p.add("spec.prune.marginMs must be a non-negative integer (milliseconds)");
  }
  if (s.check !== undefined) {
    const c = p.object(s, "check", "spec");
    if (c) p.boolean(c, "readData", "spec.check");
  }
  if (s.busyWaitMs !== undefined && !(Number.isSafeInteger(s.busyWaitMs) && (s.busyWaitMs as number) >= 0)) p.add("spec.busyWaitMs must be a non-negative integer (milliseconds)");
}

/** Parses and validates the environment; throws InvalidSpecError listing every problem. */
export function readConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const raw = env[SPEC_ENV];
  if (!raw) throw new InvalidSpecError(`Environment variable ${SPEC_ENV} must hold the worker spec as JSON`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new InvalidSpecError(`${SPEC_ENV} is not valid JSON: ${(err as Error).message}`);
  }
  const p = new Problems();
  if (!isObject(parsed)) throw new InvalidSpecError(`${SPEC_ENV} must be a JSON object`);
  if (parsed.mode === "backup") checkBackup(p, parsed, env);
  else if (parsed.mode === "restore") checkRestore(p, parsed, env);
  else if (parsed.mode === "seed") checkSeed(p, parsed, env);
  else if (parsed.mode === "ecsBackup") checkEcsBackup(p, parsed, env);
  else if (parsed.mode === "maintenance") checkMaintenance(p, parsed, env);
  else p.add(`spec.mode must be "backup", "restore", "seed", "ecsBackup" or "maintenance", not ${JSON.stringify(parsed.mode)}`);

  const portText = env[PORT_ENV];
  const port = portText === undefined || portText === "" ? DEFAULT_WORKER_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) p.add(`${PORT_ENV} must be a port number (0 for any free port), not "${portText}"`);
  const lingerText = env[LINGER_ENV];
  const linger = lingerText === undefined || lingerText === "" ? 0 : Number(lingerText);
  if (!Number.isFinite(linger) || linger < 0) p.add(`${LINGER_ENV} must be a non-negative number of seconds`);
  if (p.list.length > 0) throw new InvalidSpecError(`Invalid worker spec: ${p.list.join("; ")}`);

  let spec = parsed as unknown as WorkerSpec;
  if (spec.mode === "backup") {
    // The point's labels always name the VM and the run, so a retry finds the point.
    const labels = { ...spec.labels, vm: spec.labels.vm ?? spec.vm.name, run: spec.runId };
    spec = { ...spec, labels } satisfies BackupWorkerSpec;
  } else if (spec.mode === "seed") {
    spec = { ...spec, labels: { ...spec.labels, run: spec.runId } } satisfies SeedWorkerSpec;
  } else if (spec.mode === "ecsBackup") {
    spec = { ...spec, labels: { ...spec.labels, run: spec.runId } } satisfies EcsBackupWorkerSpec;
  }
  return { spec, listen: { host: env.POD_IP || "127.0.0.1", port }, lingerMs: linger * 1000, env };
}

/** How a worker opens a vault, besides its spec. */
export interface VaultOpenOptions {
  /** Threads for compression and encryption (default: the vault's). */
  readonly threads?: number | undefined;
  /** Where the key and credentials are in the environment (a seed's source vault has its own). */
  readonly secrets?: VaultSecrets | undefined;
  /** How object-storage requests are retried (a worker rides out an outage; see vaultOutageRetry). */
  readonly retry?: RetryOptions | undefined;
  /** Boot the vault's worker threads while it opens (a worker about to move blocks; see VaultOptions.bootThreads). */
  readonly bootThreads?: boolean | undefined;
}

/** The vault spec with its secrets from the environment. */
export function vaultSpecFrom(vault: WorkerVault, env: NodeJS.ProcessEnv, opts: VaultOpenOptions = {}): VaultSpec {
  const { threads, secrets = VAULT_SECRETS, retry, bootThreads } = opts;
  const key = Buffer.from(env[secrets.key] ?? "", "utf8");
  const options = { ...(threads !== undefined && threads > 0 ? { threads } : {}), ...(bootThreads ? { bootThreads } : {}) };
  if (vault.filesystem) return { backend: { filesystem: { path: vault.filesystem.path } }, key, ...options };
  const { caCertEnv, ...s3 } = vault.s3 as NonNullable<WorkerVault["s3"]>;
  return {
    backend: {
      s3: {
        ...s3,
        accessKeyId: env[secrets.accessKeyId] ?? "",
        secretAccessKey: env[secrets.secretAccessKey] ?? "",
        caBundle: trustFor(env, caCertEnv),
        ...(retry ? { retry } : {}),
      },
    },
    key,
    ...options,
  };
}

/** vCenter connect options with the credentials from the environment. */
export function connectOptionsFrom(vc: WorkerVCenter, env: NodeJS.ProcessEnv): ConnectOptions {
  let tls: TlsTrust;
  if (vc.tls.caCertEnv) tls = { caCert: env[vc.tls.caCertEnv] ?? "" };
  else if (vc.tls.thumbprint) tls = { thumbprint: vc.tls.thumbprint };
  else if (vc.tls.insecureSkipVerify) tls = { insecureSkipVerify: true };
  else {
    // No trust named: verify against the default CAs, never skip verification.
    const ca = defaultTrust(env);
    tls = ca ? { caCert: ca } : {};
  }
  return {
    address: vc.address,
    username: env[SECRET_ENV.vcenterUsername] ?? "",
    password: env[SECRET_ENV.vcenterPassword] ?? "",
    tls,
    keepAliveMs: 5 * 60_000,
    ...(vc.timeoutMs !== undefined ? { timeoutMs: vc.timeoutMs } : {}),
  };
}

export type { BackupWorkerSpec, EcsBackupWorkerSpec, RestoreWorkerSpec, SeedWorkerSpec };
