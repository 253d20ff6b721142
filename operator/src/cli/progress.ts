/**
 * Progress output of long CLI commands: one rewritten line on a terminal,
 * JSON lines when stderr is not a TTY (logs, Kubernetes pods, scripts).
 */
import { formatBytes } from "../util/quantity.js";

export interface ProgressLine {
  readonly op: string;
  readonly disk: string;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly throughput: number;
  readonly etaSeconds: number | undefined;
  readonly done: boolean;
  /** Extra counters shown after the main figures. */
  readonly detail?: Readonly<Record<string, number>>;
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** Writes progress to stderr in the form that suits it. */
export class ProgressReporter {
  private readonly tty: boolean;
  private dirty = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = stream.isTTY;
  }

  /** Minimum interval between updates for this output. */
  get intervalMs(): number {
    return this.tty ? 250 : 1000;
  }

  update(p: ProgressLine): void {
    if (!this.tty) {
      this.stream.write(`${JSON.stringify({ event: "progress", time: new Date().toISOString(), ...p, throughput: Math.round(p.throughput), etaSeconds: p.etaSeconds === undefined ? null : Math.round(p.etaSeconds) })}\n`);
      return;
    }
    const pct = p.bytesTotal > 0 ? Math.min(100, (100 * p.bytesDone) / p.bytesTotal).toFixed(1) : "100.0";
    const eta = p.done ? "done" : p.etaSeconds === undefined ? "ETA --" : `ETA ${clock(p.etaSeconds)}`;
    const extra = Object.entries(p.detail ?? {}).map(([k, v]) => `${k} ${formatBytes(v)}`).join("  ");
    const line = `${p.op} ${p.disk}: ${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)} (${pct}%)  ${formatBytes(p.throughput)}/s  ${eta}  ${extra}`;
    this.stream.write(`\r\x1b[2K${line}`);
    this.dirty = true;
    if (p.done) this.finish();
  }

  /** Ends the rewritten line so later output starts on a fresh one. */
  finish(): void {
    if (this.tty && this.dirty) this.stream.write("\n");
    this.dirty = false;
  }
}
