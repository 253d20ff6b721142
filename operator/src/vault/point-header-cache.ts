import type { ObjectInfo } from "./backends/backend.js";
import type { PointHeader } from "./manifest.js";
import { mapLimit } from "./vault.js";

/** A header as read, and the size of the manifest it was read from. */
interface CachedHeader {
  readonly size: number;
  readonly header: PointHeader;
}

/**
 * Point headers already read, shared by every open of a vault in one
 * process (VaultOptions.pointHeaders). A manifest is written once and only
 * ever deleted, so a header read from it stays true while a manifest of that
 * name and size is listed. The operator lists a vault's points on every sync
 * (once a minute) and when a run or a cycle ends; without this each listing
 * read up to 64 KiB of every manifest: 640 MiB a minute for 10,000 points
 * (bench:scale), and most of the operator's CPU and memory at rest. The
 * headers are shared: read them, never change them.
 */
export class PointHeaderCache {
  /** By repository id (two vaults never share one), then by manifest object name. */
  private readonly repositories = new Map<string, Map<string, CachedHeader>>();

  /**
   * The header of one manifest: from the cache where it was read before,
   * from `read` otherwise. The caller has the manifest's ObjectInfo from a
   * listing or a stat (Vault.getPoint), so a deleted point is never
   * answered from here. `read` answers undefined for a manifest deleted
   * since it was listed; nothing is kept for it.
   */
  async header(repositoryId: string, manifest: ObjectInfo, read: (manifest: ObjectInfo) => Promise<PointHeader | undefined>): Promise<PointHeader | undefined> {
    const known = this.known(repositoryId);
    const hit = known.get(manifest.key);
    if (hit?.size === manifest.size) return hit.header;
    const header = await read(manifest);
    if (header) known.set(manifest.key, { size: manifest.size, header });
    return header;
  }

  /**
   * The headers of the manifests in `listing`, in its order: from the cache
   * where one was read before, from `read` for the rest (undefined where it
   * found the manifest gone). Names no longer listed are forgotten.
   */
  async headers(repositoryId: string, listing: readonly ObjectInfo[], read: (manifest: ObjectInfo) => Promise<PointHeader | undefined>): Promise<(PointHeader | undefined)[]> {
    const known = this.known(repositoryId);
    const listed = new Set(listing.map((o) => o.key));
    for (const name of known.keys()) if (!listed.has(name)) known.delete(name);
    return mapLimit(listing, 8, (manifest) => this.header(repositoryId, manifest, read));
  }

  private known(repositoryId: string): Map<string, CachedHeader> {
    let known = this.repositories.get(repositoryId);
    if (!known) this.repositories.set(repositoryId, (known = new Map<string, CachedHeader>()));
    return known;
  }
}
