/**
 * When a backup cycle cannot trust CBT against its parent and must resync:
 * read every allocated area ("*") and take no parent. The vault still stores
 * only the blocks it lacks, so a resync costs reading and hashing, not
 * storage or (for replication) bandwidth to the vault. The reason is
 * recorded in the point's label `resync` and reported in /progress, so the
 * controller can show ResyncRequired while the cycle runs.
 */
import type { PointHeader } from "../vault/index.js";
import { EXIT } from "./errors.js";

/** Reasons the worker finds itself; a controller may ask for a resync with any other (spec.resync). */
export const RESYNC = {
  /** CBT refused the parent's changeId (change tracking was reset since the parent). */
  changeIdRejected: "ChangeIdRejected",
  /** A disk's capacity differs from the parent's disk: CBT areas across a resize are not trusted. */
  diskResized: "DiskResized",
  /** This run had to enable CBT, so the parent's changeIds belong to an earlier tracking session. */
  changeTrackingReset: "ChangeTrackingReset",
  /** The user asked for it (ProtectedServer spec.resyncRequest); the controller passes it as spec.resync. */
  requested: "Requested",
} as const;

/**
 * The exit code of a run that found a resync needed and held it
 * (spec.holdResync), by reason, and back: what the controller reads to make
 * that resync later, once business hours are over.
 */
export const HELD_RESYNC_EXIT: Readonly<Partial<Record<string, number>>> = {
  [RESYNC.changeIdRejected]: EXIT.resyncHeldChangeIdRejected,
  [RESYNC.diskResized]: EXIT.resyncHeldDiskResized,
  [RESYNC.changeTrackingReset]: EXIT.resyncHeldChangeTrackingReset,
};

/** The reason a run held its resync for, from its exit code; undefined for any other code. */
export function heldResyncOf(exitCode: number | undefined): string | undefined {
  return Object.entries(HELD_RESYNC_EXIT).find(([, code]) => code === exitCode)?.[0];
}

/**
 * The reason to resync decided before CBT is asked (undefined: go
 * incremental against `parent`): the caller's request first, then what the
 * VM tells about its tracking and its disks. ChangeIdRejected is found
 * later, when CBT refuses the parent's changeId.
 */
export function resyncBeforeQuery(opts: {
  readonly requested?: string | undefined;
  readonly parent: PointHeader | undefined;
  /** True when this run turned CBT on. */
  readonly trackingEnabledNow: boolean;
  readonly disks: readonly { readonly key: number; readonly capacityBytes: number }[];
}): string | undefined {
  if (opts.requested) return opts.requested;
  const parent = opts.parent;
  if (!parent) return undefined;
  if (opts.trackingEnabledNow) return RESYNC.changeTrackingReset;
  const resized = opts.disks.some((d) => {
    const before = parent.disks.find((p) => p.key === String(d.key));
    return before !== undefined && before.size !== d.capacityBytes;
  });
  return resized ? RESYNC.diskResized : undefined;
}
