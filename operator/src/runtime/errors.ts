import { inspect } from "node:util";
import * as k8s from "@kubernetes/client-node";

/**
 * An error and its causes as one line, for logs and condition messages.
 * API errors are reduced to their HTTP code and the API server's message
 * (client-node's own message carries the whole response, headers included).
 */
export function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && parts.length < 6; e = e instanceof Error ? e.cause : undefined) {
    if (e instanceof k8s.ApiException) {
      const body: unknown = e.body;
      let message = "";
      try {
        message = (JSON.parse(typeof body === "string" ? body : JSON.stringify(body)) as { message?: string }).message ?? "";
      } catch {
        message = "";
      }
      parts.push(`HTTP ${e.code}${message ? `: ${message}` : ""}`);
    } else if (e instanceof Error) {
      parts.push(e.message.split("\n")[0] ?? e.message);
    } else {
      parts.push(typeof e === "string" ? e : inspect(e, { depth: 2, breakLength: Infinity }));
    }
  }
  return parts.join(": ");
}
