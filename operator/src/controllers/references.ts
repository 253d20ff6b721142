import type { ConditionInput } from "../runtime/conditions.js";
import { findCondition } from "../runtime/conditions.js";
import type { Kube, LifeboatObject, ObjectReader } from "../runtime/kube.js";

/** A check that failed, as a condition's reason and message. */
export interface Problem {
  readonly reason: string;
  readonly message: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; problem: Problem };

/** A Secret reference as the API's secretRef() schema defines it: a name and key fields with defaults. */
export interface SecretRefSpec {
  name: string;
  [keyField: string]: string | undefined;
}

/**
 * Reads the keys a reference names from a Secret. A missing Secret or key is
 * a problem that says exactly which Secret and key to create; the values are
 * returned for use and never appear in a message.
 */
export async function readSecretKeys(
  kube: Kube,
  namespace: string,
  field: string,
  ref: SecretRefSpec,
  keyFields: Record<string, string>,
): Promise<Checked<Record<string, Buffer>>> {
  const secret = await kube.getSecret(namespace, ref.name);
  if (!secret) {
    return { ok: false, problem: { reason: "SecretNotFound", message: `${field}: Secret ${namespace}/${ref.name} does not exist; create it or fix ${field}.name` } };
  }
  const values: Record<string, Buffer> = {};
  const missing: string[] = [];
  for (const [keyField, defaultKey] of Object.entries(keyFields)) {
    const key = ref[keyField] ?? defaultKey;
    const b64 = secret.data?.[key];
    if (b64 === undefined || b64.length === 0) missing.push(key);
    else values[keyField] = Buffer.from(b64, "base64");
  }
  if (missing.length > 0) {
    return {
      ok: false,
      problem: { reason: "SecretKeyMissing", message: `${field}: Secret ${namespace}/${ref.name} has no non-empty key ${missing.map((k) => `"${k}"`).join(", ")}` },
    };
  }
  return { ok: true, value: values };
}

/**
 * Resolves a same-namespace reference and, when `requiredCondition` is given,
 * requires that condition to be True on the target. The problem names the
 * field, the object and, when it is not ready, the target's own reason.
 * Reconcilers pass `ctx.cache`: a reference is read on every reconcile.
 */
export async function resolveRef<T extends LifeboatObject>(
  reader: ObjectReader,
  kind: string,
  namespace: string,
  field: string,
  name: string,
  requiredCondition?: string,
): Promise<Checked<T>> {
  const target = await reader.get<T>(kind, namespace, name);
  if (!target) {
    return { ok: false, problem: { reason: `${kind}NotFound`, message: `${field}: ${kind} ${namespace}/${name} does not exist` } };
  }
  if (target.metadata.deletionTimestamp) {
    return { ok: false, problem: { reason: `${kind}Deleting`, message: `${field}: ${kind} ${namespace}/${name} is being deleted` } };
  }
  if (requiredCondition) {
    const c = findCondition(target.status?.conditions, requiredCondition);
    if (c?.status !== "True") {
      const notReady = requiredCondition === "Ready" ? "NotReady" : `Not${requiredCondition}`;
      const why = c ? `${c.reason}: ${c.message}` : "not yet reconciled";
      return { ok: false, problem: { reason: `${kind}${notReady}`, message: `${field}: ${kind} ${namespace}/${name} is not ${requiredCondition} (${why})` } };
    }
  }
  return { ok: true, value: target };
}

/** A condition that reports a problem on `type`. */
export function problemCondition(type: string, problem: Problem): ConditionInput {
  return { type, status: "False", reason: problem.reason, message: problem.message };
}

/** The names of objects of `kind` in `namespace` whose reference picked by `refOf` names `name`. */
export async function referencingObjects(kube: Kube, kinds: readonly { kind: string; refOf: (spec: never) => (string | undefined)[] }[], namespace: string, name: string): Promise<string[]> {
  const users: string[] = [];
  for (const { kind, refOf } of kinds) {
    for (const obj of await kube.list(kind, namespace)) {
      if (obj.metadata.deletionTimestamp) continue;
      if (refOf(obj.spec as never).includes(name)) users.push(`${kind}/${obj.metadata.name ?? ""}`);
    }
  }
  return users;
}

/** The first failed check's problem, in the order the checks were listed. */
export function firstProblem(checks: readonly Checked<unknown>[]): Problem | undefined {
  for (const c of checks) if (!c.ok) return c.problem;
  return undefined;
}
