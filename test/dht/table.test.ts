import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, PeerStore, RateLimiter, hostKey, RoutingTable, Rpc, TokenStore, DhtError, compareDistance, decodeKrpc, encodeResponse } from '../../src/dht/index.js';

function idWith(firstByte: number, rest = 0): Uint8Array {
  const b = new Uint8Array(20).fill(rest);
  b[0] = firstByte;
  return b;
}

test('routing table: k per bucket, the bucket with our id splits, far buckets stay full', () => {
  const own = new Uint8Array(20); // all zeros
  const table = new RoutingTable(own, { k: 8, maxNodesPerIp: 1000 });
  // 20 nodes far away (first bit 1): one bucket of 8 after splits.
  for (let i = 0; i < 20; i++) table.add({ id: idWith(0x80 | i, i), ip: `10.0.0.${i + 1}`, port: 6881 }, 0, true);
  assert.equal(table.size, 8);
  // Nodes close to us split the near bucket and are all kept.
  for (let i = 0; i < 9; i++) table.add({ id: idWith(0x01, i + 1), ip: `10.0.1.${i + 1}`, port: 6881 }, 0, true);
  assert.equal(table.size, 16);
  // The 9th node sharing 7 bits split our bucket down to depth 8: buckets 0..7 and ours.
  assert.equal(table.bucketCount, 9);
  const closest = table.closest(own, 8);
  assert.equal(closest.length, 8);
  for (let i = 1; i < closest.length; i++) assert.ok(compareDistance(own, closest[i - 1]!.id, closest[i]!.id) < 0);
  assert.ok(closest.every((n) => n.id[0] === 1));
});

test('routing table: a bad node gives way; good ones are kept over newcomers', () => {
  const table = new RoutingTable(new Uint8Array(20), { k: 2, maxNodesPerIp: 10 });
  // Ids in the far half: the bucket of our id never holds them, so it cannot split for them.
  assert.equal(table.add({ id: idWith(0x80), ip: '10.0.0.1', port: 1 }, 0, true), 'added');
  assert.equal(table.add({ id: idWith(0x81), ip: '10.0.0.2', port: 1 }, 0, true), 'added');
  table.add({ id: idWith(0x01), ip: '10.0.0.9', port: 1 }, 0, true); // forces the first split
  assert.equal(table.add({ id: idWith(0x82), ip: '10.0.0.3', port: 1 }, 0, true), 'full');
  table.failed('10.0.0.1', 1);
  table.failed('10.0.0.1', 1);
  assert.equal(table.add({ id: idWith(0x82), ip: '10.0.0.3', port: 1 }, 0, true), 'added');
  assert.equal(table.get('10.0.0.1', 1), undefined);
});

test('routing table: poisoning checks (own id, id change for an address, per-IP limit, loopback exempt)', () => {
  const own = idWith(7);
  const table = new RoutingTable(own);
  assert.equal(table.add({ id: own, ip: '10.0.0.1', port: 1 }, 0, true), 'refused');
  assert.equal(table.add({ id: idWith(1), ip: '10.0.0.1', port: 1 }, 0, true), 'added');
  assert.equal(table.add({ id: idWith(2), ip: '10.0.0.1', port: 1 }, 0, true), 'refused');
  assert.equal(table.add({ id: idWith(3), ip: '10.0.0.1', port: 2 }, 0, true), 'refused'); // one per IP
  assert.equal(table.add({ id: idWith(1), ip: '10.0.0.1', port: 1 }, 5, true), 'updated');
  assert.equal(table.add({ id: idWith(4), ip: '127.0.0.1', port: 1 }, 0, true), 'added');
  assert.equal(table.add({ id: idWith(5), ip: '127.0.0.1', port: 2 }, 0, true), 'added');
  assert.equal(table.add({ id: idWith(6), ip: '10.0.0.2', port: 0 }, 0, true), 'refused');
});

test('tokens: valid for the asker IP only, for 5 to 10 minutes', () => {
  const clock = new ManualClock();
  const tokens = new TokenStore(clock);
  const tok = tokens.make('1.2.3.4');
  assert.ok(tokens.check('1.2.3.4', tok));
  assert.ok(!tokens.check('1.2.3.5', tok));
  clock.advance(5 * 60_000);
  assert.ok(tokens.check('1.2.3.4', tok), 'previous secret still accepted');
  clock.advance(5 * 60_000);
  assert.ok(!tokens.check('1.2.3.4', tok), 'two rotations later: refused');
  const t2 = tokens.make('1.2.3.4');
  clock.advance(30 * 60_000);
  assert.ok(!tokens.check('1.2.3.4', t2), 'long idle: both secrets renewed');
});

test('peer store: bounded per torrent and in torrents, entries expire', () => {
  const store = new PeerStore({ maxTorrents: 3, maxPeersPerTorrent: 5, ttlMs: 1000 });
  for (let i = 0; i < 50; i++) store.add('aa', { ip: '10.0.0.1', port: 1000 + i }, i);
  assert.equal(store.peerCount('aa'), 5);
  assert.deepEqual(store.get('aa', 60, 2), [{ ip: '10.0.0.1', port: 1049 }, { ip: '10.0.0.1', port: 1048 }]);
  for (let i = 0; i < 10; i++) store.add(`h${i}`, { ip: '10.0.0.1', port: 1 }, 0);
  assert.equal(store.torrentCount, 3);
  assert.deepEqual(store.get('h9', 999), [{ ip: '10.0.0.1', port: 1 }]);
  assert.deepEqual(store.get('h9', 1000), []);
});

test('rate limiter: burst then the sustained rate, per IP, bounded address map', () => {
  const r = new RateLimiter({ ratePerSec: 10, burst: 5, maxAddresses: 100 });
  let ok = 0;
  for (let i = 0; i < 100; i++) if (r.allow('1.1.1.1', 0)) ok++;
  assert.equal(ok, 5);
  assert.ok(r.allow('2.2.2.2', 0), 'another IP has its own bucket');
  assert.ok(!r.allow('1.1.1.1', 50));
  assert.ok(r.allow('1.1.1.1', 100), '10/s: one more after 100 ms');
  for (let i = 0; i < 1000; i++) r.allow(`10.0.${i >> 8}.${i & 255}`, 0);
  assert.equal(r.size, 100);
});

test('per-host limits count an IPv6 address as its /64: rotating the low 64 bits gains nothing', () => {
  assert.equal(hostKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(hostKey('2001:db8:1:2::ffff'), hostKey('2001:0db8:0001:0002:0:0:0:9'), 'any spelling of the same /64');
  assert.notEqual(hostKey('2001:db8:1:3::1'), hostKey('2001:db8:1:2::1'));
  assert.equal(hostKey('10.1.2.3'), '10.1.2.3', 'IPv4: the address itself');

  const r = new RateLimiter({ ratePerSec: 10, burst: 3, maxAddresses: 100 });
  let ok = 0;
  for (let i = 0; i < 50; i++) if (r.allow(`2001:db8:1:2::${(i + 1).toString(16)}`, 0)) ok++;
  assert.equal(ok, 3, 'fifty addresses of one /64 share one bucket');
  assert.ok(r.allow('2001:db8:1:3::1', 0), 'the next /64 has its own');
  assert.equal(r.size, 2);

  const table = new RoutingTable(new Uint8Array(20), { k: 8, maxNodesPerIp: 2 });
  const added = [1, 2, 3, 4].map((i) => table.add({ id: idWith(0x80 | i), ip: `2001:db8::${i}`, port: 6881 }, 0, true));
  assert.deepEqual(added, ['added', 'added', 'refused', 'refused'], 'two places per /64');
  assert.equal(table.add({ id: idWith(0x90), ip: '2001:db8:0:1::1', port: 6881 }, 0, true), 'added', 'another /64');
  table.remove('2001:db8::1', 6881);
  assert.equal(table.add({ id: idWith(0x85), ip: '2001:db8::5', port: 6881 }, 0, true), 'added', 'a freed place in the /64 is free again');
  assert.equal(table.add({ id: idWith(0x01), ip: '::1', port: 1 }, 0, true), 'added', 'loopback exempt');
});

test('rpc: a reply is matched by transaction, address and node id; silence times out on the clock', async () => {
  const clock = new ManualClock();
  const sent: { packet: Uint8Array; ip: string; port: number }[] = [];
  const rpc = new Rpc(clock, (packet, ip, port) => sent.push({ packet, ip, port }), { timeoutMs: 1000, maxInFlight: 2 });
  const nodeId = idWith(9);
  const answered = rpc.query('10.0.0.1', 6881, { method: 'ping', id: idWith(1) }, nodeId);
  const q = decodeKrpc(sent[0]!.packet);
  const reply = decodeKrpc(encodeResponse(q.t, { id: nodeId, nodes: [], values: [] }));
  assert.ok(reply.y === 'r');
  assert.equal(rpc.onReply(reply, '10.0.0.2', 6881), false, 'forged source address ignored');
  assert.equal(rpc.onReply(reply, '10.0.0.1', 6881), true);
  assert.deepEqual((await answered).id, nodeId);

  const silent = rpc.query('10.0.0.1', 6881, { method: 'ping', id: idWith(1) });
  const wrongId = rpc.query('10.0.0.3', 6881, { method: 'ping', id: idWith(1) }, nodeId);
  await assert.rejects(rpc.query('10.0.0.4', 1, { method: 'ping', id: idWith(1) }), (e: unknown) => e instanceof DhtError && e.code === 'DHT_TOO_BUSY');
  const q3 = decodeKrpc(sent[2]!.packet);
  const r3 = decodeKrpc(encodeResponse(q3.t, { id: idWith(8), nodes: [], values: [] }));
  assert.ok(r3.y === 'r');
  rpc.onReply(r3, '10.0.0.3', 6881);
  await assert.rejects(wrongId, (e: unknown) => e instanceof DhtError && e.code === 'DHT_WRONG_SENDER');
  clock.advance(999);
  assert.equal(rpc.inFlight, 1);
  clock.advance(1);
  await assert.rejects(silent, (e: unknown) => e instanceof DhtError && e.code === 'DHT_TIMEOUT');
  assert.equal(clock.pending, 0);
});
