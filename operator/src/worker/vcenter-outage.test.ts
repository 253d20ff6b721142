import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { AuthenticationFailedError, UnreachableError, type VsphereClient } from "../vsphere/index.js";
import { ProgressTracker } from "./progress.js";
import type { WorkerVCenter } from "./spec.js";
import { connectWaiting } from "./vcenter-outage.js";
import { REPORT_AFTER_MS } from "./outage-reports.js";

const env = { LIFEBOAT_VCENTER_USERNAME: "u", LIFEBOAT_VCENTER_PASSWORD: "p" };
const client = { fake: "client" } as unknown as VsphereClient;
const refused = () => new UnreachableError("RetrieveServiceContent: ECONNREFUSED");

function context(progress = new ProgressTracker()) {
  return { env, logger: pino({ level: "silent" }), progress, signal: new AbortController().signal };
}

/** A login that fails `failures` times with `error`, then answers; it records the progress's vcenterOutage at each call. */
function flakyLogin(failures: number, error: () => Error, progress: ProgressTracker) {
  const seen: (string | undefined)[] = [];
  let left = failures;
  const login = () => {
    seen.push(progress.current.vcenterOutage?.message);
    return left-- > 0 ? Promise.reject(error()) : Promise.resolve(client);
  };
  return { login, seen, calls: () => seen.length };
}

describe("connectWaiting", () => {
  it("waits for a vCenter that does not answer, saying so in the progress once it lasts, and clears it on login", async () => {
    const progress = new ProgressTracker();
    const vcenter: WorkerVCenter = { address: "10.0.0.1", tls: { insecureSkipVerify: true }, outageWaitSeconds: 300 };
    const flaky = flakyLogin(10, refused, progress);
    let clock = 0;
    const got = await connectWaiting(vcenter, context(progress), { login: flaky.login, now: () => (clock += 1_000), baseDelayMs: 1 });
    expect(got).toBe(client);
    expect(flaky.calls()).toBe(11);
    // Reported from the retry that finds the failures REPORT_AFTER_MS old (a clock step per retry), until the login.
    const from = REPORT_AFTER_MS / 1_000 + 1;
    expect(flaky.seen.slice(0, from)).toEqual(Array(from).fill(undefined));
    expect(flaky.seen[from]).toMatch(/^vCenter 10\.0\.0\.1 does not answer \(RetrieveServiceContent: ECONNREFUSED\); the worker has been retrying since \S+ and goes on for up to 5 minutes$/);
    expect(new Set(flaky.seen.slice(from))).toEqual(new Set([flaky.seen[from]]));
    expect(progress.current.vcenterOutage).toBeUndefined();
  });

  it("fails at once when the spec sets no wait (replication cycles), or when vCenter answers with a refusal", async () => {
    const progress = new ProgressTracker();
    const noWait = flakyLogin(1, refused, progress);
    await expect(connectWaiting({ address: "10.0.0.1", tls: {} }, context(progress), { login: noWait.login, baseDelayMs: 1 })).rejects.toBeInstanceOf(UnreachableError);
    expect(noWait.calls()).toBe(1);
    const refusedLogin = flakyLogin(1, () => new AuthenticationFailedError("InvalidLogin", "Login: incorrect user name or password"), progress);
    await expect(connectWaiting({ address: "10.0.0.1", tls: {}, outageWaitSeconds: 300 }, context(progress), { login: refusedLogin.login, baseDelayMs: 1 })).rejects.toBeInstanceOf(AuthenticationFailedError);
    expect(refusedLogin.calls()).toBe(1);
  });

  it("gives up with vCenter's error once the wait is spent", async () => {
    const progress = new ProgressTracker();
    const down = flakyLogin(Infinity, refused, progress);
    const started = Date.now();
    await expect(connectWaiting({ address: "10.0.0.1", tls: {}, outageWaitSeconds: 0.2 }, context(progress), { login: down.login, baseDelayMs: 10 })).rejects.toBeInstanceOf(UnreachableError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(down.calls()).toBeGreaterThan(2);
  });

  it("waits for a vCenter whose reverse proxy answers 503 while its service starts (the real client, a real HTTPS server)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lifeboat-vc503-"));
    const requests: string[] = [];
    try {
      execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=vcenter.test", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
      const server = createServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, (req, res) => {
        requests.push(`${req.method ?? ""} ${req.url ?? ""}`);
        req.resume();
        res.writeHead(503, { "Content-Type": "text/html" }).end("<html><body>503 Service Unavailable</body></html>");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const { port } = server.address() as AddressInfo;
        const vcenter: WorkerVCenter = { address: `127.0.0.1:${port}`, tls: { insecureSkipVerify: true }, outageWaitSeconds: 1 };
        const err: unknown = await connectWaiting(vcenter, context(), { baseDelayMs: 10 }).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(UnreachableError);
        expect((err as Error).message).toMatch(/HTTP 503/);
        // Each login attempt reached the server's SOAP endpoint: it was tried again, not failed at the first answer.
        expect(requests.filter((r) => r.startsWith("POST ")).length).toBeGreaterThanOrEqual(2);
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
