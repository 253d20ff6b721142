import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { KeepAliveKubeConfig } from "./kube.js";

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
