-- Shared by apply_batch.lua and update_rankings.lua (prepended to each): how a unit is scored
-- and placed in the rankings of its parent's children (ch), its emulation cluster (cl) and its
-- level (lv). The scores last placed are kept in the unit's hash (rk:pct, rk:per100,
-- rk:people), so a step only touches the rankings whose score changed; the changes are staged
-- per ranking and written with one ZADD and one ZREM per ranking.
local RANK_METRICS = {'pct', 'per100', 'people'}
local rank_adds, rank_removals = {}, {}

-- The scores of a unit as strings ('' where a score has no meaning: no target, no members).
-- meta = {parent, cluster, level, members, target}; the target is the unit's own when it set
-- one, else the assigned one.
local function rank_scores(counted, people, meta)
  local members, target = tonumber(meta[4]) or 0, tonumber(meta[5]) or 0
  return {
    pct = (target > 0) and string.format('%.17g', 100 * counted / target) or '',
    per100 = (members > 0) and string.format('%.17g', 100 * counted / members) or '',
    people = string.format('%.17g', people),
  }
end

-- Stage the unit's place in each of its groups' ranking of metric ('' takes it out).
local function rank_stage(prefix, unit, metric, score, meta)
  for n, grouping in ipairs({'ch', 'cl', 'lv'}) do
    local group = meta[n] or ''
    if group ~= '' then
      local key = prefix .. ':rk:' .. metric .. ':' .. grouping .. ':' .. group
      local staged = (score ~= '') and rank_adds or rank_removals
      local members = staged[key]
      if not members then members = {}; staged[key] = members end
      if score ~= '' then members[#members + 1] = score end
      members[#members + 1] = unit
    end
  end
end

-- Stage the unit's scores that differ from those it was last placed with (placed[n] is the
-- rk:<metric> field of RANK_METRICS[n], false if never placed), or all of them when everything
-- is true; append the rk fields to write to writes (field, value, ...).
local function rank_unit(prefix, unit, meta, counted, people, placed, everything, writes)
  local scores = rank_scores(counted, people, meta)
  for n, metric in ipairs(RANK_METRICS) do
    if everything or scores[metric] ~= placed[n] then
      rank_stage(prefix, unit, metric, scores[metric], meta)
      writes[#writes + 1] = 'rk:' .. metric; writes[#writes + 1] = scores[metric]
    end
  end
end

-- Write what was staged, 1000 arguments a call at most (unpack has a limit).
local function rank_flush()
  for key, members in pairs(rank_adds) do
    for start = 1, #members, 1000 do
      redis.call('ZADD', key, unpack(members, start, math.min(start + 999, #members)))
    end
  end
  for key, members in pairs(rank_removals) do
    for start = 1, #members, 1000 do
      redis.call('ZREM', key, unpack(members, start, math.min(start + 999, #members)))
    end
  end
end
