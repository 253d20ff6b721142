import { ageColumn, conditionColumn, conditions, objectName, observedGeneration, reasonColumn, type KindDefinition } from "./common.js";
import { DESIRED_STATE_RULES, DESIRED_STATES, POINT_CHOICES } from "./protected-server.js";
import { array, boolean, described, enumeration, integer, object, string, withRules } from "./schema.js";

export const PLAN_GROUP_PHASES = ["Pending", "WaitingForApproval", "InProgress", "RunningScript", "ScriptFailed", "Done"] as const;

const serverName = described("Name of a ProtectedServer in the same namespace.", objectName);

const script = object(
  {
    image: string("Container image of the script. It runs as a non-root user (the restricted Pod Security profile): the image's USER must be a numeric non-root id.", { minLength: 1, maxLength: 512 }),
    command: array("Entrypoint, as a container's command; default the image's.", string("Argument."), { maxItems: 64 }),
    args: array("Arguments, as a container's args.", string("Argument."), { maxItems: 64 }),
    serviceAccountName: string("ServiceAccount the script runs as, with its API token (to call the Kubernetes API, say); default none: the namespace's default ServiceAccount without a token.", { minLength: 1, maxLength: 253 }),
    timeoutSeconds: integer("The script fails if it runs longer (the Job's activeDeadlineSeconds).", 1, 86_400, { default: 600 }),
  },
  ["image"],
  {
    description:
      "A Kubernetes Job run once the group's servers are up in a failover or failback (seed 003: scripts in a recovery plan), e.g. to repoint DNS or check the application. " +
      "Its environment names the plan (LIFEBOAT_RECOVERY_PLAN), the group (LIFEBOAT_GROUP), the state reached (LIFEBOAT_STATE) and, as JSON in LIFEBOAT_SERVERS, each server and the VM or instance that now runs it. " +
      "The plan goes on to the next group only once the Job succeeds; a failed one stops the plan until a new spec.resumeRequest runs it again.",
  },
);

/**
 * RecoveryPlan (seed 003: recovery plans): the ProtectedServers of one
 * application, in groups brought up in order, so that a failover or failback
 * of the whole application is one change. A group starts only when every
 * server of the groups before it runs, and when what it waits for is done: a
 * pause for a manual action, a script after the group before it.
 *
 * The plan drives its servers through their own spec (desiredState,
 * commitFailover, recoveryPoint), the same fields a user sets, so every
 * server's status, conditions and events stay where they were and a server
 * can still be handled alone. It does not replicate anything itself: each
 * server keeps its own schedule and points.
 */
export const recoveryPlan: KindDefinition = {
  kind: "RecoveryPlan",
  plural: "recoveryplans",
  singular: "recoveryplan",
  shortNames: ["rplan"],
  description: "ProtectedServers of one application in ordered groups: a failover, commit, reverse replication or failback of them all, group by group, with pauses for manual actions and scripts between groups.",
  spec: withRules(
    object(
      {
        groups: array(
          "Groups of servers, in the order a failover or failback brings them up (seed 003: an application's dependencies, say the database before the application servers). Reverse replication and a return to Replicating move every group at once.",
          object(
            {
              name: string("Name of the group, unique in the plan.", { minLength: 1, maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" }),
              protectedServers: array("ProtectedServers of this group, brought up at the same time. A server belongs to one group of one plan.", serverName, { minItems: 1, maxItems: 100, "x-kubernetes-list-type": "set" }),
              pauseBefore: boolean("Before a failover or failback brings this group up, wait for a new spec.resumeRequest (seed 003: a pause for a manual action).", false),
              script,
            },
            ["name", "protectedServers"],
          ),
          { minItems: 1, maxItems: 20, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] },
        ),
        desiredState: enumeration(
          "Where the plan's servers should be: Replicating; FailedOver (group by group at the recovery site); ReverseReplicating (every server replicated back, after a committed failover); FailedBack (group by group at the protected site). The plan sets each server's spec.desiredState when its group's turn comes.",
          DESIRED_STATES,
          "Replicating",
        ),
        commitFailover: boolean("Commit the failover of every server (their spec.commitFailover), once all of them run at the recovery site.", false),
        recoveryPoint: enumeration(
          "The point each server's failover uses, set in its spec.recoveryPoint when its group fails over: \"latest\" (a planned failover when the protected site answers) or \"latest-app-consistent\". A server whose spec.recoveryPoint names a RecoveryPoint keeps it: set a named point on the server itself.",
          [POINT_CHOICES.latest, POINT_CHOICES.latestAppConsistent],
          POINT_CHOICES.latest,
        ),
        resumeRequest: string("A new value lets the plan go on past a group's pauseBefore, or runs a failed script again.", { maxLength: 253 }),
      },
      ["groups"],
    ),
    ...DESIRED_STATE_RULES,
  ),
  status: object({
    observedGeneration,
    conditions,
    state: enumeration("The desiredState every server of the plan reached last.", DESIRED_STATES),
    target: enumeration("The desiredState the plan brings its servers to now, while it differs from state.", DESIRED_STATES),
    committed: boolean("Every server's failover is committed."),
    currentGroup: string("The group the plan works on or waits at."),
    handledResumeRequest: string("The spec.resumeRequest last acted on."),
    startTime: string("When the plan began moving to target.", { format: "date-time" }),
    completionTime: string("When every server reached it.", { format: "date-time" }),
    durationSeconds: integer("startTime to completionTime: for a failover or failback, the plan's RTO (pauses included).", 0),
    groups: array(
      "Each group on the way to target.",
      object({
        name: string("The group."),
        phase: enumeration("Where the group is.", PLAN_GROUP_PHASES),
        message: string("What it waits for, or why it stopped."),
        startTime: string("When its servers were told to move.", { format: "date-time" }),
        doneTime: string("When its servers, and its script, were done.", { format: "date-time" }),
        scriptJob: string("The Job of its script."),
        scriptAttempts: integer("Times its script was run.", 0),
      }),
      { maxItems: 20 },
    ),
  }),
  printerColumns: [
    { name: "Desired", type: "string", jsonPath: ".spec.desiredState" },
    { name: "State", type: "string", jsonPath: ".status.state" },
    { name: "Target", type: "string", jsonPath: ".status.target", description: "The state the plan moves its servers to now" },
    { name: "Group", type: "string", jsonPath: ".status.currentGroup" },
    conditionColumn("Ready"),
    reasonColumn("Ready"),
    { name: "Duration", type: "integer", jsonPath: ".status.durationSeconds", priority: 1 },
    ageColumn,
  ],
};
