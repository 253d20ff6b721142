// The contract server's stand-in for an instance's guest: when an instance
// reaches Running, its user data, if it is a `#!/bin/sh` script, runs as a
// local process. The guest's block devices are files; the process learns
// which file is which device from LIFEBOAT_CONTRACT_DEVICES.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * One attached disk as the guest sees it. `path` is the disk's content file:
 * it may be shorter than `sizeBytes`, and bytes past its end are zeros (see
 * disk-files.ts). The guest writes the file at device offsets as it would
 * write the block device.
 */
export interface GuestDevice {
  diskId: string;
  path: string;
  sizeBytes: number;
}

/**
 * The environment variable naming the guest's devices: JSON mapping each
 * device name (`/dev/xvda`, `/dev/vdb`, …) to a GuestDevice. This is the
 * seam between the contract server and a worker that would write real
 * block devices inside a real instance.
 */
export const DEVICES_ENV = "LIFEBOAT_CONTRACT_DEVICES";
/** The environment variable holding the instance's id (what the metadata service would answer). */
export const INSTANCE_ENV = "LIFEBOAT_CONTRACT_INSTANCE_ID";

/** What a test can learn of one run of an instance's user data. */
export interface GuestRun {
  instanceId: string;
  /** `running`, `exited`, `killed` (the instance stopped or was deleted), or `skipped` (not a #!/bin/sh script). */
  state: "running" | "exited" | "killed" | "skipped";
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  devices: Record<string, GuestDevice>;
  startedAt: number;
  endedAt?: number;
  /** Resolves when the process has ended (at once for a skipped run). */
  readonly done: Promise<void>;
}

const MAX_KEPT_OUTPUT = 1024 * 1024;

/**
 * One Cloud Assistant command run in an instance's guest stand-in
 * (RunCommand). Its fields are DescribeInvocationResults' for one instance.
 */
export interface CommandRun {
  invokeId: string;
  commandId: string;
  instanceId: string;
  /** The instance's region: its runs stay listed after the instance is deleted, as ECS keeps them for four weeks. */
  regionId: string;
  /**
   * InvocationStatus: Running, then Success, Failed (exit code not 0),
   * Timeout, or Terminated (the instance stopped or was deleted); Aborted
   * (never sent: the instance not running, or its agent offline) and Invalid
   * (a command type the guest cannot run) from the start.
   */
  status: "Running" | "Success" | "Failed" | "Timeout" | "Terminated" | "Aborted" | "Invalid";
  exitCode: number | null;
  /** stdout and stderr as they came, interleaved (Cloud Assistant's Output). */
  output: string;
  errorCode: string;
  errorInfo: string;
  startedAt: number;
  finishedAt?: number;
}

/** Runs and remembers the user data processes of the contract server's instances. */
export class UserDataRunner {
  private readonly runs = new Map<string, GuestRun[]>();
  private readonly children = new Map<string, ChildProcess>();
  /** Commands still running, by invocation id and instance (one invocation may run on many). */
  private readonly commands = new Map<string, { run: CommandRun; kill: () => void }>();

  constructor(
    private readonly dir: string,
    /** Extra environment for guests (e.g. PATH to node, or where Lifeboat's worker lives). */
    private readonly guestEnv: Record<string, string> = {},
  ) {}

  /** Starts the user data of an instance that just reached Running. */
  async start(instanceId: string, userDataBase64: string, devices: Record<string, GuestDevice>): Promise<GuestRun> {
    const script = Buffer.from(userDataBase64, "base64").toString("utf8");
    const list = this.runs.get(instanceId) ?? [];
    this.runs.set(instanceId, list);
    const base = { instanceId, exitCode: null, signal: null, stdout: "", stderr: "", devices, startedAt: Date.now() };
    if (!script.startsWith("#!/bin/sh")) {
      const skipped: GuestRun = { ...base, state: "skipped", stderr: "The contract server runs only user data that starts with #!/bin/sh.", done: Promise.resolve() };
      list.push(skipped);
      return skipped;
    }
    const instanceDir = join(this.dir, instanceId);
    await mkdir(instanceDir, { recursive: true });
    const scriptFile = join(instanceDir, `user-data-${list.length + 1}.sh`);
    await writeFile(scriptFile, script, { mode: 0o755 });
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: instanceDir,
      ...this.guestEnv,
      [DEVICES_ENV]: JSON.stringify(devices),
      [INSTANCE_ENV]: instanceId,
    };
    // Its own process group, so that stopping the instance ends everything the
    // script started, as powering off a guest would.
    const child = spawn("/bin/sh", [scriptFile], { cwd: instanceDir, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const stdoutLog = createWriteStream(join(instanceDir, `user-data-${list.length + 1}.stdout`));
    const stderrLog = createWriteStream(join(instanceDir, `user-data-${list.length + 1}.stderr`));
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((r) => (resolveDone = r));
    const run: GuestRun = { ...base, state: "running", done };
    list.push(run);
    this.children.set(instanceId, child);
    child.stdout.on("data", (d: Buffer) => {
      stdoutLog.write(d);
      if (run.stdout.length < MAX_KEPT_OUTPUT) run.stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderrLog.write(d);
      if (run.stderr.length < MAX_KEPT_OUTPUT) run.stderr += d.toString();
    });
    const finish = () => {
      if (this.children.get(instanceId) === child) this.children.delete(instanceId);
      run.endedAt = Date.now();
      stdoutLog.end();
      stderrLog.end();
      resolveDone();
    };
    child.on("error", (err) => {
      run.state = "exited";
      run.stderr += `\n${err.message}`;
      finish();
    });
    child.on("close", (code, signal) => {
      if (run.state === "running") run.state = "exited";
      run.exitCode = code;
      run.signal = signal;
      finish();
    });
    return run;
  }

  /**
   * Runs a shell command as Cloud Assistant would in a Linux guest: in the
   * instance's directory (the guest's filesystem here), its own process
   * group, killed after `timeoutMs` (ExecutionTimeout). The run is updated in
   * place as it ends.
   */
  async runCommand(run: CommandRun, script: string, timeoutMs: number, devices: Record<string, GuestDevice>): Promise<void> {
    const instanceDir = join(this.dir, run.instanceId);
    await mkdir(instanceDir, { recursive: true });
    const scriptFile = join(instanceDir, `command-${run.invokeId}.sh`);
    await writeFile(scriptFile, script, { mode: 0o755 });
    const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: instanceDir, ...this.guestEnv, [DEVICES_ENV]: JSON.stringify(devices), [INSTANCE_ENV]: run.instanceId };
    const child = spawn("/bin/sh", [scriptFile], { cwd: instanceDir, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    const timer = setTimeout(() => {
      if (run.status !== "Running") return;
      Object.assign(run, { status: "Timeout", errorCode: "ExecutionTimeout", errorInfo: "the command execution has been timeout" });
      kill();
    }, timeoutMs);
    const keep = (d: Buffer): void => {
      if (run.output.length < MAX_KEPT_OUTPUT) run.output += d.toString();
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const finish = (code: number | null): void => {
      clearTimeout(timer);
      this.commands.delete(`${run.invokeId}/${run.instanceId}`);
      run.finishedAt = Date.now();
      if (run.status !== "Running") return;
      run.exitCode = code;
      if (code === 0) run.status = "Success";
      else Object.assign(run, { status: "Failed", errorCode: "ExitCodeNonzero", errorInfo: "the command execution exit code is not zero" });
    };
    child.on("error", (err) => {
      run.output += `\n${err.message}`;
      finish(null);
    });
    child.on("close", (code) => { finish(code); });
    this.commands.set(`${run.invokeId}/${run.instanceId}`, { run, kill });
  }

  /** Kills the guest process of an instance that stops or is deleted, and its commands (Terminated). */
  async stop(instanceId: string): Promise<void> {
    for (const { run, kill } of this.commands.values()) {
      if (run.instanceId !== instanceId || run.status !== "Running") continue;
      Object.assign(run, { status: "Terminated", errorCode: "ExecutionInterrupted", errorInfo: "the command execution has been interrupted" });
      kill();
    }
    const child = this.children.get(instanceId);
    const run = this.runs.get(instanceId)?.at(-1);
    if (!child || !run || run.state !== "running") return;
    run.state = "killed";
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
    await run.done;
  }

  /** Every run of an instance's user data, oldest first (one per start). */
  runsOf(instanceId: string): GuestRun[] {
    return this.runs.get(instanceId) ?? [];
  }

  /** Kills every guest process (the server is closing). */
  async stopAll(): Promise<void> {
    const ids = new Set([...this.children.keys(), ...[...this.commands.values()].map((c) => c.run.instanceId)]);
    await Promise.all([...ids].map((id) => this.stop(id)));
  }
}
