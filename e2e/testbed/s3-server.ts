import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from "@aws-sdk/client-s3";
import { ensureComponent } from "./components.js";
import { get, waitFor } from "./http.js";
import { freePort } from "./ports.js";
import { ManagedProcess } from "./process.js";

/** A running S3 server of the test bed and how to reach it. */
export interface S3Server {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
  /** The server's log file. */
  readonly logFile: string;
  /** Creates a bucket; with `objectLock`, Object Lock (and thus versioning) is enabled on it. */
  createBucket(name: string, options?: { objectLock?: boolean; versioning?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a real S3 server with Object Lock: versitygw's posix backend built
 * from its published Go module (e2e/testbed/go/s3), serving buckets from
 * `dir/buckets`, old versions from `dir/versions`, on a free port, with fresh
 * random root credentials. Used by the vault e2e suites, the benchmark, the
 * demo and the BackupVault reconciler tests.
 */
export async function startS3Server(dir: string): Promise<S3Server> {
  const bin = join(await ensureComponent("s3"), "s3");
  const buckets = join(dir, "buckets");
  const versions = join(dir, "versions");
  await mkdir(buckets, { recursive: true });
  await mkdir(versions, { recursive: true });
  const port = await freePort();
  const accessKey = `lifeboat${randomBytes(6).toString("hex")}`;
  const secretKey = randomBytes(24).toString("base64url");
  const region = "us-east-1";
  const logFile = join(dir, "s3.log");
  const proc = new ManagedProcess("s3", bin, ["-root", buckets, "-versioning-dir", versions, "-listen", `127.0.0.1:${port}`, "-region", region], logFile, {
    env: { ...process.env, ROOT_ACCESS_KEY_ID: accessKey, ROOT_SECRET_ACCESS_KEY: secretKey },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`the S3 server on ${endpoint} (log: ${logFile})`, 30_000, async () => {
      if (!proc.running) throw new Error(`the S3 server exited; see ${logFile}`);
      const res = await get(`${endpoint}/`, { timeoutMs: 2000 });
      return res.status > 0 ? true : undefined;
    });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  const client = (): S3Client =>
    new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } });
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
  };
}
