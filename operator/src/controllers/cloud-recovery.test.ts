import { describe, expect, it } from "@jest/globals";
import { chooseInstanceType, ignoredSizing, sizingOf } from "./cloud-recovery.js";

describe("chooseInstanceType", () => {
  it("takes a type of the protected instance's family, else the first by name", () => {
    expect(chooseInstanceType(["ecs.g6.xlarge", "ecs.g7.xlarge", "ecs.hfg7.xlarge"], "ecs.g7.large")).toBe("ecs.g7.xlarge");
    expect(chooseInstanceType(["ecs.g7.xlarge", "ecs.g6.xlarge"], "ecs.c7.large")).toBe("ecs.g6.xlarge");
    expect(chooseInstanceType(["ecs.g7.large", "ecs.g6.large"], undefined)).toBe("ecs.g6.large");
    expect(chooseInstanceType([], "ecs.g7.large")).toBeUndefined();
  });
});

describe("sizing fields", () => {
  it("choose an instance type only together, and only without one", () => {
    expect(sizingOf({ cpu: 4, memoryGiB: 16 })).toEqual({ cpu: 4, memoryGiB: 16 });
    expect(sizingOf({ cpu: 4 })).toBeUndefined();
    expect(ignoredSizing("spec", { cpu: 4, memoryGiB: 16 })).toEqual([]);
    expect(ignoredSizing("spec", {})).toEqual([]);
    expect(ignoredSizing("spec.recovery", { cpu: 4 })).toEqual(["spec.recovery.cpu (an instance type is chosen by vCPUs and memory together: set spec.recovery.memoryGiB too)"]);
    expect(ignoredSizing("spec", { instanceType: "ecs.g7.large", cpu: 4, memoryGiB: 16 })).toEqual(["spec.cpu (spec.instanceType decides)", "spec.memoryGiB (spec.instanceType decides)"]);
  });
});
