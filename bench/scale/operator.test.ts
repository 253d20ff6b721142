import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { repoRoot } from "../../e2e/testbed/paths.js";
import { OPERATOR_GLIBC_TUNABLES } from "./operator.js";

describe("the operator as bench:scale runs it", () => {
  it("has the malloc tuning the chart gives the operator's container", async () => {
    const deployment = await readFile(join(repoRoot, "charts/lifeboat/templates/deployment.yaml"), "utf8");
    expect(deployment).toMatch(new RegExp(`- name: GLIBC_TUNABLES\\n\\s+value: ${OPERATOR_GLIBC_TUNABLES.replace(/\./g, "\\.")}\\n`));
  });
});
