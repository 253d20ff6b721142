import { describe, expect, it } from "@jest/globals";
import type { Schema } from "./schema.js";
import { restoreJob } from "./restore-job.js";
import { validateObject } from "./validation.js";

const props = (s: Schema | undefined): Record<string, Schema> => (s?.properties ?? {});
const imageFile = props(props(restoreJob.spec).target).imageFile;

function restore(target: Record<string, unknown>): unknown {
  return { apiVersion: "lifeboat.io/v1alpha1", kind: "RestoreJob", metadata: { name: "r" }, spec: { recoveryPointRef: { name: "p" }, gatewayRef: { name: "gw" }, target } };
}

describe("RestoreJob imageFile on a claim", () => {
  it("takes a claim and a relative path inside it", () => {
    expect(validateObject("RestoreJob", restore({ imageFile: { persistentVolumeClaim: { name: "images" }, path: "restores/db" } }))).toEqual([]);
  });

  // The API server evaluates the CEL rules; here: each is there, with a message naming the field to set.
  it("refuses a path without a claim, an absolute path and .. segments, naming the field", () => {
    const rules = (imageFile?.["x-kubernetes-validations"] ?? []) as { rule: string; message: string }[];
    const message = (rule: string) => rules.find((r) => r.rule === rule)?.message;
    expect(message("has(self.persistentVolumeClaim) != has(self.s3)")).toContain("set exactly one of persistentVolumeClaim");
    expect(message("!has(self.path) || has(self.persistentVolumeClaim)")).toContain("set spec.target.imageFile.persistentVolumeClaim");
    expect(message("!has(self.path) || !self.path.startsWith('/')")).toContain("spec.target.imageFile.path is relative");
    expect(message("!has(self.path) || !self.path.matches('(^|/)[.][.](/|$)')")).toContain("spec.target.imageFile.path must stay inside the claim");
    expect(new RegExp("(^|/)[.][.](/|$)").test("a/../b")).toBe(true);
    expect(new RegExp("(^|/)[.][.](/|$)").test("a/..b/c")).toBe(false);
  });
});
