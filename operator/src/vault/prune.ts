/**
 * Prune: mark-and-sweep of data no point references, under an exclusive
 * repository lock.
 *
 * Mark: every block of every manifest. Sweep: packs with no referenced block
 * are deleted; packs with mostly unreferenced blocks are repacked (their live
 * blobs copied, still sealed, into new packs). Packs younger than the safety
 * margin are left alone, whatever they hold, in case a writer whose lock went
 * stale is still uploading; packs under Object Lock retention are left until
 * it ends. Leftovers of dead writers (temporary files, incomplete multipart
 * uploads, stale locks) are removed too. Crash-safe order: new packs, then one new index covering all kept
 * packs, then deletion of the old index objects, then of the old packs.
 */
import { idKey, type IndexedPack } from "./block-index.js";
import { ID_BYTES } from "./crypto.js";
import { VaultError } from "./errors.js";
import { baseName, paths, randomId } from "./format.js";
import { HOLE } from "./manifest.js";
import { PackBuilder, type PackEntry } from "./pack.js";
import { isStale, listLocks, RepositoryLock } from "./repo-lock.js";
import { mapLimit, type Vault } from "./vault.js";

export interface PruneOptions {
  /** Packs and leftovers younger than this are kept (default 1 hour). */
  readonly marginMs?: number | undefined;
  /** Repack a pack when more than this fraction of its bytes is unreferenced (default 0.3). */
  readonly repackThreshold?: number | undefined;
  readonly dryRun?: boolean | undefined;
  readonly now?: Date | undefined;
  readonly log?: ((line: string) => void) | undefined;
}

export interface PruneResult {
  readonly packsDeleted: number;
  readonly packsRepacked: number;
  readonly packsWritten: number;
  readonly bytesFreed: number;
  readonly packsKeptLocked: number;
  readonly packsKeptYoung: number;
  /** Temporary files / incomplete multipart uploads and stale locks removed. */
  readonly leftoversRemoved: number;
  readonly dryRun: boolean;
}

/** Runs prune; see the module comment. */
export async function prune(vault: Vault, options: PruneOptions = {}): Promise<PruneResult> {
  const lock = await RepositoryLock.acquire(vault.backend, true, "prune");
  try {
    return await pruneLocked(vault, options);
  } finally {
    await lock.release().catch(() => undefined);
  }
}

async function pruneLocked(vault: Vault, options: PruneOptions): Promise<PruneResult> {
  const now = options.now ?? new Date();
  const cutoff = now.getTime() - (options.marginMs ?? 3600_000);
  const threshold = options.repackThreshold ?? 0.3;
  const log = options.log ?? ((): void => undefined);

  // Mark.
  const referenced = new Set<string>();
  const points = await vault.listPoints();
  for (const p of points) {
    const content = await vault.readPoint(p.id);
    for (const ids of content.blockLists.values()) {
      for (let at = 0; at < ids.length; at += ID_BYTES) {
        const id = ids.subarray(at, at + ID_BYTES);
        if (!id.equals(HOLE)) referenced.add(idKey(id));
      }
    }
  }
  const { index, objects: oldIndexObjects } = await vault.loadIndex();
  const stored = new Map((await vault.backend.list(paths.packsPrefix)).map((o) => [baseName(o.key), o]));
  // Blocks points use that no index names, while packs no index names are stored: index objects
  // were lost or deleted (they are not under Object Lock), and those packs, which may hold the
  // blocks, would pass for leftovers below and be deleted. Refuse, and say how to rebuild the
  // index. (Unindexed blocks with no unindexed pack mean lost packs: prune cannot make that worse.)
  const unindexed = [...referenced].filter((key) => !index.getByKey(key)).length;
  const unindexedPacks = [...stored.keys()].filter((pack) => !index.packs.has(pack)).length;
  if (unindexed > 0 && unindexedPacks > 0) {
    throw new VaultError("IndexIncomplete", `${unindexed} blocks that recovery points use are in no index object, and ${unindexedPacks} stored packs are in none either; prune would delete those packs as leftovers. Rebuild the index from the packs with \`lifeboat vault repair-index\`, then prune again`);
  }

  // Which blocks of each pack are live (the index keeps the first location of a duplicated block).
  const live = new Map<string, PackEntry[]>();
  const all = new Map<string, PackEntry[]>();
  for (const [key, loc] of index.entries()) {
    const entry: PackEntry = { id: Buffer.from(key, "latin1"), offset: loc.offset, length: loc.length, rawLength: loc.rawLength };
    all.set(loc.pack, [...(all.get(loc.pack) ?? []), entry]);
    if (referenced.has(key)) live.set(loc.pack, [...(live.get(loc.pack) ?? []), entry]);
  }

  const keep: IndexedPack[] = [];
  const remove: string[] = [];
  const repack: { pack: string; entries: PackEntry[] }[] = [];
  let keptLocked = 0;
  let keptYoung = 0;
  let bytesFreed = 0;
  for (const [pack, info] of index.packs) {
    const object = stored.get(pack);
    const entries = (all.get(pack) ?? []).sort((a, b) => a.offset - b.offset);
    const liveEntries = (live.get(pack) ?? []).sort((a, b) => a.offset - b.offset);
    const record: IndexedPack = { pack, lockedUntil: info.lockedUntil, entries };
    if (!object) {
      log(`Dropped pack ${pack} from the index: it is not in storage`);
      continue;
    }
    const liveBytes = liveEntries.reduce((s, e) => s + e.length, 0);
    const deadFraction = info.bytes === 0 ? 1 : 1 - liveBytes / info.bytes;
    const locked = info.lockedUntil > now.getTime();
    const young = object.modified.getTime() > cutoff;
    if (deadFraction === 0 || (liveEntries.length > 0 && deadFraction <= threshold)) {
      keep.push(record);
    } else if (locked || young) {
      if (locked) keptLocked++;
      else keptYoung++;
      keep.push(record);
    } else if (liveEntries.length === 0) {
      remove.push(pack);
      bytesFreed += object.size;
    } else {
      repack.push({ pack, entries: liveEntries });
      remove.push(pack);
      bytesFreed += object.size - liveBytes;
    }
  }
  // Packs in storage that no index names: leftovers of interrupted backups.
  for (const [pack, object] of stored) {
    if (index.packs.has(pack)) continue;
    if (object.modified.getTime() > cutoff) {
      keptYoung++;
      continue;
    }
    remove.push(pack);
    bytesFreed += object.size;
  }

  const result = { packsDeleted: remove.length, packsRepacked: repack.length, bytesFreed, packsKeptLocked: keptLocked, packsKeptYoung: keptYoung, dryRun: !!options.dryRun };
  if (options.dryRun) return { ...result, packsWritten: 0, leftoversRemoved: 0 };

  // Repack live blobs, copied as they are (blobs are bound to their ids, not to their pack).
  let packsWritten = 0;
  let builder = new PackBuilder(repack.length > 0 ? vault.newPackBuffer() : undefined);
  const flush = async (): Promise<void> => {
    if (builder.count === 0) return;
    const id = randomId();
    await vault.backend.put(paths.pack(id), builder.finish(vault.keys));
    keep.push({ pack: id, lockedUntil: 0, entries: builder.entries });
    packsWritten++;
    builder = new PackBuilder(builder.buffer);
  };
  for (const { pack, entries } of repack) {
    for (const e of entries) {
      const blob = await vault.backend.getRange(paths.pack(pack), e.offset, e.length);
      builder.add(e.id, blob, e.rawLength);
      if (builder.bytes >= vault.config.packSize) await flush();
    }
  }
  await flush();

  await vault.writeIndex(keep);
  await mapLimit(oldIndexObjects, 8, (key) => vault.backend.delete(key));
  await mapLimit(remove, 8, async (pack) => {
    await vault.backend.delete(paths.pack(pack));
    log(`Deleted pack ${pack}`);
  });
  let leftoversRemoved = await vault.backend.cleanup(new Date(cutoff));
  // Locks of dead holders: with the exclusive lock held, nobody live can own them.
  for (const stale of (await listLocks(vault.backend)).filter((l) => isStale(l))) {
    await vault.backend.delete(paths.lock(stale.id));
    leftoversRemoved++;
  }
  return { ...result, packsWritten, leftoversRemoved };
}
