import type * as k8s from "@kubernetes/client-node";
import type { Gateway } from "../api/generated/types.js";
import { KeyedLock } from "../util/keyed-lock.js";
import type { Kube } from "../runtime/kube.js";
import { labelValue, WORKER_LABELS, workerCpu } from "../workloads/worker-job.js";
import { FairQueue } from "./replication-schedule.js";

/** True once a Job has finished, either way: it no longer holds a worker slot. */
export function jobFinished(job: k8s.V1Job): boolean {
  return (job.status?.conditions ?? []).some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
}

/** True once the Job has failed for good (its last pod, or its failure policy, ended it). */
export function jobFailed(job: k8s.V1Job): boolean {
  return (job.status?.conditions ?? []).some((c) => c.type === "Failed" && c.status === "True");
}

/**
 * How many workers a Gateway runs at once: its maxWorkers, and no more than
 * fit in its maxCpu at the CPU each worker requests (at least one, so a plan
 * whose workers ask for more than maxCpu still progresses, one at a time).
 */
function gatewayWorkerLimit(gateway: Gateway): number {
  return Math.max(1, Math.min(gateway.spec.maxWorkers ?? 4, Math.floor((gateway.spec.maxCpu ?? 4) / workerCpu(gateway))));
}

/** The slots of one Gateway while its lock is held: how many are taken, how many exist. */
export interface GatewaySlots {
  active: number;
  readonly limit: number;
}

/**
 * Hands out a Gateway's worker slots to backup runs and restores alike.
 *
 * Counting and creating must be one step: two plans (or a plan and a
 * restore) reconciled at the same time would otherwise both see a free slot
 * and both take it. Only the leader creates workers, so a lock in this
 * process is enough; the count is read from the API server, not a cache, so
 * it includes Jobs created a moment ago.
 */
export class GatewayCapacity {
  private readonly lock = new KeyedLock();
  /** Replication cycles waiting for a slot, per Gateway: the longest waiting goes first. */
  private readonly queues = new Map<string, FairQueue>();

  /**
   * Runs `use` with the Gateway's slots counted and no other user of the same
   * Gateway running; `use` increments `active` for every worker it creates.
   */
  withSlots<T>(kube: Kube, namespace: string, gateway: Gateway, use: (slots: GatewaySlots) => Promise<T>): Promise<T> {
    const name = gateway.metadata.name ?? "";
    return this.lock.run(`${namespace}/${name}`, async () => {
      const jobs = await kube.batch.listNamespacedJob({ namespace, labelSelector: `${WORKER_LABELS.gateway}=${labelValue(name)}` });
      // Maintenance passes (retention, prune) take no slot: they are short and must never hold a backup back.
      const workers = jobs.items.filter((j) => !jobFinished(j) && !j.metadata?.labels?.[WORKER_LABELS.maintenanceKind]);
      return use({ active: workers.length, limit: gatewayWorkerLimit(gateway) });
    });
  }

  /**
   * Like withSlots, for a replication cycle of `waiter` due since `since`:
   * many protected servers share a Gateway, and a slot that frees up goes to
   * the one that has waited longest, not to whichever is reconciled first.
   * `use` runs only when a slot is free and `waiter` is first in line; the
   * result says who it waits behind otherwise.
   */
  async withFairSlot<T>(kube: Kube, namespace: string, gateway: Gateway, waiter: string, since: Date, use: (slots: GatewaySlots) => Promise<T>): Promise<{ ran: true; value: T } | { ran: false; waitingFor: string }> {
    const key = `${namespace}/${gateway.metadata.name ?? ""}`;
    let queue = this.queues.get(key);
    if (!queue) this.queues.set(key, (queue = new FairQueue()));
    const first = queue.ask(waiter, since);
    return this.withSlots(kube, namespace, gateway, async (slots) => {
      if (slots.active >= slots.limit) return { ran: false as const, waitingFor: `Gateway ${gateway.metadata.name ?? ""} runs ${slots.active} of its ${slots.limit} workers` };
      if (!first) return { ran: false as const, waitingFor: `servers that have waited longer for Gateway ${gateway.metadata.name ?? ""} go first (${queue.line().slice(0, 3).join(", ")})` };
      const value = await use(slots);
      queue.leave(waiter);
      return { ran: true as const, value };
    });
  }

  /** `waiter` no longer waits on any Gateway (its server was deleted). */
  forget(waiter: string): void {
    for (const queue of this.queues.values()) queue.leave(waiter);
  }
}
