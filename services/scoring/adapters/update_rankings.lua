-- Places units in every ranking of one campaign from their counters and targets as they are
-- now, in one atomic step, and takes them off the ranking queue. Whichever call runs last
-- writes scores from the latest counters.
--   * "changed": a unit's rankings are written only where its score moved (the refresher, for
--     the ancestors the counters' step queued);
--   * "all": every ranking is written (a target, members, parent or cluster changed; a rebuild).
-- KEYS[1] the ranking queue. ARGV[1] key prefix, ARGV[2] what counts ("valid" or
-- "registered"), ARGV[3] "changed" or "all", ARGV[4] JSON {unit: [parent, cluster, level,
-- members, target]}, ARGV[5] JSON [unit, ...] to take off the queue (those above, and units
-- the registry does not know).
local prefix, counts, mode = ARGV[1], ARGV[2], ARGV[3]
local units = cjson.decode(ARGV[4])
local done = cjson.decode(ARGV[5])
local placed = 0
for unit, unit_meta in pairs(units) do
  local key = prefix .. ':u:' .. unit
  local current = redis.call('HMGET', key, counts, 'people', 'rk:pct', 'rk:per100', 'rk:people')
  local writes = {}
  rank_unit(
    prefix, unit, unit_meta, tonumber(current[1] or '0'), tonumber(current[2] or '0'),
    {current[3], current[4], current[5]}, mode == 'all', writes
  )
  if #writes > 0 then redis.call('HSET', key, unpack(writes)); placed = placed + 1 end
end
rank_flush()
for start = 1, #done, 1000 do
  redis.call('SREM', KEYS[1], unpack(done, start, math.min(start + 999, #done)))
end
return placed
