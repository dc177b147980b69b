-- POST /hits from a small set of 100 returning visitors.
-- Headers go into wrk.headers: a table given to wrk.format would replace them.
local n = 0

function init(args)
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local body = string.format('{"visitor":"returning-visitor-%04d"}', n % 100)
  return wrk.format("POST", nil, nil, body)
end
