/**
 * A lone get streams the origin (src/gateway/lone-stream.ts): ONE `Range: bytes=0-` GET, every
 * piece verified; a corrupt byte fails its piece and the seed sends it; another peer ends the
 * stream and the swarm takes the rest. serve behind a front server whose torrent names the front
 * as web seed (url-list) and serve's seed in `TorrentTTP-Seed`, so the stream's bytes can be
 * damaged or slowed while the seed's stay whole.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { Client } from '../../src/engine/index.js';
import { getUrl, type GetEvent } from '../../src/gateway/index.js';
import { checkHead, streamableHeaders } from '../../src/gateway/lone-stream.js';
import { encodeTorrent, parseTorrent } from '../../src/metainfo/index.js';
import { encodeAnnounceQuery } from '../../src/tracker/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';

const MIB = 1024 * 1024;
const PIECE = 64 * 1024;

interface Front {
  readonly url: string;
  readonly payload: Uint8Array;
  /** `Range` of each byte request the front answered. */
  readonly ranges: string[];
  /** Byte requests whose answer the client closed before its end. */
  readonly cut: () => number;
  /** serve's own URL (its tracker is `/announce`) and the torrent's info-hash (hex). */
  readonly serveUrl: string;
  readonly infoHash: string;
}

/**
 * serve (4 MiB, 64 KiB pieces) behind a front: torrents with the front as web seed and serve's
 * seed named; bytes from serve, with `damage` applied and sent `chunk` bytes every `everyMs`.
 */
async function front(t: TestContext, dir: string, opts: { damage?: (body: Buffer, from: number) => void; chunk?: number; everyMs?: number } = {}): Promise<Front> {
  const root = join(dir, 'www');
  mkdirSync(root);
  const payload = bytes(4 * MIB, 21);
  writeFileSync(join(root, 'big.bin'), payload);
  const g = await startGateway(t, { root, cacheDir: join(dir, 'cache'), pieceLength: PIECE });
  const origin = `${g.url}/big.bin`;
  const torrent = parseTorrent(await torrentOf(origin));
  for (let i = 0; i < 100; i++) {
    const r = await request(`${origin}?torrent`);
    await r.body.dump();
    if (r.headers['torrenttp-seed'] !== undefined) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  const ranges: string[] = [];
  let cut = 0;
  let url = '';
  const server = createServer((req, res) => {
    void (async () => {
      if (String(req.headers.accept ?? '').includes('application/x-bittorrent')) {
        res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'torrenttp-seed': `127.0.0.1:${g.peerPort}` });
        res.end(encodeTorrent(torrent.infoBytes, { announceList: torrent.announceList, urlList: [url] }));
        return;
      }
      const range = typeof req.headers.range === 'string' ? req.headers.range : undefined;
      ranges.push(range ?? '');
      const b = await request(origin, range === undefined ? {} : { headers: { range } });
      const body = Buffer.from(await b.body.arrayBuffer());
      const from = Number(/^bytes (\d+)-/.exec(String(b.headers['content-range'] ?? ''))?.[1] ?? 0);
      opts.damage?.(body, from);
      const pass = ['content-length', 'content-range', 'content-type'].flatMap((k) => (typeof b.headers[k] === 'string' ? [[k, b.headers[k]] as [string, string]] : []));
      res.writeHead(b.statusCode, Object.fromEntries(pass));
      const chunk = opts.chunk ?? body.length;
      let closed = false;
      res.on('close', () => {
        if (!res.writableFinished) {
          closed = true;
          cut++;
        }
      });
      for (let at = 0; at < body.length && !closed; at += chunk) {
        if (!res.write(body.subarray(at, at + chunk))) await new Promise((r) => res.once('drain', r).once('close', r));
        if (opts.everyMs !== undefined) await new Promise((r) => setTimeout(r, opts.everyMs));
      }
      res.end();
    })().catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/big.bin`;
  return { url, payload, ranges, cut: () => cut, serveUrl: g.url, infoHash: torrent.infoHash };
}

test('a lone get streams the origin in one GET from byte 0, every piece verified, and asks the seed for nothing', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const f = await front(t, dir);
    const out = join(dir, 'out.bin');
    const r = await getUrl({ url: f.url, output: { kind: 'file', path: out }, lingerMs: 0 });
    assert.equal(r.status, 'complete');
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload)), 'byte-identical');
    assert.deepEqual(r.sources, { plain: 0, wire: 0, webseed: f.payload.length, http: 0 });
    assert.deepEqual(f.ranges, ['bytes=0-'], 'one GET of the whole file');
  }));

test('a corrupt byte in the stream fails its piece: the stream stops and the seed sends the rest, byte-identical', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const bad = 5 * PIECE + 1234;
    const f = await front(t, dir, {
      damage: (body, from) => {
        if (bad >= from && bad < from + body.length) body[bad - from] = body[bad - from]! ^ 0xff;
      },
    });
    const out = join(dir, 'out.bin');
    const events: GetEvent[] = [];
    const r = await getUrl({ url: f.url, output: { kind: 'file', path: out }, lingerMs: 0, onEvent: (e) => events.push(e) });
    assert.equal(r.status, 'complete');
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload)), 'byte-identical: the damaged piece was fetched again');
    assert.ok(r.sources.wire >= PIECE, `the seed sent the damaged piece at least: ${JSON.stringify(r.sources)}`);
    assert.equal(r.sources.wire + r.sources.webseed >= f.payload.length, true);
    const warning = events.find((e) => e.type === 'warning' && /piece 5 failed its hash check/.test(e.message));
    assert.ok(warning !== undefined, JSON.stringify(events.filter((e) => e.type === 'warning')));
    assert.equal(f.ranges[0], 'bytes=0-');
  }));

test('another peer ends the stream: the get takes the rest from the swarm', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // 64 KiB every 25 ms: the stream would take 1.6 s, time enough for a second downloader.
    const f = await front(t, dir, { chunk: PIECE, everyMs: 25 });
    const out = join(dir, 'out.bin');
    let port = 0;
    let streamed = 0;
    let onStarted!: () => void;
    const started = new Promise<void>((resolve) => (onStarted = resolve));
    const result = getUrl({
      url: f.url,
      output: { kind: 'file', path: out },
      lingerMs: 0,
      onEvent: (e) => {
        if (e.type === 'start') port = e.port ?? 0;
        if (e.type === 'progress' && e.doneBytes > 0) {
          streamed = e.doneBytes;
          onStarted();
        }
      },
    });
    await started;
    assert.ok(streamed < f.payload.length, 'still streaming');
    // A second downloader dials the get.
    const other = new Client({ allowLoopbackPeers: true });
    t.after(() => other.close());
    const torrent = parseTorrent(new Uint8Array(await (await request(f.url, { headers: { accept: 'application/x-bittorrent' } })).body.arrayBuffer()));
    mkdirSync(join(dir, 'other'));
    await other.add(torrent, { path: join(dir, 'other'), peers: [`127.0.0.1:${port}`], trackers: false, webSeeds: false, dht: false });
    const r = await result;
    assert.equal(r.status, 'complete');
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload)), 'byte-identical');
    assert.ok(r.sources.wire > 0, `the seed sent the rest over the wire: ${JSON.stringify(r.sources)}`);
    assert.ok(r.sources.webseed < f.payload.length, 'the stream stopped before the end');
    assert.equal(f.cut(), 1, 'the stream was closed by the get');
  }));

test('a get whose first tracker answer names another downloader does not stream: the seed sends it all', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const f = await front(t, dir);
    // Another downloader in the swarm (nothing listens on its port: only the tracker knows it).
    const q = encodeAnnounceQuery({ infoHash: Uint8Array.from(Buffer.from(f.infoHash, 'hex')), peerId: randomBytes(20), port: 9, uploaded: 0, downloaded: 0, left: 100, compact: true });
    const a = await request(`${f.serveUrl}/announce?${q}`);
    assert.equal(a.statusCode, 200);
    await a.body.dump();
    const out = join(dir, 'out.bin');
    const r = await getUrl({ url: f.url, output: { kind: 'file', path: out }, lingerMs: 0 });
    assert.equal(r.status, 'complete');
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload)), 'byte-identical');
    assert.equal(r.sources.wire, f.payload.length, `from the seed: ${JSON.stringify(r.sources)}`);
    assert.deepEqual(f.ranges, [], 'no GET of the bytes');
  }));

test('checkHead takes only the whole file from byte 0, plainly framed; streamableHeaders refuses CR/LF', () => {
  assert.equal(checkHead('HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nContent-Range: bytes 0-9/10', 10), undefined);
  assert.equal(checkHead('HTTP/1.1 200 OK\r\ncontent-length: 10', 10), undefined);
  assert.match(checkHead('HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nContent-Range: bytes 5-14/20', 10)!, /content-range/);
  assert.match(checkHead('HTTP/1.1 200 OK\r\nContent-Length: 9', 10)!, /content-length 9/);
  assert.match(checkHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked', 10)!, /transfer-encoding/);
  assert.match(checkHead('HTTP/1.1 404 Not Found\r\nContent-Length: 10', 10)!, /status 404/);
  assert.match(checkHead('HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Length: 10', 10)!, /twice/);
  assert.match(checkHead('SSH-2.0', 10)!, /not an HTTP/);
  assert.deepEqual(streamableHeaders({ authorization: 'Bearer x', range: 'bytes=5-' }), { authorization: 'Bearer x' });
  assert.equal(streamableHeaders({ 'x-a': 'b\r\nHost: evil' }), undefined);
});
