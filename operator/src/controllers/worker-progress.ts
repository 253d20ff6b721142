import { DEFAULT_WORKER_PORT, type WorkerProgress } from "../worker/spec.js";
import { isFailedAttemptMessage, type StatusNote } from "../workloads/worker-job.js";

/**
 * Asks a running worker for its progress (GET /progress on its pod IP).
 * Undefined when it does not answer within the timeout: a worker that is
 * starting, or just gone, is simply not reported this time.
 */
export async function fetchProgress(podIP: string, port = DEFAULT_WORKER_PORT, timeoutMs = 1500): Promise<WorkerProgress | undefined> {
  try {
    const res = await fetch(`http://${podIP}:${port}/progress`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return undefined;
    return (await res.json()) as WorkerProgress;
  } catch {
    return undefined;
  }
}

/**
 * Sets a worker's upload limit (PUT /bandwidth; 0 = unlimited), with the
 * Job's control token (workloads/worker-token.ts). Returns whether the
 * worker took it.
 */
export async function setBandwidth(podIP: string, bytesPerSecond: number, token: string, port = DEFAULT_WORKER_PORT, timeoutMs = 1500): Promise<boolean> {
  try {
    const res = await fetch(`http://${podIP}:${port}/bandwidth`, {
      method: "PUT",
      body: String(Math.max(0, Math.floor(bytesPerSecond))),
      headers: { Authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * The outage a worker reports riding out, as a status reason and message:
 * the vault's first (every request fails), then vCenter's (at its login).
 */
export function workerOutage(progress: WorkerProgress): StatusNote | undefined {
  if (progress.vaultOutage) return { reason: "VaultUnavailable", message: progress.vaultOutage.message };
  if (progress.vcenterOutage) return { reason: "VCenterUnreachable", message: progress.vcenterOutage.message };
  return undefined;
}

const OUTAGE_REASONS: ReadonlySet<string> = new Set(["VaultUnavailable", "VCenterUnreachable"]);

/**
 * The reason of the worker outage a status shows, if it shows one. A failed
 * attempt's note can have the same reason ("attempt 1 of 4 failed
 * (VCenterUnreachable: …)"); it is not an outage the running worker
 * reports, and stays while the next attempt runs.
 */
export function shownOutage(shown: { readonly reason?: string | undefined; readonly message?: string | undefined } | undefined): string | undefined {
  if (!shown?.reason || !OUTAGE_REASONS.has(shown.reason) || isFailedAttemptMessage(shown.message)) return undefined;
  return shown.reason;
}
