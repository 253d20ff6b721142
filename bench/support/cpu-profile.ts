/**
 * Where a worker's time goes, from the V8 CPU profiles `node --cpu-prof`
 * writes (one file per thread: CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile,
 * thread 0 the main thread, the others worker threads). A bench that misses
 * its goal reports the top frames by self time, so the next step is a
 * fix where the time really goes rather than a guess.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** The parts of a .cpuprofile file this reads (Chrome DevTools Protocol Profiler.Profile). */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  }[];
  readonly samples: readonly number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

/** One frame's self time. */
export interface FrameTime {
  /** "function file:line" (node_modules and the repository shortened), or V8's "(idle)", "(garbage collector)", "(program)". */
  readonly frame: string;
  readonly selfMs: number;
  /** Of the profiles' total duration. */
  readonly share: number;
}

/** A short, stable name of a call frame: the function, and where it is. */
export function frameName(callFrame: CpuProfile["nodes"][number]["callFrame"]): string {
  const fn = callFrame.functionName || "(anonymous)";
  if (!callFrame.url) return fn;
  const url = callFrame.url.replace(/^file:\/\//, "");
  const modules = url.lastIndexOf("/node_modules/");
  const dist = url.indexOf("/dist/");
  const where = modules >= 0 ? url.slice(modules + "/node_modules/".length) : dist >= 0 ? url.slice(dist + 1) : url;
  return `${fn} ${where}:${callFrame.lineNumber + 1}`;
}

/** A span of a profile's clock (microseconds, the clock of startTime and endTime, shared by a process's threads). */
export interface ProfileWindow {
  readonly fromUs: number;
  readonly toUs: number;
}

/**
 * Self time per frame over `profiles`, largest first, the first `top`: each
 * sample's time delta goes to the frame it landed in. With a `window` (per
 * profile, e.g. a worker's data path without its start-up), only the
 * samples inside it count, and the shares are of the window's time.
 */
export function topFrames(profiles: readonly { profile: CpuProfile; window?: ProfileWindow | undefined }[], top: number): FrameTime[] {
  const self = new Map<string, number>();
  let totalUs = 0;
  for (const { profile: p, window } of profiles) {
    const from = Math.max(p.startTime, window?.fromUs ?? p.startTime);
    const to = Math.min(p.endTime, window?.toUs ?? p.endTime);
    if (to <= from) continue;
    totalUs += to - from;
    const names = new Map(p.nodes.map((n) => [n.id, frameName(n.callFrame)]));
    let at = p.startTime;
    p.samples.forEach((id, i) => {
      const us = p.timeDeltas[i] ?? 0;
      at += us;
      if (at < from || at > to) return;
      const name = names.get(id) ?? `(node ${id})`;
      self.set(name, (self.get(name) ?? 0) + us);
    });
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([frame, us]) => ({ frame, selfMs: us / 1000, share: totalUs > 0 ? us / totalUs : 0 }));
}

/**
 * The window of a profile's clock that a span of wall-clock time (epoch
 * milliseconds, e.g. two of the worker's log lines) stands for, given when
 * the process started in both clocks: its main thread's profile starts as
 * Node.js bootstraps, a few tens of milliseconds after the spawn. Good
 * enough to leave the start-up out of a data path of seconds.
 */
export function windowOf(span: { fromMs: number; toMs: number }, started: { wallMs: number; profileUs: number }): ProfileWindow {
  return { fromUs: started.profileUs + (span.fromMs - started.wallMs) * 1000, toUs: started.profileUs + (span.toMs - started.wallMs) * 1000 };
}

/** The profiles process `pid` wrote into `dir`, split into its main thread's and its worker threads'. */
export async function readProfiles(dir: string, pid: number): Promise<{ main: CpuProfile[]; workers: CpuProfile[] }> {
  const pattern = new RegExp(`^CPU\\.\\d+\\.\\d+\\.${pid}\\.(\\d+)\\.\\d+\\.cpuprofile$`);
  const main: CpuProfile[] = [];
  const workers: CpuProfile[] = [];
  for (const name of await readdir(dir)) {
    const m = pattern.exec(name);
    if (!m) continue;
    const profile = JSON.parse(await readFile(join(dir, name), "utf8")) as CpuProfile;
    (m[1] === "0" ? main : workers).push(profile);
  }
  return { main, workers };
}
