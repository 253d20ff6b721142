/**
 * The index: which pack holds each block. Stored as `index/<id>` objects,
 * each sealed and listing whole packs; loaded into memory as one map. A pack
 * may appear in several index objects (after a resumed backup or a
 * retention extension); the loader merges them.
 *
 * Index object, before sealing: version (u32) | pack count (u32) | per pack:
 * pack id (32) | lockedUntil ms (f64, 0 = none) | entry count (u32) | entries
 * of id (32) | offset (u32) | length (u32) | raw length (u32).
 */
import { ID_BYTES, openObject, sealObject } from "./crypto.js";
import { VaultError } from "./errors.js";
import type { MasterKeys } from "./keys.js";
import type { PackEntry } from "./pack.js";

/** Where a block is stored. */
export interface BlockLocation {
  readonly pack: string;
  readonly offset: number;
  readonly length: number;
  readonly rawLength: number;
}

/** One pack as an index object records it. */
export interface IndexedPack {
  readonly pack: string;
  /** Object Lock retain-until of the pack in ms since the epoch (0 when not locked). */
  readonly lockedUntil: number;
  readonly entries: readonly PackEntry[];
}

/** What the index knows about a pack. */
export interface PackInfo {
  lockedUntil: number;
  blocks: number;
  bytes: number;
}

/** Block id as a compact map key. */
export function idKey(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("latin1");
}

/** Back from a map key to the id bytes. */
export function idFromKey(key: string): Buffer {
  return Buffer.from(key, "latin1");
}

/** The in-memory index of a repository. */
export class BlockIndex {
  private readonly blocks = new Map<string, BlockLocation>();
  readonly packs = new Map<string, PackInfo>();

  get size(): number {
    return this.blocks.size;
  }

  get(id: Uint8Array): BlockLocation | undefined {
    return this.blocks.get(idKey(id));
  }

  getByKey(key: string): BlockLocation | undefined {
    return this.blocks.get(key);
  }

  has(id: Uint8Array): boolean {
    return this.blocks.has(idKey(id));
  }

  /** All (block key, location) pairs. */
  entries(): IterableIterator<[string, BlockLocation]> {
    return this.blocks.entries();
  }

  /** Adds a pack's blocks; a block already indexed in another pack keeps its first location. */
  add(record: IndexedPack): void {
    const info = this.packs.get(record.pack) ?? { lockedUntil: 0, blocks: 0, bytes: 0 };
    info.lockedUntil = Math.max(info.lockedUntil, record.lockedUntil);
    for (const e of record.entries) {
      const key = idKey(e.id);
      if (this.blocks.has(key)) continue;
      this.blocks.set(key, { pack: record.pack, offset: e.offset, length: e.length, rawLength: e.rawLength });
      info.blocks++;
      info.bytes += e.length;
    }
    this.packs.set(record.pack, info);
  }
}

/** Seals index records into the bytes of one `index/<id>` object. */
export function encodeIndex(keys: MasterKeys, records: readonly IndexedPack[]): Buffer {
  let size = 8;
  for (const r of records) size += 32 + 8 + 4 + r.entries.length * (ID_BYTES + 12);
  const out = Buffer.alloc(size);
  out.writeUInt32LE(1, 0);
  out.writeUInt32LE(records.length, 4);
  let at = 8;
  for (const r of records) {
    at += Buffer.from(r.pack, "hex").copy(out, at);
    out.writeDoubleLE(r.lockedUntil, at);
    out.writeUInt32LE(r.entries.length, at + 8);
    at += 12;
    for (const e of r.entries) {
      e.id.copy(out, at);
      out.writeUInt32LE(e.offset, at + ID_BYTES);
      out.writeUInt32LE(e.length, at + ID_BYTES + 4);
      out.writeUInt32LE(e.rawLength, at + ID_BYTES + 8);
      at += ID_BYTES + 12;
    }
  }
  return sealObject(keys, "index", out);
}

/** Opens and decodes one index object. */
export function decodeIndex(keys: MasterKeys, sealed: Buffer, name: string): IndexedPack[] {
  let plain: Buffer;
  try {
    plain = openObject(keys, "index", sealed);
  } catch (err) {
    throw new VaultError("Corrupt", `Index object ${name} fails authentication`, { cause: err });
  }
  try {
    if (plain.readUInt32LE(0) !== 1) throw new Error(`unknown index version ${plain.readUInt32LE(0)}`);
    const count = plain.readUInt32LE(4);
    const records: IndexedPack[] = [];
    let at = 8;
    for (let i = 0; i < count; i++) {
      const pack = plain.toString("hex", at, at + 32);
      const lockedUntil = plain.readDoubleLE(at + 32);
      const n = plain.readUInt32LE(at + 40);
      at += 44;
      const entries: PackEntry[] = [];
      for (let j = 0; j < n; j++) {
        entries.push({
          id: Buffer.from(plain.subarray(at, at + ID_BYTES)),
          offset: plain.readUInt32LE(at + ID_BYTES),
          length: plain.readUInt32LE(at + ID_BYTES + 4),
          rawLength: plain.readUInt32LE(at + ID_BYTES + 8),
        });
        at += ID_BYTES + 12;
      }
      records.push({ pack, lockedUntil, entries });
    }
    if (at !== plain.length) throw new Error("trailing bytes");
    return records;
  } catch (err) {
    throw new VaultError("Corrupt", `Index object ${name} is malformed`, { cause: err });
  }
}
