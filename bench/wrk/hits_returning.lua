-- POST /hits from a small set of 100 returning visitors.
local n = 0

function request()
  n = n + 1
  local body = string.format('{"visitor":"returning-visitor-%04d"}', n % 100)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
