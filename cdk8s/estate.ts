import { Chart } from "cdk8s";
import * as kplus from "cdk8s-plus-34";
import { Construct } from "constructs";
import {
  BackupPlan,
  BackupVault,
  Gateway,
  VCenter,
  type BackupPlanSpec,
  type BackupVaultSpec,
  type BackupVaultSpecBackendFilesystem,
  type BackupVaultSpecBackendS3,
  type BackupVaultSpecBackendS3CredentialsSecretRef,
  type BackupVaultSpecEncryptionKeySecretRef,
  type GatewaySpec,
  type GatewaySpecCredentialsSecretRef,
  type VCenterSpec,
  type VCenterSpecCredentialsSecretRef,
} from "./generated/lifeboat.io.js";

/**
 * A Secret reference of the API (`{ name, usernameKey?, ... }`) with the
 * Secret as a cdk8s-plus handle instead of a bare name: either a Secret this
 * program creates (`new kplus.Secret(...)`) or one that exists already
 * (`kplus.Secret.fromSecretName(...)`, e.g. made by a secrets operator). The
 * key fields keep the API's names and defaults.
 */
export type SecretKeys<Ref extends { readonly name: string }> = Omit<Ref, "name"> & { readonly secret: kplus.ISecret };

/** The vCenter to protect: VCenter's spec, with its gatewayRef filled in by the estate. */
export type EstateVCenter = Omit<VCenterSpec, "credentialsSecretRef" | "gatewayRef"> & {
  /** The user name and password (keys `username` and `password` unless set). */
  readonly credentials: SecretKeys<VCenterSpecCredentialsSecretRef>;
};

/** Where the backups go: BackupVault's spec, with Secrets as handles. */
export type EstateVault = Omit<BackupVaultSpec, "backend" | "encryption"> & {
  /** Exactly one of filesystem or s3, as in BackupVault's spec.backend. */
  readonly backend:
    | { readonly filesystem: BackupVaultSpecBackendFilesystem; readonly s3?: undefined }
    | { readonly s3: Omit<BackupVaultSpecBackendS3, "credentialsSecretRef"> & { readonly credentials: SecretKeys<BackupVaultSpecBackendS3CredentialsSecretRef> }; readonly filesystem?: undefined };
  /** The repository key (key `key` unless set). */
  readonly encryptionKey: SecretKeys<BackupVaultSpecEncryptionKeySecretRef>;
};

/** The site's workers: Gateway's spec, with its vaultRef filled in by the estate. */
export type EstateGateway = Omit<GatewaySpec, "vaultRef" | "credentialsSecretRef"> & {
  /** A per-site AccessKey pair for the vault instead of the vault's own credentials. */
  readonly credentials?: SecretKeys<GatewaySpecCredentialsSecretRef>;
};

/** One backup plan: BackupPlan's spec without the references the estate fills in. */
export type EstatePlan = Omit<BackupPlanSpec, "vCenterRef" | "vaultRef" | "gatewayRef">;

export interface ProtectedEstateProps {
  /**
   * Name of the VCenter, the BackupVault and the Gateway (kinds differ, so
   * one name serves all three and reads well in `kubectl get lifeboat`).
   */
  readonly name: string;
  /**
   * Namespace of every object. Lifeboat's references (and its Secret
   * references) are by name within one namespace, so the estate keeps them
   * together. Default: the chart's namespace.
   */
  readonly namespace?: string;
  readonly vCenter: EstateVCenter;
  readonly vault: EstateVault;
  /** Default: a Gateway with the API's defaults (4 workers, HTTPS, no flow control). */
  readonly gateway?: EstateGateway;
  /** Backup plans by name; each backs up VMs of this vCenter into this vault through this gateway. */
  readonly plans: Readonly<Record<string, EstatePlan>>;
}

/**
 * A protected estate: one vCenter, the vault its backups go to, the gateway
 * whose workers carry them, and the plans that say which VMs, when and for
 * how long. It writes the references between them (gatewayRef, vaultRef,
 * vCenterRef, the Secret names) so they cannot disagree, and checks at synth
 * what the API server cannot: that each Secret it is handed lives in the
 * estate's namespace and, where this program creates it, has the keys the
 * references name. The operator itself is the Lifeboat construct.
 */
export class ProtectedEstate extends Construct {
  public readonly vCenter: VCenter;
  public readonly vault: BackupVault;
  public readonly gateway: Gateway;
  /** The plans, by name. */
  public readonly plans: ReadonlyMap<string, BackupPlan>;
  /** The namespace of every object, undefined for the kubectl context's. */
  public readonly namespace: string | undefined;

  public constructor(scope: Construct, id: string, props: ProtectedEstateProps) {
    super(scope, id);
    const namespace = props.namespace ?? Chart.of(this).namespace;
    this.namespace = namespace;
    const metadata = (name: string) => ({ name, ...(namespace ? { namespace } : {}) });
    const ref = (what: string, keys: SecretHandle, defaults: Readonly<Record<string, string>>) => secretRef(what, keys, defaults, namespace);

    const { backend, encryptionKey, ...vaultSpec } = props.vault;
    let vaultBackend: BackupVaultSpec["backend"];
    if (backend.s3) {
      const { credentials, ...s3 } = backend.s3;
      vaultBackend = { s3: { ...s3, credentialsSecretRef: ref(`BackupVault ${props.name} s3 credentials`, credentials, { accessKeyIdKey: "accessKeyId", secretAccessKeyKey: "secretAccessKey" }) } };
    } else {
      vaultBackend = { filesystem: backend.filesystem };
    }
    this.vault = new BackupVault(this, "BackupVault", {
      metadata: metadata(props.name),
      spec: { ...vaultSpec, backend: vaultBackend, encryption: { keySecretRef: ref(`BackupVault ${props.name} encryption key`, encryptionKey, { key: "key" }) } },
    });

    const { credentials: gatewayCredentials, ...gatewaySpec } = props.gateway ?? {};
    this.gateway = new Gateway(this, "Gateway", {
      metadata: metadata(props.name),
      spec: {
        ...gatewaySpec,
        vaultRef: { name: this.vault.name },
        ...(gatewayCredentials
          ? { credentialsSecretRef: ref(`Gateway ${props.name} credentials`, gatewayCredentials, { accessKeyIdKey: "accessKeyId", accessKeySecretKey: "accessKeySecret" }) }
          : {}),
      },
    });

    const { credentials: vCenterCredentials, ...vCenterSpec } = props.vCenter;
    this.vCenter = new VCenter(this, "VCenter", {
      metadata: metadata(props.name),
      spec: {
        ...vCenterSpec,
        credentialsSecretRef: ref(`VCenter ${props.name} credentials`, vCenterCredentials, { usernameKey: "username", passwordKey: "password" }),
        gatewayRef: { name: this.gateway.name },
      },
    });

    const plans = new Map<string, BackupPlan>();
    for (const [name, spec] of Object.entries(props.plans)) {
      plans.set(
        name,
        new BackupPlan(this, `BackupPlan-${name}`, {
          metadata: metadata(name),
          spec: { ...spec, vCenterRef: { name: this.vCenter.name }, vaultRef: { name: this.vault.name }, gatewayRef: { name: this.gateway.name } },
        }),
      );
    }
    this.plans = plans;
  }
}

/**
 * The API's Secret reference for a handle, after checking what synth can
 * know: a Secret made in this program must be in the estate's namespace and
 * hold the keys the reference names (`defaults` are the API's key names).
 * An imported Secret (fromSecretName) is taken on trust: the operator reports
 * a missing one as a condition.
 */
/** What secretRef takes: a SecretKeys of any reference type. */
interface SecretHandle {
  readonly secret: kplus.ISecret;
  readonly [keyField: string]: unknown;
}

function secretRef(what: string, keys: SecretHandle, defaults: Readonly<Record<string, string>>, namespace: string | undefined): { name: string } & Record<string, string> {
  const { secret, ...rest } = keys;
  const keyFields: Record<string, string> = {};
  for (const [field, key] of Object.entries(rest)) if (typeof key === "string") keyFields[field] = key;
  if (secret instanceof kplus.Secret) {
    const secretNamespace = secret.metadata.namespace;
    if (secretNamespace !== namespace) {
      throw new Error(`${what}: Secret ${secret.name} is in namespace ${secretNamespace ?? "(none)"}, the estate in ${namespace ?? "(none)"}; Lifeboat reads Secrets from its objects' own namespace`);
    }
    for (const [field, defaultKey] of Object.entries(defaults)) {
      const key = keyFields[field] ?? defaultKey;
      if (secret.getStringData(key) === undefined) throw new Error(`${what}: Secret ${secret.name} has no key "${key}" (${field})`);
    }
  }
  return { ...keyFields, name: secret.name };
}
