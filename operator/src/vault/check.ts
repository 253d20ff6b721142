/**
 * Check: verifies a vault and names what is broken.
 *
 * Structure (always): every index object opens; every indexed pack exists,
 * its sealed header opens and agrees with the index; every manifest and
 * block list opens and every block it names is indexed. With `readData`,
 * every pack is read whole and every blob is decrypted, decompressed and
 * hashed against its id. Leftovers (packs no index names, stale locks) are
 * warnings: they are what an interrupted backup leaves and prune removes.
 */
import { BlockIndex, decodeIndex, idKey, type BlockLocation } from "./block-index.js";
import { BlobError, ID_BYTES } from "./crypto.js";
import { describeError } from "./errors.js";
import { baseName, paths } from "./format.js";
import { HOLE } from "./manifest.js";
import { isStale, listLocks, RepositoryLock } from "./repo-lock.js";
import { mapLimit, type Vault } from "./vault.js";

export interface CheckOptions {
  readonly readData?: boolean | undefined;
  readonly onProgress?: ((line: string) => void) | undefined;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  readonly points: number;
  readonly packs: number;
  readonly blocks: number;
  readonly bytesVerified: number;
}

/**
 * Runs the check under a shared repository lock (so prune does not remove
 * packs underneath it); never throws for problems in the vault, only for
 * unreachable storage or a vault held exclusively by prune.
 */
export async function check(vault: Vault, options: CheckOptions = {}): Promise<CheckResult> {
  const lock = await RepositoryLock.acquire(vault.backend, false, "check");
  try {
    return await checkLocked(vault, options);
  } finally {
    await lock.release().catch(() => undefined);
  }
}

async function checkLocked(vault: Vault, options: CheckOptions): Promise<CheckResult> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const say = options.onProgress ?? ((): void => undefined);

  // Index.
  const index = new BlockIndex();
  const indexObjects = await vault.backend.list(paths.indexPrefix);
  await mapLimit(indexObjects, 8, async (obj) => {
    try {
      for (const record of decodeIndex(vault.keys, await vault.backend.get(obj.key), obj.key)) index.add(record);
    } catch (err) {
      errors.push(`Index object ${obj.key}: ${describeError(err)}`);
    }
  });
  say(`Checked ${indexObjects.length} index objects: ${index.size} blocks in ${index.packs.size} packs`);

  // Packs against the index.
  const byPack = new Map<string, { key: string; loc: BlockLocation }[]>();
  for (const [key, loc] of index.entries()) byPack.set(loc.pack, [...(byPack.get(loc.pack) ?? []), { key, loc }]);
  const stored = new Map((await vault.backend.list(paths.packsPrefix)).map((o) => [baseName(o.key), o]));
  const badPacks = new Map<string, string>();
  await mapLimit([...index.packs.keys()], 8, async (pack) => {
    const object = stored.get(pack);
    if (!object) {
      badPacks.set(pack, "missing");
      errors.push(`Pack ${pack} is in the index but missing from storage`);
      return;
    }
    try {
      const entries = await vault.readPackHeader(pack, object.size);
      const inPack = new Map(entries.map((e) => [idKey(e.id), e]));
      for (const { key, loc } of byPack.get(pack) ?? []) {
        const e = inPack.get(key);
        if (!e || e.offset !== loc.offset || e.length !== loc.length) {
          errors.push(`Pack ${pack} does not hold block ${Buffer.from(key, "latin1").toString("hex")} where the index says (offset ${loc.offset})`);
        }
      }
    } catch (err) {
      badPacks.set(pack, describeError(err));
      errors.push(`Pack ${pack}: ${describeError(err)}`);
    }
  });
  for (const [pack, object] of stored) {
    if (!index.packs.has(pack)) warnings.push(`Pack ${pack} (${object.size} bytes, ${object.modified.toISOString()}) is in no index: left by an interrupted backup; prune removes it`);
  }
  say(`Checked ${index.packs.size} pack headers`);

  // Manifests.
  const users = new Map<string, string[]>();
  const pointObjects = await vault.backend.list(paths.manifestsPrefix);
  for (const obj of pointObjects) {
    const id = baseName(obj.key);
    try {
      const point = await vault.readPoint(id);
      for (const [disk, ids] of point.blockLists) {
        for (let b = 0; b * ID_BYTES < ids.length; b++) {
          const blockId = ids.subarray(b * ID_BYTES, (b + 1) * ID_BYTES);
          if (blockId.equals(HOLE)) continue;
          const key = idKey(blockId);
          const loc = index.getByKey(key);
          if (!loc) {
            errors.push(`Point ${id} disk ${disk} block ${b} (id ${blockId.toString("hex")}) is in no indexed pack`);
          } else {
            const list = users.get(key) ?? [];
            if (list.length < 3) list.push(`point ${id} disk ${disk} block ${b}`);
            users.set(key, list);
          }
        }
      }
    } catch (err) {
      errors.push(`Manifest of point ${id}: ${describeError(err)}`);
    }
  }
  say(`Checked ${pointObjects.length} recovery points`);

  for (const lock of await listLocks(vault.backend)) {
    if (isStale(lock)) warnings.push(`Lock ${lock.id} (${lock.purpose}, pid ${lock.pid} on ${lock.host}) is stale: its holder is gone; it is ignored`);
  }

  // Data.
  let bytesVerified = 0;
  if (options.readData) {
    const packs = [...byPack.keys()].filter((p) => !badPacks.has(p));
    let done = 0;
    await mapLimit(packs, 2, async (pack) => {
      const bytes = await vault.backend.get(paths.pack(pack));
      await Promise.all((byPack.get(pack) ?? []).map(async ({ key, loc }) => {
        const id = Buffer.from(key, "latin1");
        if (loc.offset + loc.length > bytes.length) {
          errors.push(`Pack ${pack}: block ${id.toString("hex")} at offset ${loc.offset} lies beyond the pack's end (${bytes.length} bytes)`);
          return;
        }
        const blob = Buffer.allocUnsafeSlow(loc.length);
        bytes.copy(blob, 0, loc.offset, loc.offset + loc.length);
        try {
          await vault.pool.open(id, blob, loc.rawLength);
          bytesVerified += loc.rawLength;
        } catch (err) {
          if (!(err instanceof BlobError)) throw err;
          const usedBy = users.get(key);
          errors.push(`Pack ${pack}: block ${id.toString("hex")} at offset ${loc.offset} is damaged (${err.message}); ${usedBy ? `used by ${usedBy.join(", ")}` : "used by no point"}`);
        }
      }));
      done++;
      say(`Read ${done}/${packs.length} packs`);
    });
  }
  return { ok: errors.length === 0, errors, warnings, points: pointObjects.length, packs: stored.size, blocks: index.size, bytesVerified };
}
