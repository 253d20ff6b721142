import { describe, expect, it } from "@jest/globals";
import type { PointHeader } from "../vault/index.js";
import { HELD_RESYNC_EXIT, heldResyncOf, RESYNC, resyncBeforeQuery } from "./resync.js";

const MiB = 1024 * 1024;
const parent = {
  id: "p1",
  disks: [{ key: "2000", size: 64 * MiB, changeId: "52 aa/3" }, { key: "2001", size: 8 * MiB, changeId: "52 bb/3" }],
} as unknown as PointHeader;
const disks = [{ key: 2000, capacityBytes: 64 * MiB }, { key: 2001, capacityBytes: 8 * MiB }];

describe("resyncBeforeQuery", () => {
  it("goes incremental when tracking went on and no disk changed size", () => {
    expect(resyncBeforeQuery({ parent, trackingEnabledNow: false, disks })).toBeUndefined();
  });

  it("takes the controller's reason first", () => {
    expect(resyncBeforeQuery({ requested: "Manual", parent, trackingEnabledNow: true, disks })).toBe("Manual");
    expect(resyncBeforeQuery({ requested: "Manual", parent: undefined, trackingEnabledNow: false, disks })).toBe("Manual");
  });

  it("resyncs when this run had to turn tracking on although the chain has a parent", () => {
    expect(resyncBeforeQuery({ parent, trackingEnabledNow: true, disks })).toBe("ChangeTrackingReset");
    expect(resyncBeforeQuery({ parent: undefined, trackingEnabledNow: true, disks })).toBeUndefined();
  });

  it("resyncs when a disk's capacity differs from the parent's, not for a disk the parent lacks", () => {
    expect(resyncBeforeQuery({ parent, trackingEnabledNow: false, disks: [disks[0] as (typeof disks)[number], { key: 2001, capacityBytes: 16 * MiB }] })).toBe("DiskResized");
    expect(resyncBeforeQuery({ parent, trackingEnabledNow: false, disks: [...disks, { key: 2002, capacityBytes: MiB }] })).toBeUndefined();
  });
});

describe("heldResyncOf", () => {
  it("reads the reason of a held resync back from its exit code, and nothing from any other code", () => {
    for (const reason of [RESYNC.changeIdRejected, RESYNC.diskResized, RESYNC.changeTrackingReset]) expect(heldResyncOf(HELD_RESYNC_EXIT[reason])).toBe(reason);
    expect(new Set(Object.values(HELD_RESYNC_EXIT)).size).toBe(3);
    for (const code of [undefined, 0, 1, 23, 143]) expect(heldResyncOf(code)).toBeUndefined();
  });
});
