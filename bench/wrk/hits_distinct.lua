-- POST /hits with a new visitor on every request.
local n = 0
local prefix = ""

function setup(thread)
  thread:set("prefix", "t" .. tostring(thread.id or math.random(1e9)))
end

function init(args)
  prefix = (prefix ~= "" and prefix or "t") .. "-" .. tostring(math.random(1e9))
end

function request()
  n = n + 1
  local body = string.format('{"visitor":"bench-%s-%012d"}', prefix, n)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
