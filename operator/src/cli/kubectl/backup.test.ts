import { describe, expect, it } from "@jest/globals";
import type { BackupPlan, BackupPlanStatus } from "../../api/generated/types.js";
import { backupRun } from "./backup.js";
import type { LifeboatApi } from "./cluster.js";
import type { Io } from "./program.js";

/**
 * backup run --wait reads the plan once before its patch and then polls it;
 * `after` is what the polls see, given the runRequest the command wrote.
 */
function planApi(after: (request: string) => { runRequest?: string; status: BackupPlanStatus }): { api: LifeboatApi; patches: Record<string, unknown>[] } {
  const patches: Record<string, unknown>[] = [];
  let request = "";
  const plan = (spec: { runRequest?: string }, status: BackupPlanStatus): BackupPlan => ({
    apiVersion: "lifeboat.io/v1alpha1",
    kind: "BackupPlan",
    metadata: { name: "daily", namespace: "prod" },
    spec: { vCenterRef: { name: "vc" }, vaultRef: { name: "v" }, gatewayRef: { name: "g" }, vms: { names: ["web-01"] }, ...spec } as BackupPlan["spec"],
    status,
  });
  const api = {
    get: () => {
      if (!request) return Promise.resolve(plan({}, { conditions: [{ type: "Ready", status: "True", reason: "Scheduled", message: "", lastTransitionTime: "2026-12-02T00:00:00Z" }] }));
      const a = after(request);
      return Promise.resolve(plan({ runRequest: a.runRequest ?? request }, a.status));
    },
    patchSpec: (_kind: string, _name: string, spec: Record<string, unknown>) => {
      patches.push(spec);
      request = String(spec.runRequest);
      return Promise.resolve({});
    },
  } as unknown as LifeboatApi;
  return { api, patches };
}

function io(): Io & { text: () => string } {
  let text = "";
  const out = { write: (s: string) => { text += s; }, isTTY: false, columns: 100 };
  return { out, err: out, text: () => text };
}

describe("backup run --wait", () => {
  it("follows the run its request started to the run's result", async () => {
    const { api, patches } = planApi((request) => ({ status: { lastHandledRunRequest: request, lastRun: { id: "r1", result: "Succeeded" }, lastResults: [{ name: "web-01", phase: "Succeeded" }] } }));
    const out = io();
    expect(await backupRun(api, { plan: "daily", wait: true }, out)).toBe(0);
    expect(patches).toHaveLength(1);
    expect(out.text()).toContain("Run r1 Succeeded");
  });

  it("fails at once when someone else changes spec.runRequest before the run starts", async () => {
    const { api } = planApi(() => ({ runRequest: "gitops-1", status: { lastHandledRunRequest: "older" } }));
    await expect(backupRun(api, { plan: "daily", wait: true, timeoutSeconds: 600 }, io())).rejects.toThrow('was changed to "gitops-1"');
  });

  it("fails at once when the request is handled but no run shows in status", async () => {
    const { api } = planApi((request) => ({ status: { lastHandledRunRequest: request } }));
    await expect(backupRun(api, { plan: "daily", wait: true, timeoutSeconds: 600 }, io())).rejects.toThrow("shows no run");
  });
});
