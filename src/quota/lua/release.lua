-- Release. KEYS: holds; ARGV: hold.
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local h = parse(old)
  rewindow(h, h.s, 0)
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
