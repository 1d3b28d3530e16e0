/**
 * Where the proxy's headers come from on a cold fetch: the origin's answer to the first piece's
 * ranged GET (its `206`: `Content-Range` for the length, `Content-Type`, `ETag`, `Last-Modified`),
 * not a `HEAD` of its own; a `HEAD` only when that answer lacks a validator. A piece that fails
 * its hash check means the file is not the torrent's: the program gets the origin's answer, never
 * one file's headers with another's bytes. Origins here log every request they get.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FILE_ETAG_HEADER, FILE_LAST_MODIFIED_HEADER, FILE_TYPE_HEADER } from '../../src/gateway/media-type.js';
import type { Proxy } from '../../src/gateway/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { bytes, piecesOf, torrentBytes, withTempDir } from '../helpers/torrents.js';
import { until } from '../helpers/processes.js';
import { curl, servedBy, startProxy } from './proxy-helpers.js';

const PIECE = 256 * 1024;
const LAST_MODIFIED = 'Tue, 01 Dec 2026 10:00:00 GMT';

interface OriginOptions {
  /** The bytes at the URL. */
  readonly payload: Uint8Array;
  /** The bytes the torrent describes; default the payload. */
  readonly described?: Uint8Array;
  readonly etag?: string;
  /** Whether a 206 carries `Last-Modified` (its `ETag` it always has). */
  readonly rangeLastModified?: boolean;
  /** `HEAD` refused with `405` (default), so that a proxy needing one fails; else answered as the `200`. */
  readonly refuseHead?: boolean;
  /** `link`: the bytes for every GET of the URL, with `Link: <?torrent>; rel=describedby` (RFC 6249), the torrent at `?torrent`. Default `accept`. */
  readonly offer?: 'accept' | 'link';
  /** A 206's `ETag`, when not the 200's (the file changed between the two). */
  readonly rangeEtag?: string;
  /** A 206's complete length in `Content-Range`, when not the payload's (the file grew). */
  readonly rangeTotal?: number;
  /** A 206 sends its head and half its body, then the rest once this settles. */
  readonly hold?: Promise<void>;
  /** A 206 sends nothing, head included, until this settles. */
  readonly holdPiece?: Promise<void>;
  /** The torrent's answer announces the bytes' head as serve does (`TorrentTTP-File-*`), with this `ETag`. */
  readonly announce?: string;
}

/**
 * A torrent-offering origin that runs no swarm: the torrent for `Accept: application/x-bittorrent`,
 * the bytes otherwise (`206` for one `bytes=a-b` range). `log` has each request: `GET torrent`, `GET a-b`, `GET`, `HEAD`.
 */
async function origin(t: TestContext, o: OriginOptions): Promise<{ url: string; log: string[]; torrent: Uint8Array; piecesAnswered: () => number }> {
  const described = o.described ?? o.payload;
  const torrent = torrentBytes({ name: 'f.mp4', 'piece length': PIECE, length: described.length, pieces: piecesOf(described, PIECE) });
  const etag = o.etag ?? '"v1"';
  const log: string[] = [];
  let piecesAnswered = 0;
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const torrentWanted = o.offer === 'link' ? (req.url ?? '').endsWith('?torrent') : (req.headers.accept ?? '').startsWith('application/x-bittorrent');
    log.push(`${req.method} ${torrentWanted ? 'torrent' : range === null ? '' : `${range[1]}-${range[2]}`}`.trim());
    if (req.method === 'HEAD' && o.refuseHead !== false) {
      res.writeHead(405, { allow: 'GET', 'content-length': 0 });
      res.end();
      return;
    }
    if (torrentWanted) {
      const announced = o.announce === undefined ? {} : { [FILE_TYPE_HEADER]: 'video/mp4', [FILE_ETAG_HEADER]: o.announce, [FILE_LAST_MODIFIED_HEADER]: LAST_MODIFIED };
      res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'content-length': torrent.length, ...announced });
      res.end(torrent);
      return;
    }
    const validators = { etag, 'last-modified': LAST_MODIFIED, ...(o.offer === 'link' ? { link: '</f.mp4?torrent>; rel="describedby"; type="application/x-bittorrent"' } : {}) };
    if (range !== null) {
      const start = Number(range[1]);
      const end = Math.min(Number(range[2]), o.payload.length - 1);
      if (o.holdPiece !== undefined) await o.holdPiece;
      piecesAnswered++;
      res.writeHead(206, {
        'content-type': 'video/mp4',
        'content-range': `bytes ${start}-${end}/${o.rangeTotal ?? o.payload.length}`,
        'content-length': end - start + 1,
        etag: o.rangeEtag ?? etag,
        ...(o.rangeLastModified === false ? {} : { 'last-modified': LAST_MODIFIED }),
      });
      const body = Buffer.from(o.payload.subarray(start, end + 1));
      if (o.hold === undefined) {
        res.end(body);
        return;
      }
      const half = body.length >> 1;
      res.write(body.subarray(0, half));
      void o.hold.then(() => res.end(body.subarray(half)));
      return;
    }
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': o.payload.length, ...validators });
    res.end(req.method === 'HEAD' ? undefined : o.payload);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/f.mp4`, log, torrent, piecesAnswered: () => piecesAnswered };
}

/**
 * `curl -D -` of `url` through a fresh proxy whose swarm never stalls into the origin within a
 * test (so only the first piece or the swarm can answer): curl's exit checked, the body and the
 * head's fields returned.
 */
async function fetchThrough(t: TestContext, dir: string, url: string): Promise<{ body: Buffer; headText: string; h: Map<string, string> } & Awaited<ReturnType<typeof startProxy>>> {
  const started = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 600_000 });
  const out = join(dir, 'out.bin');
  const r = await curl(t, ['-x', started.proxy.url, url, '-o', out, '-D', '-', '--max-time', '30']);
  assert.equal(r.code, 0, r.stderr);
  const headText = r.stdout.toString();
  return { ...started, body: readFileSync(out), headText, h: fields(headText) };
}

/** The program's GET of `url` through `proxy`, by hand: resolves at the response's head (an event of its own), the body read after. */
function getThrough(proxy: Proxy, url: string): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest({ host: proxy.address.host, port: proxy.address.port, path: url, headers: { host: new URL(url).host } }, resolve);
    req.on('error', reject);
    req.end();
  });
}

/** A file (`old`, what the torrent describes) and the same file changed in its first piece (`now`, at the URL): the same length. */
function changedFirstPiece(seed: number): { old: Uint8Array; now: Buffer } {
  const old = bytes(2 * PIECE + 5, seed);
  const now = Buffer.from(old);
  now[10] = now[10]! ^ 0xff;
  return { old, now };
}

/** A response head's fields, lower-case names. */
function fields(head: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
  }
  return m;
}

test('a cold fetch asks the origin for the torrent and the first piece only, no HEAD: its headers are the origin\'s, from the piece\'s 206', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(200_000, 61); // one piece: the first piece is the whole body
    const o = await origin(t, { payload });
    const { proxy, log, body, headText, h } = await fetchThrough(t, dir, o.url);
    assert.ok(body.equals(Buffer.from(payload)), 'byte-identical');
    assert.match(headText, /^HTTP\/1\.1 200/);
    assert.equal(h.get('content-length'), String(payload.length));
    assert.equal(h.get('content-type'), 'video/mp4');
    assert.equal(h.get('etag'), '"v1"');
    assert.equal(h.get('last-modified'), LAST_MODIFIED);
    assert.deepEqual(o.log, ['GET torrent', `GET 0-${payload.length - 1}`], 'the torrent and the piece: no HEAD, no plain GET');

    // The program's HEAD and conditional GET: answered as the origin would, from those facts.
    const head = await curl(t, ['-x', proxy.url, '-I', o.url]);
    const hh = fields(head.stdout.toString());
    assert.match(head.stdout.toString(), /^HTTP\/1\.1 200/);
    for (const name of ['content-length', 'content-type', 'etag', 'last-modified']) assert.equal(hh.get(name), h.get(name), name);
    const cond = await curl(t, ['-x', proxy.url, '-H', 'If-None-Match: "v1"', o.url, '-o', '/dev/null', '-w', '%{http_code}']);
    assert.equal(cond.stdout.toString(), '304');
    const since = await curl(t, ['-x', proxy.url, '-H', `If-Modified-Since: ${LAST_MODIFIED}`, o.url, '-o', '/dev/null', '-w', '%{http_code}']);
    assert.equal(since.stdout.toString(), '304');
    assert.equal(o.log.length, 2, 'nothing more asked of the origin');
    await until('every request to be logged', () => servedBy(log).length >= 4, 5000);
    assert.deepEqual(servedBy(log), ['200 swarm', '200 cache', '304 cache', '304 cache']);
  }));

test('a cold Range: the length is the 206\'s complete length, and the answer an exact 206 of the origin\'s file', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(3 * PIECE + 1234, 62);
    const o = await origin(t, { payload });
    const { proxy } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 600_000 });
    const part = join(dir, 'part.bin');
    const first = 2 * PIECE + 7;
    const last = 2 * PIECE + 4000;
    const r = await curl(t, ['-x', proxy.url, '-r', `${first}-${last}`, o.url, '-o', part, '-D', '-', '--max-time', '30']);
    assert.equal(r.code, 0, r.stderr);
    const h = fields(r.stdout.toString());
    assert.match(r.stdout.toString(), /^HTTP\/1\.1 206/);
    assert.equal(h.get('content-range'), `bytes ${first}-${last}/${payload.length}`);
    assert.equal(h.get('etag'), '"v1"');
    assert.equal(h.get('content-type'), 'video/mp4');
    assert.ok(readFileSync(part).equals(Buffer.from(payload.subarray(first, last + 1))), 'the range, byte-identical');
    assert.deepEqual(o.log, ['GET torrent', `GET ${2 * PIECE}-${3 * PIECE - 1}`]);
  }));

test('a 206 without Last-Modified (RFC 9110 does not require it): the facts come from a HEAD, and the program gets the 200\'s Last-Modified', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(200_000, 63);
    const o = await origin(t, { payload, rangeLastModified: false, refuseHead: false });
    const { log, body, h } = await fetchThrough(t, dir, o.url);
    assert.ok(body.equals(Buffer.from(payload)), 'byte-identical');
    assert.deepEqual(o.log, ['GET torrent', `GET 0-${payload.length - 1}`, 'HEAD']);
    assert.equal(h.get('last-modified'), LAST_MODIFIED);
    await until('the request to be logged', () => servedBy(log).length >= 1, 5000);
    assert.deepEqual(servedBy(log), ['200 swarm'], 'the piece from memory all the same');
  }));

test('the file changed between the torrent and the piece: the piece fails its hash check after the headers (the 206\'s) went out, and the body comes from the origin (same length and ETag), never old bytes under new headers', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { old, now } = changedFirstPiece(64);
    const o = await origin(t, { payload: now, described: old, etag: '"v2"' });
    const { proxy, log, body, h } = await fetchThrough(t, dir, o.url);
    assert.ok(body.equals(now), 'the bytes at the URL now');
    assert.equal(h.get('etag'), '"v2"');
    assert.deepEqual(o.log, ['GET torrent', `GET 0-${PIECE - 1}`, 'GET']);
    await until('the request to be logged', () => servedBy(log).length >= 1, 5000);
    assert.deepEqual(servedBy(log), ['200 passthrough']);
    assert.ok(log.entries.some((e) => String((e.obj as { why?: string }).why).includes('not the torrent')), 'the reason is logged');
    await until('the prepared torrent removed', () => proxy.cache.usage().torrents === 0, 40_000);
    // Its removal ends before close does: run after, its storage's last resume save made its
    // folder again once the test had removed its own (an empty `pcache` left in /tmp).
    await proxy.close();
    assert.deepEqual(readdirSync(join(dir, 'pcache')), [], 'the torrent and its folder are gone when close resolves');
  }));

test('a cold fetch\'s headers go out as soon as the first piece\'s 206 head is in, before its body is: the piece then follows from memory', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(200_000, 68);
    let release!: () => void;
    const o = await origin(t, { payload, hold: new Promise<void>((r) => (release = r)) });
    t.after(() => release());
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 600_000 });
    const answered = getThrough(proxy, o.url);
    // The origin sends the second half of the piece only after release(), below: the head came first.
    const res = await answered;
    assert.deepEqual(o.log.slice(0, 2), ['GET torrent', `GET 0-${payload.length - 1}`]);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(payload.length));
    assert.equal(res.headers.etag, '"v1"');
    assert.equal(res.headers['content-type'], 'video/mp4');
    release();
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(Buffer.from(payload)), 'byte-identical');
    await until('the request to be logged', () => servedBy(log).length >= 1, 5000);
    assert.deepEqual(servedBy(log), ['200 swarm']);
  }));

test('a lying origin (the first piece fails its hash check after the headers went out, and its plain answer is of another ETag): the response is cut short with no byte of the body, curl exits 18', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { old, now } = changedFirstPiece(69);
    // The 206 names "v2", the 200 "v1": the origin's body cannot be matched to the headers sent.
    const o = await origin(t, { payload: now, described: old, rangeEtag: '"v2"' });
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 600_000 });
    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, o.url, '-o', out, '-D', '-', '--max-time', '30']);
    assert.equal(r.code, 18, `curl sees a partial transfer: ${r.stderr}`);
    const h = fields(r.stdout.toString());
    assert.equal(h.get('content-length'), String(now.length), 'the headers went out');
    assert.equal(h.get('etag'), '"v2"');
    assert.ok(!existsSync(out) || readFileSync(out).length === 0, 'never a byte of either file under those headers');
    assert.deepEqual(o.log, ['GET torrent', `GET 0-${PIECE - 1}`, 'GET']);
    await until('the request to be logged', () => servedBy(log).length >= 1, 5000);
    assert.deepEqual(servedBy(log), ['200 passthrough']);
    assert.equal((log.entries.find((e) => 'how' in e.obj)!.obj as { cut?: string }).cut, 'origin');
    await until('the prepared torrent removed', () => proxy.cache.usage().torrents === 0, 40_000);
    // The URL is remembered as plain: the next GET is the origin's own answer.
    const again = await curl(t, ['-x', proxy.url, o.url, '-o', out, '--max-time', '30']);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(readFileSync(out).equals(now), 'the bytes at the URL');
  }));

test('a torrent held from an earlier run: a HEAD confirms the offer, and once it opens with no byte in, its first piece comes from the origin (one ranged GET)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(200_000, 65);
    const o = await origin(t, { payload, refuseHead: false });
    // The folder an earlier run left (nothing verified in it): the cache holds the torrent.
    mkdirSync(join(dir, 'pcache', parseTorrent(o.torrent).infoHash), { recursive: true });
    const { proxy } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 600_000 });
    const out = join(dir, 'out.bin');
    // Nobody in the swarm and no stall fallback within the test: only the first piece can answer.
    const r = await curl(t, ['-x', proxy.url, o.url, '-o', out, '--max-time', '30']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(out).equals(Buffer.from(payload)), 'byte-identical');
    assert.deepEqual(o.log, ['GET torrent', 'HEAD', `GET 0-${payload.length - 1}`]);
  }));

test('an origin that offers its torrent by Link: the headers are the bytes\' answer\'s (no HEAD), and the first piece, asked beside the torrent\'s open, goes out from memory', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(200_000, 66);
    const o = await origin(t, { payload, offer: 'link' });
    const { log, body, h } = await fetchThrough(t, dir, o.url);
    assert.ok(body.equals(Buffer.from(payload)), 'byte-identical');
    assert.equal(h.get('content-length'), String(payload.length));
    assert.equal(h.get('content-type'), 'video/mp4');
    assert.equal(h.get('etag'), '"v1"');
    assert.equal(h.get('last-modified'), LAST_MODIFIED);
    assert.deepEqual(o.log, ['GET', 'GET torrent', `GET 0-${payload.length - 1}`]);
    await until('the request to be logged', () => servedBy(log).length >= 1, 5000);
    assert.deepEqual(servedBy(log), ['200 swarm']);
  }));

test('an origin that offers its torrent by Link and whose file changed before the first piece (another ETag): the bytes\' answer passes through', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(200_000, 67);
    const o = await origin(t, { payload, offer: 'link', rangeEtag: '"v2"' });
    const { proxy, log, body, h } = await fetchThrough(t, dir, o.url);
    assert.ok(body.equals(Buffer.from(payload)), 'byte-identical');
    assert.equal(h.get('etag'), '"v1"', 'the answer the program\'s own GET got');
    assert.deepEqual(o.log, ['GET', 'GET torrent', `GET 0-${payload.length - 1}`], 'the bytes\' answer reused: no second GET');
    await until('the request to be logged', () => servedBy(log).length >= 1, 5000);
    assert.deepEqual(servedBy(log), ['200 passthrough']);
    await until('the prepared torrent removed', () => proxy.cache.usage().torrents === 0, 40_000);
  }));

/** `curl -x` of `url` with extra arguments: the status code and the head's fields. */
async function statusThrough(t: TestContext, proxyUrl: string, url: string, args: readonly string[]): Promise<{ code: string; h: Map<string, string>; body: Buffer }> {
  const r = await curl(t, ['-x', proxyUrl, ...args, url, '-D', '-', '-o', '/dev/null', '-w', '\n%{http_code}', '--max-time', '30']);
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout.toString();
  const nl = text.lastIndexOf('\n');
  return { code: text.slice(nl + 1), h: fields(text.slice(0, nl)), body: r.stdout };
}

test('a cold conditional GET or an unsatisfiable Range is answered from the origin\'s HEAD as the origin would (304, 412, 416): no byte of the file asked, no torrent opened', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(3 * PIECE + 99, 70);
    const o = await origin(t, { payload, refuseHead: false });
    const cases: [string, readonly string[], string][] = [
      ['If-None-Match', ['-H', 'If-None-Match: "v1"'], '304'],
      ['If-Modified-Since', ['-H', `If-Modified-Since: ${LAST_MODIFIED}`], '304'],
      ['If-Match', ['-H', 'If-Match: "v0"'], '412'],
      ['If-Unmodified-Since', ['-H', 'If-Unmodified-Since: Mon, 30 Nov 2026 10:00:00 GMT'], '412'],
      ['Range past the end', ['-r', `${payload.length}-`], '416'],
    ];
    for (const [name, args, want] of cases) {
      // A fresh proxy each: every request is a cold one.
      const { proxy, log } = await startProxy(t, { cacheDir: join(dir, `pcache-${want}-${name.length}`), stallMs: 600_000 });
      o.log.length = 0;
      const r = await statusThrough(t, proxy.url, o.url, args);
      assert.equal(r.code, want, name);
      if (want === '304') assert.equal(r.h.get('etag'), '"v1"', `${name}: the 304 names the ETag`);
      if (want === '416') assert.equal(r.h.get('content-range'), `bytes */${payload.length}`);
      assert.deepEqual(o.log, ['GET torrent', 'HEAD'], `${name}: the torrent and a HEAD, never a byte of the file`);
      assert.equal(proxy.cache.usage().torrents, 0, `${name}: no torrent opened`);
      await until('the request to be logged', () => servedBy(log).length >= 1, 5000);
      assert.deepEqual(servedBy(log), [`${want} cache`]);
      await proxy.close();
    }
  }));

test('a cold conditional GET that holds (If-None-Match of another version) gets the file: prepared once the HEAD says so, its first piece from the origin', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(200_000, 71); // one piece: nobody but the first piece's GET can answer
    const o = await origin(t, { payload, refuseHead: false });
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 600_000 });
    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, '-H', 'If-None-Match: "v0"', o.url, '-o', out, '--max-time', '30', '-w', '%{http_code}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), '200');
    assert.ok(readFileSync(out).equals(Buffer.from(payload)), 'byte-identical');
    assert.deepEqual(o.log, ['GET torrent', 'HEAD', `GET 0-${payload.length - 1}`]);
    await until('the request to be logged', () => servedBy(log).length >= 1, 5000);
    assert.deepEqual(servedBy(log), ['200 swarm']);
  }));

test('a cold Range from past the first piece starts at once: the piece under its start comes from the origin\'s answer in memory, before any other piece is there', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(6 * PIECE + 77, 72);
    const o = await origin(t, { payload });
    // No swarm and no stall fallback within the test: only the piece under the start can come.
    const { proxy } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 600_000 });
    const from = 3 * PIECE + 1000;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest({ host: proxy.address.host, port: proxy.address.port, path: o.url, headers: { host: new URL(o.url).host, range: `bytes=${from}-` } }, resolve);
      req.on('error', reject);
      req.end();
    });
    t.after(() => res.destroy());
    assert.equal(res.statusCode, 206);
    assert.equal(res.headers['content-range'], `bytes ${from}-${payload.length - 1}/${payload.length}`);
    const want = 4 * PIECE - from; // the rest of piece 3
    const got: Buffer[] = [];
    let n = 0;
    for await (const c of res) {
      got.push(c as Buffer);
      n += (c as Buffer).length;
      if (n >= want) break;
    }
    assert.equal(n, want, 'exactly the rest of the piece under the start, nothing past it');
    assert.ok(Buffer.concat(got).equals(Buffer.from(payload.subarray(from, from + want))), 'its bytes, exact');
    assert.deepEqual(o.log, ['GET torrent', `GET ${3 * PIECE}-${4 * PIECE - 1}`], 'the torrent and that piece: nothing before the range');
  }));

test('an origin that announces the bytes\' head with its torrent (TorrentTTP-File-*, as serve does): a plain GET\'s head goes out before the origin has answered the first piece, the body once it has', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(200_000, 73);
    let release!: () => void;
    const o = await origin(t, { payload, announce: '"v1"', holdPiece: new Promise<void>((r) => (release = r)) });
    t.after(() => release());
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 600_000 });
    const answered = getThrough(proxy, o.url);
    // The piece is held until release(): only the torrent's answer can have made this head.
    let bound: NodeJS.Timeout | undefined;
    const res = await Promise.race([answered, new Promise<never>((_, reject) => (bound = setTimeout(() => reject(new Error('no head while the first piece is held')), 20_000)))]);
    clearTimeout(bound);
    t.after(() => res.destroy());
    assert.equal(o.piecesAnswered(), 0, 'the origin has not answered the piece');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(payload.length));
    assert.equal(res.headers['content-type'], 'video/mp4');
    assert.equal(res.headers.etag, '"v1"');
    assert.equal(res.headers['last-modified'], LAST_MODIFIED);
    release();
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(Buffer.from(payload)), 'byte-identical');
    assert.deepEqual(o.log, ['GET torrent', `GET 0-${payload.length - 1}`], 'no HEAD');
    await until('the request to be logged', () => servedBy(log).length >= 1, 5000);
    assert.deepEqual(servedBy(log), ['200 swarm']);
  }));

test('the file changed after its torrent announced its head (the first piece\'s 206 has another ETag): the response is cut short with no byte of the body, and the next GET negotiates afresh', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // The piece's bytes are the torrent's (its hash check passes): only its ETag says the file changed.
    const payload = bytes(2 * PIECE + 5, 74);
    const o = await origin(t, { payload, announce: '"v1"', etag: '"v2"' });
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 600_000 });
    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, o.url, '-o', out, '-D', '-', '--max-time', '30']);
    assert.equal(r.code, 18, `curl sees a partial transfer: ${r.stderr}`);
    const h = fields(r.stdout.toString());
    assert.equal(h.get('etag'), '"v1"', 'the head announced');
    assert.equal(h.get('content-length'), String(payload.length));
    assert.ok(!existsSync(out) || readFileSync(out).length === 0, 'no byte under a head of another version');
    assert.deepEqual(o.log, ['GET torrent', `GET 0-${PIECE - 1}`]);
    await until('the request to be logged', () => servedBy(log).length >= 1, 5000);
    assert.equal((log.entries.find((e) => 'how' in e.obj)!.obj as { cut?: string }).cut, 'changed');
    await until('the prepared torrent removed', () => proxy.cache.usage().torrents === 0, 40_000);
    assert.equal(proxy.cache.fresh(o.url), undefined, 'the URL forgotten');
  }));

test('the file grew after its torrent announced its head (the same ETag, but the first piece\'s 206 names another complete length): cut short with no byte of the body', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(2 * PIECE + 5, 75);
    const o = await origin(t, { payload, announce: '"v1"', etag: '"v1"', rangeTotal: payload.length + PIECE });
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 600_000 });
    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, o.url, '-o', out, '-D', '-', '--max-time', '30']);
    assert.equal(r.code, 18, `curl sees a partial transfer: ${r.stderr}`);
    assert.equal(fields(r.stdout.toString()).get('content-length'), String(payload.length), 'the head announced');
    assert.ok(!existsSync(out) || readFileSync(out).length === 0, 'no byte under a head of another length');
    await until('the request to be logged', () => servedBy(log).length >= 1, 5000);
    assert.equal((log.entries.find((e) => 'how' in e.obj)!.obj as { cut?: string }).cut, 'changed');
    await until('the prepared torrent removed', () => proxy.cache.usage().torrents === 0, 40_000);
  }));

test('a Range or a conditional GET from an origin that announces the head: the facts still come from the piece\'s 206 or a HEAD, as before', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(3 * PIECE + 1234, 75);
    const o = await origin(t, { payload, announce: '"v0"', refuseHead: false });
    const { proxy } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 600_000 });
    const r = await statusThrough(t, proxy.url, o.url, ['-r', `${PIECE}-${PIECE + 10}`]);
    assert.equal(r.code, '206');
    assert.equal(r.h.get('etag'), '"v1"', 'the 206\'s own ETag, not the announced one');
    assert.deepEqual(o.log, ['GET torrent', `GET ${PIECE}-${2 * PIECE - 1}`]);
  }));
