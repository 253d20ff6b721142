/**
 * The RestoreJob that `kubectl lifeboat restore` creates (or prints with
 * `-o yaml` for Git). Built here from the parsed flags alone, so that what
 * is printed is exactly what would be created, and so that a unit test can
 * hold it against the API schema. The checks below repeat the API's CEL
 * rules in flag terms: the user hears "--vm-name is required" rather than a
 * rule about spec.target.vSphere.
 */
import { API_VERSION } from "../../api/common.js";
import type { RestoreJob, RestoreJobSpec } from "../../api/generated/types.js";
import { validateObject } from "../../api/validation.js";
import { CliError } from "./cluster.js";

/** Where a restore goes, as `--to` names it. */
export const RESTORE_TARGETS = ["vsphere", "image-file", "cloud-image"] as const;
export type RestoreTarget = (typeof RESTORE_TARGETS)[number];

/** `restore` as parsed from the command line. Each target's flags are only valid with that target. */
export interface RestoreRequest {
  readonly point: string;
  readonly to: RestoreTarget;
  readonly name?: string;
  readonly gateway?: string;
  // --to vsphere
  readonly vcenter?: string;
  readonly datacenter?: string;
  readonly cluster?: string;
  readonly host?: string;
  readonly resourcePool?: string;
  readonly datastore?: string;
  readonly folder?: string;
  readonly vmName?: string;
  readonly network?: readonly string[];
  readonly diskProvisioning?: string;
  readonly powerOn?: boolean;
  readonly inPlace?: boolean;
  readonly confirmInPlace?: boolean;
  // --to image-file (and --format for cloud-image)
  readonly format?: string;
  readonly pvc?: string;
  readonly path?: string;
  readonly s3Endpoint?: string;
  readonly s3Bucket?: string;
  readonly s3Prefix?: string;
  readonly s3Region?: string;
  readonly s3Secret?: string;
  readonly disk?: readonly number[];
  // --to cloud-image
  readonly region?: string;
  readonly imageName?: string;
  readonly ossBucket?: string;
  readonly credentialsSecret?: string;
  readonly strategy?: string;
}

/** Which flags belong to which target: a flag given with another target is a mistake worth naming. */
const TARGET_FLAGS: Record<RestoreTarget, readonly (keyof RestoreRequest)[]> = {
  vsphere: ["vcenter", "datacenter", "cluster", "host", "resourcePool", "datastore", "folder", "vmName", "network", "diskProvisioning", "powerOn", "inPlace", "confirmInPlace"],
  "image-file": ["pvc", "path", "s3Endpoint", "s3Bucket", "s3Prefix", "s3Region", "s3Secret", "disk"],
  "cloud-image": ["region", "imageName", "ossBucket", "credentialsSecret", "strategy"],
};

/** camelCase field → the --kebab-case flag the user typed. */
export function flagName(field: string): string {
  return `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function required(req: RestoreRequest, fields: readonly (keyof RestoreRequest)[]): void {
  const missing = fields.filter((f) => req[f] === undefined || req[f] === "");
  if (missing.length) throw new CliError(`restore --to ${req.to} needs ${missing.map(flagName).join(", ")}`);
}

function oneOf(flag: string, value: string | undefined, allowed: readonly string[]): string | undefined {
  if (value === undefined) return undefined;
  const found = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  if (!found) throw new CliError(`${flag} ${value} is not one of ${allowed.join(", ")}`);
  return found;
}

/** A RestoreJob name for a point: readable, unique per second, short enough for the worker Job names derived from it. */
export function defaultRestoreName(point: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return `restore-${point.slice(0, 40).replace(/[^a-z0-9-]/g, "-").replace(/-+$/, "")}-${stamp}`;
}

function target(req: RestoreRequest, defaults: { vCenter?: string }): RestoreJobSpec["target"] {
  switch (req.to) {
    case "vsphere": {
      const vcenter = req.vcenter ?? defaults.vCenter;
      if (!vcenter) throw new CliError("restore --to vsphere needs --vcenter (the point's plan names none to default to)");
      required(req, ["datastore"]);
      if (req.inPlace && !req.confirmInPlace) throw new CliError("--in-place overwrites the original VM's disks: add --confirm-in-place to say so");
      if (req.inPlace && req.vmName) throw new CliError("--in-place keeps the original VM's name: drop --vm-name");
      if (!req.inPlace && !req.vmName) throw new CliError("restore --to vsphere needs --vm-name (the new VM's name), or --in-place --confirm-in-place to overwrite the original");
      const networkMappings = (req.network ?? []).map((m) => {
        const [source, dest, ...rest] = m.split("=");
        if (!source || !dest || rest.length) throw new CliError(`--network ${m} is not SOURCE=TARGET, e.g. --network "VM Network=DR Network"`);
        return { source, target: dest };
      });
      const diskProvisioning = oneOf("--disk-provisioning", req.diskProvisioning, ["Thin", "Thick", "EagerZeroedThick"]) as "Thin" | "Thick" | "EagerZeroedThick" | undefined;
      return {
        vSphere: {
          vCenterRef: { name: vcenter },
          ...(req.datacenter ? { datacenter: req.datacenter } : {}),
          ...(req.cluster ? { cluster: req.cluster } : {}),
          ...(req.host ? { host: req.host } : {}),
          ...(req.resourcePool ? { resourcePool: req.resourcePool } : {}),
          datastore: req.datastore ?? "",
          ...(req.folder ? { folder: req.folder } : {}),
          ...(req.vmName ? { vmName: req.vmName } : {}),
          ...(networkMappings.length ? { networkMappings } : {}),
          ...(diskProvisioning ? { diskProvisioning } : {}),
          ...(req.powerOn ? { powerOn: true } : {}),
          ...(req.inPlace ? { inPlace: true, confirmInPlace: true } : {}),
        },
      };
    }
    case "image-file": {
      const s3 = req.s3Bucket !== undefined || req.s3Endpoint !== undefined || req.s3Secret !== undefined || req.s3Prefix !== undefined || req.s3Region !== undefined;
      if (s3 === (req.pvc !== undefined)) throw new CliError("restore --to image-file needs exactly one of --pvc CLAIM (with an optional --path in it) or --s3-bucket with --s3-secret");
      if (req.path !== undefined && !req.pvc) throw new CliError("--path is a directory inside --pvc: give the claim too");
      if (req.path?.startsWith("/")) throw new CliError(`--path ${req.path} is relative to the claim's root: remove the leading /`);
      if (req.path && /(^|\/)\.\.(\/|$)/.test(req.path)) throw new CliError(`--path ${req.path} must stay inside the claim: remove the .. segments`);
      if (s3) required(req, ["s3Bucket", "s3Secret"]);
      const format = oneOf("--format", req.format, ["raw", "qcow2", "vhd", "vhd-fixed", "vmdk"]) as "raw" | "qcow2" | "vhd" | "vhd-fixed" | "vmdk" | undefined;
      return {
        imageFile: {
          ...(format ? { format } : {}),
          ...(req.pvc ? { persistentVolumeClaim: { name: req.pvc } } : {}),
          ...(req.path ? { path: req.path } : {}),
          ...(s3
            ? {
                s3: {
                  ...(req.s3Endpoint ? { endpoint: req.s3Endpoint } : {}),
                  bucket: req.s3Bucket ?? "",
                  ...(req.s3Prefix ? { prefix: req.s3Prefix } : {}),
                  ...(req.s3Region ? { region: req.s3Region } : {}),
                  credentialsSecretRef: { name: req.s3Secret ?? "" },
                },
              }
            : {}),
          ...(req.disk?.length ? { diskKeys: [...req.disk] } : {}),
        },
      };
    }
    case "cloud-image": {
      required(req, ["region", "imageName", "ossBucket", "credentialsSecret"]);
      const strategy = oneOf("--strategy", req.strategy, ["ImportImage", "IntermediateInstance"]);
      if (strategy === "IntermediateInstance") {
        throw new CliError("--strategy IntermediateInstance needs the temporary instance's image, type, vSwitch and security group: print the RestoreJob with -o yaml, add spec.target.cloudImage.intermediateInstance, and `kubectl apply` it");
      }
      const format = oneOf("--format", req.format, ["RAW", "VHD", "QCOW2"]) as "RAW" | "VHD" | "QCOW2" | undefined;
      return {
        cloudImage: {
          region: req.region ?? "",
          imageName: req.imageName ?? "",
          ossBucket: req.ossBucket ?? "",
          credentialsSecretRef: { name: req.credentialsSecret ?? "" },
          ...(strategy ? { strategy: "ImportImage" as const } : {}),
          ...(format ? { format } : {}),
        },
      };
    }
  }
}

/**
 * The RestoreJob for a request. `defaults` are the point's plan's gateway
 * and vCenter, used when the flags name none. Throws a CliError naming the
 * flag to fix; the result passes the API's structural schema.
 */
export function buildRestoreJob(req: RestoreRequest, defaults: { gateway?: string; vCenter?: string }, namespace: string | undefined, now: Date): RestoreJob {
  for (const [to, fields] of Object.entries(TARGET_FLAGS)) {
    if (to === req.to) continue;
    const stray = fields.find((f) => req[f] !== undefined && !(Array.isArray(req[f]) && (req[f] as unknown[]).length === 0));
    if (stray) throw new CliError(`${flagName(stray)} is for --to ${to}, not --to ${req.to}`);
  }
  const gateway = req.gateway ?? defaults.gateway;
  if (!gateway) throw new CliError(`restore needs --gateway: RecoveryPoint ${req.point} was not made by a BackupPlan whose gateway could be the default`);
  const job: RestoreJob = {
    apiVersion: API_VERSION,
    kind: "RestoreJob",
    metadata: { name: req.name ?? defaultRestoreName(req.point, now), ...(namespace ? { namespace } : {}) },
    spec: { recoveryPointRef: { name: req.point }, gatewayRef: { name: gateway }, target: target(req, defaults) },
  };
  const problems = validateObject("RestoreJob", job);
  if (problems.length) throw new CliError(`The RestoreJob would be invalid: ${problems.map((p) => `${p.field} ${p.message}`).join("; ")}`);
  return job;
}
