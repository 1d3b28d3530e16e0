import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ERROR_CODES, TorrenttpError } from '../../src/errors/index.js';
import {
  WireDecoder,
  WireError,
  decodeHandshake,
  encodeHandshake,
  encodeMessage,
  encodeMessages,
  type WireDecoderOptions,
  type WireErrorCode,
  type WireMessage,
} from '../../src/wire/index.js';
import { concat, cutsArb, geometry, outcome, split, streamArb, trickle } from './arbitraries.js';

const handshake = encodeHandshake({ infoHash: new Uint8Array(20).fill(1), peerId: new Uint8Array(20).fill(2) });
const HS = handshake.length;
const g = geometry(10, 32768, 1000);

interface Expected {
  readonly code: WireErrorCode;
  readonly offset: number;
  readonly messageId?: number;
}

function isWireError(expected: Expected): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof WireError, `not a WireError: ${String(err)}`);
    assert.ok(err instanceof TorrenttpError);
    assert.equal(err.name, 'WireError');
    assert.equal(err.code, expected.code);
    assert.equal(err.offset, expected.offset, `offset of ${expected.code}`);
    assert.equal(err.messageId, expected.messageId, `messageId of ${expected.code}`);
    assert.equal(err.side, ERROR_CODES[expected.code].side);
    assert.equal(err.status, ERROR_CODES[expected.code].status);
    return true;
  };
}

/** Pushes `bytes` after a handshake; the error must be thrown by the last push, not earlier. */
function expectError(bytes: Uint8Array, expected: Expected, opts: WireDecoderOptions = {}): void {
  const d = new WireDecoder(opts);
  d.push(handshake);
  assert.throws(() => d.push(bytes), isWireError(expected));
  // Any other chunking fails the same way: whole, and trickled.
  assert.deepEqual(outcome([handshake, bytes], opts), outcome(trickle(concat(handshake, bytes)), opts));
}

/** A length prefix followed by `rest`: lets a test send a header and nothing of the body. */
function frame(length: number, ...rest: number[]): Uint8Array {
  return new Uint8Array([length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff, ...rest]);
}

test('WIRE_BAD_HANDSHAKE: wrong pstrlen or pstr fails at the first wrong byte', () => {
  assert.throws(() => new WireDecoder().push(new Uint8Array([18])), isWireError({ code: 'WIRE_BAD_HANDSHAKE', offset: 0 }));
  assert.throws(() => new WireDecoder().push(new TextEncoder().encode('GET / HTTP/1.1\r\n')), isWireError({ code: 'WIRE_BAD_HANDSHAKE', offset: 0 }));
  const bad = handshake.slice();
  bad[5] = 0x58; // "BitT" + X
  const d = new WireDecoder();
  for (let i = 0; i < 5; i++) d.push(bad.subarray(i, i + 1));
  assert.throws(() => d.push(bad.subarray(5, 6)), isWireError({ code: 'WIRE_BAD_HANDSHAKE', offset: 5 }));
  assert.throws(() => new WireDecoder().push(bad), isWireError({ code: 'WIRE_BAD_HANDSHAKE', offset: 5 }));
});

test('decodeHandshake: exactly 68 bytes, checked the same way', () => {
  const h = decodeHandshake(handshake);
  assert.deepEqual(h.infoHash, new Uint8Array(20).fill(1));
  assert.throws(() => decodeHandshake(handshake.subarray(0, 67)), isWireError({ code: 'WIRE_BAD_HANDSHAKE', offset: 67 }));
  assert.throws(() => decodeHandshake(concat(handshake, new Uint8Array(1))), isWireError({ code: 'WIRE_BAD_HANDSHAKE', offset: 68 }));
  assert.throws(() => decodeHandshake(new Uint8Array(68)), isWireError({ code: 'WIRE_BAD_HANDSHAKE', offset: 0 }));
});

test('WIRE_MESSAGE_TOO_LONG: thrown on the length prefix, before the body is buffered', () => {
  expectError(frame(1024 * 1024 + 1), { code: 'WIRE_MESSAGE_TOO_LONG', offset: HS });
  expectError(frame(0xffffffff), { code: 'WIRE_MESSAGE_TOO_LONG', offset: HS });
  expectError(concat(encodeMessage({ type: 'choke' }), frame(101)), { code: 'WIRE_MESSAGE_TOO_LONG', offset: HS + 5 }, { maxMessageBytes: 100 });
  const atLimit = encodeMessage({ type: 'unknown', id: 99, payload: new Uint8Array(99) });
  assert.equal(new WireDecoder({ expectHandshake: false, maxMessageBytes: 100 }).push(atLimit).length, 1);
});

test('WIRE_BAD_LENGTH: fixed-size messages with the wrong length, before the body is buffered', () => {
  const cases: [id: number, length: number][] = [
    [0, 2], [1, 5], [2, 2], [3, 13], [4, 4], [4, 6], [6, 12], [6, 14], [8, 5], [8, 17], [9, 2], [9, 4], [7, 1], [7, 8],
  ];
  for (const [id, length] of cases) expectError(frame(length, id), { code: 'WIRE_BAD_LENGTH', offset: HS, messageId: id });
});

test('WIRE_BAD_BLOCK_LENGTH: request/cancel of 0 or over maxRequestBytes, and oversized or empty blocks', () => {
  const req = (type: 'request' | 'cancel', length: number): Uint8Array => encodeMessage({ type, index: 0, begin: 0, length });
  expectError(req('request', 0), { code: 'WIRE_BAD_BLOCK_LENGTH', offset: HS + 13, messageId: 6 });
  expectError(req('request', 16385), { code: 'WIRE_BAD_BLOCK_LENGTH', offset: HS + 13, messageId: 6 });
  expectError(req('cancel', 0), { code: 'WIRE_BAD_BLOCK_LENGTH', offset: HS + 13, messageId: 8 });
  expectError(req('cancel', 1 << 20), { code: 'WIRE_BAD_BLOCK_LENGTH', offset: HS + 13, messageId: 8 });
  expectError(frame(9 + 16385, 7), { code: 'WIRE_BAD_BLOCK_LENGTH', offset: HS, messageId: 7 });
  expectError(frame(9, 7, 0, 0, 0, 0, 0, 0, 0, 0), { code: 'WIRE_BAD_BLOCK_LENGTH', offset: HS, messageId: 7 });
  const big: WireMessage = { type: 'request', index: 0, begin: 0, length: 32768 };
  assert.deepEqual(new WireDecoder({ expectHandshake: false, maxRequestBytes: 32768 }).push(encodeMessage(big)), [big]);
  // maxRunBytes: a request, cancel or piece of a run of blocks, up to it (decoder.test.ts: a run's piece comes out in blocks).
  const runs = (): WireDecoder => new WireDecoder({ expectHandshake: false, maxRunBytes: 262144 });
  const run: WireMessage = { type: 'request', index: 0, begin: 0, length: 262144 };
  assert.deepEqual(runs().push(encodeMessage(run)), [run]);
  assert.deepEqual(runs().push(encodeMessage({ ...run, type: 'cancel' })), [{ ...run, type: 'cancel' }]);
  expectError(req('request', 262145), { code: 'WIRE_BAD_BLOCK_LENGTH', offset: HS + 13, messageId: 6 }, { maxRunBytes: 262144 });
  expectError(frame(9 + 262145, 7), { code: 'WIRE_BAD_BLOCK_LENGTH', offset: HS, messageId: 7 }, { maxRunBytes: 262144 });
});

test('WIRE_OUT_OF_RANGE: have/request/cancel/piece outside the torrent geometry', () => {
  const opts = { torrent: g };
  expectError(encodeMessage({ type: 'have', index: 10 }), { code: 'WIRE_OUT_OF_RANGE', offset: HS + 5, messageId: 4 }, opts);
  expectError(encodeMessage({ type: 'have', index: 0xffffffff }), { code: 'WIRE_OUT_OF_RANGE', offset: HS + 5, messageId: 4 }, opts);
  expectError(encodeMessage({ type: 'request', index: 10, begin: 0, length: 1 }), { code: 'WIRE_OUT_OF_RANGE', offset: HS + 5, messageId: 6 }, opts);
  expectError(encodeMessage({ type: 'request', index: 9, begin: 0, length: 1001 }), { code: 'WIRE_OUT_OF_RANGE', offset: HS + 9, messageId: 6 }, opts);
  expectError(encodeMessage({ type: 'cancel', index: 0, begin: 32768, length: 1 }), { code: 'WIRE_OUT_OF_RANGE', offset: HS + 9, messageId: 8 }, opts);
  expectError(encodeMessage({ type: 'cancel', index: 0, begin: 0xffffffff, length: 16384 }), { code: 'WIRE_OUT_OF_RANGE', offset: HS + 9, messageId: 8 }, opts);
  expectError(encodeMessage({ type: 'piece', index: 11, begin: 0, block: new Uint8Array(1) }), { code: 'WIRE_OUT_OF_RANGE', offset: HS + 5, messageId: 7 }, opts);
  expectError(encodeMessage({ type: 'piece', index: 9, begin: 1000, block: new Uint8Array(1) }), { code: 'WIRE_OUT_OF_RANGE', offset: HS + 9, messageId: 7 }, opts);
});

test('WIRE_BAD_BITFIELD: wrong byte length (before buffering) or spare bits set', () => {
  const opts = { torrent: g }; // 10 pieces: 2 bytes, the low 6 bits of the second are spare
  expectError(frame(4, 5), { code: 'WIRE_BAD_BITFIELD', offset: HS, messageId: 5 }, opts);
  expectError(frame(2, 5), { code: 'WIRE_BAD_BITFIELD', offset: HS, messageId: 5 }, opts);
  expectError(encodeMessage({ type: 'bitfield', bitfield: new Uint8Array([0xff, 0xe0]) }), { code: 'WIRE_BAD_BITFIELD', offset: HS + 6, messageId: 5 }, opts);
  expectError(encodeMessage({ type: 'bitfield', bitfield: new Uint8Array([0x00, 0x01]) }), { code: 'WIRE_BAD_BITFIELD', offset: HS + 6, messageId: 5 }, opts);
  const empty = geometry(0, 16384);
  assert.equal(new WireDecoder({ expectHandshake: false, torrent: empty }).push(frame(1, 5)).length, 1);
});

test('bitfields are accepted at any point, any number of times (aria2 sends them instead of bursts of haves)', () => {
  const bf = encodeMessage({ type: 'bitfield', bitfield: new Uint8Array(2) });
  assert.equal(new WireDecoder().push(concat(handshake, bf, bf)).length, 3);
  for (const first of [{ type: 'have', index: 1 }, { type: 'choke' }, { type: 'interested' }, { type: 'piece', index: 0, begin: 0, block: new Uint8Array(1) }] as const) {
    assert.equal(new WireDecoder().push(concat(handshake, encodeMessage(first), bf, bf)).length, 4, `bitfields after ${first.type}`);
  }
  const before = encodeMessages([{ type: 'keepAlive' }, { type: 'unknown', id: 20, payload: new Uint8Array(5) }, { type: 'port', port: 6881 }, { type: 'bitfield', bitfield: new Uint8Array(2) }]);
  assert.equal(new WireDecoder().push(concat(handshake, before)).length, 5);
});

test('a failed decoder stays failed: every later push throws the same error', () => {
  const d = new WireDecoder();
  let first: unknown;
  assert.throws(() => d.push(new Uint8Array([0])), (err) => ((first = err), true));
  assert.equal(d.state, 'failed');
  for (const chunk of [handshake, new Uint8Array(0), encodeMessage({ type: 'choke' })]) {
    assert.throws(() => d.push(chunk), (err) => err === first);
  }
});

test('options are checked: INVALID_ARGUMENT', () => {
  for (const opts of [{ maxMessageBytes: 0 }, { maxMessageBytes: -1 }, { maxMessageBytes: 1.5 }, { maxMessageBytes: 2 ** 32 }, { maxRequestBytes: Number.NaN }]) {
    assert.throws(() => new WireDecoder(opts), (err) => err instanceof TorrenttpError && err.code === 'INVALID_ARGUMENT');
  }
});

test('property: random bytes never hang and throw only TorrenttpError', () => {
  const tryDecode = (chunks: readonly Uint8Array[], opts: WireDecoderOptions): void => {
    const d = new WireDecoder(opts);
    try {
      for (const c of chunks) d.push(c);
    } catch (err) {
      assert.ok(err instanceof TorrenttpError, `threw ${String(err)}`);
      assert.ok(err instanceof WireError);
      assert.throws(() => d.push(new Uint8Array(1)), (again) => again === err);
    }
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), fc.boolean(), (bytes, withHandshake, withGeometry) => {
      const opts: WireDecoderOptions = { expectHandshake: withHandshake, maxMessageBytes: 300, ...(withGeometry ? { torrent: g } : {}) };
      const input = withHandshake ? concat(handshake, bytes) : bytes;
      tryDecode([input], opts);
      tryDecode(trickle(input), opts);
    }),
    { numRuns: 3000 },
  );
});

test('property: errors (code, offset, messageId) do not depend on chunking', () => {
  const mutated = streamArb.chain((messages) => {
    const bytes = encodeMessages(messages);
    return fc.tuple(
      fc.constant(bytes),
      fc.array(fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
      cutsArb(bytes.length),
      fc.boolean(),
    );
  });
  fc.assert(
    fc.property(mutated, ([original, edits, cuts, withGeometry]) => {
      const bytes = original.slice();
      for (const [at, value] of edits) bytes[at] = value;
      const opts: WireDecoderOptions = withGeometry ? { torrent: g, maxMessageBytes: 4096 } : { maxMessageBytes: 4096 };
      const whole = outcome([bytes], opts);
      assert.deepEqual(outcome(split(bytes, cuts), opts), whole);
      assert.deepEqual(outcome(trickle(bytes), opts), whole);
    }),
    { numRuns: 500 },
  );
});
