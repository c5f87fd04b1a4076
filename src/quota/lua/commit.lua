-- Commit. KEYS: usage, holds; ARGV: hold, storage, files, tier.
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then
  local h = parse(old)
  rewindow(h, h.s, tonumber(ARGV[2]))
  redis.call('HDEL', KEYS[2], ARGV[1])
end
redis.call('HINCRBY', KEYS[1], 'storage_bytes', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'file_count', ARGV[3])
redis.call('HSET', KEYS[1], 'tier', ARGV[4])
return 1
