/**
 * A lone get streams the origin (src/gateway/lone-stream.ts): ONE `Range: bytes=0-` GET, every
 * piece verified; a corrupt byte fails its piece and the seed sends it; another peer ends the
 * stream and the swarm takes the rest. serve behind a front server whose torrent names the front
 * as web seed (url-list) and serve's seed in `TorrentTTP-Seed`, so the stream's bytes can be
 * damaged or slowed while the seed's stay whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { Client } from '../../src/engine/index.js';
import { getUrl, type GetEvent } from '../../src/gateway/index.js';
import { checkHead, streamableHeaders } from '../../src/gateway/lone-stream.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { encodeAnnounceQuery } from '../../src/tracker/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { front, PIECE } from './lone-front.js';
import { TEST_STALL_MS } from './helpers.js';

test('a lone get streams the origin in one GET from byte 0, every piece verified, and asks the seed for nothing', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const f = await front(t, dir);
    const out = join(dir, 'out.bin');
    const r = await getUrl({ url: f.url, output: { kind: 'file', path: out }, lingerMs: 0, stallMs: TEST_STALL_MS });
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
    const r = await getUrl({ url: f.url, output: { kind: 'file', path: out }, lingerMs: 0, onEvent: (e) => events.push(e), stallMs: TEST_STALL_MS });
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
      stallMs: TEST_STALL_MS,
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
    const r = await getUrl({ url: f.url, output: { kind: 'file', path: out }, lingerMs: 0, stallMs: TEST_STALL_MS });
    assert.equal(r.status, 'complete');
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload)), 'byte-identical');
    assert.equal(r.sources.wire, f.payload.length, `from the seed: ${JSON.stringify(r.sources)}`);
    assert.deepEqual(f.ranges, [], 'no GET of the bytes');
  }));

test('TorrentTTP-Swarm-Peers: 0 on the torrent: the get streams at once, without a tracker answer; absent, it waits for one (none comes: the seed sends it all)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // No trackers at all: no answer ever comes, so only the header can start the stream.
    const alone = await front(t, join(dir, 'a'), { announceList: [], torrentHeaders: { 'torrenttp-swarm-peers': '0' } });
    const r = await getUrl({ url: alone.url, output: { kind: 'file', path: join(dir, 'a.bin') }, lingerMs: 0, stallMs: TEST_STALL_MS });
    assert.equal(r.status, 'complete');
    assert.ok(Buffer.from(readFileSync(join(dir, 'a.bin'))).equals(Buffer.from(alone.payload)), 'byte-identical');
    assert.deepEqual(alone.ranges, ['bytes=0-'], 'streamed');
    assert.deepEqual(r.sources, { plain: 0, wire: 0, webseed: alone.payload.length, http: 0 });
    assert.deepEqual(alone.joins, ['1'], 'the get said it joins');

    for (const value of [undefined, '1', 'x']) {
      const f = await front(t, join(dir, `n${value ?? ''}`), { announceList: [], ...(value === undefined ? {} : { torrentHeaders: { 'torrenttp-swarm-peers': value } }) });
      const out = join(dir, `n${value ?? ''}.bin`);
      const n = await getUrl({ url: f.url, output: { kind: 'file', path: out }, lingerMs: 0, stallMs: TEST_STALL_MS });
      assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload)), 'byte-identical');
      assert.deepEqual(f.ranges, [], `no stream without a 0 (${String(value)}): LONE_DECIDE_MS passed without an answer`);
      assert.equal(n.sources.wire, f.payload.length);
    }
  }));

test('checkHead takes only the file from the asked offset (from 0: 200 or 206; further: the 206), plainly framed; streamableHeaders refuses CR/LF', () => {
  assert.equal(checkHead('HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nContent-Range: bytes 0-9/10', 10), undefined);
  assert.equal(checkHead('HTTP/1.1 200 OK\r\ncontent-length: 10', 10), undefined);
  assert.match(checkHead('HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nContent-Range: bytes 5-14/20', 10)!, /content-range/);
  assert.match(checkHead('HTTP/1.1 200 OK\r\nContent-Length: 9', 10)!, /content-length 9/);
  assert.match(checkHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked', 10)!, /transfer-encoding/);
  assert.match(checkHead('HTTP/1.1 404 Not Found\r\nContent-Length: 10', 10)!, /status 404/);
  assert.match(checkHead('HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Length: 10', 10)!, /twice/);
  assert.match(checkHead('SSH-2.0', 10)!, /not an HTTP/);
  // From a later piece's start: only the 206 of exactly the rest.
  assert.equal(checkHead('HTTP/1.1 206 Partial Content\r\nContent-Length: 6\r\nContent-Range: bytes 4-9/10', 10, 4), undefined);
  assert.match(checkHead('HTTP/1.1 200 OK\r\nContent-Length: 10', 10, 4)!, /status 200/);
  assert.match(checkHead('HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nContent-Range: bytes 0-9/10', 10, 4)!, /content-length 10/);
  assert.match(checkHead('HTTP/1.1 206 Partial Content\r\nContent-Length: 6\r\nContent-Range: bytes 4-9/11', 10, 4)!, /content-range/);
  assert.match(checkHead('HTTP/1.1 206 Partial Content\r\nContent-Length: 6\r\nContent-Range: bytes 3-8/10', 10, 4)!, /content-range/);
  assert.deepEqual(streamableHeaders({ authorization: 'Bearer x', range: 'bytes=5-' }), { authorization: 'Bearer x' });
  assert.equal(streamableHeaders({ 'x-a': 'b\r\nHost: evil' }), undefined);
});
