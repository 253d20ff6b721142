// The Alibaba Cloud contract server: an ECS endpoint and an OSS endpoint
// that follow the documented APIs (signatures, shapes, error bodies, state
// machines and traps) for the official SDKs to talk to. It is not Alibaba
// Cloud; see README.md for what it models and what it does not.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { readFile } from "node:fs/promises";
import { mkdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { NonceCache, parseQuery, verifyAcs3 } from "./acs3-signature.js";
import { defaultTimings, systemClock, type Clock, type Timings } from "./clock.js";
import { readContent, writeContent } from "./disk-files.js";
import { runEcsAction, type Params } from "./ecs-api.js";
import { EcsApiError, ecsErrors, OssApiError, ossErrors } from "./errors.js";
import { requestId } from "./ids.js";
import { ossErrorXml, OssStore } from "./oss-api.js";
import { verifyOssV4 } from "./oss-v4-signature.js";
import { RateLimiter, type RateLimit } from "./rate-limit.js";
import { EcsState } from "./state.js";
import type { SecurityGroupRecord, VSwitchRecord } from "./networks.js";
import { applySwitchSettings, Switches, type SwitchSettings } from "./switches.js";
import { UserDataRunner, type GuestRun } from "./user-data.js";

export interface AlibabaContractServerOptions {
  /** The one AccessKey pair the server accepts (ECS and OSS). */
  accessKeyId: string;
  accessKeySecret: string;
  /** Where disks, snapshots, images, objects and guest logs are kept. */
  dataDir: string;
  /** The clock of the state machines (default: real time). Signatures always use real time. */
  clock?: Clock;
  /** Durations of the asynchronous operations (default: defaultTimings). */
  timings?: Partial<Timings>;
  /** The region of both endpoints (default cn-hangzhou; OSS signs it as the V4 region). */
  regionId?: string;
  /** The address to listen on (default 127.0.0.1). */
  host?: string;
  /** Serve HTTPS with this certificate (e.g. one from the test bed's PKI) instead of HTTP. */
  tls?: { certFile: string; keyFile: string };
  /** How often transitions are applied without a request (default 20 ms), so guests start on time. */
  tickMs?: number;
  /** Extra environment for user data processes. */
  guestEnv?: Record<string, string>;
  /** The zones of each region (region → zone ids); any region not listed has `R-h`, `R-i` and `R-j`. */
  zones?: Record<string, string[]>;
  /**
   * ECS flow control per AccessKey over all actions: past it, 400
   * Throttling.User with x-acs-retry-after (milliseconds until a call would
   * pass). Default: none.
   */
  rateLimit?: RateLimit;
}

/** A disk-like content of the server: its file (shorter than the disk; the rest reads as zeros) and logical size. */
export interface ContentRef {
  path: string;
  sizeBytes: number;
}

/**
 * Everything a test or later harness code may do to the server that is not
 * part of the ECS or OSS API. The same operations are on HTTP under
 * `/lifeboat-contract/` of the ECS endpoint (see README.md).
 */
export interface ContractHarness {
  readonly switches: Switches;
  applySwitches(settings: SwitchSettings): void;
  /** Applies the transitions that are due on the clock now (use with a ManualClock). */
  tick(): Promise<void>;
  /** Creates an OSS bucket (the SDK's putBucket works too). */
  createBucket(name: string): void;
  /**
   * Creates a vSwitch (VPCs are not an ECS resource; a vpcId is just a name
   * the vSwitches and security groups share). Default id `vsw-…`, default
   * region the server's; the zone must be one of the region's.
   */
  createVSwitch(input: { vSwitchId?: string; vpcId: string; regionId?: string; zoneId: string; cidrBlock: string }): VSwitchInfo;
  /** Creates a security group of a VPC. Default id `sg-…`, default region the server's. */
  createSecurityGroup(input: { securityGroupId?: string; vpcId: string; regionId?: string }): SecurityGroupInfo;
  diskContent(diskId: string): ContentRef;
  snapshotContent(snapshotId: string): ContentRef;
  /** The image's disks in DiskDeviceMapping order (system disk first). */
  imageContents(imageId: string): (ContentRef & { device: string })[];
  /** Reads bytes of a disk, snapshot or image disk content (zeros past the file's end). */
  read(ref: ContentRef, offset: number, length: number): Promise<Buffer>;
  /** Writes bytes into a disk, as a guest would. */
  writeDisk(diskId: string, offset: number, data: Buffer): Promise<void>;
  /** The runs of an instance's user data, oldest first. */
  guestRuns(instanceId: string): GuestRun[];
  /** Waits for background work (image conversions) to settle. */
  drain(): Promise<void>;
  readonly ecs: EcsState;
  readonly oss: OssStore;
}

/** A vSwitch as the harness creates and returns it. */
export interface VSwitchInfo {
  vSwitchId: string;
  vpcId: string;
  regionId: string;
  zoneId: string;
  cidrBlock: string;
}

/** A security group as the harness creates and returns it. */
export interface SecurityGroupInfo {
  securityGroupId: string;
  vpcId: string;
  regionId: string;
}

const vSwitchInfo = ({ vSwitchId, vpcId, regionId, zoneId, cidrBlock }: VSwitchRecord): VSwitchInfo => ({ vSwitchId, vpcId, regionId, zoneId, cidrBlock });
const securityGroupInfo = ({ securityGroupId, vpcId, regionId }: SecurityGroupRecord): SecurityGroupInfo => ({ securityGroupId, vpcId, regionId });

export interface AlibabaContractServer {
  readonly regionId: string;
  /** `http` or `https`: the ECS SDK's `protocol`. */
  readonly protocol: "http" | "https";
  /** HOST:PORT of the ECS endpoint: the ECS SDK's `endpoint` (it takes no scheme). */
  readonly ecsEndpoint: string;
  /** SCHEME://HOST:PORT of the OSS endpoint: ali-oss's `endpoint`. */
  readonly ossEndpoint: string;
  /** The OSS region as ali-oss takes it (`oss-cn-hangzhou`); V4 signs `cn-hangzhou`. */
  readonly ossRegion: string;
  /** SCHEME://HOST:PORT/lifeboat-contract: the harness over HTTP. */
  readonly harnessUrl: string;
  readonly harness: ContractHarness;
  close(): Promise<void>;
}

const GiB = 1024 * 1024 * 1024;
const HARNESS_PREFIX = "/lifeboat-contract/";
const ECS_VERSION = "2014-05-26";
/** The VPC API version: DescribeVSwitches and the elastic IP actions (see VPC_ACTIONS). */
const VPC_VERSION = "2016-04-28";

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Starts the contract server: an ECS endpoint (RPC style, V3 signatures) and
 * an OSS endpoint (V4 signatures) on free ports of `host`, plus the harness
 * under /lifeboat-contract/ on the ECS port. Point the SDKs at it with
 * `ecsClientConfig` / `ossClientOptions` (sdk-clients.ts).
 */
export async function startAlibabaContractServer(opts: AlibabaContractServerOptions): Promise<AlibabaContractServer> {
  const clock = opts.clock ?? systemClock;
  const timings: Timings = { ...defaultTimings, ...opts.timings };
  const regionId = opts.regionId ?? "cn-hangzhou";
  const host = opts.host ?? "127.0.0.1";
  const credentials = { accessKeyId: opts.accessKeyId, accessKeySecret: opts.accessKeySecret };
  const switches = new Switches();
  await mkdir(opts.dataDir, { recursive: true });
  const oss = new OssStore(join(opts.dataDir, "oss"));
  await oss.init();
  const runner = new UserDataRunner(join(opts.dataDir, "guests"), opts.guestEnv);
  const ecs = new EcsState({
    dataDir: opts.dataDir,
    clock,
    timings,
    switches,
    runner,
    ossObject: (bucket, key) => oss.object(bucket, key),
    ossBucketExists: (bucket) => oss.bucketExists(bucket),
    ossPutContent: (bucket, key, contentFile, size) => oss.putContent(bucket, key, contentFile, size),
    zones: opts.zones,
  });
  await ecs.init();
  const nonces = new NonceCache();
  const limiter = opts.rateLimit ? new RateLimiter(opts.rateLimit) : undefined;

  // One advance at a time: transitions start guests, which must not start twice.
  let advancing: Promise<void> = Promise.resolve();
  const tick = (): Promise<void> => {
    advancing = advancing.then(() => ecs.advance()).catch((err: unknown) => {
      console.error("alibaba-contract: applying transitions failed", err);
    });
    return advancing;
  };

  const content = (file: string, sizeGiB: number): ContentRef => ({ path: file, sizeBytes: sizeGiB * GiB });
  const harness: ContractHarness = {
    switches,
    applySwitches: (s) => { applySwitchSettings(switches, s); },
    tick,
    createBucket: (name) => { oss.createBucket(name); },
    createVSwitch: (input) => vSwitchInfo(ecs.createVSwitch({ ...input, regionId: input.regionId ?? regionId })),
    createSecurityGroup: (input) => securityGroupInfo(ecs.createSecurityGroup({ ...input, regionId: input.regionId ?? regionId })),
    diskContent: (id) => {
      const d = ecs.disk(id);
      return content(d.file, d.sizeGiB);
    },
    snapshotContent: (id) => {
      const s = ecs.snapshot(id);
      return content(s.file, s.sourceDiskSizeGiB);
    },
    imageContents: (id) => ecs.image(id).disks.map((d) => ({ ...content(d.file, d.sizeGiB), device: d.device })),
    read: (ref, offset, length) => readContent(ref.path, offset, length),
    writeDisk: (id, offset, data) => writeContent(ecs.disk(id).file, offset, data),
    guestRuns: (id) => runner.runsOf(id),
    drain: () => ecs.drain(),
    ecs,
    oss,
  };

  const tls = opts.tls ? { cert: await readFile(opts.tls.certFile), key: await readFile(opts.tls.keyFile) } : undefined;
  // The SDKs put every RPC parameter in the query string; RunCommand's CommandContent alone may be 24 KB of Base64
  // (more once URL-encoded), past Node.js's default 16 KiB of request head, which ECS's endpoints take.
  const head = { maxHeaderSize: 128 * 1024 };
  const make = (handler: (req: IncomingMessage, res: ServerResponse) => void): Server => (tls ? createHttpsServer({ ...tls, ...head }, handler) : createHttpServer(head, handler));

  const sendEcsError = (res: ServerResponse, err: EcsApiError, id: string, hostHeader: string) => {
    const body = JSON.stringify({ RequestId: id, HostId: hostHeader, Code: err.code, Message: err.message, Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(err.code)}&product=Ecs&requestId=${id}` });
    res.writeHead(err.status, { "Content-Type": "application/json;charset=utf-8", "x-acs-request-id": id, ...err.headers });
    res.end(body);
  };

  const ecsServer = make((req, res) => {
    void (async () => {
      const id = requestId();
      const hostHeader = req.headers.host ?? "";
      try {
        const url = req.url ?? "/";
        const q = url.indexOf("?");
        const path = q < 0 ? url : url.slice(0, q);
        const rawQuery = q < 0 ? "" : url.slice(q + 1);
        const body = await readBody(req);
        if (path.startsWith(HARNESS_PREFIX)) {
          await serveHarness(req.method ?? "GET", path.slice(HARNESS_PREFIX.length), new URLSearchParams(rawQuery), body, res);
          return;
        }
        await tick();
        verifyAcs3({ method: req.method ?? "GET", path, rawQuery, headers: req.headers, body }, credentials, nonces);
        if (switches.throttleEcs > 0) {
          switches.throttleEcs--;
          throw ecsErrors.throttled(switches.retryAfterMs);
        }
        // The one AccessKey the server accepts is the one that signed, once verified.
        const waitMs = limiter?.take(credentials.accessKeyId) ?? 0;
        if (waitMs > 0) throw ecsErrors.throttled(waitMs);
        if (switches.unavailableEcs > 0) {
          switches.unavailableEcs--;
          throw ecsErrors.serviceUnavailable();
        }
        const version = req.headers["x-acs-version"];
        if (version !== ECS_VERSION && version !== VPC_VERSION) throw new EcsApiError(400, "InvalidVersion", `Specified parameter Version is not valid. The contract server speaks ECS ${ECS_VERSION} and VPC ${VPC_VERSION}.`);
        const params: Params = new Map(parseQuery(rawQuery));
        if ((req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
          for (const [k, v] of new URLSearchParams(body.toString("utf8"))) params.set(k, v);
        }
        const actionHeader = req.headers["x-acs-action"];
        const action = (Array.isArray(actionHeader) ? actionHeader[0] : actionHeader) ?? params.get("Action") ?? "";
        const result = await runEcsAction(action, params, { state: ecs, vpc: version === VPC_VERSION });
        const json = JSON.stringify({ RequestId: id, ...result });
        res.writeHead(200, { "Content-Type": "application/json;charset=utf-8", "x-acs-request-id": id });
        res.end(json);
      } catch (err) {
        if (err instanceof EcsApiError) sendEcsError(res, err, id, hostHeader);
        else sendEcsError(res, new EcsApiError(500, "InternalError", `The request processing has failed due to some unknown error. (${err instanceof Error ? err.message : String(err)})`), id, hostHeader);
      }
    })();
  });

  const serveHarness = async (method: string, route: string, query: URLSearchParams, body: Buffer, res: ServerResponse) => {
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(value));
    };
    const bytes = async (ref: ContentRef) => {
      const offset = Number(query.get("offset") ?? 0);
      const { size } = await import("node:fs/promises").then((fs) => fs.stat(ref.path));
      const length = Number(query.get("length") ?? Math.max(0, size - offset));
      const data = await readContent(ref.path, offset, length);
      res.writeHead(200, { "Content-Type": "application/octet-stream", "x-lifeboat-contract-size": String(ref.sizeBytes) });
      res.end(data);
    };
    const parts = route.split("/");
    try {
      if (route === "switches" && method === "POST") {
        applySwitchSettings(switches, JSON.parse(body.toString("utf8") || "{}") as SwitchSettings);
        json(200, {});
      } else if (route === "tick" && method === "POST") {
        await tick();
        json(200, {});
      } else if (route === "vswitches" && method === "POST") {
        json(200, harness.createVSwitch(JSON.parse(body.toString("utf8") || "{}") as Parameters<ContractHarness["createVSwitch"]>[0]));
      } else if (route === "security-groups" && method === "POST") {
        json(200, harness.createSecurityGroup(JSON.parse(body.toString("utf8") || "{}") as Parameters<ContractHarness["createSecurityGroup"]>[0]));
      } else if (parts[0] === "buckets" && parts[1] && method === "PUT") {
        oss.createBucket(parts[1]);
        json(200, {});
      } else if (parts[0] === "disks" && parts[1] && parts[2] === "content") {
        await bytes(harness.diskContent(parts[1]));
      } else if (parts[0] === "snapshots" && parts[1] && parts[2] === "content") {
        await bytes(harness.snapshotContent(parts[1]));
      } else if (parts[0] === "images" && parts[1] && parts[2] === "disks" && parts[3] && parts[4] === "content") {
        const ref = harness.imageContents(parts[1])[Number(parts[3]) - 1];
        if (!ref) json(404, { error: `image ${parts[1]} has no disk ${parts[3]}` });
        else await bytes(ref);
      } else if (parts[0] === "instances" && parts[1] && parts[2] === "guest-runs") {
        json(200, runner.runsOf(parts[1]).map(({ done: _done, ...run }) => run));
      } else {
        json(404, { error: `no harness route ${method} ${route}` });
      }
    } catch (err) {
      json(err instanceof EcsApiError || err instanceof OssApiError ? err.status : 500, { error: err instanceof Error ? err.message : String(err) });
    }
  };

  const ossRegion = regionId;
  const ossServer = make((req, res) => {
    void (async () => {
      const id = requestId();
      const method = req.method ?? "GET";
      const hostHeader = (req.headers.host ?? "").replace(/:\d+$/, "");
      try {
        const url = req.url ?? "/";
        const q = url.indexOf("?");
        const path = q < 0 ? url : url.slice(0, q);
        const rawQuery = q < 0 ? "" : url.slice(q + 1);
        // Virtual-hosted style (BUCKET.oss-REGION.aliyuncs.com, what ali-oss
        // sends to an IP endpoint) or path style (/BUCKET/KEY).
        const vhost = /^([a-z0-9][a-z0-9-]*[a-z0-9])\.oss-[a-z0-9-]+(?:-internal)?\.aliyuncs\.com$/.exec(hostHeader);
        let bucket: string | undefined;
        let key: string | undefined;
        const decoded = decodeURIComponent(path);
        if (vhost) {
          bucket = vhost[1];
          key = decoded.length > 1 ? decoded.slice(1) : undefined;
        } else {
          const rest = decoded.slice(1);
          const slash = rest.indexOf("/");
          bucket = rest === "" ? undefined : slash < 0 ? rest : rest.slice(0, slash);
          key = slash < 0 || slash === rest.length - 1 ? undefined : rest.slice(slash + 1);
        }
        const query: [string, string | undefined][] = rawQuery === "" ? [] : rawQuery.split("&").filter((x) => x !== "").map((pair) => {
          const eq = pair.indexOf("=");
          return eq < 0 ? [decodeURIComponent(pair), undefined] : [decodeURIComponent(pair.slice(0, eq)), decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, "%20"))];
        });
        verifyOssV4({ method, bucket, key, query, headers: req.headers }, credentials, ossRegion);
        if (switches.unavailableOss > 0) {
          switches.unavailableOss--;
          throw ossErrors.serviceUnavailable();
        }
        await oss.handle({ method, bucket, key, query: new Map(query), req, res, requestId: id });
      } catch (err) {
        req.resume();
        const e = err instanceof OssApiError ? err : new OssApiError(500, "InternalError", `We encountered an internal error. (${err instanceof Error ? err.message : String(err)})`);
        if (res.headersSent) {
          res.destroy(e);
          return;
        }
        const body = method === "HEAD" ? undefined : ossErrorXml(e, id, hostHeader);
        res.writeHead(e.status, { "Content-Type": "application/xml", "x-oss-request-id": id, "x-oss-ec": `contract-${e.code}`, ...(body ? { "Content-Length": Buffer.byteLength(body) } : {}) });
        res.end(body);
      }
    })();
  });

  const ecsPort = await listen(ecsServer, host);
  const ossPort = await listen(ossServer, host);
  const timer = setInterval(() => void tick(), opts.tickMs ?? 20);
  timer.unref();
  const protocol = tls ? "https" : "http";
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    regionId,
    protocol,
    ecsEndpoint: `${hostPart}:${ecsPort}`,
    ossEndpoint: `${protocol}://${hostPart}:${ossPort}`,
    ossRegion: `oss-${regionId}`,
    harnessUrl: `${protocol}://${hostPart}:${ecsPort}/lifeboat-contract`,
    harness,
    async close() {
      clearInterval(timer);
      await runner.stopAll();
      await ecs.drain();
      await Promise.all([ecsServer, ossServer].map((s) => new Promise<void>((resolve) => {
        s.close(() => { resolve(); });
        s.closeAllConnections();
      })));
    },
  };
}
