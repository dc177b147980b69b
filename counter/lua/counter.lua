-- One call per request: record a hit, a heartbeat or a bot, or just read.
-- Every key is built in Python (counter/store.py) and passed in KEYS; all of
-- them carry the site's hash tag, so the whole call runs on one slot.
--
-- KEYS[1]  all       hash: total, peak, peak_at (all-time)
-- KEYS[2]  seen      zset: visitor hash -> last-seen ms (trimmed to visit_timeout)
-- KEYS[3]  month     hash of the current local month: <day>v visits, <day>p page
--                    views, <day>b bots, <day>o "peak@epoch" peak online, and
--                    mv, the month's visits (kept by this script and set_day.lua)
-- KEYS[4]  other     hash of the previous month (yesterday and week days in it)
-- KEYS[5]  uniq      HyperLogLog of today's visitors
-- hit, beat and bot (a beat or a bot does not touch KEYS[6..8]):
-- KEYS[6]  minute    hash of page views per minute in the current UTC hour
-- KEYS[7]  hits      set of hit ids seen in the current UTC day
-- KEYS[8]  hits_old  set of hit ids seen in the previous UTC day
-- see the block "Limits": the client's keys, then its network's (the same
-- seven, passed only when ARGV[19] > 0):
-- KEYS[9]  rl        accepted hits and bots of this client in the current minute
-- KEYS[10] rl_old    the same for the previous minute
-- KEYS[11] nv        new visits of this client in the current hour
-- KEYS[12] nv_old    the same for the previous hour
-- KEYS[13] hb        heartbeats of this client in the current minute
-- KEYS[14] hb_old    the same for the previous minute
-- KEYS[15] keep      zset: visitor hash -> ms it was last kept online by this client
-- KEYS[16..22]       the same seven for the client's network (IPv6 /48), passed
--                    only with one (ARGV[19] > 0)
--
-- ARGV[1]  mode: read | hit | beat | bot
-- ARGV[2]  now, ms since the epoch (the service's clock, not Redis's)
-- ARGV[3]  day of month of today, e.g. "25"
-- ARGV[4]  yesterday: "c<day>" in the current month or "o<day>" in the other
-- ARGV[5]  the other days of this ISO week, same notation, space separated
-- ARGV[6]  online window, ms
-- hit, beat and bot:
-- ARGV[7]  visit timeout, ms
-- ARGV[8]  visitor hash ("" for a bot's heartbeat: limited, keeps nobody online)
-- ARGV[9]  lifetime of `seen` after a write, ms
-- ARGV[10] hit id hash, or ""
-- ARGV[11] minute of the hour, "0".."59"
-- ARGV[12] accepted hits (bots included) per client per minute; also the
--          heartbeats per client per minute and the visitors one client keeps online
-- ARGV[13] new visits per client per hour
-- ARGV[14..18] lifetimes in seconds of uniq, hits, minute, rl (and hb) and nv
-- ARGV[19] how many times the client's limits its network gets; 0: no network
-- ARGV[20] lifetime of a client's `keep` set after a write, ms
--
-- every mode, last (see the blocks "Last week and last month" and "Pages"):
-- ARGV[n-4] last week's visit fields in the current month, e.g. "2v 3v"
-- ARGV[n-3] last week's visit fields in the previous month, e.g. "27v 28v"
-- ARGV[n-2] the page (a normalised path), or "" for none
-- ARGV[n-1] the most pages kept per site (COUNTER_MAX_PATHS)
-- ARGV[n]   lifetime in seconds of a day table of pages, from now
-- with a page, the last three keys:
-- KEYS[m-2] pages all-time: sorted set page -> views, at most ARGV[n-1] pages and "(other)"
-- KEYS[m-1] pages of this local month, the same pages
-- KEYS[m]   pages of this local day, the same pages
--
-- Every lifetime is named once, in counter/store.py, and passed here.
--
-- Returns the fields of ANSWER in counter/store.py, in that order:
-- {status, new_visit, total, today, yesterday, week, month, online,
--  pageviews_today, unique_today, bots_today, peak_today, peak_today_at,
--  peak_all, peak_all_at, last_week, last_month, page_views, page_today}
-- total and month come back as strings, so that no count passes through a
-- Lua number (a double, exact only up to 2^53) on its way out.
-- status (Status in counter/store.py): 0 counted/recorded, 1 duplicate hit;
-- or, with nothing written, LIMITED_ANSWER {2, 0, retry_after} over the hit,
-- bot or heartbeat rate, {3, 0, retry_after} over the new-visit rate.

local unpack = unpack or table.unpack  -- Redis has Lua 5.1's; fakeredis's Lua, 5.4's
local mode = ARGV[1]
local now = tonumber(ARGV[2])
local today = ARGV[3]
local window = tonumber(ARGV[6])
-- Today's fields of the month hash, then `mv`; the reads below add to the list.
local fields = {today .. 'v', today .. 'p', today .. 'b', today .. 'o', 'mv'}
-- Arguments go to Redis as strings: a Lua number would be formatted on every
-- call, and with %.14g (Lua's) or %.17g (Redis's), dearer than %d.
local since = string.format('%d', now - window)  -- scores at or before it are out of the window

local function peak_of(value)
  if not value then return 0, '' end
  local count, at = string.match(value, '^(%d+)@(%d+)$')
  return tonumber(count), at
end

-- Lifetimes are set when a key (or, for the minute hash, a minute) is
-- created, not on every hit: fewer calls, and fewer writes to replicate.
local function incr_new(key, ttl)
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ttl) end
end

-- Limits ------------------------------------------------------------------
-- Every writing request counts against its client's limits and, for IPv6,
-- its /48 network's (ARGV[19] times larger): hits and bots share one budget
-- per minute, heartbeats have their own (a reader's tab sends one a minute),
-- new visits one per hour. A client keeps at most ARGV[12] visitors online:
-- the visitors it refreshed within the online window are in its `keep` set,
-- and one beyond the cap is not refreshed, whatever the client sends.
local groups = {{base = 9, times = 1}}
if mode ~= 'read' and tonumber(ARGV[19]) > 0 then
  groups[2] = {base = 16, times = tonumber(ARGV[19])}
end

local function windows(offsets)
  -- The current and the previous window at KEYS[base + offset] of every
  -- group, for every offset, in one MGET: pairs in that order.
  local keys = {}
  for _, offset in ipairs(offsets) do
    for _, g in ipairs(groups) do
      keys[#keys + 1] = KEYS[g.base + offset]
      keys[#keys + 1] = KEYS[g.base + offset + 1]
    end
  end
  return redis.call('MGET', unpack(keys))
end

local function over_limit(counts, first, span, limit)
  -- Seconds to wait when a group is at its limit in the windows of `span` ms
  -- whose pairs start at counts[first], else nil. The estimate over the last
  -- `span` ms: the current fixed window plus the previous one weighted by how
  -- much of it still overlaps.
  local elapsed = (now % span) / span
  for n, g in ipairs(groups) do
    local i = first + 2 * (n - 1)
    if tonumber(counts[i] or '0') + tonumber(counts[i + 1] or '0') * (1 - elapsed) >= limit * g.times then
      return math.ceil((span - now % span) / 1000)
    end
  end
  return nil
end

local function count_in(offset, ttl)
  -- Count one more in the current window at KEYS[base + offset] of every group.
  for _, g in ipairs(groups) do
    incr_new(KEYS[g.base + offset], ttl)
  end
end

local function may_keep(visitor)
  -- Whether every group may keep `visitor` online now; if so, note that it does.
  -- A visitor kept within the window passes; another one is counted against
  -- the cap, and only a set at the cap is trimmed of visitors kept before the
  -- window and counted again: entries older than that never pass.
  local cap = tonumber(ARGV[12])
  for _, g in ipairs(groups) do
    local keep = KEYS[g.base + 6]
    local at = redis.call('ZSCORE', keep, visitor)
    if not at or tonumber(at) <= now - window then
      local limit = cap * g.times
      if redis.call('ZCARD', keep) >= limit then
        redis.call('ZREMRANGEBYSCORE', keep, '-inf', since)
        if redis.call('ZCARD', keep) >= limit then return false end
      end
    end
  end
  for _, g in ipairs(groups) do
    redis.call('ZADD', KEYS[g.base + 6], ARGV[2], visitor)
    redis.call('PEXPIRE', KEYS[g.base + 6], ARGV[20])
  end
  return true
end

local status, new_visit = 0, 0
local last  -- a hit's visitor's last-seen ms in `seen`, as Redis answered

if mode == 'hit' then
  local timeout = tonumber(ARGV[7])
  local visitor = ARGV[8]
  local hit = ARGV[10]
  local duplicate = hit ~= '' and (redis.call('SISMEMBER', KEYS[7], hit) == 1
                                   or redis.call('SISMEMBER', KEYS[8], hit) == 1)
  if duplicate then
    status = 1
  else
    -- The hit limit's windows and the new-visit limit's, in one call.
    local counts = windows({0, 2})
    local wait = over_limit(counts, 1, 60000, tonumber(ARGV[12]))
    if wait then
      return {2, 0, wait}
    end
    last = redis.call('ZSCORE', KEYS[2], visitor)
    if not last or now - tonumber(last) >= timeout then
      local nv_wait = over_limit(counts, 1 + 2 * #groups, 3600000, tonumber(ARGV[13]))
      if nv_wait then
        return {3, 0, nv_wait}
      end
      new_visit = 1
      count_in(2, ARGV[18])
      redis.call('HINCRBY', KEYS[1], 'total', '1')
      redis.call('HINCRBY', KEYS[3], fields[1], '1')
      redis.call('HINCRBY', KEYS[3], 'mv', '1')
    end
    if hit ~= '' then
      redis.call('SADD', KEYS[7], hit)
      if redis.call('SCARD', KEYS[7]) == 1 then redis.call('EXPIRE', KEYS[7], ARGV[15]) end
    end
    count_in(0, ARGV[17])
    redis.call('HINCRBY', KEYS[3], fields[2], '1')
    if redis.call('HINCRBY', KEYS[6], ARGV[11], '1') == 1 then
      redis.call('EXPIRE', KEYS[6], ARGV[16])
    end
    -- PFADD answers 1 when it created or changed the sketch.
    if redis.call('PFADD', KEYS[5], visitor) == 1 then
      redis.call('EXPIRE', KEYS[5], ARGV[14])
    end
  end
elseif mode == 'bot' or mode == 'beat' then
  -- Bots share the hits' budget (limit keys from 0); heartbeats have their own (from 4).
  local first = mode == 'bot' and 0 or 4
  local wait = over_limit(windows({first}), 1, 60000, tonumber(ARGV[12]))
  if wait then
    return {2, 0, wait}
  end
  count_in(first, ARGV[17])
  if mode == 'bot' then
    redis.call('HINCRBY', KEYS[3], fields[3], '1')
  end
end

local touched = (mode == 'hit' and status == 0) or (mode == 'beat' and ARGV[8] ~= '')
if touched then
  local timeout = tonumber(ARGV[7])
  -- Visitors past the visit timeout are trimmed when a new one joins: only
  -- that grows `seen`. The online window lies within the timeout (else every
  -- call trims), so they are never counted online meanwhile, and a heartbeat
  -- checks its visitor's age itself.
  if (mode == 'hit' and not last) or window > timeout then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now - timeout))
  end
  -- GT: a late request from a host with a slower clock never moves it back.
  -- Only a page view lets a visitor in, so heartbeats with made-up ids
  -- cannot pump `online` past the hit rate limits.
  if mode == 'beat' then
    local at = redis.call('ZSCORE', KEYS[2], ARGV[8])
    if at and now - tonumber(at) < timeout and may_keep(ARGV[8]) then
      redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[8])
    end
  else
    local kept = may_keep(ARGV[8])
    -- A page view over the client's online cap still counts and starts a
    -- visit, but its visitor is seen as of one window ago: not online.
    redis.call('ZADD', KEYS[2], 'GT', kept and ARGV[2] or since, ARGV[8])
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[9])
end

local online = redis.call('ZCOUNT', KEYS[2], '(' .. since, '+inf')
-- Today's fields, the visits of yesterday and this week's other days, and
-- last week's (see "Last week and last month"), in one HMGET per month: refs
-- "c<day>" are in this month, "o<day>" in the other, whose list starts with `mv`.
local tail = #ARGV - 4
local other_fields, slots = {'mv'}, {}  -- a slot: i for fields[i], -i for other_fields[i]
for month, d in string.gmatch(ARGV[4] .. ' ' .. ARGV[5], '(%a)(%d+)') do
  if month == 'c' then
    fields[#fields + 1] = d .. 'v'
    slots[#slots + 1] = #fields
  else
    other_fields[#other_fields + 1] = d .. 'v'
    slots[#slots + 1] = -#other_fields
  end
end
local last_week_at, other_last_week_at = #fields + 1, #other_fields + 1
for f in string.gmatch(ARGV[tail], '%S+') do fields[#fields + 1] = f end
for f in string.gmatch(ARGV[tail + 1], '%S+') do other_fields[#other_fields + 1] = f end
local day = redis.call('HMGET', KEYS[3], unpack(fields))
local other_day = redis.call('HMGET', KEYS[4], unpack(other_fields))
local function visits_of(slot)
  local value
  if slot > 0 then value = day[slot] else value = other_day[-slot] end
  return value and tonumber(value) or 0
end

local peak_today, peak_today_at = peak_of(day[4])
local all = redis.call('HMGET', KEYS[1], 'total', 'peak', 'peak_at')
local peak_all, peak_all_at = tonumber(all[2] or '0'), all[3] or ''
if touched then
  local at = string.format('%d', math.floor(now / 1000))
  if online > peak_today then
    peak_today, peak_today_at = online, at
    redis.call('HSET', KEYS[3], fields[4], string.format('%d@%s', online, at))
  end
  if online > peak_all then
    peak_all, peak_all_at = online, at
    redis.call('HSET', KEYS[1], 'peak', string.format('%d', online), 'peak_at', at)
  end
end

local today_visits = tonumber(day[1] or '0')
local week = today_visits
for i = 2, #slots do  -- slots[1] is yesterday
  week = week + visits_of(slots[i])
end

-- Last week and last month ---------------------------------------------------
-- The previous ISO week starts at most 13 days back, so its days lie in this
-- month or the previous one (read above, after each month's other fields);
-- last month is the previous month's `mv`.
local function sum_from(values, first)
  -- The sum of the visit counts `values` from index `first` on.
  local total = 0
  for i = first, #values do
    if values[i] then total = total + tonumber(values[i]) end
  end
  return total
end
local last_week = sum_from(day, last_week_at) + sum_from(other_day, other_last_week_at)
local last_month = tonumber(other_day[1] or '0')

-- Pages ---------------------------------------------------------------------
-- A counted hit with a page adds one view to it in the all-time, month and
-- day tables. A site keeps at most ARGV[tail + 3] pages by name; views of
-- pages beyond them go to "(other)", so made-up paths cannot grow the tables
-- or push known pages out. Otherwise the page's numbers are only read.
local OTHER = '(other)'
local page = ARGV[tail + 2]
local page_views, page_today = 0, 0
if page ~= '' then
  local p_all, p_month, p_day = KEYS[#KEYS - 2], KEYS[#KEYS - 1], KEYS[#KEYS]
  if mode == 'hit' and status == 0 then
    local name = page
    local views = redis.call('ZADD', p_all, 'XX', 'INCR', '1', page)
    if not views then
      local named = redis.call('ZCARD', p_all)
      if named >= tonumber(ARGV[tail + 3]) and redis.call('ZSCORE', p_all, OTHER) then
        named = named - 1
      end
      if named >= tonumber(ARGV[tail + 3]) then name = OTHER end
      views = redis.call('ZINCRBY', p_all, '1', name)
    end
    redis.call('ZINCRBY', p_month, '1', name)
    local on_day = redis.call('ZINCRBY', p_day, '1', name)
    if tonumber(on_day) == 1 then
      -- The day table's first view of this page; the deadline is the same for all.
      redis.call('EXPIRE', p_day, ARGV[tail + 4])
    end
    if name == page then
      page_views, page_today = tonumber(views), tonumber(on_day)
    end
  else
    page_views = tonumber(redis.call('ZSCORE', p_all, page) or '0')
    page_today = tonumber(redis.call('ZSCORE', p_day, page) or '0')
  end
end

return {
  status, new_visit,
  all[1] or '0',
  today_visits,
  visits_of(slots[1]),
  week,
  day[5] or '0',
  online,
  tonumber(day[2] or '0'),
  redis.call('PFCOUNT', KEYS[5]),
  tonumber(day[3] or '0'),
  peak_today, peak_today_at,
  peak_all, peak_all_at,
  last_week, last_month,
  page_views, page_today,
}
