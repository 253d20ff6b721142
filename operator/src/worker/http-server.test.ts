import type { Server } from "node:http";
import { afterEach, describe, expect, it } from "@jest/globals";
import { hasControlToken, startWorkerServer } from "./http-server.js";
import { WorkerMetrics } from "./metrics.js";
import { ProgressTracker } from "./progress.js";
import { TokenBucket } from "./token-bucket.js";

const TOKEN = "k3Q9x-per-job-token";

describe("hasControlToken", () => {
  it("takes only the exact token as a bearer token", () => {
    expect(hasControlToken(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(hasControlToken(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(hasControlToken(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(hasControlToken(`Bearer ${TOKEN.slice(1)}`, TOKEN)).toBe(false);
    expect(hasControlToken(TOKEN, TOKEN)).toBe(false);
    expect(hasControlToken(`Basic ${TOKEN}`, TOKEN)).toBe(false);
    expect(hasControlToken(undefined, TOKEN)).toBe(false);
    expect(hasControlToken("Bearer ", TOKEN)).toBe(false);
  });

  it("refuses everything when the worker has no token", () => {
    expect(hasControlToken("Bearer ", "")).toBe(false);
    expect(hasControlToken("Bearer x", undefined)).toBe(false);
    expect(hasControlToken(undefined, undefined)).toBe(false);
  });
});

describe("worker HTTP server", () => {
  let server: Server | undefined;
  afterEach(async () => {
    const running = server;
    server = undefined;
    if (running) await new Promise((resolve) => { running.close(resolve); });
  });

  async function start(controlToken: string | undefined): Promise<{ url: string; bandwidth: TokenBucket }> {
    const bandwidth = new TokenBucket(8 * 1024 * 1024);
    const started = await startWorkerServer({ host: "127.0.0.1", port: 0, progress: new ProgressTracker(), metrics: new WorkerMetrics(), bandwidth, controlToken });
    server = started.server;
    return { url: `http://127.0.0.1:${started.port}`, bandwidth };
  }

  it("refuses PUT /bandwidth without the right token and leaves the limit alone", async () => {
    const { url, bandwidth } = await start(TOKEN);
    const none = await fetch(`${url}/bandwidth`, { method: "PUT", body: "0" });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    const wrong = await fetch(`${url}/bandwidth`, { method: "PUT", body: "0", headers: { Authorization: "Bearer guess" } });
    expect(wrong.status).toBe(401);
    expect(bandwidth.bytesPerSecond).toBe(8 * 1024 * 1024);
  });

  it("applies PUT /bandwidth with the token", async () => {
    const { url, bandwidth } = await start(TOKEN);
    const put = await fetch(`${url}/bandwidth`, { method: "PUT", body: "1024", headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(put.status).toBe(200);
    expect(bandwidth.bytesPerSecond).toBe(1024);
    const bad = await fetch(`${url}/bandwidth`, { method: "PUT", body: "fast", headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(bad.status).toBe(400);
  });

  it("refuses every PUT when it was given no token", async () => {
    const { url, bandwidth } = await start(undefined);
    const put = await fetch(`${url}/bandwidth`, { method: "PUT", body: "0", headers: { Authorization: "Bearer " } });
    expect(put.status).toBe(401);
    expect(bandwidth.bytesPerSecond).toBe(8 * 1024 * 1024);
  });

  it("keeps the read-only endpoints open (Prometheus scrapes /metrics without credentials)", async () => {
    const { url } = await start(TOKEN);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
    expect((await fetch(`${url}/progress`)).status).toBe(200);
    expect(await (await fetch(`${url}/bandwidth`)).json()).toEqual({ bytesPerSecond: 8 * 1024 * 1024 });
  });
});
