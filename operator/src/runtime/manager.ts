import type { Server } from "node:http";
import * as k8s from "@kubernetes/client-node";
import { API_VERSION } from "../api/common.js";
import { kinds } from "../api/kinds.js";
import { cleanupReferences, referenceGraph } from "../controllers/reference-graph.js";
import { secretNames } from "../controllers/secret-holds.js";
import type { Logger } from "../telemetry/logger.js";
import type { OperatorMetrics } from "../telemetry/metrics.js";
import { Controller, meaningfulChange, referencedChange, type Reconciler } from "./controller.js";
import { EventRecorder } from "./events.js";
import { startHealthServer } from "./health-server.js";
import { Informer, objectKey } from "./informer.js";
import { Kube, type LifeboatObject } from "./kube.js";
import { LeaderElector, type LeaderElectionOptions } from "./leader-election.js";

export interface ManagerOptions {
  /**
   * Watch these namespaces only (each informer lists and watches each of
   * them, which a Role per namespace allows); all namespaces when undefined
   * or empty. Objects elsewhere are never read, written or reconciled.
   */
  readonly namespaces?: readonly string[];
  readonly leaderElection?: LeaderElectionOptions;
  readonly healthPort: number;
  /** Address of the health server; all addresses when undefined. */
  readonly healthBindAddress?: string;
  readonly log: Logger;
  readonly metrics: OperatorMetrics;
  readonly workersPerController?: number;
}

/**
 * Runs the controllers of one operator process: shared informers (started
 * at once, so a standby replica has warm caches), the health and metrics
 * server, leader election, and the controllers' workers while leading.
 * Related objects are wired from the reference graph, and Secrets to every
 * object whose spec names them, so a change anywhere reaches the objects it
 * affects through a watch, not by polling; and only a change they act on (a
 * referenced object's spec, metadata or conditions; a user's spec or
 * deletion), so that status writes that move counters do not fan out to
 * every object that refers to the writer. Worker pods reach the objects
 * whose workers they are (Reconciler.pods).
 */
export class Manager {
  readonly kube: Kube;
  private readonly informers = new Map<string, Informer<k8s.KubernetesObject>>();
  private readonly controllers: Controller<LifeboatObject>[] = [];
  private readonly events: EventRecorder;
  private synced = false;
  private stopping = false;
  private server?: Server;

  constructor(private readonly kc: k8s.KubeConfig, private readonly opts: ManagerOptions) {
    this.kube = new Kube(kc);
    this.kube.followSecretVersions((namespace, name) => {
      const secrets = this.informers.get("Secret");
      return secrets?.hasSynced ? secrets.get(`${namespace}/${name}`)?.metadata?.resourceVersion : undefined;
    });
    this.events = new EventRecorder(this.kube.core, "lifeboat-operator", opts.log);
  }

  /** The informer of a kind (of its objects with a label, when `labelSelector` is given), made on first use. */
  private informer<T extends k8s.KubernetesObject>(kind: string, labelSelector?: string): Informer<T> {
    const id = labelSelector ? `${kind}?${labelSelector}` : kind;
    let inf = this.informers.get(id);
    if (!inf) {
      const def = kinds.find((k) => k.kind === kind);
      const source = def
        ? { apiVersion: API_VERSION, kind, plural: def.plural, ...(this.opts.namespaces?.length ? { namespaces: this.opts.namespaces } : {}) }
        : {
          apiVersion: "v1",
          kind,
          plural: `${kind.toLowerCase()}s`,
          ...(this.opts.namespaces?.length ? { namespaces: this.opts.namespaces } : {}),
          ...(labelSelector ? { labelSelector } : {}),
          // Secrets and pods are watched to learn that one changed; their data and specs stay out of the cache.
          metadataOnly: kind === "Secret" || kind === "Pod",
        };
      inf = new Informer<k8s.KubernetesObject>(this.kc, source, this.opts.log);
      this.informers.set(id, inf);
    }
    return inf as unknown as Informer<T>;
  }

  /** Adds the controller of one kind, with its watches on referenced kinds, users and Secrets. */
  add<T extends LifeboatObject>(reconciler: Reconciler<T>): void {
    const own = this.informer<T>(reconciler.kind);
    const controller = new Controller<T>({
      name: reconciler.kind.toLowerCase(),
      reconciler,
      informer: own,
      kube: this.kube,
      log: this.opts.log,
      metrics: this.opts.metrics,
      events: this.events,
      workers: this.opts.workersPerController ?? 2,
      cache: (kind) => (kinds.some((k) => k.kind === kind) ? this.informers.get(kind) as Informer<LifeboatObject> | undefined : undefined),
    });
    const keysReferring = (ns: string | undefined, match: (o: T) => boolean) =>
      own.list().filter((o) => o.metadata.namespace === ns && match(o)).map(objectKey);
    const userChanged = reconciler.userChanged?.bind(reconciler);
    // In spec: a user's status writes are no reason to reconcile what it uses, unless the reconciler says what of them is.
    this.watchReferences(controller, reconciler.kind, keysReferring, referenceGraph, "spec",
      (from) => (userChanged ? (old, obj) => meaningfulChange(old, obj) || userChanged(from, old, obj) : meaningfulChange));
    // In status (cleanupReferences): a user that holds an object for its clean-up lets go when its finalizer goes, or it does.
    this.watchReferences(controller, reconciler.kind, keysReferring, cleanupReferences, "status", () => meaningfulChange);
    controller.watches(this.informer<k8s.KubernetesObject>("Secret"), (secret) =>
      keysReferring(secret.metadata?.namespace, (o) => secretNames(o.spec).includes(secret.metadata?.name ?? "")),
    );
    const pods = reconciler.pods;
    if (pods) controller.watches(this.informer<k8s.KubernetesObject>("Pod", pods.labelSelector), (pod) => pods.keysOf(pod, own.list()));
    const peers = reconciler.peers;
    if (peers) controller.watches(own, (obj) => peers.keysOf(obj, own.list()), (old, obj) => peers.changed(old, obj));
    this.controllers.push(controller as unknown as Controller<LifeboatObject>);
  }

  /**
   * Watches both ends of `refs`, whose names a referring object gives in its
   * `part`: when something `kind` refers to changes (spec, metadata or
   * conditions), the objects of `kind` that refer to it are reconciled; when
   * a user of `kind` comes, goes or changes as `userRelevant` says, the
   * objects it names are (in-use protection may release).
   */
  private watchReferences<T extends LifeboatObject>(
    controller: Controller<T>,
    kind: string,
    keysReferring: (ns: string | undefined, match: (o: T) => boolean) => string[],
    refs: readonly { from: string; to: string; names: (part: never) => (string | undefined)[] }[],
    part: "spec" | "status",
    userRelevant: (from: string) => (old: LifeboatObject, obj: LifeboatObject) => boolean,
  ): void {
    for (const ref of refs) {
      if (ref.from === kind) {
        controller.watches(this.informer<LifeboatObject>(ref.to), (target) =>
          keysReferring(target.metadata.namespace, (o) => ref.names(o[part] as never).includes(target.metadata.name)),
        referencedChange);
      }
      if (ref.to === kind) {
        controller.watches(this.informer<LifeboatObject>(ref.from), (user) =>
          ref.names(user[part] as never).filter((n): n is string => n !== undefined).map((n) => `${user.metadata.namespace ?? ""}/${n}`),
        userRelevant(ref.from));
      }
    }
  }

  /** Runs until the signal aborts; resolves after a graceful stop. Rejects if leadership is lost. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.opts.log;
    this.server = await startHealthServer(this.opts.healthPort, this.opts.healthBindAddress, { healthy: () => !this.stopping, ready: () => this.synced }, this.opts.metrics.registry);
    log.info({ port: this.opts.healthPort, address: this.opts.healthBindAddress ?? "*" }, "Serving /healthz, /readyz and /metrics");
    await Promise.all([...this.informers.values()].map((i) => i.start()));
    this.synced = true;
    log.info({ informers: [...this.informers.keys()] }, "Caches synced");
    // Not awaited: leader election must not wait for it (reads only; see Reconciler.warmUp).
    void Promise.all(this.controllers.map((c) => c.warmUp()));

    let lost: string | undefined;
    const startControllers = () => {
      this.opts.metrics.leader.set(1);
      for (const c of this.controllers) c.start();
    };
    if (this.opts.leaderElection) {
      const elector = new LeaderElector(this.kc, this.opts.leaderElection, log);
      await elector.run(signal, startControllers, (reason) => {
        if (reason !== "shutting down") lost = reason;
      });
    } else {
      startControllers();
      await new Promise<void>((resolve) => { signal.addEventListener("abort", () => { resolve(); }, { once: true }); });
    }
    await this.shutdown();
    if (lost) throw new Error(`Lost leadership: ${lost}`);
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.opts.metrics.leader.set(0);
    await Promise.all(this.controllers.map((c) => c.stop()));
    for (const i of this.informers.values()) i.stop();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
    this.opts.log.info("Stopped");
  }
}
