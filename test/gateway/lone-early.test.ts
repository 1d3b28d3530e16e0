/**
 * A get that `serve` says is alone (`TorrentTTP-Swarm-Peers: 0`) opens its stream's connection
 * before the engine is compiled (`connectOrigin`, adopted by `streamOrigin`; swarm-get.ts), and
 * announces over node's own http (no undici in a lone get). Every piece is still verified, a peer
 * that joins still ends the stream and gets pieces from the get, and a connection never adopted
 * is closed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { request } from 'undici';
import { Client } from '../../src/engine/index.js';
import { getUrl, type GetEvent } from '../../src/gateway/index.js';
import { connectOrigin, streamOrigin } from '../../src/gateway/lone-stream.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { makeTorrent } from '../storage/helpers.js';
import { front, PIECE } from './lone-front.js';
import { TEST_STALL_MS } from './helpers.js';

const ALONE = { 'torrenttp-swarm-peers': '0' };

test('alone: a corrupt byte in the early-connected stream still fails its piece; the seed sends it, byte-identical', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const bad = 5 * PIECE + 1234;
    const f = await front(t, dir, {
      torrentHeaders: ALONE,
      damage: (body, from) => {
        if (bad >= from && bad < from + body.length) body[bad - from] = body[bad - from]! ^ 0xff;
      },
    });
    const out = join(dir, 'out.bin');
    const events: GetEvent[] = [];
    const r = await getUrl({ url: f.url, output: { kind: 'file', path: out }, lingerMs: 0, onEvent: (e) => events.push(e), stallMs: TEST_STALL_MS });
    assert.equal(r.status, 'complete');
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload)), 'byte-identical: the damaged piece was fetched again');
    assert.deepEqual(f.ranges.slice(0, 1), ['bytes=0-'], 'streamed');
    assert.ok(r.sources.wire >= PIECE, `the seed sent the damaged piece: ${JSON.stringify(r.sources)}`);
    assert.ok(events.some((e) => e.type === 'warning' && /piece 5 failed its hash check/.test(e.message)), JSON.stringify(events.filter((e) => e.type === 'warning')));
  }));

test('alone: a peer that joins ends the early-connected stream and gets the whole file from the get', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // 64 KiB every 25 ms: the stream would take 1.6 s, time enough for a second downloader.
    const f = await front(t, dir, { torrentHeaders: ALONE, chunk: PIECE, everyMs: 25 });
    const out = join(dir, 'out.bin');
    let port = 0;
    let onStarted!: () => void;
    const started = new Promise<void>((resolve) => (onStarted = resolve));
    const result = getUrl({
      url: f.url,
      output: { kind: 'file', path: out },
      // The get stays while the other pulls from it.
      lingerMs: 20_000,
      onEvent: (e) => {
        if (e.type === 'start') port = e.port ?? 0;
        if (e.type === 'progress' && e.doneBytes > 0) onStarted();
      },
      stallMs: TEST_STALL_MS,
    });
    await started;
    // The other downloader's only source is the get: no tracker, no web seed, no DHT.
    const other = new Client({ allowLoopbackPeers: true });
    t.after(() => other.close());
    const torrent = parseTorrent(new Uint8Array(await (await request(f.url, { headers: { accept: 'application/x-bittorrent' } })).body.arrayBuffer()));
    mkdirSync(join(dir, 'other'));
    const ot = await other.add(torrent, { path: join(dir, 'other'), peers: [`127.0.0.1:${port}`], trackers: false, webSeeds: false, dht: false });
    const r = await result;
    assert.equal(r.status, 'complete');
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload)), 'byte-identical');
    assert.ok(r.sources.webseed < f.payload.length, `the stream stopped before the end: ${JSON.stringify(r.sources)}`);
    await ot.done;
    assert.ok(Buffer.from(readFileSync(join(dir, 'other', torrent.name))).equals(Buffer.from(f.payload)), 'the other got it all from the get');
    assert.ok(r.uploadedBytes > 0);
  }));

test('a lone get loads no module of undici: its tracker announce goes over node http', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // serve's own trackers (HTTP first): the get announces while it streams.
    const f = await front(t, dir, { torrentHeaders: ALONE });
    const client = join(fileURLToPath(import.meta.url), '../../../src/gateway/client.js');
    const script = `
      import { createRequire } from 'node:module';
      const { getUrl } = await import(${JSON.stringify(client)});
      const r = await getUrl({ url: process.argv[1], output: { kind: 'file', path: process.argv[2] }, lingerMs: 0 });
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('/undici/'));
      console.log(JSON.stringify({ status: r.status, sources: r.sources, loaded }));
    `;
    const out = join(dir, 'out.bin');
    // Not spawnSync: the servers answer from this process's event loop.
    const child = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, f.url, out], { cwd: dir, encoding: 'utf8', timeout: 40_000 });
    const got = JSON.parse(child.stdout.trim()) as { status: string; sources: Record<string, number>; loaded: string[] };
    assert.deepEqual(got, { status: 'complete', sources: { plain: 0, wire: 0, webseed: f.payload.length, http: 0 }, loaded: [] });
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload)), 'byte-identical');
  }));

test('a swarm get (serve\'s seed and the web seed together) loads no module of undici either: web seeds and JSON announces go over node\'s own sockets', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // Not alone: the get joins the swarm, downloading from serve's wire seed and the front as web seed.
    const f = await front(t, dir);
    const client = join(fileURLToPath(import.meta.url), '../../../src/gateway/client.js');
    const script = `
      import { createRequire } from 'node:module';
      const { getUrl } = await import(${JSON.stringify(client)});
      // The web seed at once (not after the swarm stalled), beside serve's seed.
      const r = await getUrl({ url: process.argv[1], output: { kind: 'file', path: process.argv[2] }, lingerMs: 0, webSeedFallbackMs: 0 });
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('/undici/'));
      console.log(JSON.stringify({ status: r.status, sources: r.sources, loaded }));
    `;
    const out = join(dir, 'out.bin');
    const child = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, f.url, out], { cwd: dir, encoding: 'utf8', timeout: 40_000 });
    const got = JSON.parse(child.stdout.trim()) as { status: string; sources: Record<string, number>; loaded: string[] };
    assert.equal(got.status, 'complete');
    assert.ok(f.ranges.some((r) => /^bytes=\d+-\d+$/.test(r)), `the web seed's ranged GETs: ${JSON.stringify(f.ranges)}`);
    assert.deepEqual(got.loaded, [], 'no undici module loaded');
    // At least the file: in the endgame a block may come from both.
    assert.ok(got.sources.webseed! + got.sources.wire! >= f.payload.length, JSON.stringify(got.sources));
    assert.ok(got.sources.webseed! > 0, `the web seed sent bytes: ${JSON.stringify(got.sources)}`);
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload)), 'byte-identical');
  }));

test('connectOrigin sends the stream request at once (Range from the piece, the web seed header); close() ends a connection never adopted', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const f = await front(t, dir);
    const torrent = parseTorrent(new Uint8Array(await (await request(f.url, { headers: { accept: 'application/x-bittorrent' } })).body.arrayBuffer()));
    let onRequest!: (h: IncomingHttpHeaders) => void;
    const seen = new Promise<IncomingHttpHeaders>((r) => (onRequest = r));
    let onClosed!: () => void;
    const closed = new Promise<void>((r) => (onClosed = r));
    const server = createServer((req, res) => {
      onRequest(req.headers);
      // An answer that would go on for ever: only the client's close ends it.
      res.writeHead(206, { 'content-length': String(torrent.length) });
      res.write(Buffer.alloc(1000));
    });
    server.on('connection', (s: Socket) => s.on('close', onClosed));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/big.bin`;
    const conn = connectOrigin(torrent, url, { fromPiece: 3, headers: { 'x-extra': 'yes' } });
    const h = await seen;
    assert.equal(h.range, `bytes=${3 * torrent.pieceLength}-`);
    assert.equal(h['x-extra'], 'yes');
    assert.equal(h['torrenttp-web-seed'], torrent.infoHash);
    assert.equal(conn.url, url);
    assert.equal(conn.fromPiece, 3);
    conn.close();
    await closed;
  }));

test('streamOrigin adopts an early connection: the answer that waited is read, every piece verified; one refused before it fails the stream at once', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const tt = makeTorrent(300 * 1024 + 17, 64 * 1024, { seed: 5 });
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      res.writeHead(200, { 'content-length': String(tt.content.length) });
      res.end(tt.content);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new Client({ listen: false });
    t.after(() => client.close());
    const tor = await client.add(tt.metainfo, { path: dir, resumeDir: false, trackers: false, webSeeds: false, dht: false });
    tor.downloadsHeld = true;

    // The whole answer is in the socket before the stream exists.
    const good = connectOrigin(tt.metainfo, `${base}/good`);
    while (requests < 1) await new Promise((r) => setTimeout(r, 5));
    const end = await streamOrigin(tor, `${base}/good`, { connection: good }).over;
    assert.deepEqual(end, { how: 'complete' });
    assert.equal(requests, 1, 'no second connection');
    assert.ok(tor.complete);
    assert.ok(Buffer.from(readFileSync(join(dir, tt.metainfo.name))).equals(Buffer.from(tt.content)), 'byte-identical');

    // Refused before the stream took it: failed at once, not after the idle timeout.
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const deadUrl = `http://127.0.0.1:${(gone.address() as AddressInfo).port}/dead`;
    await new Promise((r) => gone.close(r));
    const dead = connectOrigin(tt.metainfo, deadUrl);
    while (dead.ended === undefined) await new Promise((r) => setTimeout(r, 5));
    const tor2 = await (async () => {
      await client.remove(tor.infoHash);
      mkdirSync(join(dir, 'b'));
      const x = await client.add(tt.metainfo, { path: join(dir, 'b'), resumeDir: false, trackers: false, webSeeds: false, dht: false });
      x.downloadsHeld = true;
      return x;
    })();
    const failed = await streamOrigin(tor2, deadUrl, { connection: dead, idleMs: 60_000 }).over;
    assert.equal(failed.how, 'failed');
    assert.match((failed as { reason: string }).reason, /ECONNREFUSED/);
    assert.throws(() => streamOrigin(tor2, deadUrl, { connection: dead }), RangeError, 'a connection is adopted once');
  }));
