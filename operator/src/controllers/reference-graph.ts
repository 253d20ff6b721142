import type {
  BackupPlanSpec,
  GatewaySpec,
  ProtectedServerSpec,
  RecoveryDrillSpec,
  RecoveryDrillStatus,
  RecoveryPlanSpec,
  RecoveryPointSpec,
  RestoreJobSpec,
  SitePairSpec,
  VCenterSpec,
} from "../api/generated/types.js";
import { DRILL_FINALIZER } from "./drill-status.js";

/** One kind of reference between lifeboat.io objects: `from` objects name `to` objects. */
export interface Reference {
  readonly from: string;
  readonly to: string;
  /** The names of `to` objects a `from` object's spec refers to. */
  readonly names: (spec: never) => (string | undefined)[];
}

/**
 * Every reference in the API. Controllers use it twice: to reconcile an
 * object again when something it refers to changes (a Gateway becomes
 * Activated, so its BackupPlans become Ready), and to keep an object that is
 * still referred to from being deleted under its users (in-use protection,
 * like a PVC's).
 */
export const referenceGraph: readonly Reference[] = [
  { from: "Gateway", to: "BackupVault", names: (s: GatewaySpec) => [s.vaultRef.name] },
  { from: "VCenter", to: "Gateway", names: (s: VCenterSpec) => [s.gatewayRef.name] },
  { from: "BackupPlan", to: "VCenter", names: (s: BackupPlanSpec) => [s.vCenterRef.name] },
  { from: "BackupPlan", to: "BackupVault", names: (s: BackupPlanSpec) => [s.vaultRef.name] },
  { from: "BackupPlan", to: "Gateway", names: (s: BackupPlanSpec) => [s.gatewayRef.name] },
  { from: "RestoreJob", to: "Gateway", names: (s: RestoreJobSpec) => [s.gatewayRef.name] },
  { from: "RestoreJob", to: "VCenter", names: (s: RestoreJobSpec) => [s.target.vSphere?.vCenterRef.name] },
  { from: "RestoreJob", to: "RecoveryPoint", names: (s: RestoreJobSpec) => [s.recoveryPointRef.name] },
  { from: "SitePair", to: "BackupVault", names: (s: SitePairSpec) => [s.vaultRef?.name, s.reverseVaultRef?.name] },
  { from: "SitePair", to: "Gateway", names: (s: SitePairSpec) => [s.gatewayRef?.name, s.recoveryGatewayRef?.name] },
  { from: "SitePair", to: "VCenter", names: (s: SitePairSpec) => [s.source.vCenterRef?.name, s.target.vCenterRef?.name] },
  { from: "ProtectedServer", to: "SitePair", names: (s: ProtectedServerSpec) => [s.sitePairRef.name] },
  { from: "ProtectedServer", to: "ReplicationPolicy", names: (s: ProtectedServerSpec) => [s.replicationPolicyRef?.name] },
  { from: "RecoveryPoint", to: "BackupVault", names: (s: RecoveryPointSpec) => [s.vaultRef?.name] },
  { from: "RecoveryDrill", to: "ProtectedServer", names: (s: RecoveryDrillSpec) => [s.protectedServerRef?.name] },
  { from: "RecoveryDrill", to: "RecoveryPlan", names: (s: RecoveryDrillSpec) => [s.recoveryPlanRef?.name] },
  { from: "RecoveryPlan", to: "ProtectedServer", names: (s: RecoveryPlanSpec) => s.groups.flatMap((g) => g.protectedServers) },
];

/**
 * References whose users block deletion of the referenced object. RecoveryPoints
 * are mirrors of the vault and go with it; RestoreJobs do not hold their point;
 * RecoveryDrills are owned by their ProtectedServer and are cleaned when it goes;
 * a RecoveryPlan only orders its servers and says when one is missing.
 */
export function protectingReferences(kind: string): Reference[] {
  return referenceGraph.filter((r) => r.to === kind && r.to !== "RecoveryPoint" && r.from !== "RecoveryPoint" && r.from !== "RecoveryDrill" && r.from !== "RecoveryPlan");
}

/** A reference a user records in status once it made something outside the cluster that is reached through the referenced object. */
export interface CleanupReference {
  readonly from: string;
  readonly to: string;
  /** The user's finalizer: the reference holds while the user carries it, whether or not the user is being deleted. */
  readonly finalizer: string;
  /** The names of `to` objects a `from` object's status records. */
  readonly names: (status: never) => (string | undefined)[];
}

/**
 * References that hold what a user's clean-up needs. A RecoveryDrill's test VM
 * is deleted through the VCenter it was made on, a cloud drill's instance with
 * its SitePair's credentials; deleting everything at once (a namespace, a
 * GitOps prune) must leave those until the drill's finalizer is done. Unlike
 * protectingReferences, a user being deleted still counts: that is when its
 * clean-up runs.
 */
export const cleanupReferences: readonly CleanupReference[] = [
  { from: "RecoveryDrill", to: "VCenter", finalizer: DRILL_FINALIZER, names: (s: RecoveryDrillStatus | undefined) => [s?.vCenter] },
  { from: "RecoveryDrill", to: "SitePair", finalizer: DRILL_FINALIZER, names: (s: RecoveryDrillStatus | undefined) => [s?.sitePair] },
];
