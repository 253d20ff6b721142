/**
 * What the operator's resident memory is made of at its peak after a
 * restart.
 *
 * The state at rest (smaps.ts) tells what stays; the goal is on the peak,
 * which comes during the restart's burst and is gone by the time the bench
 * measures at rest. So from the restart until it has converged, the bench
 * reads its memory every second: VmRSS and its anonymous and file parts
 * from /proc, glibc's main heap from smaps, and V8's own figures (committed
 * heap by space, external memory) from a scrape of /metrics at the same
 * moment; the reading with the largest VmRSS is the peak's. Its composition says which
 * part of the peak to cut: V8's young generation, its old generation,
 * Buffers, or freed memory that glibc keeps.
 */
import { processMemory, type ProcessMemory } from "./operator.js";
import { sumOf, type Sample } from "./prometheus.js";
import { residentMemory, type ResidentMemory } from "./smaps.js";

/** The operator's memory at one moment, in bytes. */
export interface MemoryComposition {
  /** When it was read (ms since the epoch). */
  readonly at: number;
  readonly rss: number;
  readonly anon: number;
  readonly file: number;
  /** Resident pages of glibc's main heap (`[heap]`). */
  readonly mallocHeap: number;
  /** V8's committed heap by space (new, old, code, large_object...), as Node reports it; empty without a scrape. */
  readonly v8Spaces: Readonly<Record<string, number>>;
  /** V8's committed heap in all; undefined when /metrics did not answer. */
  readonly v8Committed: number | undefined;
  /** Memory of Buffers and other objects outside V8's heap that V8 is told about; undefined when /metrics did not answer. */
  readonly external: number | undefined;
}

const HEAP_SPACE_SIZE = "lifeboat_process_nodejs_heap_space_size_total_bytes";

/** One reading's composition from /proc/PID/status, /proc/PID/smaps and a scrape of /metrics taken together. */
export function compose(at: number, memory: ProcessMemory, resident: ResidentMemory, metrics: readonly Sample[] | undefined): MemoryComposition {
  const v8Spaces: Record<string, number> = {};
  for (const s of metrics ?? []) {
    if (s.name !== HEAP_SPACE_SIZE) continue;
    const space = s.labels.space ?? "?";
    v8Spaces[space] = (v8Spaces[space] ?? 0) + s.value;
  }
  return {
    at,
    rss: memory.rss,
    anon: memory.anon,
    file: memory.file,
    mallocHeap: resident.groups.find((g) => g.name === "[heap]")?.rssBytes ?? 0,
    v8Spaces,
    v8Committed: metrics && sumOf(metrics, "lifeboat_process_nodejs_heap_size_total_bytes"),
    external: metrics && sumOf(metrics, "lifeboat_process_nodejs_external_memory_bytes"),
  };
}

/** The operator as traceComposition reads it. */
export interface TracedProcess {
  readonly pid: number;
  metrics(): Promise<Sample[]>;
}

/**
 * Reads the operator's composition every `everyMs` until `stop()`, which
 * resolves to the readings in order. /proc is read even while /metrics does
 * not answer yet (the first second of a start); such readings have no V8
 * figures.
 */
export function traceComposition(op: TracedProcess, everyMs: number): { stop(): Promise<MemoryComposition[]> } {
  const readings: MemoryComposition[] = [];
  const state = { stopped: false };
  const loop = (async () => {
    while (!state.stopped) {
      const at = Date.now();
      const [memory, resident, metrics] = await Promise.all([processMemory(op.pid), residentMemory(op.pid, 0), op.metrics().catch(() => undefined)]);
      if (!memory || !resident) return; // the process is gone
      readings.push(compose(at, memory, resident, metrics));
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - at))));
    }
  })();
  return {
    async stop() {
      state.stopped = true;
      await loop;
      return readings;
    },
  };
}

/** The reading with the largest VmRSS, undefined for none. */
export function largestReading(readings: readonly MemoryComposition[]): MemoryComposition | undefined {
  let largest: MemoryComposition | undefined;
  for (const r of readings) if (!largest || r.rss > largest.rss) largest = r;
  return largest;
}

/**
 * The parts of a reading as rows (name, bytes; undefined where unknown):
 * V8's spaces, external memory, glibc's main heap, the anonymous memory
 * left (other arenas, stacks, V8's code pages beyond its reported spaces),
 * and file pages. External memory is malloc'd, so it is inside the
 * anonymous memory too and is shown beside, not subtracted.
 */
export function compositionRows(c: MemoryComposition): [string, number | undefined][] {
  const spaces = Object.entries(c.v8Spaces).filter(([, bytes]) => bytes > 0).sort(([, a], [, b]) => b - a);
  return [
    ["VmRSS", c.rss],
    ["V8 heap committed", c.v8Committed],
    ...spaces.map(([space, bytes]): [string, number] => [`  ${space}`, bytes]),
    ["glibc main heap ([heap])", c.mallocHeap],
    ["other anonymous memory (thread arenas, stacks, code)", c.v8Committed === undefined ? undefined : c.anon - c.v8Committed - c.mallocHeap],
    ["file pages (the node binary)", c.file],
    ["external memory (Buffers; inside the malloc'd memory above)", c.external],
  ];
}
