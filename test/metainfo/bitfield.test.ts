import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Bitfield } from '../../src/metainfo/index.js';

test('BEP 3 layout: piece 0 is the high bit of byte 0; spare bits stay zero', () => {
  const b = new Bitfield(10);
  assert.equal(b.set(0), true);
  assert.equal(b.set(0), false);
  b.set(9);
  assert.deepEqual([...b.toBytes()], [0x80, 0x40]);
  assert.deepEqual([...b], [0, 9]);
  assert.equal(b.count, 2);
  assert.equal(b.clear(0), true);
  assert.equal(b.count, 1);
  assert.deepEqual([...Bitfield.full(10).toBytes()], [0xff, 0xc0]);
  assert.equal(Bitfield.full(10).complete, true);
  assert.equal(new Bitfield(0).complete, true);
  assert.throws(() => b.set(10), { code: 'METAINFO_PIECE_OUT_OF_RANGE' });
  assert.equal(b.has(10), false);
});

test('fromBytes rejects a wrong length or spare bits set', () => {
  assert.throws(() => Bitfield.fromBytes(new Uint8Array(3), 10), { code: 'METAINFO_BAD_FIELD' });
  assert.throws(() => Bitfield.fromBytes(new Uint8Array([0, 0x20]), 10), { code: 'METAINFO_BAD_FIELD' });
  assert.equal(Bitfield.fromBytes(new Uint8Array([0xff, 0xc0]), 10).complete, true);
});

test('property: set pieces, bytes and count agree', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }).chain((n) => fc.tuple(fc.constant(n), fc.uniqueArray(fc.nat({ max: n - 1 })))), ([n, idx]) => {
      const b = new Bitfield(n);
      for (const i of idx) b.set(i);
      const again = Bitfield.fromBytes(b.toBytes(), n);
      assert.deepEqual([...again], [...idx].sort((x, y) => x - y));
      assert.equal(again.count, idx.length);
    }),
  );
});
