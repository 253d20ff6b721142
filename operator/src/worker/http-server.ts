/**
 * The worker's HTTP endpoints (spec.ts): GET /progress, GET /metrics,
 * GET /healthz and GET|PUT /bandwidth. Plain node:http: the controller
 * reaches the pod IP from inside the cluster. Reading needs no credentials,
 * as nothing served is secret (Prometheus scrapes /metrics without any).
 * Changing the worker (PUT /bandwidth) needs the per-Job control token
 * (CONTROL_TOKEN_ENV) as a bearer token: otherwise any pod that can reach the
 * pod IP could lift the Gateway's bandwidth limit.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { WorkerMetrics } from "./metrics.js";
import type { ProgressTracker } from "./progress.js";
import { TokenBucket } from "./token-bucket.js";

export interface WorkerServerOptions {
  readonly host: string;
  readonly port: number;
  readonly progress: ProgressTracker;
  readonly metrics: WorkerMetrics;
  readonly bandwidth: TokenBucket;
  readonly onBandwidth?: (bytesPerSecond: number) => void;
  /** The token PUT requests must carry (Authorization: Bearer); undefined or empty: every PUT is refused. */
  readonly controlToken?: string | undefined;
}

const MAX_BODY = 1024;

function send(res: ServerResponse, status: number, body: string, type = "application/json"): void {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store" });
  res.end(body);
}

function readSmallBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error(`The body is larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => { resolve(Buffer.concat(chunks).toString("utf8")); });
    req.on("error", reject);
  });
}

/**
 * Parses a PUT /bandwidth body: a number of bytes per second ("0":
 * unlimited), as plain text or JSON ({"bytesPerSecond": n} or n).
 */
export function parseBandwidth(body: string): number {
  const text = body.trim();
  let value: unknown = text;
  if (text.startsWith("{")) value = (JSON.parse(text) as { bytesPerSecond?: unknown }).bytesPerSecond;
  const n = typeof value === "number" ? value : typeof value === "string" && /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  TokenBucket.validate(n);
  return Math.floor(n);
}

/**
 * Whether a request carries the control token. Both sides are hashed first
 * so that timingSafeEqual compares equal lengths and the time taken says
 * nothing about the token, not even its length. No token configured: never.
 */
export function hasControlToken(authorization: string | undefined, token: string | undefined): boolean {
  if (!token) return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  const given = createHash("sha256").update(match?.[1] ?? "").digest();
  const expected = createHash("sha256").update(token).digest();
  return timingSafeEqual(given, expected) && match !== null;
}

async function handle(opts: WorkerServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? "/", "http://worker").pathname;
  if (path === "/progress" && req.method === "GET") {
    send(res, 200, JSON.stringify(opts.progress.current));
  } else if (path === "/metrics" && req.method === "GET") {
    send(res, 200, await opts.metrics.registry.metrics(), opts.metrics.registry.contentType);
  } else if (path === "/bandwidth" && req.method === "PUT") {
    if (!hasControlToken(req.headers.authorization, opts.controlToken)) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="lifeboat-worker"');
      send(res, 401, JSON.stringify({ error: "PUT /bandwidth needs the worker's control token (Authorization: Bearer); only the operator has it" }));
      return;
    }
    let rate: number;
    try {
      rate = parseBandwidth(await readSmallBody(req));
    } catch (err) {
      send(res, 400, JSON.stringify({ error: `Send the limit in bytes per second ("0" for unlimited): ${(err as Error).message}` }));
      return;
    }
    opts.bandwidth.setRate(rate);
    opts.onBandwidth?.(rate);
    send(res, 200, JSON.stringify({ bytesPerSecond: rate }));
  } else if (path === "/bandwidth" && req.method === "GET") {
    send(res, 200, JSON.stringify({ bytesPerSecond: opts.bandwidth.bytesPerSecond }));
  } else if (path === "/healthz" && req.method === "GET") {
    send(res, 200, "ok", "text/plain");
  } else {
    send(res, 404, JSON.stringify({ error: `No ${req.method ?? ""} ${path}; try GET /progress, GET /metrics or PUT /bandwidth` }));
  }
}

/** Starts the server; resolves with it and the port it listens on (useful with port 0). */
export async function startWorkerServer(opts: WorkerServerOptions): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    handle(opts, req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: (err as Error).message }));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
