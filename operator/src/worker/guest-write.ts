/**
 * What Lifeboat runs inside the temporary ECS instance of a restore with
 * strategy IntermediateInstance: lay each staged disk image onto the cloud
 * disk attached for it, then report the result.
 *
 * The guest holds no credentials. Its user data gives it presigned OSS URLs
 * only: one GET per staged disk (a stream-optimized VMDK: compressed, zeros
 * left out) and one PUT for its result. A new cloud disk reads as zeros, so
 * the guest writes the grains the image carries and nothing else, straight
 * from the download, with no temporary copy.
 *
 * Devices: the spec names each disk's device as the ECS API reports it
 * (`/dev/xvdb`, ...); a Linux guest on ECS sees those as `/dev/vdb`, ...
 * (Alibaba's documented mapping for virtio disks). On the test bed's ECS
 * contract server a guest is a local process whose disks are files, named by
 * the LIFEBOAT_CONTRACT_DEVICES variable it sets (see
 * e2e/testbed/alibaba-contract/README.md); that variable wins when present.
 */
import { open, readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { readStreamOptimizedVmdk } from "../image/vmdk-reader.js";
import { describeChain } from "./errors.js";

/** What the driver tells the guest, through user data. */
export interface GuestWriteSpec {
  /** The restore id, to name things in logs and the result. */
  readonly restoreId: string;
  /** The worker attempt that started this instance; the result carries it back. */
  readonly attempt: string;
  readonly disks: readonly {
    /** The point's disk key. */
    readonly key: string;
    /** The device as the ECS API names it (DescribeDisks' Device), e.g. /dev/xvdb. */
    readonly device: string;
    /** The disk's size in the point (the cloud disk may be larger: whole GiB). */
    readonly sizeBytes: number;
    /** Presigned GET of the staged stream-optimized VMDK. */
    readonly url: string;
  }[];
  /** Presigned PUT (Content-Type application/json) for the GuestResult. */
  readonly resultUrl: string;
}

/** What the guest reports through the result URL. */
export interface GuestResult {
  readonly restoreId: string;
  readonly attempt: string;
  readonly ok: boolean;
  readonly disks: readonly { readonly key: string; readonly device: string; readonly bytesWritten: number }[];
  /** Why the guest failed, when it did. */
  readonly error?: string;
}

/** The variable the test bed's ECS contract server sets in a guest: device name → { path, sizeBytes }. */
export const CONTRACT_DEVICES_ENV = "LIFEBOAT_CONTRACT_DEVICES";

/** A block device, or the file standing in for one. */
export interface GuestDevice {
  readonly path: string;
  readonly sizeBytes: number;
}

/** Finds the guest's block device for a device name the ECS API reports. */
export async function resolveDevice(apiDevice: string, env: NodeJS.ProcessEnv): Promise<GuestDevice> {
  const contract = env[CONTRACT_DEVICES_ENV];
  if (contract) {
    const devices = JSON.parse(contract) as Record<string, GuestDevice | undefined>;
    const d = devices[apiDevice];
    if (!d) throw new Error(`The instance has no disk at ${apiDevice} (it has ${Object.keys(devices).join(", ")})`);
    return { path: d.path, sizeBytes: d.sizeBytes };
  }
  const name = /^\/dev\/xvd([a-z]+)$/.exec(apiDevice)?.[1];
  if (!name) throw new Error(`Cannot map the ECS device name ${apiDevice} to a guest device`);
  const block = `vd${name}`;
  let sectors: number;
  try {
    sectors = Number((await readFile(`/sys/class/block/${block}/size`, "utf8")).trim());
  } catch (err) {
    throw new Error(`The guest has no block device /dev/${block} for ${apiDevice}`, { cause: err });
  }
  return { path: `/dev/${block}`, sizeBytes: sectors * 512 };
}

/** Writes one staged image onto its device; returns the bytes written. */
async function writeDisk(disk: GuestWriteSpec["disks"][number], device: GuestDevice, log: (fields: object, msg: string) => void): Promise<number> {
  if (device.sizeBytes < disk.sizeBytes) throw new Error(`Device ${device.path} (${disk.device}) holds ${device.sizeBytes} bytes, fewer than disk ${disk.key}'s ${disk.sizeBytes}`);
  const response = await fetch(disk.url);
  if (!response.ok || !response.body) throw new Error(`Downloading disk ${disk.key}'s image answered ${response.status} ${response.statusText}: ${(await response.text()).slice(0, 300)}`);
  const source = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  const fh = await open(device.path, "r+");
  let written = 0;
  try {
    for await (const grain of readStreamOptimizedVmdk(source, (info) => {
      if (info.capacityBytes > device.sizeBytes) throw new Error(`Disk ${disk.key}'s image is ${info.capacityBytes} bytes, larger than ${device.path} (${device.sizeBytes})`);
    })) {
      // The image's virtual size is whole GiB; nothing past the point's disk is data.
      const length = Math.min(grain.data.length, Math.max(0, disk.sizeBytes - grain.offset));
      for (let done = 0; done < length; ) done += (await fh.write(grain.data, done, length - done, grain.offset + done)).bytesWritten;
      written += length;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  log({ disk: disk.key, device: device.path, bytesWritten: written }, "Disk written");
  return written;
}

/** PUTs the result, retrying a flaky network for a minute. */
async function report(url: string, result: GuestResult): Promise<void> {
  const body = JSON.stringify(result);
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await fetch(url, { method: "PUT", body, headers: { "Content-Type": "application/json" } });
      if (r.ok) return;
      if (r.status < 500 || attempt >= 12) throw new Error(`Reporting the result answered ${r.status}: ${(await r.text()).slice(0, 300)}`);
    } catch (err) {
      if (attempt >= 12) throw err;
    }
    await sleep(5_000);
  }
}

/**
 * Writes every disk of `spec` and reports the result (a failure too). Throws
 * only when even the report fails, which the driver sees as a guest that
 * never answers.
 */
export async function guestWrite(spec: GuestWriteSpec, env: NodeJS.ProcessEnv, log: (fields: object, msg: string) => void): Promise<GuestResult> {
  const disks: { key: string; device: string; bytesWritten: number }[] = [];
  let result: GuestResult;
  try {
    for (const disk of spec.disks) {
      const device = await resolveDevice(disk.device, env);
      disks.push({ key: disk.key, device: disk.device, bytesWritten: await writeDisk(disk, device, log) });
    }
    result = { restoreId: spec.restoreId, attempt: spec.attempt, ok: true, disks };
  } catch (err) {
    result = { restoreId: spec.restoreId, attempt: spec.attempt, ok: false, disks, error: describeChain(err) };
  }
  await report(spec.resultUrl, result);
  return result;
}
