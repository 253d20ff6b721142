import { describe, expect, it } from "@jest/globals";
import { compose, compositionRows, largestReading, traceComposition } from "./peak.js";
import { parseMetrics } from "./prometheus.js";
import { summarizeMappings } from "./smaps.js";

const MiB = 1024 * 1024;

const METRICS = `# TYPE lifeboat_process_nodejs_heap_size_total_bytes gauge
lifeboat_process_nodejs_heap_size_total_bytes ${120 * MiB}
lifeboat_process_nodejs_external_memory_bytes ${9 * MiB}
lifeboat_process_nodejs_heap_space_size_total_bytes{space="new"} ${32 * MiB}
lifeboat_process_nodejs_heap_space_size_total_bytes{space="old"} ${80 * MiB}
lifeboat_process_nodejs_heap_space_size_total_bytes{space="code"} ${8 * MiB}
lifeboat_process_nodejs_heap_space_size_used_bytes{space="old"} ${70 * MiB}
`;

const resident = summarizeMappings([
  { range: "1-2", perms: "rw-p", name: "[heap]", sizeBytes: 64 * MiB, rssBytes: 50 * MiB },
  { range: "3-4", perms: "rw-p", name: "", sizeBytes: 200 * MiB, rssBytes: 150 * MiB },
], 0);

describe("compose and compositionRows", () => {
  const c = compose(1000, { rss: 250 * MiB, hwm: 260 * MiB, anon: 200 * MiB, file: 50 * MiB }, resident, parseMetrics(METRICS));

  it("takes V8's committed heap by space, external memory and glibc's main heap from one reading", () => {
    expect(c.v8Committed).toBe(120 * MiB);
    expect(c.v8Spaces).toEqual({ new: 32 * MiB, old: 80 * MiB, code: 8 * MiB });
    expect(c.mallocHeap).toBe(50 * MiB);
    expect(c.external).toBe(9 * MiB);
  });

  it("names the anonymous memory that is neither V8's heap nor glibc's main heap, and lists spaces largest first", () => {
    const rows = Object.fromEntries(compositionRows(c));
    expect(rows["other anonymous memory (thread arenas, stacks, code)"]).toBe(30 * MiB);
    expect(compositionRows(c).map(([name]) => name).slice(2, 5)).toEqual(["  old", "  new", "  code"]);
  });
});

describe("compose without a scrape", () => {
  it("leaves V8's figures and the anonymous memory outside them unknown, not zero", () => {
    const c = compose(1000, { rss: 250 * MiB, hwm: 260 * MiB, anon: 200 * MiB, file: 50 * MiB }, resident, undefined);
    expect(c.v8Committed).toBeUndefined();
    expect(Object.fromEntries(compositionRows(c))["other anonymous memory (thread arenas, stacks, code)"]).toBeUndefined();
  });
});

describe("largestReading", () => {
  it("is the reading with the largest VmRSS", () => {
    const at = (rss: number) => ({ at: rss, rss, anon: 0, file: 0, mallocHeap: 0, v8Spaces: {}, v8Committed: 0, external: 0 });
    expect(largestReading([])).toBeUndefined();
    expect(largestReading([5, 9, 7].map(at))?.rss).toBe(9);
  });
});

describe("traceComposition", () => {
  it("reads this process every interval until stopped, with the V8 figures of each scrape", async () => {
    const scrapes = { count: 0 };
    const metrics = () => {
      scrapes.count++;
      return Promise.resolve(parseMetrics(METRICS));
    };
    const trace = traceComposition({ pid: process.pid, metrics }, 20);
    // Until the second reading has begun (a busy machine may take longer than a few intervals): stop lets it finish.
    while (scrapes.count < 2) await new Promise((r) => setTimeout(r, 10));
    const readings = await trace.stop();
    expect(readings.length).toBeGreaterThanOrEqual(2);
    expect(readings[0]?.rss).toBeGreaterThan(0);
    expect(readings[0]?.v8Committed).toBe(120 * MiB);
    expect(readings.map((r) => r.at)).toEqual([...readings.map((r) => r.at)].sort((a, b) => a - b));
  });
});
