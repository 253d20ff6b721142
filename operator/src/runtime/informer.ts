import * as http from "node:http";
import * as https from "node:https";
import { createInterface } from "node:readline";
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "../telemetry/logger.js";
import { describe } from "./errors.js";

/** What an informer watches: one resource type, optionally in chosen namespaces and by selector. */
export interface InformerSource {
  readonly apiVersion: string;
  readonly kind: string;
  /** Plural resource name, for the watch path. */
  readonly plural: string;
  /**
   * Watch these namespaces only, one list and watch each (what a Role per
   * namespace allows); all namespaces, with one cluster-wide list and watch,
   * when undefined or empty.
   */
  readonly namespaces?: readonly string[];
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /**
   * Cache only metadata (PartialObjectMetadata), as client-go's metadata
   * informers do: for watches that need to know that an object changed, not
   * what it holds. The Secret informer uses it, so no Secret's data sits in
   * the operator's memory but the few Secrets specs name, which
   * Kube.getSecret keeps until this informer shows a new version.
   */
  readonly metadataOnly?: boolean;
}

/** Media types asking the API server for metadata only (meta.k8s.io/v1 PartialObjectMetadata). */
const ACCEPT_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const ACCEPT_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

type WatchCallback = (phase: string, obj: unknown) => void;

/** Objects per page of a list. */
const LIST_PAGE = 500;

/** One page of a list as the API server sends it. */
interface ListPage<T> {
  readonly items: T[];
  readonly metadata?: { readonly continue?: string; readonly resourceVersion?: string };
}

export type InformerEvent = "add" | "update" | "delete";

/** One list-then-watch: of one namespace, or of all (namespace undefined). */
interface Stream {
  readonly namespace: string | undefined;
  resourceVersion: string;
  abort?: AbortController;
}
export type InformerHandler<T> = (event: InformerEvent, obj: T, old?: T) => void;

/** namespace/name, the key the work queues and caches use. */
export function objectKey(obj: k8s.KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/**
 * A cache of one resource type kept current by list-then-watch, one stream
 * per watched namespace (or one for all) into one store. It relists
 * when the API server answers 410 Gone (the resourceVersion is too old),
 * resumes the watch from the last resourceVersion (bookmarks included) when
 * the connection ends, and backs off with jitter on errors. `start()`
 * resolves once the first list is in the cache, so controllers can start
 * their workers only after their caches have synced.
 */
export class Informer<T extends k8s.KubernetesObject> {
  private readonly store = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly streams: Stream[];
  private stopped = false;
  private synced = false;
  private readonly watch: k8s.Watch;

  constructor(
    private readonly kc: k8s.KubeConfig,
    readonly source: InformerSource,
    private readonly log: Logger,
  ) {
    this.watch = new k8s.Watch(kc);
    const namespaces = source.namespaces?.length ? source.namespaces : [undefined];
    this.streams = namespaces.map((namespace) => ({ namespace, resourceVersion: "" }));
  }

  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  /** Lists, fills the cache, and keeps watching in the background. */
  async start(): Promise<void> {
    this.stopped = false;
    await Promise.all(this.streams.map((s) => this.relist(s)));
    this.synced = true;
    for (const s of this.streams) void this.watchLoop(s);
  }

  private isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.streams) s.abort?.abort();
  }

  private watchPath(namespace: string | undefined): string {
    const [group, version] = this.source.apiVersion.includes("/") ? this.source.apiVersion.split("/") : ["", this.source.apiVersion];
    const prefix = group ? `/apis/${group}/${version ?? ""}` : `/api/${version ?? ""}`;
    return namespace ? `${prefix}/namespaces/${namespace}/${this.source.plural}` : `${prefix}/${this.source.plural}`;
  }

  /** Lists a stream's namespace (or all) into the store; what is gone from it is deleted. */
  private async relist(stream: Stream): Promise<void> {
    const items: T[] = [];
    let continueToken: string | undefined;
    let rv = "";
    do {
      const page = await this.listPage(stream.namespace, continueToken);
      items.push(...page.items);
      continueToken = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (continueToken);
    const seen = new Set<string>();
    for (const item of items) {
      // A list returns items without apiVersion/kind; restore them so handlers see whole objects.
      const obj = { ...item, apiVersion: this.source.apiVersion, kind: this.source.kind } as T;
      const key = objectKey(obj);
      seen.add(key);
      this.upsert(obj);
    }
    for (const [key, old] of this.store) {
      // Another stream's objects are not this list's to delete.
      if (stream.namespace !== undefined && old.metadata?.namespace !== stream.namespace) continue;
      if (!seen.has(key)) {
        this.store.delete(key);
        this.emit("delete", old);
      }
    }
    stream.resourceVersion = rv;
  }

  private upsert(obj: T): void {
    // managedFields (server-side apply's record of field owners) are never read here and are a large share of a
    // small object: dropped, as controller-runtime's TransformStripManagedFields does. A write of an object without
    // them keeps the server's (the API server takes the live object's when a request has none).
    if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
    const key = objectKey(obj);
    const old = this.store.get(key);
    this.store.set(key, obj);
    if (!old) this.emit("add", obj);
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit("update", obj, old);
  }

  private emit(event: InformerEvent, obj: T, old?: T): void {
    for (const h of this.handlers) {
      try {
        h(event, obj, old);
      } catch (err) {
        this.log.error({ err, kind: this.source.kind, key: objectKey(obj) }, "Informer handler failed");
      }
    }
  }

  private async watchLoop(stream: Stream): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const state = { gone: false };
      const result = await new Promise<unknown>((resolve) => {
        const params: Record<string, string | boolean> = { resourceVersion: stream.resourceVersion, allowWatchBookmarks: true };
        if (this.source.labelSelector) params.labelSelector = this.source.labelSelector;
        if (this.source.fieldSelector) params.fieldSelector = this.source.fieldSelector;
        this.startWatch(
          this.watchPath(stream.namespace),
          params,
          (phase, event) => {
            const obj = event as T & { code?: number };
            failures = 0;
            switch (phase) {
              case "ADDED":
              case "MODIFIED":
                this.upsert(obj);
                stream.resourceVersion = obj.metadata?.resourceVersion ?? stream.resourceVersion;
                break;
              case "DELETED": {
                const key = objectKey(obj);
                this.store.delete(key);
                stream.resourceVersion = obj.metadata?.resourceVersion ?? stream.resourceVersion;
                this.emit("delete", obj);
                break;
              }
              case "BOOKMARK":
                stream.resourceVersion = obj.metadata?.resourceVersion ?? stream.resourceVersion;
                break;
              case "ERROR":
                if (obj.code === 410) state.gone = true;
                break;
            }
          },
          (err: unknown) => { resolve(err); },
        )
          .then((abort) => {
            stream.abort = abort;
          })
          .catch((err: unknown) => { resolve(err); });
      });
      if (this.isStopped()) return;
      const status = (result as { statusCode?: number; code?: number } | undefined);
      if (state.gone || status?.statusCode === 410 || status?.code === 410) {
        this.log.info({ kind: this.source.kind, namespace: stream.namespace ?? "(all)" }, "Watch expired; relisting");
        try {
          await this.relist(stream);
          failures = 0;
        } catch (err) {
          failures++;
          this.log.warn({ err, kind: this.source.kind, namespace: stream.namespace ?? "(all)" }, "Relist failed");
          await sleep(backoff(failures));
        }
      } else if (result) {
        failures++;
        this.log.warn({ err: describe(result), kind: this.source.kind, namespace: stream.namespace ?? "(all)", failures }, "Watch failed; retrying");
        await sleep(backoff(failures));
      }
    }
  }

  /**
   * One page of the list, whole objects or their metadata only, as the API
   * server's JSON: its metadata.continue names the next page. (client-node's
   * KubernetesObjectApi.list reads a custom resource list's metadata as an
   * object's, which has no `continue`, so a list through it stopped after the
   * first 500 objects: an operator restarted with 10,000 RecoveryPoints
   * cached, and reconciled, 500 of them.)
   */
  private async listPage(namespace: string | undefined, continueToken: string | undefined): Promise<ListPage<T>> {
    const query: Record<string, string> = { limit: String(LIST_PAGE) };
    if (continueToken) query.continue = continueToken;
    if (this.source.labelSelector) query.labelSelector = this.source.labelSelector;
    if (this.source.fieldSelector) query.fieldSelector = this.source.fieldSelector;
    const res = await this.request(this.watchPath(namespace), query, this.source.metadataOnly ? ACCEPT_METADATA_LIST : "application/json");
    const body = await readBody(res);
    if (res.statusCode !== 200) throw Object.assign(new Error(`Listing ${this.source.plural}${this.source.metadataOnly ? " (metadata)" : ""} failed: HTTP ${res.statusCode ?? 0}: ${body.slice(0, 300)}`), { statusCode: res.statusCode });
    // An empty PartialObjectMetadataList has "items": null.
    const list = JSON.parse(body) as { items: T[] | null; metadata?: ListPage<T>["metadata"] };
    return { items: list.items ?? [], ...(list.metadata ? { metadata: list.metadata } : {}) };
  }

  /** A watch of whole objects (client-node), or of their metadata only. */
  private startWatch(path: string, params: Record<string, string | boolean>, callback: WatchCallback, done: (err: unknown) => void): Promise<AbortController> {
    return this.source.metadataOnly ? this.watchMetadata(path, params, callback, done) : this.watch.watch(path, params, callback, done);
  }

  /**
   * A metadata-only watch, with k8s.Watch's contract: events go to
   * `callback`, the end (null) or the failure to `done`, once; the returned
   * controller aborts it.
   */
  private async watchMetadata(path: string, params: Record<string, string | boolean>, callback: WatchCallback, done: (err: unknown) => void): Promise<AbortController> {
    const controller = new AbortController();
    const query = Object.fromEntries(Object.entries({ ...params, watch: true }).map(([k, v]) => [k, String(v)]));
    const res = await this.request(path, query, ACCEPT_METADATA, controller.signal);
    if (res.statusCode !== 200) {
      const body = await readBody(res).catch(() => "");
      done(Object.assign(new Error(`Watching ${this.source.plural} (metadata) failed: HTTP ${res.statusCode ?? 0}: ${body.slice(0, 300)}`), { statusCode: res.statusCode }));
      return controller;
    }
    let finished = false;
    const finish = (err: unknown): void => {
      if (finished) return;
      finished = true;
      controller.abort();
      done(err);
    };
    res.on("error", finish);
    const lines = createInterface({ input: res });
    // readline re-emits its input's errors (an abort on stop(), a connection
    // the API server reset); unheard, that 'error' would end the process.
    lines.on("error", finish);
    lines.on("line", (line) => {
      if (!line) return;
      try {
        const event = JSON.parse(line) as { type: string; object: unknown };
        callback(event.type, event.object);
      } catch (err) {
        finish(err);
      }
    });
    lines.on("close", () => { finish(null); });
    return controller;
  }

  /** GET on the API server with the kubeconfig's credentials and TLS settings. */
  private async request(path: string, query: Record<string, string>, accept: string, signal?: AbortSignal): Promise<http.IncomingMessage> {
    const url = new URL(`${this.kc.getCurrentCluster()?.server ?? ""}${path}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const opts: https.RequestOptions = { method: "GET", headers: { Accept: accept }, ...(signal ? { signal } : {}) };
    await this.kc.applyToHTTPSOptions(opts);
    const send = url.protocol === "http:" ? http.request : https.request;
    return new Promise((resolve, reject) => {
      const req = send(url, opts, resolve);
      req.on("socket", (socket) => socket.setKeepAlive(true, 30_000));
      req.on("error", reject);
      req.end();
    });
  }
}

async function readBody(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function backoff(failures: number): number {
  const base = Math.min(500 * 2 ** (failures - 1), 30_000);
  return Math.round(base * (0.8 + 0.4 * Math.random()));
}
