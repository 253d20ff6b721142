/**
 * The official Alibaba Cloud SDKs (ECS, VPC, OSS), loaded on first use.
 * Their thousands of request and response model classes cost about 80 MiB
 * of RSS (60 MiB of V8 heap) the moment they are imported, and every
 * operator paid that at start, also those that never talk to Alibaba Cloud:
 * it was 40 % of an idle operator's memory (bench:scale). All three are
 * CommonJS packages, so a synchronous require on first property access gives
 * the same module object the static import did, and no call site has to
 * become asynchronous.
 */
import { createRequire } from "node:module";
// A CommonJS package's default import is its module.exports: the client class at `.default`, the models beside it.
import type EcsSdk from "@alicloud/ecs20140526";
import type VpcSdk from "@alicloud/vpc20160428";
import type OssClient from "ali-oss";

const load = createRequire(import.meta.url);

/** A module object that is required when one of its properties is first read. */
function onFirstUse(id: string): object {
  let loaded: object | undefined;
  const target = (): object => (loaded ??= load(id) as object);
  return new Proxy({}, {
    get: (_t, property) => Reflect.get(target(), property) as unknown,
    has: (_t, property) => Reflect.has(target(), property),
  });
}

/** `@alicloud/ecs20140526`: the client is `Ecs.default`, the request models `Ecs.<Name>Request`. */
export const Ecs = onFirstUse("@alicloud/ecs20140526") as typeof EcsSdk;

/** `@alicloud/vpc20160428`, shaped as Ecs. */
export const Vpc = onFirstUse("@alicloud/vpc20160428") as typeof VpcSdk;

/** The `ali-oss` client class. */
export function ossClass(): typeof OssClient {
  return load("ali-oss") as typeof OssClient;
}
