-- Health of a Lifeboat RestoreJob for Argo CD.
-- A restore is bounded, so its Succeeded condition decides: True is Healthy,
-- False (the restore failed, or cannot run) is Degraded, Unknown (waiting for
-- its references or a Gateway slot, running, or importing the image) is
-- Progressing, with the percentage done while the worker runs.
-- Lifeboat's operator sets the conditions and reasons read here: see
-- restore-job-controller.ts in operator/src/controllers/.
-- Uses only Lua's base and table libraries, so it runs with or without
-- resource.customizations.useOpenLibs.
local hs = {}

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat operator to reconcile the RestoreJob"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat operator to observe generation " .. generation .. " of the spec"
  return hs
end

local succeeded = nil
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Succeeded" then
      succeeded = condition
    end
  end
end

if succeeded == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Succeeded condition"
  return hs
end

hs.message = succeeded.message
if succeeded.status == "True" then
  hs.status = "Healthy"
elseif succeeded.status == "False" or obj.status.phase == "Failed" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
  local progress = obj.status.progress
  if obj.status.phase == "Running" and progress ~= nil and progress.percent ~= nil then
    hs.message = succeeded.message .. " (" .. progress.percent .. "% done)"
  end
end
return hs
