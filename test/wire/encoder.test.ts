import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TorrenttpError } from '../../src/errors/index.js';
import {
  WireDecoder,
  WireError,
  encodedLength,
  encodeMessage,
  encodeMessages,
  encodePieceHeader,
  type WireMessage,
} from '../../src/wire/index.js';
import { bitfieldArb, concat, handshakeArb, messageArb } from './arbitraries.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Decodes one message on its own (no handshake expected unless it is one). */
function decodeOne(bytes: Uint8Array, handshake = false): WireMessage[] {
  return new WireDecoder({ expectHandshake: handshake }).push(bytes);
}

test('every BEP 3 message encodes to the bytes BEP 3 describes', () => {
  const cases: [WireMessage, string][] = [
    [{ type: 'keepAlive' }, '00000000'],
    [{ type: 'choke' }, '0000000100'],
    [{ type: 'unchoke' }, '0000000101'],
    [{ type: 'interested' }, '0000000102'],
    [{ type: 'notInterested' }, '0000000103'],
    [{ type: 'have', index: 0x01020304 }, '000000050401020304'],
    [{ type: 'bitfield', bitfield: new Uint8Array([0xff, 0x80]) }, '0000000305ff80'],
    [{ type: 'request', index: 1, begin: 0x4000, length: 0x4000 }, '0000000d06000000010000400000004000'],
    [{ type: 'piece', index: 2, begin: 0, block: new Uint8Array([0xaa, 0xbb]) }, '0000000b070000000200000000aabb'],
    [{ type: 'cancel', index: 0xffffffff, begin: 1, length: 1 }, '0000000d08ffffffff0000000100000001'],
    [{ type: 'port', port: 6881 }, '00000003091ae1'],
    [{ type: 'unknown', id: 20, payload: new Uint8Array([0x64, 0x65]) }, '00000003146465'],
  ];
  for (const [m, bytes] of cases) {
    const encoded = encodeMessage(m);
    assert.equal(hex(encoded), bytes, m.type);
    assert.equal(encodedLength(m), encoded.length, m.type);
    assert.deepEqual(decodeOne(encoded), [m], m.type);
  }
});

test('property: decode(encode(m)) is m for every message kind', () => {
  fc.assert(
    fc.property(fc.oneof(messageArb, bitfieldArb), (m) => {
      assert.deepEqual(decodeOne(encodeMessage(m)), [m]);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(handshakeArb, (m) => {
      assert.deepEqual(decodeOne(encodeMessage(m), true), [m]);
    }),
  );
});

test('property: encode(decode(b)) is b for a canonical stream', () => {
  fc.assert(
    fc.property(handshakeArb, fc.array(messageArb, { maxLength: 20 }), (hs, rest) => {
      const bytes = encodeMessages([hs, ...rest]);
      assert.deepEqual(encodeMessages(new WireDecoder().push(bytes)), bytes);
    }),
  );
});

test('encodeMessages is the concatenation of encodeMessage', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(handshakeArb, messageArb, bitfieldArb), { maxLength: 20 }), (ms) => {
      assert.deepEqual(encodeMessages(ms), concat(...ms.map(encodeMessage)));
    }),
  );
  assert.equal(encodeMessages([]).length, 0);
});

test('encodePieceHeader followed by the block is the piece message', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.uint8Array({ minLength: 0, maxLength: 200 }),
      (index, begin, block) => {
        const header = encodePieceHeader(index, begin, block.length);
        assert.equal(header.length, 13);
        assert.deepEqual(concat(header, block), encodeMessage({ type: 'piece', index, begin, block }));
      },
    ),
  );
});

test('the encoder refuses values that do not fit the wire with WIRE_UNENCODABLE', () => {
  const bad: unknown[] = [
    { type: 'have', index: -1 },
    { type: 'have', index: 2 ** 32 },
    { type: 'have', index: 1.5 },
    { type: 'have', index: Number.NaN },
    { type: 'request', index: 0, begin: 0, length: 2 ** 32 },
    { type: 'cancel', index: 0, begin: -3, length: 1 },
    { type: 'piece', index: 0, begin: 2 ** 40, block: new Uint8Array(1) },
    { type: 'port', port: 65536 },
    { type: 'port', port: -1 },
    { type: 'unknown', id: 4, payload: new Uint8Array(4) }, // would decode as `have`
    { type: 'unknown', id: 256, payload: new Uint8Array(0) },
    { type: 'handshake', reserved: new Uint8Array(8), infoHash: new Uint8Array(19), peerId: new Uint8Array(20) },
    { type: 'handshake', reserved: new Uint8Array(7), infoHash: new Uint8Array(20), peerId: new Uint8Array(20) },
    { type: 'nope' },
  ];
  for (const m of bad) {
    assert.throws(
      () => encodeMessage(m as WireMessage),
      (err: unknown) => err instanceof WireError && err instanceof TorrenttpError && err.code === 'WIRE_UNENCODABLE' && err.side === 'local',
      JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? `bytes(${v.length})` : v)),
    );
  }
  assert.throws(() => encodePieceHeader(0, 0, -1), WireError);
  assert.throws(() => encodePieceHeader(0, 2 ** 32, 1), WireError);
});
