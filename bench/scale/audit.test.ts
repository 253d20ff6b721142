import { describe, expect, it } from "@jest/globals";
import { AuditRequests, countWindow, parseAuditLine, relistVerdict, usersInWindow } from "./audit.js";

const OPERATOR = "system:serviceaccount:lifeboat-system:lifeboat";
const T0 = Date.parse("2026-12-05T10:00:00Z");

/** An audit event line as kube-apiserver writes it with --audit-log-format=json. */
function event(o: { id: string; at: number; verb: string; resource?: string; subresource?: string; uri?: string; user?: string; stage?: string; code?: number }): string {
  return JSON.stringify({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "Metadata",
    auditID: o.id,
    stage: o.stage ?? "ResponseComplete",
    requestURI: o.uri ?? `/apis/lifeboat.io/v1alpha1/namespaces/scale/${o.resource ?? ""}`,
    verb: o.verb,
    user: { username: o.user ?? OPERATOR, groups: ["system:serviceaccounts"] },
    ...(o.resource ? { objectRef: { resource: o.resource, namespace: "scale", apiGroup: "lifeboat.io", apiVersion: "v1alpha1", ...(o.subresource ? { subresource: o.subresource } : {}) } } : {}),
    responseStatus: { metadata: {}, code: o.code ?? 200 },
    requestReceivedTimestamp: new Date(o.at).toISOString(),
    stageTimestamp: new Date(o.at + 5).toISOString(),
  });
}

describe("parseAuditLine", () => {
  it("reads the user, verb, resource with its subresource, namespace, code and time", () => {
    expect(parseAuditLine(event({ id: "a", at: T0, verb: "update", resource: "backupplans", subresource: "status", code: 409 }))).toEqual({
      auditId: "a", receivedAt: T0, user: OPERATOR, verb: "update", resource: "backupplans/status", namespace: "scale", code: 409,
    });
  });

  it("names a non-resource request by its path, without the query", () => {
    expect(parseAuditLine(event({ id: "b", at: T0, verb: "get", uri: "/readyz?verbose" }))?.resource).toBe("/readyz");
  });

  it("skips what is not a served request: other lines, a line cut short, RequestReceived", () => {
    expect(parseAuditLine("")).toBeUndefined();
    expect(parseAuditLine("I1205 10:00:00 something")).toBeUndefined();
    expect(parseAuditLine(event({ id: "c", at: T0, verb: "get", resource: "leases" }).slice(0, 40))).toBeUndefined();
    expect(parseAuditLine(event({ id: "d", at: T0, verb: "get", resource: "leases", stage: "RequestReceived" }))).toBeUndefined();
  });
});

describe("AuditRequests", () => {
  it("counts a WATCH once although it has a ResponseStarted and a ResponseComplete event", () => {
    const log = new AuditRequests();
    log.addLine(event({ id: "w", at: T0, verb: "watch", resource: "backupplans", stage: "ResponseStarted" }));
    log.addLine(event({ id: "g", at: T0 + 10, verb: "get", resource: "backupplans" }));
    log.addLine(event({ id: "w", at: T0, verb: "watch", resource: "backupplans", stage: "ResponseComplete" }));
    expect(log.requests.map((r) => r.auditId)).toEqual(["w", "g"]);
  });
});

describe("countWindow", () => {
  const lines = [
    event({ id: "before", at: T0 - 1, verb: "get", resource: "backupplans" }),
    event({ id: "l1", at: T0, verb: "get", resource: "leases" }),
    event({ id: "l2", at: T0 + 2_000, verb: "update", resource: "leases" }),
    event({ id: "p1", at: T0 + 30_000, verb: "get", resource: "protectedservers" }),
    event({ id: "p2", at: T0 + 61_000, verb: "get", resource: "protectedservers" }),
    event({ id: "s1", at: T0 + 62_000, verb: "update", resource: "protectedservers", subresource: "status", code: 409 }),
    event({ id: "rp1", at: T0 + 70_000, verb: "list", resource: "recoverypoints" }),
    event({ id: "rp2", at: T0 + 130_000, verb: "list", resource: "recoverypoints" }),
    event({ id: "other", at: T0 + 5_000, verb: "list", resource: "pods", user: "system:kube-controller-manager" }),
    event({ id: "end", at: T0 + 180_000, verb: "get", resource: "backupplans" }),
  ];
  const log = new AuditRequests();
  for (const l of lines) log.addLine(l);
  const c = countWindow(log.requests, OPERATOR, { from: T0, to: T0 + 180_000 });

  it("counts the user's requests received in [from, to), leases apart", () => {
    expect(c.minutes).toBe(3);
    expect(c.total).toBe(7);
    expect(c.lease).toBe(2);
    expect(c.controllers).toBe(5);
  });

  it("puts each request in its minute", () => {
    expect(c.perMinute).toEqual([3, 3, 1]);
  });

  it("breaks requests down by verb and resource, largest first, and keeps LISTs and failures apart", () => {
    expect(c.byVerbResource[0]).toEqual(["get protectedservers", 2]);
    expect(new Map(c.byVerbResource).get("update protectedservers/status")).toBe(1);
    expect(c.lists).toEqual(new Map([["recoverypoints", 2]]));
    expect(c.failures).toEqual(new Map([[409, 1]]));
  });

  it("refuses an empty window", () => {
    expect(() => countWindow(log.requests, OPERATOR, { from: T0, to: T0 })).toThrow(/empty window/);
  });

  it("ranks every user of the window by requests per minute", () => {
    expect(usersInWindow(log.requests, { from: T0, to: T0 + 60_000 })).toEqual([[OPERATOR, 3], ["system:kube-controller-manager", 1]]);
  });
});

describe("relistVerdict", () => {
  const base = { minutes: 10, total: 0, lease: 0, controllers: 0, byVerbResource: [], perMinute: [], failures: new Map<number, number>() };

  it("finds no storm in a window with no LIST and a watch resumed once", () => {
    expect(relistVerdict({ ...base, lists: new Map(), watches: new Map([["backupplans", 1]]) })).toEqual({ storm: false, findings: [] });
  });

  it("reports a single relist without calling it a storm", () => {
    expect(relistVerdict({ ...base, lists: new Map([["secrets", 1]]), watches: new Map() })).toEqual({ storm: false, findings: ["1 LIST of secrets (0.10/min)"] });
  });

  it("calls repeated LISTs of a resource, or watches re-established again and again, a storm", () => {
    expect(relistVerdict({ ...base, lists: new Map([["recoverypoints", 10]]), watches: new Map() }).storm).toBe(true);
    const watches = relistVerdict({ ...base, lists: new Map(), watches: new Map([["protectedservers", 4]]) });
    expect(watches).toEqual({ storm: true, findings: ["4 WATCH of protectedservers"] });
  });
});
