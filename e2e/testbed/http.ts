import { request } from "node:https";
import { request as httpRequest } from "node:http";

/** A GET against a test-bed endpoint, trusting only the given CA. Resolves with status and body; never throws on HTTP errors. */
export function get(url: string, opts: { ca?: Buffer; token?: string; timeoutMs?: number } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = {};
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    const options = { method: "GET", headers, timeout: opts.timeoutMs ?? 5000, ...(opts.ca ? { ca: opts.ca } : {}) };
    const req = (u.protocol === "https:" ? request : httpRequest)(u, options, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => { resolve({ status: res.statusCode ?? 0, body }); });
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** Polls `check` until it returns a value, or throws after `timeoutMs` with the last error as cause. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
