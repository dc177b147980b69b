-- One call per request: record a hit, a heartbeat or a bot, or just read.
-- Every key is built in Python (counter/store.py) and passed in KEYS; all of
-- them carry the site's hash tag, so the whole call runs on one slot.
--
-- A store's settings come before this file, as one line of locals that
-- counter/store.py writes (a store with other settings loads its own copy):
-- numbers WINDOW (online window, ms), TIMEOUT (visit timeout, ms), HELD (how
-- long `seen` holds a visitor: the longer of the two, ms), RATE
-- (accepted hits, bots included, per client per minute; also its heartbeats
-- per minute and the visitors it keeps online), NEW_VISITS (new visits per
-- client per hour), NETWORK_SHARE (how many times a client's limits an IPv6
-- client's network gets), UNIQ_REUSE_FROM (the count of today's visitors from
-- which a hit's answer may reuse a count of the HyperLogLog made within the
-- same second) and MAX_PATHS (the most pages kept per site); and, as strings
-- because they go to Redis as they are, the lifetimes UNIQ_TTL, HITS_TTL,
-- MINUTES_TTL, RATE_TTL (also the heartbeats'), NEW_VISITS_TTL and NEW_PAGES_TTL in seconds,
-- SEEN_TTL (of `seen` after a write) and KEEP_TTL (of a client's `keep` set
-- after a write) in ms; and SKIPLIST, a member of every table of pages (see
-- "Pages"). Passed once at load, not in every call's ARGV: each
-- argument costs the call a Lua string, and each number a conversion. Then
-- comes counter/lua/merge_pages.lua, whose function merge_pages this file calls.
--
-- KEYS[1]  all       hash: total, peak, peak_at (all-time); u, the day's count
--                    of visitors cached (see "Unique visitors"); hv, the version
--                    of the past days' counts, new at every change to them
-- KEYS[2]  seen      zset: visitor hash -> last-seen ms (trimmed to HELD)
-- KEYS[3]  month     hash of the current local month: <day>v visits, <day>p page
--                    views, <day>b bots, <day>o "peak@epoch" peak online, and
--                    mv, the month's visits (kept by this script and set_day.lua)
-- KEYS[4]  other     hash of the previous month (yesterday and week days in it)
-- KEYS[5]  uniq      HyperLogLog of today's visitors
-- hit, beat and bot (a beat or a bot does not touch KEYS[6..8]):
-- KEYS[6]  minute    hash of page views per minute in the current UTC hour
-- KEYS[7]  hits      set of hit ids seen in the current UTC day, and ""
-- KEYS[8]  hits_old  set of hit ids seen in the previous UTC day
-- see the block "Limits": the client's keys, then its network's (the same
-- seven, passed only for an IPv6 client):
-- KEYS[9]  rl        accepted hits and bots of this client in the current minute
-- KEYS[10] rl_old    the same for the previous minute
-- KEYS[11] nv        new visits of this client in the current hour
-- KEYS[12] nv_old    the same for the previous hour
-- KEYS[13] hb        heartbeats of this client in the current minute
-- KEYS[14] hb_old    the same for the previous minute
-- KEYS[15] keep      zset: visitor hash -> minus the ms it was last kept online by
--                    this client (see may_keep)
-- KEYS[16] np        pages this client gave a name in the current hour (see "Pages")
-- KEYS[17..24]       the same eight for the client's network (IPv6 /48), passed
--                    only with one
--
-- ARGV[1]  mode: read | hit | beat | bot
-- ARGV[2]  now, ms since the epoch (the service's clock, not Redis's)
-- ARGV[3]  now less the online window, ms: scores at or before it are out of the window
-- ARGV[4]  now in whole seconds since the epoch
-- ARGV[5]  day of month of today, e.g. "25"
-- ARGV[6]  yesterday: "c<day>" in the current month or "o<day>" in the other
-- ARGV[7]  the other days of this ISO week, same notation, space separated
-- hit, beat and bot:
-- ARGV[8]  visitor hash ("" for a bot's heartbeat: limited, keeps nobody online)
-- ARGV[9]  hit id hash, or ""
-- ARGV[10] minute of the hour, "0".."59"
--
-- every mode, last (see the blocks "Reads first", "Last week and last month" and "Pages"):
-- ARGV[n-4] the version (hv) of the past days' counts the caller holds for today, or ""
-- ARGV[n-3] last week's visit fields in the current month, e.g. "2v 3v"
-- ARGV[n-2] last week's visit fields in the previous month, e.g. "27v 28v"
-- ARGV[n-1] the page (a normalised path), or "" for none
-- ARGV[n]   lifetime in seconds of a day table of pages, from now
-- with a page, the last six keys:
-- KEYS[m-5] pages all-time: sorted set page -> views negated, at most MAX_PATHS
--           pages and "(other)"
-- KEYS[m-4] pages of this local month, the same pages
-- KEYS[m-3] pages of this local day, the same pages
-- KEYS[m-2..m] the same three tables in the earlier format (see merge_pages)
--
-- Every lifetime is named once, in counter/store.py, which writes it on the settings line.
--
-- Returns the fields of ANSWER in counter/store.py, in that order:
-- {status, new_visit, total, today, yesterday, week_before_today, month, online,
--  pageviews_today, unique_today, bots_today, peak_today, peak_today_at,
--  peak_all, peak_all_at, last_week, last_month, page_views, page_today,
--  history_version}, page_views and page_today negated (see "Pages").
-- yesterday, week_before_today, last_week and last_month are "" when the
-- caller holds the past days' counts of history_version.
-- Counts come back as Redis gave them (strings from the hashes, or HINCRBY's
-- numbers below 2^53), so that no count passes through a Lua number (a
-- double) where it would not be exact.
-- status (Status in counter/store.py): 0 counted/recorded, 1 duplicate hit;
-- or, with nothing written, LIMITED_ANSWER {2, 0, retry_after} over the hit,
-- bot or heartbeat rate, {3, 0, retry_after} over the new-visit rate.

local unpack = unpack or table.unpack  -- Redis has Lua 5.1's; fakeredis's Lua, 5.4's
-- Numbers and strings cost conversions: a string becomes a number by
-- arithmetic (one strtod; tonumber makes two in Redis's Lua), and a number
-- a string by a printf. So what can be is passed, compared and answered as
-- the string it is, and arguments go to Redis as strings (a Lua number would
-- be formatted with %.17g on every call).
local mode = ARGV[1]
local now = ARGV[2] + 0
local since = ARGV[3]
local second = ARGV[4]
local today = ARGV[5]
local EXACT = 9007199254740991  -- 2^53 - 1: the largest count a Lua number holds to the unit

-- Reads first -----------------------------------------------------------------
-- The counts are read before the writes, which then set each hash's new
-- values in one HSET. The past days' counts (yesterday, this week's other
-- days, last week, last month) change only when an operator sets a day,
-- which sets a new `hv`: a caller holding the counts of the current version
-- passes it, and they are not read again.
-- `u` caches the day's count of visitors: "<second>:<count>" (see "Unique visitors").
local all = redis.call('HMGET', KEYS[1], 'total', 'peak', 'peak_at', 'u', 'hv')
local version = all[5] or '0'
local tail = #ARGV - 3
local history = ARGV[tail - 1] ~= version
-- The month's fields of today and `mv`; with the history, yesterday's and this
-- week's other days' visits and last week's, in one HMGET per month: refs
-- "c<day>" are in this month, "o<day>" in the other, whose list starts with `mv`.
local fields = {today .. 'v', today .. 'p', today .. 'b', today .. 'o', 'mv'}
local other_fields, slots = {'mv'}, {}  -- a slot: i for fields[i], -i for other_fields[i]
local last_week_at, other_last_week_at, other_day
if history then
  for month, d in string.gmatch(ARGV[6] .. ' ' .. ARGV[7], '(%a)(%d+)') do
    if month == 'c' then
      fields[#fields + 1] = d .. 'v'
      slots[#slots + 1] = #fields
    else
      other_fields[#other_fields + 1] = d .. 'v'
      slots[#slots + 1] = -#other_fields
    end
  end
  last_week_at, other_last_week_at = #fields + 1, #other_fields + 1
  for f in string.gmatch(ARGV[tail], '%S+') do fields[#fields + 1] = f end
  for f in string.gmatch(ARGV[tail + 1], '%S+') do other_fields[#other_fields + 1] = f end
  other_day = redis.call('HMGET', KEYS[4], unpack(other_fields))
end
local day = redis.call('HMGET', KEYS[3], unpack(fields))
local month_set, all_set = {}, {}  -- field, value, ... of new peaks, for one HSET of each hash

local function add_one(key, field, values, i)
  -- Add one to field `field` of hash `key`, and put the count in values[i]:
  -- HINCRBY's answer, a number exact to the unit below 2^53, or past that
  -- (a count set by an operator) the count read again as a string.
  local n = redis.call('HINCRBY', key, field, '1')
  if n >= EXACT then n = redis.call('HGET', key, field) end
  values[i] = n
end

local function peak_of(value)
  if not value then return 0, '' end
  local count, at = string.match(value, '^(%d+)@(%d+)$')
  return count + 0, at
end

-- Lifetimes are set when a key (or, for the minute hash, a minute) is
-- created, not on every hit: fewer calls, and fewer writes to replicate.
local function incr_new(key, ttl)
  -- Count one more at `key`; return whether that created it.
  if redis.call('INCR', key) == 1 then
    redis.call('EXPIRE', key, ttl)
    return true
  end
  return false
end

-- Limits ------------------------------------------------------------------
-- Every writing request counts against its client's limits and, for IPv6,
-- its /48 network's (NETWORK_SHARE times larger): hits and bots share one budget
-- per minute, heartbeats have their own (a reader's tab sends one a minute),
-- new visits one per hour. A client keeps at most RATE visitors online:
-- the visitors it refreshed are in its `keep` set, which never holds more.
-- An IPv6 client's network's keys follow its own: more than 16 keys before the pages'.
local page = ARGV[tail + 2]
local groups = {{base = 9, times = 1}}
if mode ~= 'read' and #KEYS - (page ~= '' and 6 or 0) > 16 then
  groups[2] = {base = 17, times = NETWORK_SHARE}
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
    if (counts[i] or 0) + (counts[i + 1] or 0) * (1 - elapsed) >= limit * g.times then
      return math.ceil((span - now % span) / 1000)
    end
  end
  return nil
end

local function count_in(offset, ttl)
  -- Count one more in the current window at KEYS[base + offset] of every
  -- group. A hit-and-bot or heartbeat window (offsets 0 and 4; not the new
  -- visits', 2) that begins renews the group's `keep` set, whatever the
  -- request then does (a bot, a refused visitor or a heartbeat of nobody may
  -- begin it): every visitor kept within the window is then kept for less
  -- than a minute after that renewal.
  for _, g in ipairs(groups) do
    if incr_new(KEYS[g.base + offset], ttl) and offset ~= 2 then
      redis.call('PEXPIRE', KEYS[g.base + 6], KEEP_TTL)
    end
  end
end

local function may_keep(visitor)
  -- Whether every group may keep `visitor` online now; if so, note that it does.
  -- A set never holds more than its cap, so its visitors within the window
  -- (the ones this client keeps online) never exceed it: a visitor new to
  -- the set is let in under the cap, or once the visitors kept before the
  -- window are trimmed; one already in it is refreshed. The set's lifetime
  -- is set when it is created, and renewed when the group's rate window
  -- begins (count_in): at least once a minute while the client is active,
  -- so the set outlives by the window every visitor it keeps.
  -- Scores are times negated: a set is a small listpack, sorted by score and
  -- searched from its head, where the visitor just kept then goes, and where
  -- a returning one is found sooner (with times, both walked the whole set).
  -- The trim takes scores from -since to since: the negated times at or
  -- before `since`, and the plain times that the earlier version wrote (a
  -- worker not yet upgraded), so those still count until they are out too.
  local added, at = {}, '-' .. ARGV[2]
  for _, g in ipairs(groups) do
    local keep = KEYS[g.base + 6]
    -- LT: a late request from a host with a slower clock (as GT for `seen`).
    if redis.call('ZADD', keep, 'LT', at, visitor) == 1 then
      added[#added + 1] = keep
      local limit, size = RATE * g.times, redis.call('ZCARD', keep)
      if size == 1 then redis.call('PEXPIRE', keep, KEEP_TTL) end
      if size > limit then
        size = size - redis.call('ZREMRANGEBYSCORE', keep, '-' .. since, since)
        if size > limit then
          for _, k in ipairs(added) do redis.call('ZREM', k, visitor) end
          return false
        end
      end
    end
  end
  return true
end

local status, new_visit = 0, 0
local last  -- a hit's visitor's last-seen ms in `seen`, as Redis answered
local day_began = not day[2]  -- no page view today yet (before this request)
local minute_began = false  -- a counted hit began the site's current minute

if mode == 'hit' then
  local visitor = ARGV[8]
  local hit = ARGV[9]
  -- The hit id joins today's set at once (a duplicate leaves it as it was),
  -- and leaves it again if the hit is refused: a retry then counts.
  local duplicate = hit ~= '' and redis.call('SADD', KEYS[7], hit) == 0
  if hit ~= '' and not duplicate and redis.call('SISMEMBER', KEYS[8], hit) == 1 then
    redis.call('SREM', KEYS[7], hit)  -- seen yesterday (UTC): kept in yesterday's set only
    duplicate = true
  end
  -- The hit limit's windows and the new-visit limit's, in one call. A repeat
  -- counts against the hit limit too: it still costs this call.
  local counts = windows({0, 2})
  local wait = over_limit(counts, 1, 60000, RATE)
  if duplicate then
    if wait then return {2, 0, wait} end  -- the id stays as it was
    count_in(0, RATE_TTL)
    status = 1
  else
    local function refuse(answer)
      if hit ~= '' then redis.call('SREM', KEYS[7], hit) end
      return answer
    end
    if wait then
      return refuse({2, 0, wait})
    end
    last = redis.call('ZSCORE', KEYS[2], visitor)
    if not last or now - last >= TIMEOUT then
      local nv_wait = over_limit(counts, 1 + 2 * #groups, 3600000, NEW_VISITS)
      if nv_wait then
        return refuse({3, 0, nv_wait})
      end
      new_visit = 1
      count_in(2, NEW_VISITS_TTL)
      add_one(KEYS[1], 'total', all, 1)
      add_one(KEYS[3], fields[1], day, 1)
      add_one(KEYS[3], 'mv', day, 5)
    end
    count_in(0, RATE_TTL)
    add_one(KEYS[3], fields[2], day, 2)
    -- The first page view of a minute renews what needs renewing only now
    -- and then: the minute hash, the day's HyperLogLog and `seen` below.
    minute_began = redis.call('HINCRBY', KEYS[6], ARGV[10], '1') == 1
    redis.call('PFADD', KEYS[5], visitor)
    if minute_began then
      -- The local day begins on a minute: its first page view lands here.
      redis.call('EXPIRE', KEYS[6], MINUTES_TTL)
      redis.call('EXPIRE', KEYS[5], UNIQ_TTL)
      -- So does the UTC day's (the minute hash is the UTC hour's): it puts ""
      -- (no hit id) in the day's set of hit ids and, when that is new, gives
      -- the set its lifetime. A hit that counts finds the set made, or makes
      -- it and begins a minute; one that does not count leaves it as it was.
      -- (Each hit with an id used to ask the set's size instead.) Yesterday's
      -- set gets one too if it has none: one an older worker, which gave
      -- none, made in a minute this version did not begin (a rolling upgrade).
      if redis.call('SADD', KEYS[7], '') == 1 then redis.call('EXPIRE', KEYS[7], HITS_TTL) end
      redis.call('EXPIRE', KEYS[8], HITS_TTL, 'NX')
    end
  end
elseif mode == 'bot' or mode == 'beat' then
  -- Bots share the hits' budget (limit keys from 0); heartbeats have their own (from 4).
  local first = mode == 'bot' and 0 or 4
  local wait = over_limit(windows({first}), 1, 60000, RATE)
  if wait then
    return {2, 0, wait}
  end
  count_in(first, RATE_TTL)
  if mode == 'bot' then
    day[3] = redis.call('HINCRBY', KEYS[3], fields[3], '1')
  end
end

local touched = (mode == 'hit' and status == 0) or (mode == 'beat' and ARGV[8] ~= '')
if touched then
  -- Visitors past HELD (the longer of the visit timeout and the online
  -- window) are trimmed by the first page view of a minute (and by a
  -- heartbeat that lets a visitor in, below), and `seen` gets
  -- its lifetime then, when it is created (below), or on a heartbeat: it
  -- holds the visitors of HELD and a minute, and outlives its last write by
  -- HELD. So a trimmed visitor is neither online nor within its visit, and a
  -- heartbeat checks its visitor's age itself.
  if minute_began then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now - HELD))
  end
  -- GT: a late request from a host with a slower clock never moves it back.
  if mode == 'beat' then
    -- A heartbeat slides its visitor's last-seen time as a page view does,
    -- and never counts a visit. One from a visitor not seen within the visit
    -- timeout joins `seen` only within its client's new visits an hour,
    -- which it uses up as a page view's new visit would, and trims `seen` as
    -- the first page view of a minute does: made-up ids grow `seen` no faster
    -- by heartbeats than by page views, and the online cap holds for both.
    local at = redis.call('ZSCORE', KEYS[2], ARGV[8])
    local joins = not at or now - at >= TIMEOUT
    if (not joins or not over_limit(windows({2}), 1, 3600000, NEW_VISITS)) and may_keep(ARGV[8]) then
      if joins then
        count_in(2, NEW_VISITS_TTL)
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now - HELD))
      end
      redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[8])
    end
  else
    local kept = may_keep(ARGV[8])
    -- A page view over the client's online cap still counts and starts a
    -- visit, but its visitor is seen as of one window ago: not online.
    redis.call('ZADD', KEYS[2], 'GT', kept and ARGV[2] or since, ARGV[8])
  end
end

local online = redis.call('ZCOUNT', KEYS[2], '(' .. since, '+inf')
-- A set this page view made holds its visitor alone: at most 1 online. Other
-- page views of the minute need no renewal: the minute's first one gave `seen`
-- the timeout and a minute, which outlasts the timeout of each of them.
if touched and (mode == 'beat' or minute_began or (not last and online <= 1)) then
  redis.call('PEXPIRE', KEYS[2], SEEN_TTL)
end

local peak_today, peak_today_at = peak_of(day[4])
local peak_all, peak_all_at = (all[2] or 0) + 0, all[3] or ''
if touched then
  local at = second
  if online > peak_today then
    peak_today, peak_today_at = online, at
    month_set[#month_set + 1] = fields[4]
    month_set[#month_set + 1] = string.format('%d@%s', online, at)
  end
  if online > peak_all then
    peak_all, peak_all_at = online, at
    all_set[#all_set + 1] = 'peak'
    all_set[#all_set + 1] = string.format('%d', online)
    all_set[#all_set + 1] = 'peak_at'
    all_set[#all_set + 1] = at
  end
elseif online > peak_today then
  -- Read in a new day before its first write: the last day's visitors still
  -- online are today's too. Answered, not written (a read never writes); the
  -- next page view or heartbeat writes it.
  peak_today, peak_today_at = online, second
end

-- Unique visitors ---------------------------------------------------------------
-- PFCOUNT after a PFADD that changed the sketch reads all 16,384 registers.
-- A site with UNIQ_REUSE_FROM visitors today or more has a hit's answer reuse the
-- count made within the same second (the estimate's error there is wider
-- than a second's new visitors); reads and smaller sites always count.
local unique
if mode == 'hit' and all[4] then
  local at, count = string.match(all[4], '^(%d+):(%d+)$')
  if at == second then unique = count end
end
if not unique then
  unique = redis.call('PFCOUNT', KEYS[5])
  if mode == 'hit' and status == 0 and unique >= UNIQ_REUSE_FROM then
    all_set[#all_set + 1] = 'u'
    all_set[#all_set + 1] = second .. ':' .. string.format('%d', unique)
  end
end

if #month_set > 0 then redis.call('HSET', KEYS[3], unpack(month_set)) end
if #all_set > 0 then redis.call('HSET', KEYS[1], unpack(all_set)) end

-- Today at the head of the month ------------------------------------------------
-- A month hash is a listpack, searched from its head: by the month's end a
-- lookup of today's fields passed 29 days of others, and a missing field
-- (no bots today) all of them, which made a hit 28-36 % dearer than on the
-- 1st. The day's first counted page view rewrites the hash with today's
-- fields and `mv` first, once a day. A count not set yet is set to 0 (a 0
-- reads as no field, and a missing field is the dearest lookup); the other
-- days keep their order and values, less such zeros, which take room.
if mode == 'hit' and status == 0 and day_began then
  local first = {[fields[1]] = 1, [fields[2]] = 2, [fields[3]] = 3, [fields[4]] = 4, [fields[5]] = 5}
  local head, rest = {}, {}
  local flat = redis.call('HGETALL', KEYS[3])
  for i = 1, #flat, 2 do
    local at = first[flat[i]]
    if at then
      head[at] = flat[i + 1]
    elseif flat[i + 1] ~= '0' then
      rest[#rest + 1] = flat[i]
      rest[#rest + 1] = flat[i + 1]
    end
  end
  if #rest > 0 then
    local set = {}
    for i = 1, 5 do
      local value = head[i] or (i ~= 4 and '0' or nil)  -- no peak yet stays no peak
      if value then
        set[#set + 1] = fields[i]
        set[#set + 1] = value
      end
    end
    for i = 1, #rest do set[#set + 1] = rest[i] end
    redis.call('DEL', KEYS[3])
    redis.call('HSET', KEYS[3], unpack(set))
  end
end

local yesterday, week_before_today, last_week, last_month = '', '', '', ''

-- Last week and last month ---------------------------------------------------
-- The previous ISO week starts at most 13 days back, so its days lie in this
-- month or the previous one (read above, after each month's other fields);
-- last month is the previous month's `mv`. Sums are made exact past 2^53
-- (days set by an operator): each count in two parts, its last 8 digits and
-- the rest, each sum far below 2^53, and answered as a string.
if history then
  -- Made here, not above: a function is made anew by every call that passes it.
  local function add_count(sum, value)
    -- Add the count `value` (a string, or false for none) to `sum`, {high, low}.
    if value then
      local n = #value
      sum[2] = sum[2] + string.sub(value, math.max(1, n - 7))
      if n > 8 then sum[1] = sum[1] + string.sub(value, 1, n - 8) end
    end
  end
  local function count_of(sum)
    -- The count `sum` as a string.
    local high, low = sum[1] + math.floor(sum[2] / 1e8), sum[2] % 1e8
    if high > 0 then return string.format('%d%08d', high, low) end
    return string.format('%d', low)
  end
  local function visits_of(slot)
    -- The visits at a slot: fields[slot] of this month, or other_fields[-slot].
    if slot > 0 then return day[slot] end
    return other_day[-slot]
  end
  yesterday = visits_of(slots[1]) or '0'
  local week = {0, 0}
  for i = 2, #slots do  -- slots[1] is yesterday
    add_count(week, visits_of(slots[i]))
  end
  week_before_today = count_of(week)
  local before = {0, 0}
  for i = last_week_at, #day do add_count(before, day[i]) end
  for i = other_last_week_at, #other_day do add_count(before, other_day[i]) end
  last_week = count_of(before)
  last_month = other_day[1] or '0'
end

-- Pages ---------------------------------------------------------------------
-- A counted hit with a page adds one view to it in the all-time, month and
-- day tables. A site keeps at most MAX_PATHS pages by name; views of
-- pages beyond them go to "(other)", so made-up paths cannot grow the tables
-- or push known pages out; and a client names at most RATE new pages a clock hour
-- (its network NETWORK_SHARE times as many), beyond which its views of pages
-- new to the site go to "(other)" too, so that one client cannot fill the
-- names with made-up paths in minutes, for ever. Otherwise the page's
-- numbers are only read.
-- A table holds SKIPLIST, with no views, from its first page on: longer than
-- Redis's zset-max-listpack-value (64 bytes), it keeps the table a skiplist,
-- where a view is a lookup and a short move. In a listpack, Redis's form of
-- a sorted set of up to 128 short members, every view walked the table to
-- find the page and again to put it back: 10k instructions a table at 50
-- pages of even traffic, 29k of a hit's 338k (bench/script.py). The
-- skiplist takes about 100 bytes a page more, and 1 KB a table.
-- Views are stored negated, so the top pages are the first ones (SKIPLIST,
-- at 0, is the last). Counts of pages are answered negated too, and merged
-- from tables of the earlier format (merge_pages) when a page is new to a
-- table, or summed when only read.
local OTHER = '(other)'

local function keep_skiplist(key)
  -- Give the table of pages at `key` SKIPLIST, unless it has it.
  redis.call('ZADD', key, 'NX', '0', SKIPLIST)
end

local function may_name()
  -- Whether every group may name one more page this hour; if so, count it.
  for _, g in ipairs(groups) do
    if (tonumber(redis.call('GET', KEYS[g.base + 7])) or 0) >= RATE * g.times then return false end
  end
  for _, g in ipairs(groups) do incr_new(KEYS[g.base + 7], NEW_PAGES_TTL) end
  return true
end
local page_views, page_today = 0, 0
if page ~= '' then
  local n = #KEYS
  local p_all, p_month, p_day = KEYS[n - 5], KEYS[n - 4], KEYS[n - 3]
  local o_all, o_month, o_day = KEYS[n - 2], KEYS[n - 1], KEYS[n]
  if mode == 'hit' and status == 0 then
    if day_began then
      -- The day's first page view gives SKIPLIST to the tables that outlive
      -- the day, made by an earlier version and without it, whose pages may
      -- all be known.
      keep_skiplist(p_all)
      keep_skiplist(p_month)
    end
    local name = page
    local views = redis.call('ZADD', p_all, 'XX', 'INCR', '-1', page)
    if not views and merge_pages(o_all, p_all) then
      views = redis.call('ZADD', p_all, 'XX', 'INCR', '-1', page)
    end
    if not views then
      local named = redis.call('ZCARD', p_all)
      if named >= MAX_PATHS then  -- less "(other)" and SKIPLIST, which name no page
        if redis.call('ZSCORE', p_all, OTHER) then named = named - 1 end
        if redis.call('ZSCORE', p_all, SKIPLIST) then named = named - 1 end
      end
      if named >= MAX_PATHS or not may_name() then name = OTHER end
      views = redis.call('ZINCRBY', p_all, '-1', name)
      if views == '-1' then keep_skiplist(p_all) end
    end
    if redis.call('ZINCRBY', p_month, '-1', name) == '-1' then
      merge_pages(o_month, p_month)
      keep_skiplist(p_month)
    end
    local on_day = redis.call('ZINCRBY', p_day, '-1', name)
    if on_day == '-1' then
      -- The day table's first view of this page; the deadline is the same for all.
      if merge_pages(o_day, p_day) then on_day = redis.call('ZSCORE', p_day, name) end
      keep_skiplist(p_day)
      redis.call('EXPIRE', p_day, ARGV[tail + 3])
    end
    if name == page then
      page_views, page_today = views, on_day
    end
  else
    page_views = (redis.call('ZSCORE', p_all, page) or 0) - (redis.call('ZSCORE', o_all, page) or 0)
    page_today = (redis.call('ZSCORE', p_day, page) or 0) - (redis.call('ZSCORE', o_day, page) or 0)
  end
end

return {
  status, new_visit,
  all[1] or '0',
  day[1] or '0',
  yesterday,
  week_before_today,
  day[5] or '0',
  online,
  day[2] or '0',
  unique,
  day[3] or '0',
  peak_today, peak_today_at,
  peak_all, peak_all_at,
  last_week, last_month,
  page_views, page_today,
  version,
}
