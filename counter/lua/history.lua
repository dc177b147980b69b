-- Read a stretch of daily history in one call.
--
-- KEYS[1..n]    month hashes (the same fields as in counter.lua)
-- KEYS[n+1..]   daily HyperLogLogs
-- ARGV[1]       n, how many of the keys are month hashes
--
-- Returns {month_1_fields, ..., month_n_fields, count_1, count_2, ...}:
-- each month as a flat HGETALL list, then PFCOUNT of each HyperLogLog.

local months = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  if i <= months then
    out[i] = redis.call('HGETALL', KEYS[i])
  else
    out[i] = redis.call('PFCOUNT', KEYS[i])
  end
end
return out
