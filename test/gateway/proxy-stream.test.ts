/**
 * A cold fetch through the proxy from a lone origin streams it (src/gateway/lone-stream.ts, as a
 * lone get does): ONE `Range: bytes=0-` GET besides the first piece's, every piece verified
 * before the program gets it; a corrupt byte in the stream fails its piece, the stream stops and
 * the origin's seed sends the rest: the program never sees the wrong byte. A cold `Range` past the
 * first piece streams from that piece (`Range: bytes=OFFSET-`), the earlier pieces from the seed after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { until } from '../helpers/processes.js';
import { withTempDir } from '../helpers/torrents.js';
import { front, PIECE } from './lone-front.js';
import { curl, servedBy, startProxy } from './proxy-helpers.js';

/** Ranges the front answered besides the stream's: the cold start's first piece at most. */
function others(ranges: readonly string[]): string[] {
  return ranges.filter((r) => r !== 'bytes=0-' && r !== `bytes=0-${PIECE - 1}`);
}

test('a cold fetch through the proxy from a lone origin streams it in one GET, byte-identical, the seed asked for nothing', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const f = await front(t, dir);
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, f.url, '-o', out, '-w', '%{http_code}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), '200');
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload)), 'byte-identical');
    assert.equal(f.ranges.filter((x) => x === 'bytes=0-').length, 1, `one GET of the whole file: ${JSON.stringify(f.ranges)}`);
    assert.deepEqual(others(f.ranges), [], 'no other byte request');
    const s = proxy.cache.torrent(f.infoHash)!.stats();
    assert.deepEqual({ wire: s.downloadedByKind.wire, webseed: s.downloadedByKind.webseed }, { wire: 0, webseed: f.payload.length }, 'every piece from the stream, verified by the engine');
    await until('the request to be logged', () => servedBy(log).length >= 1, 5000);
    assert.deepEqual(servedBy(log), ['200 swarm']);
  }));

test('a corrupt byte in the proxy\'s stream fails its piece: the seed sends it, the program gets the exact file', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const bad = 5 * PIECE + 1234;
    const f = await front(t, dir, {
      damage: (body, from) => {
        if (bad >= from && bad < from + body.length) body[bad - from] = body[bad - from]! ^ 0xff;
      },
    });
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, f.url, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload)), 'byte-identical: the damaged piece was fetched again');
    assert.equal(f.ranges.filter((x) => x === 'bytes=0-').length, 1, JSON.stringify(f.ranges));
    const s = proxy.cache.torrent(f.infoHash)!.stats();
    assert.ok(s.downloadedByKind.wire >= PIECE, `the seed sent the damaged piece at least: ${JSON.stringify(s.downloadedByKind)}`);
    const warned = log.entries.some((e) => e.level === 'warn' && /piece 5 failed its hash check/.test(JSON.stringify(e.obj)));
    assert.ok(warned, JSON.stringify(log.entries.filter((e) => e.level === 'warn')));
  }));

test('a cold Range within the first piece (curl -r 100-) streams the origin in one GET too, the program\'s bytes exact', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const f = await front(t, dir);
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    const out = join(dir, 'part.bin');
    const from = 100;
    const r = await curl(t, ['-x', proxy.url, '-r', `${from}-`, f.url, '-o', out, '-w', '%{http_code}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), '206');
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload.subarray(from))), 'the range, byte-identical');
    assert.equal(f.ranges.filter((x) => x === 'bytes=0-').length, 1, `one GET of the whole file: ${JSON.stringify(f.ranges)}`);
    assert.deepEqual(others(f.ranges), [], 'no other byte request');
    await until('the whole file in the cache', () => proxy.cache.torrent(f.infoHash)?.complete === true, 30_000);
    const s = proxy.cache.torrent(f.infoHash)!.stats();
    assert.equal(s.downloadedByKind.wire, 0, `every piece from the stream: ${JSON.stringify(s.downloadedByKind)}`);
    await until('the request to be logged', () => servedBy(log).length >= 1, 5000);
    assert.deepEqual(servedBy(log), ['206 swarm']);
  }));

/** A start past the first piece where 100000000 is in a 256 MiB file (a bench's `--range-from`), and the piece it is in. */
const RANGE_FROM = Math.round((4 * 1024 * 1024 * 100_000_000) / 2 ** 28);
const RANGE_PIECE = Math.floor(RANGE_FROM / PIECE);
const RANGE_OFFSET = RANGE_PIECE * PIECE;

test('a cold Range past the first piece streams the origin from that piece in one GET: the exact 206, no wire byte for the range', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const f = await front(t, dir);
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    const out = join(dir, 'part.bin');
    const r = await curl(t, ['-x', proxy.url, '-r', `${RANGE_FROM}-`, f.url, '-o', out, '-w', '%{http_code}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), '206');
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload.subarray(RANGE_FROM))), 'the range, byte-identical');
    const streamed = `bytes=${RANGE_OFFSET}-`;
    assert.equal(f.ranges.filter((x) => x === streamed).length, 1, `one GET from the piece's start: ${JSON.stringify(f.ranges)}`);
    assert.deepEqual(f.ranges.filter((x) => x !== streamed && x !== `bytes=${RANGE_OFFSET}-${RANGE_OFFSET + PIECE - 1}`), [], 'no other byte request');
    // The earlier pieces come from the seed after the stream: the range's pieces from the stream alone.
    await until('the whole file in the cache', () => proxy.cache.torrent(f.infoHash)?.complete === true, 30_000);
    const s = proxy.cache.torrent(f.infoHash)!.stats();
    assert.deepEqual({ wire: s.downloadedByKind.wire, webseed: s.downloadedByKind.webseed }, { wire: RANGE_OFFSET, webseed: f.payload.length - RANGE_OFFSET }, 'the range\'s pieces from the stream, the earlier ones from the seed');
    await until('the request to be logged', () => servedBy(log).length >= 1, 5000);
    assert.deepEqual(servedBy(log), ['206 swarm']);
  }));

test('a corrupt byte in a cold Range\'s stream fails its piece: the seed sends it, the program gets the exact range', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const badPiece = RANGE_PIECE + 5;
    const bad = badPiece * PIECE + 1234;
    const f = await front(t, dir, {
      damage: (body, from) => {
        // The stream's answer only (the first piece's ranged GET ends before it).
        if (bad >= from && bad < from + body.length) body[bad - from] = body[bad - from]! ^ 0xff;
      },
    });
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    const out = join(dir, 'part.bin');
    const r = await curl(t, ['-x', proxy.url, '-r', `${RANGE_FROM}-`, f.url, '-o', out, '-w', '%{http_code}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), '206');
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload.subarray(RANGE_FROM))), 'the range, byte-identical: the damaged piece was fetched again');
    assert.equal(f.ranges.filter((x) => x === `bytes=${RANGE_OFFSET}-`).length, 1, JSON.stringify(f.ranges));
    const warned = log.entries.some((e) => e.level === 'warn' && new RegExp(`piece ${badPiece} failed its hash check`).test(JSON.stringify(e.obj)));
    assert.ok(warned, JSON.stringify(log.entries.filter((e) => e.level === 'warn')));
  }));

test('TorrentTTP-Swarm-Peers: 0 to the proxy\'s TorrentTTP-Join: its cold fetch streams at once, without a tracker answer; absent or not 0, it waits for one (none comes: the seed sends it all)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // No trackers at all: no answer ever comes, so only the header can start the stream.
    const alone = await front(t, join(dir, 'a'), { announceList: [], torrentHeaders: { 'torrenttp-swarm-peers': '0' } });
    const { proxy } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    const out = join(dir, 'a.bin');
    // A program's own TorrentTTP-Join does not change what the proxy says.
    const r = await curl(t, ['-x', proxy.url, '-H', 'TorrentTTP-Join: 7', alone.url, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(alone.payload)), 'byte-identical');
    assert.deepEqual(alone.joins, ['1'], 'the proxy said it joins');
    assert.equal(alone.ranges.filter((x) => x === 'bytes=0-').length, 1, `streamed: ${JSON.stringify(alone.ranges)}`);
    const s = proxy.cache.torrent(alone.infoHash)!.stats();
    assert.deepEqual({ wire: s.downloadedByKind.wire, webseed: s.downloadedByKind.webseed }, { wire: 0, webseed: alone.payload.length }, 'every piece from the stream');

    for (const value of [undefined, '1']) {
      const f = await front(t, join(dir, `n${value ?? ''}`), { announceList: [], ...(value === undefined ? {} : { torrentHeaders: { 'torrenttp-swarm-peers': value } }) });
      const o = join(dir, `n${value ?? ''}.bin`);
      // A proxy of its own: the file (the same bytes, the same torrent) is not in its cache.
      const fresh = await startProxy(t, { cacheDir: join(dir, `pcache-n${value ?? ''}`) });
      const n = await curl(t, ['-x', fresh.proxy.url, f.url, '-o', o]);
      assert.equal(n.code, 0, n.stderr);
      assert.ok(Buffer.from(readFileSync(o)).equals(Buffer.from(f.payload)), 'byte-identical');
      assert.deepEqual(others(f.ranges), [], `no stream without a 0 (${String(value)}): LONE_DECIDE_MS passed without an answer: ${JSON.stringify(f.ranges)}`);
      assert.ok(!f.ranges.includes('bytes=0-'), JSON.stringify(f.ranges));
    }
  }));

test('a request that may be answered without its body (a precondition) does not say it joins: serve would hold a lone answer for it', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const f = await front(t, dir, { announceList: [], torrentHeaders: { 'torrenttp-swarm-peers': '0' } });
    const { proxy } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    const r = await curl(t, ['-x', proxy.url, '-H', 'If-None-Match: "other"', f.url, '-o', join(dir, 'out.bin'), '-w', '%{http_code}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), '200');
    assert.deepEqual(f.joins, [''], 'no TorrentTTP-Join');
  }));
