/**
 * A time as Kubernetes writes it in status (RFC 3339, whole seconds, UTC),
 * so values the operator writes compare and display like the API server's own.
 */
export function isoSeconds(time: Date | string): string {
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, "Z");
}
