-- Applies a batch of initiative events of ONE campaign and ONE partition to the counters, in
-- one atomic step. Exactly once in effect:
--   * the fence (KEYS[1]) holds the last offset applied; records at or below it are skipped,
--     so a redelivered batch, or one from a consumer that lost its partition, changes nothing;
--   * each initiative's state remembers which of its three events (submitted, reviewed,
--     withdrawn) it has applied, so a second publication of an event is skipped: memory stays
--     bounded by the number of initiatives, however often events are redelivered;
--   * a review or withdrawal seen before its submission is parked in the initiative's state and
--     applied when the submission arrives.
-- Increments are summed per key and field in Lua tables first, then written once each.
-- KEYS[1] fence, KEYS[2] set of units. ARGV[1] key prefix ("{c:<campaign>}"), ARGV[2] events
-- as JSON: [{o=offset, t="s"|"r"|"w", i=id, p=[path], ...}].
local fence_key, units_key = KEYS[1], KEYS[2]
local prefix = ARGV[1]
local events = cjson.decode(ARGV[2])
local fence = tonumber(redis.call('GET', fence_key) or '-1')

local incr, backlog, people, states = {}, {}, {}, {}
local applied, duplicates, fenced, last = 0, 0, 0, fence

local units_seen = {}
local EXACT = 4503599627370496 -- 2^52: Lua numbers are doubles, exact integers only below 2^53

local function add(key, field, delta)
  local fields = incr[key]
  if not fields then fields = {}; incr[key] = fields end
  local sum = (fields[field] or 0) + delta
  if math.abs(sum) >= EXACT then
    -- Write a large sum (benefits in VND) before it can round.
    redis.call('HINCRBY', key, field, string.format('%.0f', sum))
    sum = 0
  end
  fields[field] = sum
end

local function state(id)
  local s = states[id]
  if not s then
    s = {}
    local flat = redis.call('HGETALL', prefix .. ':i:' .. id)
    for n = 1, #flat, 2 do s[flat[n]] = flat[n + 1] end
    states[id] = s
  end
  return s
end

local function split(text)
  local parts = {}
  if text and text ~= '' then for part in string.gmatch(text, '[^\031]+') do parts[#parts + 1] = part end end
  return parts
end

local function registration(s, id, sign)
  local path, cats, keys = split(s.p), split(s.a), split(s.k)
  for _, unit in ipairs(path) do
    local u = prefix .. ':u:' .. unit
    add(u, 'registered', sign); add(u, 'benefit_vnd', sign * tonumber(s.b))
    add(prefix .. ':f:' .. unit, 'registered|' .. s.f, sign)
    for _, cat in ipairs(cats) do add(prefix .. ':a:' .. unit, 'registered|' .. cat, sign) end
    add(prefix .. ':d:' .. unit, s.d, sign); add(prefix .. ':w:' .. unit, s.wk, sign)
    for _, key in ipairs(keys) do
      local pk = prefix .. ':p:' .. unit
      people[pk] = people[pk] or {}
      people[pk][key] = (people[pk][key] or 0) + sign
    end
  end
end

local function under_review(s, id, delta)
  for _, unit in ipairs(split(s.p)) do
    add(prefix .. ':u:' .. unit, 'under_review', delta)
    backlog[prefix .. ':q:' .. unit .. '\031' .. id] = (delta > 0) and tonumber(s.ts) or false
  end
end

local function review(s, id, decision)
  under_review(s, id, -1)
  for _, unit in ipairs(split(s.p)) do
    add(prefix .. ':u:' .. unit, decision, 1)
    if decision == 'valid' then
      add(prefix .. ':f:' .. unit, 'valid|' .. s.f, 1)
      for _, cat in ipairs(split(s.a)) do add(prefix .. ':a:' .. unit, 'valid|' .. cat, 1) end
    end
  end
  s.st = decision
end

local function withdraw(s, id)
  under_review(s, id, -1)
  registration(s, id, -1)
  for _, unit in ipairs(split(s.p)) do add(prefix .. ':u:' .. unit, 'withdrawn', 1) end
  s.st = 'withdrawn'
end

for _, e in ipairs(events) do
  if e.o <= fence then
    fenced = fenced + 1
  else
    last = math.max(last, e.o)
    local s = state(e.i)
    if (e.t == 's' and s.sub) or (e.t == 'r' and s.rev) or (e.t == 'w' and s.wd) then
      duplicates = duplicates + 1
    else
      applied = applied + 1
      if e.t == 's' then
        s.sub = '1'; s.st = 'submitted'
        s.p = table.concat(e.p, '\031'); s.f = e.f; s.a = table.concat(e.a, '\031')
        s.k = table.concat(e.k, '\031'); s.b = e.b; s.d = e.d; s.wk = e.wk; s.ts = tostring(e.ts)
        for _, unit in ipairs(e.p) do units_seen[unit] = true end
        registration(s, e.i, 1)
        under_review(s, e.i, 1)
        if s.pr then review(s, e.i, s.pr); s.pr = nil
        elseif s.pw then withdraw(s, e.i); s.pw = nil end
      elseif e.t == 'r' then
        s.rev = '1'
        if not s.sub then s.pr = e.v elseif s.st == 'submitted' then review(s, e.i, e.v) end
      else
        s.wd = '1'
        if not s.sub then s.pw = '1' elseif s.st == 'submitted' then withdraw(s, e.i) end
      end
    end
  end
end

local members = {}
for unit in pairs(units_seen) do
  members[#members + 1] = unit
  if #members == 500 then redis.call('SADD', units_key, unpack(members)); members = {} end
end
if #members > 0 then redis.call('SADD', units_key, unpack(members)) end
for key, fields in pairs(incr) do
  for field, delta in pairs(fields) do
    if delta ~= 0 then redis.call('HINCRBY', key, field, delta) end
  end
end
for pk, persons in pairs(people) do
  local unit_key = prefix .. ':u:' .. string.sub(pk, #prefix + 4)
  for person, delta in pairs(persons) do
    if delta ~= 0 then
      local now = redis.call('HINCRBY', pk, person, delta)
      local before = now - delta
      if now <= 0 then redis.call('HDEL', pk, person) end
      local change = ((now > 0) and 1 or 0) - ((before > 0) and 1 or 0)
      if change ~= 0 then redis.call('HINCRBY', unit_key, 'people', change) end
    end
  end
end
for entry, score in pairs(backlog) do
  local sep = string.find(entry, '\031', 1, true)
  local key, member = string.sub(entry, 1, sep - 1), string.sub(entry, sep + 1)
  if score then redis.call('ZADD', key, score, member) else redis.call('ZREM', key, member) end
end
for id, s in pairs(states) do
  local flat = {}
  for field, value in pairs(s) do flat[#flat + 1] = field; flat[#flat + 1] = value end
  local key = prefix .. ':i:' .. id
  redis.call('DEL', key)
  if #flat > 0 then redis.call('HSET', key, unpack(flat)) end
end
if last > fence then redis.call('SET', fence_key, last) end
return {applied, duplicates, fenced}
