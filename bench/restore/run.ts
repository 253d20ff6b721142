/**
 * `npm run bench:restore`: what a restore to vSphere sends over the network,
 * and how long it takes, on both of the worker's paths, side by side in one
 * run against vcsim with the harness extensions:
 *
 * - a new VM: ImportVApp and an NFC lease, each disk sent as a
 *   stream-optimized VMDK (zeros never sent, grains compressed);
 * - in place over the original VM: the whole flat disk through the datastore
 *   interface (`PUT /folder`), zeros included, as the only way vSphere offers
 *   to overwrite an existing disk's content from outside.
 *
 * The disk has `--size` bytes of which `--data` hold mixed data (a quarter
 * each random, one repeated MiB, text, zeros), backed up once with the real
 * worker into a filesystem vault. Each restore is checked byte for byte
 * against the original and repeated `--repeat` times (rotating which path
 * goes first); the table shows medians. Not a test: it prints a table.
 *
 *   npm run bench:restore -- [--size 4Gi] [--data 1Gi] [--repeat 3]
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startVcsim, type Vcsim } from "../../e2e/testbed/vcsim.js";
import { formatBytes } from "../../operator/src/util/quantity.js";
import { initVault, openVault, parseSize } from "../../operator/src/vault/index.js";
import { connect, type VsphereClient } from "../../operator/src/vsphere/index.js";
import type { BackupWorkerSpec, RestoreWorkerSpec, WorkerVault } from "../../operator/src/worker/spec.js";
import { createDiskVm, hashFile } from "../support/vm.js";
import { median, runBench, runWorker, table } from "../support/worker.js";

const MiB = 1024 * 1024;
const KEY = randomBytes(32).toString("base64");

/** A VM with one disk of `size` bytes whose first `data` bytes are mixed (random, repeated, text, zeros in quarters). */
async function makeVm(sim: Vcsim, client: VsphereClient, name: string, size: number, data: number): Promise<{ key: number; flatPath: string }> {
  const { disk } = await createDiskVm(sim, client, name, size, { nic: true });
  const q = Math.floor(data / 4 / MiB) * MiB;
  const repeated = randomBytes(MiB);
  const text = Buffer.from(`restore bench ${name} the quick brown fox jumps over the lazy dog\n`.repeat(16384)).subarray(0, MiB);
  for (let o = 0; o < 3 * q; o += MiB) await sim.writeDisk(name, disk.key, o, o < q ? randomBytes(MiB) : o < 2 * q ? repeated : text);
  return { key: disk.key, flatPath: disk.flatPath };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { size: { type: "string", default: "4Gi" }, data: { type: "string", default: "1Gi" }, repeat: { type: "string", default: "3" } } });
  const size = parseSize(values.size);
  const data = parseSize(values.data);
  const repeat = Number(values.repeat);
  const dir = await mkdtemp(join(tmpdir(), "lifeboat-bench-restore-"));
  const sim = await startVcsim({ vms: 0, cbtPageBytes: size });
  const client = await connect({ address: sim.address, username: sim.username, password: sim.password, tls: { thumbprint: sim.thumbprint } });
  const vault: WorkerVault = { filesystem: { path: join(dir, "vault") } };
  await (await initVault({ backend: { filesystem: { path: join(dir, "vault") } }, key: Buffer.from(KEY) })).close();
  const vcenter = { address: sim.address, tls: { thumbprint: sim.thumbprint } };
  try {
    console.log(`Restores to vSphere with the real worker against vcsim: a ${formatBytes(size)} disk holding ${formatBytes(data)} of mixed data (a quarter of it zeros), filesystem vault in ${dir}`);
    const original = await makeVm(sim, client, "source", size, data);
    const want = await hashFile(original.flatPath);
    const backup: BackupWorkerSpec = { mode: "backup", runId: "full", vm: { name: "source" }, vcenter, vault, quiesce: false, changedBlockTracking: true, labels: { namespace: "bench", plan: "restore", vm: "source" } };
    await runWorker(backup, sim, KEY);
    const v = await openVault({ backend: { filesystem: { path: join(dir, "vault") } }, key: Buffer.from(KEY) });
    const point = (await v.listPoints())[0];
    await v.close();
    if (!point) throw new Error("the backup made no point");
    const stored = point.storedBytes;

    const results = { lease: [] as { seconds: number; sent: number }[], put: [] as { seconds: number; sent: number }[] };
    const restoreTo = async (how: "lease" | "put", round: number): Promise<void> => {
      const vSphere: RestoreWorkerSpec["target"] = how === "lease"
        ? { vSphere: { vcenter, datastore: (await client.inventory()).datastores[0]?.name ?? "", vmName: `restored-${round}`, inPlace: false, networkMappings: [], diskProvisioning: "Thin", powerOn: false } }
        : { vSphere: { vcenter, datastore: (await client.inventory()).datastores[0]?.name ?? "", inPlace: true, networkMappings: [], diskProvisioning: "Thin", powerOn: false } };
      const run = await runWorker({ mode: "restore", pointId: point.id, vault, target: vSphere }, sim, KEY);
      const sentLine = run.logs.find((l) => l.msg === "Imported the VM");
      const sent = how === "lease" ? Number(sentLine?.bytesSent) : size;
      const [disk] = await sim.disks(how === "lease" ? `restored-${round}` : "source");
      if (!disk || (await hashFile(disk.flatPath)) !== want) throw new Error(`the ${how} restore of round ${round} is not byte-identical to the original disk`);
      results[how].push({ seconds: run.seconds, sent });
    };
    for (let round = 0; round < repeat; round++) {
      const order: ("lease" | "put")[] = round % 2 === 0 ? ["lease", "put"] : ["put", "lease"];
      for (const how of order) await restoreTo(how, round);
    }
    const row = (name: string, runs: { seconds: number; sent: number }[]): string[] => {
      const s = median(runs.map((r) => r.seconds));
      const sent = median(runs.map((r) => r.sent));
      return [name, formatBytes(sent), `${((sent / size) * 100).toFixed(1)} %`, `${((sent / data) * 100).toFixed(0)} %`, s.toFixed(1), (size / s / 1e6).toFixed(0)];
    };
    console.log(`\nBacked-up point: ${formatBytes(stored)} stored in the vault; ${repeat} runs each, alternating which goes first; medians.`);
    table(["restore path", "bytes sent", "of the disk", "of the data", "seconds", "disk MB/s"], [
      row("new VM: ImportVApp lease, stream-optimized VMDK", results.lease),
      row("in place: datastore PUT of the flat disk", results.put),
    ]);
  } finally {
    await client.close().catch(() => undefined);
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

runBench(main);
