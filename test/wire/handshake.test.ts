import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  HANDSHAKE_BYTES,
  PROTOCOL_NAME,
  decodeHandshake,
  encodeHandshake,
  reservedBytes,
  supportsDht,
  supportsExtensionProtocol,
  supportsFastExtension,
} from '../../src/wire/index.js';

test('the handshake layout is pstrlen, pstr, reserved, info-hash, peer id', () => {
  const infoHash = new Uint8Array(20).map((_, i) => i);
  const peerId = new TextEncoder().encode('-TT0001-abcdefghijkl');
  const reserved = reservedBytes({ extensionProtocol: true });
  const bytes = encodeHandshake({ infoHash, peerId, reserved });
  assert.equal(bytes.length, HANDSHAKE_BYTES);
  assert.equal(bytes[0], 19);
  assert.equal(Buffer.from(bytes.subarray(1, 20)).toString('latin1'), PROTOCOL_NAME);
  assert.deepEqual(bytes.subarray(20, 28), reserved);
  assert.deepEqual(bytes.subarray(28, 48), infoHash);
  assert.deepEqual(bytes.subarray(48, 68), peerId);
  assert.deepEqual(encodeHandshake({ infoHash, peerId }).subarray(20, 28), new Uint8Array(8), 'reserved defaults to zero');
});

test('property: decodeHandshake(encodeHandshake(h)) is h, reserved bytes kept verbatim', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.uint8Array({ minLength: 20, maxLength: 20 }),
      fc.uint8Array({ minLength: 20, maxLength: 20 }),
      (reserved, infoHash, peerId) => {
        assert.deepEqual(decodeHandshake(encodeHandshake({ reserved, infoHash, peerId })), { reserved, infoHash, peerId });
      },
    ),
  );
});

test('reserved bits: BEP 10 is 0x10 in byte 5, BEP 6 is 0x04 and DHT 0x01 in byte 7', () => {
  assert.deepEqual(reservedBytes(), new Uint8Array(8));
  assert.deepEqual(reservedBytes({ extensionProtocol: true }), new Uint8Array([0, 0, 0, 0, 0, 0x10, 0, 0]));
  assert.deepEqual(reservedBytes({ fastExtension: true }), new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0x04]));
  assert.deepEqual(reservedBytes({ dht: true }), new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0x01]));
  const all = reservedBytes({ extensionProtocol: true, fastExtension: true, dht: true });
  assert.deepEqual(all, new Uint8Array([0, 0, 0, 0, 0, 0x10, 0, 0x05]));
  assert.ok(supportsExtensionProtocol(all) && supportsFastExtension(all) && supportsDht(all));
  const none = new Uint8Array(8).fill(0xff).map((b, i) => (i === 5 ? b & ~0x10 : i === 7 ? b & ~0x05 : b));
  assert.ok(!supportsExtensionProtocol(none) && !supportsFastExtension(none) && !supportsDht(none));
  // Peers set other bits too (BEP 4 assigns many); each helper reads only its own.
  const others = new Uint8Array([0, 0, 0, 0, 0, 0x18, 0, 0x05]);
  assert.ok(supportsExtensionProtocol(others) && supportsFastExtension(others) && supportsDht(others));
});
