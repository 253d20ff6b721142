import { randomBytes } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import type { Logger } from "../telemetry/logger.js";
import { mergePatch } from "./kube.js";

interface Seen {
  name: string;
  count: number;
  at: number;
}

/**
 * Records core/v1 Events on objects, as `kubectl describe` shows them. The
 * same reason and message on the same object within ten minutes bumps the
 * count of the existing Event instead of creating another, so a retry loop
 * does not flood the API server. Event failures are logged, never fatal.
 */
export class EventRecorder {
  private readonly seen = new Map<string, Seen>();

  constructor(
    private readonly core: k8s.CoreV1Api,
    private readonly component: string,
    private readonly log: Logger,
  ) {}

  async record(obj: k8s.KubernetesObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const m = obj.metadata ?? {};
    const namespace = m.namespace ?? "default";
    const dedupeKey = `${m.uid ?? ""}/${type}/${reason}/${message}`;
    const now = new Date();
    const seen = this.seen.get(dedupeKey);
    try {
      if (seen && now.getTime() - seen.at < 10 * 60_000) {
        seen.count++;
        seen.at = now.getTime();
        await this.core.patchNamespacedEvent(
          { name: seen.name, namespace, body: { count: seen.count, lastTimestamp: now } },
          mergePatch,
        );
        return;
      }
      const name = `${m.name ?? "object"}.${randomBytes(8).toString("hex")}`;
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name, namespace },
          involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: m.name, namespace, uid: m.uid, resourceVersion: m.resourceVersion },
          type,
          reason,
          message,
          source: { component: this.component },
          reportingComponent: this.component,
          reportingInstance: this.component,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
      this.seen.set(dedupeKey, { name, count: 1, at: now.getTime() });
      if (this.seen.size > 10_000) this.seen.clear();
    } catch (err) {
      this.log.warn({ err: String(err), kind: obj.kind, name: m.name, namespace, reason }, "Could not record event");
    }
  }
}
