import { describe, expect, it } from "@jest/globals";
import { validateObject } from "../../api/validation.js";
import { buildRestoreJob, defaultRestoreName, type RestoreRequest } from "./restore-job.js";

const NOW = new Date("2026-12-02T21:30:05Z");
const DEFAULTS = { gateway: "gw", vCenter: "vc" };

function build(req: Partial<RestoreRequest> & Pick<RestoreRequest, "to">, defaults: { gateway?: string; vCenter?: string } = DEFAULTS) {
  return buildRestoreJob({ point: "web-01-20261202t020000z-1a2b3c4d", ...req }, defaults, "prod", NOW);
}

describe("the RestoreJob of `restore -o yaml`", () => {
  it("restores to vSphere with the plan's vCenter and gateway, and passes the API schema", () => {
    const job = build({ to: "vsphere", datastore: "ds1", vmName: "web-01-restored", network: ["VM Network=DR Network"], powerOn: true, diskProvisioning: "thick" });
    expect(job).toEqual({
      apiVersion: "lifeboat.io/v1alpha1",
      kind: "RestoreJob",
      metadata: { name: "restore-web-01-20261202t020000z-1a2b3c4d-20261202213005", namespace: "prod" },
      spec: {
        recoveryPointRef: { name: "web-01-20261202t020000z-1a2b3c4d" },
        gatewayRef: { name: "gw" },
        target: { vSphere: { vCenterRef: { name: "vc" }, datastore: "ds1", vmName: "web-01-restored", networkMappings: [{ source: "VM Network", target: "DR Network" }], diskProvisioning: "Thick", powerOn: true } },
      },
    });
    expect(validateObject("RestoreJob", job)).toEqual([]);
  });

  it("restores to an image file on a claim or in S3, and to a cloud image, each valid", () => {
    const onClaim = build({ to: "image-file", pvc: "images", path: "web", format: "qcow2", disk: [2000], gateway: "other", name: "r1" });
    expect(onClaim.spec).toEqual({ recoveryPointRef: { name: "web-01-20261202t020000z-1a2b3c4d" }, gatewayRef: { name: "other" }, target: { imageFile: { format: "qcow2", persistentVolumeClaim: { name: "images" }, path: "web", diskKeys: [2000] } } });
    expect(onClaim.metadata.name).toBe("r1");
    const inS3 = build({ to: "image-file", s3Bucket: "restores", s3Secret: "s3-creds", s3Endpoint: "http://minio:9000" });
    const cloud = build({ to: "cloud-image", region: "cn-shanghai", imageName: "web01", ossBucket: "staging", credentialsSecret: "ali", format: "vhd" });
    expect(cloud.spec.target).toEqual({ cloudImage: { region: "cn-shanghai", imageName: "web01", ossBucket: "staging", credentialsSecretRef: { name: "ali" }, format: "VHD" } });
    for (const job of [onClaim, inS3, cloud]) expect(validateObject("RestoreJob", job)).toEqual([]);
  });

  it("in place only with the confirmation, and then without a new name", () => {
    expect(() => build({ to: "vsphere", datastore: "ds1", inPlace: true })).toThrow("add --confirm-in-place");
    expect(() => build({ to: "vsphere", datastore: "ds1", inPlace: true, confirmInPlace: true, vmName: "x" })).toThrow("drop --vm-name");
    const job = build({ to: "vsphere", datastore: "ds1", inPlace: true, confirmInPlace: true });
    expect(job.spec.target.vSphere).toMatchObject({ inPlace: true, confirmInPlace: true });
    expect(validateObject("RestoreJob", job)).toEqual([]);
  });

  it("names the flag to fix, as the API's CEL rules would refuse it", () => {
    expect(() => build({ to: "vsphere", vmName: "x" })).toThrow("restore --to vsphere needs --datastore");
    expect(() => build({ to: "vsphere", datastore: "ds1" })).toThrow("needs --vm-name");
    expect(() => build({ to: "vsphere", datastore: "ds1", vmName: "x" }, { gateway: "gw" })).toThrow("needs --vcenter");
    expect(() => build({ to: "vsphere", datastore: "ds1", vmName: "x", network: ["a"] })).toThrow("--network a is not SOURCE=TARGET");
    expect(() => build({ to: "image-file" })).toThrow("exactly one of --pvc");
    expect(() => build({ to: "image-file", pvc: "c", s3Bucket: "b", s3Secret: "s" })).toThrow("exactly one of --pvc");
    expect(() => build({ to: "image-file", pvc: "c", path: "/abs" })).toThrow("remove the leading /");
    expect(() => build({ to: "image-file", pvc: "c", path: "a/../b" })).toThrow("remove the .. segments");
    expect(() => build({ to: "image-file", s3Bucket: "b" })).toThrow("needs --s3-secret");
    expect(() => build({ to: "image-file", pvc: "c", format: "iso" })).toThrow("--format iso is not one of raw, qcow2, vhd, vhd-fixed, vmdk");
    expect(() => build({ to: "image-file", pvc: "c", datastore: "ds1" })).toThrow("--datastore is for --to vsphere, not --to image-file");
    expect(() => build({ to: "cloud-image", region: "r" })).toThrow("needs --image-name, --oss-bucket, --credentials-secret");
    expect(() => build({ to: "cloud-image", region: "r", imageName: "i1", ossBucket: "bkt", credentialsSecret: "s", strategy: "IntermediateInstance" })).toThrow("-o yaml");
    expect(() => build({ to: "image-file", pvc: "c" }, {})).toThrow("needs --gateway");
  });

  it("refuses what the schema refuses, such as an image name ECS would not take", () => {
    expect(() => build({ to: "cloud-image", region: "r", imageName: "9bad", ossBucket: "bkt", credentialsSecret: "s" })).toThrow(/would be invalid: spec\.target\.cloudImage\.imageName must match pattern/);
  });

  it("default names stay short enough for the worker Jobs derived from them", () => {
    expect(defaultRestoreName("x".repeat(200), NOW)).toHaveLength(63);
  });
});
