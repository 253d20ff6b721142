-- Health of a Lifeboat RecoveryDrill for Argo CD.
-- Ready=True (the test VM is up on test networks) is Healthy; a failed drill
-- (phase Failed) is Degraded. Ready=False is Progressing while the test VM
-- is being made or cleaned, or while the drill waits for something that
-- comes by itself (the server's first recovery point, objects still coming
-- up; for a drill of a RecoveryPlan, its servers' drills coming up group by
-- group), and Degraded when it needs a fix (a NIC without a test network, a
-- recovery point of another server: the message says what).
-- Lifeboat's operator sets the conditions and reasons read here: see
-- recovery-drill-controller.ts in operator/src/controllers/.
-- Uses only Lua's base and table libraries, so it runs with or without
-- resource.customizations.useOpenLibs.
local hs = {}

local progressing = {
  Creating = true,
  Cleaning = true,
  Cleaned = true,
  ProtectedServerNotFound = true,
  RecoveryPlanNotFound = true,
  SitePairNotFound = true,
  VCenterNotFound = true,
  VCenterNotConnected = true,
  GatewayNotFound = true,
  GatewayNotActivated = true,
  BackupVaultNotFound = true,
  BackupVaultNotReady = true,
  NoRecoveryPoint = true,
  RecoveryPointNotFound = true,
}

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat operator to reconcile the RecoveryDrill"
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
      elseif obj.status.phase ~= "Failed" and progressing[condition.reason] then
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
