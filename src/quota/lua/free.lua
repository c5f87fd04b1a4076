-- A deleted object. KEYS: usage, objects; ARGV: id, reported size (-1: use the ledger).
local known = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local size = tonumber(ARGV[2])
if size < 0 then size = tonumber(known or '0') end
local s, f = used(KEYS[1], 'storage_bytes'), used(KEYS[1], 'file_count')
redis.call('HSET', KEYS[1], 'storage_bytes', int(math.max(0, s - size)),
  'file_count', int(math.max(0, f - 1)))
return int(size)
