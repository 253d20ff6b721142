/**
 * How `kubectl lifeboat` shows numbers to a person: IEC sizes and rates
 * (10 GiB, 120 MiB/s, the same strings as the human-readable status fields), ages and durations as kubectl prints them (5m, 3h),
 * tables aligned like `kubectl get`, and text progress bars. Pure functions,
 * so the output is the same on a terminal, in a pipe and in tests.
 */
import { formatBytes, formatRate as formatBytesPerSecond } from "../../util/quantity.js";

/** Bytes in IEC units, e.g. "10 GiB"; "-" when unknown, so a table column never shows "undefined". */
export function formatSize(bytes: number | undefined): string {
  return bytes === undefined ? "-" : formatBytes(bytes);
}

/** A rate in IEC units per second, e.g. "120 MiB/s"; "-" when unknown. */
export function formatRate(bytesPerSecond: number | undefined): string {
  return bytesPerSecond === undefined || !Number.isFinite(bytesPerSecond) ? "-" : formatBytesPerSecond(bytesPerSecond);
}

/**
 * A duration exactly as kubectl prints ages (apimachinery's
 * duration.HumanDuration): seconds up to 2 minutes, then minutes (with
 * seconds below 10), hours (with minutes below 8), days (with hours below
 * 8 days) and years. Negative durations (clock skew) print as 0s.
 */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 ? `${minutes}m${seconds % 60}s` : `${minutes}m`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 ? `${hours}h${minutes % 60}m` : `${hours}h`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 ? `${days}d${hours % 24}h` : `${days}d`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 ? `${years}y${days % 365}d` : `${years}y`;
  return `${years}y`;
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
