import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { KeepAliveKubeConfig, Kube } from "./kube.js";

/** An API server stand-in that answers every GET with a Namespace and counts the connections it accepts. */
let server: Server;
let connections = 0;
let url = "";

beforeAll(async () => {
  server = createServer((req, res) => {
    const name = (req.url ?? "").split("/").at(-1) ?? "";
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } }));
  });
  server.on("connection", () => { connections++; });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function load(kc: k8s.KubeConfig): k8s.KubeConfig {
  kc.loadFromOptions({
    clusters: [{ name: "c", server: url, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

async function connectionsFor(kc: k8s.KubeConfig, requests: number): Promise<number> {
  const before = connections;
  const core = load(kc).makeApiClient(k8s.CoreV1Api);
  for (let i = 0; i < requests; i++) expect((await core.readNamespace({ name: `ns-${i}` })).metadata?.name).toBe(`ns-${i}`);
  return connections - before;
}

describe("KeepAliveKubeConfig", () => {
  it("sends one client's requests over one connection", async () => {
    expect(await connectionsFor(new KeepAliveKubeConfig(), 5)).toBe(1);
  });

  it("where the library alone opens a connection per request", async () => {
    expect(await connectionsFor(new k8s.KubeConfig(), 5)).toBe(5);
  });
});

describe("Kube.getSecret", () => {
  /** A Kube whose Secret reads are counted and answered from `stored` (404 when absent). */
  function counting(stored: Map<string, k8s.V1Secret>): { kube: Kube; reads: () => number } {
    const kube = new Kube(load(new k8s.KubeConfig()));
    let reads = 0;
    (kube.core as { readNamespacedSecret: unknown }).readNamespacedSecret = ({ namespace, name }: { namespace: string; name: string }) => {
      reads++;
      const secret = stored.get(`${namespace}/${name}`);
      return secret ? Promise.resolve(structuredClone(secret)) : Promise.reject(new k8s.ApiException(404, "NotFound", {}, {}));
    };
    return { kube, reads: () => reads };
  }
  const secret = (rv: string, password: string): k8s.V1Secret => ({ metadata: { namespace: "ns", name: "vc", resourceVersion: rv }, data: { password: Buffer.from(password).toString("base64") } });

  it("reads the API server every time when nothing says whether a Secret changed", async () => {
    const { kube, reads } = counting(new Map([["ns/vc", secret("1", "a")]]));
    await kube.getSecret("ns", "vc");
    await kube.getSecret("ns", "vc");
    expect(reads()).toBe(2);
  });

  it("serves the copy it read while the Secret's version is unchanged, and reads again when it changed or is unknown", async () => {
    const stored = new Map([["ns/vc", secret("1", "a")]]);
    const { kube, reads } = counting(stored);
    let version: string | undefined = "1";
    kube.followSecretVersions((ns, name) => (ns === "ns" && name === "vc" ? version : undefined));
    expect((await kube.getSecret("ns", "vc"))?.data?.password).toBe(Buffer.from("a").toString("base64"));
    await kube.getSecret("ns", "vc");
    expect(reads()).toBe(1);
    stored.set("ns/vc", secret("2", "b"));
    version = "2";
    expect((await kube.getSecret("ns", "vc"))?.data?.password).toBe(Buffer.from("b").toString("base64"));
    expect(reads()).toBe(2);
    version = undefined;
    await kube.getSecret("ns", "vc");
    expect(reads()).toBe(3);
    stored.delete("ns/vc");
    version = undefined; // a deleted Secret is not in the informer
    expect(await kube.getSecret("ns", "vc")).toBeUndefined();
    expect(await kube.getSecret("ns", "vc")).toBeUndefined();
    expect(reads()).toBe(5);
  });
});
