import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { repoRoot } from "../../e2e/testbed/paths.js";
import { OPERATOR_MEMORY_ENV } from "./operator.js";

describe("the operator as bench:scale runs it", () => {
  it.each(Object.entries(OPERATOR_MEMORY_ENV))("has the memory tuning the chart gives the operator's container: %s", async (name, value) => {
    const deployment = await readFile(join(repoRoot, "charts/lifeboat/templates/deployment.yaml"), "utf8");
    const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    expect(deployment).toMatch(new RegExp(`- name: ${name}\\n\\s+value: "?${escaped}"?\\n`));
  });
});
