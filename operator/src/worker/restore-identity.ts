/**
 * How a restored VM carries the identity of the restore that created it
 * (spec.target.vSphere.restoreId) in its annotation, so that a retried
 * worker can tell its own half-written VM (destroy it and start over) from
 * somebody else's VM of the same name (refuse), and DR can find exactly what
 * it created.
 */

/** The line the worker adds when the caller's annotation does not carry the restore id already. */
export const RESTORE_ID_PREFIX = "lifeboat.io/restore-id: ";

const ID_CHAR = /[A-Za-z0-9._-]/;

/** True when `annotation` holds `restoreId` as a whole word (not as part of a longer id). */
export function carriesRestoreId(annotation: string | undefined, restoreId: string): boolean {
  if (!annotation) return false;
  for (let at = annotation.indexOf(restoreId); at >= 0; at = annotation.indexOf(restoreId, at + 1)) {
    const before = annotation[at - 1];
    const after = annotation[at + restoreId.length];
    if ((before === undefined || !ID_CHAR.test(before)) && (after === undefined || !ID_CHAR.test(after))) return true;
  }
  return false;
}

/** The annotation to write: the caller's, with the restore id appended on its own line when it does not carry it. */
export function restoreAnnotation(annotation: string | undefined, restoreId: string | undefined): string | undefined {
  if (!restoreId || carriesRestoreId(annotation, restoreId)) return annotation;
  return annotation ? `${annotation}\n${RESTORE_ID_PREFIX}${restoreId}` : `${RESTORE_ID_PREFIX}${restoreId}`;
}
