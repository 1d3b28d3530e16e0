import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TorrenttpError } from '../../src/errors/index.js';
import { Bitfield, toHex } from '../../src/metainfo/index.js';
import {
  applyHaveDocument,
  BoundedBody,
  decodeHaveDocument,
  encodeHaveDocument,
  formatHaveQuery,
  MAX_WAIT_SEC,
  parseHaveQuery,
  TtpError,
  type HaveDocument,
} from '../../src/tracker/index.js';
import { errorCode } from '../helpers/errors.js';
import { hash20 } from './arbitraries.js';

const cursor = fc.stringMatching(/^[A-Za-z0-9._~-]{1,64}$/);
const infoHash = hash20.map(toHex);

/** A piece count and a bitfield of it with random pieces set. */
const bitfield = fc.integer({ min: 1, max: 300 }).chain((n) =>
  fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: n }).map((set) => {
    const b = new Bitfield(n);
    for (const i of set) b.set(i);
    return b;
  }),
);

const doc: fc.Arbitrary<HaveDocument> = fc.oneof(
  fc.record({ infoHash, cursor, bitfield }).map((r) => ({ type: 'full' as const, infoHash: r.infoHash, pieceCount: r.bitfield.pieceCount, cursor: r.cursor, bitfield: r.bitfield })),
  fc.record({ infoHash, cursor, since: cursor, bitfield }).map((r) => ({
    type: 'delta' as const,
    infoHash: r.infoHash,
    pieceCount: r.bitfield.pieceCount,
    cursor: r.cursor,
    since: r.since,
    added: [...r.bitfield],
  })),
);

const plain = (d: HaveDocument): unknown => (d.type === 'full' ? { ...d, bitfield: [...d.bitfield.toBytes()] } : { ...d, added: [...d.added] });

test('have-set: decode(encode(d)) is d, and encode(decode(s)) is s', () => {
  fc.assert(
    fc.property(doc, (d) => {
      const s = encodeHaveDocument(d);
      const back = decodeHaveDocument(s, { infoHash: d.infoHash, pieceCount: d.pieceCount });
      assert.deepEqual(plain(back), plain(d));
      assert.equal(encodeHaveDocument(back), s);
    }),
  );
});

test('have-set: any chunking of the body through BoundedBody decodes alike', () => {
  fc.assert(
    fc.property(doc, fc.array(fc.nat(), { maxLength: 8 }), (d, cuts) => {
      const bytes = new TextEncoder().encode(encodeHaveDocument(d));
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const body = new BoundedBody(1 << 20);
      let prev = 0;
      for (const p of [...points, bytes.length]) {
        body.push(bytes.subarray(prev, p));
        prev = p;
      }
      assert.deepEqual(plain(decodeHaveDocument(body.bytes(), { infoHash: d.infoHash, pieceCount: d.pieceCount })), plain(d));
    }),
  );
});

test('BoundedBody fails at the first byte past the limit', () => {
  const b = new BoundedBody(10);
  b.push(new Uint8Array(6));
  b.push(new Uint8Array(4));
  assert.equal(errorCode(() => b.push(new Uint8Array(1)), TtpError), 'TTP_RESPONSE_TOO_LARGE');
});

test('have-set: the BEP 3 bit order and the spec example', () => {
  const d = decodeHaveDocument('{"version":1,"infoHash":"2560f1ee58d918a78b3dbf9cd217b0f90dd36cf8","pieceCount":3,"cursor":"q7Rz.2","have":"oA=="}', {
    infoHash: '2560f1ee58d918a78b3dbf9cd217b0f90dd36cf8',
    pieceCount: 3,
  });
  assert.equal(d.type, 'full');
  assert.deepEqual(d.type === 'full' ? [...d.bitfield] : [], [0, 2]);
  const next = applyHaveDocument(d.type === 'full' ? d.bitfield : new Bitfield(3), {
    type: 'delta', infoHash: d.infoHash, pieceCount: 3, cursor: 'q7Rz.3', since: 'q7Rz.2', added: [1],
  });
  assert.deepEqual([...next], [0, 1, 2]);
});

test('have-set: refused documents name their fault', () => {
  const ih = '2560f1ee58d918a78b3dbf9cd217b0f90dd36cf8';
  const expect = { infoHash: ih, pieceCount: 3 };
  const base = { version: 1, infoHash: ih, pieceCount: 3, cursor: 'c1' };
  const code = (o: unknown): string => errorCode(() => decodeHaveDocument(JSON.stringify(o), expect), TtpError);
  assert.equal(code({ ...base, have: 'oA==' }), 'ok');
  assert.equal(code({ ...base, have: 'oQ==' }), 'TTP_BAD_HAVE'); // spare bit set
  assert.equal(code({ ...base, have: 'oAA=' }), 'TTP_BAD_HAVE'); // two bytes for 3 pieces
  assert.equal(code({ ...base, have: 'oB==' }), 'TTP_BAD_HAVE'); // non-canonical base64
  assert.equal(code({ ...base, pieceCount: 4, have: 'oA==' }), 'TTP_BAD_HAVE');
  assert.equal(code({ ...base, infoHash: '0'.repeat(40), have: 'oA==' }), 'TTP_BAD_HAVE');
  assert.equal(code({ ...base, version: 2, have: 'oA==' }), 'TTP_UNSUPPORTED_VERSION');
  assert.equal(code({ ...base, have: 'oA==', added: [] }), 'TTP_BAD_HAVE');
  assert.equal(code({ ...base, since: 'c0', added: [2, 1] }), 'TTP_BAD_HAVE');
  assert.equal(code({ ...base, since: 'c0', added: [1, 1] }), 'TTP_BAD_HAVE');
  assert.equal(code({ ...base, since: 'c0', added: [3] }), 'TTP_BAD_HAVE');
  assert.equal(code({ ...base, since: 'c0', added: [0.5] }), 'TTP_BAD_HAVE');
  assert.equal(code({ ...base, added: [1] }), 'TTP_BAD_HAVE'); // a delta without since
  assert.equal(code({ ...base, cursor: 'a b', have: 'oA==' }), 'TTP_BAD_HAVE');
  assert.equal(code({ ...base, cursor: 'x'.repeat(65), have: 'oA==' }), 'TTP_BAD_HAVE');
  assert.equal(code({ ...base, have: 'oA==', extra: { future: true } }), 'ok'); // unknown members ignored
  assert.equal(errorCode(() => decodeHaveDocument('x'.repeat(2000), { ...expect, maxBodyBytes: 1000 }), TtpError), 'TTP_RESPONSE_TOO_LARGE');
});

test('have-set: hostile bodies throw only typed errors', () => {
  const ih = '2560f1ee58d918a78b3dbf9cd217b0f90dd36cf8';
  const member = fc.oneof(fc.jsonValue(), cursor, fc.constant('oA=='), fc.array(fc.integer({ min: -2, max: 5 })), fc.constant(1), fc.constant(3), fc.constant(ih));
  const objects = fc.dictionary(fc.constantFrom('version', 'infoHash', 'pieceCount', 'cursor', 'have', 'since', 'added', 'x'), member).map((o) => JSON.stringify(o));
  fc.assert(
    fc.property(fc.oneof(objects, fc.string(), fc.uint8Array().map((b) => b as Uint8Array | string)), (body) => {
      try {
        decodeHaveDocument(body, { infoHash: ih, pieceCount: 3 });
      } catch (err) {
        assert.ok(err instanceof TorrenttpError, String(err));
      }
    }),
    { numRuns: 2000 },
  );
});

test('have query: since and wait, clamped, strict, unknown parameters ignored', () => {
  assert.deepEqual(parseHaveQuery(undefined), { waitSec: 0 });
  assert.deepEqual(parseHaveQuery('since=q7Rz.2&wait=30'), { since: 'q7Rz.2', waitSec: 30 });
  assert.deepEqual(parseHaveQuery('wait=3600&x=1'), { waitSec: MAX_WAIT_SEC });
  // Any run of digits is a wait: too long a one is clamped like any large number, never refused.
  for (const [wait, sec] of [['1234567', MAX_WAIT_SEC], ['9'.repeat(1000), MAX_WAIT_SEC], ['0000007', 7], ['0'.repeat(900) + '61', MAX_WAIT_SEC], ['00000000', 0], ['060', MAX_WAIT_SEC], ['059', 59]] as const) {
    assert.deepEqual(parseHaveQuery(`wait=${wait}`), { waitSec: sec }, wait.slice(0, 20));
  }
  for (const bad of ['wait=-1', 'wait=1.5', 'wait=', 'wait=+5', 'wait=1e3', 'wait=%31', 'wait= 5', 'since=', 'since=a%20b', 'wait=1&wait=2', 'since=a&since=a']) {
    assert.equal(errorCode(() => parseHaveQuery(bad), TtpError), 'TTP_BAD_QUERY', bad);
  }
  fc.assert(
    fc.property(fc.option(cursor, { nil: undefined }), fc.integer({ min: 0, max: MAX_WAIT_SEC }), (since, waitSec) => {
      const q = parseHaveQuery(formatHaveQuery(since === undefined ? { waitSec } : { since, waitSec }));
      assert.deepEqual(q, since === undefined ? { waitSec } : { since, waitSec });
    }),
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      try {
        parseHaveQuery(s);
      } catch (err) {
        assert.ok(err instanceof TorrenttpError);
      }
    }),
  );
});
