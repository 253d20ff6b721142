/**
 * The pure parts of `npm run bench:pipeline`: which byte ranges a plain read
 * covers, what vcsim says an import received, and the report: each phase's
 * medians beside its physical limit and the fraction of the limit reached.
 * Kept apart from run.ts so that the arithmetic the conclusions rest on is
 * unit-tested.
 */
import { formatBytes } from "../../operator/src/util/quantity.js";
import { markdownTable, median } from "../support/worker.js";

/** A byte range of a disk. */
export interface Extent {
  readonly offset: number;
  readonly length: number;
}

/**
 * The runs of adjacent blocks among `blocks` (sorted, distinct) as byte
 * extents, the last clipped at the disk's `size`: what one ranged GET each
 * reads when a plain client streams the same areas the worker reads block by
 * block.
 */
export function extentsOfBlocks(blocks: readonly number[], blockSize: number, size: number): Extent[] {
  const extents: Extent[] = [];
  let start = -1;
  let end = -1;
  for (const b of blocks) {
    if (b === end) {
      end++;
      continue;
    }
    if (start >= 0) extents.push({ offset: start * blockSize, length: Math.min(size, end * blockSize) - start * blockSize });
    start = b;
    end = b + 1;
  }
  if (start >= 0) extents.push({ offset: start * blockSize, length: Math.min(size, end * blockSize) - start * blockSize });
  return extents;
}

/** What vcsim's harness logged when an import lease's upload to a disk ended. */
export interface ImportReceipt {
  /** Bytes of the stream-optimized VMDK the disk's device URL received. */
  readonly streamBytes: number;
  /** Grains in the stream: every one is a grain the client chose to send. */
  readonly grains: number;
  /** Bytes those grains inflate to. */
  readonly grainBytes: number;
}

/**
 * The harness's receipt for the upload of VM `vm`'s disk (nfc.go: "import
 * lease ID: disk KEY of VM received N bytes, G grains (B bytes of data) of C
 * bytes of capacity"), the last one if the VM name came back; undefined
 * when there is none.
 */
export function importReceipt(log: string, vm: string): ImportReceipt | undefined {
  let found: ImportReceipt | undefined;
  const escaped = vm.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const line = new RegExp(`import lease \\S+: disk -?\\d+ of ${escaped} received (\\d+) bytes, (\\d+) grains \\((\\d+) bytes of data\\)`, "g");
  for (const m of log.matchAll(line)) found = { streamBytes: Number(m[1]), grains: Number(m[2]), grainBytes: Number(m[3]) };
  return found;
}

/** CPU seconds over a measured span: of the process that moved the bytes (the worker, or this bench for a limit) and of vcsim. */
export interface CpuUse {
  readonly process: number;
  readonly vcsim: number;
}

/** One plain measurement of a phase's limit in one run. */
export interface LimitRun {
  readonly seconds: number;
  readonly bytes: number;
  readonly cpu?: CpuUse | undefined;
}

/** One run of one phase: the pipeline's figures and each of its limits'. */
export interface PhaseRun {
  /** Seconds of the pipeline's data path (from the worker's log lines; see run.ts). */
  readonly seconds: number;
  /** Seconds of the whole worker process, start to exit. */
  readonly wallSeconds: number;
  /** Bytes the pipeline moved: read from the datastore, sent to vSphere, or written to the file. */
  readonly bytes: number;
  /** For backups: seconds vcsim took to create the snapshot (it copies the disk's data; vSphere's redo log takes milliseconds). */
  readonly snapshotSeconds?: number;
  /** The worker's and vcsim's CPU over the data path. */
  readonly cpu?: CpuUse | undefined;
  /** The worker's peak RSS over its whole run, bytes. */
  readonly peakRssBytes?: number | undefined;
  /** The limits of this run, in the order of Phase.limits. */
  readonly limits: readonly LimitRun[];
}

/** A phase of the benchmark and its runs. */
export interface Phase {
  readonly name: string;
  /** What the bytes are: "read", "sent", "written". */
  readonly moved: string;
  /** What each limit is, as the report names it. */
  readonly limits: readonly string[];
  readonly runs: readonly PhaseRun[];
}

/** The medians of a phase against one of its limits. */
export interface LimitSummary {
  readonly limit: string;
  readonly seconds: number;
  readonly bytes: number;
  /** Limit seconds over pipeline seconds (medians): 1 means the pipeline moves its bytes as fast as a plain transfer does. */
  readonly fraction: number;
  /** The same over the whole worker run. */
  readonly wallFraction: number;
  /** The lowest and highest per-run fraction (limit and pipeline of the same run). */
  readonly spread: readonly [number, number];
  /** Median CPU seconds of this process and of vcsim over the limit, when measured. */
  readonly cpu: CpuUse | undefined;
}

/** Medians of a phase over its runs. */
export interface PhaseSummary {
  readonly name: string;
  readonly moved: string;
  readonly seconds: number;
  readonly wallSeconds: number;
  readonly bytes: number;
  readonly snapshotSeconds: number | undefined;
  /** Median CPU seconds of the worker and of vcsim over the data path, when measured. */
  readonly cpu: CpuUse | undefined;
  /** The highest of the runs' worker peak RSS, bytes, when measured. */
  readonly peakRssBytes: number | undefined;
  readonly limits: readonly LimitSummary[];
}

/** The medians of the CPU uses that were measured; undefined when none was. */
export function medianCpu(uses: readonly (CpuUse | undefined)[]): CpuUse | undefined {
  const measured = uses.filter((u): u is CpuUse => u !== undefined);
  if (measured.length === 0) return undefined;
  return { process: median(measured.map((u) => u.process)), vcsim: median(measured.map((u) => u.vcsim)) };
}

/** Medians of `phase`, and the fraction of each limit it reaches. */
export function summarizePhase(phase: Phase): PhaseSummary {
  if (phase.runs.length === 0) throw new Error(`Phase "${phase.name}" has no runs`);
  const seconds = median(phase.runs.map((r) => r.seconds));
  const wallSeconds = median(phase.runs.map((r) => r.wallSeconds));
  const snapshots = phase.runs.flatMap((r) => (r.snapshotSeconds === undefined ? [] : [r.snapshotSeconds]));
  const peaks = phase.runs.flatMap((r) => (r.peakRssBytes === undefined ? [] : [r.peakRssBytes]));
  const limits = phase.limits.map((limit, i): LimitSummary => {
    const runs = phase.runs.map((r) => {
      const l = r.limits[i];
      if (!l) throw new Error(`A run of phase "${phase.name}" lacks its limit "${limit}"`);
      return { l, fraction: l.seconds / r.seconds };
    });
    const limitSeconds = median(runs.map((x) => x.l.seconds));
    const fractions = runs.map((x) => x.fraction);
    return {
      limit,
      seconds: limitSeconds,
      bytes: median(runs.map((x) => x.l.bytes)),
      fraction: limitSeconds / seconds,
      wallFraction: limitSeconds / wallSeconds,
      spread: [Math.min(...fractions), Math.max(...fractions)],
      cpu: medianCpu(runs.map((x) => x.l.cpu)),
    };
  });
  return {
    name: phase.name,
    moved: phase.moved,
    seconds,
    wallSeconds,
    bytes: median(phase.runs.map((r) => r.bytes)),
    snapshotSeconds: snapshots.length > 0 ? median(snapshots) : undefined,
    cpu: medianCpu(phase.runs.map((r) => r.cpu)),
    peakRssBytes: peaks.length > 0 ? Math.max(...peaks) : undefined,
    limits,
  };
}

/** MB/s (10^6 bytes per second), as the other benches report it. */
export function mbps(bytes: number, seconds: number): string {
  return seconds > 0 ? (bytes / 1e6 / seconds).toFixed(0) : "-";
}

/** A fraction as a whole percentage. */
export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(0)} %`;
}

/** The main table: each phase beside each of its limits, medians, and the fraction reached. */
export function limitsTable(phases: readonly PhaseSummary[]): string[] {
  const rows: string[][] = [];
  for (const p of phases) {
    for (const l of p.limits) {
      rows.push([
        p.name,
        `${formatBytes(p.bytes)} ${p.moved}`,
        p.seconds.toFixed(2),
        mbps(p.bytes, p.seconds),
        l.limit,
        formatBytes(l.bytes),
        l.seconds.toFixed(2),
        mbps(l.bytes, l.seconds),
        `**${percent(l.fraction)}**`,
        `${percent(l.spread[0])}–${percent(l.spread[1])}`,
      ]);
    }
  }
  return markdownTable(["phase", "pipeline moved", "pipeline s", "pipeline MB/s", "physical limit (plain, same run)", "limit moved", "limit s", "limit MB/s", "fraction of limit", "per run"], rows);
}

/** The whole worker runs: where the time outside the data path goes, the fraction of the (first) limit over the whole run, and the worker's peak RSS. */
export function wholeRunTable(phases: readonly PhaseSummary[]): string[] {
  const rows = phases.map((p) => {
    const first = p.limits[0];
    const snapshot = p.snapshotSeconds ?? 0;
    return [
      p.name,
      p.wallSeconds.toFixed(2),
      p.seconds.toFixed(2),
      p.snapshotSeconds === undefined ? "—" : snapshot.toFixed(2),
      Math.max(0, p.wallSeconds - p.seconds - snapshot).toFixed(2),
      first ? percent(first.wallFraction) : "—",
      p.peakRssBytes === undefined ? "—" : formatBytes(p.peakRssBytes),
    ];
  });
  return markdownTable(["phase", "worker run s", "of which data path s", "of which vcsim snapshot s", "of which the rest s", "fraction of the first limit, whole run", "worker peak RSS (highest run)"], rows);
}

/** CPU seconds as "process + vcsim = cores busy" over `seconds`, or a dash when not measured. */
function cpuCells(cpu: CpuUse | undefined, seconds: number): string[] {
  if (!cpu) return ["—", "—", "—"];
  return [cpu.process.toFixed(1), cpu.vcsim.toFixed(1), seconds > 0 ? ((cpu.process + cpu.vcsim) / seconds).toFixed(2) : "—"];
}

/**
 * Where the CPU went: the worker's and vcsim's CPU seconds over each data
 * path, and this process's and vcsim's over each limit, with the cores they
 * kept busy on average. On two cores, a phase near 2 is bound by CPU.
 */
export function cpuTable(phases: readonly PhaseSummary[]): string[] {
  const rows: string[][] = [];
  for (const p of phases) {
    rows.push([p.name, "pipeline (worker)", p.seconds.toFixed(2), ...cpuCells(p.cpu, p.seconds)]);
    for (const l of p.limits) rows.push([p.name, `limit: ${l.limit} (this process)`, l.seconds.toFixed(2), ...cpuCells(l.cpu, l.seconds)]);
  }
  return markdownTable(["phase", "what ran", "s", "its CPU s", "vcsim CPU s", "cores busy"], rows);
}

/** A goal of the issue and whether the run met it. */
export interface GoalResult {
  readonly goal: string;
  readonly result: string;
  readonly met: boolean;
}

/** `fraction` against a goal of at least `goal`, as a table cell. */
export function against(fraction: number, goal: number): { text: string; met: boolean } {
  const met = fraction >= goal;
  return { text: `${percent(fraction)}${met ? "" : " (missed)"}`, met };
}
