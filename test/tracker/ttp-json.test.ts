import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TorrenttpError } from '../../src/errors/index.js';
import {
  decodeJsonAnnounceResponse,
  decodeJsonScrapeResponse,
  decodeProblem,
  encodeJsonAnnounceRequest,
  encodeJsonAnnounceResponse,
  encodeJsonScrapeRequest,
  encodeJsonScrapeResponse,
  encodeProblem,
  parseJsonAnnounceRequest,
  parseJsonScrapeRequest,
  TrackerError,
  type JsonAnnounceBody,
} from '../../src/tracker/index.js';
import { fromHex, toHex } from '../../src/metainfo/index.js';
import { counter, hash20, ipv4, port } from './arbitraries.js';
import { errorCode } from '../helpers/errors.js';

const hex40 = hash20.map(toHex);
const url = fc.webUrl({ validSchemes: ['http', 'https'], withQueryParameters: true }).filter((u) => u.length < 2048);

const body: fc.Arbitrary<JsonAnnounceBody> = fc.record(
  {
    infoHash: hex40,
    peerId: hex40,
    port,
    url,
    ip: ipv4,
    uploaded: counter,
    downloaded: counter,
    left: counter,
    event: fc.constantFrom('started' as const, 'completed' as const, 'stopped' as const, 'paused' as const),
    numwant: fc.integer({ min: 0, max: 1000 }),
  },
  { noNullPrototype: true, requiredKeys: ['infoHash', 'peerId', 'port', 'uploaded', 'downloaded', 'left'] },
);

const code = (fn: () => unknown): string => errorCode(fn, TrackerError);

test('json announce request round-trips into the common AnnounceRequest', () => {
  fc.assert(
    fc.property(body, (b) => {
      const { announce, url: u } = parseJsonAnnounceRequest(encodeJsonAnnounceRequest(b));
      assert.deepEqual(announce.infoHash, fromHex(b.infoHash));
      assert.deepEqual(announce.peerId, fromHex(b.peerId));
      assert.equal(announce.port, b.port);
      assert.equal(u, b.url);
      assert.deepEqual([announce.uploaded, announce.downloaded, announce.left, announce.event, announce.numwant, announce.ip], [b.uploaded, b.downloaded, b.left, b.event, b.numwant, b.ip]);
    }),
  );
});

test('json announce: a url-only TorrentTTP peer is port 0', () => {
  const r = parseJsonAnnounceRequest(JSON.stringify({ infoHash: 'AB'.repeat(20), peerId: '00'.repeat(20), url: 'https://peer.example/x', uploaded: 0, downloaded: 0, left: 0 }));
  assert.equal(r.announce.port, 0);
  assert.equal(r.url, 'https://peer.example/x');
  assert.equal(toHex(r.announce.infoHash), 'ab'.repeat(20));
});

test('json announce: hostile bodies give typed errors', () => {
  const ok = { infoHash: 'ab'.repeat(20), peerId: '00'.repeat(20), port: 1, uploaded: 0, downloaded: 0, left: 0 };
  const p = (v: unknown): string => code(() => parseJsonAnnounceRequest(typeof v === 'string' ? v : JSON.stringify(v)));
  assert.equal(p(ok), 'ok');
  assert.equal(p('{'), 'TRACKER_JSON_BAD_BODY');
  assert.equal(p('[]'), 'TRACKER_JSON_BAD_BODY');
  assert.equal(p('null'), 'TRACKER_JSON_BAD_BODY');
  assert.equal(code(() => parseJsonAnnounceRequest(new Uint8Array([0x7b, 0xff, 0x7d]))), 'TRACKER_JSON_BAD_BODY');
  assert.equal(p({ ...ok, infoHash: 'ab' }), 'TRACKER_BAD_INFO_HASH');
  assert.equal(p({ ...ok, infoHash: 'zz'.repeat(20) }), 'TRACKER_BAD_INFO_HASH');
  assert.equal(p({ ...ok, peerId: '-TT0001-abcdefghijkl' }), 'TRACKER_BAD_PEER_ID');
  assert.equal(p({ ...ok, port: 70000 }), 'TRACKER_BAD_NUMBER');
  assert.equal(p({ ...ok, port: 0 }), 'TRACKER_BAD_PORT');
  assert.equal(p({ ...ok, port: undefined }), 'TRACKER_JSON_BAD_FIELD');
  assert.equal(p({ ...ok, left: -1 }), 'TRACKER_BAD_NUMBER');
  assert.equal(p({ ...ok, left: 1.5 }), 'TRACKER_BAD_NUMBER');
  assert.equal(p({ ...ok, left: '1' }), 'TRACKER_BAD_NUMBER');
  assert.equal(p({ ...ok, left: 1e300 }), 'TRACKER_BAD_NUMBER');
  assert.equal(p({ ...ok, numwant: 5000 }), 'TRACKER_BAD_NUMBER');
  assert.equal(p({ ...ok, event: 'bogus' }), 'TRACKER_BAD_EVENT');
  assert.equal(p({ ...ok, url: 'ftp://x/' }), 'TRACKER_BAD_URL');
  assert.equal(p({ ...ok, url: 'javascript:alert(1)' }), 'TRACKER_BAD_URL');
  assert.equal(p({ ...ok, url: `http://x/${'a'.repeat(3000)}` }), 'TRACKER_BAD_URL');
  assert.equal(p({ ...ok, url: 12 }), 'TRACKER_JSON_BAD_FIELD');
  assert.equal(p({ ...ok, ip: 'localhost' }), 'TRACKER_BAD_IP');
  assert.equal(p({ ...ok, pad: 'x'.repeat(17000) }), 'TRACKER_BODY_TOO_LARGE');
  assert.equal(p({ ...ok, __proto__: { port: 5 } }), 'ok');
});

test('json announce: random JSON values never throw anything but TorrenttpError', () => {
  fc.assert(
    fc.property(fc.oneof(fc.json(), fc.string(), fc.jsonValue().map((v) => JSON.stringify({ infoHash: v, peerId: v, port: v, url: v, left: v }))), (s) => {
      for (const fn of [() => parseJsonAnnounceRequest(s), () => parseJsonScrapeRequest(s), () => decodeJsonAnnounceResponse(s), () => decodeJsonScrapeResponse(s)]) {
        try {
          fn();
        } catch (err) {
          assert.ok(err instanceof TorrenttpError, `threw ${String(err)}`);
        }
      }
    }),
    { numRuns: 1000 },
  );
});

test('json announce response round-trips', () => {
  const peer = fc.oneof(
    fc.record({ ip: ipv4, port, peerId: hex40 }, { noNullPrototype: true, requiredKeys: ['ip', 'port'] }),
    fc.record({ url, peerId: hex40 }, { noNullPrototype: true, requiredKeys: ['url'] }),
    fc.record({ ip: ipv4, port, url }, { noNullPrototype: true }),
  );
  fc.assert(
    fc.property(fc.record({ interval: fc.nat(), minInterval: fc.nat(), complete: fc.nat(), incomplete: fc.nat(), peers: fc.array(peer, { maxLength: 10 }) }, { noNullPrototype: true }), (r) => {
      assert.deepEqual(decodeJsonAnnounceResponse(encodeJsonAnnounceResponse(r)), r);
    }),
  );
});

test('json scrape request and response round-trip', () => {
  fc.assert(
    fc.property(fc.array(hash20, { maxLength: 100 }), (hashes) => {
      assert.deepEqual(parseJsonScrapeRequest(encodeJsonScrapeRequest(hashes)), hashes);
    }),
  );
  const e = { infoHash: new Uint8Array(20).fill(1), complete: 2, downloaded: 3, incomplete: 4 };
  assert.deepEqual(decodeJsonScrapeResponse(encodeJsonScrapeResponse([e])), [e]);
  assert.equal(code(() => parseJsonScrapeRequest(JSON.stringify({ infoHashes: Array(101).fill('00'.repeat(20)) }))), 'TRACKER_TOO_MANY_HASHES');
});

test('problem documents carry the registry code and status', () => {
  const err = new TrackerError('TRACKER_BAD_INFO_HASH', { detail: '3 bytes' });
  const doc = JSON.parse(encodeProblem(err)) as Record<string, unknown>;
  assert.deepEqual(doc, {
    type: 'urn:torrenttp:error:TRACKER_BAD_INFO_HASH',
    title: 'info-hash is malformed',
    status: 400,
    code: 'TRACKER_BAD_INFO_HASH',
    detail: '3 bytes',
  });
  assert.deepEqual(decodeProblem(encodeProblem(err)), doc);
  assert.equal(decodeProblem('{"code":"NOT_A_CODE"}').code, 'INTERNAL');
});
