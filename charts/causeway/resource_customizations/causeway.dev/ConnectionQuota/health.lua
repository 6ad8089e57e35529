-- Argo CD health check for causeway.dev/ConnectionQuota.
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

if type(status) ~= "table" or (status.observedGeneration == nil
    and (type(status.conditions) ~= "table" or #status.conditions == 0)) then
  return verdict("Progressing", "Waiting for the operator to report status.")
end

local generation = tonumber(metadata.generation)
local observed = tonumber(status.observedGeneration)
if generation ~= nil and observed ~= nil and observed < generation then
  return verdict("Progressing", "Waiting for the operator to observe generation "
    .. tostring(generation) .. " (status describes generation " .. tostring(observed) .. ").")
end

-- Not the namespace's quota (a younger duplicate) or not valid: nothing it says counts.
local stalled = condition(status, "Stalled")
if is_true(stalled) then
  return verdict("Degraded", first(stalled.message, status.message,
    "Stalled: only a change to the spec or the platform helps."))
end

-- The hard outbound hourly limit is reached: no outbound endpoint of the namespace
-- passes traffic until blockedUntil.
local blocked = condition(status, "OutboundBlocked")
local until_ = status.blockedUntil
if is_true(blocked) or (blocked == nil and type(until_) == "string" and until_ ~= "") then
  local message = ""
  if blocked ~= nil then
    message = first(blocked.message)
  end
  if message == "" then
    message = "Outbound traffic is blocked: the hourly outbound limit is reached."
    if type(until_) == "string" and until_ ~= "" then
      message = "Outbound traffic is blocked until " .. until_
        .. ": the hourly outbound limit is reached."
    end
  end
  return verdict("Degraded", message)
end

-- More connections hold licenses than the quota grants: the declared licenses are not
-- what is in effect until someone unprovisions connections or raises them.
local over = condition(status, "OverLicensed")
if is_true(over) then
  return verdict("Degraded", first(over.message, status.message,
    "More connections hold licenses than the quota grants."))
end

local ready = condition(status, "Ready")
if is_true(ready) then
  local message = first(status.message, ready.message, "In effect.")
  -- Soft limits are reported, never enforced; a metering failure keeps the last
  -- figures. Neither changes the verdict; both are worth reading.
  for _, kind in ipairs({ "DailyAllocationExceeded", "InboundHourlyLimitExceeded" }) do
    local soft = condition(status, kind)
    if is_true(soft) then
      message = join(message, first(soft.message, kind .. "."))
    end
  end
  local metered = condition(status, "Metered")
  if metered ~= nil and metered.status == "False" then
    message = join(message, "Not metered (" .. first(metered.reason, "Unknown") .. "): "
      .. first(metered.message, "usage could not be read."))
  end
  return verdict("Healthy", message)
end

return verdict("Progressing", first(status.message, ready and ready.message,
  "Waiting for the operator."))
