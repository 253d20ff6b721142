import { beforeAll, describe, expect, it } from "@jest/globals";
import { createNamespace, kubectl } from "../support/testbed.js";

let ns: string;

beforeAll(async () => {
  ns = await createNamespace("crd");
});

const crd = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.testbed.lifeboat.io
spec:
  group: testbed.lifeboat.io
  names: { kind: Widget, plural: widgets, singular: widget }
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: { type: integer, minimum: 1, maximum: 10 }
                color: { type: string, enum: [red, blue] }
`;

describe("CRDs on the test bed's API server", () => {
  it("accepts a CRD and a valid instance by server-side apply, and refuses an instance that breaks the schema", async () => {
    const applied = await kubectl(["apply", "--server-side", "-f", "-"], crd);
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    const established = await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/widgets.testbed.lifeboat.io"]);
    expect(established.code).toBe(0);

    const good = await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], "apiVersion: testbed.lifeboat.io/v1\nkind: Widget\nmetadata: { name: good }\nspec: { size: 3, color: red }\n");
    expect(good.stdout).toContain("widget.testbed.lifeboat.io/good serverside-applied");
    expect(good.code).toBe(0);

    const bad = await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], "apiVersion: testbed.lifeboat.io/v1\nkind: Widget\nmetadata: { name: bad }\nspec: { size: 50, color: green }\n");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("spec.size: Invalid value: 50: spec.size in body should be less than or equal to 10");
    expect(bad.stderr).toContain('spec.color: Unsupported value: "green"');
    const got = await kubectl(["get", "widget", "bad", "-n", ns]);
    expect(got.code).not.toBe(0);
  });
});
