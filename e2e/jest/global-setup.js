// Brings up a test bed of its own for this test run (random ports, its own
// directory), owned by this process: if the runner dies, the supervisor sees
// it and stops everything. Runs from dist/ (`npm run e2e` builds first).
import { clusterUp } from "../../dist/e2e/testbed/cluster.js";

export default async function globalSetup() {
  const name = `e2e-${process.pid}`;
  const testbed = await clusterUp(name, { ownerPid: process.pid, log: (line) => console.log(`  ${line}`) });
  process.env.LIFEBOAT_E2E_TESTBED = name;
  process.env.LIFEBOAT_E2E_STATE = JSON.stringify(testbed);
  // vcsim and S3 servers the suites start listen where the test bed's pods reach them.
  process.env.LIFEBOAT_TESTBED_HOST = testbed.hostAddress;
}
