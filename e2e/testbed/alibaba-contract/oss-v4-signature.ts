// Verification of the OSS V4 signature (OSS4-HMAC-SHA256), in the
// Authorization header or in a presigned URL's query, as OSS's "Include a V4
// signature in the header" and "Add a V4 signature to a URL" documents describe it.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { ossErrors } from "./errors.js";

export const OSS4_ALGORITHM = "OSS4-HMAC-SHA256";

/** RFC 3986 encoding of UTF-8 as the OSS V4 document asks (A-Z a-z 0-9 - _ . ~ unencoded). */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** What the signature covers, with bucket and key already resolved from the host or the path. */
export interface OssSignedRequest {
  method: string;
  bucket: string | undefined;
  key: string | undefined;
  /** Decoded query parameters in order; a parameter without `=` has value undefined. */
  query: [string, string | undefined][];
  headers: IncomingHttpHeaders;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(",") : v;
}

/** How far x-oss-date may be from the server's time (the documented 15 minutes). */
const MAX_SKEW_MS = 15 * 60 * 1000;

/** Parses `yyyymmddTHHMMSSZ`. */
function parseOssDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return NaN;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/** The signed parts of a request, from its Authorization header or from a presigned URL's query. */
interface V4Signature {
  credential: string;
  signature: string;
  date: string;
  additional: string[];
  payloadHash: string;
  /** The query parameters the signature covers (a presigned URL's x-oss-signature is not among them). */
  query: [string, string | undefined][];
}

/** The longest a presigned URL may live (the documented 7 days). */
const MAX_URL_EXPIRES_S = 7 * 24 * 3600;

function fromAuthorizationHeader(req: OssSignedRequest, authorization: string): V4Signature {
  const space = authorization.indexOf(" ");
  const algorithm = space < 0 ? authorization : authorization.slice(0, space);
  if (algorithm !== OSS4_ALGORITHM) throw ossErrors.accessDenied(`The contract server accepts only ${OSS4_ALGORITHM} signatures, not ${algorithm}.`);
  const fields = new Map<string, string>();
  for (const part of authorization.slice(space + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get("Credential");
  const signature = fields.get("Signature");
  if (!credential || !signature) throw ossErrors.invalidArgument("Authorization needs Credential and Signature.");
  const date = header(req.headers, "x-oss-date");
  if (!date) throw ossErrors.invalidArgument("x-oss-date is required with V4 signatures.");
  const payloadHash = header(req.headers, "x-oss-content-sha256");
  if (!payloadHash) throw ossErrors.invalidArgument("x-oss-content-sha256 is required with V4 signatures.");
  return { credential, signature, date, additional: (fields.get("AdditionalHeaders") ?? "").split(";").filter((h) => h !== ""), payloadHash, query: req.query };
}

/**
 * A presigned URL ("Add a V4 signature to a URL"): x-oss-signature-version,
 * x-oss-credential, x-oss-date, x-oss-expires (seconds, at most 7 days),
 * x-oss-signature and optionally x-oss-additional-headers in the query; the
 * payload is UNSIGNED-PAYLOAD and every query parameter but the signature is
 * signed.
 */
function fromPresignedQuery(req: OssSignedRequest, now: number): V4Signature {
  const q = new Map(req.query);
  const version = q.get("x-oss-signature-version");
  if (version !== OSS4_ALGORITHM) throw ossErrors.accessDenied(`The contract server accepts only ${OSS4_ALGORITHM} presigned URLs, not ${version ?? "none"}.`);
  const credential = q.get("x-oss-credential");
  const signature = q.get("x-oss-signature");
  const date = q.get("x-oss-date");
  const expires = Number(q.get("x-oss-expires"));
  if (!credential || !signature || !date) throw ossErrors.invalidArgument("A V4 presigned URL needs x-oss-credential, x-oss-date and x-oss-signature.");
  if (!Number.isInteger(expires) || expires < 1 || expires > MAX_URL_EXPIRES_S) throw ossErrors.invalidArgument(`x-oss-expires must be 1 to ${MAX_URL_EXPIRES_S} seconds.`);
  if (now > parseOssDate(date) + expires * 1000) throw ossErrors.accessDenied("Request has expired.");
  return {
    credential,
    signature,
    date,
    additional: (q.get("x-oss-additional-headers") ?? "").split(";").filter((h) => h !== ""),
    payloadHash: "UNSIGNED-PAYLOAD",
    query: req.query.filter(([k]) => k !== "x-oss-signature"),
  };
}

/**
 * Checks an OSS V4 signature, from the Authorization header or from a
 * presigned URL's query:
 * CanonicalRequest = verb, canonical URI (`/bucket/key` encoded, `/` kept),
 * canonical query (encoded, sorted; a parameter without value is its name
 * alone), canonical headers (content-type, content-md5, every x-oss-* and the
 * AdditionalHeaders, lower-case, sorted, `name:value\n` each), the
 * AdditionalHeaders list, and the payload hash (x-oss-content-sha256, or
 * UNSIGNED-PAYLOAD for a URL);
 * StringToSign = "OSS4-HMAC-SHA256\n" + x-oss-date + "\n" + scope + "\n" +
 * hex SHA-256 of the canonical request; the signing key is the HMAC-SHA256
 * chain "aliyun_v4"+secret → date → region → "oss" → "aliyun_v4_request".
 * Throws OssApiError with the documented code.
 */
export function verifyOssV4(req: OssSignedRequest, credentials: { accessKeyId: string; accessKeySecret: string }, region: string, now = Date.now()): void {
  const authorization = header(req.headers, "authorization");
  const presigned = !authorization && req.query.some(([k]) => k === "x-oss-signature");
  if (!authorization && !presigned) throw ossErrors.accessDenied("AccessDenied: anonymous access is not allowed; sign the request with OSS4-HMAC-SHA256.");
  const { credential, signature, date, additional, payloadHash, query: signedQuery } = authorization ? fromAuthorizationHeader(req, authorization) : fromPresignedQuery(req, now);
  const [accessKeyId, signDate, signRegion, product, terminator] = credential.split("/");
  if (accessKeyId !== credentials.accessKeyId) throw ossErrors.invalidAccessKeyId();
  if (product !== "oss" || terminator !== "aliyun_v4_request" || !signDate || !signRegion) throw ossErrors.invalidArgument(`Invalid credential scope: ${credential}`);
  if (signRegion !== region) throw ossErrors.invalidArgument(`The signing region ${signRegion} is not this endpoint's region ${region}.`);
  const dateMs = parseOssDate(date);
  if (Number.isNaN(dateMs) || date.slice(0, 8) !== signDate) throw ossErrors.invalidArgument("x-oss-date does not match the credential's date.");
  // A header signature is fresh for 15 minutes; a presigned URL until it expires.
  if (!presigned && Math.abs(now - dateMs) > MAX_SKEW_MS) throw ossErrors.timeTooSkewed();
  if (presigned && dateMs - now > MAX_SKEW_MS) throw ossErrors.timeTooSkewed();

  const uri = uriEncode(`/${req.bucket ? `${req.bucket}/` : ""}${req.key ?? ""}`).replace(/%2F/g, "/");
  const names = new Set<string>(additional);
  for (const name of Object.keys(req.headers)) {
    if (name === "content-type" || name === "content-md5" || name.startsWith("x-oss-")) names.add(name);
  }
  const canonicalHeaders = [...names].sort().map((name) => {
    const value = header(req.headers, name);
    if (value === undefined) throw ossErrors.invalidArgument(`The additional header ${name} is not in the request.`);
    return `${name}:${value.trim()}\n`;
  }).join("");
  const scope = `${signDate}/${signRegion}/oss/aliyun_v4_request`;
  let key = createHmac("sha256", `aliyun_v4${credentials.accessKeySecret}`).update(signDate).digest();
  for (const part of [signRegion, "oss", "aliyun_v4_request"]) key = createHmac("sha256", key).update(part).digest();
  const given = Buffer.from(signature);
  // On the wire `name=` is both a parameter with an empty value and a
  // sub-resource without one (ali-oss sends `?uploads=` and signs `uploads`,
  // but signs an empty prefix as `prefix=`). The document says a parameter
  // without value is signed as its name alone; the other reading is tried too.
  let first: { stringToSign: string; canonicalRequest: string } | undefined;
  for (const emptyAsName of [true, false]) {
    const query = signedQuery
      .map(([k, v]) => [uriEncode(k), v === undefined || (v === "" && emptyAsName) ? undefined : uriEncode(v)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([k, v]) => (v === undefined ? k : `${k}=${v}`))
      .join("&");
    const canonicalRequest = [req.method, uri, query, canonicalHeaders, additional.join(";"), payloadHash].join("\n");
    const stringToSign = `${OSS4_ALGORITHM}\n${date}\n${scope}\n${createHash("sha256").update(canonicalRequest).digest("hex")}`;
    first ??= { stringToSign, canonicalRequest };
    const expected = Buffer.from(createHmac("sha256", key).update(stringToSign).digest("hex"));
    if (expected.length === given.length && timingSafeEqual(expected, given)) return;
  }
  throw ossErrors.signatureDoesNotMatch(first?.stringToSign ?? "", first?.canonicalRequest ?? "");
}
