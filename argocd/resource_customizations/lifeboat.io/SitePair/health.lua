-- Health of a Lifeboat SitePair for Argo CD.
-- Ready=True: Healthy. Ready=False: Progressing while the pair waits for its
-- vCenters, Gateways and vaults to come up (each has its own health),
-- Degraded otherwise (a datacenter, datastore or network that does not exist
-- at a site, an unsupported pair type: the message says what to fix).
-- Lifeboat's operator sets the conditions and reasons read here: see
-- site-pair-controller.ts in operator/src/controllers/.
-- Uses only Lua's base and table libraries, so it runs with or without
-- resource.customizations.useOpenLibs.
local hs = {}

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
  hs.message = "Waiting for the Lifeboat operator to reconcile the SitePair"
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
hs.message = "Waiting for the Ready condition"
return hs
