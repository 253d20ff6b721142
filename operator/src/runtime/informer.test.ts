import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { createLogger } from "../telemetry/logger.js";
import { Informer } from "./informer.js";

/**
 * An API server stand-in for one collection of 1,200 objects: lists come in
 * pages of at most `limit` with a continue token, as kube-apiserver sends
 * them; a watch is answered and held open.
 */
const TOTAL = 1200;
let server: Server;
let url = "";
const watches: ServerResponse[] = [];
/** The path of every list and watch asked for. */
const paths: string[] = [];

function handle(req: IncomingMessage, res: ServerResponse): void {
  const u = new URL(req.url ?? "/", "http://x");
  paths.push(u.pathname);
  // A namespaced path lists that namespace's objects; a cluster-wide one, those of "ns".
  const namespace = /\/namespaces\/([^/]+)\//.exec(u.pathname)?.[1] ?? "ns";
  if (u.searchParams.get("watch") === "true") {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.flushHeaders();
    watches.push(res);
    return;
  }
  const limit = Number(u.searchParams.get("limit") ?? TOTAL);
  const from = Number(u.searchParams.get("continue") ?? 0);
  const to = Math.min(TOTAL, from + limit);
  const metadataOnly = (req.headers.accept ?? "").includes("PartialObjectMetadataList");
  const items = Array.from({ length: to - from }, (_, i) => ({
    ...(metadataOnly ? { apiVersion: "meta.k8s.io/v1", kind: "PartialObjectMetadata" } : { spec: { n: from + i } }),
    metadata: { namespace, name: `obj-${String(from + i).padStart(4, "0")}`, resourceVersion: "7", managedFields: [{ manager: "lifeboat-operator", operation: "Update", fieldsType: "FieldsV1", fieldsV1: { "f:spec": { "f:n": {} } } }] },
  }));
  res.writeHead(200, { "Content-Type": "application/json" });
  res.end(JSON.stringify({
    apiVersion: metadataOnly ? "meta.k8s.io/v1" : "lifeboat.io/v1alpha1",
    kind: metadataOnly ? "PartialObjectMetadataList" : "BackupPlanList",
    metadata: { resourceVersion: "7", ...(to < TOTAL ? { continue: String(to), remainingItemCount: TOTAL - to } : {}) },
    items,
  }));
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const w of watches) w.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function kubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: url, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

describe("Informer", () => {
  it("caches every object of a collection larger than a list page", async () => {
    const informer = new Informer<k8s.KubernetesObject>(kubeConfig(), { apiVersion: "lifeboat.io/v1alpha1", kind: "BackupPlan", plural: "backupplans" }, createLogger("silent"));
    await informer.start();
    informer.stop();
    const cached = informer.list();
    expect(cached).toHaveLength(TOTAL);
    expect(informer.get("ns/obj-1199")).toMatchObject({ apiVersion: "lifeboat.io/v1alpha1", kind: "BackupPlan", spec: { n: 1199 } });
  });

  it("keeps no object's managedFields (nothing reads them; they were a large share of what it held)", async () => {
    const informer = new Informer<k8s.KubernetesObject>(kubeConfig(), { apiVersion: "lifeboat.io/v1alpha1", kind: "RestoreJob", plural: "restorejobs" }, createLogger("silent"));
    await informer.start();
    informer.stop();
    expect(informer.list()).toHaveLength(TOTAL);
    expect(informer.list().filter((o) => o.metadata?.managedFields !== undefined)).toHaveLength(0);
  });

  it("does so for metadata only too", async () => {
    const informer = new Informer<k8s.KubernetesObject>(kubeConfig(), { apiVersion: "v1", kind: "Secret", plural: "secrets", metadataOnly: true }, createLogger("silent"));
    await informer.start();
    informer.stop();
    expect(informer.list()).toHaveLength(TOTAL);
  });

  it("lists and watches each of its namespaces, never all, into one cache", async () => {
    // A plural of its own: the informers of the tests above may still be asking for theirs.
    const informer = new Informer<k8s.KubernetesObject>(kubeConfig(), { apiVersion: "lifeboat.io/v1alpha1", kind: "RecoveryPoint", plural: "recoverypoints", namespaces: ["a", "b"] }, createLogger("silent"));
    const asked = () => paths.filter((p) => p.endsWith("/recoverypoints"));
    await informer.start();
    // The watches start after the lists: wait until both have been asked for.
    for (let i = 0; i < 100 && asked().length < 2 * Math.ceil(TOTAL / 500) + 2; i++) await new Promise((r) => setTimeout(r, 20));
    informer.stop();
    expect(informer.list()).toHaveLength(2 * TOTAL);
    expect(informer.get("a/obj-1199")).toMatchObject({ spec: { n: 1199 } });
    expect(informer.get("b/obj-0000")).toMatchObject({ spec: { n: 0 } });
    expect(informer.get("ns/obj-0000")).toBeUndefined();
    expect(asked()).toHaveLength(2 * Math.ceil(TOTAL / 500) + 2);
    expect(new Set(asked())).toEqual(new Set(["/apis/lifeboat.io/v1alpha1/namespaces/a/recoverypoints", "/apis/lifeboat.io/v1alpha1/namespaces/b/recoverypoints"]));
  });
});
