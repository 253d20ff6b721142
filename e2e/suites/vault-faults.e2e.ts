// Faults the vault must survive, against the real filesystem and a real S3
// server (versitygw): a backup killed with SIGKILL midway, S3 throttling
// (503 SlowDown) and dropped connections injected by a small HTTP proxy in
// front of the real server, and a flipped byte in a pack that `check
// --read-data` must find and name.
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { createServer, request, Agent, type IncomingHttpHeaders, type Server } from "node:http";
import { mkdtemp, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { startS3Server, type S3Server } from "../testbed/s3-server.js";
import { startVaultCli, vaultCli, vaultOk } from "../support/vault-cli.js";

jest.setTimeout(300_000);

const MiB = 1024 * 1024;
const start = startVaultCli;
const cli = vaultCli;
const ok = vaultOk;

/** Counts of what the proxy did. */
interface FaultStats {
  requests: number;
  slowDowns: number;
  dropsBeforeForwarding: number;
  dropsMidResponse: number;
}

/**
 * An HTTP proxy in front of the real S3 server that injects faults on a
 * fixed rhythm: every 7th request gets 503 SlowDown, every 11th has its
 * connection dropped before it reaches the server, every 13th is served by
 * the server but its response is cut off halfway (or, without a body, before
 * any byte), so the client cannot tell whether the request took effect.
 */
async function startFaultProxy(upstream: string): Promise<{ endpoint: string; stats: FaultStats; close: () => Promise<void> }> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  const stats: FaultStats = { requests: 0, slowDowns: 0, dropsBeforeForwarding: 0, dropsMidResponse: 0 };
  const server: Server = createServer((req, res) => {
    const n = ++stats.requests;
    if (n % 7 === 3) {
      stats.slowDowns++;
      req.resume();
      req.on("end", () => {
        res.writeHead(503, { "Content-Type": "application/xml" });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      });
      return;
    }
    if (n % 11 === 5) {
      stats.dropsBeforeForwarding++;
      req.socket.destroy();
      return;
    }
    const cut = n % 13 === 7;
    const headers: IncomingHttpHeaders = { ...req.headers };
    delete headers.expect;
    delete headers.connection;
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (upRes) => {
      if (!cut) {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      upRes.on("data", (d: Buffer) => chunks.push(d));
      upRes.on("end", () => {
        stats.dropsMidResponse++;
        const body = Buffer.concat(chunks);
        if (body.length > 1) {
          res.writeHead(upRes.statusCode ?? 502, { ...upRes.headers, "content-length": String(body.length) });
          res.write(body.subarray(0, body.length >> 1));
        }
        setTimeout(() => res.socket?.destroy(), 5);
      });
    });
    up.on("error", () => res.socket?.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => { resolve(); });
      agent.destroy();
    }),
  };
}

let work: string;
let s3: S3Server;
let keyFile: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "vault-faults-"));
  s3 = await startS3Server(join(work, "s3"));
  await s3.createBucket("faults");
  keyFile = join(work, "key");
  await writeFile(keyFile, randomBytes(32));
}, 300_000);

afterAll(async () => {
  await s3.stop();
  await rm(work, { recursive: true, force: true });
});

function s3Env(endpoint = s3.endpoint): NodeJS.ProcessEnv {
  return { AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey, AWS_ENDPOINT_URL: endpoint, AWS_REGION: s3.region, LIFEBOAT_VAULT_KEY_FILE: keyFile };
}

function s3Client(): S3Client {
  return new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey } });
}

async function s3Keys(prefix: string): Promise<string[]> {
  const client = s3Client();
  try {
    const out = await client.send(new ListObjectsV2Command({ Bucket: "faults", Prefix: prefix }));
    return (out.Contents ?? []).map((o) => o.Key ?? "");
  } finally {
    client.destroy();
  }
}

async function fsKeys(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true }).catch(() => [])).filter((f) => !f.includes(".tmp-"));
}

interface Target {
  name: string;
  repo: string;
  env: () => NodeJS.ProcessEnv;
  indexObjects: () => Promise<string[]>;
  packs: () => Promise<string[]>;
  flipByte: (pack: string, offset: number) => Promise<void>;
  imageMiB: number;
}

const targets: Target[] = [
  {
    name: "filesystem",
    get repo() { return join(work, "fs-repo"); },
    env: () => ({ LIFEBOAT_VAULT_KEY_FILE: keyFile }),
    indexObjects: () => fsKeys(join(work, "fs-repo", "index")),
    packs: async () => (await fsKeys(join(work, "fs-repo", "data"))).filter((k) => k.includes("/")).map((k) => k.split("/")[1] ?? ""),
    flipByte: async (pack, offset) => {
      const fh = await open(join(work, "fs-repo", "data", pack.slice(0, 2), pack), "r+");
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, offset);
      b[0] = (b[0] ?? 0) ^ 0x5a;
      await fh.write(b, 0, 1, offset);
      await fh.close();
    },
    imageMiB: 384,
  },
  {
    name: "s3",
    repo: "s3://faults/killed",
    env: () => s3Env(),
    indexObjects: () => s3Keys("killed/index/"),
    packs: async () => (await s3Keys("killed/data/")).map((k) => k.split("/").pop() ?? ""),
    flipByte: async (pack, offset) => {
      const client = s3Client();
      try {
        const key = `killed/data/${pack.slice(0, 2)}/${pack}`;
        const got = await client.send(new GetObjectCommand({ Bucket: "faults", Key: key }));
        const body = Buffer.from(await got.Body?.transformToByteArray() ?? new Uint8Array());
        body[offset] = (body[offset] ?? 0) ^ 0x5a;
        await client.send(new PutObjectCommand({ Bucket: "faults", Key: key, Body: body }));
      } finally {
        client.destroy();
      }
    },
    imageMiB: 160,
  },
];

describe.each(targets)("faults on $name", (t) => {
  it("survives kill -9 of a backup: check passes, the next backup reuses uploaded data and succeeds", async () => {
    const dir = await mkdtemp(join(work, `${t.name}-kill-`));
    const disk = join(dir, "disk.img");
    const fh = await open(disk, "w");
    for (let i = 0; i < t.imageMiB; i += 16) await fh.write(randomBytes(16 * MiB));
    await fh.close();
    await ok(["init", "--repo", t.repo, "--pack-size", "16Mi"], t.env());

    const { child, done } = start(["backup", "--repo", t.repo, "--threads", "1", "--disk", `2000=${disk}`], t.env());
    // Kill as soon as the backup has committed some index (its packs are then reusable).
    const deadline = Date.now() + 120_000;
    while ((await t.indexObjects()).length === 0 && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    child.kill("SIGKILL");
    const killed = await done;
    expect(killed.signal).toBe("SIGKILL"); // it was still running: the kill really was midway
    expect(await ok(["ls", "--repo", t.repo], t.env())).toBe("");

    const checked = await cli(["check", "--repo", t.repo, "--read-data"], t.env());
    expect(checked.code).toBe(0);
    const point = JSON.parse(await ok(["backup", "--repo", t.repo, "--json", "--disk", `2000=${disk}`], t.env())) as { id: string; disks: { newBytes: number }[] };
    expect(point.disks[0]?.newBytes).toBeLessThan(t.imageMiB * MiB - 32 * MiB);
    await ok(["restore", "--repo", t.repo, point.id, "--target", join(dir, "out.img")], t.env());
    expect((await readFile(join(dir, "out.img"))).equals(await readFile(disk))).toBe(true);
    await ok(["prune", "--repo", t.repo, "--margin", "0s"], t.env());
    const after = await cli(["check", "--repo", t.repo, "--read-data"], t.env());
    expect(after.stdout).toContain("No errors");
    expect(after.stdout).not.toContain("warning"); // prune removed the killed backup's leftovers
  });

  it("finds and names a flipped byte in a pack with check --read-data", async () => {
    const before = new Set(await t.packs());
    const dir = await mkdtemp(join(work, `${t.name}-flip-`));
    const disk = join(dir, "disk.img");
    await writeFile(disk, randomBytes(5 * MiB));
    const point = JSON.parse(await ok(["backup", "--repo", t.repo, "--json", "--disk", `2000=${disk}`], t.env())) as { id: string };
    const pack = (await t.packs()).find((p) => !before.has(p));
    expect(pack).toBeDefined();
    // The third blob starts after the 8-byte pack magic and two blobs of 1 MiB + 29 bytes each.
    await t.flipByte(pack ?? "", 8 + 2 * (MiB + 29) + 4096);
    expect((await cli(["check", "--repo", t.repo], t.env())).code).toBe(0);
    const checked = await cli(["check", "--repo", t.repo, "--read-data"], t.env());
    expect(checked.code).toBe(1);
    expect(checked.stdout).toMatch(new RegExp(`error: Pack ${pack ?? ""}: block [0-9a-f]{64} at offset ${8 + 2 * (MiB + 29)} is damaged .*used by point ${point.id} disk 2000 block [0-4]\n`));
    const restore = await cli(["restore", "--repo", t.repo, point.id, "--target", join(dir, "out.img")], t.env());
    expect(restore.code).toBe(1);
    expect(restore.stderr).toContain("[Corrupt]");
  });
});

describe("S3 faults injected by a proxy", () => {
  it("retries 503 SlowDown and dropped connections without corrupting anything", async () => {
    const proxy = await startFaultProxy(s3.endpoint);
    try {
      const repo = "s3://faults/flaky";
      await ok(["init", "--repo", repo, "--pack-size", "16Mi"], s3Env()); // init straight to the server: a conditional create cannot be retried blindly
      const dir = await mkdtemp(join(work, "flaky-"));
      const disk = join(dir, "disk.img");
      const image = Buffer.concat([randomBytes(40 * MiB), Buffer.alloc(4 * MiB), Buffer.from("text ".repeat(4 * MiB / 5 + 1)).subarray(0, 4 * MiB)]);
      await writeFile(disk, image);
      const point = JSON.parse(await ok(["backup", "--repo", repo, "--json", "--disk", `2000=${disk}`], s3Env(proxy.endpoint))) as { id: string };
      await ok(["restore", "--repo", repo, point.id, "--target", join(dir, "out.img")], s3Env(proxy.endpoint));
      expect((await readFile(join(dir, "out.img"))).equals(image)).toBe(true);
      expect((await cli(["check", "--repo", repo, "--read-data"], s3Env(proxy.endpoint))).code).toBe(0);
      expect(proxy.stats.slowDowns).toBeGreaterThan(3);
      expect(proxy.stats.dropsBeforeForwarding).toBeGreaterThan(2);
      expect(proxy.stats.dropsMidResponse).toBeGreaterThan(2);
      // And straight from the server, without the proxy: every block verifies.
      const direct = await cli(["check", "--repo", repo, "--read-data"], s3Env());
      expect(direct.stdout).toContain("No errors");
    } finally {
      await proxy.close();
    }
  });
});
