import { isoSeconds } from "../util/time.js";

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/** A condition as a reconciler states it; the transition time is the runtime's business. */
export type ConditionInput = Omit<Condition, "lastTransitionTime" | "observedGeneration">;

/**
 * Returns the conditions with `next` set, keeping lastTransitionTime when the
 * status did not change (the API conventions' rule), so that writing the same
 * observation twice yields an identical status and no write.
 */
export function setCondition(conditions: readonly Condition[] | undefined, next: ConditionInput, generation: number | undefined, now: Date = new Date()): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const old = i >= 0 ? list[i] : undefined;
  const updated: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: next.message,
    lastTransitionTime: old && old.status === next.status ? old.lastTransitionTime : isoSeconds(now),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  if (i >= 0) list[i] = updated;
  else list.push(updated);
  return list;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === "True";
}

/**
 * Sets the IgnoredFields condition to name the fields an object sets but the
 * operator does not act on (each with why), or removes it when there are
 * none: a field accepted and not acted on is never a silent Ready.
 */
export function reportIgnoredFields(
  obj: { status?: { conditions?: Condition[] } | undefined },
  ignored: readonly string[],
  reason: string,
  set: (condition: ConditionInput) => void,
): void {
  if (ignored.length > 0) set({ type: "IgnoredFields", status: "True", reason, message: `not acted on: ${ignored.join("; ")}` });
  else removeCondition(obj.status, "IgnoredFields");
}

/**
 * Removes the condition of `type`, if there is one: for a condition that
 * exists only while it has something to say (IgnoredFields, a policy or
 * network check that no longer applies).
 */
export function removeCondition(status: { conditions?: Condition[] } | undefined, type: string): void {
  if (status?.conditions?.some((c) => c.type === type)) status.conditions = status.conditions.filter((c) => c.type !== type);
}
