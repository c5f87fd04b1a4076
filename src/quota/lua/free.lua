-- A deleted object. KEYS: usage, objects; ARGV: id, reported size (-1: use the ledger).
-- Only an object the tenant's ledger recorded is freed: many backends answer 2xx to deleting
-- an id that does not exist, and that must not give a file back.
local known = redis.call('HGET', KEYS[2], ARGV[1])
if not known then return int(0) end
redis.call('HDEL', KEYS[2], ARGV[1])
local size = tonumber(ARGV[2])
if size < 0 then size = tonumber(known) end
local s, f = used(KEYS[1], 'storage_bytes'), used(KEYS[1], 'file_count')
redis.call('HSET', KEYS[1], 'storage_bytes', int(math.max(0, s - size)),
  'file_count', int(math.max(0, f - 1)))
return int(size)
