/**
 * Calls to Alibaba Cloud VPC (API 2016-04-28) through its official SDK
 * (`@alicloud/vpc20160428`): vSwitches and elastic IPs live in VPC's API;
 * ECS's own versions of those calls are deprecated. The retry policy is
 * EcsApi's: both APIs share the RPC error codes it knows.
 */
import type * as $dara from "@darabonba/typescript";
import { EcsApi, openApiConfig, openApiRuntime, type CallOptions, type EcsConnection } from "./ecs-api.js";
import { Vpc } from "./sdk.js";

// The SDK is CommonJS with its class as `exports.default`.
type VpcClient = InstanceType<typeof Vpc.default>;

/** The VPC client of one region, with EcsApi's retry policy on every call. */
export class VpcApi {
  readonly sdk: VpcClient;
  private readonly policy: EcsApi;
  private readonly runtime: $dara.RuntimeOptions;

  constructor(connection: EcsConnection, defaults: CallOptions = {}) {
    this.sdk = new Vpc.default(openApiConfig(connection));
    this.runtime = openApiRuntime(connection);
    this.policy = new EcsApi(connection, defaults);
  }

  call<T>(what: string, op: (runtime: $dara.RuntimeOptions) => Promise<T>, options: CallOptions = {}): Promise<T> {
    return this.policy.call(what, () => op(this.runtime), options);
  }
}
