import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TorrenttpError } from '../../src/errors/index.js';
import { decodeMetadataMessage, encodeMetadataMessage, metadataPieceCount, metadataPieceLength, WireError, type MetadataMessage } from '../../src/wire/index.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const join = (e: { body: Uint8Array; tail?: Uint8Array }): Uint8Array => Uint8Array.from([...e.body, ...(e.tail ?? [])]);
const isBad = (e: unknown) => e instanceof WireError && e.code === 'WIRE_BAD_EXTENSION';

test('BEP 9 bytes: request, reject, and data with the piece after the dict', () => {
  assert.deepEqual(join(encodeMetadataMessage({ type: 'request', piece: 0 })), text('d8:msg_typei0e5:piecei0ee'));
  assert.deepEqual(join(encodeMetadataMessage({ type: 'reject', piece: 3 })), text('d8:msg_typei2e5:piecei3ee'));
  assert.deepEqual(join(encodeMetadataMessage({ type: 'data', piece: 1, totalSize: 20000, data: text('xyz') })), text('d8:msg_typei1e5:piecei1e10:total_sizei20000eexyz'));
});

test('decoding reads what encoding writes; data is the bytes after the dict, even when they look like bencode', () => {
  const msgs: MetadataMessage[] = [
    { type: 'request', piece: 7 },
    { type: 'reject', piece: 0 },
    { type: 'data', piece: 2, totalSize: 40000, data: text('d4:name3:abce') },
  ];
  for (const m of msgs) assert.deepEqual(decodeMetadataMessage(join(encodeMetadataMessage(m))), m);
});

test('malformed messages are WIRE_BAD_EXTENSION', () => {
  for (const s of ['', 'le', 'd8:msg_typei0ee', 'd8:msg_typei5e5:piecei0ee', 'd8:msg_typei0e5:piecei-1ee', 'd8:msg_typei0e5:piecei0eextra', 'd8:msg_typei1e5:piecei0ee', 'd8:msg_typei1e5:piecei0e10:total_sizei9ee', 'd8:msg_typei0e5:piece']) {
    assert.throws(() => decodeMetadataMessage(text(s)), isBad, s);
  }
  // A data piece longer than 16 KiB.
  const big = join(encodeMetadataMessage({ type: 'data', piece: 0, totalSize: 1 << 20, data: new Uint8Array(16384) }));
  assert.throws(() => decodeMetadataMessage(Uint8Array.from([...big, 0])), isBad);
  // A dict that never ends within 1 KiB.
  assert.throws(() => decodeMetadataMessage(text(`d1:x${'l'.repeat(2000)}`)), isBad);
});

test('metadata geometry: 16 KiB pieces, a short last one', () => {
  assert.equal(metadataPieceCount(16384), 1);
  assert.equal(metadataPieceCount(16385), 2);
  assert.equal(metadataPieceLength(16385, 1), 1);
  assert.equal(metadataPieceLength(40000, 0), 16384);
});

test('property: random bodies never hang and throw only TorrenttpError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        decodeMetadataMessage(bytes);
      } catch (e) {
        assert.ok(e instanceof TorrenttpError);
      }
    }),
  );
});
