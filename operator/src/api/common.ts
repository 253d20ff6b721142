import { array, boolean, enumeration, integer, object, string, stringMap, withRules, type Schema } from "./schema.js";

export const GROUP = "lifeboat.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A DNS-1123 subdomain, the form of most Kubernetes object names. */
export const objectName = string("Name of the object in the same namespace.", {
  minLength: 1,
  maxLength: 253,
  pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
});

/** A reference to another object in the same namespace, by name (the Kubernetes convention for same-namespace references). */
export function localRef(what: string): Schema {
  return object({ name: { ...objectName, description: `Name of the ${what} in the same namespace.` } }, ["name"], {
    description: `Reference to a ${what} in the same namespace.`,
  });
}

/** A reference to a Secret and the keys to read from it; the defaults make the common case one line. */
export function secretRef(what: string, keys: Record<string, { default: string; description: string }>): Schema {
  const keyProps: Record<string, Schema> = {};
  for (const [field, k] of Object.entries(keys)) keyProps[field] = string(k.description, { default: k.default, minLength: 1, maxLength: 253 });
  return object({ name: { ...objectName, description: "Name of the Secret in the same namespace." }, ...keyProps }, ["name"], {
    description: `Secret holding ${what}. Lifeboat watches it: a rotated value takes effect without a restart.`,
  });
}

/** A Kubernetes resource quantity such as "100Mi" or "2". */
export function quantity(description: string): Schema {
  return string(description, {
    pattern: "^([+]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$",
    maxLength: 64,
  });
}

/** A clock time "HH:MM" (24-hour). */
/** Days of the week, as weekly windows (a Gateway's flow control, a server's business hours) name them. */
export const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;

export const clockTime: Schema = string("Time of day, HH:MM (24-hour).", { pattern: "^([01][0-9]|2[0-3]):[0-5][0-9]$", maxLength: 5 });

/** metav1.Condition, as the API conventions define it. */
export const condition: Schema = object(
  {
    type: string("Type of condition in CamelCase.", { maxLength: 316 }),
    status: enumeration("Status of the condition.", ["True", "False", "Unknown"]),
    observedGeneration: integer("The .metadata.generation the condition was set from.", 0),
    lastTransitionTime: string("When the condition last changed status.", { format: "date-time" }),
    reason: string("One-word CamelCase reason for the last transition.", { maxLength: 1024 }),
    message: string("Human-readable message: what happened and what to do about it.", { maxLength: 32768 }),
  },
  ["type", "status", "lastTransitionTime", "reason", "message"],
);

export const conditions: Schema = array("Observations of the object's state.", condition, {
  "x-kubernetes-list-type": "map",
  "x-kubernetes-list-map-keys": ["type"],
});

export const observedGeneration: Schema = integer("The .metadata.generation the controller last acted on.", 0);

/** Where worker pods run: the usual pod placement knobs. */
export const placement: Schema = object(
  {
    nodeSelector: stringMap("Node labels a worker's node must have."),
    tolerations: array(
      "Tolerations for the workers' pods.",
      object({
        key: string("Taint key."),
        operator: enumeration("Operator.", ["Exists", "Equal"]),
        value: string("Taint value."),
        effect: enumeration("Taint effect; empty matches all.", ["NoSchedule", "PreferNoSchedule", "NoExecute", ""]),
        tolerationSeconds: integer("For NoExecute: how long the pod stays bound.", 0),
      }),
      { maxItems: 32 },
    ),
    resources: object(
      {
        requests: { type: "object", description: "Requested resources.", additionalProperties: quantity("Quantity.") },
        limits: { type: "object", description: "Resource limits.", additionalProperties: quantity("Quantity.") },
      },
      [],
      { description: "Compute resources of each worker pod." },
    ),
    priorityClassName: string("PriorityClass of the worker pods.", { maxLength: 253 }),
    serviceAccountName: string("ServiceAccount of the worker pods; default: the one the chart creates.", { maxLength: 253 }),
  },
  [],
  { description: "Where and how the worker pods run." },
);

export { boolean };

/** Printer column of a CRD version. */
export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

/**
 * Everything that defines one kind: its names, schema and printer columns.
 * The CRD, the TypeScript type and the validator are all derived from it.
 */
export interface KindDefinition {
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly description: string;
  readonly spec: Schema;
  readonly status: Schema;
  readonly printerColumns: readonly PrinterColumn[];
  /** Rules on the whole object, e.g. name length. */
  readonly rootRules?: Schema["x-kubernetes-validations"];
}

/** The printer column every kind ends with. */
/**
 * The last retention pass of a plan or a protected server: a maintenance Job
 * that forgets the points the retention does not keep, then prunes.
 */
export function retentionPass(startedBy: string, gateway: string): Schema {
  return object({
    job: string(`The maintenance Job of this pass: it forgets the points the retention does not keep, then prunes, on ${gateway}.`),
    run: string(`The id of ${startedBy}.`),
    phase: enumeration("Running, Succeeded or Failed.", ["Running", "Succeeded", "Failed"]),
    startTime: string("When it started.", { format: "date-time" }),
    completionTime: string("When it ended.", { format: "date-time" }),
    forgotten: integer("Points forgotten.", 0),
    keptLocked: integer("Points the retention would drop that the vault lock keeps until their retain-until.", 0),
    bytesFreed: integer("Bytes prune removed from the vault.", 0),
    reason: string("Why it failed, or why prune was deferred (PruneDeferred)."),
    message: string("What it did, or why it failed."),
  });
}

export const ageColumn: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

/** A printer column for a condition's status. */
export function conditionColumn(type: string): PrinterColumn {
  return { name: type, type: "string", jsonPath: `.status.conditions[?(@.type=="${type}")].status` };
}

/** A printer column for a condition's reason, shown with -o wide. */
export function reasonColumn(type: string): PrinterColumn {
  return { name: "Reason", type: "string", jsonPath: `.status.conditions[?(@.type=="${type}")].reason`, priority: 1 };
}

/**
 * A network one server or one drill chooses over its site pair's (seed 004:
 * the failover, drill and failback panels each pick the recovery network).
 * Both ids are required, so the API server names a missing one; whether
 * they exist, in the right zone and VPC, only the ECS API can answer.
 */
/** Cloud Assistant's command types (RunCommand Type). */
export const POST_SCRIPT_TYPES = ["RunShellScript", "RunPowerShellScript", "RunBatScript"] as const;

/** The most a script may hold: Cloud Assistant takes at most 24 KB of Base64, 18 KiB of UTF-8 before encoding. */
export const POST_SCRIPT_MAX_BYTES = 18 * 1024;

/**
 * A script run inside an ECS instance once DR has brought it up (seed 004's
 * switch-over and post-recovery scripts), through Cloud Assistant.
 */
export const postScript = (description: string) =>
  withRules(object(
    {
      type: enumeration("Cloud Assistant's command type: RunShellScript (Linux), RunPowerShellScript or RunBatScript (Windows).", POST_SCRIPT_TYPES, "RunShellScript"),
      content: string(`The script. At most ${POST_SCRIPT_MAX_BYTES} bytes of UTF-8 (Cloud Assistant takes 24 KB once Base64-encoded).`, { minLength: 1, maxLength: POST_SCRIPT_MAX_BYTES }),
      timeoutSeconds: integer("How long the script may run before Cloud Assistant stops it (and it counts as failed).", 10, 86_400, { default: 600 }),
      username: string("Linux (RunShellScript): the instance's user the script runs as; default root. Windows scripts run as System (another user needs a password Lifeboat does not hold).", { minLength: 1, maxLength: 255 }),
      workingDir: string("Directory the script runs in; default the user's home (Linux) or the agent's directory (Windows).", { minLength: 1, maxLength: 200 }),
    },
    ["content"],
    { description },
  ),
  // maxLength counts characters; Cloud Assistant's limit is bytes.
  { rule: `size(bytes(self.content)) <= ${POST_SCRIPT_MAX_BYTES}`, message: `at most ${POST_SCRIPT_MAX_BYTES} bytes of UTF-8 (Cloud Assistant takes 24 KB once Base64-encoded)`, fieldPath: ".content" },
  { rule: "!has(self.username) || !has(self.type) || self.type == 'RunShellScript'", message: "only a Linux script (RunShellScript) runs as another user; Windows scripts run as System", fieldPath: ".username" },
  );

/** What a post script did: kept in the status of the failover, failback or drill that ran it. */
export const postScriptStatus = object(
  {
    phase: enumeration("Waiting (for the instance's Cloud Assistant agent), Running, Succeeded or Failed.", ["Waiting", "Running", "Succeeded", "Failed"]),
    instanceId: string("The instance it runs on."),
    invokeId: string("Cloud Assistant's invocation id (DescribeInvocationResults)."),
    contentHash: string("Hash of the script it ran: a script changed after a failure runs again, on the same instance."),
    attempt: integer("Runs of a script on this instance so far, this one included; each is its own RunCommand (ClientToken).", 1),
    invocationStatus: string("Cloud Assistant's status of the run (Success, Failed, Timeout, Aborted, ...)."),
    exitCode: integer("The script's exit code."),
    errorCode: string("Cloud Assistant's reason when the script did not run or finish (ClientNotRunning, ExecutionTimeout, ...); while it waits or runs, the last error of a call to ECS, which is asked again."),
    output: string("The end of what the script printed (at most 4 KiB)."),
    waitingSince: string("When it began to wait for the agent; after 10 minutes it fails (reason CloudAssistantNotRunning).", { format: "date-time" }),
    timeoutSeconds: integer("The run's timeout, as sent: a run with no end reported 10 minutes past it fails (reason PostScriptLost).", 10),
    startTime: string("When it was started.", { format: "date-time" }),
    finishTime: string("When it ended.", { format: "date-time" }),
  },
  [],
  { description: "The post script's run on the instance DR brought up." },
);

export const chosenCloudNetwork = (description: string) =>
  object(
    {
      vSwitchId: string("Cloud vSwitch, in the zone the instance is made in.", { minLength: 1, maxLength: 64 }),
      securityGroupId: string("Cloud security group, of the vSwitch's VPC.", { minLength: 1, maxLength: 64 }),
    },
    ["vSwitchId", "securityGroupId"],
    { description },
  );
