import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { Agent as HttpsAgent } from "node:https";
import { join } from "node:path";
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from "@aws-sdk/client-s3";
import { ensureComponent } from "./components.js";
import { get, waitFor } from "./http.js";
import { serveAddress } from "./paths.js";
import { freePort } from "./ports.js";
import { ManagedProcess } from "./process.js";

/** A running S3 server of the test bed and how to reach it. */
export interface S3Server {
  /** http://HOST:PORT, HOST being serveAddress() */
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
  /** The server's log file. */
  readonly logFile: string;
  /** Creates a bucket; with `objectLock`, Object Lock (and thus versioning) is enabled on it. */
  createBucket(name: string, options?: { objectLock?: boolean; versioning?: boolean }): Promise<void>;
  /** Stops the server (SIGTERM); its port, credentials and data stay for `start`. */
  stop(): Promise<void>;
  /** Starts it again after `stop`, on the same port with the same credentials and buckets (an S3 outage that ends). */
  start(): Promise<void>;
}

/**
 * Starts a real S3 server with Object Lock: versitygw's posix backend built
 * from its published Go module (e2e/testbed/go/s3), serving buckets from
 * `dir/buckets`, old versions from `dir/versions`, on a free port, with fresh
 * random root credentials. Used by the vault e2e suites, the benchmark, the
 * demo and the BackupVault reconciler tests.
 */
export async function startS3Server(dir: string, opts: { tls?: { certFile: string; keyFile: string; caCert: string } } = {}): Promise<S3Server> {
  const bin = join(await ensureComponent("s3"), "s3");
  const buckets = join(dir, "buckets");
  const versions = join(dir, "versions");
  await mkdir(buckets, { recursive: true });
  await mkdir(versions, { recursive: true });
  const port = await freePort();
  const host = serveAddress();
  const accessKey = `lifeboat${randomBytes(6).toString("hex")}`;
  const secretKey = randomBytes(24).toString("base64url");
  const region = "us-east-1";
  const logFile = join(dir, "s3.log");
  const endpoint = `${opts.tls ? "https" : "http"}://${host}:${port}`;
  const launch = async (): Promise<ManagedProcess> => {
    const p = new ManagedProcess("s3", bin, ["-root", buckets, "-versioning-dir", versions, "-listen", `${host}:${port}`, "-region", region, ...(opts.tls ? ["-cert", opts.tls.certFile, "-key", opts.tls.keyFile] : [])], logFile, {
      env: { ...process.env, ROOT_ACCESS_KEY_ID: accessKey, ROOT_SECRET_ACCESS_KEY: secretKey },
    });
    try {
      await waitFor(`the S3 server on ${endpoint} (log: ${logFile})`, 30_000, async () => {
        if (!p.running) throw new Error(`the S3 server exited; see ${logFile}`);
        const res = await get(`${endpoint}/`, { timeoutMs: 2000, ...(opts.tls ? { ca: Buffer.from(opts.tls.caCert) } : {}) });
        return res.status > 0 ? true : undefined;
      });
    } catch (err) {
      await p.stop();
      throw err;
    }
    return p;
  };
  let proc = await launch();
  const client = (): S3Client =>
    new S3Client({
      endpoint,
      region,
      forcePathStyle: true,
      credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
      ...(opts.tls ? { requestHandler: { httpsAgent: new HttpsAgent({ ca: opts.tls.caCert }) } } : {}),
    });
  return {
    endpoint,
    accessKey,
    secretKey,
    region,
    logFile,
    async createBucket(name, options = {}) {
      const s3 = client();
      try {
        await s3.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: options.objectLock ?? false }));
        if (options.versioning && !options.objectLock) {
          await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: "Enabled" } }));
        }
      } finally {
        s3.destroy();
      }
    },
    stop: () => proc.stop(),
    async start() {
      if (proc.running) throw new Error(`the S3 server on ${endpoint} is running; stop it first`);
      proc = await launch();
    },
  };
}
