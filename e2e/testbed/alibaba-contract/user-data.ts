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

/** Runs and remembers the user data processes of the contract server's instances. */
export class UserDataRunner {
  private readonly runs = new Map<string, GuestRun[]>();
  private readonly children = new Map<string, ChildProcess>();

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

  /** Kills the guest process of an instance that stops or is deleted. */
  async stop(instanceId: string): Promise<void> {
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
    await Promise.all([...this.children.keys()].map((id) => this.stop(id)));
  }
}
