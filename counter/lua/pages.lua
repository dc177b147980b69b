-- The most viewed pages of one table of pages, in one call.
--
-- KEYS[1]  a table of pages: sorted set page -> views negated (all-time, a month or a day)
-- KEYS[2]  the same table in the earlier format, merged into KEYS[1] first (merge_pages)
-- ARGV[1]  limit: how many pages at most
-- ARGV[2]  the member that holds the views of pages beyond the bound, "(other)"
-- ARGV[3]  the member with no views that keeps the table a skiplist (counter.lua, "Pages")
--
-- Returns {page, views, page, views, ..., views of "(other)"}, views negated:
-- the `limit` most viewed pages, most viewed first, pages with as many views
-- in path order; the table's own order, as views are negated.

local limit = tonumber(ARGV[1])
local other, skiplist = ARGV[2], ARGV[3]
merge_pages(KEYS[2], KEYS[1])
local out = {}
-- limit + 1 members: at most one of them is "(other)"; SKIPLIST, at 0, comes
-- after every page, so it is among them only with all of them.
local top = redis.call('ZRANGE', KEYS[1], 0, limit, 'WITHSCORES')
for i = 1, #top, 2 do
  if top[i] ~= other and top[i] ~= skiplist and #out < 2 * limit then
    out[#out + 1] = top[i]
    out[#out + 1] = top[i + 1]
  end
end
out[#out + 1] = redis.call('ZSCORE', KEYS[1], other) or '0'
return out
