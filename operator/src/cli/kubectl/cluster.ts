/**
 * The cluster side of `kubectl lifeboat`: a kubeconfig chosen by kubectl's
 * own rules and the few lifeboat.io calls the commands make. Kept apart
 * from the commands so each of them reads as "what it asks of the API".
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { GROUP, VERSION } from "../../api/common.js";
import { describe } from "../../runtime/errors.js";
import { isNotFound, mergePatch, pluralOf } from "../../runtime/kube.js";

/** The flags every command takes, named as kubectl names them. */
export interface GlobalOptions {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespace?: string;
}

/**
 * A problem the user can fix (a wrong name, a state that does not allow the
 * command): printed as its message alone, with exit code 1, no stack.
 */
export class CliError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CliError";
  }
}

/**
 * Loads the kubeconfig as kubectl does: `--kubeconfig` alone when given,
 * otherwise $KUBECONFIG (a list of files, merged) or ~/.kube/config, or the
 * in-cluster service account; `--context` switches the context, and the
 * namespace is `-n`, else the context's, else "default".
 */
export function loadKubeConfig(opts: GlobalOptions): { kc: k8s.KubeConfig; namespace: string } {
  const kc = new k8s.KubeConfig();
  const defaultFile = join(homedir(), ".kube", "config");
  // client-node falls back to http://localhost:8080 when it finds nothing; kubectl says so instead, and so does this.
  if (!opts.kubeconfig && !process.env.KUBECONFIG && !existsSync(defaultFile) && !process.env.KUBERNETES_SERVICE_HOST) {
    throw new CliError(`No kubeconfig: set KUBECONFIG, pass --kubeconfig, or create ${defaultFile}`);
  }
  try {
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new CliError(`Could not read the kubeconfig ${opts.kubeconfig ?? process.env.KUBECONFIG ?? "~/.kube/config"}: ${describe(err)}`, { cause: err });
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      throw new CliError(`Context "${opts.context}" is not in the kubeconfig; \`kubectl config get-contexts\` lists the ones there are`);
    }
    kc.setCurrentContext(opts.context);
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  if (!kc.getCurrentCluster()) {
    throw new CliError("The kubeconfig names no current cluster: set KUBECONFIG, pass --kubeconfig, or choose one with --context");
  }
  return { kc, namespace: opts.namespace ?? context?.namespace ?? "default" };
}

/**
 * Reads and writes lifeboat.io objects of one namespace. Every failure
 * names the object and says what to check (the CRDs installed, RBAC,
 * the name), and keeps the API error as its cause.
 */
export class LifeboatApi {
  private readonly custom: k8s.CustomObjectsApi;

  constructor(readonly kc: k8s.KubeConfig, readonly namespace: string) {
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  /** One object; a CliError that says how to list them when it does not exist. */
  async get<T>(kind: string, name: string): Promise<T> {
    try {
      return (await this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: this.namespace, plural: pluralOf(kind), name })) as T;
    } catch (err) {
      if (isNotFound(err)) {
        throw new CliError(`${kind} "${name}" not found in namespace ${this.namespace}; \`kubectl get ${pluralOf(kind)} -n ${this.namespace}\` lists them (or pass -n)`, { cause: err });
      }
      throw this.failed(`read ${kind} ${this.namespace}/${name}`, err);
    }
  }

  /** Every object of a kind in the namespace, optionally by label selector. */
  async list<T>(kind: string, labelSelector?: string): Promise<T[]> {
    try {
      const list = (await this.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: this.namespace, plural: pluralOf(kind), ...(labelSelector ? { labelSelector } : {}) })) as { items: T[] };
      return list.items;
    } catch (err) {
      throw this.failed(`list ${pluralOf(kind)} in namespace ${this.namespace}`, err);
    }
  }

  /** Creates an object in the namespace. */
  async create<T extends { kind: string; metadata: { name?: string; generateName?: string } }>(obj: T): Promise<T> {
    try {
      return (await this.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: this.namespace, plural: pluralOf(obj.kind), body: obj })) as T;
    } catch (err) {
      throw this.failed(`create ${obj.kind} ${obj.metadata.name ?? obj.metadata.generateName ?? ""}`, err);
    }
  }

  /**
   * A JSON merge patch of an object's spec. With `resourceVersion` it only
   * applies to the version the command read (a conflict means someone
   * changed it in between, and the command says so instead of overwriting).
   */
  async patchSpec<T>(kind: string, name: string, spec: Record<string, unknown>, resourceVersion?: string): Promise<T> {
    try {
      return (await this.custom.patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, namespace: this.namespace, plural: pluralOf(kind), name, body: { ...(resourceVersion ? { metadata: { resourceVersion } } : {}), spec } },
        mergePatch,
      )) as T;
    } catch (err) {
      if (err instanceof k8s.ApiException && err.code === 409) {
        throw new CliError(`${kind} ${this.namespace}/${name} changed while this command ran; run it again`, { cause: err });
      }
      throw this.failed(`update ${kind} ${this.namespace}/${name}`, err);
    }
  }

  private failed(what: string, err: unknown): Error {
    if (err instanceof k8s.ApiException && err.code === 403) {
      return new CliError(`Not allowed to ${what}: ${describe(err)}. Ask for RBAC on lifeboat.io resources in namespace ${this.namespace}`, { cause: err });
    }
    if (err instanceof k8s.ApiException && err.code === 404) {
      return new CliError(`Could not ${what}: the lifeboat.io CRDs are not installed in this cluster (install the chart, or choose another --context)`, { cause: err });
    }
    if (err instanceof k8s.ApiException && (err.code === 422 || err.code === 400)) {
      return new CliError(`The API server refused to ${what}: ${describe(err)}`, { cause: err });
    }
    return new CliError(`Could not ${what}: ${describe(err)}`, { cause: err });
  }
}
