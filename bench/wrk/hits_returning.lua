-- POST /hits from a small set of 100 returning visitors, with what widget.js
-- sends: a visitor id, a fresh hit id, and the page's path (one of 50).
-- Requests come through the proxy that production runs behind, 50 from each
-- address (X-Forwarded-For), so the service's default limits hold.
-- Headers go into wrk.headers: a table given to wrk.format would replace them.
local addresses = dofile(string.gsub(debug.getinfo(1, "S").source, "^@(.*/)[^/]*$", "%1") .. "addresses.lua")
local n = 0
local threads = 0

-- setup runs once per thread in the main state: hit ids carry the time and
-- the thread, so neither runs nor threads repeat them (a repeated id is not
-- counted), and each thread sends from addresses of its own (wrk -t3 would
-- otherwise send 150 hits a minute from each address, over the limit).
function setup(thread)
  threads = threads + 1
  thread:set("prefix", string.format("%d-%d", os.time(), threads))
  thread:set("base", addresses.base(threads))
end

function init(args)
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  wrk.headers["X-Forwarded-For"] = addresses.of(base, n)
  local body = string.format(
    '{"visitor":"returning-visitor-%04d","hit":"hit-r%s-%012d","path":"/tin-tuc/bai-%d"}',
    n % 100, prefix, n, n % 50)
  return wrk.format("POST", nil, nil, body)
end
