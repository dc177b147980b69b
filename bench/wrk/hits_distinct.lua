-- POST /hits with a new visitor on every request, with what widget.js sends:
-- a visitor id, a fresh hit id, and the page's path (one of 50). Requests
-- come through the proxy that production runs behind, 50 from each address
-- (X-Forwarded-For), so the service's default limits hold.
-- wrk.format's header table replaces wrk.headers (and with it the -H
-- User-Agent, which would make every hit a bot's), so add to wrk.headers.
local addresses = dofile(string.gsub(debug.getinfo(1, "S").source, "^@(.*/)[^/]*$", "%1") .. "addresses.lua")
local n = 0
local threads = 0

-- setup runs once per thread in the main state: number the threads there,
-- and add the time so that runs do not repeat the previous run's visitors.
function setup(thread)
  threads = threads + 1
  thread:set("prefix", string.format("%d-%d", os.time(), threads))
  thread:set("base", addresses.base(threads))
end

function init(args)
  wrk.headers["Content-Type"] = "application/json"
  math.randomseed(os.time() + tonumber(string.match(prefix, "(%d+)$")))
end

-- With BENCH_DELAY_MS set, each connection waits a random, exponentially
-- distributed time of that mean before each request: paced, Poisson-like
-- arrivals instead of a saturating loop, for latency at a fixed rate.
local mean = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if mean then
  function delay()
    return -mean * math.log(1 - math.random())
  end
end

function request()
  n = n + 1
  wrk.headers["X-Forwarded-For"] = addresses.of(base, n)
  local body = string.format('{"visitor":"bench-%s-%012d","hit":"hit-%s-%012d","path":"/tin-tuc/bai-%d"}',
                             prefix, n, prefix, n, n % 50)
  return wrk.format("POST", nil, nil, body)
end
