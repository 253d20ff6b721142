import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync } from "node:fs";

/**
 * A long-running child process of the test bed whose output goes to a log
 * file. `stop` sends SIGTERM, then SIGKILL after a grace period, and resolves
 * only once the process is gone, so nothing outlives the test bed.
 */
export class ManagedProcess {
  private readonly child: ChildProcess;
  private exited = false;
  private readonly exitPromise: Promise<number | null>;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: readonly string[],
    private readonly logFile: string,
    private readonly options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ) {
    const fd = openSync(logFile, "a");
    try {
      this.child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.exitPromise = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exited = true;
        resolve(code ?? (signal ? 128 : null));
      });
      this.child.on("error", () => {
        this.exited = true;
        resolve(null);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** Sends a signal to the process while it runs (SIGSTOP and SIGCONT freeze and thaw it). */
  signal(signal: NodeJS.Signals): void {
    if (!this.exited) this.child.kill(signal);
  }

  /** Resolves with the exit code when the process ends on its own or is stopped. */
  wait(): Promise<number | null> {
    return this.exitPromise;
  }

  /** The same command started again, with the same arguments, environment and log file (after `stop`, to restart it). */
  respawn(): ManagedProcess {
    return new ManagedProcess(this.name, this.command, this.args, this.logFile, this.options);
  }

  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exitPromise;
    clearTimeout(timer);
  }
}
