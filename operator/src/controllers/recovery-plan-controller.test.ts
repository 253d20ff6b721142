import { describe, expect, it } from "@jest/globals";
import type { ProtectedServer, RecoveryPlan } from "../api/generated/types.js";
import { groupStatuses, hasReached, isOrdered, scriptJobName, scriptServers, serverPatch, specProblem, transitionProblem } from "./recovery-plan-controller.js";

function plan(spec: Partial<RecoveryPlan["spec"]> = {}, name = "shop"): RecoveryPlan {
  return {
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "RecoveryPlan",
    metadata: { name, namespace: "dr", uid: "u-1" },
    spec: { groups: [{ name: "database", protectedServers: ["db"] }, { name: "web", protectedServers: ["web-1", "web-2"], pauseBefore: true }], ...spec },
  };
}

function server(spec: Partial<ProtectedServer["spec"]> = {}, status: ProtectedServer["status"] = {}, generation = 1): ProtectedServer {
  return {
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "ProtectedServer",
    metadata: { name: "db", namespace: "dr", generation },
    spec: { sitePairRef: { name: "pair" }, source: { vmName: "db-vm" }, ...spec },
    status: { observedGeneration: 1, ...status },
  };
}

describe("isOrdered", () => {
  it("orders a failover and a failback, and moves reverse replication and Replicating at once", () => {
    expect(["Replicating", "FailedOver", "ReverseReplicating", "FailedBack"].filter((s) => isOrdered(s as never))).toEqual(["FailedOver", "FailedBack"]);
  });
});

describe("hasReached", () => {
  it("needs the stage of the state and a status of the current spec", () => {
    expect(hasReached(server({ desiredState: "FailedOver" }, { stage: "FailedOver" }), "FailedOver")).toBe(true);
    expect(hasReached(server({ desiredState: "FailedOver" }, { stage: "FailingOver" }), "FailedOver")).toBe(false);
    // Patched a moment ago: the stage shown is the old spec's.
    expect(hasReached(server({ desiredState: "Replicating" }, { stage: "RealTimeReplication" }, 2), "Replicating")).toBe(false);
    expect(hasReached(server({}, { stage: "RealTimeReplication" }), "Replicating")).toBe(true);
    expect(hasReached(server({ desiredState: "ReverseReplicating", commitFailover: true }, { stage: "ReverseFullReplication" }), "ReverseReplicating")).toBe(false);
    expect(hasReached(server({ desiredState: "FailedBack", commitFailover: true }, { stage: "FailedBack" }), "FailedBack")).toBe(true);
    // A server told something else is not there, whatever its stage says.
    expect(hasReached(server({ desiredState: "Replicating" }, { stage: "FailedOver" }), "FailedOver")).toBe(false);
  });

  it("waits for the post script of an instance the move made, until it succeeds there", () => {
    const script = { content: "switch" };
    const over = (postScript?: NonNullable<NonNullable<ProtectedServer["status"]>["failover"]>["postScript"], powerOn = true) =>
      server({ desiredState: "FailedOver", recovery: { postScript: script, powerOn } }, { stage: "FailedOver", failover: { step: "Done", vm: { instanceId: "i-2" }, ...(postScript ? { postScript } : {}) } });
    expect(hasReached(over(), "FailedOver")).toBe(false); // not started yet
    expect(hasReached(over({ phase: "Running", instanceId: "i-2" }), "FailedOver")).toBe(false);
    expect(hasReached(over({ phase: "Failed", instanceId: "i-2" }), "FailedOver")).toBe(false);
    expect(hasReached(over({ phase: "Succeeded", instanceId: "i-1" }), "FailedOver")).toBe(false); // another instance's
    expect(hasReached(over({ phase: "Succeeded", instanceId: "i-2" }), "FailedOver")).toBe(true);
    expect(hasReached(over(undefined, false), "FailedOver")).toBe(true); // left stopped: no script runs
    // A VM (vSphere) runs no post script.
    expect(hasReached(server({ desiredState: "FailedOver", recovery: { postScript: script } }, { stage: "FailedOver", failover: { step: "Done", vm: { moRef: "vm-9" } } }), "FailedOver")).toBe(true);
    const back = (phase?: "Succeeded" | "Running") => server({ desiredState: "FailedBack", commitFailover: true, failback: { postScript: script } }, { stage: "FailedBack", failback: { step: "Done", vm: { instanceId: "i-3" }, ...(phase ? { postScript: { phase, instanceId: "i-3" } } : {}) } });
    expect(hasReached(back("Running"), "FailedBack")).toBe(false);
    expect(hasReached(back("Succeeded"), "FailedBack")).toBe(true);
  });
});

describe("serverPatch", () => {
  it("fails over with the plan's point, and commits only at rest", () => {
    expect(serverPatch(plan({ recoveryPoint: "latest-app-consistent", commitFailover: true }), "FailedOver", server())).toEqual({ desiredState: "FailedOver", recoveryPoint: "latest-app-consistent" });
    expect(serverPatch(plan(), "FailedOver", server())).toEqual({ desiredState: "FailedOver" });
    expect(serverPatch(plan(), "FailedOver", server({ desiredState: "FailedOver" }))).toBeUndefined();
  });

  it("keeps a RecoveryPoint the server names, and sets the keywords", () => {
    expect(serverPatch(plan({ recoveryPoint: "latest-app-consistent" }), "FailedOver", server({ recoveryPoint: "db-20261201-0300" }))).toEqual({ desiredState: "FailedOver" });
    expect(serverPatch(plan({ recoveryPoint: "latest" }), "FailedOver", server({ recoveryPoint: "latest-app-consistent" }))).toEqual({ desiredState: "FailedOver", recoveryPoint: "latest" });
  });

  it("leaves the point of a server that is failed over already (by hand, to a named point)", () => {
    expect(serverPatch(plan({ recoveryPoint: "latest-app-consistent" }), "FailedOver", server({ desiredState: "FailedOver", recoveryPoint: "db-20261201-0300" }))).toBeUndefined();
  });

  it("moves the commit with the state for reverse replication, failback and Replicating", () => {
    expect(serverPatch(plan({ desiredState: "ReverseReplicating", commitFailover: true }), "ReverseReplicating", server({ desiredState: "FailedOver", commitFailover: true }))).toEqual({ desiredState: "ReverseReplicating" });
    expect(serverPatch(plan({ desiredState: "ReverseReplicating", commitFailover: true }), "ReverseReplicating", server({ desiredState: "FailedOver" }))).toEqual({ desiredState: "ReverseReplicating", commitFailover: true });
    expect(serverPatch(plan({ desiredState: "Replicating", commitFailover: false }), "Replicating", server({ desiredState: "FailedBack", commitFailover: true }))).toEqual({ desiredState: "Replicating", commitFailover: false });
  });
});

describe("transitionProblem", () => {
  it("allows only the life cycle's steps from where each server is", () => {
    expect(transitionProblem(server(), "FailedOver")).toBeUndefined();
    expect(transitionProblem(server({ desiredState: "FailedOver" }), "FailedOver")).toBeUndefined();
    expect(transitionProblem(server(), "ReverseReplicating")).toBe("db is Replicating, and Replicating→ReverseReplicating is not a step of the DR life cycle");
    expect(transitionProblem(server({ desiredState: "FailedOver" }), "Replicating")).toBeUndefined();
    expect(transitionProblem(server({ desiredState: "FailedOver", commitFailover: true }), "Replicating")).toBe("db's failover is committed: it goes back through ReverseReplicating and FailedBack");
    expect(transitionProblem(server({ desiredState: "ReverseReplicating", commitFailover: true }), "FailedBack")).toBeUndefined();
    expect(transitionProblem(server({ desiredState: "FailedBack", commitFailover: true }), "Replicating")).toBeUndefined();
    expect(transitionProblem(server({ desiredState: "FailedBack", commitFailover: true }), "FailedOver")).toBe("db is FailedBack, and FailedBack→FailedOver is not a step of the DR life cycle");
  });
});

describe("specProblem", () => {
  it("refuses a server in two groups, naming both", () => {
    const p = plan({ groups: [{ name: "a", protectedServers: ["db"] }, { name: "b", protectedServers: ["web", "db"] }] });
    expect(specProblem(p, [])).toEqual({ reason: "DuplicateServer", message: "ProtectedServer db is in group a and in group b: a server belongs to one group" });
  });

  it("refuses a server another plan lists, and ignores the plan itself in the list", () => {
    const other = plan({ groups: [{ name: "x", protectedServers: ["web-2", "mail"] }] }, "mail");
    expect(specProblem(plan(), [plan(), other])).toEqual({ reason: "ServerInAnotherPlan", message: "RecoveryPlan mail also lists web-2: a server belongs to one plan" });
    expect(specProblem(plan(), [plan()])).toBeUndefined();
  });
});

describe("groupStatuses", () => {
  it("keeps each group's status by name, in the spec's order, with new groups Pending", () => {
    const groups = [{ name: "database", protectedServers: ["db"] }, { name: "cache", protectedServers: ["redis"] }, { name: "web", protectedServers: ["web-1"] }];
    expect(groupStatuses(groups, [{ name: "web", phase: "WaitingForApproval" }, { name: "database", phase: "Done" }, { name: "gone", phase: "Done" }])).toEqual([
      { name: "database", phase: "Done" },
      { name: "cache", phase: "Pending" },
      { name: "web", phase: "WaitingForApproval" },
    ]);
  });
});

describe("scriptJobName", () => {
  it("differs between attempts, states and runs, and fits a Job name", () => {
    const p = { ...plan({}, "a-plan-with-a-rather-long-name-indeed"), status: { startTime: "2026-12-01T10:00:00Z" } };
    const first = scriptJobName(p, "database-servers-of-the-shop", "FailedOver", 1);
    expect(first.length).toBeLessThanOrEqual(63);
    expect(first).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(scriptJobName(p, "database-servers-of-the-shop", "FailedOver", 2)).not.toBe(first);
    expect(scriptJobName(p, "database-servers-of-the-shop", "FailedBack", 1)).not.toBe(first);
    expect(scriptJobName({ ...p, status: { startTime: "2026-12-02T10:00:00Z" } }, "database-servers-of-the-shop", "FailedOver", 1)).not.toBe(first);
  });
});

describe("scriptServers", () => {
  it("names the VM that runs each server in the state reached", () => {
    const fo = server({ desiredState: "FailedOver" }, { stage: "FailedOver", failover: { vm: { name: "db-vm", moRef: "vm-42" }, privateIpAddress: "10.0.0.5" }, source: { name: "db-vm", moRef: "vm-7" } });
    expect(scriptServers([fo], "FailedOver")).toEqual([{ name: "db", vm: { name: "db-vm", moRef: "vm-42" }, privateIpAddress: "10.0.0.5" }]);
    const fb = server({ desiredState: "FailedBack" }, { stage: "FailedBack", failback: { vm: { name: "db-vm", moRef: "vm-7" } } });
    expect(scriptServers([fb], "FailedBack")).toEqual([{ name: "db", vm: { name: "db-vm", moRef: "vm-7" } }]);
    expect(scriptServers([server()], "FailedOver")).toEqual([{ name: "db", vm: null }]);
  });
});
