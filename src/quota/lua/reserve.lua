-- Check-and-reserve. KEYS: usage, holds, window…; ARGV: now_ms, ttl_ms, hold, ask_storage,
-- ask_files, ask_request (0/1), storage_limit, files_limit (-1: none), then per window:
-- metric, limit, ms to the window's end.
local now = tonumber(ARGV[1])
local held_s, held_f = live_holds(KEYS[2], now)
local used_s, used_f = used(KEYS[1], 'storage_bytes'), used(KEYS[1], 'file_count')
local ask_s, ask_f, ask_r = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local lim_s, lim_f = tonumber(ARGV[7]), tonumber(ARGV[8])
if lim_s >= 0 and ask_s > 0 and used_s + held_s + ask_s > lim_s then
  return { 'exceeded', 'storage_bytes', int(used_s), int(lim_s) }
end
if lim_f >= 0 and ask_f > 0 and used_f + held_f + ask_f > lim_f then
  return { 'exceeded', 'file_count', int(used_f), int(lim_f) }
end
local amounts = {}
for i = 3, #KEYS do
  local j = 9 + (i - 3) * 3
  local amount = ask_s
  if ARGV[j] == 'requests' then amount = ask_r end
  amounts[i] = amount
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if amount > 0 and count + amount > tonumber(ARGV[j + 1]) then
    return { 'limited', int(i - 3) }
  end
end
local h = { s = 0, f = 0, e = 0, w = {} }
local old = redis.call('HGET', KEYS[2], ARGV[3])
if old then h = parse(old) end
h.s = h.s + ask_s
h.f = h.f + ask_f
h.e = now + tonumber(ARGV[2])
local out = { 'granted' }
for i = 3, #KEYS do
  local j = 9 + (i - 3) * 3
  local count = redis.call('INCRBY', KEYS[i], int(amounts[i]))
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[j + 2]) end
  if ARGV[j] == 'upload_bytes' and amounts[i] > 0 then
    local seen = false
    for _, k in ipairs(h.w) do if k == KEYS[i] then seen = true end end
    if not seen then h.w[#h.w + 1] = KEYS[i] end
  end
  out[#out + 1] = int(count)
end
-- A call that only counted a request holds nothing.
if old or h.s > 0 or h.f > 0 then redis.call('HSET', KEYS[2], ARGV[3], encode(h)) end
return out
