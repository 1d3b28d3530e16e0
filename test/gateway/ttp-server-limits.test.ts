/**
 * The TorrentTTP peer server under load and abuse (docs/torrenttp.md §7, §11, §16): callers are
 * engine peers (one choker, one peer limit, idle timeouts), a leecher's have-set long-poll wakes
 * on new pieces, shutdown answers held requests, HTTPS, and hostile requests get the right 4xx.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { Client } from '../../src/engine/index.js';
import { ttpServer } from '../../src/gateway/index.js';
import { fromBase64 } from '../../src/metainfo/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { rawRequest } from './helpers.js';
import { demoTorrent, get, ttpSeed } from './ttp-helpers.js';
import { selfSignedCert } from '../helpers/tls.js';

const peerId = (n: number): string => n.toString(16).padStart(40, '0');

test('choking: callers share the 4 upload slots; the fifth gets 429 TTP_CHOKED with Retry-After, and a slot once one goes idle', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent } = await demoTorrent(dir);
    let now = 1_000_000;
    const s = await ttpSeed(t, torrent, dir, { server: { now: () => now, callers: { idleMs: 10_000, closeAfterMs: 60_000, maxPerAddress: 8 } } });
    // The Client's first tick (250 ms) runs the first choking round, with no peer yet; the next is
    // 10 s later, after this test: in between only interest moves the slots.
    await new Promise((r) => setTimeout(r, 400));
    for (let i = 1; i <= 4; i++) {
      const r = await get(`${s.url}/pieces/0`, { 'torrenttp-peer-id': peerId(i) });
      assert.equal(r.status, 200, `caller ${i} has a slot`);
    }
    now += 6000;
    const fifth = await get(`${s.url}/pieces/0`, { 'torrenttp-peer-id': peerId(5) });
    assert.equal(fifth.status, 429);
    assert.equal(fifth.json()['code'], 'TTP_CHOKED');
    const retry = Number(fifth.h('retry-after'));
    assert.ok(Number.isInteger(retry) && retry >= 8 && retry <= 10, `Retry-After ${fifth.h('retry-after')}: until the next choking round`);
    assert.equal(fifth.h('cache-control'), 'no-store');
    const head = await get(`${s.url}/pieces/0`, { 'torrenttp-peer-id': peerId(5) }, 'HEAD');
    assert.equal(head.status, 200, 'HEAD reads no bytes and is never choked');
    const stats = s.torrent.stats();
    assert.equal(stats.peersByKind.http, 5, 'every caller is a peer of the torrent');
    assert.ok(stats.uploaded >= 4 * 16384, 'leased bytes count as uploaded');

    now += 5000; // callers 1–4 made no request for 11 s: not interested, their slots are free; 5 is still interested
    s.server.sweep();
    const again = await get(`${s.url}/pieces/0`, { 'torrenttp-peer-id': peerId(5) });
    assert.equal(again.status, 200, 'the choked caller gets a freed slot at its next request');
    now += 61_000;
    s.server.sweep();
    assert.equal(s.torrent.stats().peersByKind.http, 0, 'idle callers leave the torrent');
  }),
);

test('peer limit: a caller past the torrent\'s peers gets 503 ENGINE_TOO_MANY_PEERS with Retry-After; one address has few identities', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent } = await demoTorrent(dir);
    let now = 1_000_000;
    const s = await ttpSeed(t, torrent, dir, { client: { maxPeersPerTorrent: 2 }, server: { now: () => now, callers: { maxPerAddress: 8 } } });
    assert.equal((await get(`${s.url}/pieces/0`, { 'torrenttp-peer-id': peerId(1) })).status, 200);
    assert.equal((await get(`${s.url}/pieces/0`, { 'torrenttp-peer-id': peerId(2) })).status, 200);
    const refused = await get(`${s.url}/pieces/0`, { 'torrenttp-peer-id': peerId(3) });
    assert.equal(refused.status, 503);
    assert.equal(refused.json()['code'], 'ENGINE_TOO_MANY_PEERS');
    assert.equal(refused.h('retry-after'), '10');
    assert.equal(refused.h('cache-control'), 'no-store');
    assert.equal(refused.h('access-control-allow-origin'), '*');
    assert.equal((await get(`${s.url}/pieces/0`, { 'torrenttp-peer-id': peerId(3) }, 'HEAD')).status, 200, 'HEAD takes no peer place');
    now += 61_000;
    s.server.sweep(); // idle callers leave and free their places
    assert.equal((await get(`${s.url}/pieces/0`, { 'torrenttp-peer-id': peerId(3) })).status, 200);

    // With one identity per address, further peer ids share the address's plain entry.
    const dir2 = join(dir, 'two');
    const { torrent: torrent2 } = await demoTorrent(dir2);
    const s2 = await ttpSeed(t, torrent2, dir2, { client: { maxPeersPerTorrent: 2 }, server: { callers: { maxPerAddress: 1 } } });
    for (let i = 1; i <= 6; i++) assert.equal((await get(`${s2.url}/pieces/0`, { 'torrenttp-peer-id': peerId(i) })).status, 200, `id ${i}`);
    assert.equal(s2.torrent.stats().peersByKind.http, 2, 'the first id, then the address');
  }),
);

test('a leecher serves what it has: 404 STORAGE_NOT_VERIFIED for missing pieces, and its have-set long-poll wakes with a delta', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, content } = await demoTorrent(dir);
    // A slow wire seed: 16 KiB/s, so the three pieces arrive over about two seconds.
    const seed = new Client({ host: '127.0.0.1', uploadLimit: 16 * 1024 });
    t.after(() => seed.close());
    await seed.add(torrent, { path: dir, trackers: false });
    const seedPort = await seed.listen();

    const server = ttpServer({ host: '127.0.0.1', port: 0 });
    const leecher = new Client({ host: '127.0.0.1', httpServer: server, allowLoopbackPeers: true });
    t.after(() => leecher.close());
    const lt = await leecher.add(torrent, { path: join(dir, 'out'), trackers: false, peers: [`127.0.0.1:${seedPort}`] });
    const url = leecher.httpServer!.torrentUrl(lt.infoHash)!;

    const first = await get(`${url}/have`);
    const doc = first.json();
    const held = fromBase64(doc['have'] as string)![0]!;
    let cursor = doc['cursor'] as string;
    let known = held;
    for (let i = 0; i < 3; i++) {
      if ((held & (0x80 >> i)) !== 0) continue;
      const r = await get(`${url}/pieces/${i}`);
      if (r.status === 200) continue; // arrived in between
      assert.equal(r.status, 404);
      assert.equal(r.json()['code'], 'STORAGE_NOT_VERIFIED');
      assert.equal(r.h('cache-control'), 'no-store');
    }
    while (known !== 0xe0) {
      const started = Date.now();
      const r = await get(`${url}/have?since=${cursor}&wait=20`);
      assert.equal(r.status, 200);
      const d = r.json();
      assert.ok(Date.now() - started < 15_000, 'woken by a piece, not by the deadline');
      if (d['added'] !== undefined) {
        assert.equal(d['since'], cursor);
        for (const i of d['added'] as number[]) known |= 0x80 >> i;
      } else known = fromBase64(d['have'] as string)![0]!;
      cursor = d['cursor'] as string;
    }
    await lt.done;
    for (let i = 0; i < 3; i++) {
      const r = await get(`${url}/pieces/${i}`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, content.subarray(i * 16384, i * 16384 + lt.metainfo.geometry.pieceLengthOf(i)));
    }
  }),
);

test('shutdown answers a held long-poll at once, then the server is gone', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent } = await demoTorrent(dir);
    const s = await ttpSeed(t, torrent, dir);
    const etag = (await get(`${s.url}/have`)).h('etag')!;
    const started = Date.now();
    const held = get(`${s.url}/have?wait=60`, { 'if-none-match': etag });
    await new Promise((r) => setTimeout(r, 200));
    await s.client.close();
    const r = await held;
    assert.equal(r.status, 304);
    assert.ok(Date.now() - started < 5000, 'not held to its 60 s');
    assert.equal(s.client.httpServer!.torrentUrl(s.torrent.infoHash), undefined);
    await assert.rejects(get(`${s.url}/have`));
  }),
);

test('hostile requests: path tricks, bad hashes, huge heads get a 4xx and never another torrent\'s bytes', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { metainfo, torrent } = await demoTorrent(dir);
    const s = await ttpSeed(t, torrent, dir);
    const { port } = s.server.address;
    const h = metainfo.infoHash;
    const cases: [string, number][] = [
      [`/ttp/v1/torrents/${h}/../${h}/pieces/0`, 404],
      [`/ttp/v1/torrents/${h}/pieces/0/..`, 404],
      [`/ttp/v1/torrents/${h}//pieces/0`, 404],
      [`/ttp/v1/torrents/${h}/pieces/%30`, 404],
      [`/ttp/v1/torrents/${h}/pieces/0x1`, 404],
      [`/ttp/v1/torrents/${h}/pieces/1e3`, 404],
      [`/ttp/v1/torrents/%32${h.slice(1)}/pieces/0`, 400],
      [`/ttp/v1/torrents/${h}%00/pieces/0`, 400],
      [`/ttp/v1/torrents/${h}\\pieces\\0`, 400],
      [`//ttp/v1/torrents/${h}/pieces/0`, 404],
      [`/ttp/v1/torrents/${h}/pieces/0#frag`, 404],
      [`/ttp/v2/torrents/${h}/pieces/0`, 404],
      [`http://evil.example/ttp/v1/torrents/${h}/pieces/0`, 404],
      ['*', 404],
    ];
    for (const [target, status] of cases) {
      const r = await rawRequest(port, target);
      assert.equal(r.status, status, target);
      if (r.body.length > 0) assert.match(r.head, /content-type: application\/problem\+json/i, target);
    }
    assert.equal((await rawRequest(port, `/ttp/v1/torrents/${h}/pieces/0?cache-buster=1`)).status, 200, 'unknown query parameters are ignored');
    const huge = await rawRequest(port, `/ttp/v1/torrents/${h}/pieces/0`, { 'x-big': 'a'.repeat(20_000) });
    assert.equal(huge.status, 431);
    const range = await rawRequest(port, `/ttp/v1/torrents/${h}/pieces/0`, { range: `bytes=0-${'1'.repeat(17)}` });
    assert.equal(range.status, 400, 'a number longer than 16 digits is malformed');
    const big = await rawRequest(port, `/ttp/v1/torrents/${h}/pieces/0`, { range: 'bytes=0-9007199254740993' });
    assert.equal(big.status, 206, 'a huge last byte is clamped to the piece');
    assert.match(big.head, /content-range: bytes 0-16383\/16384/i);
    // Still serving after all that.
    assert.equal((await get(`${s.url}/pieces/2`)).status, 200);
  }),
);

test('HTTPS: the torrent URL is https and pieces come over TLS', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { key, cert } = selfSignedCert(dir);
    const { torrent, content } = await demoTorrent(dir);
    const s = await ttpSeed(t, torrent, dir, { server: { tls: { cert: readFileSync(cert), key: readFileSync(key) } } });
    assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+\/ttp\/v1\/torrents\//);
    const agent = new Agent({ connect: { rejectUnauthorized: false } });
    t.after(() => agent.close());
    const r = await request(`${s.url}/pieces/0`, { dispatcher: agent, headers: { range: 'bytes=0-99' } });
    assert.equal(r.statusCode, 206);
    assert.deepEqual(new Uint8Array(await r.body.arrayBuffer()), content.subarray(0, 100));
  }),
);
