-- Health of a Lifeboat RecoveryPoint for Argo CD.
-- Available=True: Healthy. A point its vault does not hold (NotInVault) is
-- Missing: the object mirrors a point that is not there, as Argo CD's own
-- checks report a resource whose external object does not exist. While the
-- vault it names does not exist yet or is not Ready yet: Progressing. Any
-- other problem: Degraded.
-- Lifeboat's operator sets the conditions and reasons read here: see
-- recovery-point-controller.ts in operator/src/controllers/.
-- Uses only Lua's base and table libraries, so it runs with or without
-- resource.customizations.useOpenLibs.
local hs = {}

local waiting = {
  BackupVaultNotFound = true,
  BackupVaultNotReady = true,
}

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat operator to reconcile the RecoveryPoint"
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
    if condition.type == "Available" then
      if condition.status == "True" then
        hs.status = "Healthy"
      elseif condition.reason == "NotInVault" then
        hs.status = "Missing"
      elseif waiting[condition.reason] then
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
hs.message = "Waiting for the Available condition"
return hs
