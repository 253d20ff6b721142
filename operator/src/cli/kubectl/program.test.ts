import { describe, expect, it } from "@jest/globals";
import type { GlobalOptions } from "./cluster.js";
import { parseDuration, runProgram, type Handlers, type Io } from "./program.js";

/** Runs the command line with handlers that record what they were asked. */
async function parse(argv: string[], tty = false) {
  const calls: { command: string; globals: GlobalOptions; request: unknown }[] = [];
  const record = (command: string) => (globals: GlobalOptions, request: unknown) => {
    calls.push({ command, globals, request });
    return Promise.resolve(0);
  };
  const handlers: Handlers = {
    backupRun: record("backupRun"),
    points: record("points"),
    restore: record("restore"),
    status: record("status"),
    failover: record("failover"),
    reverse: record("reverse"),
    failback: record("failback"),
    resync: record("resync"),
  };
  let out = "";
  let err = "";
  const io: Io = { out: { write: (s) => { out += s; }, isTTY: tty }, err: { write: (s) => { err += s; }, isTTY: false } };
  const code = await runProgram(handlers, io, argv);
  return { code, calls, out, err };
}

describe("kubectl lifeboat's command line", () => {
  it("parses backup run with --wait and a timeout", async () => {
    const r = await parse(["backup", "run", "web-daily", "--wait", "--timeout", "10m"]);
    expect(r.calls).toEqual([{ command: "backupRun", globals: {}, request: { plan: "web-daily", wait: true, timeoutSeconds: 600 } }]);
    expect((await parse(["backup", "run", "p"])).calls[0]?.request).toEqual({ plan: "p", wait: false });
  });

  it("takes kubectl's global flags before or after the command", async () => {
    const before = await parse(["--kubeconfig", "/tmp/kc", "--context", "dr", "-n", "prod", "points"]);
    const after = await parse(["points", "--kubeconfig", "/tmp/kc", "--context", "dr", "--namespace", "prod"]);
    for (const r of [before, after]) expect(r.calls[0]?.globals).toEqual({ kubeconfig: "/tmp/kc", context: "dr", namespace: "prod" });
  });

  it("parses points with an optional VM, a plan filter and an output format", async () => {
    expect((await parse(["points"])).calls[0]?.request).toEqual({ output: "table" });
    expect((await parse(["points", "web-01", "--plan", "daily", "-o", "name"])).calls[0]?.request).toEqual({ vm: "web-01", plan: "daily", output: "name" });
  });

  it("parses restore's target flags, repeatable ones as lists", async () => {
    const r = await parse(["restore", "p1", "--to", "vsphere", "--datastore", "ds1", "--vm-name", "web-r", "--network", "A=B", "--network", "C=D", "--power-on", "-o", "yaml"]);
    expect(r.calls[0]?.request).toEqual({ point: "p1", to: "vsphere", datastore: "ds1", vmName: "web-r", network: ["A=B", "C=D"], powerOn: true, output: "yaml", wait: false });
    const f = await parse(["restore", "p1", "--to", "image-file", "--pvc", "images", "--disk", "2000", "--disk", "2001", "--wait"]);
    expect(f.calls[0]?.request).toEqual({ point: "p1", to: "image-file", pvc: "images", disk: [2000, 2001], wait: true });
  });

  it("refuses a restore without --to, or with an unknown target, as a usage error", async () => {
    const missing = await parse(["restore", "p1"]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("required option '--to <target>' not specified");
    const wrong = await parse(["restore", "p1", "--to", "tape"]);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toContain('Allowed choices are vsphere, image-file, cloud-image');
    expect((await parse(["restore", "p1", "--to", "image-file", "--disk", "two"])).err).toContain('"two" is not a disk\'s device key');
    expect(missing.calls).toEqual([]);
  });

  it("watches status on a terminal and prints one snapshot otherwise", async () => {
    expect((await parse(["status"], true)).calls[0]?.request).toEqual({ watch: true, intervalSeconds: 2 });
    expect((await parse(["status"], false)).calls[0]?.request).toEqual({ watch: false, intervalSeconds: 2 });
    expect((await parse(["status", "--no-watch"], true)).calls[0]?.request).toEqual({ watch: false, intervalSeconds: 2 });
    expect((await parse(["status", "--watch", "--interval", "5s"], false)).calls[0]?.request).toEqual({ watch: true, intervalSeconds: 5 });
  });

  it("parses the DR commands", async () => {
    expect((await parse(["failover", "db-01", "--point", "latest-app-consistent", "--commit"])).calls[0]?.request).toEqual({ server: "db-01", point: "latest-app-consistent", commit: true, cancel: false });
    expect((await parse(["failover", "db-01", "--cancel"])).calls[0]?.request).toEqual({ server: "db-01", commit: false, cancel: true });
    expect((await parse(["reverse", "db-01", "--in-place", "--confirm-in-place"])).calls[0]?.request).toEqual({ server: "db-01", inPlace: true, confirmInPlace: true });
    expect((await parse(["failback", "db-01"])).calls[0]).toMatchObject({ command: "failback", request: { server: "db-01" } });
    const resync = (await parse(["resync", "db-01"])).calls[0];
    expect(resync).toMatchObject({ command: "resync", request: { server: "db-01" } });
    // A new value each time, so a second resync is asked anew.
    expect(Date.parse((resync?.request as { request: string }).request)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("prints help with exit code 0, and usage with 2 when given nothing or an unknown command", async () => {
    const help = await parse(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("Usage: kubectl lifeboat");
    expect(help.out).toContain("kubectl lifeboat backup run web-daily --wait");
    expect((await parse([])).code).toBe(2);
    const unknown = await parse(["backups"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("unknown command 'backups'");
  });

  it("passes the command's exit code through", async () => {
    const handlers = { points: () => Promise.resolve(1) } as unknown as Handlers;
    const io: Io = { out: { write: () => undefined, isTTY: false }, err: { write: () => undefined, isTTY: false } };
    expect(await runProgram(handlers, io, ["points"])).toBe(1);
  });
});

describe("durations", () => {
  it("take s, m and h, or plain seconds", () => {
    expect(parseDuration("90")).toBe(90);
    expect(parseDuration("90s")).toBe(90);
    expect(parseDuration("10m")).toBe(600);
    expect(parseDuration("2h")).toBe(7200);
    expect(() => parseDuration("soon")).toThrow('"soon" is not a duration');
  });
});
