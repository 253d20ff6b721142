/**
 * Vault statistics for BackupVault.status and `lifeboat vault stats`.
 *
 * The ratios count data, not zeros. A sparse 10 GiB disk holding 10 MiB of
 * data costs about 10 MiB to store: dividing its 10 GiB capacity by that
 * would claim ~1000x "dedup" that no block sharing earned. So the ratios
 * start from allocatedBytes, the non-zero bytes the points reference (each
 * manifest records it per disk since format version 1: zero blocks are holes
 * there), never from logicalBytes.
 */
import type { ObjectInfo } from "./backends/backend.js";
import { decodeIndex } from "./block-index.js";
import { VaultError } from "./errors.js";
import { paths } from "./format.js";
import type { PointHeader } from "./manifest.js";
import { mapLimit, type Vault } from "./vault.js";

export interface VaultStats {
  /** Bytes in storage: packs, index, manifests, keys and config. */
  readonly storedBytes: number;
  /** Bytes of pack data alone. */
  readonly packBytes: number;
  /** Sum of the disk sizes of all points: what restoring every point would write, zeros included. */
  readonly logicalBytes: number;
  /** Sum of the non-hole bytes of all points: the data the points reference, zeros excluded, counted once per point. */
  readonly allocatedBytes: number;
  /** Bytes of the blocks the packs hold, before compression (the index's raw lengths; a block stored in two packs counts twice, as it is stored twice). */
  readonly uncompressedBytes: number;
  /** Bytes of those blocks as sealed blobs: compressed and encrypted, as the packs hold them. */
  readonly compressedBytes: number;
  /** allocatedBytes / storedBytes: dedup and compression together, zeros excluded (see {@link reductionRatios}). */
  readonly dedupRatio: number;
  /** uncompressedBytes / compressedBytes: what compression alone saves. */
  readonly compressionRatio: number;
  readonly pointCount: number;
  /** The point headers the figures were computed from: a caller that also needs them need not read every manifest again. */
  readonly points: readonly PointHeader[];
  /** Index objects left out of the compression figures because they could not be decoded (see IndexTotalsCache.totals). */
  readonly unreadableIndexObjects: readonly string[];
  readonly packCount: number;
  readonly repositoryId: string;
  readonly formatVersion: number;
}

/** The byte counts the ratios are made of. */
export interface RatioInputs {
  readonly allocatedBytes: number;
  readonly storedBytes: number;
  readonly uncompressedBytes: number;
  readonly compressedBytes: number;
}

/**
 * The vault's ratios, each 0 when its denominator is (an empty vault):
 *
 * - dedupRatio = allocatedBytes / storedBytes: how many bytes of VM data each
 *   byte in storage holds. Zeros are left out on both sides (they are holes,
 *   never stored), so a sparse disk does not inflate it; blocks shared
 *   between disks and points, and compression, raise it; metadata (index,
 *   manifests) and blocks no point references any more (until prune) lower
 *   it, as they cost storage. It keeps the name the field always had:
 *   "logical over stored", now with the zeros taken out of "logical".
 * - compressionRatio = uncompressedBytes / compressedBytes over the
 *   blocks the packs hold: compression's share of dedupRatio, so a reader can
 *   tell the two apart (dedupRatio / compressionRatio is roughly the saving
 *   from shared blocks alone).
 */
export function reductionRatios(inputs: RatioInputs): { dedupRatio: number; compressionRatio: number } {
  return {
    dedupRatio: inputs.storedBytes > 0 ? inputs.allocatedBytes / inputs.storedBytes : 0,
    compressionRatio: inputs.compressedBytes > 0 ? inputs.uncompressedBytes / inputs.compressedBytes : 0,
  };
}

/** One pack as one index object records it: its blobs' bytes before and after compression. */
interface PackTotals {
  readonly pack: string;
  readonly blobs: number;
  readonly uncompressedBytes: number;
  readonly compressedBytes: number;
}

/**
 * Remembers what each index object says about its packs' sizes, so that
 * statistics taken every minute read only the index objects written since
 * the last time (usually the few a backup adds), not the whole index. Index
 * objects are written once and never modified (prune writes new ones and
 * deletes the old), so an object read once never needs reading again; names
 * that disappear from the listing are forgotten. Holding one per vault is
 * the caller's choice; without one, every call reads the whole index.
 */
export class IndexTotalsCache {
  private readonly objects = new Map<string, readonly PackTotals[]>();

  /**
   * Bytes before and after compression of the blobs of every indexed pack,
   * each pack counted once. `indexListing` is the index prefix's listing when
   * the caller has it already. An index object that cannot be decoded (corrupt,
   * another key) is named in `unreadable` and left out, not thrown: these
   * figures are for display, and `vault check` is what reports damage.
   */
  async totals(vault: Vault, indexListing?: readonly ObjectInfo[]): Promise<{ uncompressedBytes: number; compressedBytes: number; unreadable: string[] }> {
    const names = (indexListing ?? (await vault.backend.list(paths.indexPrefix))).map((o) => o.key);
    const unreadable: string[] = [];
    const listed = new Set(names);
    for (const name of this.objects.keys()) if (!listed.has(name)) this.objects.delete(name);
    const unread = names.filter((name) => !this.objects.has(name));
    await mapLimit(unread, 8, async (name) => {
      let sealed: Buffer;
      try {
        sealed = await vault.backend.get(name);
      } catch (err) {
        // Deleted since the listing (prune replaced it): what it said is in the index that replaced it.
        if (err instanceof VaultError && err.reason === "NotFound") return;
        throw err;
      }
      let records: ReturnType<typeof decodeIndex>;
      try {
        records = decodeIndex(vault.keys, sealed, name);
      } catch (err) {
        if (!(err instanceof VaultError)) throw err;
        unreadable.push(name);
        return;
      }
      this.objects.set(
        name,
        records.map((r) => ({
          pack: r.pack,
          blobs: r.entries.length,
          uncompressedBytes: r.entries.reduce((n, e) => n + e.rawLength, 0),
          compressedBytes: r.entries.reduce((n, e) => n + e.length, 0),
        })),
      );
    });
    // A pack may be named by several index objects (a resumed backup, a lock
    // extension, prune's new index before the old is deleted); it is stored once.
    const packs = new Map<string, PackTotals>();
    for (const name of names) {
      for (const t of this.objects.get(name) ?? []) if (t.blobs > 0 && !packs.has(t.pack)) packs.set(t.pack, t);
    }
    let uncompressedBytes = 0;
    let compressedBytes = 0;
    for (const t of packs.values()) {
      uncompressedBytes += t.uncompressedBytes;
      compressedBytes += t.compressedBytes;
    }
    return { uncompressedBytes, compressedBytes, unreadable: unreadable.sort() };
  }
}

/**
 * Computes statistics from listings, point headers and the index (no block
 * data is read). Pass the same cache on every call for one vault to read
 * each index object only once.
 */
export async function stats(vault: Vault, cache: IndexTotalsCache = new IndexTotalsCache()): Promise<VaultStats> {
  const [packs, others, points] = await Promise.all([
    vault.backend.list(paths.packsPrefix),
    Promise.all([paths.indexPrefix, paths.manifestsPrefix, paths.keysPrefix].map((p) => vault.backend.list(p))),
    vault.listPoints(),
  ]);
  const { unreadable, ...blobs } = await cache.totals(vault, others[0]);
  const packBytes = packs.reduce((s, o) => s + o.size, 0);
  const storedBytes = packBytes + others.flat().reduce((s, o) => s + o.size, 0);
  let logicalBytes = 0;
  let allocatedBytes = 0;
  for (const p of points) {
    for (const d of p.disks) {
      logicalBytes += d.size;
      allocatedBytes += d.allocatedBytes;
    }
  }
  return {
    storedBytes,
    packBytes,
    logicalBytes,
    allocatedBytes,
    uncompressedBytes: blobs.uncompressedBytes,
    compressedBytes: blobs.compressedBytes,
    ...reductionRatios({ allocatedBytes, storedBytes, ...blobs }),
    pointCount: points.length,
    points,
    unreadableIndexObjects: unreadable,
    packCount: packs.length,
    repositoryId: vault.config.repositoryId,
    formatVersion: vault.config.formatVersion,
  };
}
