/**
 * Free page reporting: a virtual machine with a virtio-balloon device that
 * reports free pages hands the memory its kernel frees (a dropped page
 * cache, a deleted tmpfs file) back to its host. The next time the guest
 * uses those pages the host must map them again, one fault at a time, and
 * the step that happens to touch them pays for it in system time. On the
 * test machine that made the same warm restore take 2.06 s as the first
 * tool of a run and 5.74 s as the second, and restic's system time 3.3 s
 * and 8.6 s in two identical runs, which drowned the differences a
 * benchmark is there to show. Writes into the page cache pay it most: six
 * 1.5 GiB files written in turn took 0.45 CPU s for the first and up to
 * 8 s for the later ones, and 0.5 s each with reporting off (vcsim's
 * snapshot copy and import decoder are such writes; docs/benchmarks.md,
 * the pipeline at 2026-12-06 13:37).
 *
 * While a benchmark runs, `holdFreePageReporting` turns reporting off (as
 * root, like dropping the page cache) and touches the guest's free memory
 * once, so that the steps find it mapped rather than handed back; `release`
 * puts the old setting back. Every tool gets the same machine; the report
 * says what was done.
 */
import { open, readFile, rm, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";

const ORDER_PARAMETER = "/sys/module/page_reporting/parameters/page_reporting_order";
const MiB = 1024 * 1024;
/** statfs's f_type of a tmpfs (linux/magic.h): the only kind of directory whose files are memory. */
const TMPFS_MAGIC = 0x01021994;
/** Memory (and tmpfs room) left untouched while priming, for everything else on the machine. */
const PRIME_HEADROOM = 2048 * MiB;

/** The largest order of the buddy allocator, from /proc/buddyinfo (a count per order, from 0, after "Node N, zone NAME"). */
export function maxPageOrder(buddyinfo: string): number {
  const counts = buddyinfo.split("\n").find((line) => line.startsWith("Node"))?.trim().split(/\s+/).slice(4) ?? [];
  if (counts.length === 0) throw new Error(`Cannot read the page orders from /proc/buddyinfo: ${JSON.stringify(buddyinfo.slice(0, 200))}`);
  return counts.length - 1;
}

/** A field of /proc/meminfo in bytes. */
export function meminfoBytes(meminfo: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(meminfo);
  if (!match?.[1]) throw new Error(`/proc/meminfo has no ${field}`);
  return Number(match[1]) * 1024;
}

/** What was done, for the report, and how to undo it. */
export interface PageReportingHold {
  /** One sentence for the report. */
  readonly note: string;
  /** Puts the old setting back (idempotent). */
  release(): Promise<void>;
}

/** Reporting's order and the order that turns it off (one above the buddy allocator's largest), or why there is nothing to turn off. */
async function reportingOn(): Promise<{ readonly order: number; readonly off: number } | { readonly nothing: string }> {
  const order = await readFile(ORDER_PARAMETER, "utf8").then((s) => Number(s.trim()), () => undefined);
  if (order === undefined) return { nothing: "none on this machine (no page_reporting module)" };
  // -1: no device has registered for reporting (bare metal, or a VM without a reporting balloon).
  if (!(order >= 0)) return { nothing: `not in use (page_reporting_order ${order})` };
  const off = maxPageOrder(await readFile("/proc/buddyinfo", "utf8")) + 1;
  if (order >= off) return { nothing: `already off (page_reporting_order ${order}, above the largest page order ${off - 1})` };
  return { order, off };
}

/** The machine's free page reporting as it is, for a report that leaves it alone. */
export async function freePageReportingState(): Promise<string> {
  const on = await reportingOn();
  return "nothing" in on ? on.nothing : `on (page_reporting_order ${on.order})`;
}

/**
 * Turns free page reporting off for the benchmark and touches the free
 * memory once, by writing zeros to a file in `memoryDir` (a tmpfs) and
 * deleting it. Where the machine has no reporting, or the setting cannot be
 * changed, nothing is done and the note says so.
 */
export async function holdFreePageReporting(memoryDir: string, log: (line: string) => void): Promise<PageReportingHold> {
  const nothing = (note: string): PageReportingHold => ({ note, release: () => Promise.resolve() });
  const on = await reportingOn();
  if ("nothing" in on) return nothing(on.nothing);
  const { order: old, off } = on;
  if ((await statfs(memoryDir)).type !== TMPFS_MAGIC) throw new Error(`${memoryDir} is not a tmpfs: touching the free memory needs one (its files are memory); name another directory`);
  try {
    await writeFile(ORDER_PARAMETER, String(off));
  } catch (err) {
    // Root is needed, and kernels that cap the order at the largest one refuse it (EINVAL).
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return nothing(`**left on**: writing ${off} to ${ORDER_PARAMETER} failed (${code}). Steps that touch memory the host took back pay for it, by varying amounts`);
  }
  let released = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    // A benchmark stopped with Ctrl-C must not leave the machine changed.
    void release().catch((err: unknown) => { process.stderr.write(`${String(err)}\n`); }).finally(() => process.kill(process.pid, signal));
  };
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    try {
      await writeFile(ORDER_PARAMETER, String(old));
    } catch (err) {
      throw new Error(`Could not put free page reporting back: write ${old} to ${ORDER_PARAMETER} by hand`, { cause: err });
    }
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let touched: number;
  try {
    const free = meminfoBytes(await readFile("/proc/meminfo", "utf8"), "MemFree") - PRIME_HEADROOM;
    const room = await statfs(memoryDir).then((st) => st.bavail * st.bsize - PRIME_HEADROOM);
    touched = Math.max(0, Math.min(free, room));
    log(`Free page reporting is off for the benchmark (page_reporting_order ${old} -> ${off}); touching ${gib(touched)} of free memory once`);
    await touchMemory(join(memoryDir, "prime"), touched);
  } catch (err) {
    await release().catch(() => undefined);
    throw new Error(`Could not touch the free memory after turning free page reporting off (put back to ${old})`, { cause: err });
  }
  return {
    note: `turned off for the benchmark (page_reporting_order ${old} -> ${off}, put back at the end) and ${gib(touched)} of free memory touched once before the first run, so that steps do not pay for memory the host had taken back`,
    release,
  };
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/**
 * Writes `bytes` of zeros to a new file at `path`, unlinked as soon as it is
 * open: its memory is freed when the handle closes, even if the process is
 * killed midway.
 */
async function touchMemory(path: string, bytes: number): Promise<void> {
  const chunk = Buffer.alloc(64 * MiB);
  const fh = await open(path, "w");
  try {
    await rm(path);
    for (let at = 0; at < bytes; at += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, bytes - at), at);
  } finally {
    await fh.close();
  }
}
