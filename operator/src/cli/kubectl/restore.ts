/**
 * `kubectl lifeboat restore POINT --to ...`: creates the RestoreJob that
 * restore-job.ts builds (or prints it with -o yaml/json), and with --wait
 * follows its status to Succeeded or Failed.
 */
import { dump } from "js-yaml";
import type { BackupPlan, RecoveryPoint, RestoreJob } from "../../api/generated/types.js";
import { CliError, type LifeboatApi } from "./cluster.js";
import { formatRate, formatSize, progressBar } from "./format.js";
import { LiveView, poll } from "./live.js";
import type { Io, RestoreCommandRequest } from "./program.js";
import { buildRestoreJob } from "./restore-job.js";

/** The plan's gateway and vCenter, which a restore of its point uses unless the flags say otherwise. */
async function defaultsFor(api: LifeboatApi, point: RecoveryPoint): Promise<{ gateway?: string; vCenter?: string }> {
  const planName = point.spec.planRef?.name;
  if (!planName) return {};
  const plan = await api.get<BackupPlan>("BackupPlan", planName).catch(() => undefined);
  return plan ? { gateway: plan.spec.gatewayRef.name, vCenter: plan.spec.vCenterRef.name } : {};
}

/** Whether a restore needs the cluster to fill a default in. Printing YAML with every reference given works offline. */
function needsDefaults(req: RestoreCommandRequest): boolean {
  return req.gateway === undefined || (req.to === "vsphere" && req.vcenter === undefined);
}

/** One line of a RestoreJob's progress. */
export function restoreLine(job: RestoreJob): string {
  const s = job.status ?? {};
  const p = s.progress ?? {};
  const succeeded = s.conditions?.find((c) => c.type === "Succeeded");
  const figures = p.bytesTotal ? `  ${progressBar(p.bytesDone ?? 0, p.bytesTotal)}  ${formatSize(p.bytesDone)} / ${formatSize(p.bytesTotal)}  ${formatRate(p.throughputBytesPerSecond)}` : "";
  return `${job.metadata.name ?? ""}  ${s.phase ?? "Pending"}${figures}${succeeded && s.phase !== "Running" ? `  ${succeeded.reason}: ${succeeded.message}` : ""}`;
}

/** What a finished restore made, in words. */
export function restoreResult(job: RestoreJob): string {
  const r = job.status?.result ?? {};
  const made = [r.vmName || r.vmMoRef ? `VM ${r.vmName ?? ""}${r.vmMoRef ? ` (${r.vmMoRef})` : ""}` : "", r.imageId ? `image ${r.imageId}` : "", ...(r.paths ?? [])].filter(Boolean);
  return made.join(", ");
}

/**
 * `connect` is called only when the cluster is needed: `-o yaml` with
 * --gateway (and --vcenter for vSphere) given prints without one, for a
 * repository that is applied elsewhere; the namespace is then -n's, else
 * the kubeconfig's when there is one, else left out.
 */
export async function restore(connect: () => LifeboatApi, namespaceFlag: string | undefined, req: RestoreCommandRequest, io: Io): Promise<number> {
  let defaults: { gateway?: string; vCenter?: string } = {};
  let namespace = namespaceFlag;
  if (!req.output || needsDefaults(req)) {
    let api: LifeboatApi;
    try {
      api = connect();
    } catch (err) {
      if (!req.output || !(err instanceof CliError)) throw err;
      throw new CliError(`${err.message}; -o ${req.output} needs no cluster when --gateway${req.to === "vsphere" ? " and --vcenter are" : " is"} given`, { cause: err });
    }
    namespace = api.namespace;
    const point = await api.get<RecoveryPoint>("RecoveryPoint", req.point);
    const available = point.status?.conditions?.find((c) => c.type === "Available");
    if (available?.status === "False") throw new CliError(`RecoveryPoint ${req.point} is not Available (${available.reason}: ${available.message}); choose another with \`kubectl lifeboat points ${point.spec.vm.name}\``);
    defaults = await defaultsFor(api, point);
  }
  if (req.output && namespace === undefined) {
    try {
      namespace = connect().namespace;
    } catch {
      namespace = undefined;
    }
  }
  const job = buildRestoreJob(req, defaults, req.output ? namespace : undefined, new Date());
  if (req.output === "yaml") {
    io.out.write(dump(job, { noRefs: true, lineWidth: -1 }));
    return 0;
  }
  if (req.output === "json") {
    io.out.write(`${JSON.stringify(job, null, 2)}\n`);
    return 0;
  }
  const api = connect();
  const created = await api.create(job);
  const name = created.metadata.name ?? "";
  io.out.write(`restorejob.lifeboat.io/${name} created\n`);
  if (!req.wait) return 0;

  const view = new LiveView(io.out);
  const done = await poll(`RestoreJob ${name}`, 2000, req.timeoutSeconds, async () => {
    const j = await api.get<RestoreJob>("RestoreJob", name);
    const phase = j.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") return j;
    const reason = j.status?.conditions?.find((c) => c.type === "Succeeded")?.reason ?? "";
    view.render([{ id: name, state: `${phase ?? "Pending"}/${reason}`, text: restoreLine(j) }]);
    return undefined;
  });
  view.detach();
  const cond = done.status?.conditions?.find((c) => c.type === "Succeeded");
  if (done.status?.phase === "Succeeded") {
    io.out.write(`RestoreJob ${name} Succeeded: ${restoreResult(done) || (cond?.message ?? "")}\n`);
    return 0;
  }
  io.out.write(`RestoreJob ${name} Failed (${cond?.reason ?? "unknown reason"}): ${cond?.message ?? ""}\n`);
  return 1;
}
