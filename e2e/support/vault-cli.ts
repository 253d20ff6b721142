/**
 * The `lifeboat vault` command line as the vault suites run it: a child
 * process of the built CLI (dist/), its output collected, its exit code
 * returned rather than thrown, so a test can assert a refusal.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../testbed/paths.js";

const CLI = join(repoRoot, "dist", "operator", "src", "cli", "main.js");

/** How a run ended and what it printed. */
export interface VaultCliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Starts `lifeboat vault ARGS` with `env` over this process's; the child is there to kill mid-run. */
export function startVaultCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<VaultCliRun> } {
  const child = spawn(process.execPath, [CLI, "vault", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<VaultCliRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => { resolve({ code, signal, stdout, stderr }); });
  });
  return { child, done };
}

/** Runs `lifeboat vault ARGS` to its end. */
export function vaultCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<VaultCliRun> {
  return startVaultCli(args, env).done;
}

/** Runs `lifeboat vault ARGS`; resolves with its stdout, or throws with its stderr unless it exits 0. */
export async function vaultOk(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const run = await vaultCli(args, env);
  if (run.code !== 0) throw new Error(`lifeboat vault ${args.join(" ")} exited ${run.code}:\n${run.stderr.slice(-3000)}\n${run.stdout.slice(-1000)}`);
  return run.stdout;
}
