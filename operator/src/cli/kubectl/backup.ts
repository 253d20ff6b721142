/**
 * `kubectl lifeboat backup run PLAN`: asks for a run the way the API
 * intends (a new spec.runRequest; the controller starts a run when it
 * differs from status.lastHandledRunRequest) and, with --wait, follows the
 * run in the plan's status to its result.
 */
import type { BackupPlan } from "../../api/generated/types.js";
import { CliError, type LifeboatApi } from "./cluster.js";
import { formatDuration, formatRate, formatSize, progressBar } from "./format.js";
import { LiveView, poll, type FrameLine } from "./live.js";
import type { BackupRunRequest, Io } from "./program.js";

type VmRun = NonNullable<NonNullable<BackupPlan["status"]>["lastResults"]>[number];

/** A unique runRequest value: who asked and when, readable in `kubectl get -o yaml`. */
export function runRequestValue(now: Date): string {
  return `kubectl-lifeboat-${now.toISOString()}`;
}

/** One VM of a run as a line: phase, bar, bytes, rate and ETA while it transfers; reason when it failed. */
export function vmRunLine(prefix: string, vm: VmRun): string {
  const done = vm.bytesDone ?? 0;
  const total = vm.bytesTotal ?? 0;
  const figures = total > 0 || done > 0 ? `  ${progressBar(done, total)}  ${formatSize(done)} / ${formatSize(total)}` : "";
  const rate = vm.phase === "Transferring" ? `  ${formatRate(vm.throughputBytesPerSecond)}${vm.etaSeconds !== undefined ? `  ETA ${formatDuration(vm.etaSeconds)}` : ""}` : "";
  const why = vm.reason ? `  ${vm.reason}${vm.message ? `: ${vm.message}` : ""}` : "";
  return `${prefix}${vm.name.padEnd(20)} ${vm.phase.padEnd(12)}${figures}${rate}${why}`.trimEnd();
}

/** Why a plan would not start a run now, or undefined when it would. */
export function runBlocker(plan: BackupPlan): string | undefined {
  const name = plan.metadata.name ?? "";
  const ns = plan.metadata.namespace ?? "";
  if (plan.spec.paused) {
    return `BackupPlan ${name} is paused and starts no runs, requested or scheduled; unpause it first: kubectl patch backupplan ${name} -n ${ns} --type merge -p '{"spec":{"paused":false}}'`;
  }
  return undefined;
}

export async function backupRun(api: LifeboatApi, req: BackupRunRequest, io: Io): Promise<number> {
  const plan = await api.get<BackupPlan>("BackupPlan", req.plan);
  const blocker = runBlocker(plan);
  if (blocker) throw new CliError(blocker);
  const ready = plan.status?.conditions?.find((c) => c.type === "Ready");
  if (ready?.status !== "True") {
    io.err.write(`Warning: BackupPlan ${req.plan} is not Ready (${ready?.reason ?? "no status yet"}${ready?.message ? `: ${ready.message}` : ""}); the run starts once it is\n`);
  }
  const request = runRequestValue(new Date());
  await api.patchSpec("BackupPlan", req.plan, { runRequest: request });
  const going = plan.status?.currentRun?.id;
  io.out.write(`Requested a run of BackupPlan ${req.plan} (spec.runRequest=${request})${going ? `; run ${going} is still going, this one starts after it` : ""}\n`);
  if (!req.wait) return 0;

  const view = new LiveView(io.out);
  let runId: string | undefined;
  const finished = await poll(`the run of BackupPlan ${req.plan}`, 2000, req.timeoutSeconds, async () => {
    const p = await api.get<BackupPlan>("BackupPlan", req.plan);
    const s = p.status ?? {};
    if (runId === undefined) {
      if (p.spec.runRequest !== request && s.lastHandledRunRequest !== request) {
        throw new CliError(`spec.runRequest of BackupPlan ${req.plan} was changed to "${p.spec.runRequest ?? ""}" before the run started, so this request will not start one: \`kubectl lifeboat status\` shows what runs`);
      }
      if (s.lastHandledRunRequest !== request) {
        const r = s.conditions?.find((c) => c.type === "Ready");
        view.render([{ id: "waiting", state: `${r?.status ?? ""}${r?.reason ?? ""}`, text: `Waiting for the run to start (plan Ready=${r?.status ?? "Unknown"}${r?.reason ? ` ${r.reason}` : ""}${r?.message ? `: ${r.message}` : ""})` }]);
        return undefined;
      }
      // The controller writes lastHandledRunRequest and currentRun together; a run that already ended is lastRun.
      runId = s.currentRun?.id ?? s.lastRun?.id;
      if (runId === undefined) throw new CliError(`BackupPlan ${req.plan} marked the request handled but shows no run in status.currentRun or status.lastRun: see \`kubectl describe backupplan ${req.plan}\``);
    }
    if (s.currentRun?.id === runId) {
      const lines: FrameLine[] = [{ id: "run", state: "", text: `Run ${runId} of BackupPlan ${req.plan}:` }];
      for (const vm of s.currentRun.vms ?? []) lines.push({ id: vm.name, state: vm.phase, text: vmRunLine("  ", vm) });
      view.render(lines);
      return undefined;
    }
    return s.lastRun?.id === runId ? s : undefined;
  });
  view.detach();
  const results = finished.lastResults ?? [];
  for (const vm of results) io.out.write(`${vmRunLine("  ", vm)}${vm.recoveryPoint ? `  -> ${vm.recoveryPoint}` : ""}\n`);
  const last = finished.lastRun;
  io.out.write(`Run ${runId ?? ""} ${last?.result ?? "ended"}${last?.message ? `: ${last.message}` : ""}\n`);
  return last?.result === "Succeeded" ? 0 : 1;
}
