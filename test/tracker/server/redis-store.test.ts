/**
 * Two `TrackerServer`s on one private redis-server act as one tracker: a peer announced to A is
 * handed out by B, over HTTP and over UDP (with a connection id A issued), and expiry removes it.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeCompactPeers,
  decodeAnnounceResponse,
  decodeScrapeResponse,
  encodeAnnounceQuery,
  encodeScrapeQuery,
  encodeUdpAnnounceRequest,
  encodeUdpConnectRequest,
  parseIpNormalized,
  RedisSwarmStore,
  TrackerError,
  TrackerServer,
  type AnnounceOk,
  type AnnounceRequest,
} from '../../../src/tracker/index.js';
import { infoHash, peerId, UdpTestClient } from './helpers.js';
import { startRedis } from './redis-process.js';

const INTERVAL = 60;
const TIMEOUT_MS = 2 * INTERVAL * 1000;

interface Pair {
  readonly a: TrackerServer;
  readonly b: TrackerServer;
  readonly portA: number;
  readonly portB: number;
  readonly clock: { nowMs: number };
}

async function store(t: TestContext, url: string, prefix: string): Promise<RedisSwarmStore> {
  const s = await RedisSwarmStore.connect({ url, prefix, peerTimeoutMs: TIMEOUT_MS, maxPeersPerTorrent: 5 });
  t.after(() => s.close());
  return s;
}

async function pair(t: TestContext, url: string, prefix: string): Promise<Pair> {
  const clock = { nowMs: 1_700_000_000_000 };
  const now = (): number => clock.nowMs;
  const a = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: INTERVAL, now, store: await store(t, url, prefix) });
  const b = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: INTERVAL, now, store: await store(t, url, prefix) });
  const portA = (await a.listen()).port;
  t.after(() => a.close());
  const portB = (await b.listen()).port;
  t.after(() => b.close());
  return { a, b, portA, portB, clock };
}

function req(n: number, over: Partial<AnnounceRequest> = {}): AnnounceRequest {
  return { infoHash: infoHash(7), peerId: peerId(n), port: 7000 + n, uploaded: 0, downloaded: 0, left: 100, ...over };
}

async function httpAnnounce(port: number, r: AnnounceRequest): Promise<AnnounceOk> {
  const res = await fetch(`http://127.0.0.1:${port}/announce?${encodeAnnounceQuery(r)}`);
  const d = decodeAnnounceResponse(new Uint8Array(await res.arrayBuffer()));
  assert.equal(d.type, 'ok', d.type === 'failure' ? d.reason : '');
  return d as AnnounceOk;
}

const ports = (peers: readonly { port: number }[]): number[] => peers.map((p) => p.port).sort((x, y) => x - y);

test('Redis store: a peer announced to tracker A is handed out by tracker B, over HTTP and UDP', async (t) => {
  const url = await startRedis(t);
  const { b, portA, portB } = await pair(t, url, 'share:');

  const first = await httpAnnounce(portA, req(1, { event: 'started', left: 0 }));
  assert.deepEqual([first.peers, first.complete, first.incomplete], [[], 1, 0]);
  const second = await httpAnnounce(portB, req(2, { event: 'started' }));
  assert.deepEqual(second.peers, [{ ip: '127.0.0.1', port: 7001 }]);
  assert.deepEqual([second.complete, second.incomplete], [1, 1]);
  const dict = await httpAnnounce(portA, req(2, { compact: false }));
  assert.deepEqual(dict.peers, [{ ip: '127.0.0.1', port: 7001, peerId: peerId(1) }]);

  // UDP: connect to A, announce to B from the same socket with A's connection id (the secret
  // is shared through Redis).
  const c = new UdpTestClient('127.0.0.1', portA);
  t.after(() => c.close());
  const tx = c.txid();
  const conn = await c.ask(encodeUdpConnectRequest(tx), tx);
  assert.equal(conn?.type, 'connect');
  const connectionId = conn?.type === 'connect' ? conn.connectionId : 0n;
  const tx2 = c.txid();
  const u = await c.ask(encodeUdpAnnounceRequest({ connectionId, transactionId: tx2, key: 1, announce: req(3, { event: 'started', numwant: 10 }) }), tx2, 1000, portB);
  assert.equal(u?.type, 'announce', JSON.stringify(u));
  if (u?.type === 'announce') {
    assert.deepEqual(ports(u.peers), [7001, 7002]);
    assert.deepEqual([u.seeders, u.leechers], [1, 2]);
  }
  // and A hands out the peer B took over UDP
  const back = await httpAnnounce(portA, req(1, { left: 0 }));
  assert.deepEqual(ports(back.peers), [7002, 7003]);

  const scrape = decodeScrapeResponse(new Uint8Array(await (await fetch(`http://127.0.0.1:${portB}/scrape?${encodeScrapeQuery([infoHash(7), infoHash(8)])}`)).arrayBuffer()));
  assert.deepEqual(scrape.files, [
    { infoHash: infoHash(7), complete: 1, downloaded: 0, incomplete: 2 },
    { infoHash: infoHash(8), complete: 0, downloaded: 0, incomplete: 0 },
  ]);
  const stats = await b.stats();
  assert.deepEqual([stats.torrents, stats.peers, stats.seeders, stats.leechers], [1, 3, 1, 2]);
});

test('Redis store: expiry removes a silent peer, on announce and by the sweep', async (t) => {
  const url = await startRedis(t);
  const { a, b, portA, portB, clock } = await pair(t, url, 'expiry:');
  await httpAnnounce(portA, req(1, { event: 'started' }));
  clock.nowMs += TIMEOUT_MS / 2;
  await httpAnnounce(portA, req(2, { event: 'started' }));
  clock.nowMs += TIMEOUT_MS / 2 + 1; // peer 1 is now silent for longer than the timeout, peer 2 is not
  const r = await httpAnnounce(portB, req(3, { event: 'started' }));
  assert.deepEqual(ports(r.peers), [7002]);
  assert.equal(r.incomplete, 2);
  // a second torrent goes quiet; the sweep drops it whole
  await httpAnnounce(portB, req(4, { infoHash: infoHash(9) }));
  assert.equal((await a.stats()).torrents, 2);
  clock.nowMs += TIMEOUT_MS + 1;
  assert.equal(await b.expire(), 3); // peers 2 and 3 of the first torrent, peer 4 of the second
  assert.deepEqual([(await a.stats()).torrents, (await a.stats()).peers], [0, 0]);
  const fresh = await httpAnnounce(portA, req(5));
  assert.deepEqual([fresh.peers, fresh.complete, fresh.incomplete], [[], 0, 1]);
});

test('Redis store: stopped, completed, list replies with URLs, and the per-torrent cap', async (t) => {
  const url = await startRedis(t);
  const s = await store(t, url, 'direct:');
  const ip = parseIpNormalized('192.0.2.1')!;
  const ip6 = parseIpNormalized('2001:db8::1')!;
  const base = { infoHash: infoHash(3), left: 10, numwant: 50, nowMs: 1000 } as const;
  await s.announce({ ...base, peerId: peerId(1), ip, port: 6881, reply: 'compact4' });
  await s.announce({ ...base, peerId: peerId(2), ip: ip6, port: 6882, reply: 'compact4' });
  await s.announce({ ...base, peerId: peerId(3), ip, port: 0, url: 'https://peer.example/ttp/', reply: 'compact4' });
  const both = await s.announce({ ...base, peerId: peerId(4), ip, port: 6884, left: 0, event: 'completed', reply: 'compact' });
  assert.deepEqual([both.complete, both.incomplete], [1, 3]);
  assert.deepEqual([...both.peers4], [192, 0, 2, 1, 0x1a, 0xe1]);
  assert.equal(both.peers6.length, 18);
  const list = await s.announce({ ...base, peerId: peerId(4), ip, port: 6884, left: 0, reply: 'list' });
  const byPort = [...list.peers].sort((x, y) => x.port - y.port);
  assert.deepEqual(byPort, [
    { peerId: peerId(3), ip: '192.0.2.1', port: 0, url: 'https://peer.example/ttp/' },
    { peerId: peerId(1), ip: '192.0.2.1', port: 6881 },
    { peerId: peerId(2), ip: '2001:db8::1', port: 6882 },
  ]);
  const [entry] = await s.scrape([infoHash(3)]);
  assert.deepEqual(entry, { infoHash: infoHash(3), complete: 1, downloaded: 1, incomplete: 3 });
  assert.deepEqual(await s.fullScrape(10), [entry]);
  const stopped = await s.announce({ ...base, peerId: peerId(1), ip, port: 6881, event: 'stopped', reply: 'compact4' });
  assert.deepEqual([stopped.complete, stopped.incomplete, stopped.peers4.length], [1, 2, 0]);
  // maxPeersPerTorrent is 5 here: the fifth and sixth distinct peers
  await s.announce({ ...base, peerId: peerId(5), ip, port: 6885, reply: 'compact4' });
  await s.announce({ ...base, peerId: peerId(6), ip, port: 6886, reply: 'compact4' });
  // the seventh finds the swarm full: answered with peers (issue 18), not stored
  const full = await s.announce({ ...base, peerId: peerId(7), ip, port: 6887, reply: 'compact4', event: 'completed' });
  assert.deepEqual([full.complete, full.incomplete], [1, 4]);
  assert.ok(full.peers4.length >= 6 && full.peers4.length % 6 === 0, `${full.peers4.length} bytes of peers`);
  assert.ok(!decodeCompactPeers(full.peers4, 6).some((p) => p.port === 6887));
  assert.deepEqual(await s.stats(), { torrents: 1, peers: 5, seeders: 1, leechers: 4, completed: 1 });
});

test('Redis store: an unreachable Redis is TRACKER_STORE_UNAVAILABLE', async () => {
  await assert.rejects(
    RedisSwarmStore.connect({ url: 'redis://127.0.0.1:1' }),
    (e: unknown) => e instanceof TrackerError && e.code === 'TRACKER_STORE_UNAVAILABLE',
  );
});
