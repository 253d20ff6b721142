// Always runs after the e2e suites, passed or failed: stops the test bed.
import { rm } from "node:fs/promises";
import { clusterDown } from "../../dist/e2e/testbed/cluster.js";
import { testbedDir } from "../../dist/e2e/testbed/paths.js";

export default async function globalTeardown() {
  const name = process.env.LIFEBOAT_E2E_TESTBED;
  if (!name) return;
  await clusterDown(name, (line) => console.log(`  ${line}`));
  // Keep the logs of a failed run in CI for diagnosis; otherwise tidy up.
  if (!process.env.LIFEBOAT_KEEP_TESTBED) await rm(testbedDir(name), { recursive: true, force: true });
}
