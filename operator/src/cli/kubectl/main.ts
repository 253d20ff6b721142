#!/usr/bin/env node
/**
 * `kubectl-lifeboat`: the kubectl plugin (krew naming: an executable named
 * kubectl-lifeboat on PATH makes `kubectl lifeboat` work; kubectl passes it
 * every argument after "lifeboat"). Wires the parsed commands to the
 * cluster and turns errors into messages and exit codes: 0 done, 1 failed
 * (the message says what to fix), 2 usage error.
 */
import { describe } from "../../runtime/errors.js";
import { backupRun } from "./backup.js";
import { CliError, LifeboatApi, loadKubeConfig, type GlobalOptions } from "./cluster.js";
import { failback, failover, resync, reverse } from "./dr.js";
import { points } from "./points.js";
import { runProgram, type Handlers, type Io } from "./program.js";
import { restore } from "./restore.js";
import { status } from "./status.js";
import { invokedDirectly } from "../invoked-directly.js";

/** The cluster, connected on first use (restore -o yaml may not need one). */
function connector(g: GlobalOptions): () => LifeboatApi {
  let api: LifeboatApi | undefined;
  return () => {
    if (!api) {
      const { kc, namespace } = loadKubeConfig(g);
      api = new LifeboatApi(kc, namespace);
    }
    return api;
  };
}

/** The handlers that act on a real cluster. */
export function clusterHandlers(io: Io): Handlers {
  return {
    backupRun: (g, r) => backupRun(connector(g)(), r, io),
    points: (g, r) => points(connector(g)(), r, io),
    restore: (g, r) => restore(connector(g), g.namespace, r, io),
    status: (g, r) => status(connector(g)(), r, io),
    failover: (g, r) => failover(connector(g)(), r, io),
    reverse: (g, r) => reverse(connector(g)(), r, io),
    failback: (g, r) => failback(connector(g)(), r, io),
    resync: (g, r) => resync(connector(g)(), r, io),
  };
}

/** Runs the plugin with `argv` (the arguments after the command name); returns the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  try {
    return await runProgram(clusterHandlers(io), io, argv);
  } catch (err) {
    // A CliError's message is the whole story; anything else gets its causes, and a stack with LIFEBOAT_DEBUG.
    const text = err instanceof CliError ? err.message : describe(err);
    io.err.write(`error: ${text}\n`);
    if (process.env.LIFEBOAT_DEBUG && err instanceof Error) io.err.write(`${err.stack ?? ""}\n`);
    return 1;
  }
}

if (invokedDirectly(import.meta.url)) {
  const io: Io = {
    out: { write: (s) => { process.stdout.write(s); }, isTTY: process.stdout.isTTY, get columns() { return process.stdout.columns; } },
    err: { write: (s) => { process.stderr.write(s); }, isTTY: process.stderr.isTTY },
  };
  void main(process.argv.slice(2), io).then((code) => { process.exitCode = code; });
}
