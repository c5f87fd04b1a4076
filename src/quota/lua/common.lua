-- Shared by every quota script (prepended by src/quota/redis_store.rs). A hold is stored as
-- "storage files expires_ms|window_key|…"; numbers are formatted as integers (Lua's default
-- number formatting would turn large byte counts into 1e+15).
local function int(n) return string.format('%d', n) end
local function parse(v)
  local parts = {}
  for p in string.gmatch(v, '[^|]+') do parts[#parts + 1] = p end
  local s, f, e = string.match(parts[1], '^(%d+) (%d+) (%d+)$')
  local keys = {}
  for i = 2, #parts do keys[#keys + 1] = parts[i] end
  return { s = tonumber(s), f = tonumber(f), e = tonumber(e), w = keys }
end
local function encode(h)
  local v = int(h.s) .. ' ' .. int(h.f) .. ' ' .. int(h.e)
  for _, k in ipairs(h.w) do v = v .. '|' .. k end
  return v
end
-- Takes `minus` out of the windows a hold counted its bytes in and adds `plus`.
local function rewindow(h, minus, plus)
  for _, k in ipairs(h.w) do
    local c = redis.call('GET', k)
    if c then
      redis.call('SET', k, int(math.max(0, tonumber(c) - minus) + plus), 'KEEPTTL')
    end
  end
end
-- Drops expired holds (their windowed bytes given back); returns what the live ones hold.
local function live_holds(holds, now)
  local held_s, held_f = 0, 0
  local all = redis.call('HGETALL', holds)
  for i = 1, #all, 2 do
    local h = parse(all[i + 1])
    if h.e <= now then
      rewindow(h, h.s, 0)
      redis.call('HDEL', holds, all[i])
    else
      held_s = held_s + h.s
      held_f = held_f + h.f
    end
  end
  return held_s, held_f
end
local function used(usage, field) return tonumber(redis.call('HGET', usage, field) or '0') end
