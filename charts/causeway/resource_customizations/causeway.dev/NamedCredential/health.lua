-- Argo CD health check for causeway.dev/NamedCredential.
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

local phase = status.phase
local stalled = condition(status, "Stalled")
if is_true(stalled) or phase == "Invalid" then
  return verdict("Degraded", first(stalled and stalled.message, status.message,
    "The credential is Invalid: only a change to it or its Secrets helps."))
end

-- Its namespace reached the hourly outbound limit: the route exists but calls through
-- it are blocked until blockedUntil.
local blocked = condition(status, "Blocked")
local until_ = status.blockedUntil
if is_true(blocked) or (blocked == nil and type(until_) == "string" and until_ ~= "") then
  local message = ""
  if blocked ~= nil then
    message = first(blocked.message)
  end
  if message == "" then
    message = "Calls are blocked: this namespace reached its hourly outbound limit."
    if type(until_) == "string" and until_ ~= "" then
      message = "Calls are blocked until " .. until_
        .. ": this namespace reached its hourly outbound limit."
    end
  end
  return verdict("Degraded", message)
end

local ready = condition(status, "Ready")
if is_true(ready) or (ready == nil and phase == "Ready") then
  return verdict("Healthy", first(status.message, ready and ready.message, "Ready."))
end

local reconciling = condition(status, "Reconciling")
return verdict("Progressing", first(status.message, reconciling and reconciling.message,
  "Waiting for its OutboundConnection."))
