import { describe, expect, it } from "@jest/globals";
import { cloudDiskGiB, guestUserData } from "./cloud-image-instance.js";

const GiB = 1024 ** 3;

describe("the temporary instance of an IntermediateInstance restore", () => {
  it("sizes each cloud disk in whole GiB, at least ECS's smallest data disk", () => {
    expect(cloudDiskGiB(40 * 1024 * 1024)).toBe(20);
    expect(cloudDiskGiB(20 * GiB)).toBe(20);
    expect(cloudDiskGiB(20 * GiB + 1)).toBe(21);
    expect(cloudDiskGiB(100 * GiB - 512)).toBe(100);
  });

  it("gives the guest its spec in user data, with URLs and no credentials", () => {
    const spec = { restoreId: "restore-web-01-abc", disks: [{ key: "2000", device: "/dev/xvdb", sizeBytes: 1, url: "https://b.oss/x?x-oss-signature=s" }], resultUrl: "https://b.oss/r?x-oss-signature=t" };
    const script = Buffer.from(guestUserData("docker run -i img", spec), "base64").toString("utf8");
    expect(script.startsWith("#!/bin/sh\n")).toBe(true);
    expect(script).toContain("docker run -i img <<'LIFEBOAT_GUEST_SPEC'\n");
    const json = script.split("\n").find((line) => line.startsWith("{"));
    expect(JSON.parse(json ?? "")).toEqual(spec);
    expect(script.trimEnd().endsWith("LIFEBOAT_GUEST_SPEC")).toBe(true);
  });
});
