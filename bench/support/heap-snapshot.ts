/**
 * What a process's heap holds, from the V8 heap snapshot `node
 * --heapsnapshot-signal` writes: self size per kind of object, largest
 * first. A bench that misses its memory goal reports it, so the fix goes
 * where the bytes are rather than where they are guessed to be.
 *
 * Snapshots of a heap of 100 MiB or more are files of several hundred MB,
 * near V8's longest string, so the file is not handed to JSON.parse whole:
 * its header and its strings are, and the nodes and edges arrays (integers
 * only) are read by a scan of the bytes. The edges say what holds each
 * string: strings are most of a control plane's heap (names, uids,
 * timestamps of cached objects), and their kind alone does not say which
 * structure to slim.
 */
import { readFile } from "node:fs/promises";

/** The header of a .heapsnapshot file: how a node's fields are laid out. */
interface SnapshotMeta {
  readonly node_fields: readonly string[];
  /** The first entry names the values of the `type` field. */
  readonly node_types: readonly [readonly string[], ...unknown[]];
  readonly edge_fields?: readonly string[];
  readonly edge_types?: readonly [readonly string[], ...unknown[]];
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
  /**
   * Strings by what holds them, largest first: "RecoveryPoint.uid" for the
   * strings that objects made by RecoveryPoint hold in their property `uid`,
   * "(array) (object elements)[]" for array elements. A string held by
   * several objects counts for the first of them in the snapshot, preferring
   * an object to V8's own tables. Absent when the snapshot has no edges.
   */
  readonly stringHolders?: readonly HeapGroup[];
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
function readIntegers(text: Buffer, start: number, expected: number, what: string): Uint32Array {
  const out = new Uint32Array(expected);
  let n = 0;
  let value = -1;
  for (let i = start; i < text.length; i++) {
    const c = text[i] as number;
    if (c >= 48 && c <= 57) {
      value = (value < 0 ? 0 : value * 10) + (c - 48);
    } else {
      if (value >= 0) {
        if (n >= expected) throw new Error(`The snapshot's ${what} array holds more than the ${expected} values its header gives`);
        if (value > 0xffffffff) throw new Error(`The snapshot's ${what} array holds ${value}, more than 32 bits`);
        out[n++] = value;
        value = -1;
      }
      if (c === 93 /* ] */) break;
    }
  }
  if (n !== expected) throw new Error(`The snapshot's ${what} array holds ${n} values, its header gives ${expected}`);
  return out;
}

/** Self size per group in a heap snapshot's text, the `top` largest groups. */
export function summarizeHeapSnapshot(text: Buffer, top: number): HeapSummary {
  const nodesAt = text.indexOf('"nodes":[');
  if (nodesAt < 0) throw new Error('Not a V8 heap snapshot: no "nodes":[');
  const header = JSON.parse(`${text.subarray(0, nodesAt).toString("utf8").trimEnd().replace(/,$/, "")}}`) as {
    snapshot: { meta: SnapshotMeta; node_count: number; edge_count?: number };
  };
  const { meta, node_count: nodeCount, edge_count: edgeCount } = header.snapshot;
  const width = meta.node_fields.length;
  const typeField = meta.node_fields.indexOf("type");
  const nameField = meta.node_fields.indexOf("name");
  const sizeField = meta.node_fields.indexOf("self_size");
  if (typeField < 0 || nameField < 0 || sizeField < 0) throw new Error(`The snapshot's nodes lack type, name or self_size: ${meta.node_fields.join(", ")}`);
  const types = meta.node_types[0];
  const nodes = readIntegers(text, nodesAt + '"nodes":['.length, nodeCount * width, "nodes");
  const stringsAt = after(text, '"strings":[', nodesAt) - 1;
  const stringsEnd = text.lastIndexOf("]");
  const strings = JSON.parse(text.subarray(stringsAt, stringsEnd + 1).toString("utf8")) as string[];

  const groups = new Map<string, { count: number; selfBytes: number }>();
  let totalBytes = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const size = nodes[i + sizeField] as number;
    totalBytes += size;
    count(groups, groupOf(types[nodes[i + typeField] as number] ?? "?", strings[nodes[i + nameField] as number] ?? ""), size);
  }
  const holders = edgeCount === undefined ? undefined : stringHolders(text, nodesAt, header.snapshot.meta, nodes, edgeCount, strings);
  return { nodes: nodeCount, totalBytes, groups: largest(groups, top), ...(holders ? { stringHolders: largest(holders, top) } : {}) };
}

/** Counts one object of `size` bytes in group `key`. */
function count(groups: Map<string, { count: number; selfBytes: number }>, key: string, size: number): void {
  const g = groups.get(key);
  if (g) {
    g.count++;
    g.selfBytes += size;
  } else {
    groups.set(key, { count: 1, selfBytes: size });
  }
}

function largest(groups: ReadonlyMap<string, { count: number; selfBytes: number }>, top: number): HeapGroup[] {
  return [...groups.entries()].map(([name, g]) => ({ name, ...g })).sort((a, b) => b.selfBytes - a.selfBytes).slice(0, top);
}

/** Strings' self size grouped by their holder and the edge it holds them by (see HeapSummary.stringHolders). */
function stringHolders(text: Buffer, nodesAt: number, meta: SnapshotMeta, nodes: Uint32Array, edgeCount: number, strings: readonly string[]): Map<string, { count: number; selfBytes: number }> | undefined {
  const width = meta.node_fields.length;
  const [typeField, nameField, sizeField, edgeCountField] = ["type", "name", "self_size", "edge_count"].map((f) => meta.node_fields.indexOf(f));
  const edgeFields = meta.edge_fields ?? [];
  const [edgeTypeField, edgeNameField, toField] = ["type", "name_or_index", "to_node"].map((f) => edgeFields.indexOf(f));
  const edgeTypes = meta.edge_types?.[0];
  if (edgeCountField === undefined || edgeCountField < 0 || edgeTypeField === undefined || edgeTypeField < 0 || !edgeTypes) return undefined;
  const edgeWidth = edgeFields.length;
  const edges = readIntegers(text, after(text, '"edges":[', nodesAt), edgeCount * edgeWidth, "edges");
  const nodeTypes = meta.node_types[0];
  const typeOf = (node: number) => nodeTypes[nodes[node * width + (typeField as number)] as number] ?? "?";
  const weak = edgeTypes.indexOf("weak");
  const shortcut = edgeTypes.indexOf("shortcut");
  const byName = new Set(["context", "property", "internal"].map((t) => edgeTypes.indexOf(t)));
  const element = edgeTypes.indexOf("element");
  const nodeCount = nodes.length / width;
  // The holder of each node (-1: none yet) and the edge it holds it by; an object beats V8's own (synthetic) roots.
  const holder = new Int32Array(nodeCount).fill(-1);
  const via = new Int32Array(nodeCount).fill(-1);
  for (let node = 0, e = 0; node < nodeCount; node++) {
    const count = nodes[node * width + edgeCountField] as number;
    const synthetic = typeOf(node) === "synthetic";
    for (let k = 0; k < count; k++, e += edgeWidth) {
      const type = edges[e + edgeTypeField] as number;
      if (type === weak || type === shortcut) continue;
      const to = (edges[e + (toField as number)] as number) / width;
      const held = holder[to] as number;
      if (held < 0 || (!synthetic && typeOf(held) === "synthetic")) {
        holder[to] = node;
        via[to] = e;
      }
    }
  }
  const groups = new Map<string, { count: number; selfBytes: number }>();
  for (let node = 0; node < nodeCount; node++) {
    if (groupOf(typeOf(node), "") !== "(string)") continue;
    const h = holder[node] as number;
    const e = via[node] as number;
    let key = "(held by nothing)";
    if (h >= 0) {
      const type = edges[e + edgeTypeField] as number;
      const label = byName.has(type) ? `.${strings[edges[e + (edgeNameField as number)] as number] ?? "?"}` : type === element ? "[]" : `(${edgeTypes[type] ?? "?"})`;
      key = `${groupOf(typeOf(h), strings[nodes[h * width + (nameField as number)] as number] ?? "")}${label}`;
    }
    count(groups, key, nodes[node * width + (sizeField as number)] as number);
  }
  return groups;
}

/** summarizeHeapSnapshot of a .heapsnapshot file. */
export async function summarizeHeapSnapshotFile(path: string, top: number): Promise<HeapSummary> {
  try {
    return summarizeHeapSnapshot(await readFile(path), top);
  } catch (err) {
    throw new Error(`Could not read the heap snapshot ${path}`, { cause: err });
  }
}
