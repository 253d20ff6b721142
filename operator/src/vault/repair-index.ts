/**
 * Repair of the index from the packs (`lifeboat vault repair-index`).
 *
 * Index objects are the one part of a vault that Object Lock does not retain
 * (prune rewrites them), so whoever can delete objects can delete the index:
 * the locked points and packs survive, but nothing finds their blocks any
 * more, and prune refuses to run (IndexIncomplete). Every pack describes
 * itself in its sealed header, so the index can be rebuilt: read every pack's
 * header, write one index object naming them all, then delete the old index
 * objects. Killed midway, the vault stays as it was or gains an index object
 * that duplicates others, which readers merge.
 *
 * `lockedUntil` (how long prune must keep a pack, and until when a backup
 * need not extend it) is kept from the index objects that still open. On
 * storage with Object Lock it is otherwise read from the pack itself, so it is
 * exactly the storage's date, never later (a later one would let a backup skip
 * an extension it needs). Elsewhere nothing enforces it, and it is derived,
 * generously, from the locked points that use the pack.
 *
 * Only damage is skipped: an index object or pack header that does not
 * decrypt (Corrupt) is named and left out, and a pack left out keeps the
 * records that surviving index objects have for it. Any other error (the
 * storage unreachable, access denied) stops the repair before it writes.
 */
import { decodeIndex, idKey, type IndexedPack } from "./block-index.js";
import { ID_BYTES } from "./crypto.js";
import { describeError, isVaultError } from "./errors.js";
import { baseName, paths } from "./format.js";
import { HOLE } from "./manifest.js";
import { RepositoryLock } from "./repo-lock.js";
import { mapLimit, type Vault } from "./vault.js";

export interface RepairIndexResult {
  /** Packs the new index names. */
  readonly packs: number;
  /** Blocks the new index names. */
  readonly blocks: number;
  /** Packs whose header did not decrypt: indexed only as far as the old index knew them. */
  readonly unreadablePacks: readonly string[];
  /** Old index objects replaced (deleted) by the new one. */
  readonly replacedIndexObjects: number;
}

/** Rebuilds the index under the exclusive repository lock; see the module comment. */
export async function repairIndex(vault: Vault, options: { log?: (line: string) => void } = {}): Promise<RepairIndexResult> {
  const lock = await RepositoryLock.acquire(vault.backend, true, "repair-index");
  try {
    return await repairLocked(vault, options.log ?? ((): void => undefined));
  } finally {
    await lock.release().catch(() => undefined);
  }
}

async function repairLocked(vault: Vault, log: (line: string) => void): Promise<RepairIndexResult> {
  // What the old index still knows, by pack.
  const oldObjects = (await vault.backend.list(paths.indexPrefix)).map((o) => o.key);
  const oldRecords = new Map<string, IndexedPack[]>();
  await mapLimit(oldObjects, 8, async (key) => {
    try {
      for (const r of decodeIndex(vault.keys, await vault.backend.get(key), key)) oldRecords.set(r.pack, [...(oldRecords.get(r.pack) ?? []), r]);
    } catch (err) {
      if (!isVaultError(err, "Corrupt")) throw err;
      log(`Index object ${key} does not open (${describeError(err)}); it is replaced`);
    }
  });

  // Every pack's own header.
  const packs = await vault.backend.list(paths.packsPrefix);
  const unreadablePacks: string[] = [];
  const found = await mapLimit(packs, 8, async (obj) => {
    const pack = baseName(obj.key);
    try {
      return { pack, entries: await vault.readPackHeader(pack, obj.size) };
    } catch (err) {
      if (!isVaultError(err, "Corrupt")) throw err;
      unreadablePacks.push(pack);
      log(`Pack ${pack}: ${describeError(err)}; its header does not open, so only what the old index knows of it is kept`);
      return undefined;
    }
  });
  const readable = found.filter((f) => f !== undefined).sort((a, b) => a.pack.localeCompare(b.pack));

  const lockedUntil = await lockedUntilOf(vault, readable, oldRecords);
  const records: IndexedPack[] = [
    ...readable.map(({ pack, entries }) => ({ pack, lockedUntil: lockedUntil.get(pack) ?? 0, entries })),
    ...unreadablePacks.flatMap((pack) => oldRecords.get(pack) ?? []),
  ];

  // The new index first, then the old objects: a repair killed in between leaves duplicates, not gaps.
  await vault.writeIndex(records);
  await mapLimit(oldObjects, 8, (key) => vault.backend.delete(key));
  const blocks = records.reduce((n, r) => n + r.entries.length, 0);
  const packCount = new Set(records.map((r) => r.pack)).size;
  log(`Wrote an index of ${packCount} packs and ${blocks} blocks; replaced ${oldObjects.length} index objects`);
  return { packs: packCount, blocks, unreadablePacks: unreadablePacks.sort(), replacedIndexObjects: oldObjects.length };
}

/** Each readable pack's lockedUntil; see the module comment. */
async function lockedUntilOf(vault: Vault, packs: readonly { pack: string; entries: readonly { id: Buffer }[] }[], oldRecords: ReadonlyMap<string, readonly IndexedPack[]>): Promise<Map<string, number>> {
  const until = new Map<string, number>();
  for (const { pack } of packs) {
    const known = oldRecords.get(pack);
    if (known) until.set(pack, Math.max(...known.map((r) => r.lockedUntil)));
  }
  if (!vault.config.lock.enabled) return until;
  const unknown = packs.filter(({ pack }) => !oldRecords.has(pack));
  if ((await vault.backend.lockSupport()).objectLock) {
    await mapLimit(unknown, 8, async ({ pack }) => {
      const retained = await vault.backend.retainedUntil(paths.pack(pack));
      if (retained) until.set(pack, retained.getTime());
    });
    return until;
  }
  const derived = await lockedUntilFromPoints(vault, unknown);
  for (const [pack, time] of derived) until.set(pack, time);
  return until;
}

/** For a locked vault: per pack, the latest retain-until (with pack slack) of the points using its blocks. */
async function lockedUntilFromPoints(vault: Vault, packs: readonly { pack: string; entries: readonly { id: Buffer }[] }[]): Promise<Map<string, number>> {
  const until = new Map<string, number>();
  const packOf = new Map<string, string>();
  for (const { pack, entries } of packs) for (const e of entries) if (!packOf.has(idKey(e.id))) packOf.set(idKey(e.id), pack);
  for (const point of await vault.listPoints()) {
    const retention = point.retainUntil ? vault.packRetentionFor(new Date(point.retainUntil)) : undefined;
    if (!retention) continue;
    const content = await vault.readPoint(point.id);
    for (const ids of content.blockLists.values()) {
      for (let at = 0; at < ids.length; at += ID_BYTES) {
        const id = ids.subarray(at, at + ID_BYTES);
        if (id.equals(HOLE)) continue;
        const pack = packOf.get(idKey(id));
        if (pack) until.set(pack, Math.max(until.get(pack) ?? 0, retention.until.getTime()));
      }
    }
  }
  return until;
}
