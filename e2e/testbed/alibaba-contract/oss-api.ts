// The OSS side of the contract server: buckets and objects on local files,
// and the REST operations an image upload needs (PutObject, multipart
// upload, GetObject with Range, HeadObject, DeleteObject, ListObjects v1 and
// v2, PutBucket), with OSS's documented XML bodies and error bodies.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, truncate } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import { copyContent } from "./disk-files.js";
import { ossErrors, OssApiError } from "./errors.js";

export interface OssObject {
  key: string;
  file: string;
  size: number;
  etag: string;
  lastModified: number;
  contentType: string;
  type: "Normal" | "Multipart";
}

interface Upload {
  id: string;
  bucket: string;
  key: string;
  contentType: string;
  parts: Map<number, { file: string; size: number; etag: string; lastModified: number }>;
  initiated: number;
}

/** A request routed to OSS, with bucket and key resolved. */
export interface OssRequest {
  method: string;
  bucket: string | undefined;
  key: string | undefined;
  query: Map<string, string | undefined>;
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
}

/** The smallest part OSS accepts in a multipart upload, except the last (100 KB). */
const MIN_PART_SIZE = 100 * 1024;

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c] ?? c);
}

/** Renders a small XML document from nested records (arrays repeat the element). */
export function toXml(name: string, value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => toXml(name, v)).join("");
  if (value !== null && typeof value === "object") {
    return `<${name}>${Object.entries(value as Record<string, unknown>).map(([k, v]) => toXml(k, v)).join("")}</${name}>`;
  }
  return `<${name}>${xmlEscape(String(value))}</${name}>`;
}

/** The documented OSS error body: Code, Message, RequestId, HostId and the error's own elements. */
export function ossErrorXml(err: OssApiError, requestId: string, hostId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${toXml("Error", { Code: err.code, Message: err.message, RequestId: requestId, HostId: hostId, ...err.details })}`;
}

function md5Etag(hex: string): string {
  return `"${hex.toUpperCase()}"`;
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** Buckets and objects, with their bytes in files under `dir`. */
export class OssStore {
  private readonly buckets = new Map<string, { created: number; objects: Map<string, OssObject> }>();
  private readonly uploads = new Map<string, Upload>();

  constructor(private readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(join(this.dir, "objects"), { recursive: true });
    await mkdir(join(this.dir, "uploads"), { recursive: true });
    await mkdir(join(this.dir, "incoming"), { recursive: true });
  }

  createBucket(name: string): void {
    if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(name)) throw ossErrors.invalidArgument(`Invalid bucket name ${name}.`);
    if (this.buckets.has(name)) throw ossErrors.bucketAlreadyExists(name);
    this.buckets.set(name, { created: Date.now(), objects: new Map() });
  }

  bucketExists(name: string): boolean {
    return this.buckets.has(name);
  }

  private bucket(name: string): { created: number; objects: Map<string, OssObject> } {
    const b = this.buckets.get(name);
    if (!b) throw ossErrors.noSuchBucket(name);
    return b;
  }

  /** Writes an object whose bytes are `contentFile`'s, then zeros up to `size` (kept sparse on disk). */
  async putContent(bucket: string, key: string, contentFile: string, size: number): Promise<void> {
    const b = this.bucket(bucket);
    const tmp = this.incoming();
    await copyContent(contentFile, tmp, size);
    await truncate(tmp, size);
    const file = this.objectFile(bucket, key);
    await rename(tmp, file);
    // ECS writes large exports in parts: the ETag is a multipart one, not the MD5 of the content (which would mean reading every byte here).
    const etag = md5Etag(`${createHash("md5").update(`${bucket}/${key}/${size}/${Date.now()}`).digest("hex")}-1`);
    b.objects.set(key, { key, file, size, etag, lastModified: Date.now(), contentType: "application/octet-stream", type: "Multipart" });
  }

  /** The keys of a bucket's objects (none for a missing bucket). */
  objectKeys(bucket: string): string[] {
    return [...(this.buckets.get(bucket)?.objects.keys() ?? [])];
  }

  /** The object, or undefined when bucket or key is missing. */
  object(bucket: string, key: string): OssObject | undefined {
    return this.buckets.get(bucket)?.objects.get(key);
  }

  private objectFile(bucket: string, key: string): string {
    return join(this.dir, "objects", createHash("sha256").update(`${bucket}/${key}`).digest("hex"));
  }

  /** Streams a request body to a file, returning its size and MD5; checks Content-MD5 when sent. */
  private async receive(req: IncomingMessage, file: string): Promise<{ size: number; md5: Buffer }> {
    const hash = createHash("md5");
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    await pipeline(req, tap, createWriteStream(file));
    const md5 = hash.digest();
    const sent = req.headers["content-md5"];
    if (typeof sent === "string" && sent !== md5.toString("base64")) {
      await rm(file, { force: true });
      throw ossErrors.badDigest();
    }
    return { size, md5 };
  }

  private incoming(): string {
    return join(this.dir, "incoming", randomBytes(12).toString("hex"));
  }

  async handle(r: OssRequest): Promise<void> {
    const { method, bucket, key, query, res } = r;
    const send = (status: number, headers: Record<string, string | number>, body?: string | Buffer) => {
      res.writeHead(status, { "x-oss-request-id": r.requestId, ...headers });
      res.end(body);
    };
    const sendXml = (root: string, value: unknown) => {
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n${toXml(root, value)}`;
      send(200, { "Content-Type": "application/xml", "Content-Length": Buffer.byteLength(body) }, body);
    };
    if (!bucket) throw ossErrors.notImplemented("ListBuckets");

    if (!key) {
      if (method === "PUT") {
        this.createBucket(bucket);
        send(200, { "Content-Length": 0 });
        return;
      }
      const b = this.bucket(bucket);
      if (method === "DELETE") {
        if (b.objects.size > 0) throw new OssApiError(409, "BucketNotEmpty", "The bucket you tried to delete is not empty.", { BucketName: bucket });
        this.buckets.delete(bucket);
        send(204, {});
        return;
      }
      if (method !== "GET") throw ossErrors.notImplemented(`${method} on a bucket`);
      const prefix = query.get("prefix") ?? "";
      const delimiter = query.get("delimiter") ?? "";
      const maxKeys = Math.min(1000, Number(query.get("max-keys") ?? 100));
      const v2 = query.get("list-type") === "2";
      const after = v2 ? (query.get("continuation-token") ?? query.get("start-after") ?? "") : (query.get("marker") ?? "");
      const keys = [...b.objects.keys()].filter((k) => k.startsWith(prefix) && k > after).sort();
      const contents: OssObject[] = [];
      const prefixes: string[] = [];
      let truncated = false;
      let last = "";
      for (const k of keys) {
        if (contents.length + prefixes.length >= maxKeys) {
          truncated = true;
          break;
        }
        if (delimiter) {
          const idx = k.indexOf(delimiter, prefix.length);
          if (idx >= 0) {
            const p = k.slice(0, idx + delimiter.length);
            if (!prefixes.includes(p)) prefixes.push(p);
            last = k;
            continue;
          }
        }
        const o = b.objects.get(k);
        if (o) contents.push(o);
        last = k;
      }
      const entries = contents.map((o) => ({
        Key: o.key,
        LastModified: new Date(o.lastModified).toISOString(),
        ETag: o.etag,
        Type: o.type,
        Size: o.size,
        StorageClass: "Standard",
        Owner: { ID: "contract-owner", DisplayName: "contract-owner" },
      }));
      const common = prefixes.map((p) => ({ Prefix: p }));
      if (v2) {
        sendXml("ListBucketResult", {
          Name: bucket,
          Prefix: prefix,
          MaxKeys: maxKeys,
          Delimiter: delimiter,
          IsTruncated: truncated,
          ...(truncated ? { NextContinuationToken: last } : {}),
          KeyCount: contents.length + prefixes.length,
          Contents: entries.map(({ Owner: _o, ...rest }) => rest),
          CommonPrefixes: common,
        });
      } else {
        sendXml("ListBucketResult", { Name: bucket, Prefix: prefix, Marker: after, MaxKeys: maxKeys, Delimiter: delimiter, IsTruncated: truncated, ...(truncated ? { NextMarker: last } : {}), Contents: entries, CommonPrefixes: common });
      }
      return;
    }

    const b = this.bucket(bucket);
    const uploadId = query.get("uploadId");

    if (method === "POST" && query.has("uploads")) {
      const id = randomBytes(16).toString("hex").toUpperCase();
      await mkdir(join(this.dir, "uploads", id), { recursive: true });
      this.uploads.set(id, { id, bucket, key, contentType: r.req.headers["content-type"] ?? "application/octet-stream", parts: new Map(), initiated: Date.now() });
      sendXml("InitiateMultipartUploadResult", { Bucket: bucket, Key: key, UploadId: id });
      return;
    }

    if (uploadId !== undefined) {
      const upload = this.uploads.get(uploadId);
      if (!upload || upload.bucket !== bucket || upload.key !== key) throw ossErrors.noSuchUpload(uploadId);
      if (method === "PUT") {
        const partNumber = Number(query.get("partNumber"));
        if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000) throw ossErrors.invalidArgument("Part number must be an integer between 1 and 10000, inclusive.");
        const file = join(this.dir, "uploads", uploadId, String(partNumber));
        const { size, md5 } = await this.receive(r.req, file);
        const etag = md5Etag(md5.toString("hex"));
        upload.parts.set(partNumber, { file, size, etag, lastModified: Date.now() });
        send(200, { ETag: etag, "Content-Length": 0 });
        return;
      }
      if (method === "GET") {
        const parts = [...upload.parts.entries()].sort((a, c) => a[0] - c[0]);
        sendXml("ListPartsResult", {
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumberMarker: 0,
          NextPartNumberMarker: parts.at(-1)?.[0] ?? 0,
          MaxParts: 1000,
          IsTruncated: false,
          Part: parts.map(([n, p]) => ({ PartNumber: n, LastModified: new Date(p.lastModified).toISOString(), ETag: p.etag, Size: p.size })),
        });
        return;
      }
      if (method === "DELETE") {
        this.uploads.delete(uploadId);
        await rm(join(this.dir, "uploads", uploadId), { recursive: true, force: true });
        send(204, {});
        return;
      }
      if (method === "POST") {
        const chunks: Buffer[] = [];
        for await (const c of r.req) chunks.push(c as Buffer);
        const xml = Buffer.concat(chunks).toString("utf8");
        const listed = [...xml.matchAll(/<Part>\s*<PartNumber>(\d+)<\/PartNumber>\s*<ETag>([^<]*)<\/ETag>\s*<\/Part>/g)].map((m) => ({ n: Number(m[1]), etag: (m[2] ?? "").replace(/&quot;/g, '"') }));
        if (listed.length === 0) throw ossErrors.invalidArgument("The XML you provided was not well-formed or did not validate against our published schema.");
        for (let i = 1; i < listed.length; i++) if ((listed[i]?.n ?? 0) <= (listed[i - 1]?.n ?? 0)) throw ossErrors.invalidPartOrder();
        const md5s: Buffer[] = [];
        for (const [i, l] of listed.entries()) {
          const part = upload.parts.get(l.n);
          if (!part || part.etag.toUpperCase() !== l.etag.toUpperCase()) throw ossErrors.invalidPart();
          if (i < listed.length - 1 && part.size < MIN_PART_SIZE) throw ossErrors.entityTooSmall();
          md5s.push(Buffer.from(part.etag.replace(/"/g, ""), "hex"));
        }
        const tmp = this.incoming();
        const out = await open(tmp, "w");
        let size = 0;
        try {
          for (const l of listed) {
            const part = upload.parts.get(l.n);
            if (!part) throw ossErrors.invalidPart();
            await out.write(await readFile(part.file));
            size += part.size;
          }
        } finally {
          await out.close();
        }
        const file = this.objectFile(bucket, key);
        await rename(tmp, file);
        const etag = md5Etag(`${createHash("md5").update(Buffer.concat(md5s)).digest("hex")}-${listed.length}`);
        b.objects.set(key, { key, file, size, etag, lastModified: Date.now(), contentType: upload.contentType, type: "Multipart" });
        this.uploads.delete(uploadId);
        await rm(join(this.dir, "uploads", uploadId), { recursive: true, force: true });
        sendXml("CompleteMultipartUploadResult", { Location: `http://${bucket}.oss/${key}`, Bucket: bucket, Key: key, ETag: etag });
        return;
      }
    }

    if (method === "PUT") {
      const tmp = this.incoming();
      const { size, md5 } = await this.receive(r.req, tmp);
      const file = this.objectFile(bucket, key);
      await rename(tmp, file);
      const etag = md5Etag(md5.toString("hex"));
      b.objects.set(key, { key, file, size, etag, lastModified: Date.now(), contentType: r.req.headers["content-type"] ?? "application/octet-stream", type: "Normal" });
      send(200, { ETag: etag, "Content-Length": 0, "Content-MD5": md5.toString("base64") });
      return;
    }

    if (method === "DELETE") {
      const o = b.objects.get(key);
      if (o) {
        b.objects.delete(key);
        await rm(o.file, { force: true });
      }
      send(204, {});
      return;
    }

    if (method === "GET" || method === "HEAD") {
      const o = b.objects.get(key);
      if (!o) throw ossErrors.noSuchKey(key);
      const headers: Record<string, string | number> = {
        ETag: o.etag,
        "Last-Modified": httpDate(o.lastModified),
        "Content-Type": o.contentType,
        "Accept-Ranges": "bytes",
        "x-oss-object-type": o.type,
        "x-oss-storage-class": "Standard",
      };
      let start = 0;
      let end = o.size - 1;
      let status = 200;
      const range = r.req.headers.range;
      const m = typeof range === "string" ? /^bytes=(\d*)-(\d*)$/.exec(range) : null;
      if (m && (m[1] !== "" || m[2] !== "")) {
        if (m[1] === "") {
          start = Math.max(0, o.size - Number(m[2]));
        } else {
          start = Number(m[1]);
          if (m[2] !== "") end = Math.min(end, Number(m[2]));
        }
        if (start >= o.size || start > end) throw ossErrors.invalidRange();
        status = 206;
        headers["Content-Range"] = `bytes ${start}-${end}/${o.size}`;
      }
      headers["Content-Length"] = o.size === 0 ? 0 : end - start + 1;
      res.writeHead(status, { "x-oss-request-id": r.requestId, ...headers });
      if (method === "HEAD" || o.size === 0) {
        res.end();
        return;
      }
      await pipeline(createReadStream(o.file, { start, end }), res);
      return;
    }
    throw ossErrors.notImplemented(`${method} on an object`);
  }

  /** Sizes of an object's file, for tests. */
  async fileSize(bucket: string, key: string): Promise<number | undefined> {
    const o = this.object(bucket, key);
    return o ? (await stat(o.file)).size : undefined;
  }
}
