-- Health of a Lifeboat Gateway for Argo CD.
-- Activated=True: Healthy. Activated=False: Progressing while the gateway
-- waits for something that comes by itself (its vault still coming up, its
-- credentials Secret not created yet), Degraded otherwise (a Secret without
-- the AccessKey pair, a vault that is being deleted: the message says what
-- to fix).
-- Lifeboat's operator sets the conditions and reasons read here: see
-- gateway-controller.ts in operator/src/controllers/.
-- Uses only Lua's base and table libraries, so it runs with or without
-- resource.customizations.useOpenLibs.
local hs = {}

local waiting = {
  BackupVaultNotFound = true,
  BackupVaultNotReady = true,
  SecretNotFound = true,
}

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat operator to reconcile the Gateway"
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
    if condition.type == "Activated" then
      if condition.status == "True" then
        hs.status = "Healthy"
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
hs.message = "Waiting for the Activated condition"
return hs
