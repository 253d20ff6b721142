/**
 * A vault in an S3-compatible bucket (AWS S3, Alibaba OSS, MinIO, Ceph RGW,
 * versitygw) through the AWS SDK. Packs go up as multipart uploads; every
 * request is retried on throttling, 5xx and dropped connections
 * (retry.ts). With the vault's lock on, new objects carry Object Lock
 * retention (Governance or Compliance), so the storage itself refuses to
 * delete them before their retain-until, whoever asks.
 */
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
  type StorageClass,
} from "@aws-sdk/client-s3";
import { VaultError } from "../errors.js";
import type { LockMode } from "../format.js";
import type { Backend, BackendLockSupport, ObjectInfo, PutOptions, Retention } from "./backend.js";
import { withRetry, type RetryOptions } from "./retry.js";

/** Where and how to reach the bucket. Credentials never appear in messages. */
export interface S3Settings {
  /** e.g. http://127.0.0.1:9000 or https://oss-cn-shanghai.aliyuncs.com; omit for AWS S3. */
  readonly endpoint?: string | undefined;
  readonly bucket: string;
  readonly region?: string | undefined;
  /** Key prefix of the vault inside the bucket (no leading slash). */
  readonly prefix?: string | undefined;
  /** Path-style addressing (MinIO, Ceph RGW, versitygw); default true when an endpoint is set. */
  readonly forcePathStyle?: boolean | undefined;
  /** Refuse plain HTTP endpoints. */
  readonly useHTTPS?: boolean | undefined;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
  readonly storageClass?: string | undefined;
  /** PEM bundle to trust for the endpoint. */
  readonly caBundle?: string | Buffer | undefined;
  /** Multipart part size (default 8 MiB); objects above it go up in parts. */
  readonly partSize?: number | undefined;
  readonly retry?: RetryOptions | undefined;
  /** Per-request timeout in ms (default 120 s). */
  readonly requestTimeoutMs?: number | undefined;
}

interface AwsError {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function s3Mode(mode: LockMode): "GOVERNANCE" | "COMPLIANCE" {
  return mode === "Compliance" ? "COMPLIANCE" : "GOVERNANCE";
}

/** S3-compatible backend. */
export class S3Backend implements Backend {
  readonly location: string;
  private readonly client: S3Client;
  private readonly prefix: string;
  private readonly partSize: number;
  private versioning: boolean | undefined;

  constructor(private readonly settings: S3Settings) {
    const endpoint = settings.endpoint?.replace(/\/+$/, "");
    if (settings.useHTTPS && endpoint?.startsWith("http://")) {
      throw new VaultError("InvalidArgument", `S3 endpoint ${endpoint} is plain HTTP while useHTTPS is set; use an https:// endpoint or turn useHTTPS off`);
    }
    this.prefix = settings.prefix ? `${settings.prefix.replace(/^\/+|\/+$/g, "")}/` : "";
    this.location = `s3://${settings.bucket}/${this.prefix}${endpoint ? ` at ${endpoint}` : ""}`;
    this.partSize = settings.partSize ?? 8 * 1024 * 1024;
    const agentOptions = { keepAlive: true, maxSockets: 16 };
    this.client = new S3Client({
      endpoint,
      region: settings.region ?? "us-east-1",
      forcePathStyle: settings.forcePathStyle ?? endpoint !== undefined,
      credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey, sessionToken: settings.sessionToken },
      // Retries are ours (retry.ts), so that body reads are retried too.
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: 10_000,
        requestTimeout: settings.requestTimeoutMs ?? 120_000,
        httpAgent: new HttpAgent(agentOptions),
        httpsAgent: new HttpsAgent({ ...agentOptions, ca: settings.caBundle }),
      },
    });
  }

  private key(name: string): string {
    return this.prefix + name;
  }

  private retry<T>(op: () => Promise<T>): Promise<T> {
    return withRetry(op, this.settings.retry);
  }

  async get(name: string): Promise<Buffer> {
    try {
      return await this.retry(async () => {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name) }));
        return await bodyBytes(out.Body);
      });
    } catch (err) {
      throw this.classify(err, `read ${name}`);
    }
  }

  async getRange(name: string, offset: number, length: number): Promise<Buffer> {
    try {
      return await this.retry(async () => {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name), Range: `bytes=${offset}-${offset + length - 1}` }));
        const bytes = await bodyBytes(out.Body);
        if (bytes.length !== length) throw Object.assign(new Error(`short read of ${name}: ${bytes.length} of ${length} bytes`), { code: "ECONNRESET" });
        return bytes;
      });
    } catch (err) {
      throw this.classify(err, `read ${name}`);
    }
  }

  async readRange<T>(name: string, offset: number, length: number, decode: (bytes: Buffer) => T): Promise<T> {
    // The SDK hands each response's body over as a new array: nothing to lend from.
    return decode(await this.getRange(name, offset, length));
  }

  async put(name: string, data: Buffer | readonly Buffer[], options: PutOptions = {}): Promise<void> {
    const body = Buffer.isBuffer(data) ? data : Buffer.concat(data);
    const lock = options.retention
      ? { ObjectLockMode: s3Mode(options.retention.mode), ObjectLockRetainUntilDate: options.retention.until }
      : {};
    const storage = this.settings.storageClass ? { StorageClass: this.settings.storageClass as StorageClass } : {};
    try {
      if (body.length <= this.partSize || options.ifAbsent) {
        await this.retry(() =>
          this.client.send(new PutObjectCommand({
            Bucket: this.settings.bucket, Key: this.key(name), Body: body, ...lock, ...storage,
            ...(options.ifAbsent ? { IfNoneMatch: "*" } : {}),
          })),
        );
        return;
      }
      await this.putMultipart(name, body, { ...lock, ...storage });
    } catch (err) {
      const e = err as AwsError;
      if (options.ifAbsent && (e.$metadata?.httpStatusCode === 412 || e.name === "PreconditionFailed")) {
        throw new VaultError("AlreadyInitialized", `${name} already exists in ${this.location}`, { cause: err });
      }
      throw this.classify(err, `write ${name}`);
    }
  }

  private async putMultipart(name: string, body: Buffer, extra: Record<string, unknown>): Promise<void> {
    const Bucket = this.settings.bucket;
    const Key = this.key(name);
    const created = await this.retry(() => this.client.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: "CRC32", ...extra })));
    const UploadId = created.UploadId;
    if (!UploadId) throw new Error(`CreateMultipartUpload for ${name} returned no upload id`);
    try {
      const count = Math.ceil(body.length / this.partSize);
      const parts: CompletedPart[] = new Array<CompletedPart>(count);
      let next = 0;
      await Promise.all(Array.from({ length: Math.min(4, count) }, async () => {
        while (next < count) {
          const i = next++;
          const chunk = body.subarray(i * this.partSize, Math.min(body.length, (i + 1) * this.partSize));
          const out = await this.retry(() => this.client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: chunk, ChecksumAlgorithm: "CRC32" })));
          parts[i] = { PartNumber: i + 1, ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32 };
        }
      }));
      try {
        await this.retry(() => this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })));
      } catch (err) {
        // A retried Complete whose first attempt succeeded reports NoSuchUpload: the object is there.
        const size = (await this.stat(name))?.size;
        if (size !== body.length) throw err;
      }
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.retry(() =>
          this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.key(prefix), ContinuationToken: token })),
        );
        for (const o of page.Contents ?? []) {
          if (!o.Key) continue;
          out.push({ key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.classify(err, `list ${prefix}`);
    }
    return out;
  }

  async stat(name: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.retry(() => this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name) })));
      return { key: name, size: out.ContentLength ?? 0, modified: out.LastModified ?? new Date(0) };
    } catch (err) {
      const e = err as AwsError;
      if (e.$metadata?.httpStatusCode === 404 && e.name !== "NoSuchBucket") return undefined;
      throw this.classify(err, `stat ${name}`);
    }
  }

  private async bucketVersioned(): Promise<boolean> {
    if (this.versioning === undefined) {
      const out = await this.retry(() => this.client.send(new GetBucketVersioningCommand({ Bucket: this.settings.bucket })));
      this.versioning = out.Status === "Enabled" || out.Status === "Suspended";
    }
    return this.versioning;
  }

  async delete(name: string): Promise<void> {
    const Bucket = this.settings.bucket;
    const Key = this.key(name);
    try {
      if (!(await this.bucketVersioned())) {
        await this.retry(() => this.client.send(new DeleteObjectCommand({ Bucket, Key })));
        return;
      }
      // On a versioned bucket a plain delete only hides the object: delete every version.
      const out = await this.retry(() => this.client.send(new ListObjectVersionsCommand({ Bucket, Prefix: Key })));
      const versions = [...(out.Versions ?? []), ...(out.DeleteMarkers ?? [])].filter((v) => v.Key === Key);
      for (const v of versions) {
        await this.retry(() => this.client.send(new DeleteObjectCommand({ Bucket, Key, VersionId: v.VersionId })));
      }
    } catch (err) {
      const e = err as AwsError;
      if (e.$metadata?.httpStatusCode === 403 || e.name === "AccessDenied" || e.name === "ObjectLocked") {
        throw new VaultError("PointLocked", `The storage refused to delete ${name}: it is under Object Lock retention (or the credentials may not delete)`, { cause: err });
      }
      throw this.classify(err, `delete ${name}`);
    }
  }

  async extendRetention(name: string, retention: Retention): Promise<void> {
    try {
      await this.retry(() =>
        this.client.send(new PutObjectRetentionCommand({
          Bucket: this.settings.bucket,
          Key: this.key(name),
          Retention: { Mode: s3Mode(retention.mode), RetainUntilDate: retention.until },
        })),
      );
    } catch (err) {
      throw this.classify(err, `extend the retention of ${name}`);
    }
  }

  async retainedUntil(name: string): Promise<Date | undefined> {
    try {
      const out = await this.retry(() => this.client.send(new GetObjectRetentionCommand({ Bucket: this.settings.bucket, Key: this.key(name) })));
      return out.Retention?.RetainUntilDate;
    } catch (err) {
      // An object without retention is an error whose name and status vary by server: AWS and
      // MinIO answer 404 NoSuchObjectLockConfiguration, versitygw 400 with that name, Ceph RGW
      // 404 ObjectLockConfigurationNotFoundError.
      const e = err as AwsError;
      if (e.name === "NoSuchObjectLockConfiguration" || e.name === "ObjectLockConfigurationNotFoundError") return undefined;
      if (e.$metadata?.httpStatusCode === 404 && e.name !== "NoSuchBucket" && e.name !== "NoSuchKey") return undefined;
      throw this.classify(err, `read the retention of ${name}`);
    }
  }

  async cleanup(before: Date): Promise<number> {
    let removed = 0;
    try {
      const out = await this.retry(() => this.client.send(new ListMultipartUploadsCommand({ Bucket: this.settings.bucket, Prefix: this.prefix })));
      for (const u of out.Uploads ?? []) {
        if (!u.Key || !u.UploadId || (u.Initiated && u.Initiated >= before)) continue;
        const { Key, UploadId } = u;
        await this.retry(() => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key, UploadId })));
        removed++;
      }
    } catch (err) {
      throw this.classify(err, "abort stale multipart uploads");
    }
    return removed;
  }

  async lockSupport(): Promise<BackendLockSupport> {
    try {
      const out = await this.retry(() => this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.settings.bucket })));
      const enabled = out.ObjectLockConfiguration?.ObjectLockEnabled === "Enabled";
      return { objectLock: enabled, required: true, detail: enabled ? `bucket ${this.settings.bucket} has Object Lock enabled` : `bucket ${this.settings.bucket} has no Object Lock` };
    } catch (err) {
      const e = err as AwsError;
      if (e.name === "ObjectLockConfigurationNotFoundError" || e.$metadata?.httpStatusCode === 404 && e.name !== "NoSuchBucket") {
        return { objectLock: false, required: true, detail: `bucket ${this.settings.bucket} has no Object Lock configuration` };
      }
      throw this.classify(err, "read the bucket's Object Lock configuration");
    }
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }

  /** Maps SDK errors to VaultError reasons with a message that says what to fix. */
  private classify(err: unknown, action: string): Error {
    if (err instanceof VaultError) return err;
    const e = err as AwsError;
    const status = e.$metadata?.httpStatusCode;
    const what = `Could not ${action} in ${this.location}`;
    if (e.name === "NoSuchBucket") return new VaultError("BucketNotFound", `${what}: bucket ${this.settings.bucket} does not exist; create it (with Object Lock if the vault is locked)`, { cause: err });
    if (e.name === "NoSuchKey" || status === 404) return new VaultError("NotFound", `${what}: no such object`, { cause: err });
    if (e.name === "InvalidAccessKeyId" || e.name === "SignatureDoesNotMatch") {
      return new VaultError("AccessDenied", `${what}: the access key pair was rejected (${e.name}); check the credentials Secret`, { cause: err });
    }
    if (status === 403 || e.name === "AccessDenied") return new VaultError("AccessDenied", `${what}: access denied; check the credentials' permissions on the bucket`, { cause: err });
    if (status !== undefined && status >= 400 && status < 500) return new VaultError("InvalidArgument", `${what}: the storage answered ${status} ${e.name ?? ""}`, { cause: err });
    return new VaultError("BackendUnreachable", `${what}: ${e.message ?? e.name ?? "unknown error"} (after retries); check the endpoint and the network`, { cause: err });
  }
}

/**
 * A GetObject body's bytes as a Buffer over the SDK's own array, not a copy
 * of it: Buffer.from(Uint8Array) copies, and every block a restore reads
 * would be held twice until the garbage collector ran.
 */
async function bodyBytes(body: unknown): Promise<Buffer> {
  const bytes = await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
