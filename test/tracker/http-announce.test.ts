import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TorrenttpError } from '../../src/errors/index.js';
import {
  encodeAnnounceQuery,
  parseAnnounceQuery,
  parseIp,
  TrackerError,
  type AnnounceRequest,
} from '../../src/tracker/index.js';
import { announceRequest } from './arbitraries.js';
import { errorCode } from '../helpers/errors.js';

const ih = Uint8Array.from({ length: 20 }, (_, i) => i * 11);
const pid = new TextEncoder().encode('-TT0001-abcdefghijkl');
const base: AnnounceRequest = { infoHash: ih, peerId: pid, port: 6881, uploaded: 1, downloaded: 2, left: 3 };

const code = (fn: () => unknown): string => errorCode(fn, TrackerError);

test('announce query: parse(encode(r)) is r', () => {
  fc.assert(
    fc.property(announceRequest, (r) => {
      const back = parseAnnounceQuery(encodeAnnounceQuery(r));
      // The `ip` text comes back as sent; addresses compare by value.
      const { ip, ...rest } = back;
      const { ip: ip0, ...rest0 } = r;
      assert.deepEqual(rest, rest0);
      assert.deepEqual(ip === undefined ? undefined : parseIp(ip), ip0 === undefined ? undefined : parseIp(ip0));
    }),
  );
});

test('announce query: info_hash and peer_id are percent-encoded raw bytes', () => {
  const q = encodeAnnounceQuery({ ...base, event: 'started' });
  assert.match(q, /^info_hash=%00%0B%16%21%2C7BMXcny%84%8F%9A%A5%B0%BB%C6%D1&/);
  assert.match(q, /peer_id=-TT0001-abcdefghijkl/);
  // what aria2/libtorrent send, with unknown extras, in another order
  const real = `peer_id=-TT0001-abcdefghijkl&info_hash=${q.slice(10, q.indexOf('&'))}&port=6881&uploaded=1&downloaded=2&left=3&compact=1&supportcrypto=1&corrupt=0&redundant=0`;
  assert.deepEqual(parseAnnounceQuery(`?${real}`), { ...base, compact: true });
});

test('announce query: typed errors for bad input', () => {
  const q = encodeAnnounceQuery(base);
  assert.equal(code(() => parseAnnounceQuery(q.replace(/info_hash=[^&]*&/, ''))), 'TRACKER_MISSING_PARAM');
  assert.equal(code(() => parseAnnounceQuery(q.replace(/info_hash=[^&]*/, 'info_hash=abc'))), 'TRACKER_BAD_INFO_HASH');
  assert.equal(code(() => parseAnnounceQuery(q.replace(/info_hash=[^&]*/, `info_hash=${'a'.repeat(21)}`))), 'TRACKER_BAD_INFO_HASH');
  assert.equal(code(() => parseAnnounceQuery(q.replace(/peer_id=[^&]*/, 'peer_id=short'))), 'TRACKER_BAD_PEER_ID');
  assert.equal(code(() => parseAnnounceQuery(q.replace(/info_hash=/, 'info_hash=%G1'))), 'TRACKER_BAD_PERCENT_ENCODING');
  assert.equal(code(() => parseAnnounceQuery(`${q}%`)), 'TRACKER_BAD_PERCENT_ENCODING');
  assert.equal(code(() => parseAnnounceQuery(q.replace('port=6881', 'port=70000'))), 'TRACKER_BAD_NUMBER');
  assert.equal(code(() => parseAnnounceQuery(q.replace('port=6881', 'port=0'))), 'TRACKER_BAD_PORT');
  assert.equal(parseAnnounceQuery(`${q.replace('port=6881', 'port=0')}&event=stopped`).port, 0);
  assert.equal(code(() => parseAnnounceQuery(q.replace('left=3', 'left=-3'))), 'TRACKER_BAD_NUMBER');
  assert.equal(code(() => parseAnnounceQuery(q.replace('left=3', 'left=1e3'))), 'TRACKER_BAD_NUMBER');
  assert.equal(code(() => parseAnnounceQuery(q.replace('left=3', 'left=99999999999999999'))), 'TRACKER_BAD_NUMBER');
  assert.equal(code(() => parseAnnounceQuery(`${q}&numwant=100000`)), 'TRACKER_BAD_NUMBER');
  assert.equal(parseAnnounceQuery(`${q}&numwant=-1`).numwant, undefined);
  assert.equal(code(() => parseAnnounceQuery(`${q}&event=bogus`)), 'TRACKER_BAD_EVENT');
  assert.equal(code(() => parseAnnounceQuery(`${q}&port=1`)), 'TRACKER_BAD_QUERY');
  assert.equal(code(() => parseAnnounceQuery(`${q}&compact=yes`)), 'TRACKER_BAD_QUERY');
  assert.equal(code(() => parseAnnounceQuery(`${q}&ip=example.com`)), 'TRACKER_BAD_IP');
  assert.equal(code(() => parseAnnounceQuery(`${q}&x=${'a'.repeat(9000)}`)), 'TRACKER_QUERY_TOO_LARGE');
  assert.equal(code(() => parseAnnounceQuery(`${q}&key=${'k'.repeat(65)}`)), 'TRACKER_BAD_QUERY');
});

test('announce query: an error carries the offset of the bad value', () => {
  const q = `${encodeAnnounceQuery(base)}&event=nope`;
  try {
    parseAnnounceQuery(q);
    assert.fail('did not throw');
  } catch (err) {
    assert.ok(err instanceof TrackerError);
    assert.equal(err.offset, q.indexOf('nope'));
  }
});

test('announce query: random strings never hang and throw only TorrenttpError', () => {
  const q = encodeAnnounceQuery({ ...base, event: 'started', numwant: 5 });
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 600 }),
        fc.string({ unit: fc.constantFrom('%', '&', '=', 'a', '1', 'F', '-', '+', 'info_hash', 'port', 'left', '%2'), maxLength: 200 }),
        // mutations of a valid query
        fc.tuple(fc.nat(q.length), fc.nat(q.length), fc.string({ maxLength: 8 })).map(([a, b, s]) => q.slice(0, Math.min(a, b)) + s + q.slice(Math.max(a, b))),
      ),
      (s) => {
        try {
          parseAnnounceQuery(s);
        } catch (err) {
          assert.ok(err instanceof TorrenttpError, `threw ${String(err)}`);
        }
      },
    ),
    { numRuns: 2000 },
  );
});
