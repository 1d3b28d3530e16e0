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

test('nextSetNotIn: the first piece in [from, to) set here and not in the other, byte-wise, as a per-piece scan finds it', () => {
  for (const count of [1, 7, 8, 9, 64, 133]) {
    for (let seed = 1; seed <= 20; seed++) {
      let x = seed * 2654435761;
      const rnd = (): number => ((x = (x * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
      const a = new Bitfield(count);
      const b = new Bitfield(count);
      for (let i = 0; i < count; i++) {
        if (rnd() < 0.3) a.set(i);
        if (rnd() < 0.5) b.set(i);
      }
      for (let from = 0; from <= count; from++) {
        for (const to of [from, from + 1, count, count + 5]) {
          let want = -1;
          for (let i = from; i < Math.min(to, count); i++) {
            if (a.has(i) && !b.has(i)) {
              want = i;
              break;
            }
          }
          assert.equal(a.nextSetNotIn(b, from, to), want, `count ${count} seed ${seed} [${from}, ${to})`);
        }
      }
    }
  }
});
