import { isDeepStrictEqual } from "node:util";
import type * as k8s from "@kubernetes/client-node";
import { validateObject } from "../api/validation.js";
import type { Logger } from "../telemetry/logger.js";
import type { OperatorMetrics } from "../telemetry/metrics.js";
import { setCondition, type ConditionInput } from "./conditions.js";
import { describe } from "./errors.js";
import type { EventRecorder } from "./events.js";

/** Records Events; what a reconciler sees of the EventRecorder. */
export interface Events {
  record(obj: k8s.KubernetesObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}
import { objectKey, type Informer } from "./informer.js";
import { isConflict, type Kube, type LifeboatObject, type ObjectReader } from "./kube.js";
import { WorkQueue } from "./work-queue.js";

/** What a reconcile asks of the queue besides "done". */
export interface ReconcileResult {
  /** Reconcile again after this long, for state that cannot be watched (polling a peer, a schedule). */
  requeueAfterMs?: number;
}

/** An error retrying cannot fix (e.g. a spec the user must change); logged, not retried. */
export class TerminalError extends Error {}

/** What a reconciler gets besides the object. */
/** What a reconciler's warm-up may use: reads only. */
export interface WarmUpContext {
  readonly kube: Kube;
  readonly log: Logger;
}

export interface ReconcileContext {
  readonly kube: Kube;
  readonly log: Logger;
  /**
   * Events are held until the status the reconcile observed has been
   * written: a status write that fails (a conflict, a restart) is retried
   * from scratch, and its Events would otherwise be recorded twice.
   */
  readonly events: Events;
  /** The process's metrics, for domain metrics (backup progress, vault sizes). */
  readonly metrics: OperatorMetrics;
  /**
   * Runs `effect` once the status this reconcile observed has been written,
   * like Events: for counters that must count a transition once, even when
   * the status write conflicts and the reconcile runs again.
   */
  afterStatusWrite(effect: () => void): void;
  /** Sets a condition on the object's status, stamping observedGeneration and keeping transition times. */
  setCondition(obj: LifeboatObject, condition: ConditionInput): void;
  /** Queues an object of this controller for another reconcile, for changes seen outside the cluster (a vCenter's change feed). */
  enqueue(obj: LifeboatObject): void;
  /**
   * The objects of a lifeboat.io kind in a namespace as this operator's
   * informer cache holds them, for a reconcile that reads many objects:
   * listing them from the API server instead moves the whole collection on
   * every reconcile (10,000 RecoveryPoints, every minute, for a vault's sync).
   * The cache follows the API server by a watch event's delay, so a write
   * based on it must tolerate what it missed (AlreadyExists, NotFound).
   * Throws when the operator has no synced cache of the kind. The objects are
   * the cache's own: read them, never change them.
   */
  listCached<T extends LifeboatObject>(kind: string, namespace: string): T[];
  /**
   * Reads the lifeboat.io objects a reconcile refers to (its SitePair, the
   * sites' VCenters, Gateways and vaults) from the informer cache, as
   * controller-runtime's client does: reading them from the API server cost
   * 2,000 waiting ProtectedServers 43,000 GETs a minute at rest (bench:scale).
   * A referenced object's change that matters queues its referrers again
   * (reference-graph.ts), so a reconcile that saw it a moment late runs once
   * more. Returns a copy; reads the API server for a kind without a synced cache.
   */
  readonly cache: ObjectReader;
}

/**
 * One reconciler per kind. The runtime does the generic part of the
 * controller-runtime contract around it: read (from the cache when it is current), return on NotFound, add
 * the finalizer first, branch on deletion, validate the spec, and patch
 * status (deferred, also after an error) only when it changed.
 */
export interface Reconciler<T extends LifeboatObject> {
  readonly kind: string;
  /** The condition a spec problem is reported on (Ready, Activated, Connected, ...). */
  readonly readyCondition: string;
  /** Finalizer this reconciler owns; added before any other work. */
  readonly finalizer?: string;
  /** Whether this object needs the finalizer (default: every object does); objects with nothing to clean up are deleted without waiting for the operator. */
  needsFinalizer?(obj: T): boolean;
  reconcile(obj: T, ctx: ReconcileContext): Promise<ReconcileResult | undefined>;
  /** Clean-up on deletion. Return requeueAfterMs to keep the finalizer and try later (e.g. still in use). */
  finalize?(obj: T, ctx: ReconcileContext): Promise<ReconcileResult | undefined>;
  /**
   * Sets the object's gauges from what the reconcile observed (its status),
   * after every reconcile, also one that failed or found the spec invalid:
   * metrics read from the object stay level-triggered, right after a restart too.
   */
  recordMetrics?(obj: T, metrics: OperatorMetrics): void;
  /** Removes the object's series once it is gone, so that no gauge outlives its object (and no alert fires for it). */
  forgetMetrics?(namespace: string, name: string, metrics: OperatorMetrics): void;
  /**
   * Pods whose coming, going or changing concerns objects of this kind (a
   * Gateway counts its running workers): the label that selects them, and
   * the keys of the objects (among `objects`, this kind's cache) a pod
   * concerns. The operator watches their metadata only.
   */
  readonly pods?: { readonly labelSelector: string; keysOf(pod: k8s.KubernetesObject, objects: readonly T[]): string[] };
  /**
   * Objects of this kind that one of them concerns beside itself (the other
   * members of a ProtectedServer's consistency group): the keys of its peers
   * among `objects`, this kind's cache, and which of its updates concern
   * them (an update maps its old peers too).
   */
  readonly peers?: { keysOf(obj: T, objects: readonly T[]): string[]; changed(old: T, obj: T): boolean };
  /**
   * Read-only preparation for the first reconciles, run once the caches
   * have synced whether or not this replica leads: a standby does it too,
   * so it takes over warm, and a restarted operator does it while the Lease
   * of the one it replaces runs out, not in the burst of every
   * controller's first reconciles when it begins to lead. It must write
   * nothing (a standby does not own the objects); its failures are the
   * reconcile's to report.
   */
  warmUp?(objects: readonly T[], ctx: WarmUpContext): Promise<void>;
  /**
   * What else of an update of a user (an object of `kind` that refers to
   * this kind, see referenceGraph) this reconciler acts on, beyond
   * meaningfulChange, which ignores status: a ProtectedServer keeps and
   * publishes the points its drills pin, and a drill's status names its point.
   */
  userChanged?(kind: string, old: k8s.KubernetesObject, obj: k8s.KubernetesObject): boolean;
}

export interface ControllerOptions<T extends LifeboatObject> {
  readonly name: string;
  readonly reconciler: Reconciler<T>;
  readonly informer: Informer<T>;
  readonly kube: Kube;
  readonly log: Logger;
  readonly metrics: OperatorMetrics;
  readonly events: EventRecorder;
  readonly workers?: number;
  /** Every object is reconciled again at about this interval (with ±10% jitter), as a safety net; DEFAULT_RESYNC_MS by default. */
  readonly resyncMs?: number;
  /** The operator's informer of a kind, for ReconcileContext.listCached; undefined for a kind it does not watch. */
  readonly cache?: (kind: string) => Informer<LifeboatObject> | undefined;
}

/**
 * How often every object is reconciled again with no event to say so, as a
 * safety net: 10 hours (±10 %), controller-runtime's default SyncPeriod.
 * Changes arrive through watches, and what cannot be watched (a vault, a
 * schedule, a running worker) is polled with requeueAfter; a resync only
 * catches what those missed. It is not free here: a reconcile reads its
 * object and what it refers to from the API server, about four requests per
 * object (bench:scale), so the former 10 minutes cost a cluster of 13,000
 * objects more than 5,000 requests a minute at rest.
 */
export const DEFAULT_RESYNC_MS = 10 * 3600_000;

/** Whether an update changed what a reconciler acts on: generation (spec), labels, annotations, finalizers or deletion. */
export function meaningfulChange(old: k8s.KubernetesObject, obj: k8s.KubernetesObject): boolean {
  const a = old.metadata ?? {};
  const b = obj.metadata ?? {};
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    !isDeepStrictEqual(a.labels ?? {}, b.labels ?? {}) ||
    !isDeepStrictEqual(a.annotations ?? {}, b.annotations ?? {}) ||
    !isDeepStrictEqual(a.finalizers ?? [], b.finalizers ?? [])
  );
}

/** An object's conditions as those who read them see them: type, status, reason and message (not the times). */
function conditionsOf(obj: k8s.KubernetesObject): string[] {
  const conditions = (obj as { status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } }).status?.conditions ?? [];
  return conditions.map((c) => JSON.stringify([c.type, c.status, c.reason ?? "", c.message ?? ""])).sort();
}

/** Whether an update changed an object's conditions (type, status, reason or message). */
export function conditionsChanged(old: k8s.KubernetesObject, obj: k8s.KubernetesObject): boolean {
  return !isDeepStrictEqual(conditionsOf(old), conditionsOf(obj));
}

/**
 * Whether an update of an object others refer to can matter to them: what
 * they act on is its spec, metadata and deletion (meaningfulChange) and its
 * conditions (a Gateway becoming Activated makes its BackupPlans Ready).
 * Status writes that only move counters or times (a vault's lastSyncTime and
 * sizes on every sync) change nothing for them; reconciling every object that
 * refers to the vault on each of those is what made 10,000 RecoveryPoints and
 * every BackupPlan of a vault reconcile once a minute at rest.
 */
export function referencedChange(old: k8s.KubernetesObject, obj: k8s.KubernetesObject): boolean {
  return meaningfulChange(old, obj) || conditionsChanged(old, obj);
}

/**
 * Drives a reconciler from a work queue fed by informers: its own kind's
 * events, and any related objects mapped to its keys (a Secret change to the
 * Gateways that use it).
 */
export class Controller<T extends LifeboatObject> {
  private readonly queue = new WorkQueue();
  private running: Promise<void>[] = [];
  private resyncTimer?: NodeJS.Timeout;
  private readonly log: Logger;
  /**
   * The resourceVersion of each object as this controller last read it from
   * the API server or wrote it there. A reconcile starts from the informer's
   * copy only when that copy is this very version; any other (the cache is
   * behind this controller's own write, or ahead of it with someone else's)
   * is read fresh. So an object at rest costs no GET per reconcile, and a
   * reconcile never starts from a status older than the one it last wrote.
   */
  private readonly lastSeen = new Map<string, string>();

  constructor(private readonly opts: ControllerOptions<T>) {
    this.log = opts.log.child({ controller: opts.name });
    opts.informer.on((event, obj, old) => {
      // A write of our own status must not start another reconcile (that loops); spec, metadata and deletion changes do.
      if (event === "update" && old && !meaningfulChange(old, obj)) return;
      this.enqueue(objectKey(obj));
    });
  }

  /**
   * Also reconcile the keys `map` returns whenever an object of another
   * informer is added or deleted, or updated in a way `relevant` (when
   * given) says matters. An update maps the old object too: a server that
   * stops naming a policy (or a pair that changes vaults) concerns the one
   * it named before, whose count and in-use protection change with it.
   */
  watches<O extends k8s.KubernetesObject>(informer: Informer<O>, map: (obj: O) => string[], relevant?: (old: O, obj: O) => boolean): this {
    informer.on((event, obj, old) => {
      if (event === "update" && old && relevant && !relevant(old, obj)) return;
      const keys = new Set(map(obj));
      if (event === "update" && old) for (const key of map(old)) keys.add(key);
      for (const key of keys) this.enqueue(key);
    });
    return this;
  }

  enqueue(key: string): void {
    this.queue.add(key);
    this.opts.metrics.queueDepth.set({ controller: this.opts.name }, this.queue.length);
  }

  /** Runs the reconciler's warm-up (if it has one) on the cached objects; call once the informers have synced. Never throws. */
  async warmUp(): Promise<void> {
    const warmUp = this.opts.reconciler.warmUp?.bind(this.opts.reconciler);
    if (!warmUp) return;
    const objects = this.opts.informer.list().filter((o) => !o.metadata.deletionTimestamp);
    try {
      await warmUp(objects, { kube: this.opts.kube, log: this.log });
    } catch (err) {
      this.log.warn({ err }, "Warm-up failed; the reconciles will do its work");
    }
  }

  /** Starts the workers; call once the informers have synced. */
  start(): void {
    for (const obj of this.opts.informer.list()) {
      // The synced cache is what the API server listed and watched: the first reconciles need no GET each
      // (after a restart that was one GET per object, 13,000 in bench:scale). A stale copy fails its write (409) and is read again.
      this.remember(objectKey(obj), obj);
      this.enqueue(objectKey(obj));
    }
    const workers = this.opts.workers ?? 2;
    for (let i = 0; i < workers; i++) this.running.push(this.workerLoop());
    const resync = this.opts.resyncMs ?? DEFAULT_RESYNC_MS;
    const schedule = () => {
      this.resyncTimer = setTimeout(() => {
        for (const obj of this.opts.informer.list()) this.enqueue(objectKey(obj));
        schedule();
      }, resync * (0.9 + 0.2 * Math.random()));
      this.resyncTimer.unref();
    };
    schedule();
    this.log.info({ workers }, "Started controller");
  }

  /** Stops handing out work and waits for reconciles in flight to finish. */
  async stop(): Promise<void> {
    clearTimeout(this.resyncTimer);
    this.queue.shutdown();
    await Promise.all(this.running);
    this.running = [];
  }

  private async workerLoop(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.opts.metrics.queueDepth.set({ controller: this.opts.name }, this.queue.length);
      const end = this.opts.metrics.reconcileDuration.startTimer({ controller: this.opts.name });
      try {
        const result = await this.reconcileKey(key);
        this.queue.forget(key);
        if (result?.requeueAfterMs !== undefined) {
          this.queue.addAfter(key, result.requeueAfterMs);
          this.opts.metrics.reconcileTotal.inc({ controller: this.opts.name, result: "requeue" });
        } else {
          this.opts.metrics.reconcileTotal.inc({ controller: this.opts.name, result: "success" });
        }
      } catch (err) {
        // What failed may have been a write on a stale copy (409): the next reconcile reads fresh.
        this.lastSeen.delete(key);
        this.opts.metrics.reconcileErrors.inc({ controller: this.opts.name });
        if (err instanceof TerminalError) {
          this.queue.forget(key);
          this.opts.metrics.reconcileTotal.inc({ controller: this.opts.name, result: "terminal" });
          this.log.error({ key, err: describe(err) }, "Reconcile failed for good");
        } else {
          const delay = this.queue.addRateLimited(key);
          this.opts.metrics.queueRetries.inc({ controller: this.opts.name });
          this.opts.metrics.reconcileTotal.inc({ controller: this.opts.name, result: "error" });
          const conflict = isConflict(err) || (err instanceof Error && isConflict(err.cause));
          this.log[conflict ? "debug" : "warn"]({ key, err: describe(err), retryInMs: delay }, "Reconcile failed; retrying");
        }
      } finally {
        end();
        this.queue.done(key);
      }
    }
  }

  private context(log: Logger, pendingEffects: (() => Promise<void>)[]): ReconcileContext {
    return {
      kube: this.opts.kube,
      log,
      events: {
        record: (obj, type, reason, message) => {
          pendingEffects.push(() => this.opts.events.record(obj, type, reason, message));
          return Promise.resolve();
        },
      },
      metrics: this.opts.metrics,
      afterStatusWrite: (effect) => {
        pendingEffects.push(() => {
          effect();
          return Promise.resolve();
        });
      },
      enqueue: (obj) => { this.enqueue(objectKey(obj)); },
      cache: {
        get: <O extends LifeboatObject>(kind: string, namespace: string, name: string): Promise<O | undefined> => {
          const informer = this.opts.cache?.(kind);
          if (!informer?.hasSynced) return this.opts.kube.get<O>(kind, namespace, name);
          const cached = informer.get(`${namespace}/${name}`);
          return Promise.resolve(cached ? (structuredClone(cached) as O) : undefined);
        },
      },
      listCached: <O extends LifeboatObject>(kind: string, namespace: string): O[] => {
        const informer = this.opts.cache?.(kind);
        if (!informer?.hasSynced) throw new Error(`This operator has no synced cache of ${kind}`);
        return informer.list().filter((o) => o.metadata.namespace === namespace) as O[];
      },
      setCondition: (obj, condition) => {
        const status = (obj.status ??= {});
        status.conditions = setCondition(status.conditions, condition, obj.metadata.generation);
      },
    };
  }

  private async reconcileKey(key: string): Promise<ReconcileResult | undefined> {
    const [namespace = "", name = ""] = key.split("/");
    const r = this.opts.reconciler;
    const log = this.log.child({ kind: r.kind, namespace, name });
    let obj = await this.readOwn(key, namespace, name);
    if (!obj) {
      r.forgetMetrics?.(namespace, name, this.opts.metrics);
      return undefined;
    }
    // Events and other effects held until the status write (see ReconcileContext.events).
    const pendingEffects: (() => Promise<void>)[] = [];
    const ctx = this.context(log, pendingEffects);
    const flushEffects = async () => {
      for (const effect of pendingEffects.splice(0)) await effect();
    };
    const finalizers = obj.metadata.finalizers ?? [];

    if (obj.metadata.deletionTimestamp) {
      if (!r.finalizer || !finalizers.includes(r.finalizer)) return undefined;
      const before = structuredClone(obj.status);
      const result = r.finalize ? await r.finalize(obj, ctx) : undefined;
      if (result?.requeueAfterMs !== undefined) {
        await this.writeStatusIfChanged(obj, before);
        await flushEffects();
        return result;
      }
      await this.opts.kube.setFinalizers(obj, finalizers.filter((f) => f !== r.finalizer));
      this.lastSeen.delete(key);
      await flushEffects();
      log.info("Removed finalizer");
      return undefined;
    }

    if (r.finalizer && !finalizers.includes(r.finalizer) && (r.needsFinalizer?.(obj) ?? true)) {
      obj = await this.opts.kube.setFinalizers(obj, [...finalizers, r.finalizer]);
      this.remember(key, obj);
      log.debug("Added finalizer");
    }

    const before = structuredClone(obj.status);
    const problems = validateObject(r.kind, obj);
    if (problems.length > 0) {
      ctx.setCondition(obj, {
        type: r.readyCondition,
        status: "False",
        reason: "InvalidSpec",
        message: problems.map((p) => `${p.field}: ${p.message}`).join("; "),
      });
      r.recordMetrics?.(obj, this.opts.metrics);
      await this.writeStatusIfChanged(obj, before);
      return undefined;
    }

    let result: ReconcileResult | undefined;
    try {
      result = await r.reconcile(obj, ctx);
    } finally {
      // Deferred status write: what the reconciler observed is recorded even when it failed;
      // its Events and effects follow only once that write has succeeded.
      r.recordMetrics?.(obj, this.opts.metrics);
      await this.writeStatusIfChanged(obj, before);
      await flushEffects();
    }
    return result;
  }

  /**
   * The object a reconcile starts from: the informer's copy when it is the
   * version this controller last saw on the API server (see lastSeen), else
   * a GET. The copy is cloned: the reconcile changes its status.
   */
  private async readOwn(key: string, namespace: string, name: string): Promise<T | undefined> {
    const cached = this.opts.informer.get(key);
    const seen = this.lastSeen.get(key);
    if (cached && seen !== undefined && cached.metadata.resourceVersion === seen) return structuredClone(cached);
    const fresh = await this.opts.kube.get<T>(this.opts.reconciler.kind, namespace, name);
    this.remember(key, fresh);
    return fresh;
  }

  private remember(key: string, obj: T | undefined): void {
    const version = obj?.metadata.resourceVersion;
    if (version === undefined) this.lastSeen.delete(key);
    else this.lastSeen.set(key, version);
  }

  private async writeStatusIfChanged(obj: T, before: T["status"]): Promise<void> {
    const status = (obj.status ??= {});
    if (obj.metadata.generation !== undefined) status.observedGeneration = obj.metadata.generation;
    if (isDeepStrictEqual(before, obj.status)) return;
    const written = await this.opts.kube.replaceStatus(obj);
    this.remember(objectKey(obj), written);
  }
}
