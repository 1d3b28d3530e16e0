import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TorrenttpError } from '../../src/errors/index.js';
import {
  decodeUdpRequest,
  decodeUdpResponse,
  encodeCompactPeers,
  encodeUdpAnnounceRequest,
  encodeUdpAnnounceResponse,
  encodeUdpConnectRequest,
  encodeUdpConnectResponse,
  encodeUdpErrorResponse,
  encodeUdpScrapeRequest,
  encodeUdpScrapeResponse,
  parseIp,
  TrackerError,
  UDP_PROTOCOL_ID,
  type AnnounceRequest,
} from '../../src/tracker/index.js';
import { isPlainUdpAnnounce, readPlainUdpAnnounce, readU32BE } from '../../src/tracker/udp.js';
import { hash20, ipv4, ipv6, port, udpAnnouncePacket, udpLimits } from './arbitraries.js';
import { errorCode } from '../helpers/errors.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const i64counter = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

const udpAnnounce: fc.Arbitrary<AnnounceRequest> = fc.record(
  {
    infoHash: hash20,
    peerId: hash20,
    port,
    uploaded: i64counter,
    downloaded: i64counter,
    left: i64counter,
    event: fc.constantFrom('started' as const, 'completed' as const, 'stopped' as const),
    numwant: fc.integer({ min: 0, max: 1000 }),
    ip: ipv4.filter((s) => s !== '0.0.0.0'),
  },
  { noNullPrototype: true, requiredKeys: ['infoHash', 'peerId', 'port', 'uploaded', 'downloaded', 'left'] },
);

const code = (fn: () => unknown): string => errorCode(fn, TrackerError);

test('udp connect: request and response round-trip, 16 bytes each', () => {
  fc.assert(
    fc.property(u32, u64, (tx, id) => {
      const req = encodeUdpConnectRequest(tx);
      assert.equal(req.length, 16);
      assert.deepEqual(decodeUdpRequest(req), { type: 'connect', transactionId: tx });
      const res = encodeUdpConnectResponse(tx, id);
      assert.deepEqual(decodeUdpResponse(res, 4), { type: 'connect', transactionId: tx, connectionId: id });
    }),
  );
  const v = new DataView(encodeUdpConnectRequest(1).buffer);
  assert.equal(v.getBigUint64(0), UDP_PROTOCOL_ID);
});

test('udp announce request: 98 bytes, round-trips; BEP 41 options after it are ignored', () => {
  fc.assert(
    fc.property(u64, u32, u32, udpAnnounce, fc.uint8Array({ maxLength: 100 }), (id, tx, key, announce, options) => {
      const bytes = encodeUdpAnnounceRequest({ connectionId: id, transactionId: tx, key, announce });
      assert.equal(bytes.length, 98);
      const withOptions = new Uint8Array(98 + options.length);
      withOptions.set(bytes);
      withOptions.set(options, 98);
      assert.deepEqual(decodeUdpRequest(withOptions), { type: 'announce', connectionId: id, transactionId: tx, key, announce });
    }),
  );
});

test('udp scrape request: round-trips up to 74 hashes, refuses 75', () => {
  fc.assert(
    fc.property(u64, u32, fc.array(hash20, { minLength: 1, maxLength: 74 }), (id, tx, infoHashes) => {
      assert.deepEqual(decodeUdpRequest(encodeUdpScrapeRequest({ connectionId: id, transactionId: tx, infoHashes })), {
        type: 'scrape', connectionId: id, transactionId: tx, infoHashes,
      });
    }),
  );
  const many = Array.from({ length: 75 }, () => new Uint8Array(20));
  assert.equal(code(() => encodeUdpScrapeRequest({ connectionId: 1n, transactionId: 1, infoHashes: many })), 'TRACKER_TOO_MANY_HASHES');
  const raw = new Uint8Array(16 + 75 * 20);
  raw.set(encodeUdpScrapeRequest({ connectionId: 1n, transactionId: 1, infoHashes: [new Uint8Array(20)] }).subarray(0, 16));
  assert.equal(code(() => decodeUdpRequest(raw, { maxPacketBytes: 4000 })), 'TRACKER_TOO_MANY_HASHES');
});

test('udp announce response: IPv4 6-byte and IPv6 18-byte peers by family', () => {
  fc.assert(
    fc.property(u32, fc.nat(), fc.nat(), fc.nat(), fc.array(fc.record({ ip: ipv4, port }, { noNullPrototype: true })), fc.array(fc.record({ ip: ipv6, port }, { noNullPrototype: true })), (tx, interval, l, s, v4, v6) => {
      const norm = (ps: { ip: string; port: number }[]): unknown => ps.map((p) => ({ ip: parseIp(p.ip), port: p.port }));
      const r4 = decodeUdpResponse(encodeUdpAnnounceResponse({ transactionId: tx, intervalSec: interval, leechers: l, seeders: s, peers: encodeCompactPeers(v4).v4 }), 4);
      assert.equal(r4.type, 'announce');
      if (r4.type === 'announce') {
        assert.deepEqual([r4.intervalSec, r4.leechers, r4.seeders, r4.transactionId], [interval, l, s, tx]);
        assert.deepEqual(norm(r4.peers), norm(v4));
      }
      const r6 = decodeUdpResponse(encodeUdpAnnounceResponse({ transactionId: tx, intervalSec: interval, leechers: l, seeders: s, peers: encodeCompactPeers(v6).v6 }), 6);
      if (r6.type === 'announce') assert.deepEqual(norm(r6.peers), norm(v6));
      else assert.fail(r6.type);
    }),
  );
});

test('udp scrape and error responses round-trip', () => {
  fc.assert(
    fc.property(u32, fc.array(fc.record({ seeders: fc.nat(), completed: fc.nat(), leechers: fc.nat() }, { noNullPrototype: true }), { maxLength: 74 }), (tx, entries) => {
      assert.deepEqual(decodeUdpResponse(encodeUdpScrapeResponse(tx, entries), 4), { type: 'scrape', transactionId: tx, entries });
    }),
  );
  fc.assert(
    fc.property(u32, fc.string({ unit: 'grapheme', maxLength: 60 }), (tx, message) => {
      assert.deepEqual(decodeUdpResponse(encodeUdpErrorResponse(tx, message), 6), { type: 'error', transactionId: tx, message });
    }),
  );
});

test("udp: opentracker's 8-byte announce refusal decodes as an error result", () => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, 1);
  new DataView(b.buffer).setUint32(4, 77);
  assert.deepEqual(decodeUdpResponse(b, 4), { type: 'error', transactionId: 77, message: '', refusedAnnounce: true });
});

test('udp: truncated, oversized and unknown packets are typed errors', () => {
  const ann = encodeUdpAnnounceRequest({
    connectionId: 1n, transactionId: 2, key: 3,
    announce: { infoHash: new Uint8Array(20), peerId: new Uint8Array(20), port: 1, uploaded: 0, downloaded: 0, left: 0 },
  });
  assert.equal(code(() => decodeUdpRequest(ann.subarray(0, 97))), 'TRACKER_UDP_TRUNCATED');
  assert.equal(code(() => decodeUdpRequest(ann.subarray(0, 15))), 'TRACKER_UDP_TRUNCATED');
  assert.equal(code(() => decodeUdpRequest(new Uint8Array(1501))), 'TRACKER_UDP_TOO_LARGE');
  const badProto = encodeUdpConnectRequest(1);
  badProto[0] = 9;
  assert.equal(code(() => decodeUdpRequest(badProto)), 'TRACKER_UDP_BAD_PROTOCOL_ID');
  const badAction = ann.slice();
  badAction[11] = 9;
  assert.equal(code(() => decodeUdpRequest(badAction)), 'TRACKER_UDP_BAD_ACTION');
  const negative = ann.slice();
  negative[56] = 0x80; // downloaded < 0
  assert.equal(code(() => decodeUdpRequest(negative)), 'TRACKER_BAD_NUMBER');
  const badEvent = ann.slice();
  badEvent[83] = 7;
  assert.equal(code(() => decodeUdpRequest(badEvent)), 'TRACKER_BAD_EVENT');
  const noPort = ann.slice();
  noPort[96] = 0;
  noPort[97] = 0;
  assert.equal(code(() => decodeUdpRequest(noPort)), 'TRACKER_BAD_PORT');
  assert.equal(code(() => decodeUdpResponse(new Uint8Array(7), 4)), 'TRACKER_UDP_TRUNCATED');
  const oddPeers = encodeUdpAnnounceResponse({ transactionId: 1, intervalSec: 1, leechers: 0, seeders: 0, peers: new Uint8Array(7) });
  assert.equal(code(() => decodeUdpResponse(oddPeers, 4)), 'TRACKER_BAD_RESPONSE');
  assert.equal(code(() => decodeUdpResponse(oddPeers.subarray(0, 12), 4)), 'TRACKER_UDP_TRUNCATED');
});

test('udp decoders: random bytes never hang and throw only TorrenttpError', () => {
  const valid = encodeUdpAnnounceRequest({
    connectionId: 5n, transactionId: 2, key: 3,
    announce: { infoHash: new Uint8Array(20), peerId: new Uint8Array(20), port: 1, uploaded: 0, downloaded: 0, left: 0 },
  });
  const arb = fc.oneof(
    fc.uint8Array({ maxLength: 2000 }),
    // valid headers with random tails hit the per-action paths
    fc.tuple(fc.constantFrom(0, 1, 2, 3, 4), fc.uint8Array({ maxLength: 200 })).map(([action, tail]) => {
      const b = new Uint8Array(16 + tail.length);
      b.set(valid.subarray(0, 16));
      b[11] = action;
      b.set(tail, 16);
      return b;
    }),
  );
  fc.assert(
    fc.property(arb, (b) => {
      for (const fn of [() => decodeUdpRequest(b), () => decodeUdpResponse(b, 4), () => decodeUdpResponse(b, 6)]) {
        try {
          fn();
        } catch (err) {
          assert.ok(err instanceof TorrenttpError, `threw ${String(err)}`);
        }
      }
    }),
    { numRuns: 3000 },
  );
});

test("udp: the server's fast path takes exactly the announces the decoder accepts with no ip and a port, and reads them the same", () => {
  const defined = (r: object): object => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));
  let plain = 0;
  fc.assert(
    fc.property(udpAnnouncePacket(), fc.option(udpLimits, { nil: undefined }), (b, limits) => {
      let generic: ReturnType<typeof decodeUdpRequest> | undefined;
      try {
        generic = decodeUdpRequest(b, limits);
      } catch (err) {
        assert.ok(err instanceof TrackerError);
      }
      const expected = generic?.type === 'announce' && generic.announce.ip === undefined && generic.announce.port !== 0;
      assert.equal(isPlainUdpAnnounce(b, limits), expected);
      if (!expected || generic?.type !== 'announce') return;
      plain++;
      const infoHash = new Uint8Array(20);
      const peerId = new Uint8Array(20);
      assert.deepEqual(defined(readPlainUdpAnnounce(b, infoHash, peerId)), generic.announce);
      assert.equal((BigInt(readU32BE(b, 0)) << 32n) | BigInt(readU32BE(b, 4)), generic.connectionId);
      assert.equal(readU32BE(b, 12), generic.transactionId);
    }),
    { numRuns: 2000 },
  );
  assert.ok(plain > 50, `only ${plain} plain announces generated`);
});
