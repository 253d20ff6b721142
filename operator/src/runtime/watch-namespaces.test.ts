import { describe, expect, it } from "@jest/globals";
import { watchNamespaces } from "./watch-namespaces.js";

describe("watchNamespaces", () => {
  it("is empty (all namespaces) when neither variable is set or both are blank", () => {
    expect(watchNamespaces({})).toEqual([]);
    expect(watchNamespaces({ WATCH_NAMESPACES: "", WATCH_NAMESPACE: "" })).toEqual([]);
    expect(watchNamespaces({ WATCH_NAMESPACES: " , ,", WATCH_NAMESPACE: " " })).toEqual([]);
  });

  it("reads a comma-separated list, trimmed, without duplicates, sorted", () => {
    expect(watchNamespaces({ WATCH_NAMESPACES: "prod, dev ,prod,," })).toEqual(["dev", "prod"]);
  });

  it("adds the deprecated single WATCH_NAMESPACE to the list", () => {
    expect(watchNamespaces({ WATCH_NAMESPACE: "legacy" })).toEqual(["legacy"]);
    expect(watchNamespaces({ WATCH_NAMESPACES: "a,b", WATCH_NAMESPACE: "b" })).toEqual(["a", "b"]);
  });

  it("refuses what is not a namespace name, naming it", () => {
    expect(() => watchNamespaces({ WATCH_NAMESPACES: "prod,Dev" })).toThrow(/"Dev" is not a namespace name/);
    expect(() => watchNamespaces({ WATCH_NAMESPACES: "prod dev" })).toThrow(/"prod dev"/);
    expect(() => watchNamespaces({ WATCH_NAMESPACES: "-a" })).toThrow(/"-a"/);
    expect(() => watchNamespaces({ WATCH_NAMESPACE: "x".repeat(64) })).toThrow(/not a namespace name/);
    expect(watchNamespaces({ WATCH_NAMESPACE: "x".repeat(63) })).toEqual(["x".repeat(63)]);
  });
});
