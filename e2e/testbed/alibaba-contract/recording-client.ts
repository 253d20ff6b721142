// A test's SDK client that keeps every raw response body, so each can be
// checked against the SDK's own model of it (sdk-model-check.ts). Works for
// any Alibaba Cloud OpenAPI SDK client (ECS, VPC): they share callApi.
import { expect } from "@jest/globals";
import type { $OpenApiUtil } from "@alicloud/openapi-core";
import type * as $dara from "@darabonba/typescript";
import { unknownFields, type SdkModelClass } from "./sdk-model-check.js";

interface OpenApiClient {
  callApi(params: $OpenApiUtil.Params, request: $OpenApiUtil.OpenApiRequest, runtime: $dara.RuntimeOptions): Promise<Record<string, unknown>>;
}

/** `Base` (an SDK client class) recording its response bodies; `lastConformsTo` checks the last one. */
// A mixin's base constructor must take `any[]` (TypeScript's rule for mixin classes).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function recording<T extends new (...args: any[]) => OpenApiClient>(Base: T) {
  return class Recording extends Base {
    readonly bodies: unknown[] = [];

    override async callApi(params: $OpenApiUtil.Params, request: $OpenApiUtil.OpenApiRequest, runtime: $dara.RuntimeOptions): Promise<Record<string, unknown>> {
      const res = await super.callApi(params, request, runtime);
      this.bodies.push(res.body);
      return res;
    }

    /** Checks the last body against the response model of the call. */
    lastConformsTo(model: SdkModelClass): void {
      expect(unknownFields(model, this.bodies.at(-1))).toEqual([]);
    }
  };
}
