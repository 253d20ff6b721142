#!/usr/bin/env node
/**
 * The `lifeboat` command, which works on a vault directly. Each command
 * group lives in its own module and registers here; this file only
 * dispatches. The cluster-side commands (backup runs, points, restores,
 * status, failover) are the kubectl plugin in kubectl/main.ts.
 */
import { runVaultCommand } from "./vault-command.js";
import { invokedDirectly } from "./invoked-directly.js";

/** A command group: takes the arguments after its name, returns the exit code. */
export type CommandGroup = (args: string[]) => Promise<number>;

const groups: Record<string, { run: CommandGroup; summary: string }> = {
  vault: { run: runVaultCommand, summary: "work with a backup vault: init, backup, restore, ls, forget, prune, check, stats" },
};

function usage(): string {
  const lines = Object.entries(groups).map(([name, g]) => `  ${name.padEnd(8)} ${g.summary}`);
  return `Usage: lifeboat <group> <command> [options]\n\nGroups:\n${lines.join("\n")}\n\nRun \`lifeboat <group> --help\` for its commands.\n`;
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const group = groups[name];
  if (!group) {
    process.stderr.write(`lifeboat: unknown command group "${name}"\n\n${usage()}`);
    return 2;
  }
  return group.run(rest);
}

if (invokedDirectly(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      process.stderr.write(`lifeboat: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
