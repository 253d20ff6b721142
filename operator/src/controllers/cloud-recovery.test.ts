import { describe, expect, it } from "@jest/globals";
import type { EcsDr } from "../cloud/alibaba/ecs-dr.js";
import { chooseInstanceType, chooseInstanceTypeStep, ignoredSizing, sizeOf, sizesToTry, sizingOf, type Recovered } from "./cloud-recovery.js";

describe("chooseInstanceType", () => {
  it("takes a type of the protected instance's family, else of the preferred x86 families in order, else the first by name", () => {
    expect(chooseInstanceType(["ecs.g6.xlarge", "ecs.g7.xlarge", "ecs.hfg7.xlarge"], "ecs.g7.large")).toBe("ecs.g7.xlarge");
    expect(chooseInstanceType(["ecs.g6.xlarge", "ecs.g7.xlarge"], "ecs.hfc7.large")).toBe("ecs.g7.xlarge");
    // ARM (g8y, c6r) and burstable (t6) types of the same size sort first by name; they come last.
    expect(chooseInstanceType(["ecs.c6r.large", "ecs.g8y.large", "ecs.t6-c1m4.large", "ecs.g6.large"], undefined)).toBe("ecs.g6.large");
    expect(chooseInstanceType(["ecs.hfg7.large", "ecs.c6r.large"], undefined)).toBe("ecs.c6r.large");
    expect(chooseInstanceType([], "ecs.g7.large")).toBeUndefined();
  });
});

describe("sizesToTry", () => {
  it("asks for the size itself, and for a size to fit, the smallest standard shapes at least as large", () => {
    expect(sizesToTry({ cpu: 4, memoryGiB: 16 })).toEqual([{ cpu: 4, memoryGiB: 16 }]);
    expect(sizesToTry({ cpu: 6, memoryGiB: 12, atLeast: true })).toEqual([
      { cpu: 6, memoryGiB: 12 },
      { cpu: 8, memoryGiB: 16 },
      { cpu: 8, memoryGiB: 32 },
      { cpu: 8, memoryGiB: 64 },
      { cpu: 12, memoryGiB: 12 },
      { cpu: 12, memoryGiB: 24 },
      { cpu: 12, memoryGiB: 48 },
      { cpu: 12, memoryGiB: 96 },
    ]);
    expect(sizesToTry({ cpu: 1, memoryGiB: 1, atLeast: true }).slice(0, 3)).toEqual([{ cpu: 1, memoryGiB: 1 }, { cpu: 1, memoryGiB: 2 }, { cpu: 1, memoryGiB: 4 }]);
  });
});

describe("chooseInstanceTypeStep", () => {
  const target = { region: "cn-hangzhou", zone: "cn-hangzhou-i", network: { vSwitchId: "vsw", securityGroupId: "sg" }, eip: false, name: "web", tags: {}, token: "t" };
  /** ECS's answer per size: what a zone has in stock. */
  function zone(stock: Record<string, string[]>) {
    const asked: string[] = [];
    const ecs = { instanceTypesInStock: (_r: string, _z: string, cores: number, memoryGiB: number, category?: string) => { asked.push(`${cores}/${memoryGiB}${category ? ` ${category}` : ""}`); return Promise.resolve(stock[`${cores}/${memoryGiB}`] ?? []); } } as unknown as EcsDr;
    return { ecs, asked };
  }

  it("records the first size in stock and says so, before anything is made", async () => {
    const { ecs, asked } = zone({ "8/16": ["ecs.g7.2xlarge", "ecs.g6.2xlarge"] });
    const made: Recovered = {};
    const step = await chooseInstanceTypeStep(ecs, { ...target, sizing: { cpu: 6, memoryGiB: 12, atLeast: true }, diskCategory: "cloud_essd" }, made, undefined);
    expect(made.instanceType).toBe("ecs.g7.2xlarge");
    expect(step).toEqual({ state: "running", message: "chose instance type ecs.g7.2xlarge (8 vCPUs, 16 GiB) in zone cn-hangzhou-i" });
    expect(asked).toEqual(["6/12 cloud_essd", "8/16 cloud_essd"]);
  });

  it("fails with NoInstanceTypeInStock when no size asked for has stock, and asks for nothing larger unless the size is one to fit", async () => {
    const { ecs, asked } = zone({ "8/16": ["ecs.g7.2xlarge"] });
    const made: Recovered = {};
    const step = await chooseInstanceTypeStep(ecs, { ...target, sizing: { cpu: 6, memoryGiB: 12 } }, made, undefined);
    expect(step).toEqual({ state: "failed", reason: "NoInstanceTypeInStock", message: "zone cn-hangzhou-i has no instance type with 6 vCPUs and 12 GiB in stock: set an instance type, or other CPU and memory" });
    expect(asked).toEqual(["6/12"]);
    expect(made.instanceType).toBeUndefined();
  });
});

describe("sizing fields", () => {
  it("choose an instance type only together, and only without one", () => {
    expect(sizingOf({ cpu: 4, memoryGiB: 16 })).toEqual({ cpu: 4, memoryGiB: 16 });
    expect(sizingOf({ cpu: 4 })).toBeUndefined();
    const vm = { cpu: 6, memoryGiB: 12, atLeast: true };
    expect(sizeOf({ instanceType: "ecs.g7.large", cpu: 4, memoryGiB: 16 }, vm)).toEqual({ instanceType: "ecs.g7.large" });
    expect(sizeOf({ cpu: 4, memoryGiB: 16 }, vm)).toEqual({ sizing: { cpu: 4, memoryGiB: 16 } });
    expect(sizeOf({ cpu: 4 }, vm)).toEqual({ sizing: vm });
    expect(sizeOf({})).toEqual({ sizing: undefined });
    expect(ignoredSizing("spec", { cpu: 4, memoryGiB: 16 })).toEqual([]);
    expect(ignoredSizing("spec", {})).toEqual([]);
    expect(ignoredSizing("spec.recovery", { cpu: 4 })).toEqual(["spec.recovery.cpu (an instance type is chosen by vCPUs and memory together: set spec.recovery.memoryGiB too)"]);
    expect(ignoredSizing("spec", { instanceType: "ecs.g7.large", cpu: 4, memoryGiB: 16 })).toEqual(["spec.cpu (spec.instanceType decides)", "spec.memoryGiB (spec.instanceType decides)"]);
  });
});
