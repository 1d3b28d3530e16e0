import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import {
  decodeAnnounceResponse,
  decodeJsonAnnounceResponse,
  decodeJsonScrapeResponse,
  decodeProblem,
  decodeScrapeResponse,
  encodeAnnounceQuery,
  encodeJsonAnnounceRequest,
  encodeJsonScrapeRequest,
  encodeScrapeQuery,
  encodeUdpAnnounceRequest,
  encodeUdpConnectRequest,
  encodeUdpScrapeRequest,
  TrackerServer,
  type AnnounceOk,
  type AnnounceRequest,
  type TrackerServerOptions,
  type UdpResponse,
} from '../../../src/tracker/index.js';
import { toHex } from '../../../src/metainfo/index.js';
import { infoHash, peerId, UdpTestClient } from './helpers.js';

const INTERVAL = 60;

async function start(t: TestContext, opts: TrackerServerOptions = {}): Promise<{ server: TrackerServer; base: string; port: number; host: string }> {
  const host = opts.host ?? '127.0.0.1';
  const server = new TrackerServer({ host, port: 0, intervalSec: INTERVAL, ...opts });
  const { port } = await server.listen();
  t.after(() => server.close());
  const shown = host.includes(':') ? `[${host}]` : host;
  return { server, base: `http://${shown}:${port}`, port, host };
}

function req(n: number, over: Partial<AnnounceRequest> = {}): AnnounceRequest {
  return { infoHash: infoHash(1), peerId: peerId(n), port: 7000 + n, uploaded: 0, downloaded: 0, left: 100, ...over };
}

async function httpAnnounce(base: string, r: AnnounceRequest): Promise<AnnounceOk> {
  const res = await fetch(`${base}/announce?${encodeAnnounceQuery(r)}`);
  assert.equal(res.status, 200);
  const d = decodeAnnounceResponse(new Uint8Array(await res.arrayBuffer()));
  assert.equal(d.type, 'ok', d.type === 'failure' ? d.reason : '');
  return d as AnnounceOk;
}

async function httpFailure(base: string, query: string): Promise<string> {
  const res = await fetch(`${base}/announce?${query}`);
  assert.equal(res.status, 200);
  const d = decodeAnnounceResponse(new Uint8Array(await res.arrayBuffer()));
  assert.equal(d.type, 'failure');
  return d.type === 'failure' ? d.reason : '';
}

async function udpConnect(c: UdpTestClient): Promise<bigint> {
  const tx = c.txid();
  const r = await c.ask(encodeUdpConnectRequest(tx), tx);
  assert.equal(r?.type, 'connect');
  return r?.type === 'connect' ? r.connectionId : 0n;
}

async function udpAnnounce(c: UdpTestClient, connectionId: bigint, r: AnnounceRequest): Promise<UdpResponse | undefined> {
  const tx = c.txid();
  return c.ask(encodeUdpAnnounceRequest({ connectionId, transactionId: tx, key: 1, announce: r }), tx);
}

const ports = (peers: readonly { port: number }[]): number[] => peers.map((p) => p.port).sort((a, b) => a - b);

test('HTTP and UDP share one port and one swarm; compact replies leave out the announcer', async (t) => {
  const { base, port } = await start(t);
  const first = await httpAnnounce(base, req(1, { event: 'started', left: 0, compact: true }));
  assert.deepEqual([first.peers, first.complete, first.incomplete, first.intervalSec, first.minIntervalSec], [[], 1, 0, INTERVAL, INTERVAL / 2]);
  await httpAnnounce(base, req(2, { event: 'started' }));
  const c = new UdpTestClient('127.0.0.1', port);
  t.after(() => c.close());
  const id = await udpConnect(c);
  const u = await udpAnnounce(c, id, req(3, { event: 'started', numwant: 10 }));
  assert.equal(u?.type, 'announce');
  if (u?.type === 'announce') {
    assert.ok(u.peers.every((p) => p.ip === '127.0.0.1'));
    assert.deepEqual(ports(u.peers), [7001, 7002]);
    assert.deepEqual([u.seeders, u.leechers, u.intervalSec], [1, 2, INTERVAL]);
  }
  const again = await httpAnnounce(base, req(1, { left: 0 }));
  assert.deepEqual(ports(again.peers), [7002, 7003]);
  // UDP scrape, HTTP scrape and JSON scrape agree
  const tx = c.txid();
  const s = await c.ask(encodeUdpScrapeRequest({ connectionId: id, transactionId: tx, infoHashes: [infoHash(1), infoHash(2)] }), tx);
  assert.deepEqual(s, { type: 'scrape', transactionId: tx, entries: [{ seeders: 1, completed: 0, leechers: 2 }, { seeders: 0, completed: 0, leechers: 0 }] });
  const hs = decodeScrapeResponse(new Uint8Array(await (await fetch(`${base}/scrape?${encodeScrapeQuery([infoHash(1)])}`)).arrayBuffer()));
  assert.deepEqual(hs.files, [{ infoHash: infoHash(1), complete: 1, downloaded: 0, incomplete: 2 }]);
  const js = await fetch(`${base}/ttp/v1/scrape`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: encodeJsonScrapeRequest([infoHash(1)]) });
  assert.deepEqual(decodeJsonScrapeResponse(await js.text()), [{ infoHash: infoHash(1), complete: 1, downloaded: 0, incomplete: 2 }]);
});

test('HTTP dictionary replies carry peer ids unless no_peer_id', async (t) => {
  const { base } = await start(t);
  await httpAnnounce(base, req(1));
  const dict = await httpAnnounce(base, req(2, { compact: false }));
  assert.deepEqual(dict.peers, [{ ip: '127.0.0.1', port: 7001, peerId: peerId(1) }]);
  const bare = await httpAnnounce(base, req(2, { compact: false, noPeerId: true }));
  assert.deepEqual(bare.peers, [{ ip: '127.0.0.1', port: 7001 }]);
});

test('IPv6 on ::1: UDP gets 18-byte peers, HTTP gets peers6', async (t) => {
  // ::1 must be bindable on CI; if it is not, this fails rather than hiding IPv6.
  const { base, port } = await start(t, { host: '::1' });
  await httpAnnounce(base, req(1));
  const c = new UdpTestClient('::1', port, 6);
  t.after(() => c.close());
  const u = await udpAnnounce(c, await udpConnect(c), req(2));
  assert.equal(u?.type, 'announce');
  if (u?.type === 'announce') assert.deepEqual(u.peers, [{ ip: '::1', port: 7001 }]);
  const h = await httpAnnounce(base, req(3));
  assert.deepEqual(ports(h.peers), [7001, 7002]);
  assert.ok(h.peers.every((p) => p.ip === '::1'));
});

test('UDP connection ids: forged, foreign and expired ids are refused with an error packet', async (t) => {
  let now = 1_000_000;
  const { port } = await start(t, { now: () => now });
  const c = new UdpTestClient('127.0.0.1', port);
  const samePlace = new UdpTestClient('127.0.0.1', port);
  const elsewhere = new UdpTestClient('127.0.0.1', port, 4, '127.0.0.2');
  t.after(() => Promise.all([c.close(), samePlace.close(), elsewhere.close()]));
  const id = await udpConnect(c);
  assert.equal((await udpAnnounce(c, id, req(1)))?.type, 'announce');
  const forged = await udpAnnounce(c, id ^ 1n, req(1));
  assert.equal(forged?.type, 'error');
  assert.match(forged?.type === 'error' ? forged.message : '', /connection id/);
  // Clients that share one id across their sockets (as opentracker allows): the id is bound to
  // the address, not the port. Both the fused announce and the generic path (scrape) take it.
  assert.equal((await udpAnnounce(samePlace, id, req(2)))?.type, 'announce', 'an id works from another port of the same address');
  let tx = samePlace.txid();
  assert.equal((await samePlace.ask(encodeUdpScrapeRequest({ connectionId: id, transactionId: tx, infoHashes: [infoHash(1)] }), tx))?.type, 'scrape');
  assert.equal((await udpAnnounce(elsewhere, id, req(3)))?.type, 'error', 'an id is bound to the address it was issued to');
  tx = elsewhere.txid();
  assert.equal((await elsewhere.ask(encodeUdpScrapeRequest({ connectionId: id, transactionId: tx, infoHashes: [infoHash(1)] }), tx))?.type, 'error');
  now += 150_000; // next bucket: still accepted (ids live at least 2 minutes)
  assert.equal((await udpAnnounce(c, id, req(1)))?.type, 'announce');
  now += 240_000; // two buckets on: expired
  assert.equal((await udpAnnounce(c, id, req(1)))?.type, 'error');
  assert.equal((await udpAnnounce(c, await udpConnect(c), req(1)))?.type, 'announce');
});

test('peers expire on the injected clock', async (t) => {
  let now = 0;
  const { server, base } = await start(t, { now: () => now });
  await httpAnnounce(base, req(1));
  now += 2 * INTERVAL * 1000 - 1;
  await httpAnnounce(base, req(2));
  assert.equal(await server.expire(), 0);
  now += 2;
  assert.equal(await server.expire(), 1);
  const r = await httpAnnounce(base, req(3));
  assert.deepEqual(ports(r.peers), [7002]);
  const stats = await server.stats();
  assert.deepEqual([stats.torrents, stats.peers, stats.leechers], [1, 2, 2]);
});

test('deny list, private mode with an allow list, and full scrape', async (t) => {
  const allowed = infoHash(1);
  const denied = infoHash(2);
  const open = await start(t, { deny: [toHex(denied)], fullScrape: true });
  assert.match(await httpFailure(open.base, encodeAnnounceQuery(req(1, { infoHash: denied }))), /not served/);
  await httpAnnounce(open.base, req(1, { infoHash: infoHash(3) }));
  const full = decodeScrapeResponse(new Uint8Array(await (await fetch(`${open.base}/scrape`)).arrayBuffer()));
  assert.deepEqual(full.files.map((f) => toHex(f.infoHash)), [toHex(infoHash(3))]);

  const priv = await start(t, { privateMode: true, allow: [allowed], fullScrape: true });
  await httpAnnounce(priv.base, req(1, { infoHash: allowed }));
  assert.match(await httpFailure(priv.base, encodeAnnounceQuery(req(1, { infoHash: infoHash(3) }))), /not served/);
  const noFull = decodeScrapeResponse(new Uint8Array(await (await fetch(`${priv.base}/scrape`)).arrayBuffer()));
  assert.match(noFull.failureReason ?? '', /full scrape is disabled/);
  const c = new UdpTestClient('127.0.0.1', priv.port);
  t.after(() => c.close());
  const u = await udpAnnounce(c, await udpConnect(c), req(2, { infoHash: infoHash(3) }));
  assert.equal(u?.type, 'error');
  priv.server.setAccessLists({ allow: [allowed, infoHash(3)] });
  await httpAnnounce(priv.base, req(1, { infoHash: infoHash(3) }));
});

test('a client-supplied ip is honoured only with trustIp', async (t) => {
  const plain = await start(t);
  await httpAnnounce(plain.base, req(1, { ip: '192.0.2.7' }));
  assert.deepEqual((await httpAnnounce(plain.base, req(2))).peers, [{ ip: '127.0.0.1', port: 7001 }]);
  const trusting = await start(t, { trustIp: true });
  await httpAnnounce(trusting.base, req(1, { ip: '192.0.2.7' }));
  const c = new UdpTestClient('127.0.0.1', trusting.port);
  t.after(() => c.close());
  await udpAnnounce(c, await udpConnect(c), req(3, { ip: '198.51.100.9' }));
  const r = await httpAnnounce(trusting.base, req(2));
  assert.deepEqual(r.peers.map((p) => p.ip).sort(), ['192.0.2.7', '198.51.100.9']);
});

test('TorrentTTP JSON announce: URL peers, wire peers, problem documents', async (t) => {
  const { base } = await start(t);
  const post = (body: string, type = 'application/json'): Promise<Response> =>
    fetch(`${base}/ttp/v1/announce`, { method: 'POST', headers: { 'content-type': type }, body });
  const body = { infoHash: toHex(infoHash(1)), peerId: toHex(peerId(1)), url: 'https://peer.example/ttp', uploaded: 0, downloaded: 0, left: 0 };
  assert.equal((await post(encodeJsonAnnounceRequest(body))).status, 200);
  await httpAnnounce(base, req(2));
  const res = await post(encodeJsonAnnounceRequest({ ...body, peerId: toHex(peerId(3)), port: 7003, url: undefined as unknown as string }));
  assert.equal(res.status, 200);
  const r = decodeJsonAnnounceResponse(await res.text());
  assert.deepEqual([r.interval, r.minInterval, r.complete, r.incomplete], [INTERVAL, INTERVAL / 2, 2, 1]);
  const sorted = [...r.peers].sort((a, b) => (a.peerId! < b.peerId! ? -1 : 1));
  assert.deepEqual(sorted, [
    { peerId: toHex(peerId(1)), url: 'https://peer.example/ttp' },
    { peerId: toHex(peerId(2)), ip: '127.0.0.1', port: 7002 },
  ]);
  // the URL-only peer is not in BitTorrent replies, which have no place for it
  assert.deepEqual(ports((await httpAnnounce(base, req(2, { compact: false }))).peers), [7003]);

  const bad = await post('{"infoHash":"zz"}');
  assert.equal(bad.status, 400);
  assert.equal(bad.headers.get('content-type'), 'application/problem+json');
  assert.equal(decodeProblem(await bad.text()).code, 'TRACKER_BAD_INFO_HASH');
  assert.equal(decodeProblem(await (await post('{}', 'text/plain')).text()).code, 'TRACKER_UNSUPPORTED_MEDIA_TYPE');
  const big = await post(JSON.stringify({ pad: 'x'.repeat(20_000) }));
  assert.equal(big.status, 413);
  await big.text();
  const notFound = await fetch(`${base}/nope`);
  assert.deepEqual([notFound.status, decodeProblem(await notFound.text()).code], [404, 'TRACKER_NOT_FOUND']);
  const wrongMethod = await fetch(`${base}/ttp/v1/announce`);
  assert.deepEqual([wrongMethod.status, wrongMethod.headers.get('allow')], [405, 'POST']);
  await wrongMethod.text();
});

test('bad input is answered or dropped, and the server keeps serving', async (t) => {
  const { base, port, server } = await start(t);
  assert.match(await httpFailure(base, 'info_hash=%zz'), /percent/);
  assert.match(await httpFailure(base, 'info_hash=abc&peer_id=x'), /info_hash/);
  assert.match(await httpFailure(base, ''), /lacks a required parameter/);
  assert.match(await httpFailure(base, `${encodeAnnounceQuery(req(1))}&numwant=99999999`), /number/);
  // raw UDP garbage: short and unknown packets are dropped, malformed ones get an error packet
  const c = new UdpTestClient('127.0.0.1', port);
  t.after(() => c.close());
  const s = createSocket('udp4');
  t.after(() => new Promise<void>((resolve) => s.close(() => resolve())));
  for (const size of [0, 1, 15, 16, 97, 98, 1500, 2000]) {
    const junk = Uint8Array.from({ length: size }, (_, i) => (i * 37 + size) & 0xff);
    await new Promise<void>((resolve) => s.send(junk, port, '127.0.0.1', () => resolve()));
  }
  const id = await udpConnect(c);
  const tx = c.txid();
  const truncated = encodeUdpAnnounceRequest({ connectionId: id, transactionId: tx, key: 0, announce: req(1) }).subarray(0, 60);
  const e = await c.ask(truncated, tx);
  assert.equal(e?.type, 'error');
  assert.equal((await udpAnnounce(c, id, req(1)))?.type, 'announce');
  await httpAnnounce(base, req(2));
  const stats = await server.stats();
  assert.ok(stats.announcesTotal.udp === 1 && stats.announcesTotal.http === 1);
  const res = await fetch(`${base}/stats`);
  const json = (await res.json()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(json).sort(), [
    'announcesPerSec', 'announcesTotal', 'completed', 'leechers', 'memory', 'peers', 'scrapesPerSec', 'scrapesTotal', 'seeders', 'torrents', 'uptimeSec',
  ]);
});

test('port 0 reports the chosen port, and TCP and UDP both listen on it', async (t) => {
  const { server, port } = await start(t);
  assert.ok(port > 0);
  assert.equal(server.address.port, port);
  const c = new UdpTestClient('127.0.0.1', port);
  t.after(() => c.close());
  assert.ok((await udpConnect(c)) > 0n);
  const clash = new TrackerServer({ host: '127.0.0.1', port });
  await assert.rejects(clash.listen(), (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'TRACKER_BIND_FAILED');
});
