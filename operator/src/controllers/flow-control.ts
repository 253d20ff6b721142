import type { GatewaySpec } from "../api/generated/types.js";
import { parseQuantity } from "../util/quantity.js";
import { inWindow, nextWindowChange } from "./weekly-window.js";

type Window = NonNullable<GatewaySpec["flowControl"]>[number];

/** The limit in force and when it may next change. */
export interface FlowControlState {
  /** Bytes per second for all workers together; undefined when unlimited. */
  readonly limit: number | undefined;
  /** The next window start or end, when the limit may change. */
  readonly nextChange: Date | undefined;
}

/**
 * Evaluates a Gateway's flow-control windows (seed 001) at `now` in its
 * time zone. Where windows overlap the lowest limit wins, so adding a window
 * can only slow uploads down, never speed them up.
 */
export function flowControlState(windows: readonly Window[], timeZone: string, now: Date = new Date()): FlowControlState {
  let limit: number | undefined;
  let nextChange: Date | undefined;
  for (const w of windows) {
    if (inWindow(w, timeZone, now)) {
      const bw = parseQuantity(w.bandwidth);
      limit = limit === undefined ? bw : Math.min(limit, bw);
    }
    const next = nextWindowChange(w, timeZone, now);
    if (next && (!nextChange || next < nextChange)) nextChange = next;
  }
  return { limit, nextChange };
}
