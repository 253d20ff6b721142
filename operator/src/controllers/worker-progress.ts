import { DEFAULT_WORKER_PORT, type WorkerProgress } from "../worker/spec.js";

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
