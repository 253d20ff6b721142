import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as k8s from "@kubernetes/client-node";
import { pino } from "pino";
import { Informer } from "../../operator/src/runtime/informer.js";
import { adminConfig, createNamespace, eventually } from "../support/testbed.js";

let ns: string;
const uncaught: unknown[] = [];
const onUncaught = (err: unknown): void => { uncaught.push(err); };

beforeAll(async () => {
  ns = await createNamespace("informer");
  process.on("uncaughtException", onUncaught);
});

afterAll(() => {
  process.off("uncaughtException", onUncaught);
});

describe("a metadata-only informer on the real API server", () => {
  it("caches Secrets without their data, and stopping it mid-watch leaves the process running", async () => {
    const kc = adminConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const informer = new Informer<k8s.V1Secret>(kc, { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaces: [ns], metadataOnly: true }, pino({ level: "silent" }));
    await informer.start();
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "held" }, stringData: { password: "not-in-the-cache" } } });
    const cached = await eventually("the Secret in the cache", () => Promise.resolve(informer.get(`${ns}/held`)));
    expect(cached.metadata?.name).toBe("held");
    expect(cached.data).toBeUndefined();
    expect(JSON.stringify(cached)).not.toContain("not-in-the-cache");

    // stop() aborts the open watch; its stream's error must be heard, or the
    // operator would die on every shutdown and every reset connection.
    informer.stop();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(uncaught).toEqual([]);
  });
});
