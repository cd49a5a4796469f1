-- Re-scores units in the rankings of one campaign from their counters and targets as they are
-- now, in one atomic step: whichever call runs last writes scores from the latest counters, so
-- concurrent consumers never leave a stale score behind.
-- ARGV[1] key prefix, ARGV[2] what counts ("valid" or "registered"),
-- ARGV[3] JSON [{u=unit, p=parent, c=cluster, l=level, m=members}].
local prefix, counts = ARGV[1], ARGV[2]
local units = cjson.decode(ARGV[3])

local function place(metric, unit, score, groups)
  for _, g in ipairs(groups) do
    if g[2] ~= '' then
      local key = prefix .. ':rk:' .. metric .. ':' .. g[1] .. ':' .. g[2]
      if score then redis.call('ZADD', key, score, unit) else redis.call('ZREM', key, unit) end
    end
  end
end

for _, u in ipairs(units) do
  local totals = redis.call('HMGET', prefix .. ':u:' .. u.u, counts, 'people')
  local counted, people = tonumber(totals[1] or '0'), tonumber(totals[2] or '0')
  local targets = redis.call('HMGET', prefix .. ':t:' .. u.u, 'own_target', 'assigned_target')
  local target = tonumber(targets[1] or targets[2] or '0')
  local members = tonumber(u.m or 0)
  local groups = {{'ch', u.p or ''}, {'cl', u.c or ''}, {'lv', u.l or ''}}
  place('pct', u.u, (target > 0) and (100 * counted / target) or false, groups)
  place('per100', u.u, (members > 0) and (100 * counted / members) or false, groups)
  place('people', u.u, people, groups)
end
return #units
