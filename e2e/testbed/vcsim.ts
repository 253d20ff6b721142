import { randomBytes, X509Certificate } from "node:crypto";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { ensureComponent } from "./components.js";
import { waitFor } from "./http.js";
import { serveAddress, testbedDir } from "./paths.js";
import { freePort } from "./ports.js";
import { ManagedProcess } from "./process.js";

/** How to shape the simulated vCenter (see e2e/testbed/go/vcsim/README.md). */
export interface VcsimOptions {
  /** Directory name under .testbed/ for the certificate, datastores and log; unique by default. */
  readonly name?: string;
  /** Login user name (default administrator@vsphere.local). */
  readonly username?: string;
  /** Login password; any string, including non-ASCII. Random by default. */
  readonly password?: string;
  readonly datacenters?: number;
  readonly clusters?: number;
  /** Hosts per cluster. */
  readonly clusterHosts?: number;
  /** Standalone hosts per datacenter. */
  readonly standaloneHosts?: number;
  /** VMs per resource pool and per standalone host (each has one 10 GiB thin disk). */
  readonly vms?: number;
  readonly datastores?: number;
  /** Child resource pools per cluster. */
  readonly pools?: number;
  /** Distributed port groups per datacenter, named DC0_DVPG0, DC0_DVPG1... (default 1), besides the standard "VM Network". */
  readonly portgroups?: number;
  /** Idle time in seconds after which the server drops a session (default: never). */
  readonly sessionTimeoutSeconds?: number;
  /** CBT granularity in bytes (default 64 KiB). */
  readonly cbtBlockSize?: number;
  /** Largest span one QueryChangedDiskAreas answer covers (default 1 GiB); small values exercise paging. */
  readonly cbtPageBytes?: number;
  /** Delay tasks by their info.name before they run, in ms, e.g. { "CreateSnapshot_Task": 3000 } (to test cancellation). */
  readonly taskDelays?: Readonly<Record<string, number>>;
  /** vCenter version reported by ServiceContent.about (default 8.0.3). */
  readonly version?: string;
  /** Address to listen on (default: serveAddress(), which pods of the running test bed reach). */
  readonly listenAddress?: string;
  /** The simulator exits when this process is gone (default: this process). */
  readonly ownerPid?: number;
  /**
   * Keeps the simulator's state across `serviceStop()` and `serviceStart()`
   * (saved on stop, loaded on start; harness flag -state-dir), as a vCenter
   * keeps its inventory across a restart. Off by default: saving costs a
   * second at every stop.
   */
  readonly restartable?: boolean;
  readonly log?: (line: string) => void;
}

/** One disk of a VM as the harness sees it. */
export interface VcsimDisk {
  readonly key: number;
  /** Datastore path of the descriptor, e.g. "[LocalDS_0] DC0_H0_VM0/disk1.vmdk". */
  readonly fileName: string;
  /** Local path of the data file (the live disk content). */
  readonly flatPath: string;
  readonly capacityBytes: number;
  readonly changeId?: string;
}

/** A running simulator. */
export interface Vcsim {
  /** SDK endpoint, e.g. https://10.250.1.1:PORT/sdk */
  readonly url: string;
  /** host:port */
  readonly address: string;
  readonly username: string;
  readonly password: string;
  /** SHA-256 of the server certificate (DER), as colon-separated upper-case hex. */
  readonly thumbprint: string;
  /** The self-signed server certificate (PEM); trust it as a CA bundle. */
  readonly caCert: string;
  /** Directory holding the datastore directories (a restart moves it). */
  readonly datastoreDir: string;
  readonly logFile: string;
  /** The simulator's process id (benches read its CPU time from /proc); a restart changes it. */
  readonly pid: number | undefined;
  /** The VM's disks (by VM name or MoRef value). */
  disks(vm: string): Promise<VcsimDisk[]>;
  /** Writes bytes into a VM's live disk at an offset, as a guest write (counts for CBT). */
  writeDisk(vm: string, deviceKey: number, offset: number, data: Buffer): Promise<void>;
  /**
   * Freezes the simulator (SIGSTOP): it keeps its state but answers nothing,
   * as a vCenter does behind a network outage; `resume` (SIGCONT) ends it.
   */
  pause(): void;
  resume(): void;
  /**
   * Stops the simulator as `service-control --stop vpxd` stops a vCenter:
   * it saves its inventory, snapshots and change tracking, and the address
   * refuses connections until `serviceStart`. Needs `restartable`.
   */
  serviceStop(): Promise<void>;
  /**
   * Starts the stopped simulator again at the same address with the same
   * certificate and everything it saved; every session it had is gone and
   * the tasks it was running ended with an error.
   */
  serviceStart(): Promise<void>;
  /** Stops the simulator and deletes its datastores (its log stays). */
  stop(): Promise<void>;
}

/**
 * Starts vcsim with the Lifeboat harness extensions on a free port, TLS on
 * with a certificate made for this run. The binary is built from
 * e2e/testbed/go/vcsim on first use (cached in ~/.cache/lifeboat).
 */
export async function startVcsim(opts: VcsimOptions = {}): Promise<Vcsim> {
  const log = opts.log ?? (() => undefined);
  const bin = join(await ensureComponent("vcsim", log), "vcsim");
  const name = opts.name ?? `vcsim-${process.pid}-${randomBytes(3).toString("hex")}`;
  const dir = testbedDir(name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const host = opts.listenAddress ?? serveAddress();
  const username = opts.username ?? "administrator@vsphere.local";
  const password = opts.password ?? randomBytes(12).toString("base64url");
  const certFile = join(dir, "server.crt");
  const logFile = join(dir, "vcsim.log");

  const args = [
    "-listen", `${host}:${port}`,
    "-username", username,
    "-cert-out", certFile,
    "-data-dir", join(dir, "datastores"),
    "-owner-pid", String(opts.ownerPid ?? process.pid),
  ];
  const numeric: [string, number | undefined][] = [
    ["-dc", opts.datacenters], ["-cluster", opts.clusters], ["-host", opts.clusterHosts],
    ["-standalone-host", opts.standaloneHosts], ["-vm", opts.vms], ["-ds", opts.datastores], ["-pool", opts.pools], ["-pg", opts.portgroups],
    ["-cbt-block-size", opts.cbtBlockSize], ["-cbt-page-bytes", opts.cbtPageBytes],
  ];
  for (const [flag, value] of numeric) if (value !== undefined) args.push(flag, String(value));
  if (opts.sessionTimeoutSeconds !== undefined) args.push("-session-timeout", `${opts.sessionTimeoutSeconds}s`);
  if (opts.version !== undefined) args.push("-version", opts.version);
  if (opts.taskDelays) args.push("-task-delay", Object.entries(opts.taskDelays).map(([k, v]) => `${k}=${v}`).join(","));

  if (opts.restartable) args.push("-state-dir", join(dir, "state"));

  type Ready = { url: string; datastoreDir: string; thumbprint: string };
  /** Starts the process and resolves once it reports ready in its log (after `logOffset`, the end of an earlier run's lines). */
  const launch = async (): Promise<{ proc: ManagedProcess; ready: Ready }> => {
    const logOffset = (await stat(logFile).catch(() => undefined))?.size ?? 0;
    // The password goes through the environment, never the command line.
    const started = new ManagedProcess("vcsim", bin, args, logFile, { env: { ...process.env, LIFEBOAT_VCSIM_PASSWORD: password } });
    try {
      const ready = await waitFor("vcsim to report ready", 60_000, async () => {
        if (!started.running) throw new Error(`vcsim exited; see ${logFile}`);
        const text = (await readFile(logFile).catch(() => Buffer.alloc(0))).subarray(logOffset).toString("utf8");
        const line = text.split("\n").find((l) => l.startsWith("LIFEBOAT_VCSIM_READY "));
        return line ? (JSON.parse(line.slice("LIFEBOAT_VCSIM_READY ".length)) as Ready) : undefined;
      }, 100);
      return { proc: started, ready };
    } catch (err) {
      await started.stop();
      throw err;
    }
  };
  let { proc, ready } = await launch();
  const caCert = await readFile(certFile, "utf8");
  const thumbprint = new X509Certificate(caCert).fingerprint256;
  if (thumbprint !== ready.thumbprint) {
    await proc.stop();
    throw new Error("vcsim reported a different certificate than the one it wrote");
  }
  const address = `${host}:${port}`;
  const auth = `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;

  const harness = (method: string, path: string, body?: Buffer): Promise<{ status: number; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { Authorization: auth };
      if (body) headers["Content-Length"] = body.length;
      const req = request({ host, port, path, method, headers, ca: caCert, servername: "localhost", timeout: 60_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }); });
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on("error", reject);
      req.end(body);
    });

  return {
    url: ready.url,
    address,
    username,
    password,
    thumbprint,
    caCert,
    get datastoreDir() {
      return ready.datastoreDir;
    },
    logFile,
    get pid() {
      return proc.pid;
    },
    async disks(vm) {
      const res = await harness("GET", `/lifeboat-harness/disks?vm=${encodeURIComponent(vm)}`);
      if (res.status !== 200) throw new Error(`Listing the disks of ${vm} failed with HTTP ${res.status}: ${res.body.toString()}`);
      return JSON.parse(res.body.toString("utf8")) as VcsimDisk[];
    },
    async writeDisk(vm, deviceKey, offset, data) {
      const q = new URLSearchParams({ vm, deviceKey: String(deviceKey), offset: String(offset) });
      const res = await harness("PUT", `/lifeboat-harness/disk?${q.toString()}`, data);
      if (res.status !== 204) throw new Error(`Writing ${data.length} bytes into ${vm} failed with HTTP ${res.status}: ${res.body.toString()}`);
    },
    pause() {
      proc.signal("SIGSTOP");
    },
    resume() {
      proc.signal("SIGCONT");
    },
    async serviceStop() {
      if (!opts.restartable) throw new Error("serviceStop needs a simulator started with restartable: true");
      proc.signal("SIGCONT");
      await proc.stop(60_000);
      if ((await proc.wait()) !== 0) throw new Error(`vcsim could not save its state on stop; see ${logFile}`);
    },
    async serviceStart() {
      if (proc.running) throw new Error("vcsim is running; serviceStop it first");
      ({ proc, ready } = await launch());
      if (ready.thumbprint !== thumbprint) {
        await proc.stop();
        throw new Error("the restarted vcsim serves a different certificate");
      }
    },
    async stop() {
      proc.signal("SIGCONT");
      await proc.stop();
      // The datastores (and a saved state) hold only what the test wrote; the log stays for a post-mortem.
      await rm(join(dir, "datastores"), { recursive: true, force: true });
      await rm(join(dir, "state"), { recursive: true, force: true });
    },
  };
}
