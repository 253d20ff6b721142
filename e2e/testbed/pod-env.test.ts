import { describe, expect, it } from "@jest/globals";
import { expand, fieldValue } from "./pod-env.js";

describe("pod env expansion", () => {
  it("expands earlier variables, leaves unknown ones, and unescapes $$", () => {
    const env = { A: "1", B: "two" };
    expect(expand("$(A)-$(B)", env)).toBe("1-two");
    expect(expand("$(MISSING)", env)).toBe("$(MISSING)");
    expect(expand("$$(A)", env)).toBe("$(A)");
  });

  it("reads downward API fields, labels and annotations", () => {
    const pod = { metadata: { name: "p", namespace: "n", uid: "u", labels: { app: "x" }, annotations: { "a/b": "c" } }, spec: { nodeName: "node", containers: [] } };
    expect(fieldValue(pod, "metadata.name")).toBe("p");
    expect(fieldValue(pod, "spec.nodeName")).toBe("node");
    expect(fieldValue(pod, "metadata.labels['app']")).toBe("x");
    expect(fieldValue(pod, "metadata.annotations['a/b']")).toBe("c");
    expect(() => fieldValue(pod, "status.nothing")).toThrow("unsupported fieldRef status.nothing");
  });
});
