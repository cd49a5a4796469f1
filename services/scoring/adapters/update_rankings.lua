-- Re-places units in every ranking of one campaign from their counters and targets as they are
-- now, in one atomic step: for a unit whose target, members or groups changed, and after a
-- rebuild. Whichever call runs last writes scores from the latest counters.
-- ARGV[1] key prefix, ARGV[2] what counts ("valid" or "registered"),
-- ARGV[3] JSON {unit: [parent, cluster, level, members, target]}.
local prefix, counts = ARGV[1], ARGV[2]
local units = cjson.decode(ARGV[3])
local placed = 0
for unit, unit_meta in pairs(units) do
  local key = prefix .. ':u:' .. unit
  local totals = redis.call('HMGET', key, counts, 'people')
  local scores = rank_scores(tonumber(totals[1] or '0'), tonumber(totals[2] or '0'), unit_meta)
  local writes = {}
  for _, metric in ipairs(RANK_METRICS) do
    rank_stage(prefix, unit, metric, scores[metric], unit_meta)
    writes[#writes + 1] = 'rk:' .. metric; writes[#writes + 1] = scores[metric]
  end
  redis.call('HSET', key, unpack(writes))
  placed = placed + 1
end
rank_flush()
return placed
