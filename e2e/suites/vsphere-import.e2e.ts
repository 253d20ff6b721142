// Restore by import: ResourcePool.ImportVApp and an NFC lease, each disk sent
// as a stream-optimized VMDK (what qemu-img writes, standing in for the
// restore worker's writer), against vcsim with the harness extension that
// lands a lease upload as the disk's content, as ESXi does.
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, open, readFile, rm, stat } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { connect, type CreateVmSpec, type ImportProgress, type MoRef, type VsphereClient } from "../../operator/src/vsphere/index.js";
import { startVcsim, type Vcsim } from "../testbed/vcsim.js";
import { vcsimPlacement, type VcsimPlacement } from "./vsphere-placement.js";

jest.setTimeout(600_000);

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

let sim: Vcsim;
let client: VsphereClient;
let place: VcsimPlacement;
let dir: string;

/** A sparse raw disk image of `size` bytes with random bytes in `regions`; returns its path. */
async function rawDisk(name: string, size: number, regions: readonly { start: number; length: number }[]): Promise<string> {
  const path = join(dir, `${name}.raw`);
  const f = await open(path, "w");
  try {
    await f.truncate(size);
    for (const r of regions) await f.write(randomBytes(r.length), 0, r.length, r.start);
  } finally {
    await f.close();
  }
  return path;
}

/** qemu-img's stream-optimized VMDK of a raw image (the restore worker writes the same format). */
async function streamOptimized(raw: string): Promise<string> {
  const out = raw.replace(/\.raw$/, ".vmdk");
  await promisify(execFile)("qemu-img", ["convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, out]);
  return out;
}

/** SHA-256 of a file, in 8 MiB reads. */
async function fileSha(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 8 * MiB })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function specOf(name: string, capacities: readonly number[]): CreateVmSpec {
  return {
    name,
    folder: place.folder,
    resourcePool: place.resourcePool,
    datastoreName: place.datastoreName,
    guestId: "ubuntu64Guest",
    annotation: `lifeboat: restored ${name}`,
    numCpu: 2,
    memoryMB: 2048,
    firmware: "efi",
    disks: capacities.map((capacityBytes) => ({ capacityBytes })),
    nics: [{ network: place.network }],
  };
}

/** Waits until no VM has this name (an aborted import's VM goes away). */
async function expectNoVm(name: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if ((await client.findVmsByName(name)).length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await client.findVmsByName(name)).toEqual([]);
}

beforeAll(async () => {
  sim = await startVcsim({ vms: 1, clusterHosts: 1, standaloneHosts: 1, log: (l) => { console.log(l); } });
  client = await connect({ address: sim.address, username: sim.username, password: sim.password, tls: { caCert: sim.caCert }, keepAliveMs: 0 });
  place = await vcsimPlacement(client);
  dir = await mkdtemp(join(tmpdir(), "lifeboat-import-"));
}, 900_000);

afterAll(async () => {
  await client.close();
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("import of a VM through an NFC lease", () => {
  // A 1 GiB disk holding 4 MiB of random data in scattered runs, zeros elsewhere,
  // and a small disk whose size is a whole number of KiB but not of grains.
  const bigSize = GiB;
  const bigRegions = [
    { start: 0, length: 512 * KiB },
    { start: 3 * MiB + 4 * KiB, length: MiB },
    { start: 300 * MiB + 77, length: 1536 * KiB },
    { start: 777 * MiB, length: 512 * KiB },
    { start: bigSize - 512 * KiB, length: 512 * KiB },
  ];
  const oddSize = 3 * MiB + 5 * KiB;
  const oddRegions = [
    { start: 0, length: 100 * KiB },
    { start: oddSize - 7 * KiB, length: 7 * KiB },
  ];

  it("creates the VM with the spec's hardware and notes, lands every disk byte for byte, and sends about the compressed data, not the capacity", async () => {
    const raws = [await rawDisk("big", bigSize, bigRegions), await rawDisk("odd", oddSize, oddRegions)];
    const vmdks = await Promise.all(raws.map(streamOptimized));
    const vmdkBytes = (await Promise.all(vmdks.map((p) => stat(p)))).map((s) => s.size);
    const spec = specOf("imported-vm", [bigSize, oddSize]);

    const progress: ImportProgress[] = [];
    // Streams of unknown length: the client sends them chunked.
    const ref = await client.importVm(
      spec,
      vmdks.map((p) => () => createReadStream(p)),
      { onProgress: (p) => progress.push(p), leaseProgressIntervalMs: 200 },
    );

    const vm = await client.getVm(ref);
    expect(vm).toMatchObject({
      name: "imported-vm",
      annotation: "lifeboat: restored imported-vm",
      guestId: "ubuntu64Guest",
      firmware: "efi",
      numCpu: 2,
      memoryMB: 2048,
      powerState: "poweredOff",
    });
    expect(vm.nics.map((n) => ({ type: n.type, network: n.network }))).toEqual([{ type: "VirtualVmxnet3", network: place.network.ref }]);
    expect(vm.disks.map((d) => d.capacityBytes)).toEqual([bigSize, oddSize]);

    // The big disk, from its data file: the same bytes, and holes where the zeros are.
    const disks = await sim.disks(ref.value);
    const bigFlat = disks[0]?.flatPath ?? "";
    expect((await stat(bigFlat)).size).toBe(bigSize);
    expect(await fileSha(bigFlat)).toBe(await fileSha(raws[0] ?? ""));
    const allocated = (await stat(bigFlat)).blocks * 512;
    expect(allocated).toBeLessThan(16 * MiB);

    // The odd-sized disk, through the datastore interface (GET /folder).
    const oddDisk = vm.disks[1];
    if (!oddDisk) throw new Error("the VM lacks its second disk");
    const loc = await client.diskLocation(ref, oddDisk);
    const chunks: Buffer[] = [];
    for await (const c of await client.readDisk(loc, 0, oddSize)) chunks.push(c as Buffer);
    expect(Buffer.compare(Buffer.concat(chunks), await readFile(raws[1] ?? ""))).toBe(0);

    // What went over the wire: the two VMDKs, compressed data of ~4 MiB, not 1 GiB of capacity.
    const last = progress[progress.length - 1];
    const sent = last?.bytesSent ?? 0;
    expect(sent).toBe(vmdkBytes.reduce((a, b) => a + b, 0));
    const data = [...bigRegions, ...oddRegions].reduce((n, r) => n + r.length, 0);
    console.log(`import: sent ${sent} bytes for ${data} bytes of data on ${bigSize + oddSize} bytes of capacity`);
    expect(sent).toBeLessThan(data * 1.1 + 2 * MiB);
    expect(progress.some((p) => p.disk === 0) && progress.some((p) => p.disk === 1)).toBe(true);

    await client.destroyVm(ref);
  });

  it("aborts the lease when a disk's stream fails midway, leaving no VM", async () => {
    const raw = await rawDisk("broken", 64 * MiB, [{ start: 0, length: 8 * MiB }]);
    const vmdk = await readFile(await streamOptimized(raw));
    const spec = specOf("import-broken", [64 * MiB]);
    async function* halfThenFail() {
      yield vmdk.subarray(0, vmdk.length >> 1);
      await new Promise((r) => setTimeout(r, 200));
      throw new Error("the vault stopped answering");
    }
    const err = await client.importVm(spec, [() => Readable.from(halfThenFail())]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/Importing VM "import-broken": uploading disk 0: the disk's stream failed/);
    expect(((err as Error).cause as Error).message).toBe("the vault stopped answering");
    await expectNoVm("import-broken");
  });

  it("stops and leaves no VM when the caller aborts", async () => {
    const raw = await rawDisk("cancelled", 64 * MiB, [{ start: 0, length: 8 * MiB }]);
    const vmdk = await readFile(await streamOptimized(raw));
    const spec = specOf("import-cancelled", [64 * MiB]);
    const abort = new AbortController();
    async function* slow() {
      yield vmdk.subarray(0, 4096);
      abort.abort(new Error("restore cancelled by the user"));
      await new Promise((r) => setTimeout(r, 60_000).unref());
      yield vmdk.subarray(4096);
    }
    await expect(client.importVm(spec, [() => Readable.from(slow())], { signal: abort.signal })).rejects.toThrow("restore cancelled by the user");
    await expectNoVm("import-cancelled");
  });

  it("reports what the host refuses (not a stream-optimized VMDK) and leaves no VM", async () => {
    const spec = specOf("import-raw", [MiB]);
    const sources: (() => Readable)[] = [() => Readable.from([randomBytes(MiB)])];
    await expect(client.importVm(spec, sources)).rejects.toThrow(/uploading disk 0: HTTP 500 .*not a sparse VMDK/);
    await expectNoVm("import-raw");
  });

  it("reports a grain whose zlib checksum is wrong (a corrupt stream) and leaves no VM", async () => {
    const vmdk = await readFile(await streamOptimized(await rawDisk("bad-checksum", MiB, [{ start: 0, length: 512 * KiB }])));
    // The first record after the overhead is the grain at sector 0: LBA (8 bytes), size (4), zlib stream.
    const grain = Number(vmdk.readBigUInt64LE(64)) * 512;
    expect(vmdk.readBigUInt64LE(grain)).toBe(0n);
    const size = vmdk.readUInt32LE(grain + 8);
    vmdk[grain + 12 + size - 1] = (vmdk[grain + 12 + size - 1] ?? 0) ^ 0x01; // the last byte of the stream's Adler-32
    const spec = specOf("import-bad-checksum", [MiB]);
    await expect(client.importVm(spec, [() => Readable.from([vmdk])])).rejects.toThrow(/uploading disk 0: HTTP 500 .*inflating the grain at sector 0/);
    await expectNoVm("import-bad-checksum");
  });

  it("refuses a spec whose disks and sources differ in number, before creating anything", async () => {
    await expect(client.importVm(specOf("import-mismatch", [MiB, MiB]), [() => Readable.from([])])).rejects.toThrow(/2 disks in the spec but 1 disk sources/);
    expect(await client.findVmsByName("import-mismatch")).toEqual([]);
  });
});

/** A lease's device URLs take uploads only while the lease is ready: once completed, they are gone. */
describe("the lease's device URLs", () => {
  it("refuse an upload after the lease completed", async () => {
    const raw = await rawDisk("once", MiB, [{ start: 0, length: 4096 }]);
    const vmdk = await readFile(await streamOptimized(raw));
    const ref = await client.importVm(specOf("import-once", [MiB]), [() => Readable.from([vmdk])]);
    const url = await deviceUrlFromLog(ref);
    const res = await post(url, vmdk);
    expect(res.status).toBe(404);
    expect(res.body).toMatch(/no import lease/);
    await client.destroyVm(ref);
  });
});

/** The device URL of the VM's first disk, from the harness's log line of the upload (the lease is gone from the API once completed). */
async function deviceUrlFromLog(vm: MoRef): Promise<string> {
  const disks = await sim.disks(vm.value);
  const name = disks[0]?.fileName.split("/").pop() ?? "";
  const log = await readFile(sim.logFile, "utf8");
  const line = log.split("\n").reverse().find((l) => l.includes("import lease") && l.includes(" of import-once received"));
  const lease = /import lease (\S+): disk/.exec(line ?? "")?.[1];
  if (!lease || !name) throw new Error(`no upload of import-once in the harness log ${sim.logFile}`);
  return `https://${sim.address}/nfc/${lease}/${name}`;
}

function post(url: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: "POST", ca: sim.caCert, headers: { "Content-Length": body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }); });
    });
    req.once("error", reject);
    req.end(body);
  });
}
