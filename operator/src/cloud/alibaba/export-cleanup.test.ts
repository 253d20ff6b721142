// What reverse replication's exports leave, deleted by server, run and
// prefix, against the Alibaba contract server in process (official SDK and
// ali-oss as clients).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OSS from "ali-oss";
import { startAlibabaContractServer, type AlibabaContractServer } from "../../../../e2e/testbed/alibaba-contract/server.js";
import { ecsClientConfig, ossClientOptions } from "../../../../e2e/testbed/alibaba-contract/sdk-clients.js";
import Ecs from "@alicloud/ecs20140526";
import { $OpenApiUtil } from "@alicloud/openapi-core";
import { EcsDr } from "./ecs-dr.js";
import { deleteExports, exportPrefixes, exportTags } from "./export-cleanup.js";

const credentials = { accessKeyId: "LTAIexportcleanup01", accessKeySecret: "export-cleanup-secret" };
const region = "cn-hangzhou";
const bucket = "exports";
let dir: string;
let server: AlibabaContractServer;
let ecs: EcsDr;
let oss: OSS;
let sdk: InstanceType<typeof Ecs.default>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "export-cleanup-"));
  server = await startAlibabaContractServer({ ...credentials, dataDir: dir, regionId: region, timings: { diskCreateMs: 0, snapshotMs: 50, imageCreateMs: 50, imageExportMs: 1000 } });
  sdk = new Ecs.default(new $OpenApiUtil.Config(ecsClientConfig(server, credentials)));
  server.harness.createBucket(bucket);
  ecs = new EcsDr(credentials, { [region]: { ecs: `${server.protocol}://${server.ecsEndpoint}` } });
  oss = new OSS(ossClientOptions(server, credentials, bucket));
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** An export run's leftovers: a snapshot of a disk and an image of it, tagged, and a file under the run's prefix. */
async function leftovers(name: string, run: string): Promise<void> {
  const tags = exportTags("prod", name, run);
  await oss.put(`${exportPrefixes("prod", name, run).run}m-1_system.raw`, Buffer.from("disk"));
  const disk = await sdk.createDisk(new Ecs.CreateDiskRequest({ regionId: region, zoneId: `${region}-i`, size: 20, diskCategory: "cloud_essd" }));
  const snapshot = await ecs.createSnapshot(region, disk.body?.diskId ?? "", `lifeboat-export-${run}`, tags, `${name}-${run}-snap`);
  await until(async () => (await ecs.snapshotsById(region, [snapshot]))[0]?.status === "accomplished" || undefined);
  await ecs.createImage(region, { name: `lifeboat-export-${run}`, snapshotId: snapshot, sizeGiB: 20, tags, token: `${name}-${run}-img` });
}

async function until(check: () => Promise<true | undefined>): Promise<void> {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 25));
}

async function left(name: string): Promise<{ objects: string[]; images: string[]; snapshots: string[] }> {
  const tags = exportTags("prod", name);
  const objects = (await oss.listV2({ prefix: exportPrefixes("prod", name, "").server, "max-keys": "100" })).objects.map((o) => o.name);
  return { objects, images: (await ecs.imagesTagged(region, tags)).map((i) => i.tags["lifeboat.io/point"] ?? ""), snapshots: (await ecs.snapshotsTagged(region, tags)).map((x) => x.tags["lifeboat.io/point"] ?? "") };
}

describe("deleting what export runs left", () => {
  it("keeps the running run's exports, deletes the other runs' of the same server, and never another server's", async () => {
    await leftovers("db", "r1");
    await leftovers("db", "r2");
    await leftovers("web", "r1");
    const place = { ecs, oss, region };
    const keep = { runId: "r2", prefix: exportPrefixes("prod", "db", "r2").run };
    expect(await deleteExports(place, { tags: exportTags("prod", "db"), prefix: exportPrefixes("prod", "db", "").server, keep })).toEqual([]);
    expect(await left("db")).toEqual({ objects: [`${keep.prefix}m-1_system.raw`], images: ["r2"], snapshots: ["r2"] });
    expect((await left("web")).images).toEqual(["r1"]);
    // The end of reverse replication: everything of the server goes.
    expect(await deleteExports(place, { tags: exportTags("prod", "db"), prefix: exportPrefixes("prod", "db", "").server })).toEqual([]);
    expect(await left("db")).toEqual({ objects: [], images: [], snapshots: [] });
    expect((await left("web")).snapshots).toEqual(["r1"]);
  });

  it("leaves an image that is still being exported, and its snapshots, for later unless told to wait", async () => {
    await leftovers("api", "r1");
    const [image] = await ecs.imagesTagged(region, exportTags("prod", "api"));
    await until(async () => (await ecs.image(region, image?.imageId ?? ""))?.status === "Available" || undefined);
    await ecs.exportImage(region, image?.imageId ?? "", bucket, exportPrefixes("prod", "api", "r1").run, "raw");
    const place = { ecs, oss, region };
    const sel = { tags: exportTags("prod", "api"), prefix: exportPrefixes("prod", "api", "").server };
    expect(await deleteExports(place, sel)).toEqual([`image ${image?.imageId ?? ""} (still exporting)`, "its snapshots"]);
    expect(await deleteExports(place, { ...sel, waitFor: AbortSignal.timeout(30_000) })).toEqual([]);
    expect(await left("api")).toEqual({ objects: [], images: [], snapshots: [] });
  });
});
