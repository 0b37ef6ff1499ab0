-- Argo CD health check for imagerollout.dev/ImageModelRollout.
-- Argo CD runs it from argocd-cm in gopher-lua (Lua 5.1) with only the base, package and table
-- libraries: no string, math or os global (a safe os, time and date only, is require("os")),
-- so only `..`, tostring and plain table access are used here.
--
--   phase Initialized, Succeeded             -> Healthy
--   phase Initializing, Progressing, Promoting -> Progressing
--   phase Paused                             -> Suspended
--   phase Degraded, or condition InvalidSpec=True -> Degraded
-- It reports Progressing until status.observedGeneration catches up with metadata.generation,
-- and every message ends with the canary weight and the step in effect.
local hs = {}

local function condition(status, conditionType)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

-- "(canary 25%, step 2/4)": the weight and the step in effect.
local function progress(status)
  local text = "canary " .. tostring(status.canaryWeight or 0) .. "%"
  local steps = obj.spec and obj.spec.steps
  if status.currentStepIndex ~= nil and steps ~= nil and #steps > 0 then
    local step = status.currentStepIndex + 1
    if step > #steps then
      step = #steps
    end
    text = text .. ", step " .. tostring(step) .. "/" .. tostring(#steps)
  end
  return "(" .. text .. ")"
end

local function describe(status, text)
  if text == nil or text == "" then
    text = status.phase or "no phase yet"
  end
  return text .. " " .. progress(status)
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to initialize the rollout"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation) .. " "
    .. progress(status)
  return hs
end

local invalid = condition(status, "InvalidSpec")
if invalid ~= nil and invalid.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(status, (invalid.reason or "InvalidSpec") .. ": " .. (invalid.message or ""))
  return hs
end

local phase = status.phase
if phase == "Degraded" then
  hs.status = "Degraded"
  hs.message = describe(status, status.message)
elseif phase == "Paused" then
  hs.status = "Suspended"
  local reason = "paused"
  if status.pauseConditions ~= nil and #status.pauseConditions > 0 then
    reason = "paused (" .. (status.pauseConditions[1].reason or "unknown") .. ")"
  end
  hs.message = describe(status, reason .. ": " .. (status.message or ""))
elseif phase == "Initializing" or phase == "Progressing" or phase == "Promoting" then
  hs.status = "Progressing"
  hs.message = describe(status, status.message)
elseif phase == "Initialized" or phase == "Succeeded" then
  local available = condition(status, "Available")
  if available ~= nil and available.status == "False" then
    hs.status = "Progressing"
    hs.message = describe(status, available.message)
  else
    hs.status = "Healthy"
    hs.message = describe(status, status.message)
  end
elseif phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to set a phase " .. progress(status)
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase) .. " " .. progress(status)
end
return hs
