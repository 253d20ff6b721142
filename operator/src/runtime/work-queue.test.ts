import { describe, expect, it } from "@jest/globals";
import { WorkQueue } from "./work-queue.js";

describe("WorkQueue", () => {
  it("dedupes a key that is already queued", async () => {
    const q = new WorkQueue();
    q.add("a");
    q.add("a");
    q.add("b");
    expect(q.length).toBe(2);
    expect(await q.get()).toBe("a");
    expect(await q.get()).toBe("b");
  });

  it("never hands a key in flight to a second worker, and re-queues it when added meanwhile", async () => {
    const q = new WorkQueue();
    q.add("a");
    const first = await q.get();
    q.add("a");
    expect(q.length).toBe(0);
    q.done(first as string);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe("a");
  });

  it("backs off exponentially with jitter, capped, and forgets on success", () => {
    const q = new WorkQueue(100, 1000, () => 0.5);
    expect(q.addRateLimited("a")).toBe(100);
    expect(q.addRateLimited("a")).toBe(200);
    expect(q.addRateLimited("a")).toBe(400);
    expect(q.addRateLimited("a")).toBe(800);
    expect(q.addRateLimited("a")).toBe(1000);
    q.forget("a");
    expect(q.retries("a")).toBe(0);
    const low = new WorkQueue(100, 1000, () => 0);
    const high = new WorkQueue(100, 1000, () => 1);
    expect(low.addRateLimited("x")).toBe(80);
    expect(high.addRateLimited("x")).toBe(120);
    q.shutdown();
    low.shutdown();
    high.shutdown();
  });

  it("delivers delayed keys after their delay", async () => {
    const q = new WorkQueue();
    const start = Date.now();
    q.addAfter("later", 50);
    expect(await q.get()).toBe("later");
    expect(Date.now() - start).toBeGreaterThanOrEqual(45);
  });

  it("lets a shorter delay replace a longer pending one", async () => {
    const q = new WorkQueue();
    q.addAfter("k", 60_000);
    const start = Date.now();
    q.addAfter("k", 30);
    expect(await q.get()).toBe("k");
    expect(Date.now() - start).toBeLessThan(5_000);
    q.shutdown();
  });

  it("wakes waiting workers with undefined on shutdown", async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutdown();
    expect(await waiting).toBeUndefined();
  });
});
