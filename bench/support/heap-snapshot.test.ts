import { Worker } from "node:worker_threads";
import { describe, expect, test } from "@jest/globals";
import { groupOf, summarizeHeapSnapshot } from "./heap-snapshot.js";

/** A real snapshot, as V8 writes it, of a worker thread holding 5,000 ProbeRecords with a 4 KiB string each. */
async function workerSnapshot(): Promise<Buffer> {
  const code = `
    const { parentPort } = require("node:worker_threads");
    class ProbeRecord { constructor(i) { this.i = i; this.text = require("node:crypto").randomBytes(2048).toString("hex"); } }
    globalThis.kept = Array.from({ length: 5000 }, (_, i) => new ProbeRecord(i));
    parentPort.postMessage("ready");
    setInterval(() => {}, 1000);
  `;
  const worker = new Worker(code, { eval: true });
  try {
    await new Promise((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    const chunks: Buffer[] = [];
    for await (const chunk of await worker.getHeapSnapshot()) chunks.push(Buffer.from(chunk as Uint8Array));
    return Buffer.concat(chunks);
  } finally {
    await worker.terminate();
  }
}

describe("summarizeHeapSnapshot", () => {
  test("groups a real V8 snapshot's objects by constructor, with their count and self size", async () => {
    const summary = summarizeHeapSnapshot(await workerSnapshot(), 1000);
    const probe = summary.groups.find((g) => g.name === "ProbeRecord");
    expect(probe?.count).toBe(5000);
    expect(probe?.selfBytes).toBeGreaterThan(5000 * 16);
    // The 5,000 strings of 4 KiB are the largest group.
    const strings = summary.groups[0];
    expect(strings?.name).toBe("(string)");
    expect(strings?.selfBytes).toBeGreaterThan(5000 * 4096);
    expect(summary.totalBytes).toBeGreaterThanOrEqual(summary.groups.reduce((n, g) => n + g.selfBytes, 0));
    expect(summary.groups.map((g) => g.selfBytes)).toEqual([...summary.groups.map((g) => g.selfBytes)].sort((a, b) => b - a));
  }, 60_000);

  test("says what holds the strings: the property of the object that holds them", async () => {
    const summary = summarizeHeapSnapshot(await workerSnapshot(), 1000);
    const [top] = summary.stringHolders ?? [];
    expect(top).toMatchObject({ name: "ProbeRecord.text", count: 5000 });
    expect(top?.selfBytes).toBeGreaterThan(5000 * 4096);
    // Every string counts once, in one holder's group (the summary keeps the top 1000 groups).
    const all = summary.groups.find((g) => g.name === "(string)");
    expect((summary.stringHolders ?? []).reduce((n, g) => n + g.count, 0)).toBeLessThanOrEqual(all?.count ?? 0);
    expect(new Set(summary.stringHolders?.map((g) => g.name)).size).toBe(summary.stringHolders?.length);
  }, 60_000);

  test("only the top groups are returned", async () => {
    expect(summarizeHeapSnapshot(await workerSnapshot(), 3).groups).toHaveLength(3);
  }, 60_000);

  test("a snapshot whose nodes array is cut short is refused, not summed", () => {
    const meta = { node_fields: ["type", "name", "id", "self_size"], node_types: [["object", "string"]] };
    const text = `{"snapshot":{"meta":${JSON.stringify(meta)},"node_count":2},\n"nodes":[0,1,1,32\n],\n"strings":["<dummy>","Thing"]}`;
    expect(() => summarizeHeapSnapshot(Buffer.from(text), 5)).toThrow("holds 4 values, its header gives 8");
    const whole = text.replace("0,1,1,32", "0,1,1,32,1,0,3,24");
    expect(summarizeHeapSnapshot(Buffer.from(whole), 5)).toEqual({
      nodes: 2,
      totalBytes: 56,
      groups: [{ name: "Thing", count: 1, selfBytes: 32 }, { name: "(string)", count: 1, selfBytes: 24 }],
    });
  });
});

describe("groupOf", () => {
  test("objects by constructor, strings together, V8's own kinds by kind and a short name", () => {
    expect(groupOf("object", "RecoveryPoint")).toBe("RecoveryPoint");
    expect(groupOf("concatenated string", "abc")).toBe("(string)");
    expect(groupOf("closure", "reconcile")).toBe("(closure)");
    expect(groupOf("code", "")).toBe("(code)");
    expect(groupOf("array", "(object elements)")).toBe("(array) (object elements)");
    expect(groupOf("hidden", "x".repeat(50))).toBe(`(hidden) ${"x".repeat(40)}…`);
  });
});
