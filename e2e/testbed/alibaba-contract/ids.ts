import { randomBytes, randomUUID } from "node:crypto";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** The kinds of ECS resource id the contract server hands out, by their documented prefix. */
export type ResourceKind = "i" | "d" | "s" | "m" | "t" | "c" | "vsw" | "sg" | "eip";

/**
 * A resource id shaped like the real ones (`i-bp1…`, `d-bp1…`, 20 characters
 * after the prefix), so that code which validates or logs ids sees what it
 * would see against ECS. `bp1` is the id infix ECS uses in cn-hangzhou.
 */
export function resourceId(kind: ResourceKind): string {
  const bytes = randomBytes(17);
  let tail = "";
  for (const b of bytes) tail += ALPHABET[b % ALPHABET.length] ?? "0";
  return `${kind}-bp1${tail}`;
}

/** A RequestId as ECS and OSS return them: an upper-case UUID. */
export function requestId(): string {
  return randomUUID().toUpperCase();
}

/** ISO 8601 in UTC without milliseconds and with minutes precision, as ECS prints CreationTime (`2024-01-01T10:00Z`). */
export function ecsTime(ms: number): string {
  return new Date(ms).toISOString().replace(/:\d\d\.\d{3}Z$/, "Z");
}
