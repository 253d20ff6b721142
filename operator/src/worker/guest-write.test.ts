import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createImageStream } from "../image/writer.js";
import { CONTRACT_DEVICES_ENV, guestWrite, resolveDevice, type GuestResult } from "./guest-write.js";

const MiB = 1024 * 1024;

let dir: string;
let server: Server;
let base: string;
const objects = new Map<string, Buffer>();
const results: GuestResult[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "guest-write-"));
  // Stands in for the presigned URLs: GET an object, PUT the result.
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "PUT" && req.headers["content-type"] === "application/json") {
        results.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as GuestResult);
        res.end();
        return;
      }
      const body = objects.get(req.url ?? "");
      res.writeHead(body ? 200 : 404).end(body ?? "NoSuchKey");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

async function vmdkOf(disk: Buffer, virtualSize: number): Promise<Buffer> {
  const blockSize = 256 * 1024;
  const allocated = (b: number) => disk.subarray(b * blockSize, (b + 1) * blockSize).some((x) => x !== 0);
  const pieces = [];
  for (let b = 0; b * blockSize < disk.length; b++) if (allocated(b)) pieces.push({ offset: b * blockSize, data: disk.subarray(b * blockSize, Math.min(disk.length, (b + 1) * blockSize)) });
  const { stream } = createImageStream("vmdk", { size: disk.length, blockSize, allocated, virtualSize });
  const out: Buffer[] = [];
  stream.on("data", (c: Buffer) => out.push(c));
  await pipeline(Readable.from(pieces), stream);
  return Buffer.concat(out);
}

describe("the guest of an IntermediateInstance restore", () => {
  it("maps ECS device names: the contract server's files, else /dev/vdX", async () => {
    const env = { [CONTRACT_DEVICES_ENV]: JSON.stringify({ "/dev/xvdb": { diskId: "d-1", path: "/tmp/d-1.img", sizeBytes: 20 * 1024 * MiB } }) };
    expect(await resolveDevice("/dev/xvdb", env)).toEqual({ path: "/tmp/d-1.img", sizeBytes: 20 * 1024 * MiB });
    await expect(resolveDevice("/dev/xvdc", env)).rejects.toThrow("The instance has no disk at /dev/xvdc (it has /dev/xvdb)");
    await expect(resolveDevice("/dev/xvdzz", {})).rejects.toThrow(/no block device \/dev\/vdzz for \/dev\/xvdzz/);
    await expect(resolveDevice("/dev/sdb", {})).rejects.toThrow("Cannot map the ECS device name /dev/sdb");
  });

  it("lays each staged image onto its device, leaving the rest as it was, and reports", async () => {
    const a = Buffer.alloc(9 * MiB + 777);
    randomBytes(MiB).copy(a, 2 * MiB + 4096);
    randomBytes(777).copy(a, 9 * MiB);
    const b = randomBytes(3 * MiB);
    objects.set("/a.vmdk", await vmdkOf(a, 16 * MiB));
    objects.set("/b.vmdk", await vmdkOf(b, 16 * MiB));
    // New cloud disks: their content files are empty (zeros), as the contract server makes them.
    await writeFile(join(dir, "a.img"), "");
    await writeFile(join(dir, "b.img"), "");
    const env = { [CONTRACT_DEVICES_ENV]: JSON.stringify({ "/dev/xvdb": { path: join(dir, "a.img"), sizeBytes: 20 * MiB }, "/dev/xvdc": { path: join(dir, "b.img"), sizeBytes: 20 * MiB } }) };
    const result = await guestWrite({
      restoreId: "r1",
      attempt: "a1",
      disks: [
        { key: "2000", device: "/dev/xvdb", sizeBytes: a.length, url: `${base}/a.vmdk` },
        { key: "2001", device: "/dev/xvdc", sizeBytes: b.length, url: `${base}/b.vmdk` },
      ],
      resultUrl: `${base}/result`,
    }, env, () => undefined);
    expect(result.ok).toBe(true);
    expect(results.at(-1)).toEqual(result);
    const writtenA = await readFile(join(dir, "a.img"));
    // Only data was written: the file ends at the last byte of data, zeros before it where the disk has zeros.
    expect(writtenA.length).toBe(a.length);
    expect(writtenA.equals(a)).toBe(true);
    expect((await readFile(join(dir, "b.img"))).equals(b)).toBe(true);
    expect(result.disks.map((d) => d.key)).toEqual(["2000", "2001"]);
  });

  it("reports a failure with its reason: a device too small, a download that fails", async () => {
    await writeFile(join(dir, "small.img"), "");
    const env = { [CONTRACT_DEVICES_ENV]: JSON.stringify({ "/dev/xvdb": { path: join(dir, "small.img"), sizeBytes: MiB } }) };
    const small = await guestWrite({ restoreId: "r2", attempt: "a2", disks: [{ key: "2000", device: "/dev/xvdb", sizeBytes: 2 * MiB, url: `${base}/a.vmdk` }], resultUrl: `${base}/result` }, env, () => undefined);
    expect(small).toMatchObject({ ok: false, error: expect.stringContaining("holds 1048576 bytes, fewer than disk 2000's 2097152") });
    const missing = await guestWrite({ restoreId: "r3", attempt: "a3", disks: [{ key: "2000", device: "/dev/xvdb", sizeBytes: MiB, url: `${base}/gone.vmdk` }], resultUrl: `${base}/result` }, env, () => undefined);
    expect(missing).toMatchObject({ ok: false, error: expect.stringContaining("answered 404") });
    expect(results.at(-1)).toEqual(missing);
  });
});
