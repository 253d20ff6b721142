// How the official SDKs are pointed at the contract server. Later code
// (the restore worker) takes the same settings from its configuration; this
// file is the one place that shows them.
import type { AlibabaContractServer } from "./server.js";

/**
 * The `@alicloud/ecs20140526` Client config (an `@alicloud/openapi-core`
 * Config): `endpoint` overrides the regional endpoint map, `protocol` picks
 * http or https, and the SDK signs with ACS3-HMAC-SHA256 by default.
 */
export function ecsClientConfig(server: AlibabaContractServer, credentials: { accessKeyId: string; accessKeySecret: string }): { accessKeyId: string; accessKeySecret: string; endpoint: string; protocol: string; regionId: string } {
  return { ...credentials, endpoint: server.ecsEndpoint, protocol: server.protocol, regionId: server.regionId };
}

/**
 * `ali-oss` options: an IP endpoint makes ali-oss send the bucket in the Host
 * header (`BUCKET.oss-REGION.aliyuncs.com`) and the key as the path, which the
 * server reads as virtual-hosted style; `authorizationV4: true` makes it sign
 * with OSS4-HMAC-SHA256, and `region` is both where the Host points and the
 * V4 signing region (without its `oss-` prefix).
 */
export function ossClientOptions(server: AlibabaContractServer, credentials: { accessKeyId: string; accessKeySecret: string }, bucket: string): { accessKeyId: string; accessKeySecret: string; endpoint: string; region: string; bucket: string; authorizationV4: boolean; secure: boolean } {
  return { ...credentials, endpoint: server.ossEndpoint, region: server.ossRegion, bucket, authorizationV4: true, secure: server.protocol === "https" };
}

/**
 * `ali-oss` options for path style (`/BUCKET/KEY`, ali-oss's `sldEnable`)
 * to a host name: the Host header then stays the endpoint's, which is what
 * HTTPS needs when the certificate names `localhost` rather than
 * `BUCKET.oss-REGION.aliyuncs.com`. Only for a server listening on 127.0.0.1.
 */
export function ossPathStyleOptions(server: AlibabaContractServer, credentials: { accessKeyId: string; accessKeySecret: string }, bucket: string): ReturnType<typeof ossClientOptions> & { sldEnable: boolean } {
  const url = new URL(server.ossEndpoint);
  return { ...ossClientOptions(server, credentials, bucket), endpoint: `${url.protocol}//localhost:${url.port}`, sldEnable: true };
}
