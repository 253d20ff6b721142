/**
 * The labels a backup writes into its recovery point: the caller's labels
 * (plan, namespace, vm, run) plus what a restore needs to rebuild the VM
 * without vCenter's help, and what the RecoveryPoint sync shows (vm, plan,
 * vmInstanceUUID, vmMoRef, guestOS, numCPUs, memoryMiB, networks,
 * disk.<key>.label, disk.<key>.file), and the disks the snapshot left out
 * (disk.<key>.excluded with the reason, beside their label, file and
 * capacityBytes): the point has no data of those, and says so wherever it is
 * shown.
 */
import type { PointDisk, PointHeader } from "../vault/index.js";
import type { SnapshotExclusion, VirtualMachine, VmDisk } from "../vsphere/index.js";

/** The labels of a consistency group's point: the group, and the tick its snapshot was taken for (controllers/consistency-groups.ts). */
export const GROUP_LABELS = { group: "consistencyGroup", tick: "groupTick" } as const;

/**
 * How late after its tick (spec.snapshotAt) a snapshot may still count as
 * the tick's: a worker that started too late (a slow pod start, a retried
 * run) takes its point outside the group, so that a tick every member has
 * stays one moment.
 */
export const GROUP_TICK_GRACE_MS = 30_000;

/** `labels` without the consistency group's, for a snapshot taken more than GROUP_TICK_GRACE_MS after its tick. */
export function labelsForSnapshotTime(labels: Readonly<Record<string, string>>, snapshotAt: string | undefined, time: Date): Readonly<Record<string, string>> {
  if (snapshotAt === undefined || time.getTime() - Date.parse(snapshotAt) <= GROUP_TICK_GRACE_MS) return labels;
  const { [GROUP_LABELS.group]: _group, [GROUP_LABELS.tick]: _tick, ...rest } = labels;
  return rest;
}

/** A disk of the VM that the point holds no data of, and why. */
export interface ExcludedDisk {
  readonly key: string;
  readonly reason: SnapshotExclusion;
  readonly label?: string;
  readonly fileName?: string;
  readonly capacityBytes?: number;
}

/** Labels of the point for `vm`, whose disks (as the snapshot froze them) are `disks`. */
export function buildPointLabels(
  base: Readonly<Record<string, string>>,
  vm: Pick<VirtualMachine, "ref" | "name" | "instanceUuid" | "guestId" | "numCpu" | "memoryMB" | "firmware">,
  disks: readonly Pick<VmDisk, "key" | "label" | "fileName" | "controllerKey" | "unitNumber">[],
  networkNames: readonly string[],
  excluded: readonly { disk: Pick<VmDisk, "key" | "label" | "fileName" | "capacityBytes">; reason: SnapshotExclusion }[] = [],
): Record<string, string> {
  const labels: Record<string, string> = { ...base };
  if (!labels.vm) labels.vm = vm.name;
  labels.vmMoRef = vm.ref.value;
  if (vm.instanceUuid) labels.vmInstanceUUID = vm.instanceUuid;
  if (vm.guestId) labels.guestOS = vm.guestId;
  if (vm.numCpu !== undefined) labels.numCPUs = String(vm.numCpu);
  if (vm.memoryMB !== undefined) labels.memoryMiB = String(vm.memoryMB);
  if (vm.firmware) labels.firmware = vm.firmware;
  labels.networks = networkNames.join(",");
  for (const d of disks) {
    labels[`disk.${d.key}.label`] = d.label;
    labels[`disk.${d.key}.file`] = d.fileName;
    if (d.controllerKey !== undefined) labels[`disk.${d.key}.controllerKey`] = String(d.controllerKey);
    if (d.unitNumber !== undefined) labels[`disk.${d.key}.unitNumber`] = String(d.unitNumber);
  }
  for (const { disk, reason } of excluded) {
    labels[`disk.${disk.key}.excluded`] = reason;
    labels[`disk.${disk.key}.label`] = disk.label;
    labels[`disk.${disk.key}.file`] = disk.fileName;
    labels[`disk.${disk.key}.capacityBytes`] = String(disk.capacityBytes);
  }
  return labels;
}

/** The disks a point was taken without (labels disk.<key>.excluded), in key order. */
export function excludedDisksOf(labels: Readonly<Record<string, string>>): ExcludedDisk[] {
  const out: ExcludedDisk[] = [];
  for (const [name, value] of Object.entries(labels)) {
    const m = /^disk\.([^.]+)\.excluded$/.exec(name);
    if (!m?.[1] || (value !== "IndependentDisk" && value !== "PhysicalModeRDM")) continue;
    const key = m[1];
    const label = labels[`disk.${key}.label`];
    const fileName = labels[`disk.${key}.file`];
    const capacityBytes = numberLabel(labels, `disk.${key}.capacityBytes`);
    out.push({ key, reason: value, ...(label ? { label } : {}), ...(fileName ? { fileName } : {}), ...(capacityBytes !== undefined ? { capacityBytes } : {}) });
  }
  return out.sort((a, b) => (Number(a.key) || 0) - (Number(b.key) || 0));
}

/** Names the disks a point was taken without and why, for status messages, events and errors. */
export function describeExcludedDisks(excluded: readonly ExcludedDisk[]): string {
  const what = (reason: SnapshotExclusion): string => (reason === "IndependentDisk" ? "an independent disk" : "a physical-mode RDM");
  return excluded.map((d) => `${d.label ?? `disk ${d.key}`}${d.fileName ? ` (${d.fileName})` : ""} is ${what(d.reason)}`).join("; ");
}

/** A number label, or undefined when absent or not a number. */
export function numberLabel(labels: Readonly<Record<string, string>>, key: string): number | undefined {
  const v = labels[key];
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** The point's network names in NIC order (label `networks`). */
export function networksOf(labels: Readonly<Record<string, string>>): string[] {
  const v = labels.networks;
  return v ? v.split(",").filter((n) => n !== "") : [];
}

/** The point's disks in their order on the VM (controller, unit), else by key: how restores and seeds pair them with a VM's disks. */
export function orderedDisks(point: Pick<PointHeader, "disks" | "labels">): PointDisk[] {
  const rank = (d: PointDisk): [number, number, number] => [
    numberLabel(point.labels, `disk.${d.key}.controllerKey`) ?? Number.MAX_SAFE_INTEGER,
    numberLabel(point.labels, `disk.${d.key}.unitNumber`) ?? Number.MAX_SAFE_INTEGER,
    Number(d.key) || 0,
  ];
  return [...point.disks].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2];
  });
}
