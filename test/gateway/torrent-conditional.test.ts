/**
 * Conditional requests on serve's metainfo answers (issue 15): the negotiated `.torrent`
 * (`Accept: application/x-bittorrent` or `?torrent`) and the metainfo JSON each carry their own
 * strong ETag, derived from the info-hash, distinct from each other and from the file bytes'
 * tag (RFC 9110 §8.8.3), and `If-None-Match` / `If-Match` / the date conditions get the status
 * RFC 9110 §13.2.2 asks for. A tag of one representation never validates another.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { evaluateConditionals, ifRangeHolds } from '../../src/gateway/index.js';
import { METAINFO_JSON_MEDIA_TYPE, parseTorrent } from '../../src/metainfo/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway } from './helpers.js';

const BT = 'application/x-bittorrent';
const MIB = 1024 * 1024;

async function ask(url: string, headers: Record<string, string>, method: 'GET' | 'HEAD' = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const r = await request(url, { method, headers });
  return { status: r.statusCode, headers: r.headers, body: Buffer.from(await r.body.arrayBuffer()) };
}

test('validators without a modification date: the date conditions are ignored, an If-Range date never holds', () => {
  const v = { etag: '"bt-ab"' };
  const date = new Date(0).toUTCString();
  assert.equal(evaluateConditionals({ ifModifiedSince: date }, v), 'send');
  assert.equal(evaluateConditionals({ ifUnmodifiedSince: date }, v), 'send');
  assert.equal(evaluateConditionals({ ifNoneMatch: '"bt-ab"' }, v), 304);
  assert.equal(evaluateConditionals({ ifMatch: '"x"' }, v), 412);
  assert.equal(ifRangeHolds(date, v), false);
  assert.equal(ifRangeHolds('garbage', v), false);
});

test('the torrent and the metainfo JSON: own strong ETags, 304 / 412 / 200 as RFC 9110 §13.2.2 says', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const data = bytes(2 * MIB + 5, 7);
    writeFileSync(join(root, 'f.bin'), data);
    const g = await startGateway(t, { root });
    const url = `${g.url}/f.bin`;
    const first = await ask(url, { accept: BT });
    if (first.status !== 200) {
      assert.equal(first.status, 503);
      await g.swarm.settled();
    }

    // The three representations of one URL and their tags.
    const torrent = await ask(url, { accept: BT });
    assert.equal(torrent.status, 200);
    const hash = parseTorrent(new Uint8Array(torrent.body)).infoHash;
    const btTag = `"bt-${hash}"`;
    const jsonTag = `"json-${hash}"`;
    assert.equal(torrent.headers['etag'], btTag);
    assert.equal(torrent.headers['vary'], 'Accept');
    assert.equal(torrent.headers['last-modified'], undefined);
    const json = await ask(url, { accept: METAINFO_JSON_MEDIA_TYPE });
    assert.equal(json.status, 200);
    assert.equal(json.headers['content-type'], METAINFO_JSON_MEDIA_TYPE);
    assert.equal(json.headers['etag'], jsonTag);
    assert.equal(json.headers['vary'], 'Accept');
    const plain = await ask(url, {});
    assert.equal(plain.status, 200);
    const bytesTag = String(plain.headers['etag']);
    assert.match(bytesTag, /^"[^"]+"$/);
    assert.equal(new Set([btTag, jsonTag, bytesTag]).size, 3, 'three representations, three tags');
    // The explicit forms carry the same tags.
    assert.equal((await ask(`${url}?torrent`, {})).headers['etag'], btTag);
    assert.equal((await ask(`${url}?metainfo`, {})).headers['etag'], jsonTag);

    // If-None-Match of the representation's own tag (or weak, or in a list, or *): 304 with the
    // headers a 200 would carry (RFC 9110 §15.4.5), no body; GET and HEAD alike.
    for (const [accept, tag, location] of [
      [BT, btTag, '/f.bin?torrent'],
      [METAINFO_JSON_MEDIA_TYPE, jsonTag, '/f.bin?metainfo'],
    ] as const) {
      for (const inm of [tag, `W/${tag}`, `"other", ${tag}`, '*']) {
        for (const method of ['GET', 'HEAD'] as const) {
          const r = await ask(url, { accept, 'if-none-match': inm }, method);
          assert.equal(r.status, 304, `${accept} If-None-Match: ${inm} (${method})`);
          assert.equal(r.headers['etag'], tag);
          assert.equal(r.headers['vary'], 'Accept');
          assert.equal(r.headers['cache-control'], 'private, no-cache');
          assert.equal(r.headers['content-location'], location);
          assert.equal(r.body.length, 0);
        }
      }
      // If-Match of another tag: 412, and it wins over a matching If-None-Match (§13.2.2 order).
      assert.equal((await ask(url, { accept, 'if-match': '"x"' })).status, 412);
      assert.equal((await ask(url, { accept, 'if-match': '"x"', 'if-none-match': tag })).status, 412);
      // If-Match of its own tag or *: the answer.
      for (const im of [tag, '*']) {
        const r = await ask(url, { accept, 'if-match': im });
        assert.equal(r.status, 200, `${accept} If-Match: ${im}`);
        assert.ok(r.body.length > 0);
      }
      // No Last-Modified on these answers: the date conditions are ignored (§13.1.3, §13.1.4).
      assert.equal((await ask(url, { accept, 'if-modified-since': new Date(Date.now() + 86_400_000).toUTCString() })).status, 200);
      assert.equal((await ask(url, { accept, 'if-unmodified-since': new Date(0).toUTCString() })).status, 200);
    }
    // The explicit form answers the same way (no Content-Location: the URL names the form).
    const explicit = await ask(`${url}?torrent`, { 'if-none-match': btTag });
    assert.equal(explicit.status, 304);
    assert.equal(explicit.headers['content-location'], undefined);
    assert.equal((await ask(`${url}?metainfo`, { 'if-match': btTag })).status, 412);

    // Tags are per representation: another one's tag validates nothing.
    const bytesWithBt = await ask(url, { 'if-none-match': btTag });
    assert.equal(bytesWithBt.status, 200, 'the bytes asked with the torrent tag');
    assert.deepEqual(bytesWithBt.body, Buffer.from(data));
    assert.equal((await ask(url, { 'if-none-match': jsonTag })).status, 200, 'the bytes asked with the JSON tag');
    assert.equal((await ask(url, { accept: METAINFO_JSON_MEDIA_TYPE, 'if-none-match': btTag })).status, 200, 'the JSON asked with the torrent tag');
    assert.equal((await ask(url, { accept: BT, 'if-none-match': jsonTag })).status, 200, 'the torrent asked with the JSON tag');
    assert.equal((await ask(url, { accept: BT, 'if-none-match': bytesTag })).status, 200, 'the torrent asked with the bytes tag');
    assert.equal((await ask(url, { accept: BT, 'if-match': bytesTag })).status, 412, 'If-Match of the bytes tag on the torrent');
    assert.equal((await ask(url, { 'if-match': btTag })).status, 412, 'If-Match of the torrent tag on the bytes');
    // The bytes keep their own conditionals.
    assert.equal((await ask(url, { 'if-none-match': bytesTag })).status, 304);
  }),
);
