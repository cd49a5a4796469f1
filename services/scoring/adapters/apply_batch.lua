-- Applies a batch of initiative events of ONE campaign, from one or more partitions, to the
-- counters and the rankings, in one atomic step. Exactly once in effect:
--   * each partition's fence holds the last offset applied from it; records at or below it are
--     skipped, so a redelivered batch, or one from a consumer that lost its partition, changes
--     nothing;
--   * each initiative's state remembers which of its three events (submitted, reviewed,
--     withdrawn) it has applied, so a second publication of an event is skipped: memory stays
--     bounded by the number of initiatives, however often events are redelivered;
--   * a review or withdrawal seen before its submission is parked in the initiative's state and
--     applied when the submission arrives.
-- Speed comes from doing little per call: the states are read with MGET and written with MSET,
-- every change is summed per unit in Lua tables first, and each touched unit's hash is then
-- read once (HMGET) and written once (HSET), rankings included.
-- KEYS[1] set of units, KEYS[2..] the fences of the partitions. ARGV[1] key prefix
-- ("{c:<campaign>}"), ARGV[2] what counts ("valid" or "registered"), ARGV[3] events as JSON:
-- [{x=n (its fence is KEYS[n + 1]), o=offset, t="s"|"r"|"w", i=id, ...}], ARGV[4] JSON
-- {unit: [parent, cluster, level, members, target]} of the events' own units that can be ranked.
local units_key = KEYS[1]
local prefix, counts = ARGV[1], ARGV[2]
local events = cjson.decode(ARGV[3])
local meta = cjson.decode(ARGV[4])
local fences, lasts = {}, {}
for n = 2, #KEYS do
  fences[n - 1] = tonumber(redis.call('GET', KEYS[n]) or '-1'); lasts[n - 1] = fences[n - 1]
end
local EXACT = 4503599627370496 -- 2^52: Lua numbers are doubles, exact integers only below 2^53
local US, RS = '\031', '\030'

local function split(text, separator)
  local parts = {}
  if text and text ~= '' then
    for part in string.gmatch(text, '[^' .. separator .. ']+') do parts[#parts + 1] = part end
  end
  return parts
end

-- An initiative's state is one string: flags (s, r, w: which events were applied), status,
-- parked review, parked withdrawal, then what its submission said.
local STATE_FIELDS = {'flags', 'st', 'pr', 'pw', 'p', 'f', 'a', 'k', 'b', 'd', 'wk'}

local function decode_state(text)
  local s = {flags = ''}
  if not text then return s end
  local n = 0
  for value in string.gmatch(text .. RS, '([^' .. RS .. ']*)' .. RS) do
    n = n + 1
    if value ~= '' then s[STATE_FIELDS[n]] = value end
  end
  s.flags = s.flags or ''
  s.p, s.a, s.k = split(s.p, US), split(s.a, US), split(s.k, US)
  return s
end

local function encode_state(s)
  local values = {}
  for n, name in ipairs(STATE_FIELDS) do
    local value = s[name]
    if type(value) == 'table' then value = table.concat(value, US) end
    values[n] = value or ''
  end
  return table.concat(values, RS)
end

-- 1. Read the state of every initiative the batch names, in one MGET per 1000.
local states, ids = {}, {}
for _, e in ipairs(events) do
  if e.o > fences[e.x] and states[e.i] == nil then states[e.i] = false; ids[#ids + 1] = e.i end
end
for start = 1, #ids, 1000 do
  local keys = {}
  for n = start, math.min(start + 999, #ids) do keys[#keys + 1] = prefix .. ':i:' .. ids[n] end
  local values = redis.call('MGET', unpack(keys))
  for n = 1, #keys do states[ids[start + n - 1]] = decode_state(values[n]) end
end

-- 2. Run each event through its initiative's state, summing what changes per unit.
local delta, persons = {}, {}

local function add(unit, field, n)
  local fields = delta[unit]
  if not fields then fields = {}; delta[unit] = fields end
  local sum = (fields[field] or 0) + n
  if math.abs(sum) >= EXACT then
    -- Write a large sum (benefits in VND) before it can round.
    redis.call('HINCRBY', prefix .. ':u:' .. unit, field, string.format('%.0f', sum))
    sum = 0
  end
  fields[field] = sum
end

local function registration(s, sign)
  -- The field names once per initiative, not once per unit: Lua hashes every new string.
  local benefit, by_field = sign * tonumber(s.b), 'f:registered|' .. s.f
  local day, week = 'd:' .. s.d, 'w:' .. s.wk
  local by_category = {}
  for n, cat in ipairs(s.a) do by_category[n] = 'a:registered|' .. cat end
  for _, unit in ipairs(s.p) do
    add(unit, 'registered', sign); add(unit, 'benefit_vnd', benefit)
    add(unit, by_field, sign)
    for _, name in ipairs(by_category) do add(unit, name, sign) end
    add(unit, day, sign); add(unit, week, sign)
    local people = persons[unit]
    if not people then people = {}; persons[unit] = people end
    for _, key in ipairs(s.k) do people[key] = (people[key] or 0) + sign end
  end
end

local own = {} -- the units events were registered at (ranked in this step; ancestors later)

local function under_review(s, sign)
  own[s.p[#s.p]] = true -- every transition passes here
  local waiting = 'q:' .. s.d
  for _, unit in ipairs(s.p) do add(unit, 'under_review', sign); add(unit, waiting, sign) end
end

local function review(s, decision)
  under_review(s, -1)
  for _, unit in ipairs(s.p) do
    add(unit, decision, 1)
    if decision == 'valid' then
      add(unit, 'f:valid|' .. s.f, 1)
      for _, cat in ipairs(s.a) do add(unit, 'a:valid|' .. cat, 1) end
    end
  end
  s.st = decision
end

local function withdraw(s)
  under_review(s, -1)
  registration(s, -1)
  for _, unit in ipairs(s.p) do add(unit, 'withdrawn', 1) end
  s.st = 'withdrawn'
end

local applied, duplicates, fenced = 0, 0, 0
local changed = {}
for _, e in ipairs(events) do
  if e.o <= fences[e.x] then
    fenced = fenced + 1
  else
    lasts[e.x] = math.max(lasts[e.x], e.o)
    local s = states[e.i]
    if string.find(s.flags, e.t, 1, true) then
      duplicates = duplicates + 1
    else
      applied = applied + 1
      changed[e.i] = true
      s.flags = s.flags .. e.t
      if e.t == 's' then
        s.st, s.p, s.f, s.a, s.k, s.b, s.d, s.wk = 'submitted', e.p, e.f, e.a, e.k, e.b, e.d, e.wk
        registration(s, 1)
        under_review(s, 1)
        if s.pr then review(s, s.pr); s.pr = nil
        elseif s.pw then withdraw(s); s.pw = nil end
      elseif e.t == 'r' then
        if not s.st then s.pr = e.v elseif s.st == 'submitted' then review(s, e.v) end
      else
        if not s.st then s.pw = '1' elseif s.st == 'submitted' then withdraw(s) end
      end
    end
  end
end

-- 3. Distinct people: a hash person -> live initiatives per unit, read and written once each
-- (per 1000 people: unpack has a limit).
local function count_people(unit, key, names, deltas)
  local before = redis.call('HMGET', key, unpack(names))
  local keep, gone, change = {}, {}, 0
  for n, person in ipairs(names) do
    local old = tonumber(before[n] or '0')
    local now = old + deltas[n]
    if now > 0 then keep[#keep + 1] = person; keep[#keep + 1] = now else gone[#gone + 1] = person end
    change = change + ((now > 0) and 1 or 0) - ((old > 0) and 1 or 0)
  end
  if #keep > 0 then redis.call('HSET', key, unpack(keep)) end
  if #gone > 0 then redis.call('HDEL', key, unpack(gone)) end
  if change ~= 0 then add(unit, 'people', change) end
end

for unit, people in pairs(persons) do
  local names, deltas = {}, {}
  for person, n in pairs(people) do
    if n ~= 0 then names[#names + 1] = person; deltas[#deltas + 1] = n end
    if #names == 1000 then
      count_people(unit, prefix .. ':p:' .. unit, names, deltas); names, deltas = {}, {}
    end
  end
  if #names > 0 then count_people(unit, prefix .. ':p:' .. unit, names, deltas) end
end

-- 4. Each touched unit: one HMGET of what changes (and what ranks it), one HSET of the results.
-- The units events were registered at are ranked here; their ancestors, touched by nearly every
-- step, are queued for the ranking refresher (update_rankings.lua), which places each once per
-- round however many steps touched it.
local touched, queued = {}, {}
local RANK_INPUTS = {counts, 'people', 'rk:pct', 'rk:per100', 'rk:people'}
for unit, fields in pairs(delta) do
  touched[#touched + 1] = unit
  local names, index = {}, {}
  for name, n in pairs(fields) do
    if n ~= 0 then names[#names + 1] = name; index[name] = #names end
  end
  local unit_meta = own[unit] and meta[unit]
  if not own[unit] then queued[#queued + 1] = unit end
  local ranked = unit_meta and ((fields[counts] or 0) ~= 0 or (fields.people or 0) ~= 0)
  if unit_meta then
    for _, name in ipairs(RANK_INPUTS) do
      if not index[name] then names[#names + 1] = name; index[name] = #names end
    end
  end
  if #names > 0 then
    local key = prefix .. ':u:' .. unit
    local current = redis.call('HMGET', key, unpack(names))
    local writes, value = {}, {}
    for name, n in pairs(fields) do
      if n ~= 0 then
        local before = current[index[name]]
        local sum = (tonumber(before or '0') or 0) + n
        if before and #before >= 16 or math.abs(sum) >= EXACT then
          -- Past what a double holds exactly: let Redis add the 64-bit integers.
          value[name] = tonumber(redis.call('HINCRBY', key, name, string.format('%.0f', n)))
        else
          value[name] = sum
          writes[#writes + 1] = name; writes[#writes + 1] = string.format('%.0f', sum)
        end
      end
    end
    -- A unit never placed (no rk:people yet) is placed now, even if its scores are zero.
    if unit_meta and (ranked or not current[index['rk:people']]) then
      local counted = value[counts] or tonumber(current[index[counts]] or '0')
      local people = value.people or tonumber(current[index.people] or '0')
      local placed = {}
      for n, metric in ipairs(RANK_METRICS) do placed[n] = current[index['rk:' .. metric]] end
      rank_unit(prefix, unit, unit_meta, counted, people, placed, false, writes)
    end
    if #writes > 0 then redis.call('HSET', key, unpack(writes)) end
  end
end

-- 5. Remember the rankings, the units, the initiatives' states and the fences.
rank_flush()
for start = 1, #touched, 1000 do
  redis.call('SADD', units_key, unpack(touched, start, math.min(start + 999, #touched)))
end
for start = 1, #queued, 1000 do
  redis.call('SADD', prefix .. ':rkq', unpack(queued, start, math.min(start + 999, #queued)))
end
local pairs_to_set = {}
for id in pairs(changed) do
  pairs_to_set[#pairs_to_set + 1] = prefix .. ':i:' .. id
  pairs_to_set[#pairs_to_set + 1] = encode_state(states[id])
  if #pairs_to_set >= 1000 then redis.call('MSET', unpack(pairs_to_set)); pairs_to_set = {} end
end
if #pairs_to_set > 0 then redis.call('MSET', unpack(pairs_to_set)) end
for n, last in ipairs(lasts) do
  if last > fences[n] then redis.call('SET', KEYS[n + 1], last) end
end
return {applied, duplicates, fenced}
