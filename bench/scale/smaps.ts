/**
 * Where a process's resident memory is, by mapping, from /proc/PID/smaps.
 *
 * VmRSS splits only into anonymous and file pages. Which anonymous pages
 * they are decides the fix: glibc's main arena (`[heap]`, grown with brk)
 * keeps freed memory that a malloc tuning returns; V8's heap pages and code
 * space are mappings of their own; thread stacks and the arenas of other
 * threads (64 MiB reservations) are different again. The bench prints the
 * groups and the largest anonymous mappings beside V8's own figures, so the
 * memory outside V8's heap can be named.
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";

/** One mapping of smaps: its address range, permissions, name and resident bytes. */
export interface Mapping {
  readonly range: string;
  readonly perms: string;
  /** The file, or `[heap]`, `[stack]`, `[vdso]`...; "" for an anonymous mapping. */
  readonly name: string;
  readonly sizeBytes: number;
  readonly rssBytes: number;
}

/** Resident bytes by group, and the largest anonymous mappings. */
export interface ResidentMemory {
  /** Group name to resident bytes, largest first: "[heap]", "anonymous", "[stack]", and each file by base name. */
  readonly groups: readonly { readonly name: string; readonly rssBytes: number; readonly mappings: number }[];
  /** Anonymous mappings (no name) by resident bytes, largest first. */
  readonly largestAnonymous: readonly Mapping[];
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/;

/** Parses the text of /proc/PID/smaps into its mappings. */
export function parseSmaps(text: string): Mapping[] {
  const mappings: Mapping[] = [];
  let current: { range: string; perms: string; name: string; sizeBytes: number; rssBytes: number } | undefined;
  for (const line of text.split("\n")) {
    const header = HEADER.exec(line);
    if (header) {
      if (current) mappings.push(current);
      const [, from = "0", to = "0", perms = "", name = ""] = header;
      current = { range: `${from}-${to}`, perms, name: name.trim(), sizeBytes: parseInt(to, 16) - parseInt(from, 16), rssBytes: 0 };
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss && current) current.rssBytes = Number(rss[1]) * 1024;
  }
  if (current) mappings.push(current);
  return mappings;
}

/** Groups mappings as ResidentMemory says, keeping the `largest` anonymous mappings. */
export function summarizeMappings(mappings: readonly Mapping[], largest: number): ResidentMemory {
  const groups = new Map<string, { rssBytes: number; mappings: number }>();
  for (const m of mappings) {
    const name = m.name === "" ? "anonymous" : m.name.startsWith("[") ? m.name.replace(/:.*\]$/, "]") : basename(m.name);
    const g = groups.get(name) ?? { rssBytes: 0, mappings: 0 };
    g.rssBytes += m.rssBytes;
    g.mappings += 1;
    groups.set(name, g);
  }
  return {
    groups: [...groups].map(([name, g]) => ({ name, ...g })).filter((g) => g.rssBytes > 0).sort((a, b) => b.rssBytes - a.rssBytes),
    largestAnonymous: mappings.filter((m) => m.name === "").sort((a, b) => b.rssBytes - a.rssBytes).slice(0, largest),
  };
}

/** The resident memory of a live process by mapping; undefined once it is gone. */
export async function residentMemory(pid: number, largest = 10): Promise<ResidentMemory | undefined> {
  const text = await readFile(`/proc/${pid}/smaps`, "utf8").catch(() => undefined);
  return text === undefined ? undefined : summarizeMappings(parseSmaps(text), largest);
}
