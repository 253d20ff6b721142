import { describe, expect, it } from "@jest/globals";
import { setCondition } from "./conditions.js";

describe("setCondition", () => {
  const t0 = new Date("2026-01-01T00:00:00Z");
  const t1 = new Date("2026-01-01T00:05:00Z");

  it("adds a condition with the generation it was observed at", () => {
    const c = setCondition(undefined, { type: "Ready", status: "True", reason: "Ok", message: "fine" }, 3, t0);
    expect(c).toEqual([{ type: "Ready", status: "True", reason: "Ok", message: "fine", observedGeneration: 3, lastTransitionTime: "2026-01-01T00:00:00Z" }]);
  });

  it("keeps lastTransitionTime while the status stays, and moves it when the status changes", () => {
    const a = setCondition(undefined, { type: "Ready", status: "True", reason: "Ok", message: "fine" }, 1, t0);
    const b = setCondition(a, { type: "Ready", status: "True", reason: "StillOk", message: "fine" }, 2, t1);
    expect(b[0]?.lastTransitionTime).toBe("2026-01-01T00:00:00Z");
    expect(b[0]?.reason).toBe("StillOk");
    const c = setCondition(b, { type: "Ready", status: "False", reason: "Broken", message: "not fine" }, 2, t1);
    expect(c[0]?.lastTransitionTime).toBe("2026-01-01T00:05:00Z");
  });

  it("leaves other conditions alone", () => {
    const a = setCondition(undefined, { type: "A", status: "True", reason: "R", message: "m" }, 1, t0);
    const b = setCondition(a, { type: "B", status: "False", reason: "R", message: "m" }, 1, t0);
    expect(b.map((c) => c.type)).toEqual(["A", "B"]);
  });
});
