-- Health of a Lifeboat VCenter for Argo CD.
-- Connected=True: Healthy. Connected=False: Progressing while the credentials
-- Secret is not created yet, Degraded otherwise (wrong password, vCenter
-- unreachable, certificate mismatch: the message says what to fix).
-- Lifeboat's operator sets the conditions and reasons read here: see
-- vcenter-controller.ts in operator/src/controllers/.
-- Uses only Lua's base and table libraries, so it runs with or without
-- resource.customizations.useOpenLibs.
local hs = {}

local waiting = {
  SecretNotFound = true,
}

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat operator to reconcile the VCenter"
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
    if condition.type == "Connected" then
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
hs.message = "Waiting for the Connected condition"
return hs
