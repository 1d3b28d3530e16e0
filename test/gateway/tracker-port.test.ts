/**
 * The embedded tracker on a port of its own (`trackerPort`, `serve --tracker-port`): the torrents
 * name it (HTTP and UDP, at the host the client named, IPv6 literals too), it answers announces
 * over HTTP and UDP with the same swarm as the web server's `/announce` (kept for torrents handed
 * out before), it answers only the tracker paths, a restart with another port hands out the
 * cached torrents naming the new one (same info-hash), a taken port fails the start, it stays
 * plain HTTP beside HTTPS, and with Redis it is the store the servers share.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { Gateway } from '../../src/gateway/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { decodeAnnounceResponse, decodeScrapeResponse, encodeAnnounceQuery, encodeScrapeQuery, UdpTrackerClient, type AnnounceRequest, type PeerAddress } from '../../src/tracker/index.js';
import { errorCode } from '../helpers/errors.js';
import { selfSignedCert } from '../helpers/tls.js';
import { startRedis } from '../tracker/server/redis-process.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { recordingLogger, startGateway, torrentOf } from './helpers.js';

const MIB = 1024 * 1024;

function leech(infoHash: Uint8Array, port: number): AnnounceRequest {
  return { infoHash, peerId: randomBytes(20), port, uploaded: 0, downloaded: 0, left: 100, compact: true };
}

async function httpAnnounce(base: string, a: AnnounceRequest): Promise<PeerAddress[]> {
  const res = await request(`${base}/announce?${encodeAnnounceQuery(a)}`);
  assert.equal(res.statusCode, 200);
  const r = decodeAnnounceResponse(new Uint8Array(await res.body.arrayBuffer()));
  assert.equal(r.type, 'ok', JSON.stringify(r));
  return r.type === 'ok' ? r.peers : [];
}

async function incomplete(base: string, infoHash: Uint8Array): Promise<number> {
  const res = await request(`${base}/scrape?${encodeScrapeQuery([infoHash])}`);
  assert.equal(res.statusCode, 200);
  const r = decodeScrapeResponse(new Uint8Array(await res.body.arrayBuffer()));
  assert.equal(r.failureReason, undefined);
  return r.files.find((f) => Buffer.from(f.infoHash).equals(infoHash))?.incomplete ?? 0;
}

/** The torrent of `path` asked with `Host: host`, once made. */
async function torrentWithHost(g: Gateway, path: string, host: string): Promise<ReturnType<typeof parseTorrent>> {
  await torrentOf(`${g.url}${path}`);
  const res = await request(`${g.url}${path}?torrent`, { headers: { host } });
  assert.equal(res.statusCode, 200);
  return parseTorrent(new Uint8Array(await res.body.arrayBuffer()));
}

test('the torrents name the tracker port, at the host the client named; it answers HTTP and UDP, the web /announce stays the same tracker', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'a.bin'), bytes(2 * MIB, 31));
    const g = await startGateway(t, { root, trackerPort: 0 });
    const n = g.trackerPort;
    assert.notEqual(n, g.address.port);
    const web = g.address.port;

    const plain = parseTorrent(await torrentOf(`${g.url}/a.bin`));
    assert.deepEqual(plain.announceList, [[`http://127.0.0.1:${n}/announce`], [`udp://127.0.0.1:${n}`]]);
    assert.deepEqual(plain.urlList, [`${g.url}/a.bin`], 'the web seed stays on the web server');
    assert.deepEqual((await torrentWithHost(g, '/a.bin', `localhost:${web}`)).announceList, [[`http://localhost:${n}/announce`], [`udp://localhost:${n}`]]);
    assert.deepEqual((await torrentWithHost(g, '/a.bin', `[::1]:${web}`)).announceList, [[`http://[::1]:${n}/announce`], [`udp://[::1]:${n}`]]);
    const json = (await (await request(`${g.url}/a.bin?metainfo`)).body.json()) as { announceList?: string[][]; announce?: string };
    assert.match(JSON.stringify(json), new RegExp(`http://127\\.0\\.0\\.1:${n}/announce`), 'the metainfo JSON names it too');

    const infoHash = Uint8Array.from(Buffer.from(plain.infoHash, 'hex'));
    await g.swarm.settled();
    const seed = g.peerPort;
    const tracker = `http://127.0.0.1:${n}`;
    // The seed's own announce (UDP, to the tracker port) lands in the store.
    for (let i = 0; i < 100 && !(await httpAnnounce(tracker, leech(infoHash, 7001))).some((p) => p.port === seed); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok((await httpAnnounce(tracker, leech(infoHash, 7002))).some((p) => p.port === seed), 'HTTP on the tracker port lists the seed');
    const udp = await new UdpTrackerClient(`udp://127.0.0.1:${n}`, { baseTimeoutMs: 1000 }).announce(leech(infoHash, 7003));
    assert.ok(udp.peers.some((p) => p.port === seed), 'UDP on the tracker port lists the seed');
    assert.ok(udp.peers.some((p) => p.port === 7002), 'and the peer that announced over HTTP: one swarm');
    // The web server's /announce: the same tracker (a torrent handed out before names it).
    const before = await incomplete(tracker, infoHash);
    const viaWeb = await httpAnnounce(g.url, leech(infoHash, 7004));
    assert.ok(viaWeb.some((p) => p.port === 7003), 'the web /announce sees the UDP peer');
    assert.equal(await incomplete(tracker, infoHash), before + 1, 'the tracker port scrapes the peer that came by the web port');
    // The web port's number takes no UDP: the tracker's is elsewhere.
    await assert.rejects(new UdpTrackerClient(`udp://127.0.0.1:${web}`, { baseTimeoutMs: 100, maxRetries: 0 }).announce(leech(infoHash, 7005)));

    // Only the tracker's paths, with the web server's Host check (bound to loopback).
    const other = await request(`${tracker}/a.bin`);
    assert.equal(other.statusCode, 404);
    await other.body.dump();
    const stats = await request(`${tracker}/stats`);
    assert.equal(stats.statusCode, 404);
    await stats.body.dump();
    const rebound = await request(`${tracker}/scrape`, { headers: { host: `evil.example:${n}` } });
    assert.equal(rebound.statusCode, 421);
    await rebound.body.dump();
  }));

test('a foreign info-hash is refused on the tracker port (served files only), answered with openTracker', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const g = await startGateway(t, { root: dir, trackerPort: 0 });
    const foreign = leech(randomBytes(20), 7010);
    const res = await request(`http://127.0.0.1:${g.trackerPort}/announce?${encodeAnnounceQuery(foreign)}`);
    const refused = decodeAnnounceResponse(new Uint8Array(await res.body.arrayBuffer()));
    assert.equal(refused.type, 'failure');
    await assert.rejects(new UdpTrackerClient(`udp://127.0.0.1:${g.trackerPort}`, { baseTimeoutMs: 1000 }).announce(foreign), /refused/);
    const open = await startGateway(t, { root: dir, trackerPort: 0, openTracker: true, cacheDir: join(dir, 'c2') });
    assert.deepEqual(await httpAnnounce(`http://127.0.0.1:${open.trackerPort}`, foreign), []);
  }));

test('a restart with another tracker port hands out the cached torrent naming the new one, same info-hash', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'a.bin'), bytes(2 * MIB, 32));
    const cacheDir = join(dir, 'cache');
    const first = await Gateway.start({ root, host: '127.0.0.1', port: 0, checkEveryMs: 0, hashThreads: 2, cacheDir });
    const before = parseTorrent(await torrentOf(`${first.url}/a.bin`));
    await first.swarm.settled();
    assert.deepEqual(before.announceList, [[`${first.url}/announce`], [`udp://127.0.0.1:${first.address.port}`]], 'without it: the web server\'s port');
    await first.close();

    const logger = recordingLogger();
    const g = await startGateway(t, { root, trackerPort: 0, cacheDir, logger });
    const after = parseTorrent(await torrentOf(`${g.url}/a.bin`));
    assert.ok(logger.entries.some((e) => e.msg === 'torrent ready' && (e.obj as { cached?: boolean }).cached === true), 'from the cache, not hashed again');
    assert.equal(after.infoHash, before.infoHash);
    assert.deepEqual(after.announceList, [[`http://127.0.0.1:${g.trackerPort}/announce`], [`udp://127.0.0.1:${g.trackerPort}`]]);
  }));

test('a tracker port that is taken fails the start, labelled as the tracker\'s; the same number as the web port is the one-port layout', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    t.after(() => new Promise<void>((r) => holder.close(() => r())));
    const taken = (holder.address() as { port: number }).port;
    const err = await Gateway.start({ root: dir, host: '127.0.0.1', port: 0, trackerPort: taken, checkEveryMs: 0 }).then(
      (g) => g.close().then(() => assert.fail('started on a taken tracker port')),
      (e: unknown) => e,
    );
    assert.equal(errorCode(() => { throw err; }), 'GATEWAY_BIND_FAILED');
    assert.equal((err as { detail?: string }).detail, `tracker tcp 127.0.0.1:${taken}`);
    assert.equal(((err as { cause?: { code?: string } }).cause)?.code, 'EADDRINUSE');

    const free = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const same = await startGateway(t, { root: dir, port: free, trackerPort: free });
    assert.equal(same.trackerPort, same.address.port);
  }));

test('with HTTPS the tracker port stays plain HTTP; with --redis it is the shared swarm store', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'a.bin'), bytes(2 * MIB, 33));
    const pem = selfSignedCert(dir);
    const tls = { cert: readFileSync(pem.cert), key: readFileSync(pem.key) };
    const secure = await startGateway(t, { root, trackerPort: 0, tls, cacheDir: join(dir, 'c1') });
    const insecure = new Agent({ connect: { rejectUnauthorized: false } });
    t.after(() => insecure.close());
    let res = await request(`${secure.url}/a.bin?torrent`, { dispatcher: insecure });
    for (let i = 0; i < 200 && res.statusCode === 503; i++) {
      await res.body.dump();
      await new Promise((r) => setTimeout(r, 50));
      res = await request(`${secure.url}/a.bin?torrent`, { dispatcher: insecure });
    }
    assert.equal(res.statusCode, 200);
    const m = parseTorrent(new Uint8Array(await res.body.arrayBuffer()));
    assert.match(secure.url, /^https:/);
    assert.deepEqual(m.announceList, [[`http://127.0.0.1:${secure.trackerPort}/announce`], [`udp://127.0.0.1:${secure.trackerPort}`]]);
    assert.deepEqual(m.urlList, [`${secure.url}/a.bin`]);

    // Two servers on one Redis: a peer announced to A's tracker port is handed out by B's web /announce.
    // After-hooks run in the order they were added: the servers close before their Redis stops.
    const shared: Gateway[] = [];
    t.after(() => Promise.all(shared.map((g) => g.close())));
    const redis = await startRedis(t);
    const on = (extra: object, cache: string): Promise<Gateway> =>
      Gateway.start({ root, host: '127.0.0.1', port: 0, checkEveryMs: 0, hashThreads: 2, redis, redisSyncMs: 100, cacheDir: join(dir, cache), ...extra }).then((g) => (shared.push(g), g));
    const a = await on({ trackerPort: 0 }, 'ca');
    const b = await on({}, 'cb');
    const infoHash = Uint8Array.from(Buffer.from(parseTorrent(await torrentOf(`${a.url}/a.bin`)).infoHash, 'hex'));
    await httpAnnounce(`http://127.0.0.1:${a.trackerPort}`, leech(infoHash, 7020));
    const asker = leech(infoHash, 7021);
    let seen: PeerAddress[] = [];
    for (let i = 0; i < 100; i++) {
      const r = decodeAnnounceResponse(new Uint8Array(await (await request(`${b.url}/announce?${encodeAnnounceQuery(asker)}`)).body.arrayBuffer()));
      seen = r.type === 'ok' ? r.peers : [];
      if (seen.some((p) => p.port === 7020)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(seen.some((p) => p.port === 7020), `B hands out the peer that announced to A's tracker port: ${JSON.stringify(seen.map((p) => p.port))}`);
  }));
