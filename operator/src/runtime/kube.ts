import { createHash } from "node:crypto";
import * as http from "node:http";
import * as https from "node:https";
import * as k8s from "@kubernetes/client-node";
import { GROUP, VERSION } from "../api/common.js";
import { kinds } from "../api/kinds.js";

/** Any lifeboat.io object: the generated types all have this shape. */
export interface LifeboatObject extends k8s.KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: k8s.V1ObjectMeta;
  spec: object;
  status?: { conditions?: import("./conditions.js").Condition[]; observedGeneration?: number } & object;
}

/** How long a connection may sit unused before this side closes it (the API server drops idle ones after 90 s). */
const IDLE_CONNECTION_MS = 60_000;

/** A digest of TLS settings (CA, client certificate and key, ...), so that agents are shared only between equal settings. */
function settingsDigest(values: readonly unknown[]): string {
  const h = createHash("sha256");
  for (const v of values) {
    for (const part of Array.isArray(v) ? (v as unknown[]) : [v]) {
      h.update(Buffer.isBuffer(part) ? part : typeof part === "string" ? part : JSON.stringify(part ?? null, (_k, x: unknown) => (Buffer.isBuffer(x) ? x.toString("base64") : x))).update("\x01");
    }
    h.update("\0");
  }
  return h.digest("hex");
}

/**
 * A KubeConfig whose API calls reuse their connections. @kubernetes/client-node
 * 1.4 builds a new https.Agent for every request
 * (kubernetes-client/javascript#2893; later releases cache agents), so every
 * call opened a new TLS connection: a handshake and a new SecureContext on
 * both sides, for each GET of a reconcile. In a profile of the operator
 * reconciling 650 objects after a restart, TLS set-up was a quarter of its
 * CPU. Here each call goes through one keep-alive agent per set of TLS
 * settings (a rotated CA or client certificate gets a new agent); proxy
 * agents are left as the library makes them. Watches, which hold their
 * connection anyway, are unchanged.
 */
export class KeepAliveKubeConfig extends k8s.KubeConfig {
  private readonly agents = new Map<string, http.Agent>();

  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const made = context.getAgent();
    if (made) context.setAgent(this.shared(made));
  }

  /** The keep-alive agent with the same settings as `made`, a plain http(s).Agent the library made for one request. */
  private shared(made: http.Agent): http.Agent {
    const proto = Object.getPrototypeOf(made) as unknown;
    const secure = proto === https.Agent.prototype;
    if (!secure && proto !== http.Agent.prototype) return made;
    const o = (made as http.Agent & { options: https.AgentOptions }).options;
    const key = settingsDigest([secure, o.ca, o.cert, o.key, o.pfx, o.passphrase, o.rejectUnauthorized, o.servername]);
    let agent = this.agents.get(key);
    if (!agent) {
      const options: https.AgentOptions = { ca: o.ca, cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase, servername: o.servername, keepAlive: true, timeout: IDLE_CONNECTION_MS };
      if (o.rejectUnauthorized !== undefined) options.rejectUnauthorized = o.rejectUnauthorized;
      agent = secure ? new https.Agent(options) : new http.Agent(options);
      this.agents.set(key, agent);
    }
    return agent;
  }
}

/** Request options that send a JSON merge patch. */
export const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

/** Reads one lifeboat.io object: the API server (Kube) or the operator's informer cache (ReconcileContext.cache). */
export interface ObjectReader {
  get<T extends LifeboatObject>(kind: string, namespace: string, name: string): Promise<T | undefined>;
}

/** A generated API type with the apiVersion and kind every object read from the API server carries. */
export type WithKind<T> = T & { apiVersion: string; kind: string };

export function pluralOf(kind: string): string {
  const def = kinds.find((k) => k.kind === kind);
  if (!def) throw new Error(`Unknown lifeboat.io kind ${kind}`);
  return def.plural;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof k8s.ApiException && err.code === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof k8s.ApiException && err.code === 409;
}

/**
 * The few API calls reconcilers make on lifeboat.io objects, each with the
 * Kubernetes semantics spelled out: status writes go to the status
 * subresource with the object's resourceVersion (a stale write fails with a
 * conflict and the key is retried), metadata writes are merge patches guarded
 * by the resourceVersion too.
 */
export class Kube {
  readonly core: k8s.CoreV1Api;
  readonly custom: k8s.CustomObjectsApi;
  readonly batch: k8s.BatchV1Api;
  readonly coordination: k8s.CoordinationV1Api;
  private secretVersion?: (namespace: string, name: string) => string | undefined;
  private readonly secrets = new Map<string, k8s.V1Secret>();

  constructor(readonly config: k8s.KubeConfig) {
    this.core = config.makeApiClient(k8s.CoreV1Api);
    this.custom = config.makeApiClient(k8s.CustomObjectsApi);
    this.batch = config.makeApiClient(k8s.BatchV1Api);
    this.coordination = config.makeApiClient(k8s.CoordinationV1Api);
  }

  /** Reads an object fresh from the API server; undefined when it does not exist. */
  async get<T extends LifeboatObject>(kind: string, namespace: string, name: string): Promise<T | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: pluralOf(kind), name })) as T;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new Error(`Could not read ${kind} ${namespace}/${name}`, { cause: err });
    }
  }

  async list<T extends LifeboatObject>(kind: string, namespace: string): Promise<T[]> {
    const list = (await this.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: pluralOf(kind) })) as { items: T[] };
    return list.items;
  }

  /** Replaces the status of `obj` (whose resourceVersion guards the write). */
  async replaceStatus<T extends LifeboatObject>(obj: T): Promise<T> {
    const m = obj.metadata;
    return (await this.custom.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace: m.namespace ?? "",
      plural: pluralOf(obj.kind),
      name: m.name ?? "",
      body: obj,
    })) as T;
  }

  /** Sets metadata.finalizers, guarded by the object's resourceVersion. */
  async setFinalizers<T extends LifeboatObject>(obj: T, finalizers: string[]): Promise<T> {
    const m = obj.metadata;
    return (await this.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: m.namespace ?? "",
        plural: pluralOf(obj.kind),
        name: m.name ?? "",
        body: { metadata: { finalizers, resourceVersion: m.resourceVersion } },
      },
      mergePatch,
    )) as T;
  }

  /**
   * Creates `obj`, of `kind`. The kind is named at the call site, as for
   * delete, so that the RBAC test (e2e/testbed/rbac.test.ts) reads from the
   * source which kinds the operator creates and the chart grants `create` on
   * those only.
   */
  async create<T extends LifeboatObject>(kind: string, obj: T): Promise<T> {
    if (obj.kind !== kind) throw new Error(`Kube.create(${kind}) was given a ${obj.kind} ${obj.metadata.namespace ?? ""}/${obj.metadata.name ?? ""}`);
    return (await this.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: obj.metadata.namespace ?? "",
      plural: pluralOf(kind),
      body: obj,
    })) as T;
  }

  /** Deletes an object of `kind` (a literal at the call site, see create); gone already is fine. */
  async delete(kind: string, namespace: string, name: string): Promise<void> {
    try {
      await this.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: pluralOf(kind), name });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * A Secret, read from the API server unless the last copy read is still
   * current. Whether it is comes from `secretVersion` (the manager's
   * metadata-only Secret informer): reconcilers read a VCenter's or vault's
   * Secret on every reconcile, and 2,000 ProtectedServers doing that made
   * 24,000 GETs a minute at rest (bench:scale). Only the Secrets the operator
   * uses are kept, as their values already are in its sessions. The copy is
   * shared: read it, never change it. `fresh` reads from the API server
   * whatever is kept, for a write based on what is read (the informer may
   * not have seen the operator's own last write yet).
   */
  async getSecret(namespace: string, name: string, options: { fresh?: boolean } = {}): Promise<k8s.V1Secret | undefined> {
    const key = `${namespace}/${name}`;
    const current = this.secretVersion?.(namespace, name);
    const kept = this.secrets.get(key);
    if (!options.fresh && current !== undefined && kept?.metadata?.resourceVersion === current) return kept;
    let secret: k8s.V1Secret | undefined;
    try {
      secret = await this.core.readNamespacedSecret({ namespace, name });
    } catch (err) {
      if (!isNotFound(err)) throw new Error(`Could not read Secret ${namespace}/${name}`, { cause: err });
    }
    if (secret && this.secretVersion) this.secrets.set(key, secret);
    else this.secrets.delete(key);
    return secret;
  }

  /** Lets getSecret serve a Secret it read before while `version` says it has not changed since (undefined: not known, read it). */
  followSecretVersions(version: (namespace: string, name: string) => string | undefined): void {
    this.secretVersion = version;
  }
}

/** An owner reference that makes `owner` the controller of the object it is put on (garbage collection). */
export function controllerRef(owner: LifeboatObject): k8s.V1OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name ?? "",
    uid: owner.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}
