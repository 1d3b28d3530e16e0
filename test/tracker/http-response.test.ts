import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TorrenttpError } from '../../src/errors/index.js';
import {
  decodeAnnounceResponse,
  decodeScrapeResponse,
  encodeAnnounceResponse,
  encodeCompactPeers,
  encodeFailure,
  encodeScrapeQuery,
  encodeScrapeResponse,
  parseIp,
  parseScrapeQuery,
  TrackerError,
} from '../../src/tracker/index.js';
import { counter, hash20, ipv4, ipv6, port } from './arbitraries.js';

const latin1 = (b: Uint8Array): string => String.fromCharCode(...b);
const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

const fields = fc.record(
  {
    intervalSec: fc.nat(1 << 30),
    minIntervalSec: fc.nat(1 << 30),
    complete: fc.nat(),
    incomplete: fc.nat(),
    trackerId: fc.uint8Array({ maxLength: 20 }),
    warningMessage: fc.string({ unit: 'grapheme', maxLength: 40 }),
  },
  { noNullPrototype: true, requiredKeys: ['intervalSec'] },
);

test('announce response: compact peers and peers6 round-trip', () => {
  fc.assert(
    fc.property(fields, fc.array(fc.record({ ip: ipv4, port }, { noNullPrototype: true })), fc.array(fc.record({ ip: ipv6, port }, { noNullPrototype: true })), (f, v4, v6) => {
      const c4 = encodeCompactPeers(v4).v4;
      const c6 = encodeCompactPeers(v6).v6;
      const r = decodeAnnounceResponse(encodeAnnounceResponse({ ...f, peers: c4, peers6: c6 }));
      assert.equal(r.type, 'ok');
      if (r.type !== 'ok') return;
      assert.deepEqual({ ...r, peers: [] }, { type: 'ok', ...f, peers: [] });
      const want = [...v4, ...v6].map((p) => ({ ip: parseIp(p.ip), port: p.port }));
      assert.deepEqual(r.peers.map((p) => ({ ip: parseIp(p.ip), port: p.port })), want);
    }),
  );
});

test('announce response: dictionary peers round-trip, with and without peer id', () => {
  const peer = fc.record({ ip: fc.oneof(ipv4, ipv6), port, peerId: hash20 }, { noNullPrototype: true, requiredKeys: ['ip', 'port'] });
  fc.assert(
    fc.property(fields, fc.array(peer, { maxLength: 20 }), (f, peers) => {
      const r = decodeAnnounceResponse(encodeAnnounceResponse({ ...f, peers }));
      assert.deepEqual(r, { type: 'ok', ...f, peers });
    }),
  );
});

test('announce response: exact bytes of a compact reply', () => {
  const body = encodeAnnounceResponse({ intervalSec: 1800, minIntervalSec: 900, complete: 1, incomplete: 0, peers: bytes('\x7f\x00\x00\x01\x1a\xe1') });
  assert.equal(latin1(body), 'd8:completei1e10:incompletei0e8:intervali1800e12:min intervali900e5:peers6:\x7f\x00\x00\x01\x1a\xe1e');
});

test('announce response: failure reason and BEP 31 retry in', () => {
  assert.deepEqual(decodeAnnounceResponse(encodeFailure('nope')), { type: 'failure', reason: 'nope' });
  assert.deepEqual(decodeAnnounceResponse(encodeFailure('later', 5)), { type: 'failure', reason: 'later', retryInMin: 5 });
  assert.deepEqual(decodeAnnounceResponse(encodeFailure('gone', Infinity)), { type: 'failure', reason: 'gone', retryInMin: Infinity });
  // opentracker's refusal, byte for byte
  const ot = bytes('d14:failure reason63:Requested download is not authorized for use with this tracker.e');
  assert.equal(decodeAnnounceResponse(ot).type, 'failure');
});

test('announce response: malformed replies are TRACKER_BAD_RESPONSE, oversized ones TRACKER_RESPONSE_TOO_LARGE', () => {
  const code = (b: string, max?: number): string => {
    try {
      decodeAnnounceResponse(bytes(b), max === undefined ? {} : { maxResponseBytes: max });
    } catch (err) {
      assert.ok(err instanceof TrackerError);
      return err.code;
    }
    return 'ok';
  };
  assert.equal(code('d8:intervali10e5:peers5:abcdee'), 'TRACKER_BAD_RESPONSE');
  assert.equal(code('d5:peers0:e'), 'TRACKER_BAD_RESPONSE');
  assert.equal(code('d8:intervali-1ee'), 'TRACKER_BAD_RESPONSE');
  assert.equal(code('le'), 'TRACKER_BAD_RESPONSE');
  assert.equal(code('<html>'), 'TRACKER_BAD_RESPONSE');
  assert.equal(code('d8:intervali10e5:peersld2:ip3:a b4:porti1eeee'), 'TRACKER_BAD_RESPONSE');
  assert.equal(code('d8:intervali10e5:peersld2:ip9:127.0.0.14:porti0eeee'), 'TRACKER_BAD_RESPONSE');
  assert.equal(code('d8:intervali10e5:peers0:e', 10), 'TRACKER_RESPONSE_TOO_LARGE');
  // unsorted keys from a sloppy tracker are accepted
  assert.equal(code('d8:intervali10e5:peers0:8:completei0ee'), 'ok');
});

test('announce response decoder: random bytes throw only TorrenttpError', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ maxLength: 200 }).map(bytes)), (b) => {
      try {
        decodeAnnounceResponse(b);
        decodeScrapeResponse(b);
      } catch (err) {
        assert.ok(err instanceof TorrenttpError, `threw ${String(err)}`);
      }
    }),
    { numRuns: 2000 },
  );
});

const entry = fc.record({ infoHash: hash20, complete: counter, downloaded: counter, incomplete: counter }, { noNullPrototype: true });

test('scrape: query and response round-trip for one or many hashes', () => {
  fc.assert(
    fc.property(fc.uniqueArray(hash20, { minLength: 1, maxLength: 100, selector: latin1 }), (hashes) => {
      assert.deepEqual(parseScrapeQuery(encodeScrapeQuery(hashes)), hashes);
    }),
  );
  fc.assert(
    fc.property(fc.uniqueArray(entry, { maxLength: 30, selector: (e) => latin1(e.infoHash) }), fc.option(fc.nat(), { nil: undefined }), (entries, min) => {
      const back = decodeScrapeResponse(encodeScrapeResponse(entries, min));
      const sorted = [...entries].sort((a, b) => (latin1(a.infoHash) < latin1(b.infoHash) ? -1 : 1));
      assert.deepEqual(back, min === undefined ? { files: sorted } : { files: sorted, minRequestIntervalSec: min });
    }),
  );
});

test('scrape: limits and errors', () => {
  const h = new Uint8Array(20);
  assert.deepEqual(parseScrapeQuery(''), []);
  assert.throws(() => parseScrapeQuery('info_hash=abc'), (e: unknown) => e instanceof TrackerError && e.code === 'TRACKER_BAD_INFO_HASH');
  assert.throws(() => parseScrapeQuery(encodeScrapeQuery([h, h, h]), { maxHashes: 2 }), (e: unknown) => e instanceof TrackerError && e.code === 'TRACKER_TOO_MANY_HASHES');
  assert.deepEqual(decodeScrapeResponse(encodeFailure('no')), { files: [], failureReason: 'no' });
});

test('a compact reply of 125,000 IPv4 and 60,000 IPv6 peers decodes (no spread into arguments; issue 18)', () => {
  // `peers.push(...decodeCompactPeers(…))` threw RangeError: Maximum call stack size exceeded.
  const v4 = new Uint8Array(750_000).fill(1);
  const cat = (...parts: (string | Uint8Array)[]): Uint8Array => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
  const body = cat('d8:intervali1800e5:peers750000:', v4, 'e');
  const r = decodeAnnounceResponse(body);
  assert.equal(r.type, 'ok');
  if (r.type !== 'ok') return;
  assert.equal(r.peers.length, 125_000);
  assert.deepEqual(r.peers[124_999], { ip: '1.1.1.1', port: 257 });

  const v6 = new Uint8Array(18 * 60_000).fill(2);
  const both = cat('d8:intervali1800e5:peers6:', new Uint8Array([9, 9, 9, 9, 0, 80]), `6:peers6${v6.length}:`, v6, 'e');
  const r2 = decodeAnnounceResponse(both, { maxResponseBytes: 2 * 1024 * 1024 });
  assert.equal(r2.type, 'ok');
  if (r2.type !== 'ok') return;
  assert.equal(r2.peers.length, 60_001);
  assert.deepEqual(r2.peers[0], { ip: '9.9.9.9', port: 80 });
  assert.equal(r2.peers[60_000]!.port, 0x0202);
});
