-- The most viewed pages of one table of pages, in one call.
--
-- KEYS[1]  a table of pages: sorted set page -> views (all-time, a month or a day)
-- ARGV[1]  limit: how many pages at most
-- ARGV[2]  the member that holds the views of pages beyond the bound, "(other)"
--
-- Returns {page, views, page, views, ..., views of "(other)"}: every page with
-- more views than the limit-th page, then, of the pages with as many views as
-- it, the first ones in path order; the caller orders them (views, then path).

local limit = tonumber(ARGV[1])
local other = ARGV[2]
local out = {}
-- limit + 1 members: at most one of them is "(other)".
local top = redis.call('ZREVRANGE', KEYS[1], 0, limit, 'WITHSCORES')
local named = {}
for i = 1, #top, 2 do
  if top[i] ~= other then named[#named + 1] = i end
end
if #named < limit then
  -- The whole table.
  for _, i in ipairs(named) do
    out[#out + 1] = top[i]
    out[#out + 1] = top[i + 1]
  end
else
  -- ZREVRANGE orders equal views by path backwards; take the cut's ties in path order.
  local cut = top[named[limit] + 1]
  local above = 0
  for _, i in ipairs(named) do
    if tonumber(top[i + 1]) > tonumber(cut) then
      out[#out + 1] = top[i]
      out[#out + 1] = top[i + 1]
      above = above + 1
    end
  end
  local ties = redis.call('ZRANGEBYSCORE', KEYS[1], cut, cut, 'LIMIT', 0, limit - above + 1)
  for _, page in ipairs(ties) do
    if page ~= other then
      out[#out + 1] = page
      out[#out + 1] = cut
    end
  end
end
out[#out + 1] = redis.call('ZSCORE', KEYS[1], other) or '0'
return out
