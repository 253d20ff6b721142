import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

/** What the probes ask. */
export interface HealthChecks {
  /** The process works (event loop turning, not shutting down). */
  healthy(): boolean;
  /** Caches have synced; a standby replica is ready too (it serves as a hot spare). */
  ready(): boolean;
}

/**
 * Serves /healthz, /readyz and /metrics on one port, as the chart's probes
 * and the metrics Service expect.
 */
export function startHealthServer(port: number, host: string | undefined, checks: HealthChecks, registry: Registry): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const reply = (ok: boolean) => {
      res.writeHead(ok ? 200 : 503, { "Content-Type": "text/plain" });
      res.end(ok ? "ok\n" : "not ready\n");
    };
    if (path === "/healthz") {
      reply(checks.healthy());
    } else if (path === "/readyz") {
      reply(checks.ready());
    } else if (path === "/metrics") {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { "Content-Type": registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, ...(host ? { host } : {}) }, () => { resolve(server); });
  });
}
