import { describe, expect, it } from "@jest/globals";
import { disposition, toCloudError } from "./ecs-api.js";

describe("ECS error handling", () => {
  it("waits as long as x-acs-retry-after says on throttling, else backs off", () => {
    expect(disposition({ code: "Throttling.User", statusCode: 400, retryAfter: 1500 }, 800)).toEqual({ kind: "retry", delayMs: 1500 });
    expect(disposition({ code: "Throttling", statusCode: 400 }, 800)).toEqual({ kind: "retry", delayMs: 800 });
    expect(disposition({ code: "Throttling.Api", retryAfter: 3_600_000 }, 800)).toEqual({ kind: "retry", delayMs: 60_000 });
  });

  it("backs off on ServiceUnavailable, other 5xx and dropped connections", () => {
    expect(disposition({ code: "ServiceUnavailable", statusCode: 503 }, 700)).toEqual({ kind: "retry", delayMs: 700 });
    expect(disposition({ code: "SomethingNew", statusCode: 502 }, 700)).toEqual({ kind: "retry", delayMs: 700 });
    expect(disposition(new Error("socket hang up"), 700)).toEqual({ kind: "retry", delayMs: 700 });
  });

  it("treats a resource in the wrong state as 'wait and poll'", () => {
    expect(disposition({ code: "IncorrectInstanceStatus", statusCode: 403 }, 1)).toEqual({ kind: "wait" });
    expect(disposition({ code: "IncorrectDiskStatus", statusCode: 403 }, 1)).toEqual({ kind: "wait" });
    expect(disposition({ code: "LastTokenProcessing", statusCode: 400 }, 1)).toEqual({ kind: "wait" });
  });

  it("fails at once on permanent errors, with what to fix", () => {
    const missingRole = { code: "NoSetRoletoECSServiceAccount", statusCode: 403, data: { Code: "NoSetRoletoECSServiceAccount", Message: "the role is not authorized", RequestId: "R-1" } };
    expect(disposition(missingRole, 1)).toEqual({ kind: "fail" });
    const err = toCloudError("ImportImage web-01", missingRole);
    expect(err.code).toBe("NoSetRoletoECSServiceAccount");
    expect(err.message).toBe("ImportImage web-01 failed: NoSetRoletoECSServiceAccount: the role is not authorized (request R-1); ECS may not read the OSS bucket: authorise the RAM role AliyunECSImageImportDefaultRole for ECS (the console's Cloud Resource Access Authorization page, or create the role with the policy AliyunECSImageImportRolePolicy)");
    expect(disposition({ code: "InvalidParameter", statusCode: 400 }, 1)).toEqual({ kind: "fail" });
  });
});
