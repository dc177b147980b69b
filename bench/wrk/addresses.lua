-- Client addresses for the hit loads, as a proxy passes them on in
-- X-Forwarded-For: each sends PER_ADDRESS requests, fewer than the service's
-- default limits let through (120 hits a minute, 100 new visits an hour).
local PER_ADDRESS = 50
local M = {}

function M.base(thread)
  -- The first address number of a run's thread: runs a second or more apart,
  -- in the same Redis, never share an address (10.0.0.0/8 holds 16,777,216).
  return ((os.time() % 1600) * 10000 + (thread - 1) * 2000000) % 16777216
end

function M.of(base, n)
  -- The address of the n-th request of a thread whose addresses start at `base`.
  local a = (base + math.floor(n / PER_ADDRESS)) % 16777216
  return string.format("10.%d.%d.%d", math.floor(a / 65536), math.floor(a / 256) % 256, a % 256)
end

return M
