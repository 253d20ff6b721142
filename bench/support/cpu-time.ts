/**
 * CPU time of processes while a bench runs, from Linux's /proc: how many
 * cores a phase kept busy, and whose. On a machine of two cores shared by the
 * worker, vcsim and the bench itself, a phase that keeps both cores busy is
 * bound by CPU, and its distance from a plain transfer is the CPU the
 * pipeline adds per byte; a phase that leaves them idle waits on something.
 */
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";

/** Clock ticks a second of /proc's times (USER_HZ), read once. */
let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const answer = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    ticksPerSecond = Number.isFinite(answer) && answer > 0 ? answer : 100;
  }
  return ticksPerSecond;
}

/**
 * User plus system clock ticks of all threads of a process, from the text of
 * /proc/PID/stat (fields 14 and 15, counted after the command name, which
 * may hold spaces and parentheses).
 */
export function statTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state), so fields 14 and 15 are rest[11] and rest[12].
  const user = Number(rest[11]);
  const system = Number(rest[12]);
  if (!Number.isFinite(user) || !Number.isFinite(system)) throw new Error(`Not a /proc/PID/stat line: ${stat.slice(0, 80)}`);
  return user + system;
}

/** CPU seconds process `pid` has used so far (all its threads); undefined once it is gone. */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  try {
    return statTicks(await readFile(`/proc/${pid}/stat`, "utf8")) / clockTicks();
  } catch {
    return undefined;
  }
}

/**
 * The peak resident set size in bytes from the text of /proc/PID/status
 * (VmHWM, in kB): the most memory the process has held, all its threads.
 */
export function statusPeakRss(status: string): number {
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error("Not a /proc/PID/status text with a VmHWM line");
  return Number(kb) * 1024;
}

/** Peak RSS of process `pid` so far, in bytes; undefined once it is gone. */
export async function peakRssBytes(pid: number): Promise<number | undefined> {
  try {
    return statusPeakRss(await readFile(`/proc/${pid}/status`, "utf8"));
  } catch {
    return undefined;
  }
}

/** A process's CPU seconds so far at a wall-clock time (epoch ms). */
export interface CpuSample {
  readonly atMs: number;
  readonly seconds: number;
}

/**
 * Samples a process's CPU time every `intervalMs` until stopped (or the
 * process is gone), and its peak RSS: the last VmHWM read before it exited.
 */
export class CpuSampler {
  readonly samples: CpuSample[] = [];
  /** The process's peak RSS in bytes, as last read (VmHWM only grows); undefined if never read. */
  peakRssBytes: number | undefined;
  private readonly timer: NodeJS.Timeout;
  private sampling: Promise<void> = Promise.resolve();

  constructor(private readonly pid: number, intervalMs = 100) {
    this.timer = setInterval(() => { this.sampling = this.sample(); }, intervalMs);
    this.sampling = this.sample();
  }

  /** Takes a sample now (at the edge of a span to be measured, so that no interpolation reaches past it). */
  async mark(): Promise<void> {
    await this.sample();
  }

  /** Takes a last sample and stops. */
  async stop(): Promise<CpuSample[]> {
    clearInterval(this.timer);
    await this.sampling;
    await this.sample();
    return this.samples;
  }

  private async sample(): Promise<void> {
    const [seconds, peak] = await Promise.all([cpuSeconds(this.pid), peakRssBytes(this.pid)]);
    if (seconds !== undefined) this.samples.push({ atMs: Date.now(), seconds });
    if (peak !== undefined) this.peakRssBytes = peak;
  }
}

/**
 * CPU seconds used between two wall-clock times (epoch ms), interpolated
 * linearly between the samples around each end; a time before the first
 * sample or after the last counts as that sample.
 */
export function cpuBetween(samples: readonly CpuSample[], fromMs: number, toMs: number): number {
  return Math.max(0, cpuAt(samples, toMs) - cpuAt(samples, fromMs));
}

function cpuAt(samples: readonly CpuSample[], atMs: number): number {
  const first = samples[0];
  if (!first) return 0;
  if (atMs <= first.atMs) return first.seconds;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] as CpuSample;
    const b = samples[i] as CpuSample;
    if (atMs <= b.atMs) return b.atMs === a.atMs ? b.seconds : a.seconds + ((b.seconds - a.seconds) * (atMs - a.atMs)) / (b.atMs - a.atMs);
  }
  return (samples[samples.length - 1] as CpuSample).seconds;
}
