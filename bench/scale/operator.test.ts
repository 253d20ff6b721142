import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { repoRoot } from "../../e2e/testbed/paths.js";
import { runCommand } from "../../e2e/testbed/command.js";
import { cgroupLaunch, OPERATOR_MEMORY_ENV } from "./operator.js";

describe("the operator as bench:scale runs it", () => {
  it.each(Object.entries(OPERATOR_MEMORY_ENV))("has the memory tuning the chart gives the operator's container: %s", async (name, value) => {
    const deployment = await readFile(join(repoRoot, "charts/lifeboat/templates/deployment.yaml"), "utf8");
    const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    expect(deployment).toMatch(new RegExp(`- name: ${name}\\n\\s+value: "?${escaped}"?\\n`));
  });

  it("gives the exec'd program the exec's variables, and the cgroup its PID", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bench-launch-"));
    try {
      await writeFile(join(dir, "cgroup.procs"), "");
      const launch = cgroupLaunch(dir, { DUMP_TO: "/a path/with spaces", EMPTY: "" });
      const shown = await runCommand("/bin/sh", ["-c", launch.script, "sh", "/bin/sh", "-c", 'echo "$$|$DUMP_TO|${EMPTY-unset}"'], { env: { PATH: process.env.PATH, ...launch.env } });
      const [pid, dumpTo, empty] = shown.stdout.trim().split("|");
      expect(dumpTo).toBe("/a path/with spaces");
      expect(empty).toBe("");
      // exec keeps the PID: the program runs in the cgroup the shell joined.
      expect((await readFile(join(dir, "cgroup.procs"), "utf8")).trim()).toBe(pid);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a variable name the shell would not take", () => {
    expect(() => cgroupLaunch("/sys/fs/cgroup/x", { "A; rm -rf /": "1" })).toThrow(/Not an environment variable's name/);
  });
});
