/**
 * The TorrentTTP peer server (docs/torrenttp.md §3–§9, §13) as a client sees it over real HTTP:
 * a Client seeding the spec's `demo` torrent with `httpServer: ttpServer(…)` and no wire port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decode } from '../../src/bencode/index.js';
import { fromBase64, infoHashOf, parseTorrent } from '../../src/metainfo/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { demoTorrent, get, ttpSeed } from './ttp-helpers.js';

const sha1 = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');

test('metainfo: JSON by default, the .torrent by Accept, with Vary and Content-Location; the format URLs fix the form', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { metainfo, torrent } = await demoTorrent(dir);
    const s = await ttpSeed(t, torrent, dir);
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/ttp\/v1\/torrents\/[0-9a-f]{40}$/);

    for (const accept of [undefined, '*/*', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'application/x-bittorrent, application/vnd.torrenttp.metainfo+json']) {
      const r = await get(s.url, accept === undefined ? {} : { accept });
      assert.equal(r.status, 200, String(accept));
      assert.equal(r.h('content-type'), 'application/vnd.torrenttp.metainfo+json');
      assert.equal(r.h('vary'), 'Accept');
      assert.equal(r.h('content-location'), `/ttp/v1/torrents/${metainfo.infoHash}/metainfo.json`);
      assert.equal(r.h('access-control-allow-origin'), '*');
      assert.equal(r.h('cache-control'), 'no-cache');
      assert.equal(Number(r.h('content-length')), r.body.length);
      assert.equal(r.json()['infoHash'], metainfo.infoHash);
    }
    const bt = await get(s.url, { accept: 'application/x-bittorrent' });
    assert.equal(bt.status, 200);
    assert.equal(bt.h('content-type'), 'application/x-bittorrent');
    assert.equal(bt.h('content-location'), `/ttp/v1/torrents/${metainfo.infoHash}/metainfo.torrent`);
    assert.equal(parseTorrent(bt.body).infoHash, metainfo.infoHash);
    assert.equal(infoHashOf(parseTorrent(bt.body).infoBytes), metainfo.infoHash);

    const fixed = await get(`${s.url}/metainfo.torrent`, { accept: 'application/vnd.torrenttp.metainfo+json' });
    assert.equal(fixed.h('content-type'), 'application/x-bittorrent');
    assert.equal(fixed.h('vary'), undefined);
    assert.equal(fixed.h('content-location'), undefined);
    assert.ok(decode(fixed.body));
    const json = await get(`${s.url}/metainfo.json`, { accept: 'application/x-bittorrent' });
    assert.equal(json.h('content-type'), 'application/vnd.torrenttp.metainfo+json');
    const head = await get(`${s.url}/metainfo.json`, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(Number(head.h('content-length')), json.body.length);
  }),
);

test('metainfo: a strong ETag per form ("json-"/"bt-" + info-hash, as serve sends), 304 to If-None-Match with Vary/Content-Location/CORS, 412 to a failed If-Match', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { metainfo, torrent } = await demoTorrent(dir);
    const s = await ttpSeed(t, torrent, dir);
    const jsonTag = `"json-${metainfo.infoHash}"`;
    const btTag = `"bt-${metainfo.infoHash}"`;
    assert.equal((await get(s.url)).h('etag'), jsonTag);
    assert.equal((await get(s.url, { accept: 'application/x-bittorrent' })).h('etag'), btTag);
    assert.equal((await get(`${s.url}/metainfo.json`)).h('etag'), jsonTag);
    assert.equal((await get(`${s.url}/metainfo.torrent`)).h('etag'), btTag);

    const nm = await get(s.url, { 'if-none-match': jsonTag });
    assert.equal(nm.status, 304);
    assert.equal(nm.body.length, 0);
    assert.equal(nm.h('etag'), jsonTag);
    assert.equal(nm.h('vary'), 'Accept');
    assert.equal(nm.h('content-location'), `/ttp/v1/torrents/${metainfo.infoHash}/metainfo.json`);
    assert.equal(nm.h('access-control-allow-origin'), '*');
    assert.equal(nm.h('cache-control'), 'no-cache');
    // The other form's tag does not match: the .torrent is sent.
    const other = await get(s.url, { accept: 'application/x-bittorrent', 'if-none-match': jsonTag });
    assert.equal(other.status, 200);
    assert.equal(parseTorrent(other.body).infoHash, metainfo.infoHash);
    assert.equal((await get(`${s.url}/metainfo.torrent`, { 'if-none-match': `W/${btTag}, "x"` })).status, 304);
    assert.equal((await get(`${s.url}/metainfo.torrent`, { 'if-none-match': '*' }, 'HEAD')).status, 304);

    const failed = await get(s.url, { 'if-match': '"nope"' });
    assert.equal(failed.status, 412);
    assert.equal(failed.json()['code'], 'GATEWAY_PRECONDITION_FAILED');
    assert.equal(failed.h('access-control-allow-origin'), '*');
    assert.equal((await get(s.url, { 'if-match': jsonTag })).status, 200);
  }),
);

test('have-set: full document with a cursor ETag, 304 to If-None-Match, long-poll ends in 304 or an empty delta', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { metainfo, torrent } = await demoTorrent(dir);
    const s = await ttpSeed(t, torrent, dir);
    const r = await get(`${s.url}/have`);
    assert.equal(r.status, 200);
    assert.equal(r.h('content-type'), 'application/vnd.torrenttp.have+json');
    const doc = r.json();
    assert.deepEqual(Object.keys(doc).sort(), ['cursor', 'have', 'infoHash', 'pieceCount', 'version']);
    assert.equal(doc['pieceCount'], 3);
    assert.equal(doc['infoHash'], metainfo.infoHash);
    assert.deepEqual([...fromBase64(doc['have'] as string)!], [0xe0], 'pieces 0, 1 and 2; spare bits zero');
    assert.equal(r.h('etag'), `"${doc['cursor'] as string}"`);
    assert.equal(r.h('access-control-allow-origin'), '*');

    const nm = await get(`${s.url}/have`, { 'if-none-match': r.h('etag')! });
    assert.equal(nm.status, 304);
    assert.equal(nm.h('etag'), r.h('etag'));
    assert.equal(nm.body.length, 0);

    const started = Date.now();
    const held = await get(`${s.url}/have?wait=1`, { 'if-none-match': r.h('etag')! });
    assert.equal(held.status, 304);
    assert.ok(Date.now() - started >= 900, 'held for the wait');

    const delta = await get(`${s.url}/have?since=${doc['cursor'] as string}&wait=1`);
    assert.equal(delta.status, 200);
    assert.deepEqual(delta.json()['added'], [], 'an empty delta is a delta');
    assert.equal(delta.json()['since'], doc['cursor']);

    const other = await get(`${s.url}/have?since=nope.3`);
    assert.ok(typeof other.json()['have'] === 'string', 'an unknown cursor gets the full document');
    // Any run of digits is a wait, clamped to 60 s, never refused: the long one is answered at once here (the set is not current).
    for (const wait of ['1234567', '9'.repeat(900)]) {
      const long = await get(`${s.url}/have?since=nope.3&wait=${wait}`);
      assert.equal(long.status, 200, `wait of ${wait.length} digits`);
      assert.ok(typeof long.json()['have'] === 'string');
    }
    for (const q of ['wait=x', 'wait=1&wait=2', 'wait=+1', 'wait=1e3', 'wait=-0', 'since=a%20b', 'since=']) {
      const bad = await get(`${s.url}/have?${q}`);
      assert.equal(bad.status, 400, q);
      assert.equal(bad.json()['code'], 'TTP_BAD_QUERY');
    }
    assert.equal((await get(`${s.url}/have?future=1`)).status, 200, 'unknown parameters are ignored');
  }),
);

test('pieces: 200 whole, 206 ranges, 304, 416 with Content-Range, 404s, 400s, HEAD, CORS and preflight', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { metainfo, torrent, content } = await demoTorrent(dir);
    const s = await ttpSeed(t, torrent, dir);
    const hashOf = (i: number): string => Buffer.from(metainfo.pieceHashes.subarray(i * 20, i * 20 + 20)).toString('hex');

    for (let i = 0; i < 3; i++) {
      const r = await get(`${s.url}/pieces/${i}`);
      assert.equal(r.status, 200);
      assert.equal(sha1(r.body), hashOf(i));
      assert.deepEqual(r.body, content.subarray(i * 16384, i * 16384 + metainfo.geometry.pieceLengthOf(i)));
      assert.equal(r.h('etag'), `"sha1-${hashOf(i)}"`);
      assert.equal(r.h('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(r.h('accept-ranges'), 'bytes');
      assert.equal(r.h('content-type'), 'application/octet-stream');
      assert.equal(r.h('vary'), undefined);
    }
    const part = await get(`${s.url}/pieces/2`, { range: 'bytes=4096-7333' });
    assert.equal(part.status, 206);
    assert.equal(part.h('content-range'), 'bytes 4096-7333/7334');
    assert.equal(part.h('content-length'), '3238');
    assert.deepEqual(part.body, content.subarray(32768 + 4096, 32768 + 7334));
    const clamped = await get(`${s.url}/pieces/2`, { range: 'bytes=7000-99999999' });
    assert.equal(clamped.h('content-range'), 'bytes 7000-7333/7334');
    const suffix = await get(`${s.url}/pieces/0`, { range: 'bytes=-10' });
    assert.equal(suffix.h('content-range'), 'bytes 16374-16383/16384');
    assert.equal((await get(`${s.url}/pieces/0`, { range: 'items=0-5' })).status, 200, 'an unknown unit is ignored');
    assert.equal((await get(`${s.url}/pieces/0`, { range: 'bytes=0-5', 'if-range': '"other"' })).status, 200, 'If-Range of another tag: whole piece');
    // RFC 9110 §13.1.5: a Range under an If-Range that does not match is ignored, never refused.
    for (const range of ['bytes=9-2', 'bytes=0-1,4-5', 'nonsense', `bytes=0-${'9'.repeat(300)}`, 'bytes=99999-']) {
      const ignored = await get(`${s.url}/pieces/0`, { range, 'if-range': '"other"' });
      assert.equal(ignored.status, 200, `${range.slice(0, 20)} under another If-Range: the whole piece`);
      assert.equal(ignored.body.length, 16384);
      const read = await get(`${s.url}/pieces/0`, { range, 'if-range': `"sha1-${hashOf(0)}"` });
      assert.ok(read.status === 400 || read.status === 416, `${range.slice(0, 20)} under the piece's own If-Range is read: ${read.status}`);
    }

    const past = await get(`${s.url}/pieces/2`, { range: 'bytes=8000-8999' });
    assert.equal(past.status, 416);
    assert.equal(past.h('content-range'), 'bytes */7334');
    assert.equal(past.h('content-type'), 'application/problem+json');
    assert.equal(past.h('cache-control'), 'no-store');
    assert.equal(past.h('access-control-allow-origin'), '*');
    assert.equal(past.json()['code'], 'TTP_RANGE_NOT_SATISFIABLE');
    assert.equal(past.json()['status'], 416);

    const notModified = await get(`${s.url}/pieces/1`, { 'if-none-match': `"sha1-${hashOf(1)}"` });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.h('cache-control'), 'public, max-age=31536000, immutable');

    const head = await get(`${s.url}/pieces/1`, { range: 'bytes=0-99' }, 'HEAD');
    assert.equal(head.status, 206);
    assert.equal(head.h('content-length'), '100');
    assert.equal(head.body.length, 0);

    const cases: [string, Record<string, string>, number, string][] = [
      [`${s.url}/pieces/3`, {}, 404, 'TTP_NO_SUCH_PIECE'],
      [`${s.url}/pieces/0`, { range: 'bytes=0-1,4-5' }, 400, 'TTP_BAD_RANGE'],
      [`${s.url}/pieces/0`, { range: 'bytes=9-2' }, 400, 'TTP_BAD_RANGE'],
      [`${s.url}/pieces/0`, { range: `bytes=0-${'9'.repeat(300)}` }, 400, 'TTP_BAD_RANGE'],
      [`${s.url}/pieces/0`, { range: 'bytes=-0' }, 416, 'TTP_RANGE_NOT_SATISFIABLE'],
      [`${s.url}/pieces/01`, {}, 404, 'TTP_NOT_FOUND'],
      [`${s.url}/pieces/-1`, {}, 404, 'TTP_NOT_FOUND'],
      [`${s.url}/pieces/99999999999`, {}, 404, 'TTP_NO_SUCH_PIECE'],
      [`${s.url}/nothing`, {}, 404, 'TTP_NOT_FOUND'],
      [`${s.url}/`, {}, 404, 'TTP_NOT_FOUND'],
      [s.url.replace(metainfo.infoHash, metainfo.infoHash.toUpperCase()), {}, 400, 'TRACKER_BAD_INFO_HASH'],
      [s.url.replace(metainfo.infoHash, 'ab'), {}, 400, 'TRACKER_BAD_INFO_HASH'],
      [s.url.replace(metainfo.infoHash, '0'.repeat(40)) + '/pieces/0', {}, 404, 'TRANSPORT_UNKNOWN_TORRENT'],
      [`${s.origin}/ttp/v1/announce`, {}, 404, 'TTP_NOT_FOUND'],
      [`${s.origin}/index.html`, {}, 404, 'TTP_NOT_FOUND'],
    ];
    for (const [url, headers, status, code] of cases) {
      const r = await get(url, headers);
      assert.equal(r.status, status, `${url} ${JSON.stringify(headers).slice(0, 60)}`);
      assert.equal(r.json()['code'], code, url);
      assert.equal(r.h('cache-control'), 'no-store');
      assert.equal(r.h('access-control-allow-origin'), '*');
      assert.equal(r.h('access-control-expose-headers'), 'Content-Length, Content-Location, Content-Range, ETag, Retry-After');
    }

    // The code stays TRACKER_BAD_INFO_HASH (stable, §12); its title reads right for a path too:
    // it does not speak of the 20 bytes of a BEP 3 announce's info_hash.
    const upper = (await get(s.url.replace(metainfo.infoHash, metainfo.infoHash.toUpperCase()) + '/have')).json();
    assert.equal(upper['code'], 'TRACKER_BAD_INFO_HASH');
    assert.equal(upper['title'], 'info-hash is malformed');
    assert.equal(upper['detail'], 'the path needs the info-hash as 40 lowercase hex digits');

    const post = await get(`${s.url}/pieces/0`, {}, 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.h('allow'), 'GET, HEAD, OPTIONS');
    assert.equal(post.json()['code'], 'TRACKER_METHOD_NOT_ALLOWED');
    const pre = await get(`${s.url}/have`, { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'if-none-match' }, 'OPTIONS');
    assert.equal(pre.status, 204);
    assert.equal(pre.h('access-control-allow-methods'), 'GET, HEAD');
    assert.equal(pre.h('access-control-allow-headers'), 'Range, If-None-Match, If-Range, TorrentTTP-Peer-Id');
    assert.equal(pre.h('access-control-max-age'), '86400');
    assert.equal(pre.h('access-control-allow-credentials'), undefined);
  }),
);
