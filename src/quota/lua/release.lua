-- Release. KEYS: holds; ARGV: hold, bytes its windows keep (transferred; 0: none).
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local h = parse(old)
  rewindow(h, h.s, math.min(tonumber(ARGV[2]), h.s))
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
