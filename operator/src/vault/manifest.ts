/**
 * Manifests: one per recovery point, `manifests/<point id>`, written last
 * (the commit point of a backup). A manifest lists every block of every disk,
 * so each point is a synthetic full that restores on its own.
 *
 * Layout: "LBMF" | version (1) | 3 zero bytes | header length (u32 LE) |
 * sealed header (JSON: PointHeader) | one sealed block list per disk. A block
 * list is the disk's block ids in order, 32 bytes each, all-zero for a hole
 * (an all-zero block, not stored). The header is small and comes first, so
 * listing points reads only the first bytes of each manifest.
 */
import { ID_BYTES, openObject, sealObject } from "./crypto.js";
import { VaultError } from "./errors.js";
import type { MasterKeys } from "./keys.js";

const MAGIC = Buffer.from("LBMF\x01\0\0\0", "latin1");
/**
 * Bytes read to list a point: magic, length and a header of typical size (a
 * VM's labels, disks and networks: a few KiB). A larger header takes a second
 * read of exactly its length. It was 64 KiB, and an operator that listed
 * 10,000 points read 640 MiB to get about 20 MiB of headers.
 */
export const MANIFEST_PREFIX_READ = 8 * 1024;
export const HOLE = Buffer.alloc(ID_BYTES);

/** Consistency of a point: crash-consistent snapshot or quiesced (application-consistent). */
export type Consistency = "crash" | "app";

/** One disk of a point. */
export interface PointDisk {
  /** The caller's key of the disk, e.g. the VMware device key "2000" or "scsi0:0". */
  readonly key: string;
  /** Size in bytes. */
  readonly size: number;
  /** The CBT changeId the caller handed in for this disk (opaque), used as the base of the next incremental. */
  readonly changeId?: string | undefined;
  /** Number of blocks (ceil(size / blockSize)). */
  readonly blocks: number;
  /** Bytes in non-hole blocks. */
  readonly allocatedBytes: number;
  /** Bytes read from the source in this backup. */
  readonly readBytes: number;
  /** Bytes of blocks that were new to the vault. */
  readonly newBytes: number;
  /** Where the disk's sealed block list sits, counted from the end of the sealed header. */
  readonly blockList: { readonly offset: number; readonly length: number };
}

/** Everything about a point except its block lists. */
export interface PointHeader {
  readonly id: string;
  /** When the backup started (the snapshot time), ISO 8601. */
  readonly time: string;
  /** When the manifest was committed, ISO 8601. */
  readonly committedAt: string;
  readonly parent?: string | undefined;
  /** Labels chosen by the caller: plan, vm, namespace... */
  readonly labels: Readonly<Record<string, string>>;
  readonly consistency: Consistency;
  /** With the vault's lock on: the point cannot be deleted before this time (ISO 8601). */
  readonly retainUntil?: string | undefined;
  readonly blockSize: number;
  readonly disks: readonly PointDisk[];
  /** Bytes of new blobs this backup stored (after compression and encryption). */
  readonly storedBytes: number;
  readonly host: string;
}

/** A disk's block list to be written: ids in order, HOLE for zero blocks. */
export interface DiskBlocks {
  readonly disk: Omit<PointDisk, "blockList">;
  readonly ids: Buffer;
}

/** Renders a manifest object. */
export function encodeManifest(keys: MasterKeys, header: Omit<PointHeader, "disks">, disks: readonly DiskBlocks[]): Buffer {
  const lists = disks.map((d) => sealObject(keys, `blocks:${header.id}:${d.disk.key}`, d.ids));
  let offset = 0;
  const full: PointHeader = {
    ...header,
    disks: disks.map((d, i) => {
      const length = lists[i]?.length ?? 0;
      const entry = { ...d.disk, blockList: { offset, length } };
      offset += length;
      return entry;
    }),
  };
  const sealed = sealObject(keys, `point:${header.id}`, Buffer.from(JSON.stringify(full)));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(sealed.length, 0);
  return Buffer.concat([MAGIC, len, sealed, ...lists]);
}

/** Reads the header length from the first 8+4 bytes of a manifest. */
export function manifestHeaderLength(prefix: Buffer, name: string): number {
  if (prefix.length < 12 || !prefix.subarray(0, 8).equals(MAGIC)) throw new VaultError("Corrupt", `Manifest ${name} does not start with the manifest magic`);
  return prefix.readUInt32LE(8);
}

/** Decodes a point header from a manifest's first bytes (at least 12 + header length). */
export function decodePointHeader(keys: MasterKeys, prefix: Buffer, pointId: string): PointHeader {
  const length = manifestHeaderLength(prefix, pointId);
  if (prefix.length < 12 + length) throw new VaultError("Corrupt", `Manifest ${pointId} is shorter than its header`);
  let plain: Buffer;
  try {
    plain = openObject(keys, `point:${pointId}`, prefix.subarray(12, 12 + length));
  } catch (err) {
    throw new VaultError("Corrupt", `Manifest ${pointId} has a header that fails authentication`, { cause: err });
  }
  const header = JSON.parse(plain.toString("utf8")) as PointHeader;
  if (header.id !== pointId) throw new VaultError("Corrupt", `Manifest ${pointId} names itself ${header.id}`);
  return header;
}

/** Decodes one disk's block list from its sealed bytes. */
export function decodeBlockList(keys: MasterKeys, pointId: string, disk: PointDisk, manifest: Buffer): Buffer {
  const base = 12 + manifestHeaderLength(manifest, pointId);
  const sealed = manifest.subarray(base + disk.blockList.offset, base + disk.blockList.offset + disk.blockList.length);
  let ids: Buffer;
  try {
    ids = openObject(keys, `blocks:${pointId}:${disk.key}`, sealed);
  } catch (err) {
    throw new VaultError("Corrupt", `Block list of disk ${disk.key} in point ${pointId} fails authentication`, { cause: err });
  }
  if (ids.length !== disk.blocks * ID_BYTES) throw new VaultError("Corrupt", `Block list of disk ${disk.key} in point ${pointId} has ${ids.length / ID_BYTES} blocks, expected ${disk.blocks}`);
  return ids;
}

/** Block `i` of a block list. */
export function blockAt(ids: Buffer, i: number): Buffer {
  return ids.subarray(i * ID_BYTES, (i + 1) * ID_BYTES);
}
