-- Tables of pages of the earlier format (keys "p:...", views as they are)
-- are merged into the current ones (keys "pages:...", views negated) when
-- first touched: by a hit's page new to a current table, or by a read of
-- the top pages. counter/store.py puts this before counter.lua and pages.lua.

local function merge_pages(old, new)
  -- Add the views of table `old` of the earlier format to table `new`, keep
  -- a day table's deadline (`new`'s own, else `old`'s), and delete `old`;
  -- return whether there was one.
  local ttl = redis.call('PTTL', old)
  if ttl == -2 then return false end  -- no such key: the usual answer
  local own = redis.call('PTTL', new)
  if own > 0 then ttl = own end
  redis.call('ZUNIONSTORE', new, 2, new, old, 'WEIGHTS', 1, -1)  -- makes `new` anew, without a lifetime
  if ttl > 0 then redis.call('PEXPIRE', new, ttl) end
  redis.call('DEL', old)
  return true
end
