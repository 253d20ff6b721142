import { describe, expect, it } from "@jest/globals";
import type { RecoveryPoint } from "../api/generated/types.js";
import { WORKER_MOUNT_PATHS } from "../workloads/worker-volumes.js";
import { imageFileClaims, imageFileResultPaths, imageFileWorkerDir } from "./image-file-target.js";

const rp = { spec: { vm: { name: "db 1" }, disks: [{ key: 2000 }, { key: 2001 }] } } as unknown as RecoveryPoint;

describe("imageFile on a claim", () => {
  it("writes below the claim's mount path and mounts the claim", () => {
    const file = { format: "raw" as const, persistentVolumeClaim: { name: "images" }, path: "restores/db/" };
    expect(imageFileWorkerDir(file)).toBe(`${WORKER_MOUNT_PATHS.image}/restores/db`);
    expect(imageFileWorkerDir({ persistentVolumeClaim: { name: "images" } })).toBe(WORKER_MOUNT_PATHS.image);
    expect(imageFileClaims(file)).toEqual([{ claimName: "images", mountPath: WORKER_MOUNT_PATHS.image }]);
    expect(imageFileClaims(undefined)).toEqual([]);
  });

  it("reports the files by claim and path inside it, and objects by bucket and key", () => {
    expect(imageFileResultPaths({ persistentVolumeClaim: { name: "images" }, path: "r" }, rp)).toEqual(["pvc://images/r/db_1-disk-2000.raw", "pvc://images/r/db_1-disk-2001.raw"]);
    expect(imageFileResultPaths({ persistentVolumeClaim: { name: "images" }, diskKeys: [2001] }, rp)).toEqual(["pvc://images/db_1-disk-2001.raw"]);
    expect(imageFileResultPaths({ s3: { bucket: "b", prefix: "p/", credentialsSecretRef: { name: "s" } } }, rp)).toEqual(["s3://b/p/db_1-disk-2000.raw", "s3://b/p/db_1-disk-2001.raw"]);
  });

  it("names each file with its format's extension, both VHD kinds as .vhd", () => {
    expect(imageFileResultPaths({ persistentVolumeClaim: { name: "images" }, format: "qcow2", diskKeys: [2000] }, rp)).toEqual(["pvc://images/db_1-disk-2000.qcow2"]);
    expect(imageFileResultPaths({ s3: { bucket: "b", credentialsSecretRef: { name: "s" } }, format: "vhd-fixed", diskKeys: [2001] }, rp)).toEqual(["s3://b/db_1-disk-2001.vhd"]);
    expect(imageFileResultPaths({ s3: { bucket: "b", credentialsSecretRef: { name: "s" } }, format: "vmdk", diskKeys: [2001] }, rp)).toEqual(["s3://b/db_1-disk-2001.vmdk"]);
  });
});
