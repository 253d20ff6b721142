-- Health of a Lifeboat ProtectedServer for Argo CD.
-- Ready=True (replicating in real time, failed over, replicating back, failed
-- back) is Healthy, unless the newest recovery point is older than the RPO
-- target (RPOMet=False), or a network the server names for its failover or
-- failback is not where it must be (RecoveryNetworksValid=False: that step
-- would wait for a fix), or the server's consistency group cannot share its
-- points (GroupConsistent=False: members of another site pair or cadence),
-- or the post script of its failover or failback failed inside the instance
-- (PostScriptSucceeded=False): then Degraded; while that script still runs
-- (PostScriptSucceeded=Unknown), Progressing. So is a server in any stage whose
-- ReplicationPolicy is missing (ReplicationPolicyApplied=False: it goes on
-- with the settings it last had). Ready=False names a stage or a problem;
-- for a stage the condition of the step under way says more: FailedOver
-- while failing over, FailedBack while failing back, Replicating otherwise. It is Progressing while that step works or waits for something
-- that comes by itself (the first full cycle, a Gateway slot, a restore
-- worker, objects still coming up), and Degraded when it needs a fix (a VM
-- not found, a failed cycle, an unmapped network: the message says what).
-- Lifeboat's operator sets the conditions and reasons read here: see
-- protected-server-controller.ts, replication-cycles.ts, failover.ts,
-- failback.ts and reverse-replication.ts in operator/src/controllers/.
-- Uses only Lua's base and table libraries, so it runs with or without
-- resource.customizations.useOpenLibs.
local hs = {}

-- Ready reasons that are stages on the way to Ready, and the condition that
-- tells how the step under way is going.
local stageDetail = {
  Initializing = "Replicating",
  Initialized = "Replicating",
  FullReplication = "Replicating",
  Paused = "Replicating",
  ReverseStarting = "Replicating",
  ReverseFullReplication = "Replicating",
  FailingOver = "FailedOver",
  FailingBack = "FailedBack",
}

-- Reasons of a stage or step that is under way, or that waits for something
-- that comes by itself.
local progressing = {
  -- stages
  Initializing = true,
  Initialized = true,
  FullReplication = true,
  ReverseStarting = true,
  ReverseFullReplication = true,
  FailingOver = true,
  FailingBack = true,
  -- replication stopped on purpose while a failover or failback runs
  FailedOver = true,
  FailoverNotDone = true,
  -- steps at work
  Seeding = true,
  Restoring = true,
  ReplacingVM = true,
  Cancelling = true,
  Retrying = true,
  WaitingForGateway = true,
  ReverseNotSeeded = true,
  -- a checksum resync held until business hours end (spec.replication.businessHours)
  ResyncHeld = true,
  -- objects that do not exist yet or are not ready yet (each has its own health)
  SitePairNotFound = true,
  ReplicationPolicyNotFound = true,
  VCenterNotFound = true,
  VCenterNotConnected = true,
  GatewayNotFound = true,
  GatewayNotActivated = true,
  BackupVaultNotFound = true,
  BackupVaultNotReady = true,
  SiteNotReady = true,
  NoRecoveryPoint = true,
  RecoveryPointNotFound = true,
}

local function findCondition(conditionType)
  if obj.status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == conditionType then
      return condition
    end
  end
  return nil
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat operator to reconcile the ProtectedServer"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat operator to observe generation " .. generation .. " of the spec"
  return hs
end

local ready = findCondition("Ready")
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

-- A missing ReplicationPolicy, in any stage, once the server runs on the
-- settings it recorded (a new server waiting for it is Progressing below).
local policy = findCondition("ReplicationPolicyApplied")
if policy ~= nil and policy.status == "False" and ready.reason ~= "ReplicationPolicyNotFound" then
  hs.status = "Degraded"
  hs.message = policy.message
  return hs
end

if ready.status == "True" then
  for _, conditionType in ipairs({ "RPOMet", "RecoveryNetworksValid", "GroupConsistent", "PostScriptSucceeded" }) do
    local problem = findCondition(conditionType)
    if problem ~= nil and problem.status == "False" then
      hs.status = "Degraded"
      hs.message = problem.message
      return hs
    end
  end
  local script = findCondition("PostScriptSucceeded")
  if script ~= nil and script.status == "Unknown" then
    hs.status = "Progressing"
    hs.message = script.message
    return hs
  end
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end

local why = ready
if stageDetail[ready.reason] ~= nil then
  local detail = findCondition(stageDetail[ready.reason])
  if detail ~= nil and detail.status == "False" then
    why = detail
  end
end

-- A resync held for business hours waits by itself, until the RPO it lets
-- grow is missed.
if why.reason == "ResyncHeld" then
  local rpo = findCondition("RPOMet")
  if rpo ~= nil and rpo.status == "False" then
    hs.status = "Degraded"
    hs.message = why.message .. "; " .. rpo.message
    return hs
  end
end

if progressing[why.reason] then
  hs.status = "Progressing"
else
  hs.status = "Degraded"
end
hs.message = why.message
return hs
