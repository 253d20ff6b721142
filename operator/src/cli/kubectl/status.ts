/**
 * `kubectl lifeboat status`: one screen of what Lifeboat is doing in a
 * namespace: plans and their last results, the runs and restores going on
 * with progress bars and rates, and protected servers with their RPO.
 * On a terminal it refreshes in place until Ctrl-C; otherwise (or with
 * --no-watch) it prints one snapshot.
 */
import type { BackupPlan, ProtectedServer, RestoreJob } from "../../api/generated/types.js";
import type { LifeboatApi } from "./cluster.js";
import { vmRunLine } from "./backup.js";
import { formatAge, formatDuration, formatTable } from "./format.js";
import { LiveView, sleep, type FrameLine } from "./live.js";
import type { Io, StatusRequest } from "./program.js";
import { restoreLine } from "./restore.js";

/** What status shows, read in one round. */
export interface StatusSnapshot {
  readonly namespace: string;
  readonly plans: readonly BackupPlan[];
  readonly restores: readonly RestoreJob[];
  readonly servers: readonly ProtectedServer[];
}

function ready(obj: { status?: { conditions?: { type: string; status: string; reason: string }[] } }): string {
  const c = obj.status?.conditions?.find((x) => x.type === "Ready");
  return c ? `${c.status}${c.status === "True" ? "" : ` (${c.reason})`}` : "Unknown";
}

/** The snapshot as text lines; `now` makes ages testable. */
export function statusLines(s: StatusSnapshot, now: Date): string[] {
  const out: string[] = [`Namespace ${s.namespace}, ${now.toISOString().replace(/\.\d+Z$/, "Z")}`, ""];
  if (s.plans.length === 0) out.push("No BackupPlans.");
  else {
    const rows = s.plans.map((p) => [
      p.metadata.name ?? "",
      ready(p),
      p.spec.paused ? "paused" : (p.spec.schedule?.cron ?? "on request"),
      p.status?.currentRun ? "running" : p.status?.lastRun?.result ?? "-",
      formatAge(p.status?.lastRun?.completionTime ?? p.status?.lastRun?.startTime, now),
      p.status?.nextRun ?? "-",
    ]);
    out.push(...formatTable(["Plan", "Ready", "Schedule", "Last Result", "Last Run", "Next Run"], rows).trimEnd().split("\n"));
  }
  const running = s.plans.filter((p) => p.status?.currentRun);
  for (const p of running) {
    const run = p.status?.currentRun;
    out.push("", `Run ${run?.id ?? ""} of ${p.metadata.name ?? ""} (${run?.trigger ?? ""}, started ${formatAge(run?.startTime, now)} ago):`);
    for (const vm of run?.vms ?? []) out.push(vmRunLine("  ", vm));
  }
  const active = s.restores.filter((r) => r.status?.phase !== "Succeeded" && r.status?.phase !== "Failed");
  if (active.length) {
    out.push("", "Restores:");
    for (const r of active) out.push(`  ${restoreLine(r)}`);
  }
  const finished = s.restores.filter((r) => r.status?.phase === "Succeeded" || r.status?.phase === "Failed");
  if (finished.length) out.push("", `${finished.filter((r) => r.status?.phase === "Succeeded").length} restore(s) Succeeded, ${finished.filter((r) => r.status?.phase === "Failed").length} Failed (kubectl get restorejobs)`);
  if (s.servers.length) {
    const rows = s.servers.map((ps) => [
      ps.metadata.name ?? "",
      ps.spec.source.vmName ?? ps.spec.source.instanceId ?? "",
      ps.spec.desiredState ?? "Replicating",
      ps.status?.stage ?? "-",
      // The RPO while replicating: the newest point's age (RPOMet is Unknown while the server does not replicate).
      ps.status?.lastRecoveryPointTime && ps.status.conditions?.find((c) => c.type === "RPOMet")?.status !== "Unknown"
        ? `${formatAge(ps.status.lastRecoveryPointTime, now)} / ${formatDuration(ps.status.rpoTargetSeconds ?? 300)}`
        : "-",
      ready(ps),
    ]);
    out.push("", ...formatTable(["Protected Server", "Source", "Desired", "Stage", "RPO / Target", "Ready"], rows).trimEnd().split("\n"));
    for (const ps of s.servers) {
      const c = ps.status?.currentCycle;
      if (c?.startTime && !c.completionTime) {
        out.push(vmRunLine("  cycle ", {
          name: ps.metadata.name ?? "",
          phase: "Transferring",
          bytesDone: c.bytesDone ?? 0,
          bytesTotal: c.bytesTotal ?? 0,
          throughputBytesPerSecond: c.throughputBytesPerSecond ?? 0,
          ...(c.etaSeconds !== undefined ? { etaSeconds: c.etaSeconds } : {}),
          // While the worker Job retries a failed attempt, why it failed.
          ...(c.reason ? { reason: c.reason } : {}),
          ...(c.message ? { message: c.message } : {}),
        }));
      }
    }
  }
  return out;
}

async function snapshot(api: LifeboatApi): Promise<StatusSnapshot> {
  const [plans, restores, servers] = await Promise.all([api.list<BackupPlan>("BackupPlan"), api.list<RestoreJob>("RestoreJob"), api.list<ProtectedServer>("ProtectedServer")]);
  const byName = <T extends { metadata: { name?: string } }>(a: T, b: T) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? "");
  return { namespace: api.namespace, plans: plans.sort(byName), restores: restores.sort(byName), servers: servers.sort(byName) };
}

export async function status(api: LifeboatApi, req: StatusRequest, io: Io): Promise<number> {
  if (!req.watch) {
    io.out.write(`${statusLines(await snapshot(api), new Date()).join("\n")}\n`);
    return 0;
  }
  // A terminal: redraw in place until Ctrl-C, which ends the command normally.
  let interrupted = false;
  const onInt = () => { interrupted = true; };
  const stopped = () => interrupted;
  process.once("SIGINT", onInt);
  const view = new LiveView(io.out);
  try {
    while (!stopped()) {
      const lines = statusLines(await snapshot(api), new Date());
      view.render(lines.map((text, i): FrameLine => ({ id: String(i), state: text, text })));
      for (let waited = 0; waited < req.intervalSeconds * 1000 && !stopped(); waited += 200) await sleep(200);
    }
  } finally {
    process.removeListener("SIGINT", onInt);
  }
  return 0;
}
