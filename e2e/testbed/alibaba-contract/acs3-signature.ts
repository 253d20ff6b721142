// Verification of Alibaba Cloud's "V3 request signature" (ACS3-HMAC-SHA256),
// as the "Request syntax and signature method V3" page of the Alibaba Cloud
// SDK documentation describes it. Written from the documentation, not from
// the SDK's signer, so that the SDK's requests are checked by an independent
// reading of the same rules.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { ecsErrors } from "./errors.js";

export const ACS3_ALGORITHM = "ACS3-HMAC-SHA256";

/** The parts of an HTTP request that the V3 signature covers. */
export interface SignedRequest {
  method: string;
  /** The path as sent (already percent-encoded), without the query string. */
  path: string;
  /** The query string as sent, without the leading `?`. */
  rawQuery: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** RFC 3986 percent-encoding of UTF-8, as the V3 document asks: only A-Z a-z 0-9 - _ . ~ stay as they are. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Decodes a query string component as a form-urlencoded parser would not: `+` stays a plus sign (V3 clients encode spaces as %20). */
function decodeComponent(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw ecsErrors.incompleteSignature(`The query string has a malformed escape: ${value}`);
  }
}

/** Parses a raw query string into ordered [name, value] pairs. */
export function parseQuery(rawQuery: string): [string, string][] {
  if (rawQuery === "") return [];
  return rawQuery.split("&").filter((p) => p !== "").map((pair) => {
    const eq = pair.indexOf("=");
    return eq < 0 ? [decodeComponent(pair), ""] : [decodeComponent(pair.slice(0, eq)), decodeComponent(pair.slice(eq + 1))];
  });
}

/** CanonicalQueryString: each name and value percent-encoded, sorted by encoded name, joined by `&`; an empty value keeps its `=`. */
export function canonicalQueryString(pairs: [string, string][]): string {
  return pairs
    .map(([k, v]) => [percentEncode(k), percentEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(",") : v;
}

function sha256Hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The headers a V3 request must sign: host, the action and version, the date, the nonce and the payload hash. */
const REQUIRED_SIGNED = ["host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"];

/** How far a request's x-acs-date may be from the server's time (the documented 15 minutes). */
const MAX_SKEW_MS = 15 * 60 * 1000;

/** Remembers recently used x-acs-signature-nonce values, as ECS does to refuse replays. */
export class NonceCache {
  private readonly seen = new Map<string, number>();

  /** Records a nonce; false when it was already used within the skew window. */
  use(nonce: string, now: number): boolean {
    for (const [n, at] of this.seen) {
      if (now - at > 2 * MAX_SKEW_MS) this.seen.delete(n);
      else break;
    }
    if (this.seen.has(nonce)) return false;
    this.seen.set(nonce, now);
    return true;
  }
}

/**
 * Checks a request's Authorization header against the V3 algorithm:
 * CanonicalRequest = method, canonical URI, canonical query string,
 * canonical headers (lower-case name:trimmed value, sorted, each ending in
 * a newline), signed header names, hex SHA-256 of the body;
 * StringToSign = "ACS3-HMAC-SHA256\n" + hex SHA-256 of the canonical request;
 * Signature = hex HMAC-SHA256(AccessKeySecret, StringToSign).
 * Also refuses a wrong payload hash, a date more than 15 minutes off, and a
 * reused nonce. Throws EcsApiError with the documented code.
 */
export function verifyAcs3(req: SignedRequest, credentials: { accessKeyId: string; accessKeySecret: string }, nonces: NonceCache, now = Date.now()): void {
  const authorization = headerValue(req.headers, "authorization");
  if (!authorization) throw ecsErrors.incompleteSignature("The Authorization header is missing.");
  const space = authorization.indexOf(" ");
  const algorithm = space < 0 ? authorization : authorization.slice(0, space);
  if (algorithm !== ACS3_ALGORITHM) throw ecsErrors.incompleteSignature(`The signature algorithm ${algorithm} is not supported by the contract server (it checks ${ACS3_ALGORITHM}).`);
  const fields = new Map<string, string>();
  for (const part of authorization.slice(space + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get("Credential");
  const signedHeadersField = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (!credential || !signedHeadersField || !signature) throw ecsErrors.incompleteSignature("Authorization needs Credential, SignedHeaders and Signature.");
  if (credential !== credentials.accessKeyId) throw ecsErrors.accessKeyNotFound();
  const signedHeaders = signedHeadersField.split(";");
  for (const name of REQUIRED_SIGNED) {
    if (!signedHeaders.includes(name)) throw ecsErrors.incompleteSignature(`The header ${name} must be signed.`);
  }
  const sorted = [...signedHeaders].sort();
  if (sorted.join(";") !== signedHeadersField) throw ecsErrors.incompleteSignature("SignedHeaders must be lower-case and sorted.");
  // Every x-acs- header sent must be signed too, as must content-type when present.
  for (const name of Object.keys(req.headers)) {
    if ((name.startsWith("x-acs-") || name === "content-type") && !signedHeaders.includes(name)) throw ecsErrors.incompleteSignature(`The header ${name} is sent but not signed.`);
  }

  const payloadHash = sha256Hex(req.body);
  if (headerValue(req.headers, "x-acs-content-sha256") !== payloadHash) throw ecsErrors.incompleteSignature("x-acs-content-sha256 does not match the request body.");

  const canonicalHeaders = signedHeaders.map((name) => {
    const value = headerValue(req.headers, name);
    if (value === undefined) throw ecsErrors.incompleteSignature(`The signed header ${name} is missing.`);
    return `${name}:${value.trim()}\n`;
  }).join("");
  const canonicalRequest = [req.method, req.path === "" ? "/" : req.path, canonicalQueryString(parseQuery(req.rawQuery)), canonicalHeaders, signedHeadersField, payloadHash].join("\n");
  const stringToSign = `${ACS3_ALGORITHM}\n${sha256Hex(canonicalRequest)}`;
  const expected = createHmac("sha256", credentials.accessKeySecret).update(stringToSign).digest("hex");
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw ecsErrors.signatureDoesNotMatch(stringToSign);

  const date = Date.parse(headerValue(req.headers, "x-acs-date") ?? "");
  if (Number.isNaN(date) || Math.abs(now - date) > MAX_SKEW_MS) throw ecsErrors.timestampExpired();
  if (!nonces.use(headerValue(req.headers, "x-acs-signature-nonce") ?? "", now)) throw ecsErrors.nonceUsed();
}
