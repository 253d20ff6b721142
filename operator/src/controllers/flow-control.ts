import { Cron } from "croner";
import type { GatewaySpec } from "../api/generated/types.js";
import { parseQuantity } from "../util/quantity.js";
import { zonedFormatter } from "../util/time.js";

type Window = NonNullable<GatewaySpec["flowControl"]>[number];
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(":").map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** Weekday and minute of day of an instant in a time zone. */
function localTime(now: Date, timeZone: string): { day: number; minute: number } {
  const parts = zonedFormatter(timeZone, { weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(now);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return { day: DAYS.indexOf(get("weekday") as (typeof DAYS)[number]), minute: Number(get("hour")) * 60 + Number(get("minute")) };
}

function applies(w: Window, day: number, minute: number): boolean {
  const start = minutes(w.start);
  const end = minutes(w.end);
  const has = (d: number) => w.days.includes(DAYS[(d + 7) % 7] as Window["days"][number]);
  if (start < end) return has(day) && minute >= start && minute < end;
  // Runs past midnight: from start on a listed day to end on the next day.
  return (has(day) && minute >= start) || (has(day - 1) && minute < end);
}

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
  const { day, minute } = localTime(now, timeZone);
  let limit: number | undefined;
  let nextChange: Date | undefined;
  for (const w of windows) {
    if (applies(w, day, minute)) {
      const bw = parseQuantity(w.bandwidth);
      limit = limit === undefined ? bw : Math.min(limit, bw);
    }
    const dayNumbers = w.days.map((d) => DAYS.indexOf(d));
    const endDays = minutes(w.end) <= minutes(w.start) ? dayNumbers.map((d) => (d + 1) % 7) : dayNumbers;
    const [sh, sm] = w.start.split(":");
    const [eh, em] = w.end.split(":");
    for (const pattern of [`0 ${Number(sm)} ${Number(sh)} * * ${dayNumbers.join(",")}`, `0 ${Number(em)} ${Number(eh)} * * ${endDays.join(",")}`]) {
      const next = new Cron(pattern, { timezone: timeZone, paused: true }).nextRun(now);
      if (next && (!nextChange || next < nextChange)) nextChange = next;
    }
  }
  return { limit, nextChange };
}
