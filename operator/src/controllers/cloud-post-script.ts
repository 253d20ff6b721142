/**
 * Post scripts (seed 004: the switch-over script of a drill or failover, the
 * post-recovery script of a failback): a script that Cloud Assistant runs
 * inside an ECS instance DR has brought up, e.g. to point the application at
 * its peers at the new site or to check that it answers.
 *
 * A run is one step machine kept in the status of what started it (a
 * failover, failback or drill): recorded first, then wait for the instance's
 * Cloud Assistant agent (DescribeCloudAssistantStatus), RunCommand once (a
 * ClientToken of the instance, the script and the run's attempt, so a pass
 * that dies before its status write makes no second run), then
 * DescribeInvocationResults until it ends. ECS not answering leaves the run
 * where it is; only a refusal of the request, or the script's own end,
 * finishes it. The record names the instance and a hash of the script: a new
 * instance runs the script afresh, and a script changed after a failure runs
 * again on the same instance; one that succeeded is never run twice.
 */
import { createHash } from "node:crypto";
import { POST_SCRIPT_MAX_BYTES } from "../api/common.js";
import type { ProtectedServer, RecoveryDrill } from "../api/generated/types.js";
import { CloudApiError } from "../cloud/alibaba/ecs-api.js";
import { clientToken, type EcsDr, type InvocationResult } from "../cloud/alibaba/ecs-dr.js";
import { removeCondition, type ConditionInput } from "../runtime/conditions.js";
import { describe } from "../runtime/errors.js";
import { isoSeconds } from "../util/time.js";

export type PostScript = NonNullable<RecoveryDrill["spec"]["postScript"]>;
export type PostScriptRecord = NonNullable<NonNullable<RecoveryDrill["status"]>["postScript"]>;

/** How long a script waits for the instance's Cloud Assistant agent to come online before it fails. */
export const AGENT_WAIT_MS = 10 * 60_000;
/** How much of a script's output its record keeps: the end, where errors are. */
export const OUTPUT_KEPT = 4096;
/** Invocation statuses of a run that has not ended (DescribeInvocationResults InvocationStatus). */
const UNFINISHED = new Set(["Pending", "Running", "Stopping", ""]);

export type PostScriptStep =
  | { readonly state: "running"; readonly message: string }
  | { readonly state: "succeeded"; readonly message: string }
  | { readonly state: "failed"; readonly reason: string; readonly message: string };

/** A hash of what decides a run: a change to any of it after a failure runs the script again. */
export function scriptHash(script: PostScript): string {
  const { type = "RunShellScript", content, timeoutSeconds = 600, username = "", workingDir = "" } = script;
  return createHash("sha256").update(JSON.stringify([type, content, timeoutSeconds, username, workingDir])).digest("hex").slice(0, 16);
}

/** The last `OUTPUT_KEPT` bytes of `output`, cut at a character. */
export function outputTail(output: string): string {
  const bytes = Buffer.from(output, "utf8");
  if (bytes.length <= OUTPUT_KEPT) return output;
  // Dropping a partial character's leading bytes leaves U+FFFD at most at the start.
  return `…${bytes.subarray(bytes.length - OUTPUT_KEPT).toString("utf8").replace(/^\uFFFD+/, "")}`;
}

/** True when `record` is not the last word on `script` for `instanceId`: never run there, or failed and changed since. */
export function postScriptDue(script: PostScript | undefined, record: PostScriptRecord | undefined, instanceId: string): boolean {
  if (!script) return false;
  if (!record || record.instanceId !== instanceId) return true;
  if (record.phase === "Failed") return record.contentHash !== scriptHash(script);
  return record.phase !== "Succeeded";
}

function ended(record: PostScriptRecord): PostScriptStep {
  const where = `on instance ${record.instanceId ?? ""} (invocation ${record.invokeId ?? "none"})`;
  if (record.phase === "Succeeded") return { state: "succeeded", message: `the post script succeeded ${where}` };
  const why = record.errorCode ? `${record.invocationStatus ?? "Failed"}, ${record.errorCode}` : (record.invocationStatus ?? "Failed");
  const code = record.exitCode !== undefined ? `, exit code ${record.exitCode}` : "";
  const output = record.output ? `; its output ends: ${record.output.slice(-400)}` : "";
  return { state: "failed", reason: failureReason(record), message: `the post script failed ${where}: ${why}${code}${output}` };
}

function failureReason(record: PostScriptRecord): string {
  if (record.invocationStatus === "Timeout" || record.errorCode === "ExecutionTimeout") return "PostScriptTimedOut";
  if (record.invocationStatus && record.invocationStatus !== "Failed") return `PostScript${record.invocationStatus.replace(/[^A-Za-z0-9]/g, "")}`;
  return record.errorCode && !record.invocationStatus ? record.errorCode.replace(/[^A-Za-z0-9]/g, "") : "PostScriptFailed";
}

function fail(record: PostScriptRecord, errorCode: string, message: string, now: Date): PostScriptStep {
  Object.assign(record, { phase: "Failed", errorCode, finishTime: isoSeconds(now) });
  return { state: "failed", reason: errorCode, message };
}

/**
 * Takes the next step of running `script` on `instanceId`, recording it in
 * `holder.postScript`. `name` names the command in Cloud Assistant; `token`
 * makes the ClientToken (with the instance, the script's hash and the attempt).
 */
export async function runPostScript(
  ecs: EcsDr,
  regionId: string,
  instanceId: string,
  script: PostScript,
  holder: { postScript?: PostScriptRecord | undefined },
  name: string,
  token: string,
  now = new Date(),
): Promise<PostScriptStep> {
  const hash = scriptHash(script);
  const previous = holder.postScript;
  if (previous && !postScriptDue(script, previous, instanceId)) return ended(previous);
  // A run under way finishes before a changed script runs (see its end below). A new run is recorded (its attempt,
  // part of its ClientToken) before it is sent: the same content again after another gets a token of its own.
  if (!previous || previous.instanceId !== instanceId || previous.phase === "Failed" || (previous.contentHash !== hash && !previous.invokeId)) {
    const attempt = previous?.instanceId === instanceId ? (previous.attempt ?? 1) + (previous.invokeId ? 1 : 0) : 1;
    holder.postScript = { phase: "Waiting", instanceId, contentHash: hash, attempt, waitingSince: isoSeconds(now) };
    return { state: "running", message: `waiting for the Cloud Assistant agent of instance ${instanceId} to run the post script` };
  }
  const record = previous;
  // Both waits end, whatever ECS answers meanwhile: the agent's, and a run's (its timeout, as sent, and some slack).
  const agentDeadline = Date.parse(record.waitingSince ?? isoSeconds(now)) + AGENT_WAIT_MS;
  const runDeadline = Date.parse(record.startTime ?? isoSeconds(now)) + (record.timeoutSeconds ?? script.timeoutSeconds ?? 600) * 1000 + LOST_AFTER_TIMEOUT_MS;
  if (!record.invokeId) {
    const bytes = Buffer.byteLength(script.content, "utf8");
    if (bytes > POST_SCRIPT_MAX_BYTES) {
      return fail(record, "PostScriptTooLong", `the post script is ${bytes} bytes of UTF-8, over the ${POST_SCRIPT_MAX_BYTES} Cloud Assistant takes (24 KB once Base64-encoded): shorten it`, now);
    }
    let ready: boolean;
    try {
      ready = await ecs.cloudAssistantReady(regionId, instanceId);
    } catch (err) {
      return unanswered(record, "DescribeCloudAssistantStatus", err, agentDeadline, now);
    }
    delete record.errorCode;
    if (!ready) {
      record.waitingSince ??= isoSeconds(now);
      if (now.getTime() >= agentDeadline) {
        return fail(record, "CloudAssistantNotRunning", `the Cloud Assistant agent of instance ${instanceId} did not come online in ${AGENT_WAIT_MS / 60_000} minutes: the post script needs it installed and running in the instance's image`, now);
      }
      return { state: "running", message: `waiting for the Cloud Assistant agent of instance ${instanceId} to run the post script` };
    }
    const timeoutSeconds = script.timeoutSeconds ?? 600;
    try {
      record.invokeId = await ecs.runCommand(regionId, {
        instanceId,
        name: name.slice(0, 128),
        type: script.type ?? "RunShellScript",
        content: script.content,
        timeoutSeconds,
        username: script.username,
        workingDir: script.workingDir,
        token: clientToken(token, "post-script", instanceId, hash, String(record.attempt ?? 1)),
      });
    } catch (err) {
      // Refused for what it is (its content, type or parameters, the instance gone): the script's failure, kept until
      // it changes. Anything else (the network, throttling, permissions) is asked again with the same ClientToken,
      // which makes no second run of a call ECS did take.
      if (err instanceof CloudApiError && REFUSALS.test(err.code)) return fail(record, err.code.replace(/[^A-Za-z0-9]/g, ""), `Cloud Assistant refused the post script: ${describe(err)}`, now);
      return unanswered(record, "RunCommand", err, agentDeadline, now);
    }
    Object.assign(record, { phase: "Running", startTime: isoSeconds(now), timeoutSeconds });
    delete record.waitingSince;
    delete record.errorCode;
    return { state: "running", message: `running the post script on instance ${instanceId} (invocation ${record.invokeId})` };
  }
  let result: InvocationResult | undefined;
  try {
    result = await ecs.invocationResult(regionId, record.invokeId, instanceId);
  } catch (err) {
    return unanswered(record, "DescribeInvocationResults", err, runDeadline, now);
  }
  delete record.errorCode;
  if (!result || UNFINISHED.has(result.status)) {
    // ECS keeps no record of a command it could not carry out, and a run cannot outlive its timeout: past it (and a
    // delivery's slack), the run is lost rather than running.
    if (now.getTime() > runDeadline) return fail(record, "PostScriptLost", `Cloud Assistant reported no end of invocation ${record.invokeId} on instance ${instanceId} by ${isoSeconds(new Date(runDeadline))}, past the script's timeout: it is taken as failed`, now);
    return { state: "running", message: `the post script runs on instance ${instanceId} (invocation ${record.invokeId}${result ? `, ${result.status}` : ""})` };
  }
  Object.assign(record, {
    phase: result.status === "Success" ? "Succeeded" : "Failed",
    invocationStatus: result.status,
    output: outputTail(result.output),
    finishTime: result.finishedTime ? isoSeconds(new Date(result.finishedTime)) : isoSeconds(now),
  });
  if (result.exitCode !== undefined) record.exitCode = result.exitCode;
  if (result.errorCode) record.errorCode = result.errorCode;
  const outcome = ended(record);
  if (record.contentHash !== hash) {
    // The script changed while this run was under way: it ran what it was sent, and the changed one runs next.
    const attempt = (record.attempt ?? 1) + 1;
    holder.postScript = { phase: "Waiting", instanceId, contentHash: hash, attempt, waitingSince: isoSeconds(now) };
    return { state: "running", message: `${outcome.message}; the script changed meanwhile, and the changed one runs next` };
  }
  return outcome;
}

/**
 * RunCommand's refusals of the request itself (its error table): the same
 * request would be refused again, so they fail the script.
 */
const REFUSALS = /^(CmdContent\.ExceedLimit|InvalidCmdType|InvalidParameter|InvalidParam\.|MissingParam|IdempotentParameterMismatch|InvalidInstance\.(NotFound|NotMatch)|Username\.ExceedLimit|WindowsPasswordName\.|InvalidRepeatMode|InvalidTerminationMode|InvalidLauncher)/;

/** How long past a run's timeout a run with no end reported is taken as lost. */
export const LOST_AFTER_TIMEOUT_MS = 10 * 60_000;

/**
 * ECS did not answer a call (or refused it for a reason that may pass): the
 * run stays where it is, and the error is kept for the condition, until the
 * wait it is in (`deadline`) ends; then it fails with that error.
 */
function unanswered(record: PostScriptRecord, call: string, err: unknown, deadline: number, now: Date): PostScriptStep {
  if (!(err instanceof CloudApiError)) throw err;
  if (now.getTime() >= deadline) return fail(record, err.code.replace(/[^A-Za-z0-9]/g, "") || "CloudError", `${call} kept failing until ${isoSeconds(new Date(deadline))}: ${describe(err)}`, now);
  record.errorCode = err.code;
  return { state: "running", message: `the post script on instance ${record.instanceId ?? ""} waits: ${call} failed (${describe(err)}); asking again` };
}

/**
 * The record of the post script of the server's latest move: its failback's
 * once it fails back, else its failover's; none once the spec no longer has
 * that script (taken out, e.g. to let a RecoveryPlan go on past a failed one).
 */
export function currentPostScript(ps: ProtectedServer): PostScriptRecord | undefined {
  const status = ps.status;
  if (ps.spec.recovery?.powerOn === false) return undefined;
  if (status?.failback) return ps.spec.failback?.postScript ? status.failback.postScript : undefined;
  return ps.spec.recovery?.postScript ? status?.failover?.postScript : undefined;
}

/**
 * Condition PostScriptSucceeded, present while the server's latest failover
 * or failback has run (or runs) a post script: Unknown while it waits or
 * runs, True once it succeeded, False with the reason when it failed.
 */
export function reportPostScript(ps: ProtectedServer, set: (c: ConditionInput) => void): void {
  const record = currentPostScript(ps);
  if (!record) {
    removeCondition(ps.status, "PostScriptSucceeded");
    return;
  }
  const where = `on instance ${record.instanceId ?? ""}`;
  if (record.phase === "Succeeded") set({ type: "PostScriptSucceeded", status: "True", reason: "Succeeded", message: `the post script succeeded ${where} (invocation ${record.invokeId ?? ""})` });
  else if (record.phase === "Failed") set({ type: "PostScriptSucceeded", status: "False", reason: failureReason(record), message: `${ended(record).message}; the instance keeps running: fix what the output says, or change the script to run it again` });
  else {
    const calls = record.errorCode ? `; ECS's last answer was ${record.errorCode}, asking again` : "";
    set({ type: "PostScriptSucceeded", status: "Unknown", reason: record.phase === "Running" ? "Running" : "WaitingForAgent", message: `${record.phase === "Running" ? `the post script runs ${where} (invocation ${record.invokeId ?? ""})` : `waiting for the Cloud Assistant agent ${where}`}${calls}` });
  }
}

/** How often a post script under way is looked at: often in its first minute, when most end, then less, for ECS's rate limits. */
export function postScriptPollMs(record: PostScriptRecord | undefined, now = Date.now()): number {
  const since = Date.parse(record?.startTime ?? record?.waitingSince ?? "");
  return Number.isNaN(since) || now - since < 60_000 ? 5_000 : 30_000;
}

/**
 * Runs a failover's or failback's post script on the instance it made
 * (`holder.vm`), when one is due (postScriptDue): the step for a move that is
 * done, whose instance runs. Says how it ended in an event. Returns when to
 * look again while it is under way, else undefined.
 */
export async function advancePostScript(
  ecs: EcsDr,
  regionId: string,
  holder: { postScript?: PostScriptRecord | undefined; vm?: { instanceId?: string | undefined } | undefined },
  script: PostScript | undefined,
  name: string,
  token: string,
  event: (type: "Normal" | "Warning", reason: string, message: string) => Promise<void>,
): Promise<number | undefined> {
  const instanceId = holder.vm?.instanceId;
  if (!script || !instanceId || !postScriptDue(script, holder.postScript, instanceId)) return undefined;
  const step = await runPostScript(ecs, regionId, instanceId, script, holder, name, token);
  if (step.state === "running") return postScriptPollMs(holder.postScript);
  if (step.state === "succeeded") await event("Normal", "PostScriptSucceeded", step.message);
  else await event("Warning", "PostScriptFailed", step.message);
  return undefined;
}

/** The post scripts a server sets that are not run: none runs on an instance DR leaves stopped (spec.recovery.powerOn false). */
export function ignoredPostScripts(ps: ProtectedServer): string[] {
  if (ps.spec.recovery?.powerOn !== false) return [];
  return (["recovery", "failback"] as const).filter((f) => ps.spec[f]?.postScript).map((f) => `spec.${f}.postScript (spec.recovery.powerOn is false: the instance is left stopped, and Cloud Assistant runs scripts only in running instances)`);
}

/**
 * True while the post script of a server's move to FailedOver or FailedBack
 * has not succeeded in the instance that move made: not started yet, waiting,
 * running, or failed. A RecoveryPlan brings the next group up only after it
 * (an application's dependencies are switched over first). False where no
 * script runs: none set, an instance left stopped, or a VM (vSphere).
 */
export function postScriptPending(ps: ProtectedServer, state: "FailedOver" | "FailedBack"): boolean {
  if (ps.spec.recovery?.powerOn === false) return false;
  const holder = state === "FailedOver" ? ps.status?.failover : ps.status?.failback;
  const script = state === "FailedOver" ? ps.spec.recovery?.postScript : ps.spec.failback?.postScript;
  const instanceId = holder?.vm?.instanceId;
  if (!script || !instanceId) return false;
  const record = holder.postScript;
  return !(record?.instanceId === instanceId && record.phase === "Succeeded");
}
