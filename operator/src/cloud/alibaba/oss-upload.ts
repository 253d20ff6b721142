/**
 * Uploads a disk image to OSS with the official SDK (`ali-oss`, signing with
 * OSS's V4 signature), as a multipart upload filled from a stream: the image
 * writers produce it in one pass and its length may be known only at its end
 * (a VMDK), so parts are cut from the stream as it comes, one in flight,
 * memory one part. Each part is retried on throttling, 5xx and dropped
 * connections; a failed upload is aborted so the bucket keeps no parts.
 */
import { isIP } from "node:net";
import type { Readable } from "node:stream";
import type OSS from "ali-oss";
import { partSizeFor, streamParts } from "../../util/stream-parts.js";
import { withRetry } from "../../vault/backends/retry.js";
import { ossClass } from "./sdk.js";

/** Where and as whom to reach a bucket. */
export interface OssConnection {
  /** The region id, e.g. cn-shanghai (the SDK's region is "oss-" + this). */
  readonly regionId: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  /** An endpoint URL (https://oss-cn-shanghai-internal.aliyuncs.com inside a VPC); default: the region's public endpoint. */
  readonly endpoint?: string | undefined;
}

/**
 * The ali-oss client of one bucket. `forPresignedUrls`: the client makes URLs
 * for someone else to use. To an endpoint given as an IP address (a private
 * gateway, a test peer) ali-oss sends the bucket in the Host header, which a
 * URL cannot carry, so such a client puts the bucket in the path instead
 * (ali-oss's `sldEnable`).
 */
export function ossClient(c: OssConnection, forPresignedUrls = false): OSS {
  const url = c.endpoint ? new URL(c.endpoint) : undefined;
  const byIp = url !== undefined && isIP(url.hostname.replace(/^\[|\]$/g, "")) !== 0;
  const options: OSS.Options & { sldEnable?: boolean } = {
    region: `oss-${c.regionId}`,
    bucket: c.bucket,
    accessKeyId: c.accessKeyId,
    accessKeySecret: c.accessKeySecret,
    authorizationV4: true,
    secure: url ? url.protocol === "https:" : true,
    timeout: 120_000,
    ...(url ? { endpoint: url.origin } : {}),
    ...(byIp && forPresignedUrls ? { sldEnable: true } : {}),
  };
  return new (ossClass())(options);
}

interface OssError {
  status?: number;
  code?: string;
  name?: string;
  message?: string;
}

/** True for OSS errors worth another attempt: throttling, 5xx, timeouts and dropped connections. */
export function isRetryableOssError(err: unknown): boolean {
  const e = (err ?? {}) as OssError;
  if (e.status !== undefined && (e.status >= 500 || e.status === 429)) return true;
  if (e.code && /^(SlowDown|ServiceUnavailable|InternalError|RequestTimeout|ConnectionTimeoutError|ResponseTimeoutError|RequestError|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE)$/.test(e.code)) return true;
  return /socket hang up|ECONNRESET|ETIMEDOUT|timeout/i.test(e.message ?? "");
}

export interface UploadObjectOptions {
  readonly client: OSS;
  readonly key: string;
  /** An upper bound of the object's size; it sizes the parts (at most 10 000). */
  readonly maxSize: number;
  readonly signal?: AbortSignal | undefined;
  /** Called with each part's bytes once OSS has it. */
  readonly onUploaded?: ((bytes: number) => void) | undefined;
}

/** Uploads `stream` as the object `key`; returns its size. */
export async function uploadObject(stream: Readable, opts: UploadObjectOptions): Promise<number> {
  const { client, key } = opts;
  const retry = { retryable: isRetryableOssError, attempts: 8, baseDelayMs: 500, maxDelayMs: 20_000 };
  const partSize = partSizeFor(opts.maxSize);
  const { uploadId } = await withRetry(() => client.initMultipartUpload(key), retry);
  try {
    const parts: { number: number; etag: string }[] = [];
    const sendPart = async (body: Buffer): Promise<void> => {
      opts.signal?.throwIfAborted();
      const number = parts.length + 1;
      const out = await withRetry(() => client.uploadPart(key, uploadId, number, body, 0, body.length), retry);
      parts.push({ number, etag: out.etag });
      opts.onUploaded?.(body.length);
    };
    const cut = streamParts(stream, partSize, opts.maxSize, "The image stream");
    for await (const part of cut.parts) await sendPart(part);
    await withRetry(() => client.completeMultipartUpload(key, uploadId, parts), retry);
    return cut.total();
  } catch (err) {
    await withRetry(() => client.abortMultipartUpload(key, uploadId), retry).catch(() => undefined);
    throw err;
  }
}
