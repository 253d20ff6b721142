/**
 * The pure part of `npm run bench:vault` (bench/vault/run.ts): the order in
 * which the tools take turns, the median and spread of repeated runs, and
 * the Markdown table. Kept apart from the process-running code so that it
 * is unit tested (stats.test.ts): a wrong median or a ratio upside down
 * would make a benchmark lie without anyone noticing.
 */
import { formatBytes } from "../../operator/src/util/quantity.js";

/** The tools compared, in the order of the first run. */
export const TOOLS = ["lifeboat", "kopia", "restic"] as const;
export type Tool = (typeof TOOLS)[number];

/** The phases of one run, in the order they run and are printed. */
export const PHASES = ["full backup", "incremental, CBT extents", "incremental, rescan", "restore latest", "restore latest, warm, to memory"] as const;
export type Phase = (typeof PHASES)[number];

/**
 * The engines' own restore speed: the repository already in the page cache
 * and the image written to tmpfs, so that neither the disk's reads nor its
 * writeback (which bounds every tool's "restore latest" here) set the time.
 */
export const WARM_RESTORE_PHASE: Phase = "restore latest, warm, to memory";

/** Only Lifeboat gets CBT's changed extents (kopia and restic have no such input): "n/a" for the others. */
export const CBT_PHASE: Phase = "incremental, CBT extents";

/**
 * The order of the tools in run `run` (0-based): the first order rotated
 * left `run` times, so that over three runs each tool goes first, second
 * and third once (lifeboat, kopia, restic; kopia, restic, lifeboat; restic,
 * lifeboat, kopia). Whoever goes first meets the coldest machine (and the
 * last one the most leftover writeback), so no tool may always go first.
 */
export function rotation<T>(items: readonly T[], run: number): T[] {
  if (!Number.isInteger(run) || run < 0) throw new Error(`A run number is a whole number from 0, not ${run}`);
  const shift = items.length === 0 ? 0 : run % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** The median of `xs`: the middle value, or the mean of the two middle values of an even count. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("The median of no values is undefined");
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const upper = s[mid] ?? 0;
  return s.length % 2 === 1 ? upper : ((s[mid - 1] ?? 0) + upper) / 2;
}

/** The smallest and the largest of `xs`. */
export function spread(xs: readonly number[]): { min: number; max: number } {
  if (xs.length === 0) throw new Error("The spread of no values is undefined");
  return { min: Math.min(...xs), max: Math.max(...xs) };
}

/** One measured step: one tool, one phase, one run. */
export interface Sample {
  readonly run: number;
  readonly phase: Phase;
  readonly tool: Tool;
  /** Wall time of the tool's process plus `syncSeconds`. */
  readonly wallSeconds: number;
  /** The fsync of what the tool wrote, after it exited (part of wallSeconds): every tool's output ends on disk. */
  readonly syncSeconds: number;
  /** User + system CPU of the tool's process (GNU time). */
  readonly cpuSeconds: number;
  readonly peakRssBytes: number;
  /** Bytes of the tool's repository after the phase. */
  readonly storedBytes: number;
  /** Bytes of the image the tool read; undefined for restores. */
  readonly readBytes: number | undefined;
}

/** The runs of one tool in one phase, summarized. */
export interface SummaryRow {
  readonly phase: Phase;
  readonly tool: Tool;
  /** Undefined when the tool has no such phase (kopia and restic have no CBT input). */
  readonly stats?: {
    readonly runs: number;
    /** MB/s = image size / wall time, 1 MB = 10^6 bytes. */
    readonly mbps: number;
    readonly mbpsMin: number;
    readonly mbpsMax: number;
    readonly wallSeconds: number;
    readonly syncSeconds: number;
    readonly cpuSeconds: number;
    readonly peakRssBytes: number;
    readonly storedBytes: number;
    readonly readBytes: number | undefined;
  };
}

/** The medians (and the MB/s spread) of each phase and tool, in PHASES and TOOLS order. */
export function summarize(samples: readonly Sample[], imageBytes: number): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const phase of PHASES) {
    for (const tool of TOOLS) {
      const mine = samples.filter((s) => s.phase === phase && s.tool === tool);
      if (mine.length === 0) {
        rows.push({ phase, tool });
        continue;
      }
      const mbps = mine.map((s) => imageBytes / 1e6 / s.wallSeconds);
      const reads = mine.map((s) => s.readBytes).filter((b): b is number => b !== undefined);
      const { min, max } = spread(mbps);
      rows.push({
        phase,
        tool,
        stats: {
          runs: mine.length,
          mbps: median(mbps),
          mbpsMin: min,
          mbpsMax: max,
          wallSeconds: median(mine.map((s) => s.wallSeconds)),
          syncSeconds: median(mine.map((s) => s.syncSeconds)),
          cpuSeconds: median(mine.map((s) => s.cpuSeconds)),
          peakRssBytes: median(mine.map((s) => s.peakRssBytes)),
          storedBytes: median(mine.map((s) => s.storedBytes)),
          readBytes: reads.length ? median(reads) : undefined,
        },
      });
    }
  }
  return rows;
}

/** A throughput for the table: no decimals from 100 MB/s, one below. */
export function formatMbps(mbps: number): string {
  return mbps >= 100 ? mbps.toFixed(0) : mbps.toFixed(1);
}

/**
 * Lifeboat's median MB/s divided by `row`'s (so "2.0x" means Lifeboat
 * processed the image twice as fast as that tool), shown in the peer's row;
 * "n/a" when either side did not run the phase.
 */
export function ratioCell(rows: readonly SummaryRow[], row: SummaryRow): string {
  if (row.tool === "lifeboat") return "—";
  const ours = rows.find((r) => r.phase === row.phase && r.tool === "lifeboat")?.stats;
  if (!ours || !row.stats) return "n/a";
  return `${(ours.mbps / row.stats.mbps).toFixed(2)}x`;
}

export const TABLE_HEAD = [
  "phase", "tool", "MB/s (median)", "MB/s min–max", "wall s", "of which fsync s", "CPU s", "peak RSS", "image read", "stored", "Lifeboat ÷ tool",
] as const;

/** The cells of one row of the table. */
export function rowCells(rows: readonly SummaryRow[], row: SummaryRow): string[] {
  const s = row.stats;
  if (!s) return [row.phase, row.tool, "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", ratioCell(rows, row)];
  return [
    row.phase,
    row.tool,
    formatMbps(s.mbps),
    `${formatMbps(s.mbpsMin)}–${formatMbps(s.mbpsMax)}`,
    s.wallSeconds.toFixed(2),
    s.syncSeconds.toFixed(2),
    s.cpuSeconds.toFixed(1),
    formatBytes(s.peakRssBytes),
    s.readBytes === undefined ? "—" : formatBytes(s.readBytes),
    formatBytes(s.storedBytes),
    ratioCell(rows, row),
  ];
}

/** A Markdown table, columns padded so that it also reads as plain text. */
export function markdownTable(head: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string => `| ${widths.map((w, i) => (cells[i] ?? "").padEnd(w)).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)].join("\n");
}

/** The results table of summarized rows. */
export function resultsTable(rows: readonly SummaryRow[]): string {
  return markdownTable(TABLE_HEAD, rows.map((r) => rowCells(rows, r)));
}
