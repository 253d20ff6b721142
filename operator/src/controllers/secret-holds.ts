/**
 * Holding a Secret with a finalizer while something outside the cluster can
 * only be cleaned up with it. Deleting a namespace, or a GitOps prune of a
 * whole application, deletes a VCenter's or SitePair's credentials Secret at
 * the same moment as the RecoveryDrill whose test VM needs them to be
 * deleted; Secrets have no finalizer of their own, so without a hold the
 * drill could never log in again. This is what cluster-api-provider-vsphere
 * does with a VSphereCluster's credentials Secret.
 *
 * Each holder puts its own finalizer on the Secret, so holders sharing a
 * Secret release it independently and no release depends on seeing the
 * others. The data of a Secret is never changed: only metadata.finalizers,
 * by a merge patch that carries the resourceVersion it was read at.
 */
import type { Kube } from "../runtime/kube.js";
import { mergePatch } from "../runtime/kube.js";

/** Names of every Secret a spec refers to through a `...SecretRef` field, at any depth. */
export function secretNames(spec: unknown): string[] {
  const names: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      for (const [k, child] of Object.entries(v)) {
        if (k.endsWith("SecretRef") && child && typeof child === "object" && typeof (child as { name?: unknown }).name === "string") names.push((child as { name: string }).name);
        walk(child);
      }
    }
  };
  walk(spec);
  return names;
}

/**
 * Puts `finalizer` on each named Secret that lacks it; returns the names of
 * those being deleted, which cannot take a new finalizer. A missing Secret
 * is skipped (whoever reads it reports that). The cached copy says whether
 * anything is to do; the patch is made from a fresh read, so the operator's
 * own last patch, not yet in the cache, does not make it conflict.
 */
export async function holdSecrets(kube: Kube, namespace: string, names: readonly string[], finalizer: string): Promise<string[]> {
  const deleting: string[] = [];
  for (const name of new Set(names)) {
    const cached = await kube.getSecret(namespace, name);
    if (!cached || (cached.metadata?.finalizers ?? []).includes(finalizer)) continue;
    const secret = await kube.getSecret(namespace, name, { fresh: true });
    const finalizers = secret?.metadata?.finalizers ?? [];
    if (!secret || finalizers.includes(finalizer)) continue;
    if (secret.metadata?.deletionTimestamp) deleting.push(name);
    else await patchFinalizers(kube, namespace, name, [...finalizers, finalizer], secret.metadata?.resourceVersion);
  }
  return deleting;
}

/** Takes `finalizer` off each named Secret that still has it; a Secret already gone is skipped. */
export async function releaseSecrets(kube: Kube, namespace: string, names: readonly string[], finalizer: string): Promise<void> {
  for (const name of new Set(names)) {
    const secret = await kube.getSecret(namespace, name, { fresh: true });
    const finalizers = secret?.metadata?.finalizers ?? [];
    if (!finalizers.includes(finalizer)) continue;
    await patchFinalizers(kube, namespace, name, finalizers.filter((f) => f !== finalizer), secret?.metadata?.resourceVersion);
  }
}

async function patchFinalizers(kube: Kube, namespace: string, name: string, finalizers: string[], resourceVersion: string | undefined): Promise<void> {
  try {
    await kube.core.patchNamespacedSecret({ namespace, name, body: { metadata: { finalizers, resourceVersion } } }, mergePatch);
  } catch (err) {
    throw new Error(`Could not set the finalizers of Secret ${namespace}/${name} to [${finalizers.join(", ")}]`, { cause: err });
  }
}
