/** A namespace name: an RFC 1123 label, as Kubernetes requires. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The namespaces the operator watches, from its environment (the chart sets
 * WATCH_NAMESPACES from values.watchNamespaces): a comma-separated list, or
 * empty for all namespaces. WATCH_NAMESPACE, the single namespace of earlier
 * releases, still counts and is added to the list. An empty result means all
 * namespaces. A name that is not a namespace name throws: a typo must stop
 * the operator at start, not leave it watching nothing (or, worse, everything
 * its RBAC allows) without a word.
 */
export function watchNamespaces(env: { readonly WATCH_NAMESPACES?: string | undefined; readonly WATCH_NAMESPACE?: string | undefined }): string[] {
  const names = [...(env.WATCH_NAMESPACES ?? "").split(","), env.WATCH_NAMESPACE ?? ""].map((n) => n.trim()).filter((n) => n !== "");
  for (const name of names) {
    if (name.length > 63 || !NAMESPACE.test(name)) {
      throw new Error(`WATCH_NAMESPACES: "${name}" is not a namespace name (lower-case letters, digits and '-', at most 63 characters)`);
    }
  }
  return [...new Set(names)].sort();
}
