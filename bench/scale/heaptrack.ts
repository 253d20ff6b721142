/**
 * heaptrack (KDE's heap profiler, `apt-get install heaptrack`) for the
 * restarted operator: which call stacks malloc'd the memory glibc's heap
 * holds at the peak. V8's heap snapshots cannot answer that: they see V8's
 * objects, not what Node's C++ side, OpenSSL or zlib allocate with malloc.
 *
 * heaptrack's own launcher attaches with gdb (`heaptrack -p PID`), which hung
 * on the operator; and `heaptrack node ...` would trace the bench's shell,
 * not the process it execs, because the preload library drops LD_PRELOAD from
 * the environment of whatever it traces. So the bench does what the launcher
 * does, itself: a FIFO, heaptrack_interpret reading it into a zstd file, and
 * the preload library set on the `exec` of the operator's Node.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { runCommand } from "../../e2e/testbed/command.js";

/** Where heaptrack's preload library and interpreter are, relative to its launcher (as the launcher finds them). */
export interface HeaptrackInstall {
  readonly preload: string;
  readonly interpret: string;
  readonly print: string;
}

/**
 * Finds heaptrack from its launcher on PATH; throws saying how to install
 * it when it is missing.
 */
export async function findHeaptrack(): Promise<HeaptrackInstall> {
  const which = await runCommand("sh", ["-c", "command -v heaptrack && command -v heaptrack_print"]).catch(() => undefined);
  const [launcher, print] = (which?.stdout ?? "").trim().split("\n");
  if (!launcher || !print) throw new Error("--heaptrack needs heaptrack and heaptrack_print on PATH (Debian: apt-get install heaptrack)");
  const lib = resolve(dirname(launcher), "..", "lib", "heaptrack");
  const install = { preload: join(lib, "libheaptrack_preload.so"), interpret: join(lib, "libexec", "heaptrack_interpret"), print };
  for (const path of [install.preload, install.interpret]) {
    if (!existsSync(path)) throw new Error(`heaptrack is on PATH at ${launcher}, but ${path} is missing`);
  }
  return install;
}

/** A recording in progress: the traced process writes to `fifo`; `done` settles once the zstd file is whole. */
export interface HeaptrackRecording {
  readonly fifo: string;
  readonly output: string;
  readonly done: Promise<void>;
}

/**
 * Makes the FIFO and starts `heaptrack_interpret < fifo | zstd > output`,
 * the pipeline heaptrack's launcher runs. The interpreter ends when the
 * traced process exits and closes the FIFO.
 */
export async function startHeaptrackRecording(install: HeaptrackInstall, dir: string): Promise<HeaptrackRecording> {
  const fifo = join(dir, "heaptrack.fifo");
  const output = join(dir, "heaptrack.zst");
  await runCommand("mkfifo", [fifo]);
  const child = spawn("sh", ["-c", '"$1" < "$2" | zstd -q -c > "$3"', "sh", install.interpret, fifo, output], { stdio: ["ignore", "ignore", "inherit"] });
  const done = new Promise<void>((resolveDone, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code === 0) resolveDone();
      else reject(new Error(`heaptrack_interpret | zstd into ${output} exited with code ${String(code)}`));
    });
  });
  return { fifo, output, done };
}

/** The environment that preloads heaptrack into the exec'd process and has it write to the recording's FIFO. */
export function heaptrackEnv(install: HeaptrackInstall, recording: HeaptrackRecording): Record<string, string> {
  return { LD_PRELOAD: install.preload, DUMP_HEAPTRACK_OUTPUT: recording.fifo };
}
