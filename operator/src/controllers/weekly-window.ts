/**
 * Weekly windows of clock time in a time zone: a Gateway's flow-control
 * windows (seed 001) and a protected server's business hours (seed 003).
 * A window starts on each of its days at `start` and ends at `end`; one
 * whose end is not after its start runs past midnight into the next day.
 */
import { Cron } from "croner";
import { zonedFormatter } from "../util/time.js";

/** One weekly window; days are "Mon" to "Sun". */
export interface WeeklyWindow {
  readonly days: readonly string[];
  /** HH:MM, 24-hour. */
  readonly start: string;
  readonly end: string;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(":").map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** Weekday (0 = Sunday) and minute of day of an instant in a time zone. */
function localTime(now: Date, timeZone: string): { day: number; minute: number } {
  const parts = zonedFormatter(timeZone, { weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(now);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return { day: DAYS.indexOf(get("weekday") as (typeof DAYS)[number]), minute: Number(get("hour")) * 60 + Number(get("minute")) };
}

/** Whether `now` falls in the window, in `timeZone`. An invalid zone throws (RangeError). */
export function inWindow(w: WeeklyWindow, timeZone: string, now: Date = new Date()): boolean {
  const { day, minute } = localTime(now, timeZone);
  const start = minutes(w.start);
  const end = minutes(w.end);
  const has = (d: number) => w.days.includes(DAYS[(d + 7) % 7] ?? "");
  if (start < end) return has(day) && minute >= start && minute < end;
  // Runs past midnight: from start on a listed day to end on the next day.
  return (has(day) && minute >= start) || (has(day - 1) && minute < end);
}

/** The window's next start or end after `now`, whichever comes first. */
export function nextWindowChange(w: WeeklyWindow, timeZone: string, now: Date = new Date()): Date | undefined {
  const dayNumbers = w.days.map((d) => DAYS.indexOf(d as (typeof DAYS)[number]));
  const endDays = minutes(w.end) <= minutes(w.start) ? dayNumbers.map((d) => (d + 1) % 7) : dayNumbers;
  const [sh, sm] = w.start.split(":");
  const [eh, em] = w.end.split(":");
  let next: Date | undefined;
  for (const pattern of [`0 ${Number(sm)} ${Number(sh)} * * ${dayNumbers.join(",")}`, `0 ${Number(em)} ${Number(eh)} * * ${endDays.join(",")}`]) {
    const at = new Cron(pattern, { timezone: timeZone, paused: true }).nextRun(now);
    if (at && (!next || at < next)) next = at;
  }
  return next;
}

/** Whether a time zone is one Intl knows (an IANA name such as Asia/Tokyo, or UTC). */
export function isTimeZone(timeZone: string): boolean {
  try {
    zonedFormatter(timeZone);
    return true;
  } catch {
    return false;
  }
}
