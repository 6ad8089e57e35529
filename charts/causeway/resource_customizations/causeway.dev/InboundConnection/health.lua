-- Argo CD health check for causeway.dev/InboundConnection.
-- Runs in Argo CD's Lua 5.1 sandbox (base and table libraries only: no string
-- library), so it uses nothing but comparisons, concatenation and ipairs, and every
-- field may be missing.
local hs = {}

local function condition(status, kind)
  if type(status.conditions) ~= "table" then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if type(c) == "table" and c.type == kind then
      return c
    end
  end
  return nil
end

local function is_true(c)
  return c ~= nil and c.status == "True"
end

-- The first argument that is a non-empty string, else "".
local function first(a, b, c)
  for _, v in ipairs({ a or false, b or false, c or false }) do
    if type(v) == "string" and v ~= "" then
      return v
    end
  end
  return ""
end

local function join(a, b)
  if a == "" then
    return b
  end
  if b == "" then
    return a
  end
  return a .. " " .. b
end

local function verdict(state, message)
  hs.status = state
  hs.message = message
  return hs
end

local status = obj.status
local metadata = obj.metadata
if type(metadata) ~= "table" then
  metadata = {}
end
local spec = obj.spec
if type(spec) ~= "table" then
  spec = {}
end

if type(status) ~= "table" or (status.phase == nil and status.observedGeneration == nil
    and (type(status.conditions) ~= "table" or #status.conditions == 0)) then
  return verdict("Progressing", "Waiting for the operator to report status.")
end

local generation = tonumber(metadata.generation)
local observed = tonumber(status.observedGeneration)
if generation ~= nil and observed ~= nil and observed < generation then
  return verdict("Progressing", "Waiting for the operator to observe generation "
    .. tostring(generation) .. " (status describes generation " .. tostring(observed) .. ").")
end

-- Synced False: the operator could not check AWS; the phase stays as last observed
-- (and so does the verdict), but the message says why the view may be stale.
local note = ""
local synced = condition(status, "Synced")
if synced ~= nil and synced.status == "False" then
  note = "Not synced with AWS (" .. first(synced.reason, "Unknown") .. "): "
    .. first(synced.message, "the last check failed.")
end

local phase = status.phase
local stalled = condition(status, "Stalled")
if is_true(stalled) then
  return verdict("Degraded", join(first(stalled.message, status.message,
    "Stalled: only a change to the spec or the platform helps."), note))
end
if phase == "RejectedRemotely" or phase == "DeletedRemotely" then
  return verdict("Degraded", join(first(status.message, "Phase " .. phase .. "."), note))
end

local ready = condition(status, "Ready")
if is_true(ready) or (ready == nil and phase == "Ready") then
  return verdict("Healthy", join(first(status.message, ready and ready.message, "Ready."), note))
end

local reconciling = condition(status, "Reconciling")
if phase == "Unprovisioned" and spec.provisioned == false and not is_true(reconciling) then
  return verdict("Suspended", join(first(status.message,
    "Not provisioned (spec.provisioned is false)."), note))
end

local fallback = "Waiting for the operator."
if phase ~= nil then
  fallback = "Phase " .. tostring(phase) .. "."
end
return verdict("Progressing", join(first(status.message, reconciling and reconciling.message,
  fallback), note))
