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
