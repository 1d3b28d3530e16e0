import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Announcer,
  encodeAnnounceResponse,
  encodeFailure,
  HttpTrackerClient,
  TrackerServer,
  UdpTrackerClient,
  type AnnounceRequest,
} from '../../src/tracker/index.js';
import { toHex } from '../../src/metainfo/index.js';
import { freePort, requireTool, run, until } from '../helpers/processes.js';
import { withTempDir } from '../helpers/torrents.js';

const hash = (n: number) => new Uint8Array(20).fill(n);
const pid = (n: number) => new TextEncoder().encode(`-TT0001-${String(n).padStart(12, '0')}`);
const req = (n: number, port: number, extra: Partial<AnnounceRequest> = {}): AnnounceRequest => ({
  infoHash: hash(1),
  peerId: pid(n),
  port,
  uploaded: 0,
  downloaded: 0,
  left: 100,
  event: 'started',
  ...extra,
});

test('HTTP and UDP clients announce and scrape against our tracker', async (t) => {
  const server = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: 120 });
  const { port } = await server.listen();
  t.after(() => server.close());
  for (const url of [`http://127.0.0.1:${port}/announce`, `udp://127.0.0.1:${port}`]) {
    const c = url.startsWith('udp') ? new UdpTrackerClient(url, { baseTimeoutMs: 500 }) : new HttpTrackerClient(url);
    const n = url.startsWith('udp') ? 10 : 20;
    await c.announce(req(n, 7001));
    const r = await c.announce(req(n + 1, 7002, { left: 0, event: 'completed' }));
    assert.ok(r.peers.some((p) => p.ip === '127.0.0.1' && p.port === 7001), `${url}: ${JSON.stringify(r.peers)}`);
    assert.equal(r.intervalSec, 120);
    const [s] = await c.scrape([hash(1)]);
    assert.ok(s!.seeders >= 1 && s!.leechers >= 1, JSON.stringify(s));
  }
});

test('UDP client: retransmits on the BEP 15 schedule and reuses the connection id', async (t) => {
  const server = new TrackerServer({ host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  t.after(() => server.close());
  // A lossy relay in front of the tracker: drops the first two packets it sees.
  const relay = createSocket('udp4');
  await new Promise<void>((r) => relay.bind(0, '127.0.0.1', () => r()));
  t.after(() => relay.close());
  let seen = 0;
  const upstream = createSocket('udp4');
  t.after(() => upstream.close());
  let client: { address: string; port: number } | undefined;
  relay.on('message', (m, rinfo) => {
    client = rinfo;
    if (seen++ < 2) return;
    upstream.send(m, port, '127.0.0.1');
  });
  upstream.on('message', (m) => relay.send(m, client!.port, client!.address));
  const c = new UdpTrackerClient(`udp://127.0.0.1:${relay.address().port}`, { baseTimeoutMs: 100 });
  const r = await c.announce(req(1, 7001));
  assert.equal(r.peers.length, 0);
  assert.equal(seen, 4, 'two drops, then connect and announce');
  await c.announce(req(1, 7001, { event: undefined }));
  assert.equal(seen, 5, 'the connection id was reused: one packet');
  // Bound and silent: no ICMP comes back, so only the schedule ends it.
  const hole = createSocket('udp4');
  await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
  t.after(() => hole.close());
  const silent = new UdpTrackerClient(`udp://127.0.0.1:${hole.address().port}`, { baseTimeoutMs: 20, maxRetries: 2 });
  await assert.rejects(silent.announce(req(1, 1)), { code: 'TRACKER_TIMEOUT' });
});

test('UDP client: a closed port (ICMP port unreachable) fails at once with ECONNREFUSED, not after the schedule', { timeout: 10_000 }, async () => {
  const closed = new UdpTrackerClient(`udp://127.0.0.1:${await freePort()}`); // BEP 15's 15 s first wait
  const t0 = Date.now();
  await assert.rejects(closed.announce(req(1, 1)), (e: { code?: string; message?: string }) => e.code === 'TRACKER_UNREACHABLE' && /ECONNREFUSED/.test(e.message ?? ''));
  assert.ok(Date.now() - t0 < 3000, `${Date.now() - t0} ms`);
});

test('Announcer: a silent tracker in tier 1 is given up after the first-attempt budget, and tier 2 answers', { timeout: 10_000 }, async (t) => {
  const good = createServer((_req, res) => res.end(encodeAnnounceResponse({ intervalSec: 60, peers: [{ ip: '127.0.0.1', port: 6003 }] })));
  good.listen(0, '127.0.0.1');
  await once(good, 'listening');
  t.after(() => good.close());
  const hole = createSocket('udp4');
  await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
  t.after(() => hole.close());
  const silentUrl = `udp://127.0.0.1:${hole.address().port}`;
  const a = new Announcer([[silentUrl], [`http://127.0.0.1:${(good.address() as { port: number }).port}/announce`]], {
    infoHash: hash(6),
    peerId: pid(1),
    port: 6881,
    stats: () => ({ uploaded: 0, downloaded: 0, left: 1 }),
    firstTimeoutMs: 300, // UDP keeps BEP 15's 15 s first wait: only this bound ends the attempt
  });
  const failures: [string, string][] = [];
  a.on('failure', (e, url) => failures.push([url, e.code]));
  const t0 = Date.now();
  const got = once(a, 'peers');
  a.start();
  await got;
  assert.ok(Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
  assert.deepEqual(failures, [[silentUrl, 'TRACKER_TIMEOUT']]);
  await a.stop(200);
});

test('HTTP client: failure reason, HTTP errors, oversized and malformed replies are typed errors', async (t) => {
  const replies: ((res: import('node:http').ServerResponse) => void)[] = [
    (res) => res.end(encodeFailure('go away')),
    (res) => { res.statusCode = 500; res.end('oops'); },
    (res) => res.end(new Uint8Array(2 * 1024 * 1024).fill(0x31)),
    (res) => res.end('<html>not bencode</html>'),
  ];
  let i = 0;
  const server = createServer((_req, res) => replies[i++]!(res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const c = new HttpTrackerClient(`http://127.0.0.1:${(server.address() as { port: number }).port}/announce`);
  for (const want of ['TRACKER_FAILURE', 'TRACKER_HTTP_STATUS', 'TRACKER_RESPONSE_TOO_LARGE', 'BENCODE_UNEXPECTED_BYTE']) {
    await assert.rejects(c.announce(req(1, 1)), (e: { code?: string }) => e.code === want || (want.startsWith('BENCODE') && e.code === 'TRACKER_BAD_RESPONSE'), want);
  }
  assert.throws(() => new HttpTrackerClient('ftp://x/announce'), { code: 'TRACKER_UNSUPPORTED_URL' });
});

test('Announcer: BEP 12 tiers fall through a dead tracker; loopback peers only from a loopback tracker', { timeout: 10_000 }, async (t) => {
  const good = createServer((_req, res) =>
    res.end(encodeAnnounceResponse({ intervalSec: 60, peers: [{ ip: '127.0.0.1', port: 6001 }, { ip: '10.1.2.3', port: 6002 }] })),
  );
  good.listen(0, '127.0.0.1');
  await once(good, 'listening');
  t.after(() => good.close());
  const goodUrl = `http://127.0.0.1:${(good.address() as { port: number }).port}/announce`;
  const deadUrl = `http://127.0.0.1:${await freePort()}/announce`;
  const a = new Announcer([[deadUrl], [goodUrl]], {
    infoHash: hash(2),
    peerId: pid(1),
    port: 6881,
    stats: () => ({ uploaded: 0, downloaded: 0, left: 1 }),
    minRetryMs: 10,
  });
  const errors: string[] = [];
  a.on('failure', (e, url) => {
    errors.push(url);
    assert.match(e.message, /ECONNREFUSED/); // the reason, not only the URL
  });
  const got = once(a, 'peers');
  a.start();
  const [peers, from] = (await got) as [{ ip: string; port: number }[], string];
  assert.equal(from, goodUrl);
  assert.deepEqual(peers.map((p) => p.port).sort(), [6001, 6002]);
  assert.deepEqual(errors, [deadUrl]);
  await a.stop(500);
});

test('Announcer.stop() does not wait out BEP 15 retransmissions to a dead UDP tracker', async () => {
  const a = new Announcer([[`udp://127.0.0.1:${await freePort()}`]], {
    infoHash: hash(5),
    peerId: pid(1),
    port: 6881,
    stats: () => ({ uploaded: 0, downloaded: 0, left: 1 }),
    udp: { baseTimeoutMs: 60_000 },
  });
  a.start();
  await new Promise((r) => setTimeout(r, 50)); // the first connect is on its way
  const t0 = Date.now();
  await a.stop(200);
  assert.ok(Date.now() - t0 < 2000, `stop took ${Date.now() - t0} ms`);
});

test('opentracker (Debian) answers our HTTP and UDP clients; a hash off its whitelist is refused', async (t) => {
  requireTool('opentracker', ['-h']);
  await withTempDir(t, async (dir) => {
    const root = join(dir, 'ot');
    mkdirSync(root);
    writeFileSync(join(root, 'whitelist.txt'), `${toHex(hash(3))}\n`, { mode: 0o644 });
    const { chmodSync } = await import('node:fs');
    chmodSync(dir, 0o755);
    chmodSync(root, 0o755);
    const port = await freePort();
    const ot = run(t, 'opentracker', ['-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-d', root, '-u', 'nobody', '-w', 'whitelist.txt']);
    const http = new HttpTrackerClient(`http://127.0.0.1:${port}/announce`, { timeoutMs: 2000 });
    await until('opentracker to answer', async () => {
      try {
        await http.announce(req(1, 7001, { infoHash: hash(3) }));
        return true;
      } catch {
        return false;
      }
    }, 10_000, ot);
    const udp = new UdpTrackerClient(`udp://127.0.0.1:${port}`, { baseTimeoutMs: 500, maxRetries: 3 });
    const r = await udp.announce(req(2, 7002, { infoHash: hash(3) }));
    assert.ok(r.peers.some((p) => p.port === 7001), JSON.stringify(r.peers));
    await assert.rejects(http.announce(req(1, 7001, { infoHash: hash(4) })), { code: 'TRACKER_FAILURE' });
    await assert.rejects(udp.announce(req(1, 7001, { infoHash: hash(4) })), { code: 'TRACKER_FAILURE' });
  });
});

/** An HTTP tracker that records each announce's `event` and answers after `delayMs` (interval 30 min). */
async function recordingTracker(t: import('node:test').TestContext, delayMs: number): Promise<{ url: string; events: string[] }> {
  const events: string[] = [];
  const server = createServer((request, res) => {
    events.push(new URL(request.url ?? '/', 'http://x').searchParams.get('event') ?? 'none');
    setTimeout(() => res.end(encodeAnnounceResponse({ intervalSec: 1800, peers: [] })), delayMs);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/announce`, events };
}

const announcerFor = (url: string, n: number) =>
  new Announcer([[url]], { infoHash: hash(n), peerId: pid(1), port: 6881, stats: () => ({ uploaded: 0, downloaded: 100, left: 0 }), udp: { baseTimeoutMs: 500 } });

test('Announcer: completed() and stop() at once (download exits on finishing): our tracker counts the download, over HTTP and UDP', async (t) => {
  const server = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: 120 });
  const { port } = await server.listen();
  t.after(() => server.close());
  for (const [n, url] of [[30, `http://127.0.0.1:${port}/announce`], [31, `udp://127.0.0.1:${port}`]] as const) {
    const a = announcerFor(url, n);
    const announced = once(a, 'announced');
    a.start();
    await announced;
    a.completed();
    await a.stop(2000);
    const scrape = url.startsWith('udp') ? new UdpTrackerClient(url, { baseTimeoutMs: 500 }) : new HttpTrackerClient(url);
    const [s] = await scrape.scrape([hash(n)]);
    assert.deepEqual({ completed: s?.completed, seeders: s?.seeders, leechers: s?.leechers }, { completed: 1, seeders: 0, leechers: 0 }, `${url}: completed, then stopped`);
  }
});

test('Announcer: completed() while an announce is in flight goes out when it ends, not an interval later', async (t) => {
  const tracker = await recordingTracker(t, 300);
  const a = announcerFor(tracker.url, 32);
  a.start();
  await until('started to be in flight', () => tracker.events.length === 1, 5000);
  a.completed();
  await until('completed to follow', () => tracker.events.length === 2, 5000);
  await a.stop(2000);
  assert.deepEqual(tracker.events, ['started', 'completed', 'stopped']);
});

test('Announcer: stop() lets a completed in flight finish instead of aborting and sending it twice', async (t) => {
  const tracker = await recordingTracker(t, 300);
  const a = announcerFor(tracker.url, 33);
  const announced = once(a, 'announced');
  a.start();
  await announced;
  a.completed();
  await until('completed to be in flight', () => tracker.events.length === 2, 5000);
  await a.stop(2000);
  assert.deepEqual(tracker.events, ['started', 'completed', 'stopped']);
});

test('Announcer: a udp:// tracker answers through the UDP client, loaded at its first announce; a udp:// URL without a port is told unsupported at start, as before', { timeout: 10_000 }, async (t) => {
  const server = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: 120 });
  const { port } = await server.listen();
  t.after(() => server.close());
  await new HttpTrackerClient(`http://127.0.0.1:${port}/announce`).announce(req(2, 7001, { infoHash: hash(6) }));
  const udpUrl = `udp://127.0.0.1:${port}`;
  const a = new Announcer([['udp://127.0.0.1'], [udpUrl]], {
    infoHash: hash(6),
    peerId: pid(1),
    port: 6881,
    stats: () => ({ uploaded: 0, downloaded: 0, left: 1 }),
    udp: { baseTimeoutMs: 500 },
  });
  const failures: string[] = [];
  a.on('failure', (e, url) => failures.push(`${url} ${(e as { code?: string }).code}`));
  const got = once(a, 'peers');
  a.start();
  const [peers, from] = (await got) as [{ ip: string; port: number }[], string];
  assert.equal(from, udpUrl);
  assert.deepEqual(peers.map((p) => p.port), [7001]);
  assert.deepEqual(failures, ['udp://127.0.0.1 TRACKER_UNSUPPORTED_URL']);
  await a.stop(500);
});
