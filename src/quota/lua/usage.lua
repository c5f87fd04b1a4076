-- Usage. KEYS: usage, holds, window…; ARGV: now_ms.
local held_s, held_f = live_holds(KEYS[2], tonumber(ARGV[1]))
local out = { int(used(KEYS[1], 'storage_bytes')), int(used(KEYS[1], 'file_count')),
  int(held_s), int(held_f), redis.call('HGET', KEYS[1], 'tier') or '' }
for i = 3, #KEYS do out[#out + 1] = redis.call('GET', KEYS[i]) or '0' end
return out
