/**
 * Restored disk images as objects in an S3-compatible bucket: one raw image
 * per disk, streamed from the vault as a multipart upload so that memory
 * stays at one part whatever the disk's size. `@aws-sdk/lib-storage` is not
 * a dependency, so the multipart calls are made here, each retried like the
 * vault's S3 backend does (vault/backends/retry.ts) and carrying a CRC32
 * checksum so the bucket rejects a corrupted part; a failed upload is
 * aborted so the bucket keeps no orphaned parts.
 */
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from "@aws-sdk/client-s3";
import { partSizeFor, streamParts } from "../util/stream-parts.js";
import { withRetry } from "../vault/backends/retry.js";
import { SECRET_ENV, type RestoreWorkerSpec } from "./spec.js";
import { trustFor } from "./trust.js";

/** The spec's image bucket (spec.target.imageFile.s3). */
export type ImageBucket = NonNullable<Extract<RestoreWorkerSpec["target"], { imageFile: unknown }>["imageFile"]["s3"]>;

/**
 * The object key of a disk image: `<prefix>/<file>`, the prefix without
 * leading or trailing slashes, and just `<file>` when it is empty (S3 keys
 * with a leading slash show up as an empty "folder" in most tools).
 */
export function imageObjectKey(prefix: string | undefined, fileName: string): string {
  const p = (prefix ?? "").replace(/^\/+|\/+$/g, "");
  return p ? `${p}/${fileName}` : fileName;
}

/**
 * An S3 client for the image bucket, built like the vault's S3 backend
 * (vault/backends/s3.ts): path-style by default with an endpoint, keep-alive
 * agents, and SDK retries off because every call here goes through
 * withRetry (which also retries an upload part whose body was cut off).
 */
export function imageClient(bucket: ImageBucket, env: NodeJS.ProcessEnv): S3Client {
  const endpoint = bucket.endpoint?.replace(/\/+$/, "");
  // Fail closed, as the vault's S3 backend does: plain HTTP only when the spec turned useHTTPS off.
  if (bucket.useHTTPS === true && endpoint?.startsWith("http://")) throw new Error(`Image bucket endpoint ${endpoint} is plain HTTP while useHTTPS is set; use an https:// endpoint or turn useHTTPS off`);
  const agentOptions = { keepAlive: true, maxSockets: 4 };
  return new S3Client({
    endpoint,
    region: bucket.region ?? "us-east-1",
    forcePathStyle: bucket.forcePathStyle ?? endpoint !== undefined,
    credentials: { accessKeyId: env[SECRET_ENV.imageAccessKeyId] ?? "", secretAccessKey: env[SECRET_ENV.imageSecretAccessKey] ?? "" },
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: 10_000,
      requestTimeout: 120_000,
      httpAgent: new HttpAgent(agentOptions),
      // The CA the RestoreJob names (caSecretRef), else the default trust with the operator's extra CAs; never unverified.
      httpsAgent: new HttpsAgent({ ...agentOptions, rejectUnauthorized: true, ca: trustFor(env, bucket.caCertEnv) }),
    },
  });
}

export interface UploadImageOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** The object's size when known up front: the stream must deliver exactly this many bytes. */
  readonly size?: number;
  /** Otherwise an upper bound of it, which sizes the parts (a compressed image's length is known only at its end). */
  readonly maxSize?: number;
  readonly signal: AbortSignal;
  /** Called with the bytes of each part once the bucket acknowledged it. */
  readonly onUploaded: (bytes: number) => void;
}

/**
 * Uploads `stream` (a disk, in order, holes already as zeros) as one object.
 * Parts are filled from the stream and sent one at a time, so the stream is
 * paused (backpressure up to the vault reads) while a part is in flight and
 * memory stays at one part. A zero-byte disk is a plain PutObject, since a
 * multipart upload needs at least one part.
 */
export async function uploadImage(stream: Readable, opts: UploadImageOptions): Promise<void> {
  const { client, bucket: Bucket, key: Key, size, signal } = opts;
  const send = { abortSignal: signal };
  if (size === 0) {
    await withRetry(() => client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.alloc(0) }), send));
    return;
  }
  const limit = size ?? opts.maxSize;
  if (limit === undefined) throw new Error(`Uploading s3://${Bucket}/${Key} needs its size or a bound on it`);
  const partSize = partSizeFor(limit);
  const created = await withRetry(() => client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: "application/octet-stream", ChecksumAlgorithm: "CRC32" }), send));
  const UploadId = created.UploadId;
  if (!UploadId) throw new Error(`CreateMultipartUpload for s3://${Bucket}/${Key} returned no upload id`);
  try {
    const parts: CompletedPart[] = [];
    const sendPart = async (body: Buffer): Promise<void> => {
      const PartNumber = parts.length + 1;
      const out = await withRetry(() => client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: body, ContentLength: body.length, ChecksumAlgorithm: "CRC32" }), send));
      parts.push({ PartNumber, ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32 });
      opts.onUploaded(body.length);
    };
    const cut = streamParts(stream, partSize, limit, size === undefined ? "The image stream" : "The disk stream");
    for await (const part of cut.parts) await sendPart(part);
    const total = cut.total();
    if (size !== undefined && total !== size) throw new Error(`The disk stream ended at byte ${total} of ${size}`);
    try {
      await withRetry(() => client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }), send));
    } catch (err) {
      // A retried Complete whose first attempt succeeded reports NoSuchUpload: the object is there.
      const head = await client.send(new HeadObjectCommand({ Bucket, Key }), send).catch(() => undefined);
      if (head?.ContentLength !== total) throw err;
    }
  } catch (err) {
    await withRetry(() => client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }))).catch(() => undefined);
    throw err;
  }
}
