/**
 * The Lua scripts behind `RedisSwarmStore`, one per store call, so each call is one round trip
 * and atomic: two trackers announcing to the same swarm never see half an update.
 *
 * Per torrent, all keys share the hash tag `{<40 hex info-hash>}` (`B` below is
 * `<prefix>{<hex>}:`):
 *   B4  ZSET  IPv4 wire peers;  member = peer id (20) | IPv4 (4)  | port (2), score = last seen ms
 *   B6  ZSET  IPv6 wire peers;  member = peer id (20) | IPv6 (16) | port (2)
 *   Bu  ZSET  URL-only peers (port 0), same member layout
 *   Bs  ZSET  the seeders among them, same members and scores
 *   Bw  HASH  member → TorrentTTP URL, for peers that gave one
 *   Bd  STRING `event=completed` counter
 * Global: `<prefix>torrents` ZSET, member = raw info-hash, score = last announce ms.
 *
 * A compact reply entry is the member without its first 20 bytes, so Lua builds the whole
 * `peers` string with `string.sub` + `table.concat`, and Node copies it into the packet as is.
 */

/** Trims expired peers, records or removes the announcer, counts, samples. See `RedisSwarmStore.announce`. */
export const ANNOUNCE_LUA = `
-- KEYS: 1 B4, 2 B6, 3 Bu, 4 Bs, 5 Bw, 6 Bd, 7 torrents
-- ARGV: 1 member, 2 bucket (1|2|3), 3 seeder (1|0), 4 event, 5 now ms, 6 cutoff ms, 7 ttl ms,
--       8 numwant, 9 reply (4|6|c|l), 10 url or '', 11 raw info-hash, 12 max peers per torrent
local member, now, cutoff = ARGV[1], ARGV[5], '(' .. ARGV[6]
local bucket = KEYS[tonumber(ARGV[2])]
local hasUrls = redis.call('EXISTS', KEYS[5]) == 1
for i = 1, 3 do
  if hasUrls then
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', cutoff)) do redis.call('HDEL', KEYS[5], m) end
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', cutoff)
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', cutoff)
if ARGV[4] == 'stopped' then
  redis.call('ZREM', bucket, member)
  redis.call('ZREM', KEYS[4], member)
  if hasUrls then redis.call('HDEL', KEYS[5], member) end
else
  -- A full swarm does not store a newcomer but still answers it with peers (issue 18: refusing
  -- it failed every new peer of a flash crowd); it comes in once others expire or leave.
  local stored = true
  if redis.call('ZSCORE', bucket, member) == false then
    local n = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3])
    stored = n < tonumber(ARGV[12])
  end
  if stored then
    redis.call('ZADD', bucket, now, member)
    -- A key's TTL is refreshed by whoever writes it: a set nobody wrote to for a TTL holds only
    -- expired peers. The completed counter lives as long as the torrent does.
    local ttl = ARGV[7]
    redis.call('PEXPIRE', bucket, ttl)
    if ARGV[3] == '1' then
      redis.call('ZADD', KEYS[4], now, member)
      redis.call('PEXPIRE', KEYS[4], ttl)
    else
      redis.call('ZREM', KEYS[4], member)
    end
    if ARGV[10] ~= '' then
      redis.call('HSET', KEYS[5], member, ARGV[10])
      redis.call('PEXPIRE', KEYS[5], ttl)
    elseif hasUrls then
      redis.call('HDEL', KEYS[5], member)
    end
    if ARGV[4] == 'completed' then redis.call('INCR', KEYS[6]) end
    redis.call('PEXPIRE', KEYS[6], ttl)
    redis.call('ZADD', KEYS[7], now, ARGV[11])
  end
end
local seeders = redis.call('ZCARD', KEYS[4])
local total = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3])
local out = { seeders, total - seeders, '', '' }
local want = tonumber(ARGV[8])
if ARGV[4] == 'stopped' or want <= 0 then return out end
local function others(key)
  local got, kept = redis.call('ZRANDMEMBER', key, want + 1), {}
  for _, m in ipairs(got) do
    if m ~= member and #kept < want then kept[#kept + 1] = m end
  end
  return kept
end
local function compact(list)
  for i, m in ipairs(list) do list[i] = string.sub(m, 21) end
  return table.concat(list)
end
local reply = ARGV[9]
if reply == '4' or reply == 'c' then out[3] = compact(others(KEYS[1])) end
if reply == '6' or reply == 'c' then out[4] = compact(others(KEYS[2])) end
if reply == 'l' then
  local pool = {}
  for i = 1, 3 do for _, m in ipairs(others(KEYS[i])) do pool[#pool + 1] = m end end
  for i = #pool, 2, -1 do
    local j = math.random(i)
    pool[i], pool[j] = pool[j], pool[i]
  end
  for i = 1, math.min(want, #pool) do
    out[#out + 1] = pool[i]
    out[#out + 1] = (hasUrls and redis.call('HGET', KEYS[5], pool[i])) or ''
  end
end
return out
`;

/** Counts per torrent: ARGV = key bases `B`; returns seeders, peers, completed per base. */
export const SCRAPE_LUA = `
local out = {}
for _, b in ipairs(ARGV) do
  local seeders = redis.call('ZCARD', b .. 's')
  local peers = redis.call('ZCARD', b .. '4') + redis.call('ZCARD', b .. '6') + redis.call('ZCARD', b .. 'u')
  out[#out + 1] = seeders
  out[#out + 1] = peers
  out[#out + 1] = tonumber(redis.call('GET', b .. 'd') or '0')
end
return out
`;

/** Lua's view of a key base from a raw info-hash; the same as `torrentKeyBase` in redis-store.ts. */
const BASE_OF_LUA = `
local function base(prefix, ih)
  return prefix .. '{' .. (ih:gsub('.', function(c) return string.format('%02x', c:byte()) end)) .. '}:'
end
`;

/**
 * Drops torrents whose last announce is before the cutoff, in batches: ARGV = prefix, cutoff ms,
 * batch size. Returns peers dropped and torrents dropped; the caller repeats while a full batch
 * went. Peers of torrents still announced to are trimmed by the next announce instead.
 */
export const EXPIRE_LUA = `${BASE_OF_LUA}
local index = ARGV[1] .. 'torrents'
local old = redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local dropped = 0
for _, ih in ipairs(old) do
  local b = base(ARGV[1], ih)
  dropped = dropped + redis.call('ZCARD', b .. '4') + redis.call('ZCARD', b .. '6') + redis.call('ZCARD', b .. 'u')
  redis.call('DEL', b .. '4', b .. '6', b .. 'u', b .. 's', b .. 'w', b .. 'd')
  redis.call('ZREM', index, ih)
end
return { dropped, #old }
`;

/**
 * Totals over torrents ranked [start, stop] in the index: ARGV = prefix, start, stop. Returns
 * torrents seen, peers, seeders, completed, then (raw hash, seeders, peers, completed) per torrent
 * when ARGV[4] is '1' (full scrape).
 */
export const TOTALS_LUA = `${BASE_OF_LUA}
local list = redis.call('ZRANGE', ARGV[1] .. 'torrents', tonumber(ARGV[2]), tonumber(ARGV[3]))
local out = { #list, 0, 0, 0 }
for _, ih in ipairs(list) do
  local b = base(ARGV[1], ih)
  local seeders = redis.call('ZCARD', b .. 's')
  local peers = redis.call('ZCARD', b .. '4') + redis.call('ZCARD', b .. '6') + redis.call('ZCARD', b .. 'u')
  local done = tonumber(redis.call('GET', b .. 'd') or '0')
  out[2], out[3], out[4] = out[2] + peers, out[3] + seeders, out[4] + done
  if ARGV[4] == '1' then
    out[#out + 1] = ih
    out[#out + 1] = seeders
    out[#out + 1] = peers
    out[#out + 1] = done
  end
end
return out
`;
