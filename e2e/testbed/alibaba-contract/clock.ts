/**
 * The time source of the contract server's state machines. Signatures are
 * checked against the wall clock (a client signs with real time); resource
 * transitions follow this clock, so a test can run them faster or step them.
 */
export interface Clock {
  now(): number;
}

/** Real time. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that moves only when told to: a test advances it and then calls
 * the server's `tick()` to apply the transitions that became due.
 */
export class ManualClock implements Clock {
  private current: number;

  constructor(start = Date.now()) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    this.current += ms;
  }
}

/**
 * How long each asynchronous ECS operation takes on the server's clock. The
 * defaults are short (a test bed wants speed) but non-zero, so a client that
 * does not wait for a state is caught.
 */
export interface Timings {
  /** RunInstances/StartInstance: Pending/Starting → Running. */
  instanceStartMs: number;
  /** StopInstance: Stopping → Stopped. */
  instanceStopMs: number;
  /** CreateDisk: Creating → Available. */
  diskCreateMs: number;
  /** AttachDisk: Attaching → In_use. */
  diskAttachMs: number;
  /** DetachDisk: Detaching → Available. */
  diskDetachMs: number;
  /** CreateSnapshot: progressing (Progress 0%…100%) → accomplished. */
  snapshotMs: number;
  /** CreateImage: Creating → Available. */
  imageCreateMs: number;
  /** ImportImage: Creating → Available (at least; the conversion itself may take longer). */
  imageImportMs: number;
  /** ExportImage: the task is Processing at least this long (and until the files are written). */
  imageExportMs: number;
  /** CopySnapshot: the copy in the destination region is progressing (Progress 0%…100%) → accomplished. */
  snapshotCopyMs: number;
  /** AssociateEipAddress: Associating → InUse. */
  eipAssociateMs: number;
  /** UnassociateEipAddress: Unassociating → Available. */
  eipUnassociateMs: number;
  /** The Cloud Assistant agent comes online this long after its instance is Running (DescribeCloudAssistantStatus). */
  cloudAssistantStartMs: number;
}

export const defaultTimings: Timings = {
  instanceStartMs: 1500,
  instanceStopMs: 1000,
  diskCreateMs: 500,
  diskAttachMs: 500,
  diskDetachMs: 500,
  snapshotMs: 2000,
  imageCreateMs: 2000,
  imageImportMs: 3000,
  snapshotCopyMs: 3000,
  imageExportMs: 2000,
  eipAssociateMs: 500,
  eipUnassociateMs: 500,
  cloudAssistantStartMs: 1000,
};
