import { faultToError, TaskCancelledError, VsphereError } from "./errors.js";
import { PropertyWatch } from "./property-collector.js";
import type { Session } from "./session.js";
import { child, children, moRefEl, moRefOf, num, text, xsiType, type MoRef } from "./xml.js";

/**
 * vSphere tasks: most changes (snapshots, reconfigure, create, power) return
 * a Task object at once and finish later. {@link waitForTask} follows the
 * task's info through the property collector (no polling), reports progress,
 * and cancels the task when the caller's AbortSignal fires.
 */

export interface TaskInfo {
  readonly state: "queued" | "running" | "success" | "error";
  readonly progress?: number;
  readonly cancelled: boolean;
  readonly cancelable: boolean;
  readonly descriptionId?: string;
  /** The raw result value (decode with moRefOf for tasks that return an object). */
  readonly result: unknown;
  readonly errorName?: string;
  readonly errorMessage?: string;
}

export interface WaitOptions {
  /** Called whenever the task's progress (0-100) changes. */
  readonly onProgress?: (percent: number) => void;
  /** Aborting cancels the task on the server and rejects with TaskCancelledError. */
  readonly signal?: AbortSignal;
  /** Give up waiting (the task keeps running) after this long; default: no limit. */
  readonly timeoutMs?: number;
}

/** Decodes a TaskInfo value. Exported for unit tests. */
export function decodeTaskInfo(info: unknown): TaskInfo {
  const state = text(info, "state");
  const error = child(info, "error");
  const fault = child(error, "fault");
  const messages = [text(error, "localizedMessage"), ...children(fault, "faultMessage").map((m) => text(m, "message"))]
    .filter((m): m is string => m !== undefined && m !== "" && !m.startsWith("*types."));
  const progress = num(info, "progress");
  const descriptionId = text(info, "descriptionId");
  const errorName = fault !== undefined ? (xsiType(fault) ?? "SystemError") : undefined;
  return {
    state: state === "queued" || state === "running" || state === "success" || state === "error" ? state : "running",
    ...(progress !== undefined ? { progress } : {}),
    cancelled: text(info, "cancelled") === "true",
    cancelable: text(info, "cancelable") === "true",
    ...(descriptionId ? { descriptionId } : {}),
    result: child(info, "result"),
    ...(errorName ? { errorName } : {}),
    ...(error !== undefined ? { errorMessage: messages.join("; ") || errorName } : {}),
  };
}

/** Asks the server to cancel a task (it may be too late; the task then ends as it would have). */
export async function cancelTask(session: Session, task: MoRef): Promise<void> {
  await session.call("CancelTask", moRefEl("_this", task));
}

/**
 * Waits for a task to finish and resolves with its result value; rejects
 * with TaskFailedError (or the specific fault class) naming the fault, or
 * TaskCancelledError.
 */
export async function waitForTask(session: Session, task: MoRef, what: string, opts: WaitOptions = {}): Promise<unknown> {
  const watch = await PropertyWatch.start(session, { propSet: [{ type: "Task", pathSet: ["info"] }], objectSet: [{ obj: task }] });
  const deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : undefined;
  const cancel = { requested: false };
  let lastProgress = -1;
  const onAbort = () => {
    cancel.requested = true;
    void cancelTask(session, task).catch(() => undefined);
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  try {
    for (;;) {
      const remaining = deadline === undefined ? 30 : Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      const updates = await watch.next(Math.min(30, remaining));
      for (const u of updates) {
        for (const c of u.changes) {
          if (c.name !== "info") continue;
          const info = decodeTaskInfo(c.val);
          if (info.progress !== undefined && info.progress !== lastProgress) {
            lastProgress = info.progress;
            opts.onProgress?.(info.progress);
          }
          if (info.state === "success") {
            if (lastProgress !== 100) opts.onProgress?.(100);
            return info.result;
          }
          if (info.state === "error") {
            const message = `${what} failed: ${info.errorMessage ?? "unknown error"}`;
            if (info.cancelled || cancel.requested || info.errorName === "RequestCanceled") {
              throw new TaskCancelledError(info.errorName ?? "RequestCanceled", `${what} was cancelled`);
            }
            throw faultToError(info.errorName ?? "SystemError", message, { task: true });
          }
        }
      }
      if (deadline !== undefined && Date.now() >= deadline) {
        throw new VsphereError(`${what}: task ${task.value} did not finish within ${Math.round((opts.timeoutMs ?? 0) / 1000)} s`);
      }
    }
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    await watch.destroy();
  }
}

/** Reads the MoRef a task returned (CreateSnapshot, CreateVM). */
export function resultRef(result: unknown, what: string): MoRef {
  const ref = moRefOf(result);
  if (!ref) throw new VsphereError(`${what}: the task returned no object reference`);
  return ref;
}

/** The MoRef in a `..._Task` method's response. */
export function taskRef(response: unknown, method: string): MoRef {
  const ref = moRefOf(child(response, "returnval"));
  if (!ref) throw new VsphereError(`${method} returned no task`);
  return ref;
}
