/**
 * Output that follows something over time. On a terminal a frame is
 * redrawn in place (cursor up, clear to the end); in a pipe or a CI log each
 * item's line is printed only when its state changes, so a log stays short
 * and readable instead of filling with carriage returns.
 */
import { CliError } from "./cluster.js";
import type { Output } from "./program.js";

/** One line of a frame: `id` names the item, `state` decides whether a pipe sees the line again. */
export interface FrameLine {
  readonly id: string;
  readonly state: string;
  readonly text: string;
}

export class LiveView {
  private drawn = 0;
  private readonly printed = new Map<string, string>();

  constructor(private readonly out: Output) {}

  /** Shows the frame: in place on a terminal, its changed lines otherwise. */
  render(lines: readonly FrameLine[]): void {
    if (this.out.isTTY) {
      const width = this.out.columns ?? Infinity;
      const text = lines.map((l) => `${l.text.length >= width ? l.text.slice(0, width - 1) : l.text}\n`).join("");
      this.out.write(`${this.drawn > 0 ? `\x1b[${this.drawn}A\x1b[0J` : ""}${text}`);
      this.drawn = lines.length;
      return;
    }
    for (const l of lines) {
      if (this.printed.get(l.id) === l.state) continue;
      this.printed.set(l.id, l.state);
      this.out.write(`${l.text}\n`);
    }
  }

  /** Redraws on a terminal start below the last frame from now on. */
  detach(): void {
    this.drawn = 0;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls `step` every `intervalMs` until it returns a value; a CliError-style
 * message when `timeoutSeconds` passes first. Polling (not a watch) keeps
 * the command simple and its requests few: one GET per interval.
 */
export async function poll<T>(what: string, intervalMs: number, timeoutSeconds: number | undefined, step: () => Promise<T | undefined>): Promise<T> {
  const deadline = timeoutSeconds === undefined ? Infinity : Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const value = await step();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new TimeoutError(`Gave up waiting for ${what} after ${timeoutSeconds ?? 0} s (--timeout); it goes on in the cluster: \`kubectl lifeboat status\` follows it`);
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/** --timeout passed: the work goes on in the cluster, the command stops following it. */
export class TimeoutError extends CliError {
  constructor(message: string) {
    super(message);
    this.name = "TimeoutError";
  }
}
