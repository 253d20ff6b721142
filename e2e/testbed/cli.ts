/**
 * The test bed's command line: `build`, `up`, `down`, `status` and `demo`
 * (see the README). The default test bed is named "default"; set
 * LIFEBOAT_TESTBED to run another beside it.
 */
import { components, ensureComponent, type ComponentName } from "./components.js";
import { clusterDown, clusterUp, readTestbed } from "./cluster.js";
import { runDemo } from "./demo.js";

const name = process.env.LIFEBOAT_TESTBED ?? "default";

async function main(command: string | undefined): Promise<void> {
  switch (command) {
    case "build":
      for (const c of Object.keys(components) as ComponentName[]) console.log(`${c}: ${await ensureComponent(c)}`);
      return;
    case "up": {
      const tb = await clusterUp(name);
      console.log(`\nexport KUBECONFIG=${tb.kubeconfig}\n${tb.kubectl} get nodes`);
      return;
    }
    case "down":
      await clusterDown(name);
      return;
    case "status": {
      const tb = await readTestbed(name);
      console.log(tb ? JSON.stringify({ name, server: tb.server, kubeconfig: tb.kubeconfig, kubectl: tb.kubectl }, null, 2) : `Test bed ${name} is not running`);
      return;
    }
    case "demo":
      await runDemo(name);
      return;
    default:
      console.error("usage: cli.js build|up|down|status|demo");
      process.exitCode = 2;
  }
}

// Exit explicitly: an open socket or timer left by a failed step must not keep
// the command running after it has said it failed.
main(process.argv[2]).then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    if (err instanceof Error && err.cause) console.error("cause:", err.cause);
    process.exit(1);
  },
);
