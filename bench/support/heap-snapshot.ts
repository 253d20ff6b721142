/**
 * What a process's heap holds, from the V8 heap snapshot `node
 * --heapsnapshot-signal` writes: self size per kind of object, largest
 * first. A bench that misses its memory goal reports it, so the fix goes
 * where the bytes are rather than where they are guessed to be.
 *
 * Snapshots of a heap of 100 MiB or more are files of several hundred MB,
 * near V8's longest string, so the file is not handed to JSON.parse whole:
 * its header and its strings are, and the nodes array (integers only) is
 * read by a scan of the bytes. Edges are not read: self sizes need none.
 */
import { readFile } from "node:fs/promises";

/** The header of a .heapsnapshot file: how a node's fields are laid out. */
interface SnapshotMeta {
  readonly node_fields: readonly string[];
  /** The first entry names the values of the `type` field. */
  readonly node_types: readonly [readonly string[], ...unknown[]];
}

/** Bytes of one kind of heap object. */
export interface HeapGroup {
  /** A constructor's name, or "(string)", "(code)", "(array) name" and the like for V8's own kinds. */
  readonly name: string;
  readonly count: number;
  readonly selfBytes: number;
}

/** A snapshot's nodes, grouped. */
export interface HeapSummary {
  readonly nodes: number;
  readonly totalBytes: number;
  /** Largest first. */
  readonly groups: readonly HeapGroup[];
}

const STRING_TYPES = new Set(["string", "concatenated string", "sliced string"]);

/** The group a node counts in: objects by constructor, V8's own kinds by kind (and name, shortened). */
export function groupOf(type: string, name: string): string {
  if (type === "object" || type === "native") return name || "(anonymous object)";
  if (STRING_TYPES.has(type)) return "(string)";
  if (type === "closure") return "(closure)";
  if (type === "number" || type === "bigint" || type === "symbol") return `(${type})`;
  const short = name.length > 40 ? `${name.slice(0, 40)}…` : name;
  return short ? `(${type}) ${short}` : `(${type})`;
}

/** The index just after the first `marker` at or after `from`; throws if there is none. */
function after(text: Buffer, marker: string, from = 0): number {
  const at = text.indexOf(marker, from);
  if (at < 0) throw new Error(`Not a V8 heap snapshot: no ${marker}`);
  return at + marker.length;
}

/** The non-negative integers of a JSON array of them, from `start` (just after its `[`) to its `]`. */
function readIntegers(text: Buffer, start: number, expected: number): Float64Array {
  const out = new Float64Array(expected);
  let n = 0;
  let value = -1;
  for (let i = start; i < text.length; i++) {
    const c = text[i] as number;
    if (c >= 48 && c <= 57) {
      value = (value < 0 ? 0 : value * 10) + (c - 48);
    } else {
      if (value >= 0) {
        if (n >= expected) throw new Error(`The snapshot's nodes array holds more than the ${expected} values its header gives`);
        out[n++] = value;
        value = -1;
      }
      if (c === 93 /* ] */) break;
    }
  }
  if (n !== expected) throw new Error(`The snapshot's nodes array holds ${n} values, its header gives ${expected}`);
  return out;
}

/** Self size per group in a heap snapshot's text, the `top` largest groups. */
export function summarizeHeapSnapshot(text: Buffer, top: number): HeapSummary {
  const nodesAt = text.indexOf('"nodes":[');
  if (nodesAt < 0) throw new Error('Not a V8 heap snapshot: no "nodes":[');
  const header = JSON.parse(`${text.subarray(0, nodesAt).toString("utf8").trimEnd().replace(/,$/, "")}}`) as {
    snapshot: { meta: SnapshotMeta; node_count: number };
  };
  const { meta, node_count: nodeCount } = header.snapshot;
  const width = meta.node_fields.length;
  const typeField = meta.node_fields.indexOf("type");
  const nameField = meta.node_fields.indexOf("name");
  const sizeField = meta.node_fields.indexOf("self_size");
  if (typeField < 0 || nameField < 0 || sizeField < 0) throw new Error(`The snapshot's nodes lack type, name or self_size: ${meta.node_fields.join(", ")}`);
  const types = meta.node_types[0];
  const nodes = readIntegers(text, nodesAt + '"nodes":['.length, nodeCount * width);
  const stringsAt = after(text, '"strings":[', nodesAt) - 1;
  const stringsEnd = text.lastIndexOf("]");
  const strings = JSON.parse(text.subarray(stringsAt, stringsEnd + 1).toString("utf8")) as string[];

  const groups = new Map<string, { count: number; selfBytes: number }>();
  let totalBytes = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const size = nodes[i + sizeField] as number;
    totalBytes += size;
    const group = groupOf(types[nodes[i + typeField] as number] ?? "?", strings[nodes[i + nameField] as number] ?? "");
    const g = groups.get(group);
    if (g) {
      g.count++;
      g.selfBytes += size;
    } else {
      groups.set(group, { count: 1, selfBytes: size });
    }
  }
  const sorted = [...groups.entries()].map(([name, g]) => ({ name, ...g })).sort((a, b) => b.selfBytes - a.selfBytes);
  return { nodes: nodeCount, totalBytes, groups: sorted.slice(0, top) };
}

/** summarizeHeapSnapshot of a .heapsnapshot file. */
export async function summarizeHeapSnapshotFile(path: string, top: number): Promise<HeapSummary> {
  try {
    return summarizeHeapSnapshot(await readFile(path), top);
  } catch (err) {
    throw new Error(`Could not read the heap snapshot ${path}`, { cause: err });
  }
}
