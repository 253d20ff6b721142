-- Health of a Lifeboat RecoveryPlan for Argo CD.
-- Ready=True (every server of the plan is where the plan says) is Healthy.
-- A plan waiting for its manual action (pauseBefore, reason
-- WaitingForApproval) is Suspended: it goes on only when someone gives
-- spec.resumeRequest a new value. Ready=False is Progressing while servers
-- move or a script runs, and Degraded when it needs a fix (a failed script,
-- a server in two groups or two plans, a server that refused the change, a
-- server moved by hand away from the plan's state): the message says what.
-- Lifeboat's operator sets the conditions and reasons read here: see
-- recovery-plan-controller.ts in operator/src/controllers/.
-- Uses only Lua's base and table libraries, so it runs with or without
-- resource.customizations.useOpenLibs.
local hs = {}

local progressing = {
  Progressing = true,
  RunningScript = true,
  Committing = true,
  ServersNotReady = true,
  ProtectedServerNotFound = true,
}

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat operator to reconcile the RecoveryPlan"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat operator to observe generation " .. generation .. " of the spec"
  return hs
end

if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" then
      if condition.status == "True" then
        hs.status = "Healthy"
      elseif condition.reason == "WaitingForApproval" then
        hs.status = "Suspended"
      elseif progressing[condition.reason] then
        hs.status = "Progressing"
      else
        hs.status = "Degraded"
      end
      hs.message = condition.message
      return hs
    end
  end
end

hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs
