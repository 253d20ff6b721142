// The OSS side of the contract server, driven by ali-oss signing with
// OSS4-HMAC-SHA256 (authorizationV4) only.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OSS from "ali-oss";
import { startAlibabaContractServer, type AlibabaContractServer } from "./server.js";
import { ossClient } from "../../../operator/src/cloud/alibaba/oss-upload.js";
import { ossClientOptions } from "./sdk-clients.js";

const credentials = { accessKeyId: "LTAIcontractoss0001", accessKeySecret: "contract-oss-secret" };
const bucket = "lifeboat-images";

let dir: string;
let server: AlibabaContractServer;
let oss: OSS;

async function errorOf(p: Promise<unknown>): Promise<{ code: string; status: number; requestId?: string; hostId?: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; status: number };
  }
  throw new Error("expected the call to fail");
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "alibaba-contract-oss-"));
  server = await startAlibabaContractServer({ ...credentials, dataDir: join(dir, "server") });
  oss = new OSS(ossClientOptions(server, credentials, bucket));
  await oss.putBucket(bucket);
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe("OSS with V4 signatures", () => {
  it("signs with OSS4-HMAC-SHA256 and stores an object (PutObject, HeadObject, GetObject)", async () => {
    const data = randomBytes(10_000);
    const put = await oss.put("images/small.raw", data);
    expect(put.res.status).toBe(200);
    const head = await oss.head("images/small.raw");
    expect(head.res.headers).toMatchObject({ "content-length": "10000" });
    const got = await oss.get("images/small.raw");
    expect(Buffer.compare(got.content as Buffer, data)).toBe(0);
  });

  it("serves ranges", async () => {
    const data = randomBytes(4096);
    await oss.put("images/range.raw", data);
    const got = await oss.get("images/range.raw", { headers: { Range: "bytes=100-199" } });
    expect(got.res.status).toBe(206);
    expect(Buffer.compare(got.content as Buffer, data.subarray(100, 200))).toBe(0);
  });

  it("assembles a multipart upload in part order", async () => {
    const data = randomBytes(700 * 1024 + 123);
    const file = join(dir, "multi.raw");
    await writeFile(file, data);
    const res = await oss.multipartUpload("images/multi.raw", file, { partSize: 200 * 1024, parallel: 2 });
    expect(res.res.status).toBe(200);
    const got = await oss.get("images/multi.raw");
    expect(Buffer.compare(got.content as Buffer, data)).toBe(0);
  });

  it("aborts a multipart upload, after which its parts are gone", async () => {
    const init = await oss.initMultipartUpload("images/aborted.raw");
    await oss.uploadPart("images/aborted.raw", init.uploadId, 1, join(dir, "multi.raw"), 0, 200 * 1024);
    const parts = await oss.listParts("images/aborted.raw", init.uploadId, { "max-parts": 1000, "part-number-marker": 0, "encoding-type": "url" });
    expect([parts.parts].flat()).toHaveLength(1);
    await oss.abortMultipartUpload("images/aborted.raw", init.uploadId);
    expect((await errorOf(oss.listParts("images/aborted.raw", init.uploadId, { "max-parts": 1000, "part-number-marker": 0, "encoding-type": "url" }))).code).toBe("NoSuchUpload");
  });

  it("lists objects (v1 and v2) with prefix and delimiter", async () => {
    const v1 = await oss.list({ prefix: "images/", "max-keys": 100 }, {});
    expect(v1.objects.map((o) => o.name)).toEqual(expect.arrayContaining(["images/small.raw", "images/range.raw", "images/multi.raw"]));
    const v2 = await oss.listV2({ prefix: "", delimiter: "/" }, {});
    expect(v2.prefixes).toEqual(["images/"]);
  });

  it("deletes objects; a missing key answers NoSuchKey with the documented error body", async () => {
    await oss.delete("images/range.raw");
    const err = await errorOf(oss.get("images/range.raw"));
    expect(err.code).toBe("NoSuchKey");
    expect(err.status).toBe(404);
    expect(err.requestId).toMatch(/^[0-9A-F-]{36}$/);
    expect(err.hostId).toBe(`${bucket}.oss-cn-hangzhou.aliyuncs.com`);
  });

  it("refuses a wrong secret with SignatureDoesNotMatch", async () => {
    const bad = new OSS(ossClientOptions(server, { ...credentials, accessKeySecret: "wrong" }, bucket));
    const err = await errorOf(bad.get("images/small.raw"));
    expect(err.code).toBe("SignatureDoesNotMatch");
    expect(err.status).toBe(403);
  });

  it("refuses V1 signatures: Lifeboat must sign with V4", async () => {
    const v1 = new OSS({ ...ossClientOptions(server, credentials, bucket), authorizationV4: false });
    const err = await errorOf(v1.get("images/small.raw"));
    expect(err.code).toBe("AccessDenied");
  });

  it("serves presigned V4 URLs, as Lifeboat's client makes them, until they expire", async () => {
    const client = ossClient({ regionId: server.regionId, bucket, ...credentials, endpoint: server.ossEndpoint }, true);
    const put = await client.signatureUrlV4("PUT", 60, { headers: { "Content-Type": "application/json" } }, "results/one.json");
    expect(put).toContain(`/${bucket}/results/one.json?`);
    expect((await fetch(put, { method: "PUT", body: '{"ok":true}', headers: { "Content-Type": "application/json" } })).status).toBe(200);
    // The signature covers the method, the key and the signed headers.
    expect((await fetch(put, { method: "PUT", body: "{}", headers: { "Content-Type": "text/plain" } })).status).toBe(403);
    expect((await fetch(put.replace("one.json", "two.json"), { method: "PUT", body: "{}", headers: { "Content-Type": "application/json" } })).status).toBe(403);
    const get = await client.signatureUrlV4("GET", 60, undefined, "results/one.json");
    const got = await fetch(get);
    expect([got.status, await got.text()]).toEqual([200, '{"ok":true}']);
    // A URL whose time is up is refused.
    const expired = new URL(get);
    expired.searchParams.set("x-oss-date", "20200101T000000Z");
    expect((await fetch(expired)).status).toBe(403);
  });

  it("answers 503 while the switch says so", async () => {
    server.harness.applySwitches({ unavailableOss: 1 });
    expect((await errorOf(oss.head("images/small.raw"))).status).toBe(503);
    expect((await oss.head("images/small.raw")).res.status).toBe(200);
  });
});
