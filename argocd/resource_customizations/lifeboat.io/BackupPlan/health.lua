-- Health of a Lifeboat BackupPlan for Argo CD.
-- A plan whose Ready condition reports a problem to fix is Degraded; a
-- paused plan (spec.paused) is Suspended; a plan waiting for its VCenter,
-- vault or Gateway to come up is Progressing; a plan whose last run failed,
-- wholly or for some VMs, is Degraded until a run succeeds; otherwise it is
-- Healthy, also while a run goes (running is what a plan is for).
-- Lifeboat's operator sets the conditions and reasons read here: see
-- backup-plan-controller.ts and backup-runs.ts in operator/src/controllers/.
-- Uses only Lua's base and table libraries, so it runs with or without
-- resource.customizations.useOpenLibs.
local hs = {}

-- Ready=False reasons that resolve by themselves: the objects the plan names
-- do not exist yet or are not ready yet (each has its own health).
local waiting = {
  VCenterNotFound = true,
  VCenterNotConnected = true,
  BackupVaultNotFound = true,
  BackupVaultNotReady = true,
  GatewayNotFound = true,
  GatewayNotActivated = true,
}

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat operator to reconcile the BackupPlan"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat operator to observe generation " .. generation .. " of the spec"
  return hs
end

local ready = nil
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" then
      ready = condition
    end
  end
end

if ready ~= nil and ready.status == "False" and not waiting[ready.reason] then
  hs.status = "Degraded"
  hs.message = ready.message
  return hs
end

if obj.spec.paused == true then
  hs.status = "Suspended"
  if ready ~= nil and ready.status == "True" then
    hs.message = ready.message
  else
    hs.message = "the plan is paused (spec.paused) and starts no runs"
  end
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

if ready.status ~= "True" then
  hs.status = "Progressing"
  hs.message = ready.message
  return hs
end

local lastRun = obj.status.lastRun
if lastRun ~= nil and (lastRun.result == "Failed" or lastRun.result == "PartiallyFailed") then
  hs.status = "Degraded"
  hs.message = "run " .. (lastRun.id or "") .. " " .. lastRun.result .. ": " .. (lastRun.message or "see status.lastResults")
  return hs
end

hs.status = "Healthy"
hs.message = ready.message
return hs
