import type {
  BackupPlanSpec,
  GatewaySpec,
  ProtectedServerSpec,
  RecoveryDrillSpec,
  RecoveryPointSpec,
  RestoreJobSpec,
  SitePairSpec,
  VCenterSpec,
} from "../api/generated/types.js";

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
  { from: "RecoveryPoint", to: "BackupVault", names: (s: RecoveryPointSpec) => [s.vaultRef?.name] },
  { from: "RecoveryDrill", to: "ProtectedServer", names: (s: RecoveryDrillSpec) => [s.protectedServerRef.name] },
];

/**
 * References whose users block deletion of the referenced object. RecoveryPoints
 * are mirrors of the vault and go with it; RestoreJobs do not hold their point;
 * RecoveryDrills are owned by their ProtectedServer and are cleaned when it goes.
 */
export function protectingReferences(kind: string): Reference[] {
  return referenceGraph.filter((r) => r.to === kind && r.to !== "RecoveryPoint" && r.from !== "RecoveryPoint" && r.from !== "RecoveryDrill");
}
