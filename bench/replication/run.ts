/**
 * `npm run bench:replication`: what one replication cycle costs and the
 * shortest RPO this machine sustains. Each cycle is the real worker
 * (node dist/operator/src/worker/main.js, as the operator's Jobs run it)
 * against vcsim with the harness extensions and a filesystem vault:
 *
 * 1. one server with a 1 GiB disk (full of mixed data): the full first cycle,
 *    then cycles after 1 %, 5 % and 20 % of the disk changed (256 KiB writes at
 *    random offsets), each repeated; the median cycle time, bytes read and
 *    bytes stored;
 * 2. the shortest RPO sustained: cycles back to back with 1 % changing before
 *    each; the RPO a target must allow is the longest time from one point's
 *    snapshot to the next point's commit;
 * 3. the same for 10 servers sharing a Gateway of 2 workers (2 cores).
 *
 * Not a test: it prints tables. Kubernetes' own scheduling of the Jobs (about
 * a second per pod) is not in these figures, and vcsim's snapshots copy the
 * disk's data (vSphere's are redo logs taken in milliseconds), so the
 * snapshot column is the simulator's cost and is shown apart.
 *
 *   npm run bench:replication -- [--size 1Gi] [--servers 10] [--repeat 3]
 */
import { randomBytes, randomInt } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startVcsim, type Vcsim } from "../../e2e/testbed/vcsim.js";
import { formatBytes } from "../../operator/src/util/quantity.js";
import { initVault, openVault, parseSize, type PointHeader, type VaultSpec } from "../../operator/src/vault/index.js";
import { connect, type VsphereClient } from "../../operator/src/vsphere/index.js";
import type { BackupWorkerSpec } from "../../operator/src/worker/spec.js";
import { createDiskVm } from "../support/vm.js";
import { median, runBench, runWorker, table } from "../support/worker.js";

const MiB = 1024 * 1024;
const WRITE = 256 * 1024;
const KEY = randomBytes(32).toString("base64");

interface Cycle {
  readonly server: string;
  readonly startedAt: number;
  readonly seconds: number;
  readonly snapshotSeconds: number;
  readonly point: PointHeader;
  readonly bytesRead: number;
}

interface Bed {
  readonly sim: Vcsim;
  readonly client: VsphereClient;
  readonly vault: VaultSpec;
  readonly vaultPath: string;
}

/** Runs one cycle of `server` with the real worker; resolves with its point and timings. */
async function cycle(bed: Bed, server: string, run: number): Promise<Cycle> {
  const spec: BackupWorkerSpec = {
    mode: "backup",
    runId: `c${run}`,
    vm: { name: server },
    vcenter: { address: bed.sim.address, tls: { thumbprint: bed.sim.thumbprint } },
    vault: { filesystem: { path: bed.vaultPath } },
    quiesce: false,
    changedBlockTracking: true,
    lineage: ["namespace", "protectedServer", "direction"],
    labels: { namespace: "bench", protectedServer: server, direction: "forward", vm: server, run: `c${run}` },
  };
  const startedAt = Date.now();
  const { seconds, logs } = await runWorker(spec, bed.sim, KEY).catch((err: unknown) => {
    throw new Error(`cycle ${run} of ${server} failed`, { cause: err });
  });
  const times = new Map<string, number>();
  for (const e of logs) {
    if (typeof e.msg === "string" && typeof e.time === "string") times.set(e.msg, Date.parse(e.time));
  }
  const snapshotSeconds = ((times.get("Created the snapshot") ?? 0) - (times.get("Found the VM") ?? 0)) / 1000;
  const vault = await openVault(bed.vault);
  try {
    const point = (await vault.listPoints()).find((p) => p.labels.protectedServer === server && p.labels.run === `c${run}`);
    if (!point) throw new Error(`no point of cycle ${run} of ${server}`);
    return { server, startedAt, seconds, snapshotSeconds: Math.max(0, snapshotSeconds), point, bytesRead: point.disks.reduce((n, d) => n + d.readBytes, 0) };
  } finally {
    await vault.close();
  }
}

/** Writes `fraction` of a disk in 256 KiB pieces at distinct random offsets, as guest writes. */
async function change(bed: Bed, server: string, key: number, size: number, fraction: number): Promise<number> {
  const slots = size / WRITE;
  const picked = new Set<number>();
  const want = Math.max(1, Math.round((size * fraction) / WRITE));
  while (picked.size < want) picked.add(randomInt(slots));
  for (const slot of picked) await bed.sim.writeDisk(server, key, slot * WRITE, randomBytes(WRITE));
  return want * WRITE;
}

/** A VM with one disk of `size` bytes, `data` bytes of it filled: random, repeated, text, zeros in quarters. */
async function makeServer(bed: Bed, name: string, size: number, data: number): Promise<number> {
  const { disk } = await createDiskVm(bed.sim, bed.client, name, size);
  const q = data / 4;
  const repeated = randomBytes(MiB);
  const text = Buffer.from(`replication bench ${name} the quick brown fox jumps over the lazy dog\n`.repeat(16384)).subarray(0, MiB);
  for (let o = 0; o < data; o += MiB) {
    const chunk = o < q ? randomBytes(MiB) : o < 2 * q ? repeated : o < 3 * q ? text : Buffer.alloc(MiB);
    if (o >= 3 * q) break;
    await bed.sim.writeDisk(name, disk.key, o, chunk);
  }
  return disk.key;
}

const secs = (n: number): string => n.toFixed(1);

/**
 * Cycles of `servers` in rounds, `workers` at a time, 1 % changing on each
 * server before its cycle; returns the longest time from a point's snapshot to
 * the commit of the same server's next point: the shortest RPO target met.
 */
async function sustainedRpo(bed: Bed, servers: { name: string; key: number }[], size: number, rounds: number, workers: number, runBase: number): Promise<{ rpoSeconds: number; cycleSeconds: number }> {
  const last = new Map<string, number>();
  let worst = 0;
  const durations: number[] = [];
  let run = runBase;
  for (let r = 0; r < rounds; r++) {
    const queue = [...servers];
    await Promise.all(Array.from({ length: workers }, async () => {
      for (let s = queue.shift(); s; s = queue.shift()) {
        await change(bed, s.name, s.key, size, 0.01);
        const c = await cycle(bed, s.name, run++);
        durations.push(c.seconds);
        const committed = Date.parse(c.point.committedAt);
        const previous = last.get(s.name);
        if (previous !== undefined) worst = Math.max(worst, (committed - previous) / 1000);
        last.set(s.name, Date.parse(c.point.time));
      }
    }));
  }
  return { rpoSeconds: worst, cycleSeconds: median(durations) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { size: { type: "string", default: "1Gi" }, servers: { type: "string", default: "10" }, repeat: { type: "string", default: "3" } } });
  const size = parseSize(values.size);
  const count = Number(values.servers);
  const repeat = Number(values.repeat);
  const dir = await mkdtemp(join(tmpdir(), "lifeboat-bench-replication-"));
  const sim = await startVcsim({ vms: 0, cbtPageBytes: size });
  const client = await connect({ address: sim.address, username: sim.username, password: sim.password, tls: { thumbprint: sim.thumbprint } });
  const vaultPath = join(dir, "vault");
  const vault: VaultSpec = { backend: { filesystem: { path: vaultPath } }, key: Buffer.from(KEY) };
  await (await initVault(vault)).close();
  const bed: Bed = { sim, client, vault, vaultPath };
  try {
    console.log(`Replication cycles of the real worker against vcsim, ${formatBytes(size)} disks, filesystem vault in ${dir}`);
    const key = await makeServer(bed, "server-0", size, size);
    let run = 0;
    const full = await cycle(bed, "server-0", run++);
    const rows: string[][] = [["full (first cycle)", "-", formatBytes(full.bytesRead), formatBytes(full.point.storedBytes), secs(full.seconds), secs(full.snapshotSeconds)]];
    for (const fraction of [0.01, 0.05, 0.2]) {
      const runs: Cycle[] = [];
      let changed = 0;
      for (let i = 0; i < repeat; i++) {
        changed = await change(bed, "server-0", key, size, fraction);
        runs.push(await cycle(bed, "server-0", run++));
      }
      rows.push([`${fraction * 100} % changed`, formatBytes(changed), formatBytes(median(runs.map((c) => c.bytesRead))), formatBytes(median(runs.map((c) => c.point.storedBytes))), secs(median(runs.map((c) => c.seconds))), secs(median(runs.map((c) => c.snapshotSeconds)))]);
    }
    table(["cycle", "written", "read (median)", "stored (median)", "cycle s (median)", "of which snapshot s"], rows);

    const one = await sustainedRpo(bed, [{ name: "server-0", key }], size, 6, 1, run);
    run += 6;
    const many: { name: string; key: number }[] = [];
    for (let i = 1; i <= count; i++) many.push({ name: `server-${i}`, key: await makeServer(bed, `server-${i}`, size, size / 4) });
    for (const s of many) await cycle(bed, s.name, run++);
    const ten = await sustainedRpo(bed, many, size, 3, 2, run);
    console.log("");
    table(["servers", "Gateway workers", "change before each cycle", "cycle s (median)", "shortest RPO sustained s"], [
      ["1", "1", "1 %", secs(one.cycleSeconds), secs(one.rpoSeconds)],
      [String(count), "2", "1 %", secs(ten.cycleSeconds), secs(ten.rpoSeconds)],
    ]);
  } finally {
    await client.close().catch(() => undefined);
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

runBench(main);
