import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Whether the module at `moduleUrl` is the script node was started with,
 * so a CLI entry point runs only then and stays importable by tests. Paths
 * are compared after resolving links: `npm link` and krew put a symlink on
 * PATH, and kubectl runs the plugin through it.
 */
export function invokedDirectly(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
