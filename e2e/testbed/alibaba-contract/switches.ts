/**
 * Fault switches: the failures a client of ECS and OSS must survive, turned
 * on by a test. They are the contract server's harness, not part of either
 * API. Each counted switch fires on the next N matching calls and then
 * turns itself off.
 */
export class Switches {
  /** Next N ECS calls answer 400 Throttling.User (with x-acs-retry-after). */
  throttleEcs = 0;
  /** Next N ECS calls answer 503 ServiceUnavailable. */
  unavailableEcs = 0;
  /** Next N OSS calls answer 503 ServiceUnavailable. */
  unavailableOss = 0;
  /** Next N calls of each named action (AttachDisk, StopInstance, …) answer 403 IncorrectInstanceStatus. */
  readonly incorrectInstanceStatus = new Map<string, number>();
  /** Next N images made by ImportImage or CreateImage end in CreateFailed (and their task in Failed). */
  readonly createFailed = new Map<"ImportImage" | "CreateImage", number>();
  /** When true, ImportImage answers 403 NoSetRoletoECSServiceAccount: the RAM role ECS needs to read OSS is missing. */
  ramRoleMissing = false;
  /** The value of x-acs-retry-after on throttled responses (the SDK reads it as ThrottlingError.retryAfter). */
  retryAfterMs = 1000;

  /** Consumes one firing of a counted switch in a map; true when it fired. */
  take<K>(map: Map<K, number>, key: K): boolean {
    const left = map.get(key) ?? 0;
    if (left <= 0) return false;
    if (left === 1) map.delete(key);
    else map.set(key, left - 1);
    return true;
  }

  /** Turns every switch off. */
  reset(): void {
    this.throttleEcs = 0;
    this.unavailableEcs = 0;
    this.unavailableOss = 0;
    this.incorrectInstanceStatus.clear();
    this.createFailed.clear();
    this.ramRoleMissing = false;
  }
}

/** The JSON a test posts to the harness endpoint `/lifeboat-contract/switches` (every field optional). */
export interface SwitchSettings {
  throttleEcs?: number;
  unavailableEcs?: number;
  unavailableOss?: number;
  incorrectInstanceStatus?: Record<string, number>;
  createFailed?: { ImportImage?: number; CreateImage?: number };
  ramRoleMissing?: boolean;
  retryAfterMs?: number;
  reset?: boolean;
}

/** Applies posted settings to the switches. */
export function applySwitchSettings(switches: Switches, s: SwitchSettings): void {
  if (s.reset) switches.reset();
  if (s.throttleEcs !== undefined) switches.throttleEcs = s.throttleEcs;
  if (s.unavailableEcs !== undefined) switches.unavailableEcs = s.unavailableEcs;
  if (s.unavailableOss !== undefined) switches.unavailableOss = s.unavailableOss;
  for (const [action, n] of Object.entries(s.incorrectInstanceStatus ?? {})) switches.incorrectInstanceStatus.set(action, n);
  if (s.createFailed?.ImportImage !== undefined) switches.createFailed.set("ImportImage", s.createFailed.ImportImage);
  if (s.createFailed?.CreateImage !== undefined) switches.createFailed.set("CreateImage", s.createFailed.CreateImage);
  if (s.ramRoleMissing !== undefined) switches.ramRoleMissing = s.ramRoleMissing;
  if (s.retryAfterMs !== undefined) switches.retryAfterMs = s.retryAfterMs;
}
