import { describe, expect, it } from "@jest/globals";
import { carriesRestoreId, restoreAnnotation } from "./restore-identity.js";

describe("carriesRestoreId", () => {
  it("finds the id as a whole word, wherever the caller put it", () => {
    expect(carriesRestoreId("Drill of web-01 (restore drill-7)", "drill-7")).toBe(true);
    expect(carriesRestoreId("lifeboat.io/restore-id: drill-7", "drill-7")).toBe(true);
    expect(carriesRestoreId("drill-7", "drill-7")).toBe(true);
  });

  it("does not take a longer id, or no annotation, for this one", () => {
    expect(carriesRestoreId("restore drill-70", "drill-7")).toBe(false);
    expect(carriesRestoreId("restore xdrill-7", "drill-7")).toBe(false);
    expect(carriesRestoreId(undefined, "drill-7")).toBe(false);
    expect(carriesRestoreId("", "drill-7")).toBe(false);
  });
});

describe("restoreAnnotation", () => {
  it("keeps an annotation that carries the id, and appends the id to one that does not", () => {
    expect(restoreAnnotation("Drill drill-7 of web-01", "drill-7")).toBe("Drill drill-7 of web-01");
    expect(restoreAnnotation("Drill of web-01", "drill-7")).toBe("Drill of web-01\nlifeboat.io/restore-id: drill-7");
    expect(restoreAnnotation(undefined, "drill-7")).toBe("lifeboat.io/restore-id: drill-7");
    expect(restoreAnnotation("Notes", undefined)).toBe("Notes");
  });
});
