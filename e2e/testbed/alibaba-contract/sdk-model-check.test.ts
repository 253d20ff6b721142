import { describe, expect, it } from "@jest/globals";
import { DescribeDisksResponseBody } from "@alicloud/ecs20140526";
import { unknownFields } from "./sdk-model-check.js";

describe("unknownFields", () => {
  it("accepts a body of declared fields and walks arrays and nested models", () => {
    expect(unknownFields(DescribeDisksResponseBody, { RequestId: "x", TotalCount: 1, Disks: { Disk: [{ DiskId: "d-1", Size: 20, Tags: { Tag: [{ TagKey: "k", TagValue: "v" }] } }] } })).toEqual([]);
  });

  it("names an undeclared key at any depth, and a value of the wrong kind", () => {
    expect(unknownFields(DescribeDisksResponseBody, { RequestId: "x", Bogus: 1, Disks: { Disk: [{ DiskId: "d-1", Size: "20", Tags: { Tag: [{ Key: "k" }] } }] } })).toEqual([
      "$.Bogus: not declared by the SDK model",
      '$.Disks.Disk[0].Size: "20" is not a number',
      "$.Disks.Disk[0].Tags.Tag[0].Key: not declared by the SDK model",
    ]);
  });
});
