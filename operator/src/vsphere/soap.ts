import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { Agent, request, type AgentOptions, type RequestOptions } from "node:https";
import type { Duplex, Readable } from "node:stream";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { CertificateMismatchError, faultToError, UnreachableError, VsphereError } from "./errors.js";
import { child, children, isNode, parseXml, text, textOf, xsiType, type XmlNode } from "./xml.js";

/**
 * How to trust the server's certificate. Exactly one way applies: a pinned
 * SHA-256 thumbprint, a CA bundle, or (only when asked) no verification. With
 * neither set, Node's default CA store is used.
 */
export interface TlsTrust {
  /** PEM CA bundle the server certificate must chain to. */
  readonly caCert?: string | Buffer;
  /** SHA-256 thumbprint of the server certificate (hex, with or without colons). */
  readonly thumbprint?: string;
  /** Skip verification entirely. Only for tests and lab setups, never a default. */
  readonly insecureSkipVerify?: boolean;
}

export interface TransportOptions {
  /** vCenter address: "host", "host:port" or "https://host[:port][/sdk]". */
  readonly address: string;
  readonly tls: TlsTrust;
  /** Default timeout of one request, in milliseconds (default 60 s). */
  readonly timeoutMs?: number;
}

const SESSION_COOKIE = "vmware_soap_session";
const DEFAULT_API_VERSION = "8.0.1.0";

/** Normalises a SHA-256 thumbprint to upper-case colon-separated hex; throws when it is not 32 bytes. */
export function normalizeThumbprint(thumbprint: string): string {
  const hex = thumbprint.replace(/[:\s]/g, "").toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) {
    throw new VsphereError("The TLS thumbprint must be a SHA-256 fingerprint: 64 hex digits, optionally colon-separated");
  }
  return hex.match(/../g)?.join(":") ?? hex;
}

/** Parses the vCenter address into the SDK endpoint URL. */
export function sdkUrl(address: string): URL {
  const withScheme = /^[a-z]+:\/\//i.test(address) ? address : `https://${address}`;
  const url = new URL(withScheme);
  if (url.protocol !== "https:") throw new VsphereError(`The vCenter address must use https, not ${url.protocol}`);
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/sdk";
  url.username = "";
  url.password = "";
  return url;
}

/**
 * An HTTPS agent that checks the pinned thumbprint once the TLS handshake is
 * done and before the socket is handed to any request, so no byte of a
 * request (a Login carries the password) reaches a server we do not trust.
 */
class PinnedAgent extends Agent {
  /**
   * `pin` is a SHA-256 thumbprint as normalizeThumbprint writes it, or with
   * `sha1` a SHA-1 one (an NFC device URL's sslThumbprint for an ESXi host).
   */
  constructor(
    private readonly pin: string,
    private readonly handshakeTimeoutMs: number,
    options: AgentOptions,
    private readonly sha1 = false,
  ) {
    super({ ...options, rejectUnauthorized: false });
  }

  override createConnection(options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const socket: TLSSocket = tlsConnect({ ...(options as object), rejectUnauthorized: false });
    const onError = (err: Error) => {
      callback?.(err, socket);
    };
    // A server that accepts and never completes the handshake must not hold the socket forever.
    socket.setTimeout(this.handshakeTimeoutMs, () => {
      socket.destroy(new UnreachableError(`TLS handshake with ${String(options.host)} did not finish within ${Math.round(this.handshakeTimeoutMs / 1000)} s`));
    });
    socket.once("error", onError);
    socket.once("secureConnect", () => {
      socket.setTimeout(0);
      socket.removeListener("error", onError);
      const cert = socket.getPeerX509Certificate();
      const actual = this.sha1 ? cert?.fingerprint : cert?.fingerprint256;
      if (actual !== this.pin) {
        socket.destroy();
        callback?.(
          new CertificateMismatchError(
            `The server certificate's ${this.sha1 ? "SHA-1" : "SHA-256"} thumbprint ${actual ?? "(none)"} does not match the configured thumbprint ${this.pin}`,
          ),
          socket,
        );
        return;
      }
      callback?.(null, socket);
    });
    return undefined;
  }
}

const tlsVerifyCodes = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

const unreachableCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
  "ECONNABORTED",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
]);

class RequestTimeout extends Error {}

/** Turns a low-level request error into the typed error a reconciler can act on. */
export function classifyNetworkError(err: unknown, what: string): Error {
  if (err instanceof VsphereError) return err;
  if (err instanceof RequestTimeout) return new UnreachableError(`${what}: ${err.message}`, { cause: err });
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && tlsVerifyCodes.has(code)) {
    return new CertificateMismatchError(`${what}: the server certificate is not trusted (${code})`, { cause: err });
  }
  if (typeof code === "string" && unreachableCodes.has(code)) {
    return new UnreachableError(`${what}: ${code}`, { cause: err });
  }
  return new VsphereError(`${what} failed`, { cause: err });
}

/** The parts of an HTTP request the transport sends. */
export interface HttpRequest {
  readonly method: string;
  /** Path and query, e.g. "/folder/vm/disk-flat.vmdk?dcPath=DC0&dsName=ds1". */
  readonly path: string;
  readonly headers?: OutgoingHttpHeaders;
  /** A body to send; a stream is piped with backpressure. */
  readonly body?: string | Buffer | Readable;
  /** Time allowed until the response headers arrive, and for each idle gap after (default: the transport's). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * HTTPS to one vCenter: SOAP calls to /sdk and plain requests (datastore
 * file transfer) over the same verified connection pool and session cookie.
 */
export class SoapTransport {
  readonly endpoint: URL;
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly tls: TlsTrust;
  /** Connections to other hosts the server refers to (ESXi hosts of NFC device URLs), by host and pin. */
  private readonly hostAgents = new Map<string, Agent>();
  /** "vmware_soap_session=..." once logged in. */
  private cookie: string | undefined;
  private apiVersion = DEFAULT_API_VERSION;

  constructor(options: TransportOptions) {
    this.endpoint = sdkUrl(options.address);
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.tls = options.tls;
    this.agent = this.makeAgent(this.endpoint.hostname, options.tls);
  }

  private makeAgent(hostname: string, tls: TlsTrust, sha1Pin?: string): Agent {
    const base: AgentOptions = { keepAlive: true, maxSockets: 16, servername: servername(hostname) };
    if (sha1Pin !== undefined) return new PinnedAgent(sha1Pin, this.timeoutMs, base, true);
    if (tls.thumbprint !== undefined) return new PinnedAgent(normalizeThumbprint(tls.thumbprint), this.timeoutMs, base);
    if (tls.insecureSkipVerify) return new Agent({ ...base, rejectUnauthorized: false });
    return new Agent({ ...base, rejectUnauthorized: true, ...(tls.caCert !== undefined ? { ca: tls.caCert } : {}) });
  }

  /** The session cookie value is opaque; callers only test for it. */
  get hasSession(): boolean {
    return this.cookie !== undefined;
  }

  /** Forgets the session cookie (after a logout, or before logging in again). */
  clearSession(): void {
    this.cookie = undefined;
  }

  /** The cookie of the current session, to hand to a second client that shares it. */
  get sessionCookie(): string | undefined {
    return this.cookie;
  }

  /** Reads the vim25 API version the server speaks, for the SOAPAction header. */
  async negotiateVersion(): Promise<string> {
    const res = await this.send({ method: "GET", path: `${this.endpoint.pathname}/vimServiceVersions.xml` });
    const body = await readBody(res);
    if (res.statusCode === 200) {
      try {
        const doc = parseXml(body.toString("utf8"));
        const namespaces = child(doc, "namespaces");
        for (const ns of children(namespaces, "namespace")) {
          if (text(ns, "name") === "urn:vim25") {
            const version = text(ns, "version");
            if (version) this.apiVersion = version;
          }
        }
      } catch {
        // An unreadable version list leaves the default; the calls themselves will tell.
      }
    }
    return this.apiVersion;
  }

  /**
   * Sends one HTTP request and resolves with the response once its headers
   * arrive. The caller must consume or destroy the response body.
   */
  send(req: HttpRequest): Promise<IncomingMessage> {
    return this.sendVia(this.endpoint, this.agent, this.cookie, req);
  }

  /**
   * Sends one request to an absolute https URL the server handed out, such
   * as an NFC lease's device URL (`req.path` is ignored). A URL on this
   * transport's own host and port goes through its verified connection pool
   * with the session cookie. Another host (vCenter hands out its ESXi hosts'
   * URLs) gets a connection of its own and no session cookie (the lease URL
   * is its own ticket), trusted by `hostThumbprint` when the server gave one
   * (SHA-1 or SHA-256, as HttpNfcLeaseDeviceUrl.sslThumbprint), otherwise by
   * this transport's own trust.
   */
  sendToUrl(url: URL, req: Omit<HttpRequest, "path">, hostThumbprint?: string): Promise<IncomingMessage> {
    if (url.protocol !== "https:") return Promise.reject(new VsphereError(`Refusing to send to ${url.protocol} URL ${url.host}: only https`));
    const path = `${url.pathname}${url.search}`;
    if (url.host === this.endpoint.host) return this.send({ ...req, path });
    let sha1Pin: string | undefined;
    let trust = this.tls;
    if (hostThumbprint) {
      const hex = hostThumbprint.replace(/[:\s]/g, "").toUpperCase();
      if (/^[0-9A-F]{40}$/.test(hex)) sha1Pin = hex.match(/../g)?.join(":");
      else trust = { thumbprint: hex };
    }
    const key = `${url.host} ${sha1Pin ?? trust.thumbprint ?? ""}`;
    let agent = this.hostAgents.get(key);
    if (!agent) {
      agent = this.makeAgent(url.hostname, trust, sha1Pin);
      this.hostAgents.set(key, agent);
    }
    return this.sendVia(url, agent, undefined, { ...req, path });
  }

  private sendVia(target: URL, agent: Agent, cookie: string | undefined, req: HttpRequest): Promise<IncomingMessage> {
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    const what = `${req.method} ${target.host}${req.path.split("?")[0] ?? ""}`;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const headers: OutgoingHttpHeaders = { ...req.headers };
      if (cookie) headers.Cookie = cookie;
      const r = request(
        {
          host: target.hostname.replace(/^\[|\]$/g, ""),
          port: target.port || 443,
          path: req.path,
          method: req.method,
          headers,
          agent,
          ...(req.signal ? { signal: req.signal } : {}),
        },
        (res) => {
          clearTimeout(timer);
          // Idle gaps in a long body count against the same budget. The
          // socket returns to the pool afterwards, so the watch is removed.
          const socket = res.socket;
          const onIdle = () => {
            res.destroy(new UnreachableError(`${what}: the server stopped sending for ${Math.round(timeoutMs / 1000)} s`));
          };
          socket.setTimeout(timeoutMs);
          socket.on("timeout", onIdle);
          const clear = () => {
            socket.setTimeout(0);
            socket.removeListener("timeout", onIdle);
          };
          res.once("end", clear);
          res.once("close", clear);
          resolve(res);
        },
      );
      const timer = setTimeout(() => {
        const err = new RequestTimeout(`no answer within ${Math.round(timeoutMs / 1000)} s`);
        r.destroy(err);
        // A request still waiting for its socket may never emit the error.
        reject(classifyNetworkError(err, what));
      }, timeoutMs);
      r.once("error", (err) => {
        clearTimeout(timer);
        reject(classifyNetworkError(err, what));
      });
      const body = req.body;
      if (body === undefined || typeof body === "string" || Buffer.isBuffer(body)) {
        r.end(body);
      } else {
        body.once("error", (err) => r.destroy(err));
        body.pipe(r);
      }
    });
  }

  /**
   * Invokes a vim25 method. `bodyXml` is the method element's content
   * (starting with `<_this ...>`). Resolves with the response element
   * (`<MethodResponse>`); rejects with a typed error for a SOAP fault.
   */
  async invoke(method: string, bodyXml: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<XmlNode> {
    const envelope =
      '<?xml version="1.0" encoding="UTF-8"?>' +
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
      'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
      `<soapenv:Body><${method} xmlns="urn:vim25">${bodyXml}</${method}></soapenv:Body></soapenv:Envelope>`;
    const payload = Buffer.from(envelope, "utf8");
    const res = await this.send({
      method: "POST",
      path: this.endpoint.pathname,
      headers: {
        "Content-Type": "text/xml; charset=utf-8",
        "Content-Length": payload.length,
        SOAPAction: `urn:vim25/${this.apiVersion}`,
      },
      body: payload,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const setCookie = res.headers["set-cookie"]?.find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    if (setCookie) this.cookie = setCookie.split(";")[0];
    let body: Buffer;
    try {
      body = await readBody(res);
    } catch (err) {
      throw classifyNetworkError(err, `${method} on ${this.endpoint.host}`);
    }
    return decodeResponse(method, res.statusCode ?? 0, body.toString("utf8"));
  }

  /** Closes the pooled connections. */
  close(): void {
    this.agent.destroy();
    for (const agent of this.hostAgents.values()) agent.destroy();
    this.hostAgents.clear();
  }
}

/** The TLS server name (SNI) for a host: host names only, never IP literals. */
function servername(hostname: string): string | undefined {
  return /^[\d.]+$/.test(hostname) || hostname.includes(":") || hostname.startsWith("[") ? undefined : hostname;
}

/** Reads a whole (small) response body. */
export function readBody(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.once("end", () => { resolve(Buffer.concat(chunks)); });
    res.once("error", reject);
    res.once("aborted", () => { reject(new UnreachableError("The server closed the connection mid-response")); });
  });
}

/**
 * Statuses with which a proxy in front of the SOAP service says the service
 * behind it does not answer: vCenter's reverse proxy answers 503 while vpxd
 * starts or restarts (minutes), a load balancer 502 or 504.
 */
const GATEWAY_UNAVAILABLE = new Set([502, 503, 504]);

/**
 * The error for an answer that is not SOAP: with a gateway status, the
 * service is unreachable for now (an outage that callers wait out, like a
 * refused connection); otherwise a plain VsphereError.
 */
function notSoap(method: string, status: number, what: string, cause?: unknown): VsphereError {
  const options = cause === undefined ? undefined : { cause };
  if (GATEWAY_UNAVAILABLE.has(status)) {
    return new UnreachableError(`${method}: the server answered HTTP ${status} ${what}: the vCenter service behind its proxy does not answer (starting, restarting, down or overloaded)`, options);
  }
  return new VsphereError(`${method}: the server answered HTTP ${status} ${what}`, options);
}

/**
 * Decodes a SOAP response: the `<MethodResponse>` element, or a typed error
 * for a fault. Exported for unit tests on literal XML.
 */
export function decodeResponse(method: string, status: number, xml: string): XmlNode {
  let doc: XmlNode;
  try {
    doc = parseXml(xml);
  } catch (err) {
    throw notSoap(method, status, "with a body that is not XML", err);
  }
  const body = child(child(doc, "Envelope"), "Body");
  if (!isNode(body)) throw notSoap(method, status, "without a SOAP body");
  const fault = child(body, "Fault");
  if (fault !== undefined) throw decodeFault(method, fault);
  const response = child(body, `${method}Response`);
  if (response === undefined) throw new VsphereError(`${method}: the response (HTTP ${status}) has no ${method}Response element`);
  // An empty response element (a void method) parses as "".
  return isNode(response) ? response : {};
}

/** The vim25 fault type of a SOAP fault's detail, and the message to show. */
export function decodeFault(method: string, fault: unknown): Error {
  const faultString = text(fault, "faultstring") ?? "";
  const detail = child(fault, "detail");
  let faultName = "SystemError";
  let detailNode: unknown;
  if (isNode(detail)) {
    const key = Object.keys(detail).find((k) => !k.startsWith("@_") && k !== "#text");
    if (key !== undefined) {
      detailNode = detail[key];
      faultName = xsiType(detailNode) ?? key.replace(/Fault$/, "");
    }
  }
  const extra = faultDetailMessage(detailNode);
  const message = [faultString, extra].filter((s) => s && s.length > 0).join(": ") || faultName;
  return faultToError(faultName, `${method} failed with ${faultName}: ${message}`);
}

/** Extra human-readable text a fault carries (faultMessage entries, invalidProperty, file name). */
function faultDetailMessage(detail: unknown): string {
  if (!isNode(detail)) return "";
  const parts: string[] = [];
  for (const m of children(detail, "faultMessage")) {
    const msg = text(m, "message");
    if (msg) parts.push(msg);
  }
  const prop = text(detail, "invalidProperty");
  if (prop) parts.push(`invalid property ${prop}`);
  const file = textOf(child(detail, "file"));
  if (file) parts.push(`file ${file}`);
  return parts.join("; ");
}
