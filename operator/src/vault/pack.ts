/**
 * Packs: the objects that hold block data. A pack is
 *
 *   "LBPK" | version (1) | 3 zero bytes | blob... | sealed header | header length (u32 LE) | "LBPT"
 *
 * The sealed header lists each blob's id, offset, stored length and raw
 * length, so a pack describes itself: `check` compares it with the index and
 * the index could be rebuilt from the packs alone.
 */
import { ID_BYTES, openObject, sealObject } from "./crypto.js";
import { VaultError } from "./errors.js";
import type { MasterKeys } from "./keys.js";

export const PACK_MAGIC = Buffer.from("LBPK\x01\0\0\0", "latin1");
const TRAILER_MAGIC = "LBPT";
export const PACK_TRAILER = 8;
const ENTRY_BYTES = ID_BYTES + 12;

/** One blob in a pack. */
export interface PackEntry {
  readonly id: Buffer;
  readonly offset: number;
  readonly length: number;
  readonly rawLength: number;
}

/**
 * Accumulates sealed blobs until the pack is full, then renders it. The
 * blobs are copied into one buffer, `space` (grown when a blob does not
 * fit), so that whoever sealed a blob can reuse its buffer at once, and a
 * backup can hand the pack's buffer to a later pack once this one is
 * written: a backup then allocates no memory per block or per pack.
 */
export class PackBuilder {
  private space: Buffer;
  readonly entries: PackEntry[] = [];
  private size = 0;

  constructor(space: Buffer = Buffer.allocUnsafeSlow(0)) {
    this.space = space;
    this.append(PACK_MAGIC);
  }

  /** Bytes so far (without the header). */
  get bytes(): number {
    return this.size;
  }

  get count(): number {
    return this.entries.length;
  }

  /** The buffer that holds the blobs: free for another pack once this one's chunks are written. */
  get buffer(): Buffer {
    return this.space;
  }

  /** Copies `blob` into the pack. */
  add(id: Buffer, blob: Buffer, rawLength: number): void {
    this.entries.push({ id, offset: this.size, length: blob.length, rawLength });
    this.append(blob);
  }

  /** The pack's bytes as chunks: a view of the buffer, then the sealed header and the trailer. */
  finish(keys: MasterKeys): Buffer[] {
    const header = sealObject(keys, "pack-header", encodePackHeader(this.entries));
    const trailer = Buffer.alloc(PACK_TRAILER);
    trailer.writeUInt32LE(header.length, 0);
    trailer.write(TRAILER_MAGIC, 4, "latin1");
    return [this.space.subarray(0, this.size), header, trailer];
  }

  private append(bytes: Buffer): void {
    const end = this.size + bytes.length;
    if (end > this.space.length) {
      // A plain buffer: this pack is then written without direct I/O. Vault.newPackBuffer's room makes this rare.
      const grown = Buffer.allocUnsafeSlow(Math.max(end, this.space.length * 2));
      this.space.copy(grown, 0, 0, this.size);
      this.space = grown;
    }
    this.size += bytes.copy(this.space, this.size);
  }
}

function encodePackHeader(entries: readonly PackEntry[]): Buffer {
  const out = Buffer.alloc(4 + entries.length * ENTRY_BYTES);
  out.writeUInt32LE(entries.length, 0);
  let at = 4;
  for (const e of entries) {
    e.id.copy(out, at);
    out.writeUInt32LE(e.offset, at + ID_BYTES);
    out.writeUInt32LE(e.length, at + ID_BYTES + 4);
    out.writeUInt32LE(e.rawLength, at + ID_BYTES + 8);
    at += ENTRY_BYTES;
  }
  return out;
}

/** Reads the length of a pack's sealed header from its 8-byte trailer; the header must fit in the pack's `packSize` bytes. */
export function parsePackTrailer(trailer: Buffer, packName: string, packSize: number): number {
  if (trailer.length !== PACK_TRAILER || trailer.toString("latin1", 4, 8) !== TRAILER_MAGIC) {
    throw new VaultError("Corrupt", `Pack ${packName} has no valid trailer (truncated or not a pack)`);
  }
  // The trailer is not authenticated: a length beyond the pack would make a reader ask for gigabytes.
  const length = trailer.readUInt32LE(0);
  if (length > packSize - PACK_MAGIC.length - PACK_TRAILER) throw new VaultError("Corrupt", `Pack ${packName} has a trailer that gives its header ${length} bytes, more than its ${packSize} bytes hold`);
  return length;
}

/** Decrypts and decodes a pack header. */
export function decodePackHeader(keys: MasterKeys, sealed: Buffer, packName: string): PackEntry[] {
  let plain: Buffer;
  try {
    plain = openObject(keys, "pack-header", sealed);
  } catch (err) {
    throw new VaultError("Corrupt", `Pack ${packName} has a header that fails authentication`, { cause: err });
  }
  const count = plain.readUInt32LE(0);
  if (plain.length !== 4 + count * ENTRY_BYTES) throw new VaultError("Corrupt", `Pack ${packName} has a header of the wrong length`);
  const entries: PackEntry[] = [];
  for (let i = 0, at = 4; i < count; i++, at += ENTRY_BYTES) {
    entries.push({
      id: Buffer.from(plain.subarray(at, at + ID_BYTES)),
      offset: plain.readUInt32LE(at + ID_BYTES),
      length: plain.readUInt32LE(at + ID_BYTES + 4),
      rawLength: plain.readUInt32LE(at + ID_BYTES + 8),
    });
  }
  return entries;
}
