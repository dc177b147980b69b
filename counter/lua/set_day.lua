-- Set one day's visits and/or page views, keeping the month's visit sum right.
--
-- KEYS[1]  month hash (fields as in counter.lua; `mv` is the month's visits)
-- KEYS[2]  the site's all-time hash: its `hv`, the version of the past days'
--          counts that counter.lua's callers may hold, becomes ARGV[4]
-- ARGV[1]  day of month, e.g. "24"
-- ARGV[2]  visits, or "" to leave them
-- ARGV[3]  page views, or "" to leave them
-- ARGV[4]  a new version: random, so that no version comes back after the
--          keys were deleted and set again
--
-- Returns {old visits, old page views} as strings.

local day = ARGV[1]
local old = redis.call('HMGET', KEYS[1], day .. 'v', day .. 'p')
if ARGV[2] ~= '' then
  -- Numbers stay strings: Lua's own would lose digits past 14.
  if old[1] and old[1] ~= '0' then
    redis.call('HINCRBY', KEYS[1], 'mv', '-' .. old[1])
  end
  redis.call('HINCRBY', KEYS[1], 'mv', ARGV[2])
  redis.call('HSET', KEYS[1], day .. 'v', ARGV[2])
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], day .. 'p', ARGV[3])
end
redis.call('HSET', KEYS[2], 'hv', ARGV[4])
return {old[1] or '0', old[2] or '0'}
