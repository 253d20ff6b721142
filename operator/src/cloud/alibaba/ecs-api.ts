/**
 * Calls to Alibaba Cloud ECS through the official SDK (`@alicloud/ecs20140526`,
 * OpenAPI core with ACS3-HMAC-SHA256 signing), with the error handling the
 * API needs and the SDK leaves to its callers:
 *
 * - throttling (`Throttling`, `Throttling.User`, `Throttling.Api`) waits as
 *   long as the `x-acs-retry-after` header says (the SDK reads it into
 *   ThrottlingError.retryAfter), else backs off;
 * - `ServiceUnavailable`, `InternalError` and other 5xx answers, and dropped
 *   connections, back off exponentially with jitter;
 * - a resource in the wrong state for the call (`IncorrectInstanceStatus`,
 *   `IncorrectDiskStatus`, ...) means "not yet": wait and try again, for
 *   longer than a transient error, since ECS moves it on by itself;
 * - anything else is permanent and becomes a CloudApiError whose message says
 *   what to fix where Alibaba's documentation says it (a missing RAM role,
 *   wrong AccessKey, missing permission).
 *
 * Calls that create something carry a ClientToken (the caller's), so a retry
 * after a lost answer does not create it twice.
 */
import { $OpenApiUtil } from "@alicloud/openapi-core";
import * as $dara from "@darabonba/typescript";
import { setTimeout as sleep } from "node:timers/promises";
import { Ecs } from "./sdk.js";

// The SDK is CommonJS with its class as `exports.default`.
type EcsClient = InstanceType<typeof Ecs.default>;

/** Where and as whom to call ECS. */
export interface EcsConnection {
  readonly regionId: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  /** An endpoint URL (https://ecs-vpc.cn-shanghai.aliyuncs.com for a VPC endpoint); default: the region's public endpoint. */
  readonly endpoint?: string | undefined;
  /** PEM CAs to trust for the endpoint; default: Node's. */
  readonly ca?: string | undefined;
}

/** A permanent ECS error: its code, and a message that says what to do. */
export class CloudApiError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CloudApiError";
  }
}

/** What the documentation says to do about permanent errors a restore meets. */
const FIXES: Readonly<Record<string, string>> = {
  NoSetRoletoECSServiceAccount:
    "ECS may not read the OSS bucket: authorise the RAM role AliyunECSImageImportDefaultRole for ECS (the console's Cloud Resource Access Authorization page, or create the role with the policy AliyunECSImageImportRolePolicy)",
  "InvalidAccessKeyId.NotFound": "the AccessKey id is not known: check the credentials Secret",
  SignatureDoesNotMatch: "the AccessKey secret does not match its id: check the credentials Secret",
  "Forbidden.RAM": "the RAM user lacks a permission this restore needs: grant it ECS image import and instance, disk and snapshot management",
  "Forbidden.Unauthorized": "the account is not authorised for this call: check the RAM user's policies",
  "InvalidImageName.Duplicated": "an image of this name exists: choose another spec.target.cloudImage.imageName or delete the image",
  "InvalidOSSObject.NotFound": "the uploaded object is not in the bucket: check that the bucket is in the image's region",
  "InvalidRegionId.NotFound": "the region does not exist: check spec.target.cloudImage.region",
};

/** Codes that mean the resource is busy or in the wrong state for now. */
const NOT_YET = /^(Incorrect\w*Status|IncorrectStatus\.\w+|OperationConflict|Operation\.Conflict|LastTokenProcessing|InvalidOperation\.Conflict|InvalidOperation\.UnfinishedCrossRegionCopy|TaskConflict|\w+\.Processing|ImageIsImporting|InvalidSnapshotId\.NotReady)$/;

/** True for an ECS error code that means "the resource is busy or not in the state for this call yet". */
export function isNotYetCode(code: string): boolean {
  return NOT_YET.test(code);
}
const TRANSIENT = /^(ServiceUnavailable|InternalError|UnknownError|Throttling(\.\w+)?|ServiceIsBusy|InternalError\.\w+)$/;
const NETWORK = /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|EPIPE|socket hang up|ReadTimeout|ConnectTimeout/i;

interface SdkError {
  code?: string;
  statusCode?: number;
  retryAfter?: number;
  message?: string;
  data?: { Code?: string; Message?: string; RequestId?: string; Recommend?: string };
}

/** How one failed call is handled. */
export type Disposition = { readonly kind: "retry"; readonly delayMs: number } | { readonly kind: "wait" } | { readonly kind: "fail" };

/** Classifies an SDK error (exported for unit tests). `backoffMs` is the exponential delay for this attempt. */
export function disposition(err: unknown, backoffMs: number): Disposition {
  const e = (err ?? {}) as SdkError;
  const code = e.code ?? e.data?.Code ?? "";
  if (/^Throttling/.test(code)) return { kind: "retry", delayMs: e.retryAfter !== undefined && e.retryAfter > 0 ? Math.min(e.retryAfter, 60_000) : backoffMs };
  if (NOT_YET.test(code)) return { kind: "wait" };
  if (TRANSIENT.test(code) || (e.statusCode !== undefined && e.statusCode >= 500)) return { kind: "retry", delayMs: backoffMs };
  if (!code && NETWORK.test(e.message ?? String(err))) return { kind: "retry", delayMs: backoffMs };
  return { kind: "fail" };
}

export interface CallOptions {
  /** Give up on transient errors after this long (default 5 minutes). */
  readonly retryForMs?: number;
  /** Give up on "not yet" errors after this long (default 10 minutes). */
  readonly waitForMs?: number;
  /** Between "not yet" attempts (default 5 s). */
  readonly waitIntervalMs?: number;
  readonly signal?: AbortSignal | undefined;
  /** Called before each retry (logs, tests). */
  readonly onRetry?: ((what: string, err: unknown, delayMs: number) => void) | undefined;
}

/** The OpenAPI client configuration of a connection (any Alibaba Cloud RPC-style SDK: ECS, VPC). */
export function openApiConfig(connection: EcsConnection): $OpenApiUtil.Config {
  const url = connection.endpoint ? new URL(connection.endpoint) : undefined;
  return new $OpenApiUtil.Config({
    accessKeyId: connection.accessKeyId,
    accessKeySecret: connection.accessKeySecret,
    regionId: connection.regionId,
    ...(url ? { endpoint: url.host, protocol: url.protocol.replace(":", "") } : {}),
    readTimeout: 60_000,
    connectTimeout: 10_000,
  });
}

/** Runtime options for every call: the SDK's own retries are off, as EcsApi retries with a policy that knows the codes. */
export function openApiRuntime(connection: EcsConnection): $dara.RuntimeOptions {
  return new $dara.RuntimeOptions({ autoretry: false, ...(connection.ca ? { ca: connection.ca } : {}) });
}

/** The ECS client of one region, with the retry policy above on every call. */
export class EcsApi {
  /** The SDK client; calls go through `call` for the retry policy. */
  readonly sdk: EcsClient;
  private readonly runtime: $dara.RuntimeOptions;

  constructor(
    readonly connection: EcsConnection,
    private readonly defaults: CallOptions = {},
  ) {
    this.sdk = new Ecs.default(openApiConfig(connection));
    this.runtime = openApiRuntime(connection);
  }

  /**
   * Runs `op` (an SDK call given the runtime options) under the retry policy;
   * `what` names the call and its object for errors and logs.
   */
  async call<T>(what: string, op: (runtime: $dara.RuntimeOptions) => Promise<T>, options: CallOptions = {}): Promise<T> {
    const o = { ...this.defaults, ...options };
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await op(this.runtime);
      } catch (err) {
        if (o.signal?.aborted) throw err;
        const backoff = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2);
        const d = disposition(err, backoff);
        const elapsed = Date.now() - started;
        if (d.kind === "retry" && elapsed < (o.retryForMs ?? 300_000)) {
          o.onRetry?.(what, err, d.delayMs);
          await sleep(d.delayMs, undefined, { signal: o.signal });
          continue;
        }
        if (d.kind === "wait" && elapsed < (o.waitForMs ?? 600_000)) {
          const delay = o.waitIntervalMs ?? 5_000;
          o.onRetry?.(what, err, delay);
          await sleep(delay, undefined, { signal: o.signal });
          continue;
        }
        throw toCloudError(what, err);
      }
    }
  }
}

/** A CloudApiError for an SDK error: the call, ECS's code and message, and the fix when known. */
export function toCloudError(what: string, err: unknown): CloudApiError {
  const e = (err ?? {}) as SdkError;
  const code = e.code ?? e.data?.Code ?? "Unknown";
  const message = e.data?.Message ?? e.message ?? String(err);
  const fix = FIXES[code];
  const requestId = e.data?.RequestId ? ` (request ${e.data.RequestId})` : "";
  return new CloudApiError(code, e.statusCode, `${what} failed: ${code}: ${message}${requestId}${fix ? `; ${fix}` : ""}`, { cause: err });
}
