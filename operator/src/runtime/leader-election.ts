import * as k8s from "@kubernetes/client-node";
import type { Logger } from "../telemetry/logger.js";
import { isConflict, isNotFound } from "./kube.js";

export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly name: string;
  /** This replica's identity, e.g. its pod name. */
  readonly identity: string;
  /** How long a lease is valid without renewal; a standby takes over after it. */
  readonly leaseDurationMs?: number;
  /** The leader gives up if it cannot renew for this long. */
  readonly renewDeadlineMs?: number;
  /** How often to try to acquire or renew. */
  readonly retryPeriodMs?: number;
}

/** Rejects when `promise` takes longer than `ms`: a hung lease call must count as a failed renewal. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error(`lease call timed out after ${ms} ms`)); }, ms);
    promise.then(
      (v) => { clearTimeout(t); resolve(v); },
      (e: unknown) => { clearTimeout(t); reject(e instanceof Error ? e : new Error(String(e))); },
    );
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

/**
 * Leader election on a coordination.k8s.io Lease, with client-go's rules:
 * a standby takes the lease only when it has not seen it renewed for a whole
 * lease duration (measured on its own clock, so clock skew between nodes does
 * not matter); writes are guarded by resourceVersion, so two candidates never
 * both win; a leader that cannot renew within the renew deadline steps down;
 * on shutdown the leader releases the lease so a standby takes over at once.
 */
export class LeaderElector {
  private readonly api: k8s.CoordinationV1Api;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private observed?: { record: string; at: number };
  /** One lease call may take this long; leaves room to try again within the renew deadline. */
  private get callTimeoutMs(): number {
    return Math.max(1000, Math.floor(this.renewDeadlineMs / 3));
  }
  private leading = false;

  constructor(kc: k8s.KubeConfig, private readonly opts: LeaderElectionOptions, private readonly log: Logger) {
    this.api = kc.makeApiClient(k8s.CoordinationV1Api);
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until elected, calls `onStartedLeading`, renews until the
   * signal aborts (then releases) or renewal fails (then calls
   * `onStoppedLeading`). Resolves when leadership ends.
   */
  async run(signal: AbortSignal, onStartedLeading: () => void, onStoppedLeading: (reason: string) => void): Promise<void> {
    for (;;) {
      if (signal.aborted) return;
      if (await this.tryAcquireOrRenew()) break;
      await sleep(this.retryPeriodMs, signal);
    }
    this.leading = true;
    this.log.info({ lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity }, "Became leader");
    onStartedLeading();
    let lastRenew = Date.now();
    const aborted = () => signal.aborted;
    while (!aborted()) {
      await sleep(this.retryPeriodMs, signal);
      if (aborted()) break;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = Date.now();
      } else if (Date.now() - lastRenew > this.renewDeadlineMs) {
        this.leading = false;
        this.log.error({ lease: `${this.opts.namespace}/${this.opts.name}` }, "Lost leadership: could not renew the lease in time");
        onStoppedLeading("renew deadline exceeded");
        return;
      }
    }
    await this.release();
    this.leading = false;
    onStoppedLeading("shutting down");
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new k8s.V1MicroTime();
    const { namespace, name, identity } = this.opts;
    let lease: k8s.V1Lease;
    try {
      lease = await withTimeout(this.api.readNamespacedLease({ namespace, name }), this.callTimeoutMs);
    } catch (err) {
      if (!isNotFound(err)) {
        this.log.warn({ err: String(err) }, "Could not read the leader lease");
        return false;
      }
      try {
        await withTimeout(this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000), acquireTime: now, renewTime: now, leaseTransitions: 0 },
          },
        }), this.callTimeoutMs);
        return true;
      } catch (createErr) {
        if (!isConflict(createErr)) this.log.warn({ err: String(createErr) }, "Could not create the leader lease");
        return false;
      }
    }
    const spec = lease.spec ?? {};
    const record = `${spec.holderIdentity ?? ""}/${String(spec.renewTime)}`;
    if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
    const holder = spec.holderIdentity ?? "";
    const expired = Date.now() - this.observed.at > this.leaseDurationMs;
    if (holder && holder !== identity && !expired) return false;
    const body: k8s.V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
        renewTime: now,
        ...(holder !== identity ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
      },
    };
    try {
      await withTimeout(this.api.replaceNamespacedLease({ namespace, name, body }), this.callTimeoutMs);
      return true;
    } catch (err) {
      if (!isConflict(err)) this.log.warn({ err: String(err) }, "Could not update the leader lease");
      return false;
    }
  }

  /** Gives the lease up so a standby need not wait for it to expire. */
  private async release(): Promise<void> {
    try {
      const lease = await this.api.readNamespacedLease({ namespace: this.opts.namespace, name: this.opts.name });
      if (lease.spec?.holderIdentity !== this.opts.identity) return;
      await this.api.replaceNamespacedLease({
        namespace: this.opts.namespace,
        name: this.opts.name,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1 } },
      });
      this.log.info({ lease: `${this.opts.namespace}/${this.opts.name}` }, "Released leadership");
    } catch (err) {
      this.log.warn({ err: String(err) }, "Could not release the leader lease");
    }
  }
}
