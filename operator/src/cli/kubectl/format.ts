/**
 * How `kubectl lifeboat` shows numbers to a person: IEC sizes and rates
 * (10 GiB, 120 MiB/s), ages and durations as kubectl prints them (5m, 3h),
 * tables aligned like `kubectl get`, and text progress bars. Pure functions,
 * so the output is the same on a terminal, in a pipe and in tests.
 */
import { formatBytes } from "../../util/quantity.js";

/** Bytes in IEC units, e.g. "10 GiB"; "-" when unknown, so a table column never shows "undefined". */
export function formatSize(bytes: number | undefined): string {
  return bytes === undefined || !Number.isFinite(bytes) ? "-" : formatBytes(Math.max(0, bytes));
}

/** A rate in IEC units per second, e.g. "120 MiB/s"; "-" when unknown. */
export function formatRate(bytesPerSecond: number | undefined): string {
  return bytesPerSecond === undefined || !Number.isFinite(bytesPerSecond) ? "-" : `${formatBytes(Math.max(0, bytesPerSecond))}/s`;
}

/**
 * A duration the way kubectl prints ages: the largest unit and, below a
 * day, the next one too (45s, 3m20s, 5h10m, 12d). Negative durations
 * (clock skew) print as 0s.
 */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** The age of an RFC 3339 time relative to `now`, e.g. "5m"; "-" when absent or unparsable. */
export function formatAge(time: string | undefined, now: Date): string {
  const t = time ? Date.parse(time) : NaN;
  return Number.isNaN(t) ? "-" : formatDuration((now.getTime() - t) / 1000);
}

/**
 * Rows under upper-case headers, columns padded to their widest cell and
 * three spaces apart, as `kubectl get` prints them (no trailing spaces).
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("   ").trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join("\n") + "\n";
}

/**
 * A progress bar of `width` cells with the percentage, e.g.
 * "[#######-------------]  35%". Done beyond total (a disk grew) shows 100%.
 */
export function progressBar(done: number, total: number, width = 20): string {
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const filled = Math.round(fraction * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`;
}
