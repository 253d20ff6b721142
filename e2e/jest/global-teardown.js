// Always runs after the e2e suites, passed or failed: stops the test bed.
import { rm } from "node:fs/promises";
import { clusterDown, unexpectedStop } from "../../dist/e2e/testbed/cluster.js";
import { testbedDir } from "../../dist/e2e/testbed/paths.js";

export default async function globalTeardown() {
  const name = process.env.LIFEBOAT_E2E_TESTBED;
  if (!name) return;
  // A test bed that died mid-run fails every later test with ECONNREFUSED;
  // say why it died, where the test output will be read.
  const crash = await unexpectedStop(name).catch((err) => `Could not tell why test bed ${name} stopped: ${err}`);
  if (crash) console.log(crash);
  await clusterDown(name, (line) => console.log(`  ${line}`));
  // Keep the logs of a crashed test bed, or when asked; otherwise tidy up.
  if (!crash && !process.env.LIFEBOAT_KEEP_TESTBED) await rm(testbedDir(name), { recursive: true, force: true });
}
