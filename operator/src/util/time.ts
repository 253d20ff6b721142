/**
 * A time as Kubernetes writes it in status (RFC 3339, whole seconds, UTC),
 * so values the operator writes compare and display like the API server's own.
 */
export function isoSeconds(time: Date | string): string {
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * How long to wait, in ms, to wake just after a time written in status
 * (whole seconds, so 200 ms late rather than a moment early), and at least
 * a second.
 */
export function msUntilJustAfter(time: string): number {
  return Math.max(1000, Date.parse(time) - Date.now() + 200);
}

/**
 * Formatters by time zone and options, made once each. V8 builds a new ICU
 * formatter for every `new Intl.DateTimeFormat` with a time zone, thousands
 * of small mallocs each: a restart's 1,000 BackupPlan reconciles made one
 * apiece and raised the operator's RSS high-water mark by 23-33 MiB. A
 * formatter is immutable, so one per zone and shape serves every caller; an
 * invalid zone throws (RangeError) and is not kept.
 */
const zonedFormatters = new Map<string, Intl.DateTimeFormat>();

export function zonedFormatter(timeZone: string, options: Intl.DateTimeFormatOptions = {}): Intl.DateTimeFormat {
  const key = JSON.stringify([timeZone, options]);
  let formatter = zonedFormatters.get(key);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", { ...options, timeZone });
    zonedFormatters.set(key, formatter);
  }
  return formatter;
}
